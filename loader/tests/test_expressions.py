"""Stored expressions renamed by the parser mean on the target what they meant.

Each definition PostgreSQL prints for a table of hostile column names is
renamed (``pgshift.expressions``), created on a table whose columns carry
the new names, and printed again by PostgreSQL: the two texts must be equal,
as schema parity compares them.
"""

from __future__ import annotations

import psycopg2
import pytest

from pgshift.expressions import rename_columns
from pgshift.sqlident import quote_ident

COLUMNS = {
    "userId": "user_id",
    'say "hi"': "say_hi",
    "select": "chosen",
    "größe": "groesse",
    "lower": "lowered",
    "with space": "order",
    "id": "Id",
    "during": "during",
}
"""Source column to target column: quotes, a keyword, a function's name, a
space, non-ASCII, and a target name that is a keyword or mixed case."""

TABLE = '''
create table {t} (
    "userId" integer not null,
    "say ""hi""" text default 'userId' || '"say ""hi"""',
    "select" integer default 0 check ("select" >= 0),
    "größe" numeric check ("größe" > 0 and "größe" <> 42.5),
    "lower" text default lower('X') check ("lower" = lower("lower")),
    "with space" text generated always as ("lower" || "say ""hi""") stored,
    id integer,
    during int4range,
    check (("userId" + "select") > -1 or "with space" is null),
    unique nulls not distinct ("userId", "select") include ("größe"),
    exclude using gist (during with &&) where ("userId" > 0)
)
'''

INDEXES = [
    'create index on {t} (lower("lower") text_pattern_ops desc nulls last)'
    ' where "select" is not null',
    'create index on {t} ("say ""hi""", ("größe" * 2)) include (id)',
    'create unique index on {t} (("userId" % 10), "with space" collate "C")',
]


def _definitions(cursor: psycopg2.extensions.cursor, table: str) -> list[str]:
    cursor.execute(
        """
        select 'default ' || a.attname || ': ' || pg_get_expr(d.adbin, d.adrelid)
        from pg_attrdef d
        join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
        where d.adrelid = %(t)s::regclass
        union all
        select 'constraint: ' || pg_get_constraintdef(oid)
        from pg_constraint where conrelid = %(t)s::regclass
        union all
        select 'index: ' || split_part(pg_get_indexdef(indexrelid), ' USING ', 2)
        from pg_index where indrelid = %(t)s::regclass
          and not exists (select from pg_constraint where conindid = indexrelid)
        order by 1
        """,
        {"t": table},
    )
    return [row[0] for row in cursor.fetchall()]


def test_renamed_definitions_are_what_postgresql_prints_for_the_new_names(
    pg_url: str,
) -> None:
    conn = psycopg2.connect(pg_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(TABLE.format(t="source"))
            for index in INDEXES:
                cursor.execute(index.format(t="source"))
            source = _definitions(cursor, "source")
            # The same table with the target's column names.
            cursor.execute("create table target (like source)")
            for old, new in COLUMNS.items():
                if old != new:
                    cursor.execute(
                        f"alter table target rename column {quote_ident(old)} "
                        f"to {quote_ident(new)}"
                    )
            expected_by_kind: list[str] = []
            # Defaults first: the generated column is added again, and a
            # constraint or index on it must come after.
            for line in sorted(source, key=lambda x: not x.startswith("default ")):
                kind, _, text = line.partition(": ")
                renamed = rename_columns(text, COLUMNS)
                if kind.startswith("default "):
                    column = COLUMNS[kind.removeprefix("default ")]
                    generated = column == "order"
                    if generated:
                        cursor.execute(
                            f"alter table target drop column {quote_ident(column)}"
                        )
                        cursor.execute(
                            f"alter table target add column {quote_ident(column)} "
                            f"text generated always as ({renamed}) stored"
                        )
                    else:
                        cursor.execute(
                            f"alter table target alter column {quote_ident(column)} "
                            f"set default {renamed}"
                        )
                    expected_by_kind.append(f"default {column}: {renamed}")
                elif kind == "constraint":
                    cursor.execute(f"alter table target add {renamed}")
                    expected_by_kind.append(f"constraint: {renamed}")
                else:
                    cursor.execute(f"create index on target using {renamed}")
                    expected_by_kind.append(f"index: {renamed}")
            target = _definitions(cursor, "target")
        conn.rollback()
    finally:
        conn.close()
    assert len(source) == 13
    assert sorted(target) == sorted(expected_by_kind)


@pytest.mark.parametrize(
    "text",
    [
        "'userId'::text",
        "(\"userId\" IS NOT NULL) AND (E'a\\\\b' <> 'userId')",
    ],
)
def test_strings_never_change(text: str) -> None:
    renamed = rename_columns(text, COLUMNS)
    assert "'userId'" in renamed or "E'a\\\\b'" in renamed
