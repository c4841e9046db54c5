"""Final tables change only when a whole build succeeds.

dbt builds every final model in the build schema (``public_pgshift_build``)
and publishes them into ``public`` in one transaction at the end of a run in
which every node succeeded. A model that fails, a test that fails, or a dbt
killed mid-build leaves the application's tables exactly as they were, and
running again completes the migration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pgshift.settings import PROJECT_DIR

from migration import RUN_PY, MigratedSample, cli_env, query, run_cli

BUILD_SCHEMA = "public_pgshift_build"


def _final_state(url: str) -> dict[str, object]:
    """Every final table's rows, and the keys, indexes and defaults on them."""
    tables = [
        r[0]
        for r in query(
            url,
            "select tablename from pg_tables where schemaname = 'public' order by 1",
        )
    ]
    rows = {
        table: query(
            url,
            f"select count(*), md5(coalesce(string_agg(t::text, '|' order by "
            f"t::text), '')) from public.\"{table}\" t",
        )[0]
        for table in tables
    }
    constraints = query(
        url,
        "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2",
    )
    indexes = query(
        url,
        "select indexname, indexdef from pg_indexes where schemaname = 'public' "
        "order by 1",
    )
    defaults = query(
        url,
        "select table_name, column_name, column_default "
        "from information_schema.columns where table_schema = 'public' "
        "and column_default is not null order by 1, 2",
    )
    return {
        "rows": rows,
        "constraints": constraints,
        "indexes": indexes,
        "defaults": defaults,
    }


def _build_schema_tables(url: str) -> list[str]:
    """Tables (not views) in the build schema."""
    return [
        r[0]
        for r in query(
            url,
            "select tablename from pg_tables where schemaname = %s order by 1",
            (BUILD_SCHEMA,),
        )
    ]


def _constraint_count(url: str, table: str, kind: str) -> int:
    """How many constraints of a kind a table of the build schema has."""
    return query(
        url,
        "select count(*) from pg_constraint where contype = %s "
        "and conrelid = format('%%I.%%I', %s, %s)::regclass",
        (kind, BUILD_SCHEMA, table),
    )[0][0]


def _migrated(
    sample_copy: Callable[[], MigratedSample],
) -> tuple[str, str, Path, dict[str, object]]:
    """A copy of the migrated sample, and its final tables as published."""
    copy = sample_copy()
    return copy.source_url, copy.target_url, copy.state, _final_state(copy.target_url)


def test_a_failing_model_or_test_changes_no_final_table(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    source, target, state, published = _migrated(sample_copy)
    assert _build_schema_tables(target) == []

    # A value that builds fine, so that its table is rebuilt in this run...
    query(
        target, "update raw.service_categories set description = 'rebuilt, unpublished'"
    )
    # ... and a model that fails: a NOT NULL column of the contract gets a null.
    query(target, "update raw.users set email = null where id = '1'")
    failed = run_cli(["dbt", "build"], "", target, state)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "nothing published" in failed.stdout
    assert _final_state(target) == published
    # The tables that did build wait in the build schema, for inspection.
    assert "service_categories" in _build_schema_tables(target)
    assert query(
        target,
        f"select count(*) from {BUILD_SCHEMA}.service_categories "
        "where description = 'rebuilt, unpublished'",
    ) != [(0,)]

    # Every model builds, but a test fails, twice over: a bid for a job that
    # does not exist, and a bid that arrives twice. The orphan's foreign key
    # is left out of the built table, and so is the key (with the foreign
    # keys that need it); the one test of the table scans and names each.
    assert run_cli(["load"], source, target, state).returncode == 0
    query(
        target,
        "insert into raw.bids select (jsonb_populate_record(null::raw.bids, "
        'to_jsonb(b) || \'{"id": "999999", "jobId": "999999"}\')).* '
        "from raw.bids b limit 1; "
        "insert into raw.bids select * from raw.bids order by id limit 1",
    )
    failed = run_cli(["dbt", "build"], "", target, state)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "Failure in test pgshift_constraints_audit_events_and_9_more" in (
        failed.stdout
    )
    assert "foreign key bids_job_id_fkey (job_id) -> jobs (id): 1 row" in (
        failed.stdout
    )
    assert "  bids: unique (id): 1 row, e.g. (" in failed.stdout
    assert "nothing published" in failed.stdout
    assert _final_state(target) == published
    assert _constraint_count(target, "bids", "f") == 1  # contractor_id's
    assert _constraint_count(target, "bids", "p") == 0
    # `dbt run` runs no test: the publish finds the key missing and undoes
    # itself.
    failed = run_cli(["dbt", "run"], "", target, state)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "nothing published: the rows break" in failed.stdout
    assert "bids.bids_pkey" in failed.stdout
    assert _final_state(target) == published

    # A load from the unchanged source, and the build publishes the same tables.
    assert run_cli(["load"], source, target, state).returncode == 0
    rebuilt = run_cli(["dbt", "build"], "", target, state)
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    assert _final_state(target) == published
    assert _build_schema_tables(target) == []


def test_dbt_killed_mid_build_then_rerun_completes(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    source, target, state, published = _migrated(sample_copy)
    query(source, "update users set \"lastName\" = 'changed since' where id = 1")
    assert run_cli(["load"], source, target, state).returncode == 0

    process = subprocess.Popen(
        [sys.executable, str(RUN_PY), "dbt", "build"],
        cwd=PROJECT_DIR,
        env=cli_env("", target, state),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    # Kill it once some final tables are rebuilt and others are not.
    while len(_build_schema_tables(target)) < 3:
        assert process.poll() is None, "dbt finished before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert _final_state(target) == published

    rerun = run_cli(["dbt", "build"], "", target, state)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    after = _final_state(target)
    assert after["rows"] != published["rows"]
    assert {k: v for k, v in after.items() if k != "rows"} == {
        k: v for k, v in published.items() if k != "rows"
    }
    assert query(target, "select last_name from public.users where id = 1") == [
        ("changed since",)
    ]
    assert _build_schema_tables(target) == []
    leftovers = query(
        target,
        "select schemaname, tablename from pg_tables where tablename like "
        "'%%dbt\\_tmp' or tablename like '%%dbt\\_backup'",
    )
    assert leftovers == []
    verified = run_cli(["verify"], source, target, state)
    assert verified.returncode == 0, verified.stdout[-3000:]
