"""Run dbt in-process against the target, configured from TARGET_DATABASE_URL.

dbt runs with ``Settings.jobs`` threads unless the command names its own
``--threads``. Run by hand (``python loader/run.py dbt ...``) it prints its
usual output; inside ``migrate`` it is quiet: its whole log goes to
``logs/dbt.log`` in the project, and one progress line counts the nodes
done out of the total.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgshift.dbt_sessions import keep_sessions
from pgshift.docs_site import readable_meta
from pgshift.manifest import (
    BUILT_TABLE,
    CARRIED_TABLE,
    MANIFEST_TABLE,
    ROUTINES_TABLE,
    SEQUENCES_TABLE,
)
from pgshift.privileges import PRIVILEGES_TABLE
from pgshift.progress import Progress
from pgshift.settings import Settings, quiet_telemetry, scoped_environment
from pgshift.sqlident import render_ident

if TYPE_CHECKING:
    from pgshift.mapping import NameMap

logger = logging.getLogger(__name__)


VARS_COMMANDS = frozenset(
    {"build", "run", "test", "compile", "parse", "list", "ls", "show", "run-operation"}
)
"""dbt commands that take --vars (the schema and table names are passed as vars)."""

THREADS_COMMANDS = frozenset(
    {
        "build",
        "run",
        "test",
        "seed",
        "snapshot",
        "compile",
        "show",
        "parse",
        "retry",
        "clone",
        "run-operation",
    }
)
"""dbt commands that take --threads (so do ``docs generate`` and
``source freshness``)."""

LOG_FILE = Path("logs") / "dbt.log"
"""Where in the project dbt writes its full log (debug level)."""


@dataclass
class DbtOutcome:
    """The result of one dbt invocation.

    Attributes:
        success: Whether dbt reported success.
        failures: One line per failed or erroring node.
        results: Node name to status for every model, test, seed and
            snapshot that ran (the on-run hooks, which dbt also reports as
            results, are not nodes of the graph: their failures are in
            ``failures``).
        messages: What pgshift's macros logged for the user (lines that
            start with ``pgshift:``, e.g. why nothing was published).
        log_file: dbt's log file.
    """

    success: bool
    failures: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    log_file: Path | None = None

    @property
    def refusal(self) -> str | None:
        """A refusal that changed nothing and needs the user's decision, if any.

        The guard (on-run-start, ``pgshift_guard_existing_tables``) refuses
        to replace tables pgshift did not build; the enum types' hook
        (``pgshift_create_enum_types``) refuses a target's enum with labels
        the source's lacks or orders otherwise; the publish
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
ENUM_LABELS_MESSAGE = "PostgreSQL can neither drop nor reorder an enum's labels"
"""What macros/types/pgshift_create_enum_types.sql says of a target's enum
whose labels the source's cannot be reached from."""
REFUSALS = (GUARD_MESSAGE, DEPENDENT_MESSAGE, ENUM_LABELS_MESSAGE)


def final_schema_path(final_schema: str, options: str) -> dict[str, str]:
    """The libpq options that put the final schema first on dbt's search_path.

    The models, hooks and macros name the migrated schema's types,
    sequences and functions without a schema, as the source's catalog prints
    them; PostgreSQL's default search_path finds them in ``public``. A final
    schema of another name (``--final-schema``) comes first on the path of
    every dbt session, then ``public`` (where extensions usually live),
    after any options the target URL gives.

    Returns:
        ``{"PGOPTIONS": ...}``, or nothing for ``public``.
    """
    if final_schema == "public":
        return {}
    path = f"{render_ident(final_schema)},public".replace("\\", "\\\\").replace(
        " ", "\\ "
    )
    return {"PGOPTIONS": f"{options} -c search_path={path}".strip()}


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


def _takes_threads(args: Sequence[str]) -> bool:
    """Whether a dbt command takes --threads and was not given it."""
    if any(a == "--threads" or a.startswith("--threads=") for a in args):
        return False
    return bool(args) and (
        args[0] in THREADS_COMMANDS
        or list(args[:2]) in (["docs", "generate"], ["source", "freshness"])
    )


class _Listener:
    """Follows a quiet dbt run through its events (``dbtRunner`` callbacks).

    ``ConcurrencyLine`` gives the number of nodes to run, each
    ``NodeFinished`` one more done (whatever its status, skipped too), and
    a ``JinjaLogInfo`` that starts with ``pgshift:`` is a message of
    pgshift's macros for the user.
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.messages: list[str] = []

    def __call__(self, event: Any) -> None:
        name = event.info.name
        if name == "ConcurrencyLine":
            self.progress.start(int(event.data.node_count))
        elif name == "NodeFinished":
            self.progress.advance()
        elif name == "JinjaLogInfo" and event.info.msg.startswith("pgshift:"):
            self.messages.append(event.info.msg)


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    variables: dict[str, object] | None = None,
    *,
    quiet: bool = False,
) -> DbtOutcome:
    """Invoke a dbt command on the project, against the target database.

    Args:
        settings: The run settings; the target URL configures the profile,
            ``jobs`` dbt's threads.
        args: The dbt command and its arguments, e.g. ["build"].
        variables: Extra dbt vars (the raw schema is always passed).
        quiet: Print only a progress line of nodes done out of the total;
            dbt's log goes to its file alone (``DbtOutcome.log_file``).

    Returns:
        What dbt reported.
    """
    from dbt.cli.main import dbtRunner

    keep_sessions()
    project_dir = settings.project_dir
    log_file = project_dir / LOG_FILE
    # A migration talks to its two databases only: no usage events to dbt
    # Labs (they also wait on the network where outbound traffic is dropped).
    env = {**settings.target.dbt_env(), **quiet_telemetry()}
    env["PGSHIFT_FINAL_SCHEMA"] = settings.final_schema
    env.update(final_schema_path(settings.final_schema, env.get("PGOPTIONS", "")))
    with scoped_environment(env), _profiles_dir(project_dir) as profiles:
        argv = [
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(profiles),
        ]
        if _takes_threads(args):
            argv += ["--threads", str(settings.jobs)]
        listener = _Listener(Progress(" ".join(["dbt", *args[:1]]), "nodes"))
        callbacks = []
        if quiet:
            # Nothing on standard output; the file keeps every line, at debug.
            argv += ["--log-level", "none", "--log-level-file", "debug"]
            argv += ["--log-path", str(log_file.parent)]
            callbacks.append(listener)
        docs = list(args[:2]) == ["docs", "generate"]
        if docs or (args and args[0] in VARS_COMMANDS):
            merged = {
                **settings.dbt_vars(),
                "manifest_table": MANIFEST_TABLE,
                "built_table": BUILT_TABLE,
                "carried_table": CARRIED_TABLE,
                "routines_table": ROUTINES_TABLE,
                "privileges_table": PRIVILEGES_TABLE,
                "sequences_table": SEQUENCES_TABLE,
                # The publish's options, off unless given: every command
                # passes the same vars, so the manifest one parse saved
                # (scaffold's, say) serves the next (dbt parses again,
                # whole, when the vars change).
                "pgshift_replace_existing": False,
                "pgshift_drop_dependents": False,
                # The lineage site shows each final table where it lives
                # (macros/generate_schema_name.sql).
                **({"pgshift_docs": True} if docs else {}),
                **(variables or {}),
            }
            argv += ["--vars", json.dumps(merged)]
        logger.info("dbt %s", " ".join(args))
        try:
            result = dbtRunner(callbacks=callbacks).invoke(argv)
        finally:
            listener.progress.close()
    outcome = DbtOutcome(
        success=bool(result.success),
        messages=listener.messages,
        log_file=log_file,
    )
    _record_target(settings)
    if outcome.success and args and args[0] in ("build", "run"):
        added, failed = _record_name_map(settings)
        outcome.messages += added
        if failed:
            outcome.failures += failed
            outcome.success = False
    if docs and outcome.success:
        readable_meta(settings.project_dir / "target", settings.source_schema)
    if result.exception is not None:
        outcome.failures.append(f"dbt failed: {result.exception}")
    nodes = getattr(result.result, "results", None) or []
    for node_result in nodes:
        status = str(node_result.status)
        name = node_result.node.name
        if node_result.node.resource_type != "operation":
            outcome.results[name] = status
        if status in {"error", "fail", "runtime error"}:
            outcome.failures.append(f"{name}: {status}: {node_result.message}")
            if status == "fail" and _is_checks_test(node_result.node):
                outcome.failures += [
                    f"  {table}: {line}" if table else f"  {line}"
                    for table, line in failing_checks(
                        settings, node_result.node.compiled_code or ""
                    )
                ]
    return outcome


CHECKS_TEST = "pgshift_constraints"
"""The dbt test that checks final tables' counts and checksums against the
source's, their keys, foreign keys and enums: one row per failing check,
naming its table (tests/generic/test_pgshift_constraints.sql)."""


def _is_checks_test(node: Any) -> bool:
    metadata = getattr(node, "test_metadata", None)
    return getattr(metadata, "name", None) == CHECKS_TEST


def failing_checks(
    settings: Settings, compiled_sql: str
) -> list[tuple[str | None, str]]:
    """Run a failed ``pgshift_constraints`` test again; one line per failing check.

    Args:
        settings: The run settings (the target is read).
        compiled_sql: The test's SQL as dbt compiled it.

    Returns:
        (final table, "<check>: <n> rows, e.g. <one of them>") per check, or
        (None, why the checks could not be read back).
    """
    from pgshift.connection import transaction

    try:
        with transaction(settings.target, readonly=True) as cursor:
            cursor.execute(compiled_sql)
            rows = cursor.fetchall()
    except Exception as error:  # any failure only loses the detail
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return [(None, f"the failing checks could not be read back: {first}")]
    # A test compiled before its rows named their table gives three columns.
    return [
        (
            table,
            f"{check}: {count} {'row' if count == 1 else 'rows'}"
            + (f", e.g. {example}" if example is not None else ""),
        )
        for table, check, count, example in (
            row if len(row) == 4 else (None, *row) for row in rows
        )
    ]


RUN_TARGET_FILE = "pgshift_run_target.json"
"""Beside dbt's run_results.json: which target that run's results are of
(``{"invocation_id": ..., "target": <the URL without its password>}``)."""


def _record_name_map(settings: Settings) -> tuple[list[str], list[str]]:
    """After a build that published: where the final schema's tables came from.

    Recorded on the target (``manifest.record_name_map``), where a later run
    of another source schema finds the tables this one renamed, by their
    source names, for its foreign keys into them; then, in the same
    session, the keys other final schemas wait to have into this one are
    added (``_add_waiting_keys``).

    Returns:
        (a line per key added, a line per key that could not be).
    """
    from pgshift.connection import transaction
    from pgshift.manifest import WaitingKey, record_name_map
    from pgshift.mapping import NameMap

    names = NameMap.read(settings.project_dir)
    if names is None:
        return [], []
    with transaction(settings.target) as cursor:
        cursor.execute(
            "select to_regnamespace(%s) is not null",
            (render_ident(settings.state_schema),),
        )
        if not cursor.fetchone()[0]:
            return [], []
        record_name_map(
            cursor,
            settings.state_schema,
            names.final_schema,
            (
                settings.source.dbname if settings.source is not None else None,
                names.source_schema,
            ),
            {
                source: (table.target, dict(table.columns))
                for source, table in names.tables.items()
            },
            [
                WaitingKey(
                    table=names.tables[table].target,
                    name=fk.name,
                    columns=fk.columns,
                    to_schema=fk.to_schema or "",
                    to=fk.to,
                    to_columns=fk.to_columns,
                    options=fk.options,
                )
                for table, keys in names.waiting_keys.items()
                if table in names.tables
                for fk in keys
            ],
            {
                **{q.source: q.name for q in names.sequences.values()},
                **{
                    serial.source: serial.name
                    for table in names.tables.values()
                    for serial in table.serials
                },
            },
            dict(names.types),
        )
        return _add_waiting_keys(cursor, settings, names)


def _add_waiting_keys(
    cursor: Any, settings: Settings, names: NameMap
) -> tuple[list[str], list[str]]:
    """After a build that published: the other final schemas' keys into this one.

    A table of a schema migrated earlier whose foreign key references a
    table of this source schema (a cycle between two schemas, such as
    ``person."StateProvince"`` -> ``sales."SalesTerritory"`` while ``sales``
    references ``person``) was built without it (``NameMap.waiting_keys``);
    now that its parent is on the target, it is added, under this run's
    names for the parent. A key whose constraint is there already (added by
    an earlier run of this schema, or kept through a republish) is left as
    it is. Rows of the child that reference no row of the parent leave the
    key out, named.

    Returns:
        (a line per key added, a line per key that could not be).
    """
    from pgshift.manifest import other_builds

    added: list[str] = []
    failed: list[str] = []
    waiting = other_builds(
        cursor,
        settings.state_schema,
        names.final_schema,
        settings.source.dbname if settings.source is not None else None,
    ).waiting_into(names.source_schema)
    for schema, key in waiting:
        child = f"{render_ident(schema)}.{render_ident(key['table'])}"
        label = f"foreign key {key['name']} of {child}"
        parent_map = names.tables.get(key["to"])
        if parent_map is None or any(
            c not in parent_map.columns for c in key["to_columns"]
        ):
            failed.append(
                f"{label}: references {render_ident(key['to_schema'])}."
                f"{render_ident(key['to'])}, which this run does not "
                "migrate (or not with those columns): not added"
            )
            continue
        cursor.execute(
            "select to_regclass(%s) is not null, exists (select 1 from "
            "pg_constraint where conrelid = to_regclass(%s) and conname = %s)",
            (child, child, key["name"]),
        )
        present, added_before = cursor.fetchone()
        if not present or added_before:
            continue
        parent = f"{render_ident(names.final_schema)}.{render_ident(parent_map.target)}"
        to_columns = [parent_map.columns[c] for c in key["to_columns"]]
        columns = ", ".join(render_ident(c) for c in key["columns"])
        cursor.execute(
            f"select count(*) from {child} as c where "
            + " and ".join(f"c.{render_ident(c)} is not null" for c in key["columns"])
            + f" and not exists (select 1 from {parent} as p where "
            + " and ".join(
                f"p.{render_ident(t)} = c.{render_ident(c)}"
                for c, t in zip(key["columns"], to_columns, strict=True)
            )
            + ")"
        )
        orphans = cursor.fetchone()[0]
        if orphans and "not valid" not in key["options"]:
            failed.append(
                f"{label}: {orphans} of its rows reference no row of "
                f"{parent}: not added (the two schemas were loaded from "
                "different snapshots: migrate the first again)"
            )
            continue
        cursor.execute(
            f"alter table {child} add constraint {render_ident(key['name'])} "
            f"foreign key ({columns}) references {parent} "
            f"({', '.join(render_ident(c) for c in to_columns)}) {key['options']}"
        )
        added.append(f"{label}: added, referencing {parent}")
    return added, failed


def _record_target(settings: Settings) -> None:
    """Write down which target the run_results.json just written is of.

    verify reads the dbt tests of the last build or test from
    run_results.json, which names no database: a run against another
    target (another copy, another environment) must not stand for this one.
    Only an invocation that wrote run_results.json is recorded.
    """
    from dbt_common.invocation import get_invocation_id

    target_dir = settings.project_dir / "target"
    try:
        results = json.loads((target_dir / "run_results.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return
    invocation = results.get("metadata", {}).get("invocation_id")
    if invocation != get_invocation_id():
        return
    (target_dir / RUN_TARGET_FILE).write_text(
        json.dumps({"invocation_id": invocation, "target": settings.target.redacted()})
        + "\n",
        encoding="utf-8",
    )
