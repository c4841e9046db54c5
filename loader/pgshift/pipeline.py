"""The migrate pipeline: load, dbt build, verify, in one go.

``python loader/run.py migrate`` and ``make demo`` both run ``migrate``; the
command line only prints what it returns. Each phase shows its progress in
a few lines: the tables copied, dbt's nodes done out of the total (dbt's own
log goes to its file, which the build's line names), the tables verified.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pgshift.connection import check_connection, transaction
from pgshift.load import load
from pgshift.manifest import refuse_while_syncing, refuse_without_target_privileges
from pgshift.scaffold import drift_refusal
from pgshift.settings import ConfigError, Settings
from pgshift.transform import DbtOutcome, run_dbt
from pgshift.verify import Report, record_and_write, verify
from pgshift.verify.reconcile import refuse_replacing_final_tables


@dataclass
class Migration:
    """What one migrate did.

    Attributes:
        tables: Tables loaded.
        rows: Rows loaded.
        build: What dbt build reported.
        report: The verification report (written to the project directory).
        phases: Phase name to seconds.
    """

    tables: int
    rows: int
    build: DbtOutcome
    report: Report
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the build and every check passed."""
        return self.build.success and self.report.passed


def migrate(
    settings: Settings,
    *,
    replace_existing: bool = False,
    drop_dependents: bool = False,
    progress: object = print,
) -> Migration:
    """Load, build and verify.

    Args:
        settings: The run settings.
        replace_existing: Replace final tables of the same names that pgshift
            did not build, those it built that were written to since it
            published them, and those it published from another source
            database or schema (their rows are dropped).
        drop_dependents: Leave out the target's own objects on replaced
            tables that cannot be recreated on the new ones (the report
            lists them); otherwise such an object stops the publish.
        progress: Called with one line as each phase ends.

    Returns:
        What each phase did; the report is written to the project directory.

    Raises:
        ConfigError: A connection fails, the dbt project was not scaffolded
            from this source as it is now, a final table was written to
            since it was published or was published from another source,
            or the build refuses to replace tables
            pgshift did not build or to drop the target's own objects.
        LoadError: The load failed.
    """
    say = progress if callable(progress) else print
    check_connection(settings.source_required)
    check_connection(settings.target)
    with transaction(settings.target) as cursor:
        refuse_while_syncing(cursor, settings.state_schema, "migrate")
        refuse_without_target_privileges(
            cursor, settings.created_schemas(), settings.final_schema, "migrate"
        )
    # Models scaffolded from an older shape of the source would leave a new
    # column or table behind: stop before anything is written.
    refusal = drift_refusal(settings)
    if refusal:
        raise ConfigError(refusal)
    # Rows written to the final tables since they were published (the
    # application runs on the target), or published from another source
    # (another tenant's schema of the same table names), would be lost to
    # this source's.
    if not replace_existing:
        refuse_replacing_final_tables(settings, "migrate")
    phases: dict[str, float] = {}
    started = time.monotonic()
    result = load(settings)
    phases["load"] = time.monotonic() - started
    rows = sum(result.source_rows.values())
    say(
        f"loaded {len(result.source_rows)} tables, {rows} rows, in {phases['load']:.1f} s"
    )
    started = time.monotonic()
    variables = {
        "pgshift_replace_existing": replace_existing,
        "pgshift_drop_dependents": drop_dependents,
    }
    outcome = run_dbt(settings, ["build"], variables, quiet=True)
    phases["dbt build"] = time.monotonic() - started
    if outcome.refusal:
        raise ConfigError(outcome.refusal)
    say(
        f"dbt build: {'passed' if outcome.success else 'FAILED'} "
        f"({len(outcome.results)} nodes) in {phases['dbt build']:.1f} s; "
        f"dbt's log: {outcome.log_file}"
    )
    for failure in outcome.failures:
        say(f"  {failure}")
    for message in outcome.messages:
        say(f"  {message}")
    report = verify(settings)
    report.phases = phases
    if not outcome.success:
        report.build_failures = [*outcome.failures, *outcome.messages]
    record_and_write(report, settings)
    return Migration(len(result.source_rows), rows, outcome, report, phases)
