"""The Dagster definitions migrate the sample as ``run.py migrate`` does.

One source (the sample at scale 1), two targets: one migrated by
``python loader/run.py migrate``, the other by the job ``pgshift_migrate``
run in-process with Dagster's multiprocess executor (each step a process of
its own). Once the holder has exported its snapshot, a writer deletes rows
on the source: the units that load afterwards must still read the snapshot,
so both targets must be identical, table by table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from pgshift.checksum import checksum_sql
from pgshift.demo.cluster import Cluster
from pgshift.mapping import NameMap
from pgshift.settings import PROJECT_DIR, scoped_environment
from pgshift.sqlident import quote_ident

from migration import query, run_cli, seed_sample

DELETED = 5
"""audit_events rows the writer deletes on the source during the run."""


@dataclass
class Runs:
    """Both migrations of one source, and what the Dagster run recorded."""

    source: str
    by_cli: str
    by_dagster: str
    success: bool
    materializations: dict[str, Any] = field(default_factory=dict)
    deleted_at: float | None = None
    holders_after: int = -1
    holder_alive_after: bool = True


def _delete_once_held(source: str, done: threading.Event, runs: Runs) -> None:
    """Delete rows on the source as soon as the holder holds its snapshot."""
    conn = psycopg2.connect(source)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            while not done.is_set():
                cursor.execute(
                    "select count(*) from pg_stat_activity"
                    " where application_name = 'pgshift snapshot'"
                )
                if cursor.fetchone()[0]:
                    cursor.execute(
                        'delete from "audit_events" where "id" in'
                        ' (select "id" from "audit_events" order by "id" limit %s)',
                        (DELETED,),
                    )
                    runs.deleted_at = time.time()
                    return
                time.sleep(0.05)
    finally:
        conn.close()


def _holders(source: str) -> int:
    return query(
        source,
        "select count(*) from pg_stat_activity"
        " where application_name = 'pgshift snapshot'",
    )[0][0]


@pytest.fixture(scope="module")
def runs(
    pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runs]:
    names = ("dagster_source", "dagster_by_cli", "dagster_by_dagster")
    for name in names:
        pg_cluster.drop_database(name)
    source, by_cli, by_dagster = (pg_cluster.create_database(n) for n in names)
    seed_sample(source, scale=1)
    done = run_cli(["migrate"], source, by_cli, tmp_path_factory.mktemp("cli"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    env = {
        "SOURCE_DATABASE_URL": source,
        "TARGET_DATABASE_URL": by_dagster,
        "PGSHIFT_STATE_DIR": str(tmp_path_factory.mktemp("dagster_state")),
        "PGSHIFT_JOBS": "2",
    }
    home = tmp_path_factory.mktemp("dagster_home")
    with scoped_environment(env):
        import dagster as dg

        from pgshift_dagster.definitions import defs, migrate_job

        result_runs = Runs(source, by_cli, by_dagster, success=False)
        stop = threading.Event()
        writer = threading.Thread(
            target=_delete_once_held, args=(source, stop, result_runs)
        )
        writer.start()
        try:
            with dg.instance_for_test(temp_dir=str(home)) as instance:
                result = dg.execute_job(
                    dg.reconstructable(migrate_job), instance=instance
                )
                result_runs.success = result.success
                for key in defs.resolve_asset_graph().get_all_asset_keys():
                    event = instance.get_latest_materialization_event(key)
                    if event is not None and event.run_id == result.run_id:
                        result_runs.materializations[key.to_user_string()] = event
        finally:
            stop.set()
            writer.join()
    for _ in range(100):  # the holder sees the run end within a second
        result_runs.holders_after = _holders(source)
        if not result_runs.holders_after:
            break
        time.sleep(0.1)
    snapshot = result_runs.materializations.get("pgshift/snapshot")
    if snapshot is not None:
        pid = snapshot.asset_materialization.metadata["holder_pid"].value
        time.sleep(0.5)
        result_runs.holder_alive_after = Path(f"/proc/{pid}").exists()
    yield result_runs
    for name in names:
        pg_cluster.drop_database(name)


def _meta(event: Any, name: str) -> Any:
    return event.asset_materialization.metadata[name].value


def _fingerprint(url: str, schema: str, table: str) -> tuple[int, str]:
    columns = query(
        url,
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    )
    assert columns, f"{schema}.{table} is missing"
    relation = f"{quote_ident(schema)}.{quote_ident(table)}"
    rows, checksum = query(url, checksum_sql(relation, columns))[0]
    return int(rows), str(checksum)


def test_the_job_succeeds(runs: Runs) -> None:
    assert runs.success
    report = PROJECT_DIR / "MIGRATION_REPORT.json"
    assert '"passed": true' in report.read_text()
    verified = runs.materializations["pgshift/verify"]
    assert _meta(verified, "passed") is True
    assert _meta(verified, "complete") == _meta(verified, "tables") == 26


def test_every_table_and_model_is_an_asset_of_the_run(runs: Runs) -> None:
    names = NameMap.read(PROJECT_DIR)
    assert names is not None
    for table in names.tables.values():
        assert f"raw/{table.source}" in runs.materializations
        assert table.target in runs.materializations
        # The staging models are ephemeral: part of each final model's
        # select, no asset of their own.
        assert f"staging/{table.staging_model}" not in runs.materializations
    for key in ("pgshift/snapshot", "pgshift/manifest", "pgshift/verify"):
        assert key in runs.materializations


def test_final_tables_identical_to_migrate(runs: Runs) -> None:
    names = NameMap.read(PROJECT_DIR)
    assert names is not None
    for table in names.tables.values():
        by_cli = _fingerprint(runs.by_cli, "public", table.target)
        by_dagster = _fingerprint(runs.by_dagster, "public", table.target)
        assert by_dagster == by_cli, table.target
    assert _fingerprint(runs.by_dagster, "public", "audit_events")[0] == 40


def test_manifests_agree(runs: Runs) -> None:
    statement = (
        "select table_name, source_rows, source_checksum from pgshift.manifest"
        " order by table_name"
    )
    assert query(runs.by_dagster, statement) == query(runs.by_cli, statement)
    held = _meta(runs.materializations["pgshift/snapshot"], "snapshot_id")
    ids = query(runs.by_dagster, "select distinct snapshot_id from pgshift.manifest")
    assert ids == [(held,)]


def test_every_unit_read_the_one_snapshot(runs: Runs) -> None:
    snapshot = runs.materializations["pgshift/snapshot"]
    held_id = _meta(snapshot, "snapshot_id")
    held_txids = _meta(snapshot, "txid_snapshot")
    assert _meta(snapshot, "seen_by_prepare") == held_txids
    units = {k: e for k, e in runs.materializations.items() if k.startswith("raw/")}
    assert len(units) == 26
    assert {_meta(e, "snapshot_id") for e in units.values()} == {held_id}
    assert {_meta(e, "txid_snapshot") for e in units.values()} == {held_txids}
    # The units ran in processes of their own, none of them the holder, and
    # the holder outlived the step that started it.
    workers = {_meta(e, "worker_pid") for e in units.values()}
    holder = _meta(snapshot, "holder_pid")
    assert len(workers) > 1
    assert holder not in workers
    assert holder != _meta(snapshot, "step_pid")
    # No URL (and so no password) in what the UI shows.
    assert "postgresql://" not in str(snapshot.asset_materialization.metadata)
    # The source changed before the audit_events unit ran; it read the
    # snapshot all the same.
    assert runs.deleted_at is not None
    assert units["raw/audit_events"].timestamp > runs.deleted_at
    assert query(runs.source, 'select count(*) from "audit_events"') == [
        (40 - DELETED,)
    ]
    assert _meta(units["raw/audit_events"], "source_rows") == 40


def test_the_holder_released_the_snapshot(runs: Runs) -> None:
    assert runs.holders_after == 0
    assert not runs.holder_alive_after


def test_a_run_that_stops_early_releases_the_snapshot(
    runs: Runs, pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A run of the snapshot and one table, without the manifest: nothing
    # tags the snapshot as released, so the holder lets it go when the run
    # ends. A table loaded without the snapshot in its run is refused.
    import dagster as dg

    from pgshift_dagster.definitions import migrate_job

    pg_cluster.drop_database("dagster_partial")
    target = pg_cluster.create_database("dagster_partial")
    # The steps fork from a server process that the first run started, with
    # that run's environment: this run names its target in its run config.
    run_config = {
        "resources": {
            "pgshift": {
                "config": {
                    "source_url": runs.source,
                    "target_url": target,
                    "state_dir": str(tmp_path_factory.mktemp("partial_state")),
                }
            }
        }
    }
    home = tmp_path_factory.mktemp("partial_home")
    users = dg.AssetKey(["raw", "users"])
    try:
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            job = dg.reconstructable(migrate_job)
            partial = dg.execute_job(
                job,
                instance=instance,
                run_config=run_config,
                asset_selection=[dg.AssetKey(["pgshift", "snapshot"]), users],
            )
            assert partial.success
            tags = instance.get_run_by_id(partial.run_id).tags
            assert "pgshift/snapshot-released" not in tags
            for _ in range(100):
                if not _holders(runs.source):
                    break
                time.sleep(0.1)
            assert _holders(runs.source) == 0
            assert query(target, 'select count(*) from raw."users"') == [(19,)]
            # The manifest was dropped and not written: verify would refuse.
            assert query(target, "select to_regclass('pgshift.manifest')") == [(None,)]
            alone = dg.execute_job(
                job,
                instance=instance,
                run_config=run_config,
                asset_selection=[users],
                raise_on_error=False,
            )
            assert not alone.success
            failures = [
                e.event_specific_data.error.to_string()
                for e in alone.all_events
                if e.is_step_failure
            ]
            assert any("held for one run" in f for f in failures), failures
    finally:
        pg_cluster.drop_database("dagster_partial")
