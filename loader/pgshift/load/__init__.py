"""The load: every selected source table into the target's raw schema.

``load()`` exports one source snapshot, counts each table inside it, runs the
dlt pipeline (each table range copied out of the snapshot as CSV into a load
file, imported by dlt and copied into the target by ``pgshift.load.destination``,
which keeps '' and NULL apart where dlt's own CSV job does not), and writes
the load manifest (``pgshift.manifest``, in the state schema): per table the row count and
content checksum the snapshot saw, with the snapshot id and time. Raw tables
keep the source's table and column names exactly
(``pgshift.load.destination.ExactNaming``) and hold every value as text.
"""

from __future__ import annotations

import errno
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift import manifest
from pgshift.catalog import (
    ROW_SECURITY_REFUSAL,
    Catalog,
    Table,
    raw_table_name,
    read_not_migrated,
    refuse_unreadable,
)
from pgshift.checksum import HASH_PROBE_SQL
from pgshift.connection import connect, transaction
from pgshift.load.extract import (
    Snapshot,
    SourceCopier,
    background_fingerprints,
    open_snapshot,
    snapshot_source,
)
from pgshift.load.retry import RETRY_DELAYS, LoadError, causes, is_transient, summary
from pgshift.mapping import NameMap
from pgshift.naming import Overrides
from pgshift.progress import Progress
from pgshift.schemas import HOLDS_NOTHING, schema_plan
from pgshift.settings import ConfigError, Settings, names_argument, quiet_telemetry

__all__ = ["PIPELINE_NAME", "LoadError", "LoadResult", "is_transient", "load"]

logger = logging.getLogger(__name__)

PIPELINE_NAME = "pgshift_raw"
"""dlt's pipeline; its local state is in ``<state dir>/pipelines/pgshift_raw``."""


@dataclass
class LoadResult:
    """What one load did.

    Attributes:
        snapshot_id: The source snapshot every table was read in.
        snapshot_taken_at: The source clock at the snapshot.
        source_rows: Table name to the row count inside the snapshot.
        checksums: Table name to the content checksum inside the snapshot.
        seconds: Wall time of the whole load.
        catalog: The source catalog as the snapshot saw it.
    """

    snapshot_id: str
    snapshot_taken_at: str
    source_rows: dict[str, int]
    checksums: dict[str, str]
    seconds: float
    catalog: Catalog = field(repr=False)


def _configure_dlt(jobs: int = 1) -> None:
    """Set the dlt options that keep names and values exact and loads lean.

    Args:
        jobs: Load files copied into the target at the same time.
    """
    import dlt

    from pgshift.load.destination import REPLACE_STRATEGY

    # dlt sends anonymous usage events unless told not to: a migration's
    # details stay on site.
    quiet_telemetry()
    # Keep identifiers byte for byte: the renaming belongs to dbt.
    dlt.config["schema.naming"] = "pgshift.load.destination.ExactNaming"
    # Load files hold source data: delete each one once it is in the target.
    dlt.config["load.delete_completed_jobs"] = True
    # Tables in order: their files are copied out of the source in that order.
    dlt.config["extract.next_item_mode"] = "fifo"
    dlt.config["load.workers"] = jobs
    # Raw tables are emptied in place, then loaded: RawCsvCopyJob relies on it.
    dlt.config["destination.replace_strategy"] = REPLACE_STRATEGY


def _pipeline(settings: Settings) -> Any:
    import dlt

    from pgshift.load.destination import raw_postgres

    target = settings.target
    credentials = {
        "database": target.dbname,
        "username": target.user,
        "password": target.password or "",
        "host": target.host,
        "port": target.port,
        "query": target.options or None,
    }
    if target.host.startswith("/"):
        # A unix socket's directory: dlt writes the host into a URL's
        # authority, where a path is no host. libpq takes the query's host
        # and port over the authority's, which dlt requires.
        credentials.update(
            host="localhost",
            query={**target.options, "host": target.host, "port": str(target.port)},
        )
    from dlt.common.runtime.collector import LogCollector

    # dlt's counters per table and step go to the log (shown with -v); the
    # load shows its own progress, the tables copied out of the snapshot.
    progress = LogCollector(logger=logging.getLogger(f"{__name__}.dlt"))
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(settings.state_dir / "pipelines"),
        destination=raw_postgres(credentials=credentials, destination_name="postgres"),
        dataset_name=settings.raw_schema,
        progress=progress,
    )


def load(settings: Settings, snapshot_id: str | None = None) -> LoadResult:
    """Extract the selected source tables into the raw schema, with the manifest.

    A dropped connection or a server restart on either side starts the load
    over from a new snapshot, after a pause, at most ``len(RETRY_DELAYS)``
    times; any other failure ends it at once. Ctrl-C inside dlt's steps is
    raised as KeyboardInterrupt.

    Args:
        settings: The run settings.
        snapshot_id: Read inside this exported snapshot instead of one of
            its own (``sync``: the replication slot's, which the caller
            keeps valid). Without it, a sync recorded as running on the
            target refuses the load (``manifest.refuse_while_syncing``).

    Returns:
        What was loaded.

    Raises:
        LoadError: The load failed and another attempt would not help.
        ConfigError: The two servers' checksums could not be compared, or
            row-level security applies to the source user on a table.
    """
    for attempt, delay in enumerate((*RETRY_DELAYS, None), start=1):
        try:
            return _load_once(settings, snapshot_id)
        except ConfigError:
            raise
        except Exception as exc:
            if any(isinstance(c, KeyboardInterrupt) for c in causes(exc)):
                raise KeyboardInterrupt from None
            refusal = _row_security_refusal(exc)
            if refusal is not None:
                raise refusal from exc
            if any(
                isinstance(c, OSError) and c.errno == errno.ENOSPC for c in causes(exc)
            ):
                raise LoadError(
                    f"no space left on the disk of {settings.state_dir}, where "
                    "the load writes each table range as a CSV file (together "
                    "about the size of the selected tables' text) before "
                    "copying it into the target; no manifest vouches for the "
                    "raw tables until a load completes. Next: free space there, "
                    "or set PGSHIFT_STATE_DIR to a directory on a disk with "
                    "more room"
                ) from exc
            message = summary(exc, settings)
            if delay is None or not is_transient(exc):
                raise LoadError(
                    f"the load failed (attempt {attempt}): {message}"
                ) from exc
            logger.warning(
                "load attempt %d failed (%s); retrying from a new snapshot in %.0f s",
                attempt,
                message,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


_ROW_SECURITY_ERROR = re.compile(
    r'query would be affected by row-level security policy for table "(.*)"'
)


def _row_security_refusal(exc: BaseException) -> ConfigError | None:
    """The refusal for a table the source user may read only in part, if any.

    Every source transaction of the load reads with ``row_security = off``
    (``pgshift.load.extract.SESSION_SETTINGS``), so a table whose policies
    apply to the user fails the read that would have returned only the
    rows they let through.
    """
    for cause in causes(exc):
        found = _ROW_SECURITY_ERROR.search(str(cause))
        if found:
            name = found.group(1)
            return ConfigError(
                f"source table {name}: {ROW_SECURITY_REFUSAL}, or leave the "
                f"table out with `--exclude {names_argument([name])}` (on scaffold and migrate "
                "alike)"
            )
    return None


def check_same_hashes(settings: Settings) -> None:
    """Stop unless source and target hash text alike (``pgshift.checksum``).

    Raises:
        ConfigError: They do not: the servers differ in byte order, and the
            final tables' checksums could never equal the source's.
    """
    hashes = []
    for side, url in (
        ("source", settings.source_required),
        ("target", settings.target),
    ):
        conn = connect(url)
        try:
            with conn.cursor() as cursor:
                cursor.execute(HASH_PROBE_SQL)
                hashes.append(cursor.fetchone()[0])
        except psycopg2.errors.UndefinedFunction:
            raise ConfigError(
                f"the {side} server has no hashtextextended(): pgshift needs "
                "PostgreSQL 11 or later on both sides"
            ) from None
        finally:
            conn.close()
    if hashes[0] != hashes[1]:
        raise ConfigError(
            "the source and target servers hash text differently (they differ "
            "in byte order), so the content checksums that prove the migration "
            "could not be compared; migrate between servers of the same byte order"
        )


def _load_once(settings: Settings, snapshot_id: str | None = None) -> LoadResult:
    """One load attempt; a package an earlier attempt left pending is dropped.

    That package belongs to an older snapshot: every table is read again.
    """
    _configure_dlt(settings.jobs)
    started = time.monotonic()
    if snapshot_id is None:
        with transaction(settings.target) as cursor:
            manifest.refuse_while_syncing(cursor, settings.state_schema, "the load")
        # One the runs of several schemas share, when given.
        snapshot_id = settings.snapshot
    check_same_hashes(settings)
    with open_snapshot(settings.source_required, snapshot_id) as snapshot:
        # A schema that cannot be migrated stops the load before it writes.
        schema_plan(
            snapshot.cursor, settings, Overrides.load(settings.overrides_path).schemas
        )
        catalog = snapshot.read_catalog(settings.source_schema)
        settings.check_selection(catalog.tables)
        tables = [t for t in catalog.tables.values() if settings.selects(t.name)]
        refuse_unreadable(settings, *snapshot.unreadable(tables))
        counts = {t.name: snapshot.count(t) for t in tables}
        with transaction(settings.target) as cursor:
            # Nothing is written unless both schemas are pgshift's.
            manifest.ensure_state_schema(cursor, settings.state_schema)
            manifest.claim_landing_schema(
                cursor, settings.state_schema, settings.raw_schema
            )
            # Until this load completes, the raw tables match no manifest:
            # one left behind by an earlier load would vouch for a
            # half-replaced set.
            manifest.drop_manifest(cursor, settings.state_schema)
        pipeline = _pipeline(settings)
        if pipeline.has_pending_data:
            logger.warning("dropping a load left unfinished by an earlier run")
            pipeline.abort_packages()
        with_rows = [t for t in tables if counts[t.name]]
        empty = [t for t in tables if not counts[t.name]]
        copied = Progress("load", "tables copied", len(tables))
        with background_fingerprints(
            settings.source_required, snapshot, tables
        ) as fingerprinting:
            try:
                if with_rows:
                    _run_pipeline(settings, pipeline, snapshot, with_rows, copied)
                _land_empty_tables(settings, empty)
                copied.advance(len(empty))
            finally:
                copied.close()
            fingerprints = fingerprinting.result()
        for name, (rows, _) in fingerprints.items():
            if rows != counts[name]:  # one snapshot: cannot happen
                raise LoadError(f"{name}: {rows} rows checksummed, {counts[name]} read")
        seconds = time.monotonic() - started
        result = LoadResult(
            snapshot_id=snapshot.snapshot_id,
            snapshot_taken_at=snapshot.taken_at,
            source_rows=counts,
            checksums={name: value for name, (_, value) in fingerprints.items()},
            seconds=seconds,
            catalog=catalog,
        )
        record_load(settings, result, snapshot)
    return result


def record_load(settings: Settings, result: LoadResult, snapshot: Snapshot) -> None:
    """Write the manifest of a load, with what stays behind and every sequence.

    Args:
        settings: The run settings.
        result: The load result (its catalog is the snapshot's).
        snapshot: The snapshot the load read, still open.
    """
    catalog = result.catalog
    skipped = read_not_migrated(
        snapshot.cursor, settings.source_schema, settings.selects
    )
    plan = schema_plan(
        snapshot.cursor, settings, Overrides.load(settings.overrides_path).schemas
    )
    skipped += [("schema", s, why) for s, why in plan.left_out.items()]
    skipped += [("schema", s, HOLDS_NOTHING) for s in plan.empty]
    skipped += [
        ("table", name, manifest.EXCLUDED)
        for name in catalog.tables
        if not settings.selects(name)
    ]
    # The views and policies scaffold left out (one reading a table left
    # out, each view over it), as the models the build runs hold them.
    names = NameMap.read(settings.project_dir)
    skipped += [
        (kind, name, why) for kind, name, why in (names.not_migrated if names else [])
    ]
    write_manifest(
        settings, result, snapshot, skipped, snapshot.sequence_positions(catalog)
    )


def _run_pipeline(
    settings: Settings,
    pipeline: Any,
    snapshot: Snapshot,
    tables: Sequence[Table],
    copied: Progress | None = None,
) -> None:
    """Copy the tables out of the snapshot and into raw with dlt's steps.

    dlt takes SIGINT over inside each of its steps and forgets a signal
    that came after its last check when the step ends: a Ctrl-C late in
    the extract would be lost and the load would go on. One interception
    around all the steps, checked after each one, keeps it (raised as
    ``SignalReceivedException``, a KeyboardInterrupt).
    """
    from dlt.common.runtime import signals

    from pgshift.load.destination import close_idle_sessions

    with signals.intercepted_signals():
        with SourceCopier(
            settings.source_required,
            snapshot,
            settings.state_dir / "copies",
            workers=settings.jobs,
        ) as copier:
            pipeline.extract(snapshot_source(tables, snapshot, copier, copied))
        signals.raise_if_signalled()
        pipeline.normalize()
        signals.raise_if_signalled()
        # The raw tables exist from here on (new ones unlogged already): a
        # logged one an older load left is made unlogged before rows go in.
        pipeline.sync_schema()
        _unlog(settings, [raw_table_name(t.name) for t in tables])
        signals.raise_if_signalled()
        try:
            logger.info("%s", pipeline.load())
        finally:
            close_idle_sessions()
        signals.raise_if_signalled()


def _unlog(settings: Settings, names: Sequence[str]) -> None:
    """Make raw tables UNLOGGED, emptying those that are not yet.

    Rows written to an unlogged table skip the write-ahead log, which makes
    the load about 15% faster (docs/benchmarks.md). Raw is a landing copy
    that the next load replaces: if the target server crashes, PostgreSQL
    empties unlogged tables, and the row counts and checksums of the build
    and of verify say so (load again). Turning a filled table unlogged
    would rewrite it, so a table that is not unlogged yet is emptied first:
    this load replaces its rows anyway.
    """
    raw = sql.Identifier(settings.raw_schema)
    with transaction(settings.target) as cursor:
        cursor.execute(
            "select c.relname from pg_class c"
            " join pg_namespace n on n.oid = c.relnamespace and n.nspname = %s"
            " where c.relkind = 'r'"
            " and c.relname = any(%s) and c.relpersistence = 'p'",
            (settings.raw_schema, list(names)),
        )
        for (name,) in cursor.fetchall():
            table = sql.SQL("{}.{}").format(raw, sql.Identifier(name))
            cursor.execute(sql.SQL("truncate {}").format(table))
            cursor.execute(sql.SQL("alter table {} set unlogged").format(table))


def _land_empty_tables(settings: Settings, tables: Sequence[Table]) -> None:
    """Give empty source tables an empty raw table of text columns.

    dlt writes no load file for a table without rows, so it would not create
    (or empty) the raw table; dbt's staging view needs it all the same.
    """
    if not tables:
        return
    raw = sql.Identifier(settings.raw_schema)
    with transaction(settings.target) as cursor:
        cursor.execute(sql.SQL("create schema if not exists {}").format(raw))
        for table in tables:
            name = sql.Identifier(raw_table_name(table.name))
            cursor.execute(
                sql.SQL("create unlogged table if not exists {}.{} ({})").format(
                    raw,
                    name,
                    sql.SQL(", ").join(
                        sql.SQL("{} varchar").format(sql.Identifier(c.name))
                        for c in table.columns
                    ),
                )
            )
            for col in table.columns:
                cursor.execute(
                    sql.SQL(
                        "alter table {}.{} add column if not exists {} varchar"
                    ).format(raw, name, sql.Identifier(col.name))
                )
            cursor.execute(sql.SQL("truncate {}.{}").format(raw, name))
    _unlog(settings, [raw_table_name(t.name) for t in tables])


def write_manifest(
    settings: Settings,
    result: LoadResult,
    snapshot: Snapshot,
    not_migrated: Sequence[tuple[str, str, str]] = (),
    sequences: Sequence[tuple[str, int | None, bool | None]] = (),
) -> None:
    """Record, beside the raw tables, what the snapshot held per table.

    Args:
        settings: The run settings.
        result: The load result.
        snapshot: The snapshot the counts were taken in.
        not_migrated: (kind, name, reason) of source objects left behind.
        sequences: (name, last_value, is_called) of each source sequence.
    """
    rows = [
        manifest.ManifestRow(
            table_name=name,
            source_rows=rows,
            source_checksum=result.checksums[name],
            snapshot_id=snapshot.snapshot_id,
            snapshot_taken_at=snapshot.taken_at,
            source_database=settings.source_required.redacted(),
            source_dbname=settings.source_required.dbname,
            source_schema=settings.source_schema,
        )
        for name, rows in result.source_rows.items()
    ]
    with transaction(settings.target) as cursor:
        manifest.write_manifest(
            cursor, settings.state_schema, rows, not_migrated, sequences
        )
