"""Run dbt in-process against the target, configured from TARGET_DATABASE_URL."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pgshift.manifest import (
    BUILT_TABLE,
    CARRIED_TABLE,
    MANIFEST_TABLE,
    SEQUENCES_TABLE,
)
from pgshift.settings import Settings, quiet_telemetry, scoped_environment

logger = logging.getLogger(__name__)


VARS_COMMANDS = frozenset(
    {"build", "run", "test", "compile", "parse", "list", "ls", "show", "run-operation"}
)
"""dbt commands that take --vars (the schema and table names are passed as vars)."""


@dataclass
class DbtOutcome:
    """The result of one dbt invocation.

    Attributes:
        success: Whether dbt reported success.
        failures: One line per failed or erroring node.
        results: Node name to status for every node that ran.
    """

    success: bool
    failures: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)

    @property
    def refusal(self) -> str | None:
        """A refusal that changed nothing and needs the user's decision, if any.

        The guard (on-run-start, ``pgshift_guard_existing_tables``) refuses
        to replace tables pgshift did not build; the publish
        (``pgshift_restore_dependents``) refuses to drop an object of the
        target's that cannot be recreated on a new table.
        """
        for failure in self.failures:
            for marker in REFUSALS:
                if marker in failure:
                    at = failure.index(marker)
                    start = max(failure.rfind("pgshift: ", 0, at + len("pgshift: ")), 0)
                    line = failure[start:].splitlines()[0]
                    return line.removeprefix("pgshift: ")
        return None


GUARD_MESSAGE = "pgshift: these tables already exist on the target"
"""How macros/publish/pgshift_guard_existing_tables.sql starts its refusal."""
DEPENDENT_MESSAGE = "which this build replaces, and cannot be recreated"
"""What macros/publish/pgshift_restore_dependents.sql says of such an object."""
REFUSALS = (GUARD_MESSAGE, DEPENDENT_MESSAGE)


@contextmanager
def _profiles_dir(project_dir: Path) -> Iterator[Path]:
    """Use the project's profiles.yml if there is one, else the example.

    The example only reads environment variables, so copying it to a
    temporary directory writes nothing secret.
    """
    if (project_dir / "profiles.yml").exists():
        yield project_dir
        return
    with tempfile.TemporaryDirectory(prefix="pgshift-profiles-") as tmp:
        shutil.copy(project_dir / "profiles.example.yml", Path(tmp) / "profiles.yml")
        yield Path(tmp)


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    variables: dict[str, object] | None = None,
) -> DbtOutcome:
    """Invoke a dbt command on the project, against the target database.

    Args:
        settings: The run settings; the target URL configures the profile.
        args: The dbt command and its arguments, e.g. ["build"].
        variables: Extra dbt vars (the raw schema is always passed).

    Returns:
        What dbt reported.
    """
    from dbt.cli.main import dbtRunner

    project_dir = settings.project_dir
    # A migration talks to its two databases only: no usage events to dbt
    # Labs (they also wait on the network where outbound traffic is dropped).
    env = {**settings.target.dbt_env(), **quiet_telemetry()}
    with scoped_environment(env), _profiles_dir(project_dir) as profiles:
        argv = [
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(profiles),
        ]
        if list(args[:2]) == ["docs", "generate"] or (
            args and args[0] in VARS_COMMANDS
        ):
            merged = {
                **settings.dbt_vars(),
                "manifest_table": MANIFEST_TABLE,
                "built_table": BUILT_TABLE,
                "carried_table": CARRIED_TABLE,
                "sequences_table": SEQUENCES_TABLE,
                **(variables or {}),
            }
            argv += ["--vars", json.dumps(merged)]
        logger.info("dbt %s", " ".join(args))
        result = dbtRunner().invoke(argv)
    outcome = DbtOutcome(success=bool(result.success))
    if result.exception is not None:
        outcome.failures.append(f"dbt failed: {result.exception}")
    nodes = getattr(result.result, "results", None) or []
    for node_result in nodes:
        status = str(node_result.status)
        name = node_result.node.name
        outcome.results[name] = status
        if status in {"error", "fail", "runtime error"}:
            outcome.failures.append(f"{name}: {status}: {node_result.message}")
    return outcome
