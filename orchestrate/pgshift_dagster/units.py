"""pgshift's load, cut into the units an orchestrator runs one by one.

``pgshift.load.load`` does all of this in one process; here each piece runs
in a step of its own, on any worker, with the snapshot held open by the
holder process (``pgshift_dagster.holder``) for the whole load:

* ``start_holder`` starts the holder and reads the snapshot it exported;
* ``prepare`` (inside the snapshot) reads the catalog, claims the state and
  landing schemas, drops the manifest (nothing vouches for the raw tables
  until the load completes), and creates every raw table, UNLOGGED and
  empty, and dlt's own tables, so that the table units running at once
  never race to create a table;
* ``load_table`` (inside the snapshot) counts and checksums one table while
  dlt copies it in, as the one-process load does, range by range;
* ``finish`` (inside the snapshot) writes the manifest from the figures each
  table unit recorded, with what stays behind and the sequences' positions.

Every unit joins the snapshot by its id (``SET TRANSACTION SNAPSHOT``) and
records ``txid_current_snapshot()`` as it sees it: equal across units,
exactly when they all read the one snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgshift import manifest
from pgshift.catalog import Catalog, Table
from pgshift.connection import connect, transaction
from pgshift.load import (
    LoadResult,
    _configure_dlt,
    _land_empty_tables,
    record_load,
)
from pgshift.load.destination import raw_postgres
from pgshift.load.extract import Snapshot, SourceCopier, snapshot_source
from pgshift.settings import ConfigError, Settings

ORCHESTRATE_DIR = Path(__file__).resolve().parents[1]
"""``orchestrate/``: holds this package."""

HANDSHAKE_SECONDS = 120.0
"""How long the snapshot asset waits for the holder to export its snapshot."""


@dataclass(frozen=True)
class HeldSnapshot:
    """The snapshot the holder exported, as the units need it.

    Attributes:
        snapshot_id: The id to import with SET TRANSACTION SNAPSHOT.
        taken_at: The source clock at the snapshot.
        txid_snapshot: ``txid_current_snapshot()`` inside it.
        holder_pid: The holder's process id (on the machine that started it).
        backend_pid: The holder's server process on the source.
    """

    snapshot_id: str
    taken_at: str
    txid_snapshot: str
    holder_pid: int
    backend_pid: int


def pipeline_name(table: str) -> str:
    """The dlt pipeline and schema name of one table's load unit.

    Each unit has a pipeline (local state) and a dlt schema of its own, so
    units running at once share no state; a table's name may hold any
    character, a pipeline's name is a directory.
    """
    digest = hashlib.sha1(table.encode("utf-8")).hexdigest()[:12]
    return f"pgshift_raw_{digest}"


def unit_dir(settings: Settings) -> Path:
    """Where the Dagster units keep dlt's pipelines and the copied ranges."""
    return settings.state_dir / "dagster"


def start_holder(
    settings: Settings, run_id: str, instance_ref: str, hold_seconds: float
) -> HeldSnapshot:
    """Start the holder process and wait for the snapshot it exports.

    The holder runs in a session of its own (it outlives the step that
    started it) and logs to ``<state dir>/dagster/holder-<run id>.log``.

    Args:
        settings: The run settings.
        run_id: The Dagster run the snapshot belongs to.
        instance_ref: Dagster's instance reference, serialized.
        hold_seconds: The longest the holder keeps the snapshot.

    Returns:
        The snapshot.

    Raises:
        ConfigError: The holder could not export a snapshot.
    """
    log_dir = unit_dir(settings)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"holder-{run_id}.log"
    path = os.pathsep.join(
        [str(ORCHESTRATE_DIR), str(settings.project_dir / "loader")]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    with log_path.open("ab") as log:
        holder = subprocess.Popen(
            [sys.executable, "-m", "pgshift_dagster.holder"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONPATH": path},
            start_new_session=True,
        )
    assert holder.stdin is not None and holder.stdout is not None
    config = {
        # The URL holds the password: it goes through the pipe, never argv.
        "source": _libpq_url(settings),
        "run_id": run_id,
        "instance_ref": instance_ref,
        "hold_seconds": hold_seconds,
    }
    holder.stdin.write((json.dumps(config) + "\n").encode("utf-8"))
    holder.stdin.close()
    ready, _, _ = select.select([holder.stdout], [], [], HANDSHAKE_SECONDS)
    line = holder.stdout.readline() if ready else b""
    holder.stdout.close()
    if not line:
        holder.kill()
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        raise ConfigError(
            "the snapshot holder exported no snapshot of the "
            f"{settings.source_required.describe()}: " + " / ".join(tail)
        )
    return HeldSnapshot(**json.loads(line))


def _libpq_url(settings: Settings) -> str:
    """The source URL rebuilt from its parameters (password included)."""
    from urllib.parse import quote, urlencode

    url = settings.source_required
    auth = quote(url.user, safe="")
    if url.password:
        auth += ":" + quote(url.password, safe="")
    query = f"?{urlencode(url.options)}" if url.options else ""
    return (
        f"postgresql://{auth}@{quote(url.host, safe='')}:{url.port}/"
        f"{quote(url.dbname, safe='')}{query}"
    )


@contextmanager
def joined_snapshot(settings: Settings, held: HeldSnapshot) -> Iterator[Snapshot]:
    """A source transaction inside the held snapshot, as the loader opens them.

    Raises:
        psycopg2.Error: The snapshot is no longer held ("invalid snapshot
            identifier") or the source is out of reach.
    """
    conn = connect(
        settings.source_required, autocommit=True, application_name="pgshift unit"
    )
    try:
        cursor = conn.cursor()
        joined = Snapshot(held.snapshot_id, held.taken_at, cursor)
        for statement in joined.begin_statements():
            cursor.execute(statement)
        yield joined
        cursor.execute("ROLLBACK")
    finally:
        conn.close()


def seen_snapshot(snapshot: Snapshot) -> str:
    """``txid_current_snapshot()`` as a transaction inside the snapshot sees it."""
    snapshot.cursor.execute("select txid_current_snapshot()::text")
    return str(snapshot.cursor.fetchone()[0])


def selected_tables(
    settings: Settings, catalog: Catalog, names: Sequence[str]
) -> list[Table]:
    """The catalog's entries of the tables the definitions load.

    Raises:
        ConfigError: The source and the definitions disagree (scaffold
            again, then reload the definitions).
    """
    missing = [name for name in names if name not in catalog.tables]
    unknown = [n for n in catalog.tables if settings.selects(n) and n not in names]
    if missing or unknown:
        raise ConfigError(
            "the source's tables differ from the ones the dbt project was "
            f"scaffolded from (not on the source: {missing or 'none'}; not "
            f"scaffolded: {unknown or 'none'}): run `python loader/run.py "
            "scaffold`, then reload the Dagster definitions"
        )
    return [catalog.tables[name] for name in names]


def prepare(settings: Settings, snapshot: Snapshot, names: Sequence[str]) -> None:
    """Make the target ready for the table units, before any of them runs.

    Raises:
        ConfigError: The tables differ from the scaffolded ones, or the
            target's schemas are not pgshift's.
    """
    catalog = snapshot.read_catalog(settings.source_schema)
    tables = selected_tables(settings, catalog, names)
    with transaction(settings.target) as cursor:
        manifest.ensure_state_schema(cursor, settings.state_schema)
        manifest.claim_landing_schema(
            cursor, settings.state_schema, settings.raw_schema
        )
        manifest.drop_manifest(cursor, settings.state_schema)
    # Every raw table, empty and UNLOGGED, with one text column per source
    # column: each unit's dlt pipeline finds its table there and replaces
    # its rows, and a table left empty by the source is landed already.
    _land_empty_tables(settings, tables)
    _create_dlt_tables(settings)


def _create_dlt_tables(settings: Settings) -> None:
    """Create dlt's own tables in the landing schema, once.

    Units loading at once would otherwise each try to create them.
    """
    import dlt

    configure_dlt(settings)
    name = "pgshift_raw_setup"
    pipeline = make_pipeline(settings, name)

    @dlt.source(name=name, max_table_nesting=0)
    def nothing() -> list[Any]:
        return []

    pipeline.extract(nothing())
    pipeline.normalize()
    pipeline.sync_schema()


def configure_dlt(settings: Settings) -> None:
    """Set dlt's options as the one-process load does, for one unit.

    A unit's pipeline never restores its state or schema from the target:
    every unit's run stands alone, inside the run's snapshot, and dagster-dlt
    then drops only the packages an earlier attempt left pending (they
    belong to another snapshot).
    """
    import dlt

    _configure_dlt(settings.jobs)
    dlt.config["restore_from_destination"] = False


def make_pipeline(settings: Settings, name: str) -> Any:
    """A dlt pipeline into the landing schema, with pgshift's destination."""
    import dlt

    target = settings.target
    credentials = {
        "database": target.dbname,
        "username": target.user,
        "password": target.password or "",
        "host": target.host,
        "port": target.port,
        "query": target.options or None,
    }
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(unit_dir(settings) / "pipelines"),
        destination=raw_postgres(credentials=credentials, destination_name="postgres"),
        dataset_name=settings.raw_schema,
    )


def table_source(table: Table, snapshot: Snapshot, copier: SourceCopier) -> Any:
    """The dlt source of one table, read inside the snapshot, range by range.

    It is pgshift's own source (``snapshot_source``: every ctid range copied
    as CSV and imported as a load file), under a schema name of the unit's.
    """
    import dlt

    resources = list(snapshot_source([table], snapshot, copier).resources.values())

    @dlt.source(name=pipeline_name(table.name), max_table_nesting=0)
    def one_table() -> list[Any]:
        return resources

    return one_table()


def table_figures(settings: Settings, snapshot: Snapshot, name: str) -> Table:
    """One table's catalog entry, as the snapshot sees it."""
    catalog = snapshot.read_catalog(settings.source_schema)
    if name not in catalog.tables:
        raise ConfigError(
            f"the source has no table {name}: run `python loader/run.py "
            "scaffold`, then reload the Dagster definitions"
        )
    return catalog.tables[name]


def finish(
    settings: Settings,
    snapshot: Snapshot,
    names: Sequence[str],
    figures: dict[str, tuple[int, str]],
    started: float,
) -> LoadResult:
    """Write the manifest from the figures each table unit recorded.

    Args:
        settings: The run settings.
        snapshot: The held snapshot, joined.
        names: The tables loaded.
        figures: Table name to (rows, checksum) inside the snapshot.
        started: ``time.time()`` when the snapshot asset started.

    Returns:
        What was loaded.
    """
    catalog = snapshot.read_catalog(settings.source_schema)
    selected_tables(settings, catalog, names)
    result = LoadResult(
        snapshot_id=snapshot.snapshot_id,
        snapshot_taken_at=snapshot.taken_at,
        source_rows={name: figures[name][0] for name in names},
        checksums={name: figures[name][1] for name in names},
        seconds=time.time() - started,
        catalog=catalog,
    )
    record_load(settings, result, snapshot)
    return result
