"""Crash recovery: a loader killed with SIGKILL at any point, run again, gives
the same raw data and manifest as an uninterrupted run, with nothing left over;
a load whose connections to either server drop midway retries by itself."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from pgshift.demo.cluster import FAST_TEST_SETTINGS, Cluster, find_server_binaries
from pgshift.load import PIPELINE_NAME
from pgshift.settings import PROJECT_DIR

from migration import RUN_PY, cli_env, query, run_cli, seed_sample


def _raw_fingerprint(url: str) -> dict[str, tuple]:
    """Every raw table's rows, and the manifest's figures (state schema)."""
    tables = [
        ("raw", r[0], "*")
        for r in query(
            url,
            "select tablename from pg_tables where schemaname = 'raw' "
            "and tablename not like '\\_dlt%%' order by 1",
        )
    ]
    if query(url, "select to_regclass('pgshift.manifest')") != [(None,)]:
        tables.append(("pgshift", "manifest", "source_rows, source_checksum"))
    out = {}
    for schema, table, columns in tables:
        out[f"{schema}.{table}"] = query(
            url,
            f"select count(*), md5(coalesce(string_agg(t::text, '|' order by "
            f"t::text), '')) from (select {columns} from {schema}.\"{table}\") t",
        )[0]
    return out


_copies = itertools.count()


@dataclass
class Loaded:
    """A source at scale 300, a target loaded from it, and a clean reload.

    The loaded target (database ``crash_loaded``, a template never written
    to) holds raw as a first load left it, ``before`` its fingerprint; the
    source then changed, and ``after`` is the fingerprint of a clean load of
    it into an empty target. Each test crashes a copy of its own.
    """

    cluster: Cluster
    source: str
    state: Path
    before: dict[str, tuple]
    after: dict[str, tuple]
    copies: list[str]

    def target(self, tmp_path: Path) -> tuple[str, Path]:
        """A copy of the loaded target, and a copy of its load's state."""
        name = f"crash_target_{next(_copies)}"
        self.cluster.drop_database(name)
        self.copies.append(name)
        url = self.cluster.create_database(name, template="crash_loaded")
        state = tmp_path / "state"
        shutil.copytree(self.state, state)
        return url, state


@pytest.fixture(scope="module")
def loaded(
    pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """One seed, one first load and one clean load for every crash test."""
    names = ("crash_source", "crash_loaded", "crash_clean")
    for name in names:
        pg_cluster.drop_database(name)
    source, target, clean = (pg_cluster.create_database(name) for name in names)
    seed_sample(source, scale=300)
    state = tmp_path_factory.mktemp("crash_state")
    assert run_cli(["load"], source, target, state).returncode == 0
    before = _raw_fingerprint(target)
    query(source, "update users set \"lastName\" = 'changed since' where id = 1")
    clean_state = tmp_path_factory.mktemp("clean_state")
    assert run_cli(["load"], source, clean, clean_state).returncode == 0
    after = _raw_fingerprint(clean)
    assert after != before  # the source did change between the loads
    loaded = Loaded(pg_cluster, source, state, before, after, [])
    yield loaded
    for name in (*names, *loaded.copies):
        pg_cluster.drop_database(name)


def _start_load(source: str, target: str, state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RUN_PY), "load"],
        cwd=PROJECT_DIR,
        env=cli_env(source, target, state),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not predicate():
        assert process.poll() is None, "the load finished before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("point", "sig"),
    [
        ("extract", signal.SIGKILL),
        ("load", signal.SIGKILL),
        ("extract", signal.SIGINT),
    ],
    ids=["sigkill-mid-extract", "sigkill-mid-load", "ctrl-c-mid-extract"],
)
def test_interrupted_load_then_rerun_equals_a_clean_run(
    point: str,
    sig: signal.Signals,
    loaded: Loaded,
    tmp_path: Path,
) -> None:
    # A first complete load, so that the crash hits a target holding data;
    # the source changed since.
    source = loaded.source
    crashed, state = loaded.target(tmp_path)
    assert _raw_fingerprint(crashed) == loaded.before

    process = _start_load(source, crashed, state)
    if point == "extract":
        # dlt is writing extracted files; nothing of this run is loaded yet.
        extracted = state / "pipelines" / PIPELINE_NAME / "normalize"
        _wait_for(lambda: any(extracted.rglob("*.csv")), process)
    else:
        # This run has replaced some raw tables and not yet others.
        _wait_for(
            lambda: bool(
                query(
                    crashed,
                    "select 1 from raw.users where \"lastName\" = 'changed since'",
                )
            ),
            process,
        )
    os.kill(process.pid, sig)
    _, stderr = process.communicate(timeout=120)
    if sig == signal.SIGINT:
        # Ctrl-C: a clean stop with a message, no traceback, non-zero exit.
        assert process.returncode == 130, stderr[-2000:]
        assert "interrupted" in stderr
        assert "Traceback" not in stderr
    else:
        assert process.returncode == -signal.SIGKILL

    # No manifest vouches for raw tables a load left half-replaced.
    refused = run_cli(["verify"], source, crashed, state)
    assert refused.returncode == 2
    assert "no load manifest" in refused.stderr

    rerun = run_cli(["load"], source, crashed, state)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _raw_fingerprint(crashed) == loaded.after
    leftovers = query(
        crashed,
        "select nspname from pg_namespace where nspname like 'raw\\_%%'",
    )
    assert leftovers == []


def test_dropped_source_connections_are_retried_from_a_new_snapshot(
    loaded: Loaded, new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = loaded.source, new_database()
    process = _start_load(source, target, tmp_path / "state")
    extracted = tmp_path / "state" / "pipelines" / PIPELINE_NAME / "normalize"
    _wait_for(lambda: any(extracted.rglob("*.csv")), process)
    # What a failover or a server restart does to every open session,
    # the one holding the exported snapshot included.
    dropped = query(
        source,
        "select pg_terminate_backend(pid) from pg_stat_activity "
        "where datname = current_database() and pid <> pg_backend_pid()",
    )
    assert dropped
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    assert "retrying from a new snapshot" in stderr
    assert _raw_fingerprint(target) == loaded.after


_GATE = """
create table public.hold_gate ();
create function public.hold_copy() returns trigger language plpgsql as $$
begin
    perform from public.hold_gate;
    return null;
end $$;
create trigger hold_copy before insert on raw.users
    for each statement execute function public.hold_copy();
"""
"""Makes every write into raw.users wait while public.hold_gate is locked."""


@pytest.mark.parametrize(
    ("lock", "waiting", "retried"),
    [
        # dlt retries the one failed job, in the same snapshot.
        ("public.hold_gate in access exclusive mode", "copy", "retried in load"),
        # dlt's load step fails as it empties the raw tables: pgshift starts over.
        ("raw.users in access share mode", "truncate", "retrying from a new snapshot"),
    ],
    ids=["mid-copy", "mid-truncate"],
)
def test_dropped_target_connections_are_retried(
    lock: str,
    waiting: str,
    retried: str,
    loaded: Loaded,
    tmp_path: Path,
) -> None:
    # A first complete load; the source changed since.
    source = loaded.source
    target, state = loaded.target(tmp_path)
    assert _raw_fingerprint(target) == loaded.before
    query(target, _GATE)

    holder = psycopg2.connect(target)
    try:
        cursor = holder.cursor()
        cursor.execute(f"lock table {lock}")
        process = _start_load(source, target, state)
        blocked = (
            "select query from pg_stat_activity "
            "where datname = current_database() and wait_event_type = 'Lock'"
        )
        # The load is writing to the target when its server goes away.
        _wait_for(lambda: bool(query(target, blocked)), process)
        assert query(target, blocked)[0][0].lower().startswith(waiting)
        dropped = query(
            target,
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = current_database() and backend_type = 'client backend' "
            "and pid not in (pg_backend_pid(), %s)",
            (holder.get_backend_pid(),),
        )
        assert dropped
    finally:
        holder.close()
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    assert retried in stderr
    assert _raw_fingerprint(target) == loaded.after


def test_target_crash_empties_raw_and_nothing_is_published(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # Raw tables are UNLOGGED: a crash of the target server empties them.
    target_cluster = Cluster(tmp_path / "target", bin_dir=find_server_binaries())
    target_cluster.init()
    target_cluster.start(settings=FAST_TEST_SETTINGS)
    try:
        source, target = new_database(), target_cluster.create_database("app")
        seed_sample(source, scale=1)
        state = tmp_path / "state"
        assert run_cli(["migrate"], source, target, state).returncode == 0
        published = query(
            target,
            "select count(*), md5(string_agg(u::text, '|' order by u.id)) "
            "from public.users u",
        )
        # The source moves on; the raw tables still hold the published rows.
        query(source, "update users set \"lastName\" = 'changed since' where id = 1")
        persistence = query(
            target,
            "select distinct c.relpersistence from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'raw' "
            "where c.relkind = 'r' and c.relname not like '\\_%%'",
        )
        assert persistence == [("u",)]
        assert query(target, 'select count(*) from raw."users"') == [(19,)]

        target_cluster.kill()
        target_cluster.start(settings=FAST_TEST_SETTINGS)
        assert query(target, 'select count(*) from raw."users"') == [(0,)]

        built = run_cli(["dbt", "build"], "", target, state)
        assert built.returncode == 1, built.stdout[-3000:]
        assert "nothing published" in built.stdout
        assert (
            query(
                target,
                "select count(*), md5(string_agg(u::text, '|' order by u.id)) "
                "from public.users u",
            )
            == published
        )
        verified = run_cli(["verify"], source, target, state)
        assert verified.returncode == 1
        report = (PROJECT_DIR / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
        assert "raw holds 0 rows" in report

        # Loading again is the fix.
        assert run_cli(["load"], source, target, state).returncode == 0
        assert run_cli(["dbt", "build"], "", target, state).returncode == 0
        assert query(target, "select last_name from public.users where id = 1") == [
            ("changed since",)
        ]
    finally:
        target_cluster.stop()


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("server closed the connection unexpectedly", True),
        ("FATAL: terminating connection due to administrator command", True),
        ("FATAL: the database system is starting up", True),
        ('invalid snapshot identifier: "00000003-0000001B-1"', True),
        ('FATAL: password authentication failed for user "app"', False),
        ('FATAL: database "shop" does not exist', False),
        ("permission denied for table users", False),
        ('relation "raw.users" does not exist', False),
        (
            'connection to server at "db", port 5432 failed: FATAL:  password '
            'authentication failed for user "app"',
            False,
        ),
        (
            'connection to server at "db-pooler", port 5432 failed: FATAL:  '
            "unsupported startup parameter: options",
            False,
        ),
        ('connection to server at "db", port 5432 failed: Connection refused', True),
    ],
)
def test_only_transient_failures_are_retried(message: str, transient: bool) -> None:
    from pgshift.load import is_transient

    try:
        try:
            raise psycopg2.OperationalError(message)
        except psycopg2.OperationalError as inner:
            raise RuntimeError("Pipeline execution failed at step=load") from inner
    except RuntimeError as outer:
        assert is_transient(outer) is transient
