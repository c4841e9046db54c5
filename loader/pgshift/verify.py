"""Reconcile the target with the source snapshot and write the migration report.

For every migrated table: the rows the source snapshot held (from the load
manifest), the rows that landed in raw, the rows in the final table, and the
final table's content checksum against the one recorded for the source
inside the snapshot. A table is complete when all of them agree.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.checksum import checksum_sql
from pgshift.load import MANIFEST_TABLE
from pgshift.naming import to_snake
from pgshift.settings import ConfigError, Settings

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
    """

    source_table: str
    final_table: str
    source_rows: int
    raw_rows: int | None
    migrated_rows: int | None
    checksum_match: bool | None
    status: str
    detail: str = ""


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
    """

    source: str
    target: str
    snapshot_id: str
    snapshot_taken_at: str
    verified_at: str
    tables: list[TableReport] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every table is complete."""
        return all(t.status == "complete" for t in self.tables)


def _count(cursor: Any, schema: str, table: str) -> int | None:
    """Count a table's rows; None when the table does not exist."""
    cursor.execute(
        "select to_regclass(%s) is not null",
        (sql.Identifier(schema, table).as_string(cursor),),
    )
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(
        sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
    )
    return cursor.fetchone()[0]  # type: ignore[no-any-return]


def _checksum(cursor: Any, schema: str, table: str) -> str:
    """The content checksum of a table over all its columns, in order."""
    relation = sql.Identifier(schema, table).as_string(cursor)
    cursor.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (relation,),
    )
    cursor.execute(checksum_sql(relation, cursor.fetchall()))
    return cursor.fetchone()[1]  # type: ignore[no-any-return]


def final_names(settings: Settings) -> dict[str, str]:
    """Map source table names to final table names, from the dbt models.

    The scaffolded final models record their source table in
    ``meta.pgshift.source_table``; tables without a model fall back to the
    naming rules.
    """
    import yaml

    path = settings.project_dir / "models" / "final" / "_final__models.yml"
    names: dict[str, str] = {}
    if path.exists():
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
            "models", []
        ):
            source = model.get("meta", {}).get("pgshift", {}).get("source_table")
            if source:
                names[source] = model["name"]
    return names


def verify(settings: Settings) -> Report:
    """Compare source snapshot counts, raw counts and final counts per table.

    Args:
        settings: The run settings.

    Returns:
        The report.

    Raises:
        ConfigError: The target holds no load manifest (nothing was loaded).
    """
    names = final_names(settings)
    with psycopg2.connect(**settings.target.connect_kwargs()) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "select to_regclass(%s) is not null",
            (sql.Identifier(settings.raw_schema, MANIFEST_TABLE).as_string(cursor),),
        )
        if not cursor.fetchone()[0]:
            raise ConfigError(
                f"the target has no load manifest ({settings.raw_schema}."
                f"{MANIFEST_TABLE}): run `python loader/run.py` first"
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
        for table, source_rows, _, _, _, source_checksum in manifest:
            final = names.get(table, to_snake(table))
            raw_rows = _count(cursor, settings.raw_schema, table)
            migrated = _count(cursor, settings.final_schema, final)
            checksum_match = None
            problems = []
            if migrated is not None:
                final_checksum = _checksum(cursor, settings.final_schema, final)
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
                problems.append(
                    f"final table holds {migrated} rows, the source {source_rows}"
                )
            report.tables.append(
                TableReport(
                    source_table=table,
                    final_table=final,
                    source_rows=source_rows,
                    raw_rows=raw_rows,
                    migrated_rows=migrated,
                    checksum_match=checksum_match,
                    status="failed" if problems else "complete",
                    detail="; ".join(problems),
                )
            )
    conn.close()
    return report


def summary_table(report: Report) -> str:
    """Render the per-table summary as a Markdown table."""
    lines = [
        "| Table | Source rows | Migrated rows | Checksum | Status |",
        "|-------|------------:|--------------:|----------|--------|",
    ]
    for t in report.tables:
        mark = "✅ Complete" if t.status == "complete" else "❌ Failed"
        migrated = "—" if t.migrated_rows is None else str(t.migrated_rows)
        name = t.final_table
        if t.final_table != t.source_table:
            name = f"{t.final_table} (from {t.source_table})"
        checksum = {True: "match", False: "DIFFERS", None: "—"}[t.checksum_match]
        lines.append(f"| {name} | {t.source_rows} | {migrated} | {checksum} | {mark} |")
    total_source = sum(t.source_rows for t in report.tables)
    total_migrated = sum(t.migrated_rows or 0 for t in report.tables)
    complete = sum(t.status == "complete" for t in report.tables)
    lines.append(
        f"| **{len(report.tables)} tables, {complete} complete** | "
        f"**{total_source}** | **{total_migrated}** | | "
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
    if failed:
        text += ["## Failed checks", ""]
        text += [f"- **{t.final_table}**: {t.detail}" for t in failed]
        text.append("")
    md.write_text("\n".join(text), encoding="utf-8")
    payload = asdict(report) | {"passed": report.passed}
    js.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return md, js
