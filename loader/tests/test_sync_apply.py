"""The sync's set-based apply: runs of changes as one statement each.

Decoded changes are given to the applier directly, against a real target:
the end state must be the one the source's order gives, every update and
delete must still find exactly one row, and a failure must name the row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from psycopg2 import sql

from pgshift.connection import transaction
from pgshift.load.extract import SESSION_SETTINGS
from pgshift.mapping import NameMap, TableMap
from pgshift.settings import Settings
from pgshift.sync import pgoutput, state
from pgshift.sync.apply import Applier, Batch, SyncError, enum_label_statement
from pgshift.sync.pgoutput import UNCHANGED, Value

from migration import make_settings, query

U = UNCHANGED


@pytest.fixture
def applier(pg_url: str, tmp_path: Path) -> Iterator[Applier]:
    """An applier for ``Tickets`` (code, note, body, email) and ``Tags``."""
    query(
        pg_url,
        "create table public.tickets (code text primary key, note text, "
        "body text, email text unique, hits integer); "
        "create table public.tags (tag_id integer primary key, "
        "code text references public.tickets (code), label text)",
    )
    names = NameMap(source_name="app", source_schema="public")
    names.tables["Tickets"] = TableMap(
        source_schema="public",
        source="Tickets",
        target="tickets",
        staging_model="stg_app__tickets",
        columns={
            "code": "code",
            "note": "note",
            "body": "body",
            "eMail": "email",
            "hits": "hits",
        },
    )
    names.tables["Tags"] = TableMap(
        source_schema="public",
        source="Tags",
        target="tags",
        staging_model="stg_app__tags",
        columns={"tagId": "tag_id", "code": "code", "label": "label"},
    )
    settings = make_settings(pg_url, pg_url, state_dir=tmp_path)
    with transaction(settings.target) as cursor:
        state.ensure_table(cursor, settings)
    made = Applier(settings, names, "test", {})
    made.relation(
        pgoutput.Relation(
            1,
            "public",
            "Tickets",
            "d",
            (
                pgoutput.Column("code", 25, -1, True),
                pgoutput.Column("note", 25, -1, False),
                pgoutput.Column("body", 25, -1, False),
                pgoutput.Column("eMail", 25, -1, False),
                pgoutput.Column("hits", 23, -1, False),
            ),
        )
    )
    made.relation(
        pgoutput.Relation(
            2,
            "public",
            "Tags",
            "d",
            (
                pgoutput.Column("tagId", 23, -1, True),
                pgoutput.Column("code", 25, -1, False),
                pgoutput.Column("label", 25, -1, False),
            ),
        )
    )
    try:
        yield made
    finally:
        made.close()


def one_table(
    pg_url: str, tmp_path: Path, source: str, target: str, columns: dict[str, str]
) -> tuple[Applier, Settings]:
    """An applier for one source table mapped onto one final table."""
    names = NameMap(source_name="app", source_schema="public")
    names.tables[source] = TableMap(
        source_schema="public",
        source=source,
        target=target,
        staging_model=f"stg_app__{target}",
        columns=columns,
    )
    settings = make_settings(pg_url, pg_url, state_dir=tmp_path)
    with transaction(settings.target) as cursor:
        state.ensure_table(cursor, settings)
    return Applier(settings, names, "test", {}), settings


def ins(code: str, note: str = "n", email: str | None = None) -> pgoutput.Insert:
    """An insert of a ticket."""
    return pgoutput.Insert(1, (code, note, f"body {code}", email or code, "0"))


def upd(
    code: str, new: Sequence[Value], old_code: str | None = None
) -> pgoutput.Update:
    """An update of a ticket (by its old key when ``old_code`` is given)."""
    if old_code is None:
        return pgoutput.Update(1, (code, *new))
    return pgoutput.Update(1, (code, *new), (old_code, None, None, None, None), "K")


def dele(code: str) -> pgoutput.Delete:
    """A delete of a ticket."""
    return pgoutput.Delete(1, (code, None, None, None, None), "K")


def apply(applier: Applier, *transactions: Sequence[pgoutput.Decoded]) -> list[str]:
    """Apply transactions as one batch; the set-based statements it ran."""
    batch = Batch()
    for number, changes in enumerate(transactions, start=1):
        applier.add(batch, changes, pgoutput.Commit(number, number, datetime.now(UTC)))
    statements, _ = applier.build(batch)
    applier.commit(batch)
    return [s for s in statements if isinstance(s, str) and "pgshift_changed" in s]


def tickets(url: str) -> list[tuple]:
    """Every ticket, by code."""
    return query(url, "select code, note, body, email, hits from tickets order by 1")


def test_runs_keep_the_source_order_of_each_key(applier: Applier, pg_url: str) -> None:
    apply(applier, [ins(c) for c in "abcdefgh"])
    assert len(tickets(pg_url)) == 8
    ran = apply(
        applier,
        # One key updated twice in a row: the second wins.
        [upd("a", ("a1", U, "a", "1")), upd("b", ("b1", U, "b", "1"))],
        [upd("a", ("a2", U, "a", "2")), upd("c", ("c1", U, "c", "1"))],
        # A key changed, then updated under its new key, then changed back.
        [upd("x", ("d1", U, "d", "1"), old_code="d")],
        [upd("x", ("d2", U, "d", "2"))],
        [upd("d", ("d3", U, "d", "3"), old_code="x")],
        # Inserted, then updated; deleted, then inserted again.
        [ins("i"), upd("i", ("i1", U, "i", "1"))],
        [dele("e"), dele("f"), ins("e", "again")],
        [dele("g"), upd("h", ("h1", U, "h", "1"))],
        [upd("h", ("h2", U, "h", "2"))],
    )
    assert tickets(pg_url) == [
        ("a", "a2", "body a", "a", 2),
        ("b", "b1", "body b", "b", 1),
        ("c", "c1", "body c", "c", 1),
        ("d", "d3", "body d", "d", 3),
        ("e", "again", "body e", "e", 0),
        ("h", "h2", "body h", "h", 2),
        ("i", "i1", "body i", "i", 1),
    ]
    # Set-based where a run held more than one change: a and b; then a's
    # second update starts a new run, with c; the deletes of e, f and g
    # (after e's new insert, which is a run of its own). i's update after
    # its insert starts one, and h's first does not join it: it follows
    # g's delete, and tickets has a unique key besides its key (email),
    # whose value a delete may free for a later change to take.
    assert len(ran) == 3
    assert sum("2 updates of tickets" in s for s in ran) == 2
    assert sum("3 deletes of tickets" in s for s in ran) == 1


def test_unchanged_toast_is_left_alone_in_a_set_based_update(
    applier: Applier, pg_url: str
) -> None:
    apply(applier, [ins(c) for c in "abcd"])
    ran = apply(
        applier,
        [
            upd("a", ("a1", U, "a", "1")),
            upd("b", ("b1", "new body", "b", "1")),
            upd("c", ("c1", U, "c", "1")),
            upd("d", ("d1", "new body", "d", "1")),
        ],
    )
    assert tickets(pg_url) == [
        ("a", "a1", "body a", "a", 1),
        ("b", "b1", "new body", "b", 1),
        ("c", "c1", "body c", "c", 1),
        ("d", "d1", "new body", "d", 1),
    ]
    # One statement per set of columns sent, each of two rows.
    assert sum("2 updates of tickets" in s for s in ran) == 2
    assert sum('"body" = ' in s for s in ran) == 1


def test_a_missing_row_stops_the_batch_and_is_named(
    applier: Applier, pg_url: str
) -> None:
    apply(applier, [ins(c) for c in "abc"])
    for changes in (
        [dele("a"), dele("gone"), dele("c")],
        [upd("a", ("a1", U, "a", "1")), upd("gone", ("g", U, "g", "1"))],
    ):
        with pytest.raises(SyncError, match="of tickets \\(code = 'gone'\\)") as info:
            apply(applier, changes)
        # Either the target drifted or pgshift's matching missed the row.
        assert "something other than the sync changed" in str(info.value)
        assert "could not match one of the row's values" in str(info.value)
        # Nothing of the batch was applied.
        assert [t[:2] for t in tickets(pg_url)] == [("a", "n"), ("b", "n"), ("c", "n")]


def test_a_transaction_applied_in_pieces_is_committed_whole_or_not_at_all(
    applier: Applier, pg_url: str
) -> None:
    # A piece that fails names its row like a batch, and takes the pieces
    # before it back with it: nothing of the transaction is applied.
    apply(applier, [ins("a")])
    applier.apply_piece([ins("b"), ins("c")], 10)
    assert applier.open_rows == 2
    assert [t[0] for t in tickets(pg_url)] == ["a"]  # not committed yet
    with pytest.raises(SyncError, match="of tickets \\(code = 'gone'\\)"):
        applier.apply_piece([dele("a"), dele("gone")], 10)
    assert applier.open_rows is None
    assert [t[0] for t in tickets(pg_url)] == ["a"]
    # Applied whole: the pieces, the rest and the position in one commit.
    applier.apply_piece([ins("b"), ins("c")], 20)
    applier.apply_piece([upd("b", ("nb", U, "b", "1"))], 20)
    rest = Batch()
    applier.add(rest, [dele("c")], pgoutput.Commit(20, 21, datetime.now(UTC)))
    applier.commit_pieces(rest)
    assert rest.rows == 4 and applier.open_rows is None
    assert [t[:2] for t in tickets(pg_url)] == [("a", "n"), ("b", "nb")]


def test_a_target_without_a_unique_key_is_applied_one_change_at_a_time(
    applier: Applier, pg_url: str
) -> None:
    """A key that may name two rows is never trusted to a row count."""
    apply(applier, [ins(c) for c in "ab"])
    query(
        pg_url,
        "alter table tickets drop constraint tickets_pkey cascade; "
        "insert into tickets values ('a', 'twin', 'x', 'twin', 0)",
    )
    # The applier learns the table has no unique key on code: one by one.
    applier.relation(applier._targets[1].source)
    with pytest.raises(SyncError, match="changed 2 rows"):
        apply(applier, [dele("a"), dele("b")])


def test_an_order_a_set_visits_that_trips_a_unique_key_is_applied_one_by_one(
    applier: Applier, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    count = 300
    apply(applier, [ins(f"t{i:03}", email=f"e{i:03}") for i in range(count)])
    # More rows than the run, so that the planner joins rather than
    # looking each key up.
    query(
        pg_url,
        "insert into tickets select 'z' || i, 'n', 'b', 'z' || i, 0 "
        "from generate_series(1, 3000) as i; analyze tickets",
    )
    # The source moved each email to the row before it, last row first:
    # valid in that order, not in the table's.
    changes = [
        upd(f"t{i:03}", ("moved", U, f"e{i + 1:03}", "1"))
        for i in reversed(range(count))
    ]
    # A merge join visits the rows in key order, not the source's.
    applier._cursor.execute("set enable_nestloop = off; set enable_hashjoin = off")
    with caplog.at_level(logging.INFO, logger="pgshift.sync.apply"):
        apply(applier, changes)
    assert "failed set-based" in caplog.text
    assert query(pg_url, "select count(*) from tickets where note = 'moved'") == [
        (count,)
    ]
    assert query(
        pg_url, "select min(email), max(email) from tickets where note = 'moved'"
    ) == [("e001", f"e{count:03}")]


def test_a_value_a_delete_frees_is_taken_after_it_in_one_batch(
    applier: Applier, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A Django many-to-many table: a link deleted, then the same pair
    # inserted again under a new id. The delete does not send the freed
    # value (only the key), so the insert must not join an insert run
    # before it, or the set-based batch trips the unique key and is
    # applied again one change at a time.
    apply(applier, [ins("t0", email="e0")])
    with caplog.at_level(logging.INFO, logger="pgshift.sync.apply"):
        apply(
            applier,
            [ins("t1", email="e1")],
            [pgoutput.Insert(2, ("1", "t1", "l"))],
            [dele("t0")],
            [ins("t2", email="e0")],
            [ins("t3", email="e3")],
        )
    assert "failed set-based" not in caplog.text
    assert query(pg_url, "select code, email from tickets order by 1") == [
        ("t1", "e1"),
        ("t2", "e0"),
        ("t3", "e3"),
    ]


def test_runs_of_two_tables_gather_across_each_other(
    applier: Applier, pg_url: str
) -> None:
    ran = apply(
        applier,
        *[
            [ins(f"t{i}"), pgoutput.Insert(2, (str(i), f"t{i}", "l"))]
            for i in range(50)
        ],
        *[
            [
                pgoutput.Update(2, (str(i), f"t{i}", "m")),
                upd(f"t{i}", ("tagged", U, f"t{i}", "1")),
            ]
            for i in range(50)
        ],
    )
    assert query(pg_url, "select count(*), min(label) from tags") == [(50, "m")]
    assert query(pg_url, "select count(*) from tickets where note = 'tagged'") == [
        (50,)
    ]
    # Under the replica role each table's run spans the batch.
    assert applier.replica_role
    assert sum("50 updates" in s for s in ran) == 2


HOSTILE = [
    "it's",
    'say "hi"',
    "back\\slash \\\\ two",
    "tab\there",
    "new\nline\r\nand cr",
    "",
    " ",
    "NULL",
    "null",
    "{a,b}",
    "(1,2)",
    "naïve ☃ 日本語",
    "'; drop table odd; --",
    "\\x41",
    "$$dollar$$ E'x'",
    "trailing space ",
]
"""Text that quoting, array input and the server's parser could get wrong."""


@pytest.mark.parametrize("conforming", ["on", "off"])
def test_hostile_values_survive_every_set_based_statement(
    pg_url: str,
    tmp_path: Path,
    conforming: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Runs of inserts, updates (key kept and key changed) and deletes keep
    every value as the source printed it: quotes, backslashes, tabs,
    newlines, NULL against '' against 'NULL', non-ASCII, bytea, arrays,
    json; whatever the target's standard_conforming_strings."""
    # Every batch must apply as written, not one change at a time.
    caplog.set_level(logging.INFO, logger="pgshift.sync.apply")
    (database,) = query(pg_url, "select current_database()")[0]
    query(
        pg_url,
        f"alter database {database} set standard_conforming_strings = {conforming}",
    )
    query(
        pg_url,
        "create table public.odd (k text primary key, t text, b bytea, "
        "a text[], j jsonb, n numeric(12, 3), v varchar(40), i integer[])",
    )
    names = NameMap(source_name="app", source_schema="public")
    columns = {"k": "k", "tText": "t", "b": "b", "a": "a", "j": "j"}
    columns |= {"n": "n", "v": "v", "i": "i"}
    names.tables["Odd"] = TableMap(
        source_schema="public",
        source="Odd",
        target="odd",
        staging_model="stg_app__odd",
        columns=columns,
    )
    settings = make_settings(pg_url, pg_url, state_dir=tmp_path)
    with transaction(settings.target) as cursor:
        state.ensure_table(cursor, settings)
    oids = {"b": 17, "a": 1009, "j": 3802, "n": 1700, "v": 1043, "i": 1007}
    made = Applier(settings, names, "test", {})
    made.relation(
        pgoutput.Relation(
            1,
            "public",
            "Odd",
            "d",
            tuple(
                pgoutput.Column(name, oids.get(name, 25), -1, name == "k")
                for name in columns
            ),
        )
    )

    def printed(text: str, suffix: str) -> tuple[Value, ...]:
        """A row as the source prints it (pgoutput sends that text)."""
        (row,) = query(
            pg_url,
            "select %s, %s, convert_to(%s, 'UTF8')::text, "
            "array[%s, null, 'NULL', '']::text[]::text, "
            "jsonb_build_object('s', %s::text, 'n', null)::text, "
            "'-12.3456'::numeric(12, 3)::text, left(%s, 40), "
            "'{1,NULL,3}'::integer[]::text",
            (text + suffix, text, text, text, text, text),
        )
        return tuple(row)

    try:
        rows = [printed(text, "") for text in HOSTILE]
        # A NULL in each nullable column, next to ''.
        rows.append(("all null", None, None, None, None, None, None, None))
        apply(made, [pgoutput.Insert(1, row) for row in rows])
        expected = {row[0]: row for row in rows}

        def target() -> dict[Value, tuple[Value, ...]]:
            found = query(
                pg_url,
                "select k, t, b::text, a::text, j::text, n::text, v, i::text from odd",
            )
            return {row[0]: tuple(row) for row in found}

        assert target() == expected
        # Every column changed, the key kept, for all; then half the keys
        # changed to hostile new keys, and the rest deleted by their key.
        updated = [printed(text, "") for text in reversed(HOSTILE)]
        updated = [(row[0], *printed(row[0] + "!", "")[1:]) for row in updated]
        moved = [printed(text, " moved") for text in HOSTILE[::2]]
        gone = HOSTILE[1::2]
        ran = apply(
            made,
            [pgoutput.Update(1, row) for row in updated],
            [
                pgoutput.Update(
                    1, row, (text, None, None, None, None, None, None, None), "K"
                )
                for text, row in zip(HOSTILE[::2], moved, strict=True)
            ],
            [
                pgoutput.Delete(
                    1, (text, None, None, None, None, None, None, None), "K"
                )
                for text in gone
            ],
        )
        assert sum(f"{len(HOSTILE)} updates of odd" in s for s in ran) == 1
        assert sum(f"{len(moved)} updates of odd" in s for s in ran) == 1
        assert sum(f"{len(gone)} deletes of odd" in s for s in ran) == 1
        for row in updated:
            expected[row[0]] = row
        for text, row in zip(HOSTILE[::2], moved, strict=True):
            del expected[text]
            expected[row[0]] = row
        for text in gone:
            del expected[text]
        assert target() == expected
        # A change alone is one statement, rendered on the connection.
        key = HOSTILE[0] + " moved"
        last = (key, "alone \\ 'q'", *printed(HOSTILE[0], "")[2:])
        assert apply(made, [pgoutput.Update(1, last)]) == []
        expected[key] = last
        assert target() == expected
        assert query(pg_url, "show standard_conforming_strings") == [(conforming,)]
        assert "failed set-based" not in caplog.text
    finally:
        made.close()


FULL_COLUMNS = {
    "tag": "text",
    "isOn": "boolean",
    "addr": "inet",
    "net": "cidr",
    "code": "char(5)",
    "f": "float8",
    "r": "float4",
    "m": "money",
    "at": "timestamptz",
    "ts": "timestamp",
    "d": "date",
    "span": "interval",
    "j": "json",
    "jb": "jsonb",
    "n": "numeric",
    "n3": "numeric(8, 3)",
    "b": "bytea",
    "p": "point",
    "x": "xml",
    "flags": "boolean[]",
    "addrs": "inet[]",
    "codes": "char(3)[]",
    "fs": "float8[]",
    "ns": "numeric[]",
    "ats": "timestamptz[]",
    "js": "json[]",
}
"""A keyless table's columns: types whose cast to text is not the text the
source sends (boolean, inet, char(n)), or that have no equality operator
(json, point, xml), or whose text form reads the session's settings."""

FULL_ROWS = """
('r1', true, '192.168.0.1', '10.0.0.0/8', 'ab', 'NaN', '-0', '1000.5',
 '4713-01-01 00:00:00+00 BC', 'infinity', '-infinity',
 '1 year 2 mons -3 days 04:05:06.789', '{"b": 1,  "a": [1.50, 2]}',
 '{"b": 1, "a": 2.50}', '1.500', '2.5', '\\x00ff', '(1.5,-0)',
 '<?xml version="1.0"?><a x="1"/>', '{t,f,NULL}', '{192.168.0.1,::1/128,10.0.0.0/8}',
 '{ab,"",NULL}', '{NaN,-0,Infinity,0.1}', '{1.0,NULL,1e-20}',
 '{infinity,"2024-01-01 12:00+05"}', array['{"k": "v"}'::json, null]),
('r2', false, '::ffff:1.2.3.4', '::/0', '', '0.30000000000000004',
 '-Infinity', '-0.01', '294276-12-31 23:59:59.999999+00',
 '2024-02-29 23:59:59.5', '2024-02-29', '-1 days +00:00:00.000001',
 '[]', '{}', '-0.000', '0', '\\x', '(0,0)', 'text &amp; more', '{}', '{}',
 '{}', '{}', '{}', '{}', '{}'),
('r3', null, null, null, null, null, null, null, null, null, null, null,
 null, null, null, null, null, null, null, null, null, null, null, null,
 null, null),
('r4', true, '10.1.2.3/8', '192.168.0.0/16', 'abcde', '1e308', '1e-38',
 '0', 'infinity', '2000-01-01', 'infinity', '0', 'null', 'null', '1e-20',
 '99999.999', '\\x5c27', '(-1e300,1e-300)', '', '{NULL}', '{NULL}',
 '{"a  "}', '{NULL,1e-300}', '{NaN}', '{-infinity}', '{"[1, 2]"}'),
('twin', true, '192.168.0.1', '10.0.0.0/8', 'x', '1.5', '1.5', '1', now(),
 now(), now(), '1 day', '{"a": 1}', '{"a": 1}', '1.10', '1.1', '\\x01',
 '(1,1)', '<a/>', '{t}', '{192.168.0.1}', '{x}', '{1.5}', '{1.10}',
 array[now()], array['{}'::json])
"""
"""Its rows: extremes, NaN, -0, trailing zeros, empty arrays, NULLs, and
two equal rows (one of equal rows is the one changed)."""


def test_a_whole_row_is_found_by_the_source_s_old_row_whatever_its_types(
    pg_url: str, tmp_path: Path
) -> None:
    """REPLICA IDENTITY FULL: updates and deletes find each row by every
    old value as the source prints it, read through the final column's
    type, and leave the final table equal to the source's."""
    columns = ", ".join(f'"{c}" {t}' for c, t in FULL_COLUMNS.items())
    finals = ", ".join(f'"{c.lower()}" {t}' for c, t in FULL_COLUMNS.items())
    query(
        pg_url,
        f'create table public."Full" ({columns}); '
        'alter table public."Full" replica identity full; '
        f'insert into public."Full" values {FULL_ROWS}; '
        'insert into public."Full" select * from public."Full" '
        "where tag = 'twin'; "
        # The final table partitioned: rows of different partitions share
        # ctids.
        f"create table public.full_rows ({finals}) partition by hash (tag); "
        + "; ".join(
            f"create table public.full_rows_{n} partition of public.full_rows "
            f"for values with (modulus 3, remainder {n})"
            for n in range(3)
        ),
    )
    made, _ = one_table(
        pg_url, tmp_path, "Full", "full_rows", {c: c.lower() for c in FULL_COLUMNS}
    )
    shape = query(
        pg_url,
        "select attname, atttypid, atttypmod from pg_attribute where attrelid = "
        "'public.\"Full\"'::regclass and attnum > 0 order by attnum",
    )

    def printed(table: str) -> list[tuple[Value, ...]]:
        """Its rows as pgoutput sends them: each type's output function,
        under the stream's session settings."""
        texts = ", ".join(
            f'case when "{c}" is not null then concat("{c}") end'
            for c in (c if table == '"Full"' else c.lower() for c in FULL_COLUMNS)
        )
        setup = "; ".join(f"set {n} = '{v}'" for n, v in SESSION_SETTINGS.items())
        rows = query(pg_url, f"{setup}; select {texts} from public.{table}")
        return sorted(rows, key=repr)

    try:
        made.relation(
            pgoutput.Relation(
                1,
                "public",
                "Full",
                "f",
                tuple(pgoutput.Column(n, t, m, True) for n, t, m in shape),
            )
        )
        before = printed('"Full"')
        apply(made, [pgoutput.Insert(1, row) for row in before])
        assert printed("full_rows") == before
        # As the copy stores it: an xml value with its declaration, which
        # the stream's text of it leaves out.
        query(
            pg_url,
            'update public.full_rows as t set x = s.x::text::xml from public."Full" '
            "as s where s.tag = t.tag",
        )
        # Rows updated (the old row is sent whole) or deleted; both twins
        # updated, one after the other, then one of them deleted.
        query(
            pg_url,
            """
            update public."Full" set "isOn" = not "isOn", addr = addr + 1,
                code = 'new', f = -f, span = span * 2, j = '[1]', n = n * 10,
                flags = flags || true
            where tag in ('r1', 'r2', 'twin');
            update public."Full" set "isOn" = true where tag = 'r3';
            delete from public."Full" where tag = 'r4'
            """,
        )
        after = {row[0]: row for row in printed('"Full"')}
        old = {row[0]: row for row in before}
        query(
            pg_url,
            'delete from public."Full" where ctid = (select min(ctid) from '
            """public."Full" where tag = 'twin')""",
        )
        changes: list[pgoutput.Decoded] = [
            pgoutput.Update(1, after[tag], old[tag], "O")
            for tag in ("r1", "r2", "twin", "twin", "r3")
        ]
        changes += [
            pgoutput.Delete(1, old["r4"], "O"),
            pgoutput.Delete(1, after["twin"], "O"),
        ]
        apply(made, changes)
        assert printed("full_rows") == printed('"Full"')
        assert len(printed("full_rows")) == 4
    finally:
        made.close()


def test_a_whole_row_is_looked_up_through_an_index_of_the_final_table(
    pg_url: str, tmp_path: Path
) -> None:
    """REPLICA IDENTITY FULL on a large table: an update or delete finds its
    row through a btree index the final table has, not by reading every row
    per change (which no backlog on a table of millions would get through);
    the row found and the result are the same as without the index."""
    query(
        pg_url,
        "create table public.links (code text, note text, n integer, j json); "
        "create index on public.links (n); "
        "create index on public.links (lower(code)); "
        "insert into public.links select 'c' || g, 'note ' || g, g, '{}' "
        "from generate_series(1, 20000) as g; "
        "insert into public.links values ('twin', 'a', 7, '[]'), "
        "('twin', 'b', 7, '[]'), ('nul', null, null, null); "
        "analyze public.links",
    )
    made, settings = one_table(
        pg_url,
        tmp_path,
        "Links",
        "links",
        {"code": "code", "note": "note", "N": "n", "j": "j"},
    )
    try:
        made.relation(
            pgoutput.Relation(
                1,
                "public",
                "Links",
                "f",
                (
                    pgoutput.Column("code", 25, -1, True),
                    pgoutput.Column("note", 25, -1, True),
                    pgoutput.Column("N", 23, -1, True),
                    pgoutput.Column("j", 114, -1, True),
                ),
            )
        )
        delete = pgoutput.Delete(1, ("c500", "note 500", "500", "{}"), "O")
        batch = Batch()
        made.add(batch, [delete], pgoutput.Commit(1, 1, datetime.now(UTC)))
        (statement,), _ = made.build(batch)
        with transaction(settings.target) as cursor:
            cursor.execute(
                sql.SQL("explain {}").format(
                    sql.SQL(statement) if isinstance(statement, str) else statement
                )
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Index Scan using links_n_idx" in plan, plan
        assert "Seq Scan on links" not in plan, plan
        made.commit(batch)
        apply(
            made,
            [
                pgoutput.Update(
                    1, ("twin", "a", "8", "[]"), ("twin", "a", "7", "[]"), "O"
                ),
                pgoutput.Delete(1, ("nul", None, None, None), "O"),
                pgoutput.Delete(1, ("c1", "note 1", "1", "{}"), "O"),
            ],
        )
        assert query(
            pg_url,
            "select code, note, n from public.links where code in "
            "('twin', 'nul', 'c1', 'c500', 'c2') order by 1, 2",
        ) == [("c2", "note 2", 2), ("twin", "a", 8), ("twin", "b", 7)]
    finally:
        made.close()


def test_a_label_the_target_enum_lacks_says_what_to_add(
    pg_url: str, tmp_path: Path
) -> None:
    """A label the source's enum gained during the sync (the application's
    next migration): its first row stops the sync, giving the ALTER TYPE to
    run on the target; once run, the same batch applies."""
    query(
        pg_url,
        "create type public.plan as enum ('FREE', 'PRO'); "
        "create table public.workspaces (id text primary key, plan public.plan)",
    )
    made, _ = one_table(
        pg_url, tmp_path, "Workspace", "workspaces", {"id": "id", "plan": "plan"}
    )
    try:
        made.relation(
            pgoutput.Relation(
                1,
                "public",
                "Workspace",
                "d",
                (
                    pgoutput.Column("id", 25, -1, True),
                    pgoutput.Column("plan", 16385, -1, False),
                ),
            )
        )
        rows = [("w1", "PRO"), ("w2", "TEAM's")]
        with pytest.raises(SyncError) as raised:
            apply(made, [pgoutput.Insert(1, row) for row in rows])
        said = str(raised.value)
        assert "invalid input value for enum plan" in said
        assert "gained that label after scaffold" in said
        assert "then run sync again" in said
        assert "cleanup" not in said
        assert "changed by something other" not in said
        statement = said.split("`")[1]
        assert statement == """ALTER TYPE "public".plan ADD VALUE 'TEAM''s'"""
        assert query(pg_url, "select count(*) from public.workspaces") == [(0,)]
        query(pg_url, statement)
        apply(made, [pgoutput.Insert(1, row) for row in rows])
        assert query(
            pg_url, "select id, plan::text from public.workspaces order by 1"
        ) == [("w1", "PRO"), ("w2", "TEAM's")]
    finally:
        made.close()


def test_a_migration_tools_record_written_on_the_source_is_warned_of(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """alembic's version row arrives through the stream, its DDL does not:
    the record applied says the target is current, so sync says so."""
    query(pg_url, "create table public.alembic_version (version_num text primary key)")
    made, _ = one_table(
        pg_url,
        tmp_path,
        "alembic_version",
        "alembic_version",
        {"version_num": "version_num"},
    )
    try:
        made.relation(
            pgoutput.Relation(
                1,
                "public",
                "alembic_version",
                "d",
                (pgoutput.Column("version_num", 25, -1, True),),
            )
        )
        with caplog.at_level(logging.WARNING, logger="pgshift.sync.apply"):
            apply(made, [pgoutput.Insert(1, ("dc11669786a5",))])
        (said,) = [
            r.getMessage() for r in caplog.records if "migration" in r.getMessage()
        ]
        assert said.startswith(
            "the source's alembic_version changed in the transaction"
        )
        assert "scaffold --check" in said and "cutover refuses" in said
        # Applied all the same: the record is the source's.
        assert query(pg_url, "select version_num from public.alembic_version") == [
            ("dc11669786a5",)
        ]
    finally:
        made.close()


def test_a_column_the_source_dropped_says_to_drop_it_on_the_target(
    pg_url: str, tmp_path: Path
) -> None:
    """A NOT NULL column the source's migration dropped during the sync, the
    name map scaffolded since: the final table still has it, and its first
    row stops the sync with the statement to run, not a guess."""
    query(
        pg_url,
        "create table public.memories (id text primary key, source text, "
        "status int not null)",
    )
    made, _ = one_table(
        pg_url, tmp_path, "memories", "memories", {"id": "id", "source": "source"}
    )
    try:
        made.relation(
            pgoutput.Relation(
                1,
                "public",
                "memories",
                "d",
                (
                    pgoutput.Column("id", 25, -1, True),
                    pgoutput.Column("source", 25, -1, False),
                ),
            )
        )
        rows = [("m1", "it's"), ("m2", None)]
        with pytest.raises(SyncError) as raised:
            apply(made, [pgoutput.Insert(1, row) for row in rows])
        said = str(raised.value)
        assert "The final table memories still has column status" in said
        assert "changed by something other" not in said
        assert "cleanup" not in said
        statement = said.split("`")[1]
        assert statement == 'ALTER TABLE "public"."memories" DROP COLUMN "status"'
        query(pg_url, statement)
        apply(made, [pgoutput.Insert(1, row) for row in rows])
        assert query(pg_url, "select id, source from public.memories order by 1") == [
            ("m1", "it's"),
            ("m2", None),
        ]
    finally:
        made.close()


@pytest.mark.parametrize(
    ("message", "statement"),
    [
        (
            'invalid input value for enum plan: "TEAM"',
            """ALTER TYPE "app".plan ADD VALUE 'TEAM'""",
        ),
        (
            'invalid input value for enum "a.b"."x: y": "say "hi": \\ok"',
            """ALTER TYPE "a.b"."x: y" ADD VALUE E'say "hi": \\\\ok'""",
        ),
        ('invalid input syntax for type integer: "x"', None),
    ],
)
def test_an_enum_refusal_reads_as_the_statement_that_adds_the_label(
    message: str, statement: str | None
) -> None:
    assert enum_label_statement(message, "app") == statement


def test_a_row_for_a_partition_the_target_lacks_says_what_to_make(
    pg_url: str, tmp_path: Path
) -> None:
    """A partition added on the source during the sync (next month's, made by
    partition maintenance): its first row stops the sync, saying to create
    the partition on the target and sync again; once made, the same batch
    applies."""
    query(
        pg_url,
        "create table public.events (code text, at date, primary key (code, at)) "
        "partition by range (at); create table public.events_2030_01 "
        "partition of public.events for values from ('2030-01-01') "
        "to ('2030-02-01')",
    )
    made, _ = one_table(
        pg_url, tmp_path, "Events", "events", {"code": "code", "at": "at"}
    )
    try:
        made.relation(
            pgoutput.Relation(
                1,
                "public",
                "Events",
                "d",
                (
                    pgoutput.Column("code", 25, -1, True),
                    pgoutput.Column("at", 1082, -1, True),
                ),
            )
        )
        rows = [("a", "2030-01-05"), ("b", "2030-02-03")]
        with pytest.raises(SyncError) as raised:
            apply(made, [pgoutput.Insert(1, row) for row in rows])
        said = str(raised.value)
        assert 'no partition of relation "events" found for row' in said
        assert "(at) = (2030-02-03)" in said
        assert "a partition the final table lacks" in said
        assert "then run sync again" in said
        assert "cleanup" not in said
        assert query(pg_url, "select count(*) from public.events") == [(0,)]
        query(
            pg_url,
            "create table public.events_2030_02 partition of public.events "
            "for values from ('2030-02-01') to ('2030-03-01')",
        )
        apply(made, [pgoutput.Insert(1, row) for row in rows])
        assert query(
            pg_url,
            "select code, tableoid::regclass::text from public.events order by 1",
        ) == [("a", "events_2030_01"), ("b", "events_2030_02")]
    finally:
        made.close()
