"""The wide sample table: rows of megabytes of text and bytea.

Both the memory test (loader/tests/test_huge_rows.py) and the benchmark's
``--wide`` preset (bench/run.py) build it, so the benchmark measures the
table the test proves exact.
"""

from __future__ import annotations

_TABLE = """
create table "wideRows" (
    id bigint primary key,
    body text,
    "blobValue" bytea,
    note varchar(40)
);
create temporary table block as
    select string_agg(md5(random()::text), '') as hex
    from generate_series(1, {megabytes} * 32768);
"""

_ROWS = """insert into "wideRows"
    select i, i || ' ' || substr(hex, 17), decode(md5(i::text) || hex || hex, 'hex'),
        'row ' || i
    from generate_series(1, {rows}) as i, block;
"""

_AWKWARD_ROWS = """insert into "wideRows" values
    ({rows} + 1, '', '\\x', ''),
    ({rows} + 2, null, null, null);
insert into "wideRows"
    select i, i || E' \\t\\\\N\\r\\n' || substr(hex, 17),
        decode(md5(i::text) || hex || hex, 'hex') || '\\x00ff'::bytea,
        'row ' || i
    from generate_series(1, {rows}) as i, block;
"""


def wide_table_sql(rows: int, megabytes: int, *, awkward: bool = False) -> str:
    r"""The statements that create and fill the table ``"wideRows"``.

    Each row holds ``megabytes`` MB of random hex as text and as much again
    as bytea (twice that as hex text): incompressible, so TOAST stores every
    value at full size, and each row different.

    Args:
        rows: How many wide rows.
        megabytes: Megabytes of text, and of bytea, per row.
        awkward: Also put a tab, ``\N``, CR and LF in the text and a NUL
            byte in the bytea, and add a row of '' values next to one of
            NULLs (ids ``rows + 1`` and ``rows + 2``).

    Returns:
        SQL to run on the source database.
    """
    fill = _AWKWARD_ROWS if awkward else _ROWS
    return (_TABLE + fill).format(rows=rows, megabytes=megabytes)
