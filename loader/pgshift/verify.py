"""Reconcile the target with the source snapshot and write the migration report.

For every migrated table: the rows the source snapshot held (from the load
manifest), the rows that landed in raw, the rows in the final table, and the
final table's content checksum against the one recorded for the source
inside the snapshot. A table is complete when all of them agree.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.catalog import Catalog, read_catalog
from pgshift.checksum import checksum_sql
from pgshift.diff import Side, diff
from pgshift.load import MANIFEST_TABLE, NOT_MIGRATED_TABLE
from pgshift.naming import Overrides, to_snake
from pgshift.parity import compare, intended
from pgshift.scaffold import map_catalog
from pgshift.settings import OVERRIDES_FILE, ConfigError, Settings

logger = logging.getLogger(__name__)


@dataclass
class TableReport:
    """The reconciliation of one table.

    Attributes:
        source_table: The table's name in the source.
        final_table: The table's name on the target.
        source_rows: Rows in the source snapshot.
        raw_rows: Rows in the raw landing table.
        migrated_rows: Rows in the final table (None if it does not exist).
        checksum_match: Whether the final table's content checksum equals the
            source's (None if the final table does not exist).
        status: "complete" or "failed".
        detail: Why it failed, when it did.
        differences: The first differing rows, with their keys, when the
            content checksum differs.
        dbt_tests: "passed/run" of the dbt tests on the final table in the
            last dbt build or test, or "" when none ran.
        sequences: Per identity/serial column, its next value and max(column).
    """

    source_table: str
    final_table: str
    source_rows: int
    raw_rows: int | None
    migrated_rows: int | None
    checksum_match: bool | None
    status: str
    detail: str = ""
    differences: list[str] = field(default_factory=list)
    dbt_tests: str = ""
    sequences: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The migration report.

    Attributes:
        source: The source database, without credentials.
        target: The target database, without credentials.
        snapshot_id: The source snapshot the load read.
        snapshot_taken_at: When that snapshot was taken.
        verified_at: When this report was made.
        tables: One entry per table.
        phases: Phase name to seconds, for the phases that ran in this process.
        not_migrated: Source objects that were not migrated, with the reason.
        schema_differences: Schema parity lines not declared as intended
            (None when the source was not compared).
        intended_differences: Parity lines the override file declares intended.
    """

    source: str
    target: str
    snapshot_id: str
    snapshot_taken_at: str
    verified_at: str
    tables: list[TableReport] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    not_migrated: list[str] = field(default_factory=list)
    schema_differences: list[str] | None = None
    intended_differences: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every table is complete and the schemas are twins."""
        tables_ok = all(t.status == "complete" for t in self.tables)
        return tables_ok and not self.schema_differences


def _exists(cursor: Any, relation: str) -> bool:
    """Whether a relation (quoted, schema-qualified) exists."""
    cursor.execute("select to_regclass(%s) is not null", (relation,))
    return bool(cursor.fetchone()[0])


def _count(cursor: Any, schema: str, table: str) -> int | None:
    """Count a table's rows; None when the table does not exist."""
    if not _exists(cursor, sql.Identifier(schema, table).as_string(cursor)):
        return None
    cursor.execute(
        sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
    )
    return cursor.fetchone()[0]  # type: ignore[no-any-return]


def _fingerprint(cursor: Any, schema: str, table: str) -> tuple[int, str] | None:
    """Row count and content checksum of a table, in one scan.

    The checksum runs over all columns in order. None when the table does
    not exist.
    """
    relation = sql.Identifier(schema, table).as_string(cursor)
    if not _exists(cursor, relation):
        return None
    cursor.execute(checksum_sql(relation, _columns(cursor, relation)))
    rows, checksum = cursor.fetchone()
    return rows, checksum


def dbt_test_results(project_dir: Path) -> dict[str, tuple[int, list[str]]]:
    """Per final model, the tests of the last dbt build or test run.

    Returns:
        Model name to (tests run, names of failed or erroring tests).
    """
    target = project_dir / "target"
    try:
        results = json.loads((target / "run_results.json").read_text())
        manifest = json.loads((target / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if results.get("args", {}).get("which") not in {"build", "test"}:
        return {}
    out: dict[str, tuple[int, list[str]]] = {}
    for result in results.get("results", []):
        node = manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") != "test":
            continue
        attached = node.get("attached_node") or ""
        model = attached.rsplit(".", 1)[-1]
        run, failed = out.get(model, (0, []))
        if result["status"] in {"fail", "error"}:
            failed = [*failed, node["name"]]
        out[model] = (run + 1, failed)
    return out


def _sequences(cursor: Any, relation: str) -> list[tuple[str, int | None, int]]:
    """(column, next value, max value) for every column backed by a sequence."""
    out = []
    for column, _ in _columns(cursor, relation):
        cursor.execute("select pg_get_serial_sequence(%s, %s)", (relation, column))
        sequence = cursor.fetchone()[0]
        if not sequence:
            continue
        cursor.execute(f"select last_value, is_called from {sequence}")
        last, called = cursor.fetchone()
        cursor.execute(
            sql.SQL("select coalesce(max({}), 0) from {}").format(
                sql.Identifier(column), sql.SQL(relation)
            )
        )
        top = cursor.fetchone()[0]
        out.append((column, last + 1 if called else last, int(top)))
    return out


def final_models(settings: Settings) -> dict[str, tuple[str, str | None]]:
    """Map source table names to (final table, staging model), from dbt's YAML.

    The scaffolded final models record their source table and staging model
    in ``meta.pgshift``; tables without a model fall back to the naming rules.
    """
    import yaml

    path = settings.project_dir / "models" / "final" / "_final__models.yml"
    names: dict[str, tuple[str, str | None]] = {}
    if path.exists():
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
            "models", []
        ):
            meta = model.get("meta", {}).get("pgshift", {})
            if meta.get("source_table"):
                names[meta["source_table"]] = (model["name"], meta.get("staging_model"))
    return names


def _columns(cursor: Any, relation: str) -> list[tuple[str, str]]:
    cursor.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (relation,),
    )
    return [tuple(r) for r in cursor.fetchall()]  # type: ignore[misc]


def _primary_key(cursor: Any, relation: str) -> list[str]:
    cursor.execute(
        "select a.attname from pg_index i "
        "cross join lateral unnest(i.indkey) with ordinality k(n, o) "
        "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n "
        "where i.indrelid = %s::regclass and i.indisprimary order by k.o",
        (relation,),
    )
    return [r[0] for r in cursor.fetchall()]


def explain_mismatch(
    settings: Settings,
    cursor: Any,
    source_table: str,
    final: str,
    staging: str | None,
    source_checksum: str,
) -> list[str]:
    """Find the first rows that differ for a table whose checksum differs.

    The staging view is the raw landing table cast back and renamed: when its
    checksum equals the source's, the final table is compared with it;
    otherwise the raw data itself differs, and the staging view is compared
    with the source table as it is now (rows changed since the snapshot show
    up too, and are labelled so).

    Returns:
        One line per differing row, with its key.
    """
    final_rel = sql.Identifier(settings.final_schema, final).as_string(cursor)
    columns = _columns(cursor, final_rel)
    key = _primary_key(cursor, final_rel)
    if staging is None:
        return ["no staging model recorded: rows were not compared"]
    staging_rel = sql.Identifier("staging", staging).as_string(cursor)
    staging_side = Side(f"staging view {staging}", cursor, staging_rel, columns, key)
    if staging_side.figures("true")[1] == source_checksum:
        final_side = Side(f"final table {final}", cursor, final_rel, columns, key)
        found = diff(staging_side, final_side)
        return [d.describe() for d in found.differences]
    if settings.source is None:
        return [
            "raw data differs from the source snapshot; set SOURCE_DATABASE_URL "
            "to compare it with the source row by row"
        ]
    with psycopg2.connect(**settings.source.connect_kwargs()) as conn:
        conn.set_session(readonly=True)
        src_cursor = conn.cursor()
        src_rel = sql.Identifier(settings.source_schema, source_table).as_string(
            src_cursor
        )
        src_columns = _columns(src_cursor, src_rel)
        positions = {name: i for i, (name, _) in enumerate(columns)}
        src_key = [src_columns[positions[k]][0] for k in key]
        source_side = Side(
            f"source table {source_table}", src_cursor, src_rel, src_columns, src_key
        )
        found = diff(source_side, staging_side)
        conn.rollback()
    conn.close()
    return [
        f"raw differs from the source (as of now): {d.describe()}"
        for d in found.differences
    ]


VERIFY_WORKERS = 2
"""Tables checked at once, each worker on its own target connection."""


def _check_tables(
    settings: Settings,
    manifest: list[tuple[Any, ...]],
    models: dict[str, tuple[str, str | None]],
    tests: dict[str, tuple[int, list[str]]],
) -> list[TableReport]:
    """Check every table of the manifest, ``VERIFY_WORKERS`` at a time.

    Returns:
        One report per manifest row, in manifest order.
    """
    local = threading.local()
    connections: list[Any] = []
    lock = threading.Lock()

    def check(row: tuple[Any, ...]) -> TableReport:
        if not hasattr(local, "cursor"):
            conn = psycopg2.connect(**settings.target.connect_kwargs())
            conn.set_session(readonly=True, autocommit=True)
            with lock:
                connections.append(conn)
            local.cursor = conn.cursor()
        table, source_rows, _, _, _, source_checksum = row
        return _check_table(
            settings, local.cursor, table, source_rows, source_checksum, models, tests
        )

    try:
        with ThreadPoolExecutor(VERIFY_WORKERS) as pool:
            return list(pool.map(check, manifest))
    finally:
        for conn in connections:
            conn.close()


def _check_table(
    settings: Settings,
    cursor: Any,
    table: str,
    source_rows: int,
    source_checksum: str,
    models: dict[str, tuple[str, str | None]],
    tests: dict[str, tuple[int, list[str]]],
) -> TableReport:
    """Reconcile one table: raw and final counts, checksum, sequences, tests."""
    final, staging = models.get(table, (to_snake(table), None))
    raw_rows = _count(cursor, settings.raw_schema, table)
    fingerprint = _fingerprint(cursor, settings.final_schema, final)
    migrated = fingerprint[0] if fingerprint else None
    checksum_match = None
    problems = []
    if fingerprint is not None:
        final_checksum = fingerprint[1]
        checksum_match = final_checksum == source_checksum
        if not checksum_match:
            problems.append(
                f"content checksum {final_checksum} differs from the "
                f"source's {source_checksum}"
            )
    if raw_rows != source_rows:
        problems.append(f"raw holds {raw_rows} rows, the source {source_rows}")
    if migrated is None:
        problems.append(f"final table {final} does not exist")
    elif migrated != source_rows:
        problems.append(f"final table holds {migrated} rows, the source {source_rows}")
    sequences = []
    if migrated is not None:
        final_rel = sql.Identifier(settings.final_schema, final).as_string(cursor)
        for column, next_value, top in _sequences(cursor, final_rel):
            sequences.append(f"{column}: next {next_value}, max {top}")
            if next_value <= top:
                problems.append(
                    f"sequence of {column} would hand out {next_value}, "
                    f"but max({column}) is {top}"
                )
    run, failed_tests = tests.get(final, (0, []))
    if failed_tests:
        problems.append("dbt tests failed: " + ", ".join(failed_tests))
    differences = []
    if checksum_match is False:
        differences = explain_mismatch(
            settings, cursor, table, final, staging, source_checksum
        )
    return TableReport(
        source_table=table,
        final_table=final,
        source_rows=source_rows,
        raw_rows=raw_rows,
        migrated_rows=migrated,
        checksum_match=checksum_match,
        status="failed" if problems else "complete",
        detail="; ".join(problems),
        differences=differences,
        dbt_tests=f"{run - len(failed_tests)}/{run}" if run else "",
        sequences=sequences,
    )


def verify(settings: Settings) -> Report:
    """Compare source snapshot counts, raw counts and final counts per table.

    Args:
        settings: The run settings.

    Returns:
        The report.

    Raises:
        ConfigError: The target holds no load manifest (nothing was loaded).
    """
    models = final_models(settings)
    tests = dbt_test_results(settings.project_dir)
    with psycopg2.connect(**settings.target.connect_kwargs()) as conn:
        cursor = conn.cursor()
        manifest_rel = sql.Identifier(settings.raw_schema, MANIFEST_TABLE)
        if not _exists(cursor, manifest_rel.as_string(cursor)):
            raise ConfigError(
                f"the target has no load manifest ({settings.raw_schema}."
                f"{MANIFEST_TABLE}): no load has finished since the last one "
                "started; run `python loader/run.py` first"
            )
        cursor.execute(
            sql.SQL(
                "select table_name, source_rows, snapshot_id, "
                "snapshot_taken_at::text, source_database, source_checksum "
                "from {} order by table_name"
            ).format(sql.Identifier(settings.raw_schema, MANIFEST_TABLE))
        )
        manifest = cursor.fetchall()
        report = Report(
            source=manifest[0][4] if manifest else "",
            target=settings.target.redacted(),
            snapshot_id=manifest[0][2] if manifest else "",
            snapshot_taken_at=manifest[0][3] if manifest else "",
            verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        report.tables = _check_tables(settings, manifest, models, tests)
        report.not_migrated = _not_migrated(cursor, settings.raw_schema)
        if settings.source is not None:
            target_catalog = read_catalog(cursor, settings.final_schema)
            _schema_parity(settings, report, target_catalog)
    conn.close()
    return report


def _schema_parity(settings: Settings, report: Report, target: Catalog) -> None:
    """Compare the source schema with the target's, through the name mapping."""
    assert settings.source is not None
    with psycopg2.connect(**settings.source.connect_kwargs()) as conn:
        conn.set_session(readonly=True)
        source = read_catalog(conn.cursor(), settings.source_schema)
        conn.rollback()
    conn.close()
    for name in [n for n in source.tables if not settings.selects(n)]:
        del source.tables[name]
    overrides = Overrides.load(settings.project_dir / OVERRIDES_FILE)
    project = map_catalog(source, overrides)
    lines = compare(source, target, project)
    report.schema_differences, report.intended_differences = intended(
        lines, overrides.intended_differences
    )


def _not_migrated(cursor: Any, raw_schema: str) -> list[str]:
    relation = sql.Identifier(raw_schema, NOT_MIGRATED_TABLE).as_string(cursor)
    if not _exists(cursor, relation):
        return []
    cursor.execute(
        f"select kind, object_name, reason from {relation} order by kind, object_name"
    )
    return [f"{kind} {name}: {reason}" for kind, name, reason in cursor.fetchall()]


def summary_table(report: Report) -> str:
    """Render the per-table summary as a Markdown table."""
    lines = [
        "| Table | Source rows | Migrated rows | Checksum | dbt tests | Status |",
        "|-------|------------:|--------------:|----------|----------:|--------|",
    ]
    for t in report.tables:
        mark = "✅ Complete" if t.status == "complete" else "❌ Failed"
        migrated = "—" if t.migrated_rows is None else str(t.migrated_rows)
        name = t.final_table
        if t.final_table != t.source_table:
            name = f"{t.final_table} (from {t.source_table})"
        checksum = {True: "match", False: "DIFFERS", None: "—"}[t.checksum_match]
        lines.append(
            f"| {name} | {t.source_rows} | {migrated} | {checksum} | "
            f"{t.dbt_tests or '—'} | {mark} |"
        )
    total_source = sum(t.source_rows for t in report.tables)
    total_migrated = sum(t.migrated_rows or 0 for t in report.tables)
    complete = sum(t.status == "complete" for t in report.tables)
    lines.append(
        f"| **{len(report.tables)} tables, {complete} complete** | "
        f"**{total_source}** | **{total_migrated}** | | | "
        f"{'✅' if report.passed else '❌'} |"
    )
    return "\n".join(lines)


def write_report(report: Report, directory: Path) -> tuple[Path, Path]:
    """Write MIGRATION_REPORT.md and MIGRATION_REPORT.json.

    Args:
        report: The report.
        directory: Where to write them.

    Returns:
        The Markdown and JSON paths.
    """
    md = directory / "MIGRATION_REPORT.md"
    js = directory / "MIGRATION_REPORT.json"
    failed = [t for t in report.tables if t.status != "complete"]
    text = [
        "# Migration report",
        "",
        f"- **Source:** `{report.source}`",
        f"- **Target:** `{report.target}`",
        f"- **Source snapshot:** `{report.snapshot_id}` taken at "
        f"{report.snapshot_taken_at}",
        f"- **Verified at:** {report.verified_at}",
        f"- **Result:** {'PASSED' if report.passed else 'FAILED'}",
        "",
    ]
    if report.phases:
        text += ["## Phases", "", "| Phase | Seconds |", "|-------|--------:|"]
        text += [f"| {k} | {v:.1f} |" for k, v in report.phases.items()]
        text.append("")
    text += ["## Tables", "", summary_table(report), ""]
    sequences = [(t.final_table, s) for t in report.tables for s in t.sequences]
    if sequences:
        text += ["## Sequences", "", "| Table | Column: next value, max |"]
        text += ["|-------|------------------------|"]
        text += [f"| {table} | {line} |" for table, line in sequences]
        text.append("")
    text += ["## Schema parity", ""]
    if report.schema_differences is None:
        text.append("- not compared: SOURCE_DATABASE_URL was not set")
    elif not report.schema_differences:
        text.append(
            "- the target's tables, columns, types, defaults, keys, indexes, "
            "comments and enums match the source's, through the name mapping"
        )
    text += [f"- ❌ {line}" for line in report.schema_differences or []]
    text += [f"- intended: {line}" for line in report.intended_differences]
    text.append("")
    text += ["## Not migrated", ""]
    text += [f"- {line}" for line in report.not_migrated] or [
        "- nothing: every table of the source schema was migrated"
    ]
    text.append("")
    if failed:
        text += ["## Failed checks", ""]
        for t in failed:
            text.append(f"- **{t.final_table}**: {t.detail}")
            text += [f"  - {line}" for line in t.differences]
        text.append("")
    md.write_text("\n".join(text), encoding="utf-8")
    payload = asdict(report) | {"passed": report.passed}
    js.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return md, js
