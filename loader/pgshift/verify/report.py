"""The migration report: per table, the figures and checks, and what stays behind.

``verify`` fills a ``Report``; ``write_report`` writes it as
``MIGRATION_REPORT.md`` for people and ``MIGRATION_REPORT.json`` for tools,
and ``summary_table`` is the table the commands print.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
            source's (None if the final table does not exist or lacks a
            column of the source).
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
        verified_at: When the comparisons this report holds ended.
        tables: One entry per table.
        phases: Phase name to seconds, for the phases that ran in this process.
        not_migrated: Source objects that were not migrated, with the reason.
        routines: The functions, procedures, aggregates, operators, casts
            and triggers the build created from the source's (``kind
            name``), for sign-off.
        schemas: Each non-system schema of the source: ``source -> target``
            for the migrated one, ``name: left out: why`` for the others.
        schema_differences: Schema parity lines not declared as intended
            (None when the source was not compared).
        intended_differences: Parity lines the override file declares intended.
        sequences: Per sequence of the source schema: where it stood on the
            source and where it stands on the target, one line each.
        sequences_behind: The sequences whose target position is behind the
            source's (nextval would hand out a value the source already did).
        carried_over: What the last publish did with the target's own objects
            on the tables it replaced, one line each.
        kept_differences: Parity lines that such objects explain (the
            team's index, comment, constraint on a final table).
        views: Per view and materialized view: its rows and checksum on
            the source and the target, one line each.
        views_differ: The views whose rows differ.
        compared_with: After a sync's cutover, what the final tables were
            compared with (the source as it stood, at which position), or
            "" when it was the load's snapshot.
        build_failures: What dbt said of a build that failed (a model, a
            test, or the publish, which then published nothing), when the
            report follows a build in the same run.
        privileges: The source's owners and privileges that the last
            publish did not apply (a role missing on the target, with the
            statement to run once it exists; an owner kept or refused).
        taken_from_public: The rights on the target's final schema that the
            publish revoked from PUBLIC, which held them there: every role
            of the target database holding them only through PUBLIC lost
            them.
    """

    source: str
    target: str
    snapshot_id: str
    snapshot_taken_at: str
    verified_at: str
    tables: list[TableReport] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    not_migrated: list[str] = field(default_factory=list)
    routines: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    schema_differences: list[str] | None = None
    intended_differences: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    sequences_behind: list[str] = field(default_factory=list)
    carried_over: list[str] = field(default_factory=list)
    kept_differences: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    views_differ: list[str] = field(default_factory=list)
    privileges: list[str] = field(default_factory=list)
    taken_from_public: list[str] = field(default_factory=list)
    build_failures: list[str] = field(default_factory=list)
    compared_with: str = ""

    def failures(self) -> list[str]:
        """One line per reason the report did not pass, tables first."""
        return (
            [
                f"{t.final_table}: {t.detail}"
                for t in self.tables
                if t.status != "complete"
            ]
            + [f"build: {line}" for line in self.build_failures]
            + [f"schema differs: {line}" for line in self.schema_differences or []]
            + [f"sequence behind: {line}" for line in self.sequences_behind]
            + [f"view differs: {line}" for line in self.views_differ]
        )

    @property
    def passed(self) -> bool:
        """Whether every table is complete and the schemas are twins."""
        tables_ok = all(t.status == "complete" for t in self.tables)
        return (
            tables_ok
            and not self.build_failures
            and not self.schema_differences
            and not self.sequences_behind
            and not self.views_differ
        )


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


def _listed(title: str, lines: list[str], intro: str | None = None) -> list[str]:
    """A report section of one bullet per line, or nothing when there are none."""
    if not lines:
        return []
    return [
        f"## {title}",
        "",
        *([intro, ""] if intro else []),
        *(f"- {line}" for line in lines),
        "",
    ]


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
        *(
            [f"- **Compared with:** {report.compared_with}"]
            if report.compared_with
            else []
        ),
        f"- **Result:** {'PASSED' if report.passed else 'FAILED'}",
        "",
    ]
    if report.build_failures:
        text += ["## The build failed", "", "What dbt said (detail in its log):", ""]
        text += ["```text", *report.build_failures, "```", ""]
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
    if report.sequences:
        text += ["## Sequences of the source", ""]
        text += [f"- {line}" for line in report.sequences]
        text += [f"- ❌ {line}" for line in report.sequences_behind]
        text.append("")
    if report.views:
        text += ["## Views", ""]
        text += [
            f"- {'❌ ' if line in report.views_differ else ''}{line}"
            for line in report.views
        ]
        text.append("")
    text += ["## Schema parity", ""]
    if report.schema_differences is None:
        text.append("- not compared: SOURCE_DATABASE_URL was not set")
    elif not report.schema_differences:
        text.append(
            "- the target's tables, columns, types, defaults, keys, indexes, "
            "partitions, comments and enums match the source's, through the "
            "name mapping"
        )
    text += [f"- ❌ {line}" for line in report.schema_differences or []]
    text += [f"- intended: {line}" for line in report.intended_differences]
    text += [f"- kept from the target: {line}" for line in report.kept_differences]
    text.append("")
    text += _listed(
        "Carried over from the target",
        report.carried_over,
        "The target's own objects on the tables the last build replaced, "
        "and what became of each on the new tables:",
    )
    text += _listed("Privileges not applied", report.privileges)
    text += _listed("Taken from PUBLIC on the target", report.taken_from_public)
    text += _listed("Schemas", report.schemas)
    text += ["## Not migrated", ""]
    text += [f"- {line}" for line in report.not_migrated] or [
        "- nothing: every table of the source schema was migrated"
    ]
    left_out = left_out_schemas(report)
    if left_out:
        text.append(
            f"- the schemas left out, each with why: {', '.join(left_out)} "
            "(under Schemas, above)"
        )
    text.append("")
    text += _listed(
        "Functions and triggers",
        report.routines,
        "Created on the target from the source's, renamed; schema parity "
        "compares each with the source's:",
    )
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


def left_out_schemas(report: Report) -> list[str]:
    """The source's schemas the run left out, as the Schemas section names them."""
    return [
        line.split(": left out: ", 1)[0]
        for line in report.schemas
        if ": left out: " in line
    ]
