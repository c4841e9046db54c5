"""Rows of megabytes load byte-exact, with memory bounded below the data size.

The source table holds text and bytea values of several megabytes each, more
text in total than the bound the loader's peak memory must stay under: a
loader that held a whole table (or a whole load file) in memory would exceed
it. The real memory figures are measured by the benchmark (bench/run.py
--wide, docs/benchmarks.md); the bound here is a generous correctness check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from pgshift.demo.sample.wide import wide_table_sql
from pgshift.load.extract import (
    CHUNK_BYTES,
    SESSION_SETTINGS,
    open_snapshot,
    range_condition,
)
from pgshift.settings import PROJECT_DIR, DatabaseUrl

from migration import cli_env, query

ROWS = 32
"""Wide rows in the source table (plus two with '' and NULL)."""

MEGABYTES = 4
"""Megabytes of text, and of bytea, in every wide row."""

TEXT_BYTES = ROWS * MEGABYTES * 2**20 * 3
"""The table's size as text: the text value, the bytea twice over (hex)."""

NARROW_TABLE = """
create table narrow (id int primary key, label text);
insert into narrow select i, 'label ' || i from generate_series(1, 20000) as i;
delete from narrow where id % 7 = 0;
update narrow set label = label || ' updated' where id % 5 = 0;
"""
"""A table whose values all sit in its heap, with dead rows and moved ones."""


@pytest.fixture(scope="module")
def wide_source(pg_cluster) -> str:  # noqa: ANN001
    """A source database with the wide table and a narrow one."""
    pg_cluster.drop_database("huge_rows_source")
    url = pg_cluster.create_database("huge_rows_source")
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(wide_table_sql(ROWS, MEGABYTES, awkward=True))
            cursor.execute(NARROW_TABLE)
    finally:
        conn.close()
    return url


def _digests(url: str, schema: str) -> list[tuple[str | None, ...]]:
    """Per row: the id and an md5 of every value's text form (NULL stays NULL)."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            for name, value in SESSION_SETTINGS.items():
                cursor.execute("select set_config(%s, %s, true)", (name, value))
            cursor.execute(
                sql.SQL(
                    'select id::text, md5(body::text), md5("blobValue"::text),'
                    " octet_length(body::text), note::text"
                    " from {} order by id::bigint"
                ).format(sql.Identifier(schema, "wideRows"))
            )
            return cursor.fetchall()
    finally:
        conn.close()


def _load(source_url: str, target_url: str, state_dir: Path) -> tuple[str, float]:
    """Run ``run.py load``; return its last line of errors and peak RSS in MB.

    The peak is the kernel's accounting of the waited-for process
    (``wait4``), so it covers everything the loader held at any instant.
    The line is empty when the load succeeded.
    """
    state_dir.mkdir(parents=True)
    log = state_dir / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "loader" / "run.py"), "load"],
            cwd=PROJECT_DIR,
            env=cli_env(source_url, target_url, state_dir),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        _, status, usage = os.wait4(process.pid, 0)
    error = ""
    if os.waitstatus_to_exitcode(status) != 0:
        error = (log.read_text(errors="replace").strip().splitlines() or ["?"])[-1]
    return error, usage.ru_maxrss / 1024


def test_huge_rows_load_byte_exact_in_bounded_memory(
    wide_source: str, new_database: Callable[[], str], tmp_path: Path
) -> None:
    target = new_database()
    error, peak_mb = _load(wide_source, target, tmp_path / "state")
    assert not error, f"run.py load failed: {error}"

    expected = _digests(wide_source, "public")
    assert len(expected) == ROWS + 2
    assert _digests(target, "raw") == expected
    assert query(target, 'select count(*) from raw."wideRows"') == [(ROWS + 2,)]

    bound_mb = TEXT_BYTES / 2**20
    assert peak_mb < bound_mb, (
        f"the loader peaked at {peak_mb:.0f} MB for {bound_mb:.0f} MB of text"
    )


def _per_range(
    url: str, table: str, chunk_bytes: int, aggregates: str
) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Some aggregates over a whole table, and over each range of its plan."""
    source = DatabaseUrl.parse("source", url)
    relation = sql.Identifier("public", table)
    select = sql.SQL("select " + aggregates + " from {} where {}")
    with open_snapshot(source) as snapshot:
        catalog = snapshot.read_catalog("public")
        snapshot.cursor.execute(select.format(relation, sql.SQL("true")))
        whole = snapshot.cursor.fetchone()
        plan = snapshot.read_plan(catalog.tables[table], chunk_bytes)
        ranges = []
        for low, high in plan.ranges():
            condition = range_condition(low, high) or "true"
            snapshot.cursor.execute(select.format(relation, sql.SQL(condition)))
            ranges.append(snapshot.cursor.fetchone())
    return whole, ranges


@pytest.mark.parametrize(
    ("table", "chunk_bytes"),
    [("wideRows", CHUNK_BYTES), ("narrow", 64 * 1024)],
)
def test_ranges_cover_every_row_once(
    wide_source: str, table: str, chunk_bytes: int
) -> None:
    (rows, ids), ranges = _per_range(
        wide_source, table, chunk_bytes, "count(*), coalesce(sum(id), 0)"
    )
    assert len(ranges) > 2, "the table was not split"
    assert sum(n for n, _ in ranges) == rows
    assert sum(s for _, s in ranges) == ids
    assert min(n for n, _ in ranges) > 0


def test_a_wide_range_holds_at_most_one_row_past_its_bytes(wide_source: str) -> None:
    text_bytes = (
        'count(*), coalesce(sum(octet_length(body) + 2 * octet_length("blobValue")), 0)'
    )
    _, ranges = _per_range(wide_source, "wideRows", CHUNK_BYTES, text_bytes)
    row_bytes = MEGABYTES * 2**20 * 3 + 64
    assert max(b for _, b in ranges) <= CHUNK_BYTES + row_bytes


def test_a_bound_that_is_not_a_ctid_is_refused() -> None:
    assert range_condition(None, None) is None
    assert range_condition("(3,1)", None) == "ctid >= '(3,1)'::tid"
    with pytest.raises(ValueError, match="not a ctid"):
        range_condition("(1,1)'; drop table x; --", None)
