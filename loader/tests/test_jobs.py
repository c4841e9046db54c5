"""--jobs N, and what migrate prints: a short progress display and the summary."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pgshift.load.extract import SourceCopier, open_snapshot
from pgshift.settings import PROJECT_DIR, ConfigError, DatabaseUrl

from migration import MigratedSample, make_settings, query, run_cli

LOG_FILE = PROJECT_DIR / "logs" / "dbt.log"


def _last_invocation(log: Path) -> str:
    """dbt's log of its last invocation (each starts with a line of '=').

    dbt rotates its log at 10 MB (``dbt.log.1`` is the one before), which
    may happen in the middle of an invocation.
    """
    rotated = log.with_name(log.name + ".1")
    text = "".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in (rotated, log)
        if path.exists()
    )
    return re.split(r"^=+ .* =+$", text, flags=re.MULTILINE)[-1]


@pytest.mark.parametrize("value", ["0", "-2", "x", "1.5"])
def test_a_bad_number_of_jobs_is_a_usage_error(tmp_path: Path, value: str) -> None:
    done = run_cli([f"--jobs={value}", "migrate"], "", "", tmp_path)
    assert done.returncode == 2
    assert "--jobs" in done.stderr
    assert "1 or more" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_jobs_default_to_the_cores_and_must_be_positive() -> None:
    settings = make_settings("postgresql://h/s", "postgresql://h/t")
    assert settings.jobs == (os.cpu_count() or 1)
    with pytest.raises(ConfigError, match="1 or more"):
        make_settings("postgresql://h/s", "postgresql://h/t", jobs=0)


def test_jobs_n_migrates_the_sample_completely(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    """More jobs than cores; one job is the summary's test below."""
    copy = sample_copy()
    done = run_cli(
        ["--jobs", "3", "migrate"], copy.source_url, copy.target_url, copy.state
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "26 tables, 26 complete" in done.stdout
    assert "**362** | **362**" in done.stdout
    results = json.loads((PROJECT_DIR / "target" / "run_results.json").read_text())
    assert results["args"]["threads"] == 3


def _sessions_opened(
    target: str, args: list[str], source: str, state: Path
) -> tuple[int, str]:
    """How many sessions ``run.py <args>`` opened on the target, and its output."""
    sessions = (
        "select sessions from pg_stat_database where datname = current_database()"
    )
    before = query(target, sessions)[0][0]
    done = run_cli(args, source, target, state)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return int(query(target, sessions)[0][0]) - before, done.stdout


def test_dbt_keeps_one_session_per_thread_for_the_whole_build(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    """Not one server process per node: each starts with cold catalog caches.

    dbt run by hand also keeps its own --threads option over --jobs.
    """
    copy = sample_copy()
    opened, stdout = _sessions_opened(
        copy.target_url,
        ["--jobs", "3", "dbt", "build", "--threads", "2"],
        "",
        copy.state,
    )
    results = json.loads((PROJECT_DIR / "target" / "run_results.json").read_text())
    assert results["args"]["threads"] == 2
    # A dbt command run by hand prints dbt's own lines.
    assert "Concurrency: 2 threads" in stdout
    assert " START " in stdout
    nodes = len(results["results"])
    assert nodes > 40
    # Two threads, the hooks' session, the query counting them, and the
    # one recording the build's name map on the target; dbt alone would
    # have opened one per node.
    assert opened <= 6, (opened, nodes)


def test_the_load_hands_target_sessions_on_from_file_to_file(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    """dlt alone opens a session per load file (one per table here)."""
    copy = sample_copy()
    opened, _ = _sessions_opened(
        copy.target_url, ["--jobs", "2", "load"], copy.source_url, copy.state
    )
    assert opened < 20, opened
    # None of them is left open.
    idle = (
        "select count(*) from pg_stat_activity "
        "where datname = current_database() and pid <> pg_backend_pid()"
    )
    assert query(copy.target_url, idle) == [(0,)]


def test_each_copy_has_a_source_connection_of_its_own(
    migrated_sample: MigratedSample, tmp_path: Path
) -> None:
    source = DatabaseUrl.parse("source", migrated_sample.source_url)
    count = (
        "select count(*) from pg_stat_activity "
        "where application_name = 'pgshift copy' and datname = current_database()"
    )
    with (
        open_snapshot(source) as snapshot,
        SourceCopier(source, snapshot, tmp_path / "copies", workers=3),
    ):
        assert query(migrated_sample.source_url, count) == [(3,)]
    assert query(migrated_sample.source_url, count) == [(0,)]


def test_dlt_loads_with_as_many_workers_as_jobs() -> None:
    import dlt

    from pgshift.load import _configure_dlt

    _configure_dlt(3)
    assert dlt.config["load.workers"] == 3


def test_migrate_prints_progress_and_the_summary_and_names_dbt_log(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    """Run with one job: the whole migration holds with a single thread too."""
    copy = sample_copy()
    done = run_cli(
        ["--jobs", "1", "migrate"], copy.source_url, copy.target_url, copy.state
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((PROJECT_DIR / "target" / "run_results.json").read_text())
    assert results["args"]["threads"] == 1
    lines = done.stdout.splitlines()
    assert len(lines) < 80, done.stdout
    assert "| **26 tables, 26 complete** | **362** | **362** | | | ✅ |" in lines
    assert f"dbt's log: {LOG_FILE}" in lines
    assert any(re.fullmatch(r"dbt build: \d+/\d+ nodes", line) for line in lines)
    assert "load: 26/26 tables copied" in lines
    assert "verify: 26/26 tables" in lines
    # dbt's own lines are in its log, not on the screen.
    assert " START " not in done.stdout
    logged = _last_invocation(LOG_FILE)
    assert "OK created sql pgshift_table model public_pgshift_build.users" in logged
    assert "PASS pgshift_constraints_reviews_and_5_more" in logged
    assert "Completed successfully" in logged


def test_a_failing_build_prints_the_failure_in_full(
    sample_copy: Callable[[], MigratedSample],
) -> None:
    copy = sample_copy()
    # The source gains a bid for a job that does not exist, past its foreign
    # key's triggers (which replica mode skips), the key staying as the
    # models know it: the final model's constraints test fails on that key.
    query(
        copy.source_url,
        "set session_replication_role = replica; "
        "insert into bids select (jsonb_populate_record(null::bids, to_jsonb(b) "
        '|| \'{"id": 999999, "jobId": 999999}\')).* from bids b limit 1',
    )
    done = run_cli(["migrate"], copy.source_url, copy.target_url, copy.state)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(done.stdout.splitlines()) < 100, done.stdout
    lines = done.stdout.splitlines()
    failure = next(
        line for line in lines if "pgshift_constraints_audit_events_and_9_more" in line
    )
    assert ": fail: " in failure and "Got 1 result" in failure, failure
    # The failing check is named, with the orphan's key.
    named = (
        "bids: foreign key bids_job_id_fkey (job_id) -> jobs (id): 1 row, e.g. (999999)"
    )
    assert named in [line.strip() for line in lines], done.stdout
    assert "pgshift: nothing published" in done.stdout
    assert f"dbt's log: {LOG_FILE}" in done.stdout
    # The report says why too, not only which tables are missing.
    report = (PROJECT_DIR / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    build = report.split("## The build failed\n", 1)[1].split("\n## ", 1)[0]
    assert named in build and "pgshift: nothing published" in build, build
