"""Reconcile the target with the source snapshot and write the migration report.

For every migrated table: the rows the source snapshot held (from the load
manifest), the rows that landed in raw, the rows in the final table, and the
final table's content checksum against the one recorded for the source
inside the snapshot (``verify.reconcile``). A table is complete when all of
them agree. With the source at hand, the two schemas are compared through
the name map scaffold applied (``verify.parity``). Verify reads what the
load and scaffold recorded (``pgshift.manifest``, ``pgshift.mapping``) and
never imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg2 import sql

from pgshift.catalog import Catalog, read_catalog
from pgshift.comments import comment_differences
from pgshift.connection import relation_exists, transaction
from pgshift.manifest import (
    MANIFEST_TABLE,
    CarriedOver,
    read_carried_over,
    read_manifest,
    read_not_migrated,
    read_sequences,
)
from pgshift.mapping import NameMap
from pgshift.naming import Overrides
from pgshift.privileges import read_outcomes
from pgshift.routines import created_routines, migrated_lines, review_lines
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
from pgshift.verify.reconcile import check_tables
from pgshift.verify.report import Report, TableReport, summary_table, write_report
from pgshift.verify.routine_parity import routine_differences
from pgshift.verify.views import check_views, definition_differences

__all__ = ["Report", "TableReport", "summary_table", "verify", "write_report"]

logger = logging.getLogger(__name__)


def verify(settings: Settings) -> Report:
    """Compare source snapshot counts, raw counts and final counts per table.

    Args:
        settings: The run settings.

    Returns:
        The report.

    Raises:
        ConfigError: The target holds no load manifest (nothing was loaded).
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
        first = manifest[0] if manifest else None
        report = Report(
            source=first.source_database if first else "",
            target=settings.target.redacted(),
            snapshot_id=first.snapshot_id if first else "",
            snapshot_taken_at=first.snapshot_taken_at if first else "",
            verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        report.tables = check_tables(settings, manifest, names, tests)
        recorded = read_not_migrated(cursor, settings.state_schema)
        source_schema = names.source_schema if names else settings.source_schema
        report.schemas = [f"{source_schema} -> {settings.final_schema}"] + [
            line.removeprefix("schema ").replace(": ", ": left out: ", 1)
            for line in recorded
            if line.startswith("schema ")
        ]
        # The build created the source's extensions the target offers: an
        # extension is listed only when the target still lacks it.
        cursor.execute("select 'extension ' || extname from pg_extension")
        on_target = {name for (name,) in cursor.fetchall()}
        report.not_migrated = [
            _extension_missing(line) if line.startswith("extension ") else line
            for line in recorded
            if not line.startswith("schema ")
            and line.split(": ", 1)[0] not in on_target
        ]
        report.not_migrated += review_lines(settings.project_dir)
        report.routines = migrated_lines(settings.project_dir)
        carried = read_carried_over(cursor, settings.state_schema)
        report.carried_over = [c.describe() for c in carried]
        report.privileges = [
            o.describe()
            for o in read_outcomes(cursor, settings.state_schema)
            if o.outcome not in ("granted", "revoked", "owned", "held", "not built")
        ]
        if names is not None:
            _sequence_positions(settings, cursor, report, names)
        views: list[str] = []
        views_kept: list[str] = []
        if names is not None:
            report.views, report.views_differ = check_views(settings, names, cursor)
            report.not_migrated += [
                f"{kind} {name}: {reason}" for kind, name, reason in names.not_migrated
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
    return report


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
        target_next = None
        if target is not None:
            cursor.execute(
                sql.SQL("select last_value, is_called from {}").format(sql.SQL(target))
            )
            target_next = _next_value(*cursor.fetchone(), increment)
        last, called = source.get(sequence_source, (None, None))
        source_next = _next_value(last, called, increment)
        shown = (
            "not readable by the source role"
            if source_next is None
            else (f"next {source_next}")
        )
        report.sequences.append(f"{label}: source {shown}, target next {target_next}")
        behind = target_next is None or (
            source_next is not None and (target_next - source_next) * increment < 0
        )
        if behind:
            report.sequences_behind.append(
                f"{label}: the target's sequence is missing or behind the "
                "source's (its next value was handed out on the source)"
            )


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
    prefix = settings.final_schema + "."
    kept = Differences(
        c.object.removeprefix(prefix)
        for c in carried
        if c.outcome == "recreated" and c.object.startswith(prefix)
    )
    privilege_lines: list[str] = []
    routine_lines: list[str] = []
    with transaction(settings.source, readonly=True) as cursor:
        source = read_catalog(cursor, settings.source_schema)
        if names is not None:
            privilege_lines = compare_privileges(
                cursor,
                target_cursor,
                names,
                settings.source_schema,
                settings.final_schema,
                kept,
                created_routines(settings.project_dir),
            )
            routine_lines = routine_differences(
                cursor,
                target_cursor,
                names,
                settings.source_schema,
                settings.final_schema,
                settings.project_dir,
            )
    for name in [n for n in source.tables if not settings.selects(n)]:
        del source.tables[name]
    overrides_path = settings.overrides_path
    if names is not None and names.overrides:
        overrides_path = settings.project_dir / names.overrides
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
        lines, Overrides.load(overrides_path).intended_differences
    )


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
    prefix = settings.final_schema + "."
    kept = Differences(
        c.object.removeprefix(prefix)
        for c in carried
        if c.outcome == "recreated" and c.object.startswith(prefix)
    )
    fixes: dict[str, str] = {}
    lines = compare_privileges(
        source_cursor,
        target_cursor,
        names,
        settings.source_schema,
        settings.final_schema,
        kept,
        created_routines(settings.project_dir),
        fixes,
    )
    overrides_path = settings.overrides_path
    if names.overrides:
        overrides_path = settings.project_dir / names.overrides
    lines, _ = intended(lines, Overrides.load(overrides_path).intended_differences)
    known = {
        role
        for outcome in read_outcomes(target_cursor, settings.state_schema)
        if outcome.outcome == "role missing"
        for role in outcome.detail.split(", ")
    }
    missing = roles_missing_on_target(
        source_cursor, target_cursor, names, settings.source_schema, known
    )
    return missing + lines, [fixes[line] for line in lines if line in fixes]


def _extension_missing(line: str) -> str:
    """What the report says of a source extension the target still lacks."""
    name = line.split(": ", 1)[0]
    return (
        f"{name}: not on the target: its server does not offer it, or the "
        "migrating role may not create it; install it there if the "
        "application uses it"
    )
