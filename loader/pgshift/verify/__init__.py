"""Reconcile the target with the source snapshot and write the migration report.

For every migrated table: the rows the source snapshot held (from the load
manifest), the rows that landed in raw, the rows in the final table, and the
final table's content checksum against the one recorded for the source
inside the snapshot (``verify.reconcile``). A table is complete when all of
them agree. With the source at hand, the two schemas are compared through
the name map scaffold applied (``verify.parity``). Verify reads what the
load and scaffold recorded (``pgshift.manifest``, ``pgshift.mapping``) and
never imports them.

After a sync (``pgshift.sync``) the final tables hold the source's changes
since the copy, so the load's snapshot is no longer what they must equal:

* while the run follows the source (streaming, or in cutover), verify
  refuses (exit 2), naming the run and its applied position: the target
  and the source both move, so no comparison would be fair, and
  ``cutover`` is the one that proves them equal at one position;
* after the run's cutover, each final table is compared with the source
  as it stands, counted and checksummed inside one source snapshot by the
  load's own query (``checksum.fingerprint``) under the load's
  settings; the raw tables still
  against the manifest, which they were loaded from. The report names the
  snapshot, its WAL position and the cutover's, and says when an
  application role blocked by cutover may log in on the source again (the
  source may then have moved on).
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg2 import sql

from pgshift.catalog import Catalog, read_catalog
from pgshift.checksum import TEXT_SETTINGS, fingerprint
from pgshift.comments import comment_differences
from pgshift.compat import COMPAT_MARK
from pgshift.connection import connect, relation_exists, transaction
from pgshift.manifest import (
    MANIFEST_TABLE,
    SYNC_TABLE,
    CarriedOver,
    ManifestRow,
    excluded_tables,
    other_builds,
    read_carried_over,
    read_manifest,
    read_not_migrated,
    read_sequences,
    read_verified,
    record_verified,
)
from pgshift.mapping import NameMap
from pgshift.naming import Overrides
from pgshift.privileges import Outcome, read_outcomes
from pgshift.routines import created_routines, migrated_lines, review_lines
from pgshift.schemas import HOLDS_NOTHING
from pgshift.settings import ConfigError, Settings
from pgshift.verify.dbt_artifacts import dbt_test_results
from pgshift.verify.parity import (
    Differences,
    as_the_target_prints,
    compare,
    domain_checks_as_the_target_prints,
    intended,
)
from pgshift.verify.privilege_parity import (
    compare_privileges,
    roles_missing_on_target,
)
from pgshift.verify.reconcile import check_tables, count_rows, describe_source
from pgshift.verify.report import Report, TableReport, summary_table, write_report
from pgshift.verify.routine_parity import routine_differences
from pgshift.verify.views import check_views, definition_differences

__all__ = [
    "Report",
    "TableReport",
    "record_and_write",
    "summary_table",
    "verify",
    "write_report",
]

logger = logging.getLogger(__name__)


def verify(settings: Settings, *, source_moves: bool = False) -> Report:
    """Compare source snapshot counts, raw counts and final counts per table.

    Args:
        settings: The run settings.
        source_moves: The application writes to the source (sync's start):
            the views' rows are left to cutover (``check_views``).

    Returns:
        The report.

    Raises:
        ConfigError: The target holds no load manifest (nothing was loaded),
            or its tables were loaded from another source database or
            schema than the one verify checks.
    """
    names = NameMap.read(settings.project_dir)
    tests = dbt_test_results(settings)
    with transaction(settings.target) as cursor:
        manifest = read_manifest(cursor, settings.state_schema)
        if manifest is None:
            raise ConfigError(
                f"the target has no load manifest ({settings.state_schema}."
                f"{MANIFEST_TABLE}): no load has finished since the last one "
                "started; run `python loader/run.py` first"
            )
        source_schema = names.source_schema if names else settings.source_schema
        _refuse_other_models(settings, names)
        _refuse_other_source(settings, manifest, source_schema)
        _refuse_other_selection(
            settings, names, excluded_tables(cursor, settings.state_schema)
        )
        cut_over = sync_standing(cursor, settings)
        first = manifest[0] if manifest else None
        report = Report(
            source=first.source_database if first else "",
            target=settings.target.redacted(),
            snapshot_id=first.snapshot_id if first else "",
            snapshot_taken_at=first.snapshot_taken_at if first else "",
            verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if cut_over is None:
            report.tables = check_tables(settings, manifest, names, tests)
        else:
            _check_after_cutover(settings, manifest, names, tests, cut_over, report)
        report.tables += _never_loaded(settings, manifest, names, cursor)
        recorded = read_not_migrated(cursor, settings.state_schema)
        # Schemas other runs built into final schemas of their own, as the
        # target holds them now (a later run may have moved one since).
        elsewhere = other_builds(
            cursor,
            settings.state_schema,
            settings.final_schema,
            settings.source.dbname if settings.source else None,
        ).schemas
        verified = read_verified(cursor, settings.state_schema)
        report.schemas = [f"{source_schema} -> {settings.final_schema}"] + [
            _schema_line(line.removeprefix("schema "), elsewhere, verified)
            for line in recorded
            if line.startswith("schema ")
        ]
        # The build created the source's extensions the target offers: an
        # extension is listed only when the target still lacks it.
        cursor.execute("select 'extension ' || extname from pg_extension")
        on_target = {name for (name,) in cursor.fetchall()}
        report.not_migrated = not_migrated_lines(recorded, on_target)
        report.not_migrated += review_lines(settings.project_dir)
        report.routines = migrated_lines(settings.project_dir)
        carried = read_carried_over(cursor, settings.state_schema)
        report.carried_over = _carried_lines(cursor, carried)
        outcomes = read_outcomes(cursor, settings.state_schema, settings.final_schema)
        report.privileges = [
            o.describe()
            for o in outcomes
            if o.outcome
            not in (
                "granted",
                "revoked",
                "owned",
                "held",
                "not built",
                "kept by the migrating role",
            )
        ]
        report.taken_from_public = [
            o.describe()
            for o in outcomes
            if o.kind == "schema" and o.outcome == "revoked" and o.detail
        ]
        if names is not None:
            _sequence_positions(settings, cursor, report, names)
        views: list[str] = []
        views_kept: list[str] = []
        if names is not None:
            report.views, report.views_differ = check_views(
                settings, names, cursor, source_moves=source_moves
            )
            # The load recorded them too, from the same map.
            report.not_migrated += [
                line
                for kind, name, reason in names.not_migrated
                if (line := f"{kind} {name}: {reason}") not in report.not_migrated
            ]
            views, views_kept, missing_roles = definition_differences(
                cursor, names, settings.final_schema, carried
            )
            report.not_migrated += missing_roles
        if settings.source is not None:
            target_catalog = read_catalog(cursor, settings.final_schema)
            _schema_parity(
                settings, report, target_catalog, names, carried, views, cursor
            )
            report.kept_differences += views_kept
    # When the comparisons ended: after a cutover, the source's figures are
    # taken during them, and the report must not predate its own snapshot.
    report.verified_at = datetime.now(UTC).isoformat(timespec="seconds")
    return report


def schema_differences(settings: Settings) -> list[str]:
    """The target's schema against the source's, as verify's schema parity says it.

    Tables, their keys, indexes, checks and comments, views' definitions,
    routines and privileges, each through the name map; what the override
    file declares intended, and what the last publish carried over of the
    target's own, are no difference. Cutover asks before its downtime: a
    change the source took during the sync (a function replaced, an index
    added) that the target has not had yet is named then, not by a verify
    after the switch.
    """
    names = NameMap.read(settings.project_dir)
    report = Report(
        source="", target="", snapshot_id="", snapshot_taken_at="", verified_at=""
    )
    with transaction(settings.target, readonly=True) as cursor:
        carried = read_carried_over(cursor, settings.state_schema)
        views: list[str] = []
        if names is not None:
            views = definition_differences(
                cursor, names, settings.final_schema, carried
            )[0]
        target_catalog = read_catalog(cursor, settings.final_schema)
        _schema_parity(settings, report, target_catalog, names, carried, views, cursor)
    return report.schema_differences


def _never_loaded(
    settings: Settings,
    manifest: list[ManifestRow],
    names: NameMap | None,
    cursor: Any,
) -> list[TableReport]:
    """A failed table for each one the models migrate and no load copied.

    The load's manifest lists what the load (or a sync's copy) read: a
    table added to the source and scaffolded after the load or the sync
    started is in the models and not there, and its rows never reached
    the target, whatever its final table holds.
    """
    if names is None:
        return []
    loaded = {row.table_name for row in manifest}
    reports = []
    for table, mapped in names.tables.items():
        if table in loaded or not settings.selects(table):
            continue
        reports.append(
            TableReport(
                source_table=table,
                final_table=mapped.target,
                source_rows=0,
                raw_rows=None,
                migrated_rows=count_rows(cursor, settings.final_schema, mapped.target),
                checksum_match=None,
                status="failed",
                detail=(
                    "in the models, but no load or sync copied it (the load's "
                    "manifest does not list it): a table added to the source "
                    "after the load or the sync started, or gone from it since "
                    "scaffold; its source rows were not compared. Migrate "
                    "again, or cleanup and sync from a new copy"
                ),
            )
        )
    return reports


def record_and_write(report: Report, settings: Settings) -> None:
    """Write the report, and record its outcome for the target's other schemas.

    A target holding several final schemas, each migrated by a run of its
    own, shows in each one's report when the others were last verified and
    how (``read_verified``).
    """
    write_report(report, settings.project_dir)
    names = NameMap.read(settings.project_dir)
    with transaction(settings.target) as cursor:
        cursor.execute(
            "select to_regnamespace(%s) is not null",
            (sql.Identifier(settings.state_schema).as_string(cursor),),
        )
        if not cursor.fetchone()[0]:
            return
        record_verified(
            cursor,
            settings.state_schema,
            settings.final_schema,
            names.source_schema if names else settings.source_schema,
            (
                report.passed,
                len(report.tables),
                sum(t.status == "complete" for t in report.tables),
                sum(t.source_rows for t in report.tables),
                report.verified_at,
            ),
        )


def _refuse_other_models(settings: Settings, names: NameMap | None) -> None:
    """Stop a verify of another schema than the project's models were made of.

    The models of one source schema are the project's at a time (each
    run's scaffold writes its own): a verify naming another schema, or
    another final schema, would check the models' tables where they are
    not.

    Raises:
        ConfigError: ``--schemas`` or ``--final-schema`` names another one.
    """
    if names is None:
        return
    asked = settings.schemas[0] if settings.schemas else names.source_schema
    if (asked, settings.final_schema) == (names.source_schema, names.final_schema):
        return
    raise ConfigError(
        f"verify refused: the project's models were scaffolded from schema "
        f"{names.source_schema!r} into final schema {names.final_schema!r}, and "
        f"this verify names {asked!r} into {settings.final_schema!r}. A "
        "project holds one schema's models at a time: to verify "
        f"{names.source_schema!r}, give --schemas "
        f"{shlex.quote(names.source_schema)} --final-schema "
        f"{shlex.quote(names.final_schema)}; to verify {asked!r}, scaffold and "
        f"migrate it again (--schemas {shlex.quote(asked)} --final-schema "
        f"{shlex.quote(settings.final_schema)})"
    )


def _refuse_other_source(
    settings: Settings, manifest: Sequence[ManifestRow], source_schema: str
) -> None:
    """Stop a verify of one source against a target loaded from another.

    The manifest records the source database and schema of the last load;
    verify checks the schema its name map was scaffolded from (or
    ``--schemas``) and, when SOURCE_DATABASE_URL is set, that database. A
    target loaded from another tenant's schema of the same table names
    would otherwise be checked against the wrong figures, or fail table by
    table for a cause no table has. What an older manifest does not record
    is unknown, not different.

    Raises:
        ConfigError: The last load read another database or schema.
    """
    dbname = settings.source.dbname if settings.source is not None else None
    other = next(
        (row for row in manifest if row.source_differs(dbname, source_schema)),
        None,
    )
    if other is None:
        return
    loaded = describe_source(other.source_dbname, other.source_schema)
    here = describe_source(dbname, source_schema)
    raise ConfigError(
        f"verify refused: the target's last load read {loaded}, and this "
        f"verify checks {here}: the landing schema and the figures verify "
        "compares with (counts and checksums of the source's snapshot) are "
        "the other load's, so nothing here can be verified. Next: run `python "
        f"loader/run.py --schemas {shlex.quote(source_schema)} --final-schema "
        f"{shlex.quote(settings.final_schema)} migrate` (or `load`, then "
        "`dbt build`) for this source first, then verify again; or verify "
        "what was loaded with that source's settings"
    )


def _refuse_other_selection(
    settings: Settings, names: NameMap | None, excluded: list[str]
) -> None:
    """Stop a verify whose --include/--exclude select other tables.

    The models hold the tables scaffold selected, the load recorded those
    its options left out (``excluded``); a verify selecting otherwise
    would check a table that was never loaded, or leave one out, and
    compare schemas that differ by a table's triggers and keys.

    Raises:
        ConfigError: Naming each table selected differently.
    """
    left_out = sorted(
        t for t in (names.tables if names else []) if not settings.selects(t)
    )
    taken = [t for t in excluded if settings.selects(t)]
    if not left_out and not taken:
        return
    lines = [f"{t} (migrated; this verify leaves it out)" for t in left_out]
    lines += [f"{t} (left out by the load; this verify takes it)" for t in taken]
    raise ConfigError(
        "verify refused: its --include/--exclude select other tables than the "
        f"migration's: {', '.join(lines)}. Next: run verify with the --include "
        "and --exclude that scaffold and migrate ran with"
    )


FOLLOWING = ("streaming", "cutover", "stopping")
"""A sync run's statuses while it applies the source's changes."""


@dataclass
class CutOver:
    """A sync run whose cutover finished after the last load.

    Attributes:
        run_id: The run.
        position: The source position its stream ended at (the cutover's
            marker, applied), as text.
        at: When the cutover finished (the target's clock).
        blocked_roles: The source roles cutover blocked.
        blocked_database: The source database whose CONNECT cutover revoked
            from them (source and target on one server), or None: NOLOGIN.
    """

    run_id: str
    position: str | None
    at: datetime
    blocked_roles: list[str] = field(default_factory=list)
    blocked_database: str | None = None


def sync_standing(cursor: Any, settings: Settings) -> CutOver | None:
    """The target's latest sync run, when it moved the final tables on.

    Returns:
        The run, when its cutover finished after the last load (a load
        since, by ``migrate``, makes the manifest the reference again);
        None when no sync run applied changes since the last load.

    Raises:
        ConfigError: A run follows the source (streaming, or in cutover):
            nothing can be compared fairly until the cutover.
    """
    runs = sql.Identifier(settings.state_schema, SYNC_TABLE)
    if not relation_exists(cursor, runs.as_string(cursor)):
        return None
    cursor.execute(
        sql.SQL(
            "select r.run_id, r.status, r.applied_lsn::text, r.applied_commit_at, "
            "r.updated_at, r.blocked_roles, "
            "to_jsonb(r) -> 'database_block' ->> 'database', "
            "coalesce((select max(m.loaded_at) <= r.updated_at from {} as m), "
            "false) from {} as r order by r.started_at desc limit 1"
        ).format(sql.Identifier(settings.state_schema, MANIFEST_TABLE), runs)
    )
    found = cursor.fetchone()
    if found is None:
        return None
    run_id, status, applied, commit_at, updated_at, blocked, database, loaded_before = (
        found
    )
    if status in FOLLOWING:
        behind = (
            f", the source's commit of {commit_at:%Y-%m-%d %H:%M:%S %Z}"
            if (commit_at)
            else ""
        )
        raise ConfigError(
            f"verify refused, nothing was compared: sync run {run_id} follows the "
            f"source ({status}; applied up to source position {applied}{behind}). "
            "The final tables hold the source's changes since the copy, so the "
            "load's snapshot is not what they must equal, and the source moves "
            "on while the application writes. Next: `python loader/run.py "
            "status` says how far the target is behind; `python loader/run.py "
            "cutover` stops the application's writes and proves every table "
            "equal to the source at one position; verify after it compares "
            "with the source as it stands"
        )
    if status != "done" or not loaded_before:
        return None
    return CutOver(run_id, applied, updated_at, list(blocked or []), database)


def _check_after_cutover(
    settings: Settings,
    manifest: list[ManifestRow],
    names: NameMap | None,
    tests: dict[str, tuple[int, list[str]]],
    cut_over: CutOver,
    report: Report,
) -> None:
    """Compare each final table with the source as it stands, in one snapshot."""
    if settings.source is None:
        raise ConfigError(
            f"verify refused, nothing was compared: sync run {cut_over.run_id} cut "
            "over, so the final tables hold the source's changes since the copy "
            "and verify compares them with the source as it stands, not with the "
            "load's snapshot: set SOURCE_DATABASE_URL"
        )
    conn = connect(settings.source, readonly=True, application_name="pgshift verify")
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        cursor = conn.cursor()
        for name, value in TEXT_SETTINGS.items():
            cursor.execute("select set_config(%s, %s, true)", (name, value))
        cursor.execute(
            "select pg_export_snapshot(), now()::text, pg_current_wal_lsn()::text, "
            "array(select rolname from pg_roles where rolname = any(%s) "
            "and rolcanlogin and has_database_privilege(oid, current_database(), "
            "'CONNECT') order by 1)",
            (cut_over.blocked_roles,),
        )
        snapshot_id, taken_at, position, reopened = cursor.fetchone()
        catalog = read_catalog(cursor, settings.source_schema)
        live = {
            row.table_name: fingerprint(
                cursor,
                settings.source_schema,
                row.table_name,
                [(c.name, c.data_type) for c in catalog.tables[row.table_name].columns],
            )
            for row in manifest
            if row.table_name in catalog.tables
        }
        report.source = settings.source.redacted()
        report.snapshot_id = snapshot_id
        report.snapshot_taken_at = taken_at
        report.compared_with = (
            f"the source as it stood at {taken_at} (one snapshot, "
            f"{snapshot_id}, WAL position {position}), after sync run "
            f"{cut_over.run_id}'s cutover ({cut_over.at:%Y-%m-%d %H:%M:%S %Z}, "
            f"its stream ended at source position {cut_over.position}); the "
            "raw tables against the load's snapshot they were copied from"
        )
        if reopened:
            report.compared_with += (
                f". The application's roles {', '.join(reopened)} may log in on "
                "the source again: what they wrote there since the cutover is "
                "not on the target, and shows here as a difference"
            )
        else:
            report.compared_with += (
                ". The application's roles cutover blocked are still NOLOGIN "
                "on the source"
                if cut_over.blocked_database is None
                else ". The application's roles cutover blocked still may not "
                f"connect to the source database {cut_over.blocked_database} "
                "(CONNECT revoked: source and target share a server)"
            ) + (
                "; a difference is a write to the target since "
                "the cutover (the application, once it runs there) or a row "
                "changed or lost"
            )
        # Each worker lists a table's differing rows inside this snapshot.
        joins = [
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            f"SET TRANSACTION SNAPSHOT '{snapshot_id}'",
        ] + [f"SET LOCAL {name} = '{value}'" for name, value in TEXT_SETTINGS.items()]
        report.tables = check_tables(
            settings, manifest, names, tests, live=live, snapshot=joins
        )
        conn.rollback()
    finally:
        conn.close()


def _next_value(last: int | None, called: bool | None, increment: int) -> int | None:
    """The value a sequence's next nextval() returns."""
    if last is None:
        return None
    return last + increment if called else last


def _sequence_positions(
    settings: Settings, cursor: Any, report: Report, names: NameMap
) -> None:
    """Where each source sequence stood, and where its target twin stands."""
    source = read_sequences(cursor, settings.state_schema)
    # (label, source sequence, its increment, the target's sequence as SQL
    # text, or None where the target has none)
    wanted: list[tuple[str, str, int, str | None]] = []
    for mapped in names.sequences.values():
        relation = sql.Identifier(settings.final_schema, mapped.name).as_string(cursor)
        label = (
            mapped.name
            if mapped.name == mapped.source
            else (f"{mapped.name} (from {mapped.source})")
        )
        found = relation if relation_exists(cursor, relation) else None
        wanted.append((label, mapped.source, mapped.increment, found))
    for table in names.tables.values():
        final = sql.Identifier(settings.final_schema, table.target).as_string(cursor)
        exists = relation_exists(cursor, final)
        for column, sequence in table.identity_sequences.items():
            increment = next(
                (
                    int(option.split()[-1])
                    for option in table.identity_options.get(column, [])
                    if option.startswith("increment by ")
                ),
                1,
            )
            found = None
            if exists:
                cursor.execute("select pg_get_serial_sequence(%s, %s)", (final, column))
                found = cursor.fetchone()[0]
            label = f"{table.target}.{column} (identity, from {sequence})"
            wanted.append((label, sequence, increment, found))
    for label, sequence_source, increment, target in wanted:
        target_next = bound = None
        if target is not None:
            cursor.execute(
                sql.SQL(
                    "select q.last_value, q.is_called, case when s.seqcycle then "
                    "null when s.seqincrement > 0 then s.seqmax else s.seqmin end "
                    "from {} as q, pg_catalog.pg_sequence as s "
                    "where s.seqrelid = %s::regclass"
                ).format(sql.SQL(target)),
                (target,),
            )
            last, called, bound = cursor.fetchone()
            target_next = _next_value(last, called, increment)
        last, called = source.get(sequence_source, (None, None))
        source_next = _next_value(last, called, increment)
        shown = (
            "not readable by the source role"
            if source_next is None
            else (f"next {source_next}")
        )
        ahead = (
            source_next is not None
            and target_next is not None
            and (target_next - source_next) * increment > 0
        )
        report.sequences.append(
            f"{label}: source {shown}, target next {target_next}"
            # Set past the values its columns hold (pgshift_sequence_position).
            + (" (past the values its columns hold)" if ahead else "")
        )
        behind = target_next is None or (
            source_next is not None and (target_next - source_next) * increment < 0
        )
        if behind:
            report.sequences_behind.append(
                f"{label}: the target's sequence is missing or behind the "
                "source's (its next value was handed out on the source)"
            )
        elif (
            bound is not None
            and target_next is not None
            and (target_next - bound) * increment > 0
            and (source_next is None or (source_next - bound) * increment <= 0)
        ):
            report.sequences_behind.append(
                f"{label}: the target's sequence is used up (its next value, "
                f"{target_next}, is past its bound, {bound}): every insert "
                "that draws from it fails there, where the source's next "
                f"value is {source_next}"
            )


def _schema_line(
    recorded: str, elsewhere: dict[str, str], verified: dict[str, str]
) -> str:
    """A recorded schema left out, as the report's Schemas section names it.

    ``schema: why`` becomes ``schema: left out: why``, or ``schema ->
    final (...)`` when another run built it into a final schema of the
    target, with that schema's last verify.
    """
    schema, why = recorded.split(": ", 1)
    if why == HOLDS_NOTHING:
        return f"{schema}: {why}"
    if schema in elsewhere:
        final = elsewhere[schema]
        last = verified.get(final, "none recorded")
        return f"{schema} -> {final} (by a run of its own; last verify: {last})"
    return f"{schema}: left out: {why}"


def _schema_parity(
    settings: Settings,
    report: Report,
    target: Catalog,
    names: NameMap | None,
    carried: list[CarriedOver],
    views: Sequence[str],
    target_cursor: Any,
) -> None:
    """Compare the source schema with the target's, through the name map.

    What the last publish carried over of the target's own objects on the
    final tables (an index, a constraint, a comment) is listed as kept, not
    as a difference. ``views`` are the views' and policies' lines
    (``verify.views``).
    """
    assert settings.source is not None
    kept = _kept(settings, carried)
    privilege_lines: list[str] = []
    routine_lines: list[str] = []
    with transaction(settings.source, readonly=True) as cursor:
        source = read_catalog(cursor, settings.source_schema)
        if names is not None:
            privilege_lines = _privilege_lines(
                settings,
                names,
                (cursor, target_cursor),
                kept,
                read_outcomes(
                    target_cursor, settings.state_schema, settings.final_schema
                ),
            )
            routine_lines = routine_differences(
                cursor,
                target_cursor,
                names,
                settings.source_schema,
                settings.final_schema,
                settings.project_dir,
                other_builds(
                    target_cursor,
                    settings.state_schema,
                    settings.final_schema,
                    settings.source.dbname,
                ),
            )
    for name in [n for n in source.tables if not settings.selects(n)]:
        del source.tables[name]
    printed_checks = domain_checks_as_the_target_prints(
        settings.target, source, target, names, settings.final_schema
    )
    if names is not None:
        names = as_the_target_prints(
            settings.target, names, target, settings.final_schema
        )
    lines = (
        compare(source, target, names, kept, printed_checks)
        + list(views)
        + privilege_lines
        + routine_lines
    )
    if names is not None:
        lines += comment_differences(
            target_cursor, names, settings.final_schema, settings.selects
        )
    report.kept_differences = kept.kept
    report.schema_differences, report.intended_differences = intended(
        lines, _intended_differences(settings, names)
    )


def _kept(settings: Settings, carried: Sequence[CarriedOver]) -> Differences:
    """What the last publish carried over of the target's own, as no difference."""
    prefix = settings.final_schema + "."
    return Differences(
        c.object.removeprefix(prefix)
        for c in carried
        if c.outcome == "recreated" and c.object.startswith(prefix)
    )


def _privilege_lines(
    settings: Settings,
    names: NameMap,
    cursors: tuple[Any, Any],
    kept: Differences,
    outcomes: Sequence[Outcome],
    fixes: dict[str, str] | None = None,
) -> list[str]:
    """Privilege parity between the source and the final schema.

    What verify's schema parity and cutover's check compare alike: the
    grants and owners of the migrated objects, the routines the build
    created, less what the last publish kept of the target's own or
    recorded as an owner not given.
    """
    return compare_privileges(
        cursors[0],
        cursors[1],
        names,
        settings.source_schema,
        settings.final_schema,
        kept,
        created_routines(settings.project_dir),
        fixes,
        _owners_listed(outcomes),
    )


def _owners_listed(outcomes: Sequence[Outcome]) -> set[tuple[str, str]]:
    """What the last publish recorded of each owner.

    (kind, object) of those it did not give, (kind + " given", object) of
    those it gave. The report lists the first (a role missing, an owner kept or refused),
    so privilege parity does not count them again. An object the publish
    gave no owner stays the migrating role's (scaffold's connecting role
    owns it on the source), whatever role verify connects as.
    """
    owners = ("owner", "routine owner", "type owner")
    return {
        (o.kind if o.outcome != "owned" else f"{o.kind} given", o.object)
        for o in outcomes
        if o.kind in owners
    }


def _carried_lines(cursor: Any, carried: list[CarriedOver]) -> list[str]:
    """What the last publish did with the target's objects, pgshift's own said so.

    The views of a compatibility schema (``run.py compat``) depend on the
    final tables: a publish that replaces those recreates them, and they
    are pgshift's, not the team's.
    """
    cursor.execute(
        "select nspname from pg_namespace "
        "where obj_description(oid, 'pg_namespace') = %s",
        (COMPAT_MARK,),
    )
    compat = {name for (name,) in cursor.fetchall()}
    return [
        c.describe()
        + (
            " (pgshift's compatibility schema, run.py compat)"
            if c.object.split(".", 1)[0] in compat
            else ""
        )
        for c in carried
    ]


def _intended_differences(settings: Settings, names: NameMap | None) -> list[str]:
    """The differences the override file scaffold was given declares intended."""
    overrides_path = settings.overrides_path
    if names is not None and names.overrides:
        overrides_path = settings.project_dir / names.overrides
    return Overrides.load(overrides_path).intended_differences


def privilege_drift(
    settings: Settings, names: NameMap, source_cursor: Any, target_cursor: Any
) -> tuple[list[str], list[str]]:
    """What each role may do on the source and not on the target, or back.

    Privilege parity as verify checks it (``verify.privilege_parity``): what
    the last publish carried over of the target's own grants, and what the
    override file declares intended, are no difference. A source role with
    privileges that the target lacks, and that the last publish did not
    record as missing, is one too.

    Returns:
        (one line per difference, the statements that make the target's
        privileges the source's, to run on the target).
    """
    carried = read_carried_over(target_cursor, settings.state_schema)
    kept = _kept(settings, carried)
    outcomes = read_outcomes(
        target_cursor, settings.state_schema, settings.final_schema
    )
    fixes: dict[str, str] = {}
    lines = _privilege_lines(
        settings, names, (source_cursor, target_cursor), kept, outcomes, fixes
    )
    lines, _ = intended(lines, _intended_differences(settings, names))
    known = {
        role
        for outcome in outcomes
        if outcome.outcome == "role missing"
        for role in outcome.detail.split(", ")
    }
    missing = roles_missing_on_target(
        source_cursor, target_cursor, names, settings.source_schema, known
    )
    return missing + lines, [fixes[line] for line in lines if line in fixes]


def not_migrated_lines(recorded: list[str], on_target: set[str]) -> list[str]:
    """The report's "not migrated" lines from what the load recorded.

    ``on_target``: ``extension <name>`` for each extension the target has.
    An extension the build created is left out; one still missing says
    so. An extension's own table (``extension table spatial_ref_sys``)
    keeps its line: it came with its extension, its added rows did not.
    """
    lines = []
    for line in recorded:
        what = line.split(": ", 1)[0]
        if line.startswith("schema ") or what in on_target:
            continue
        extension = what.startswith("extension ") and not what.startswith(
            "extension table "
        )
        lines.append(_extension_missing(line) if extension else line)
    return lines


def _extension_missing(line: str) -> str:
    """What the report says of a source extension the target still lacks."""
    name = line.split(": ", 1)[0]
    return (
        f"{name}: not on the target: its server does not offer it, or the "
        "migrating role may not create it; install it there if the "
        "application uses it"
    )
