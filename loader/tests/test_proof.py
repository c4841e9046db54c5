"""Proof of completeness: one snapshot under concurrent writes, and
reconciliation that catches every kind of corruption with the row's key."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

from pgshift.load import load
from pgshift.settings import PROJECT_DIR
from pgshift.transform import run_dbt
from pgshift.verify import verify, write_report
from pgshift.verify.diff import Difference

from migration import MigratedSample, Migration, make_settings, query, seed_sample


def _writer(url: str, stop: threading.Event, done: list[int]) -> None:
    """Insert rooms with messages, update users, delete messages, until stopped."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cur = conn.cursor()
    while not stop.is_set():
        cur.execute(
            "with room as (insert into chat_rooms (title) values ('live') "
            "returning id) insert into messages "
            '("chatRoomId", "senderId", content) '
            "select room.id, 1, 'during the load' from room"
        )
        cur.execute('update users set "updatedAt" = now() where id = 2')
        cur.execute(
            "delete from messages where id = (select max(id) from messages m "
            'where not exists (select 1 from messages r where r."replyToId" = m.id))'
        )
        done[0] += 1
    conn.close()


def test_raw_holds_one_instant_while_the_source_changes(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source, scale=20)
    stop, done = threading.Event(), [0]
    thread = threading.Thread(target=_writer, args=(source, stop, done))
    thread.start()
    try:
        result = load(make_settings(source, target, state_dir=tmp_path))
    finally:
        stop.set()
        thread.join()
    assert done[0] > 10, "the writer did not run during the load"
    for table, rows in result.source_rows.items():
        assert query(target, f'select count(*) from raw."{table}"')[0][0] == rows
    # The source moved on; the raw copy did not.
    assert (
        query(source, "select count(*) from chat_rooms")[0][0]
        > (result.source_rows["chat_rooms"])
    )
    orphans = query(
        target,
        "select count(*) from raw.messages m where not exists (select 1 from "
        'raw.chat_rooms r where r.id = m."chatRoomId")',
    )
    assert orphans == [(0,)]


@pytest.fixture(scope="module")
def corrupted(sample_copy: Callable[[], MigratedSample]) -> Migration:
    copy = sample_copy()
    source, target, settings = copy.source_url, copy.target_url, copy.settings
    pkey = query(
        target,
        "select conname from pg_constraint "
        "where conrelid = 'public.job_photos'::regclass and contype = 'p'",
    )[0][0]
    for statement in [
        "update public.messages set content = content || '!' where id = 7",
        "update public.messages set content = content || repeat('x', 5000) "
        "where id = 8",
        "delete from public.notifications where id = 3",
        "update public.jobs set notes = '' where id = 2",
        f'alter table public.job_photos drop constraint "{pkey}" cascade',
        "insert into public.job_photos select * from public.job_photos where id = 5",
    ]:
        query(target, statement)
    return Migration(source, target, settings)


def test_verify_names_each_corrupted_table_and_row(corrupted: Migration) -> None:
    report = verify(corrupted.settings)
    failed = {t.final_table: t for t in report.tables if t.status != "complete"}
    assert set(failed) == {"messages", "notifications", "jobs", "job_photos"}
    assert not report.passed
    # Only the columns that differ, with both values; never the whole row.
    changed = failed["messages"].differences
    content = query(corrupted.source_url, "select content from messages where id = 7")
    was = content[0][0].replace("'", "''")
    assert changed[0] == f"id=7: content expected '{was}', found '{was}!'"
    # A long value is shown around its first difference, with its length.
    (short,) = query(corrupted.source_url, "select content from messages where id = 8")[
        0
    ]
    assert len(changed) == 2
    quoted = short.replace("'", "''")
    assert changed[1].startswith(f"id=8: content expected '{quoted}', found ")
    assert changed[1].endswith(
        f"'… ({len(short) + 5000:,} characters), "
        f"first difference at character {len(short) + 1:,}"
    )
    assert len(changed[1]) < 2 * len(short) + 200
    deleted = failed["notifications"]
    assert "29 rows, the source 30" in deleted.detail
    assert deleted.differences == ["id=3: missing"]
    emptied = failed["jobs"].differences
    notes = query(corrupted.source_url, "select notes from jobs where id = 2")[0][0]
    assert emptied == [
        "id=2: notes expected "
        + ("NULL" if notes is None else "'" + notes.replace("'", "''") + "'")
        + ", found ''"
    ]
    duplicated = failed["job_photos"]
    assert "19 rows, the source 18" in duplicated.detail
    # Dropping the key to duplicate a row is itself a schema difference.
    assert report.schema_differences == [
        "job_photos: primary key None, source ('job_photos_pkey', 'PRIMARY KEY (id)')"
    ]
    assert duplicated.differences[0].startswith("(no key): unexpected row (5,")


def test_report_lists_the_failures(corrupted: Migration, tmp_path: Path) -> None:
    report = verify(corrupted.settings)
    md, js = write_report(report, tmp_path)
    text = md.read_text()
    assert "**Result:** FAILED" in text
    assert "| messages | 20 | 20 | DIFFERS |" in text
    assert "id=3: missing" in text
    payload = json.loads(js.read_text())
    assert payload["passed"] is False
    assert corrupted.settings.target.password is None or (
        corrupted.settings.target.password not in text
    )


def test_dbt_test_fails_on_the_corrupted_tables(corrupted: Migration) -> None:
    outcome = run_dbt(corrupted.settings, ["test", "-s", "messages", "jobs"])
    assert not outcome.success
    failing = {name for name, status in outcome.results.items() if status == "fail"}
    # Both tables' checks are made by the test of the ten from job_photos on.
    assert failing == {"pgshift_constraints_job_photos_and_9_more"}
    # The failing check is named, with both figures.
    named = "\n".join(outcome.failures)
    assert "same rows as the source table messages (count, checksum)" in named
    assert "same rows as the source table jobs (count, checksum)" in named


def test_lineage_runs_from_raw_through_staging_to_final(
    corrupted: Migration,
) -> None:
    assert run_dbt(corrupted.settings, ["parse"]).success
    manifest = json.loads((PROJECT_DIR / "target" / "manifest.json").read_text())
    parents = manifest["parent_map"]
    assert parents["model.pgshift.stg_app__users"] == ["source.pgshift.app.users"]
    assert "model.pgshift.stg_app__users" in parents["model.pgshift.users"]
    # Foreign keys are edges between final tables.
    assert "model.pgshift.users" in parents["model.pgshift.payment_methods"]
    assert "model.pgshift.jobs" in parents["model.pgshift.bids"]
    # Descriptions come from the source's comments.
    users = manifest["nodes"]["model.pgshift.users"]
    assert users["description"].startswith("Everyone who signs in")


def test_a_key_value_that_could_read_as_another_column_is_quoted() -> None:
    # Plain values as they are; one holding ", b=" or a quote as a literal.
    row = Difference({"a": "x, b=y", "b": "it's", "id": "7"}, None, "(1)")
    assert row.describe() == "a='x, b=y', b='it''s', id=7: unexpected row"


@pytest.mark.parametrize(
    ("key", "columns"),
    [
        ("id", "id uuid primary key, token text"),
        ("flag, n", "flag boolean, n int, token text, primary key (flag, n)"),
        ("b", "b bytea primary key, token text"),
    ],
)
def test_the_differing_row_of_a_large_table_is_found_whatever_its_key(
    pg_url: str, key: str, columns: str
) -> None:
    # Past FETCH_BELOW rows, the tables are cut into segments by their key:
    # uuid, boolean and bytea have no max(), and a key of several columns
    # is cut as rows compare.
    from pgshift.verify.diff import Side, diff

    values = {
        "id": "md5('s' || g)::uuid",
        "flag, n": "g %% 2 = 0, g",
        "b": "decode(md5('s' || g), 'hex')",
    }[key]
    for table in ("expected", "found"):
        query(
            pg_url,
            f"create table {table} ({columns}); insert into {table} "
            f"select {values}, 'tok' || g from generate_series(1, 1000) g",
        )
    query(pg_url, "update found set token = 'tampered' where token = 'tok500'")
    conn = psycopg2.connect(pg_url)
    try:
        cursor = conn.cursor()
        cursor.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = 'expected'::regclass and attnum > 0 order by attnum"
        )
        typed = [tuple(row) for row in cursor.fetchall()]
        keys = [k.strip() for k in key.split(",")]
        sides = [Side(t, cursor, t, typed, keys) for t in ("expected", "found")]
        found = diff(*sides)
    finally:
        conn.close()
    assert [d.changed for d in found.differences] == [{"token": ("tok500", "tampered")}]
    # A token's values are what differs, and are not printed.
    assert (
        found.differences[0]
        .describe()
        .endswith(
            ": token expected (hidden, 6 characters), found (hidden, 8 characters)"
        )
    )


def test_a_truncate_queued_behind_the_load_waits_for_it_and_nothing_hangs(
    pg_url: str, tmp_path: Path
) -> None:
    """The application's TRUNCATE during the copy (Wiki.js rebuilds its page
    tree so after every page change) queues behind the snapshot's lock: the
    copies and checksums that join the snapshot later would queue behind it,
    for ever. They read the table on the snapshot's own connection instead,
    every row of the snapshot, and the TRUNCATE runs once the load is done.
    """
    from pgshift.load.extract import (
        SourceCopier,
        background_fingerprints,
        open_snapshot,
    )
    from pgshift.settings import DatabaseUrl

    query(
        pg_url,
        'create table "pageTree" (id int primary key, title text); '
        "insert into \"pageTree\" select g, 'page ' || g from generate_series(1, 500) g",
    )
    url = DatabaseUrl.parse("source", pg_url)
    truncated: list[BaseException | None] = []

    def truncate() -> None:
        try:
            query(pg_url, 'truncate "pageTree"')
            truncated.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            truncated.append(exc)

    waiter = threading.Thread(target=truncate)
    with open_snapshot(url) as snapshot:
        table = snapshot.read_catalog("public").tables["pageTree"]
        assert snapshot.count(table) == 500  # the snapshot's lock, held
        waiter.start()
        waiting = (
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
            "and query like 'truncate%%'"
        )
        for _ in range(200):
            if query(pg_url, waiting) == [(1,)]:
                break
            time.sleep(0.05)
        assert query(pg_url, waiting) == [(1,)]
        with (
            background_fingerprints(url, snapshot, [table]) as figures,
            SourceCopier(url, snapshot, tmp_path / "copies", workers=2) as copier,
        ):
            [copy] = copier.submit(table, snapshot.read_plan(table))
            path, rows = copy.result(timeout=30)
            assert rows == 500 and len(path.read_text().splitlines()) == 1 + 500
            assert figures.result(timeout=30)["pageTree"][0] == 500
        assert waiter.is_alive()  # the TRUNCATE waits for the load
    waiter.join(30)
    assert truncated == [None]
    assert query(pg_url, 'select count(*) from "pageTree"') == [(0,)]


def test_a_credential_is_shown_by_its_length_only() -> None:
    # A password hash or a token that differs, or that is a row's key, is
    # never printed: its length stands for it, a key's first characters too.
    hidden = frozenset({"password_hash", "token"})
    changed = Difference(
        {"id": "7"},
        "(7,x,$argon2id$v=19$m=65536)",
        "(7,y,$argon2id$v=19$m=4096)",
        {
            "name": ("x", "y"),
            "password_hash": ("$argon2id$v=19$m=65536", "$argon2id$v=19$m=4096"),
        },
        hidden=hidden,
    )
    assert changed.describe() == (
        "id=7: name expected 'x', found 'y'; password_hash expected "
        "(hidden, 22 characters), found (hidden, 21 characters)"
    )
    session = Difference({"token": "iJnNsZq8c1Vb0KkT2xWe"}, "(1)", None, hidden=hidden)
    assert session.describe() == "token='iJnN…' (hidden, 20 characters): missing"
    keyless = Difference(
        {},
        "(7,s3cr3t-t0ken)",
        None,
        hidden=hidden,
        columns=("id", "token"),
        expected_values=("7", "s3cr3t-t0ken"),
    )
    assert keyless.describe() == (
        "(no key): missing (expected ('7', (hidden, 12 characters)))"
    )
    assert "s3cr3t" not in keyless.describe()


@pytest.mark.parametrize(
    ("column", "secret"),
    [
        ("password", True),
        ("encryptedPassword", True),
        ("password_hash", True),
        ("api_key", True),
        ("apiKey", True),
        ("refresh_token", True),
        ("client_secret", True),
        ("tfa_secret", True),
        ("salt", True),
        ("pwd", True),
        ("username", False),
        ("passenger_count", False),
        ("salty", False),
        ("description", False),
    ],
)
def test_credential_columns_are_told_by_their_names(column: str, secret: bool) -> None:
    from pgshift.verify.diff import is_secret

    assert is_secret(column) is secret


@pytest.mark.parametrize(("tampered", "more"), [(10, False), (15, True), (400, True)])
def test_rows_past_the_limit_are_said_to_differ_too(
    pg_url: str, tampered: int, more: bool
) -> None:
    # The first ten differing rows are listed; when more differ, a last
    # line says so rather than let the list read as complete.
    from pgshift.verify.diff import Side, diff

    suffix = f"_{tampered}"
    for table in ("expected", "found"):
        query(
            pg_url,
            f"create table {table}{suffix} (id int primary key, note text); "
            f"insert into {table}{suffix} select g, 'n' || g "
            "from generate_series(1, 1000) g",
        )
    query(
        pg_url,
        f"update found{suffix} set note = 'changed' where id %% 50 = 0 "
        f"and id <= {tampered * 50}",
    )
    conn = psycopg2.connect(pg_url)
    try:
        cursor = conn.cursor()
        typed = [("id", "integer"), ("note", "text")]
        sides = [
            Side(t, cursor, f"{t}{suffix}", typed, ["id"])
            for t in ("expected", "found")
        ]
        found = diff(*sides)
    finally:
        conn.close()
    lines = found.lines()
    assert lines[0] == "id=50: note expected 'n50', found 'changed'"
    assert len(found.differences) == 10
    assert found.more is more
    assert (lines[-1] == "more rows differ: only the first 10 are shown") is more


def test_a_changed_instant_is_shown_in_utc_and_says_so(pg_url: str) -> None:
    # The literal a reader pastes means the same instant in any time zone.
    from pgshift.verify.diff import Side, diff

    for table, at in (("expected_at", "10:00"), ("found_at", "11:30")):
        query(
            pg_url,
            f"create table {table} (id int primary key, at timestamptz); "
            f"insert into {table} values (1, '2024-03-01 {at}+02'), "
            "(2, 'infinity'), (3, null)",
        )
    query(pg_url, "update found_at set at = '-infinity' where id = 2")
    query(pg_url, "update found_at set at = now() where id = 3")
    conn = psycopg2.connect(pg_url)
    try:
        cursor = conn.cursor()
        cursor.execute("set time zone 'America/New_York'")
        typed = [("id", "integer"), ("at", "timestamp with time zone")]
        found = diff(
            *(Side(t, cursor, t, typed, ["id"]) for t in ("expected_at", "found_at"))
        )
    finally:
        conn.close()
    lines = found.lines()
    assert lines[0] == (
        "id=1: at expected '2024-03-01 08:00:00+00', found '2024-03-01 09:30:00+00'"
    )
    assert lines[1] == "id=2: at expected 'infinity', found '-infinity'"
    assert lines[2].startswith("id=3: at expected NULL, found '")
    assert lines[2].endswith("+00'")
