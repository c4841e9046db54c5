"""pgshift's migration as Dagster assets: the load fanned out over workers.

Load these definitions (``dagster dev -m pgshift_dagster.definitions`` with
``orchestrate`` and ``loader`` on PYTHONPATH, or from a team's own code
location) and materialize the job ``pgshift_migrate``; each table's load,
each dbt model (a test, which checks ten tables, as an asset check of the
first), and the verification show as assets of their own in Dagster's UI:

1. ``pgshift/snapshot``: checks both connections and that the servers hash
   alike, starts the snapshot holder (``pgshift_dagster.holder``: a
   detached process holding the exported snapshot open until the manifest
   is written, the run ends, or ``snapshot_hold_seconds`` pass), and, inside
   the snapshot, prepares the target (``units.prepare``: state and landing
   schemas claimed, the manifest dropped, every raw table created empty and
   UNLOGGED, dlt's own tables created).
2. ``raw/<table>``, one asset per source table (the tables of
   ``models/pgshift_name_map.json``), each a ``@dlt_assets`` of its own so
   that Dagster's executor runs the tables on as many workers as it has:
   the unit joins the snapshot by its id (from the snapshot asset's
   materialization in this run, read through Dagster's instance, so it
   works on any machine), counts and checksums the table inside it on a
   connection of its own, and runs pgshift's own dlt source (each ctid
   range copied as CSV and imported as a load file) into pgshift's dlt
   destination (CSV copied in as written) through dagster-dlt. The figures
   and the snapshot the unit saw are the materialization's metadata.
3. ``pgshift/manifest``: once every table is loaded, writes the manifest
   from those figures (inside the snapshot, with the sequences' positions
   and what stays behind), then releases the snapshot.
4. The dbt project as ``@dbt_assets`` over its manifest, sources mapped to
   the ``raw/<table>`` assets. It runs as one ``dbt build`` of every node:
   pgshift publishes in dbt's ``on-run-end`` only when every model and test
   of the run passed, in one transaction, so the final tables change
   together or not at all; a subset is refused.
5. ``pgshift/verify``: ``pgshift.verify`` with the report
   (``MIGRATION_REPORT.md`` and ``.json``); the asset fails unless every
   table is complete.

Why a big table is not a Dagster partition per ctid range: ctid ranges
exist only inside one snapshot (they are computed from the table's pages
as the snapshot sees them, once it is taken), while Dagster fixes an
asset's partitions before a run starts and runs each partition as a run of
its own; the ranges would have to be known before the snapshot exists, and
the snapshot held across runs. A table's unit therefore copies its ranges
itself, ``jobs`` at a time on connections that all joined the snapshot
(``pgshift.load.extract.SourceCopier``), and dlt copies them in with as
many workers; a retried unit replaces its whole table, never appends.

dagster-dlt runs pgshift's dlt source and destination as they are, so
nothing is lost on the way: the values are PostgreSQL's own text output,
the names are kept byte for byte (``ExactNaming``), and '' and NULL stay
apart. Each unit's pipeline has its own name and dlt schema, never
restores state from the target, and dagster-dlt drops the packages an
earlier attempt left pending.

Settings come from the environment, as for ``python loader/run.py``:
``SOURCE_DATABASE_URL``, ``TARGET_DATABASE_URL``, ``PGSHIFT_STATE_DIR``;
``PGSHIFT_JOBS`` sets the steps the job's multiprocess executor runs at
once, the ranges each unit copies at once, dlt's load workers and dbt's
threads (a step forks from a server process that imported these
definitions once, so it starts in well under a second). The dbt manifest is parsed into
``target/dagster/`` when the definitions load, unless it is newer than
every file dbt reads.
"""

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from pgshift.connection import check_connection
from pgshift.load import check_same_hashes
from pgshift.load.extract import SourceCopier, background_fingerprints
from pgshift.manifest import (
    BUILT_TABLE,
    CARRIED_TABLE,
    MANIFEST_TABLE,
    SEQUENCES_TABLE,
)
from pgshift.mapping import NameMap
from pgshift.settings import (
    DEFAULT_JOBS,
    PROJECT_DIR,
    ConfigError,
    DatabaseUrl,
    Settings,
    parse_jobs,
    quiet_telemetry,
    scoped_environment,
)
from pgshift.transform import RUN_TARGET_FILE
from pgshift.verify import summary_table, verify, write_report
from pgshift_dagster import units
from pgshift_dagster.holder import RELEASE_TAG

SNAPSHOT_KEY = dg.AssetKey(["pgshift", "snapshot"])
MANIFEST_KEY = dg.AssetKey(["pgshift", "manifest"])
VERIFY_KEY = dg.AssetKey(["pgshift", "verify"])
RAW_PREFIX = "raw"
"""Asset keys of the load units: ``raw/<source table>``."""

DBT_TARGET_PATH = Path("target") / "dagster"
"""Where the definitions' dbt manifest is parsed (apart from the builds')."""


class PgshiftResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The run settings, from the same environment as ``loader/run.py``'s.

    Attributes:
        source_url: The source database (read only).
        target_url: The target database.
        state_dir: dlt's pipelines, the copied ranges and the holder's log
            (empty: ``PGSHIFT_STATE_DIR`` or the project's ``.pgshift/``).
        jobs: Ranges copied at once per table, dlt's load workers, dbt's
            threads and verify's connections.
        snapshot_hold_seconds: The longest the holder keeps the snapshot.
        replace_existing: As ``migrate --replace-existing``.
        drop_dependents: As ``migrate --drop-dependents``.
    """

    source_url: str
    target_url: str
    state_dir: str = ""
    jobs: int = DEFAULT_JOBS
    snapshot_hold_seconds: float = 6 * 3600.0
    replace_existing: bool = False
    drop_dependents: bool = False

    def settings(self) -> Settings:
        """The pgshift settings of this run, the scaffolded tables selected."""
        extra: dict[str, Any] = {}
        if self.state_dir:
            extra["state_dir"] = Path(self.state_dir)
        elif os.environ.get("PGSHIFT_STATE_DIR"):
            extra["state_dir"] = Path(os.environ["PGSHIFT_STATE_DIR"])
        return Settings(
            source=DatabaseUrl.parse("source", self.source_url),
            target=DatabaseUrl.parse("target", self.target_url),
            include=tuple(TABLES),
            jobs=parse_jobs(self.jobs),
            **extra,
        )


def _scaffolded_tables() -> list[str]:
    names = NameMap.read(PROJECT_DIR)
    if names is None:
        raise ConfigError(
            "the dbt project has no name map (models/pgshift_name_map.json): "
            "run `python loader/run.py scaffold` first"
        )
    return list(names.tables)


TABLES = _scaffolded_tables()
"""The source tables the dbt project was scaffolded from: one load unit each."""


def _held(context: AssetExecutionContext) -> tuple[units.HeldSnapshot, float]:
    """The snapshot this run's snapshot asset handed out, and when it started.

    Raises:
        dg.Failure: The snapshot asset did not run in this run.
    """
    event = context.instance.get_latest_materialization_event(SNAPSHOT_KEY)
    if event is None or event.run_id != context.run_id:
        raise dg.Failure(
            "the source snapshot is held for one run: materialize "
            f"{SNAPSHOT_KEY.to_user_string()} in the same run as the tables "
            f"and {MANIFEST_KEY.to_user_string()}"
        )
    meta = event.asset_materialization.metadata  # type: ignore[union-attr]
    held = units.HeldSnapshot(
        snapshot_id=meta["snapshot_id"].value,
        taken_at=meta["taken_at"].value,
        txid_snapshot=meta["txid_snapshot"].value,
        holder_pid=meta["holder_pid"].value,
        backend_pid=meta["backend_pid"].value,
    )
    return held, float(meta["started"].value)


@dg.asset(key=SNAPSHOT_KEY, group_name="load", kinds={"postgres"})
def pgshift_snapshot(
    context: AssetExecutionContext, pgshift: PgshiftResource
) -> dg.MaterializeResult:
    """Start the snapshot holder and prepare the target inside its snapshot."""
    started = time.time()
    settings = pgshift.settings()
    check_connection(settings.source_required)
    check_connection(settings.target)
    check_same_hashes(settings)
    from dagster._serdes import serialize_value

    held = units.start_holder(
        settings,
        context.run_id,
        serialize_value(context.instance.get_ref()),
        pgshift.snapshot_hold_seconds,
    )
    with units.joined_snapshot(settings, held) as snapshot:
        seen = units.seen_snapshot(snapshot)
        units.prepare(settings, snapshot, TABLES)
    context.log.info(
        f"snapshot {held.snapshot_id} held by process {held.holder_pid} "
        f"(source backend {held.backend_pid})"
    )
    return dg.MaterializeResult(
        metadata={
            "snapshot_id": held.snapshot_id,
            "taken_at": held.taken_at,
            "txid_snapshot": held.txid_snapshot,
            "seen_by_prepare": seen,
            "holder_pid": held.holder_pid,
            "backend_pid": held.backend_pid,
            "step_pid": os.getpid(),
            "started": started,
            "tables": len(TABLES),
        }
    )


class RawTranslator(DagsterDltTranslator):  # type: ignore[misc]
    """``raw/<table>`` for each table's dlt resource, after the snapshot."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        """The spec of one table's load unit."""
        name = data.resource.name
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=dg.AssetKey([RAW_PREFIX, name]),
                deps=[SNAPSHOT_KEY],
                group_name="load",
                description=f"Source table {name}, landed in raw inside the snapshot.",
            )
        )


def _definition_source(name: str) -> Any:
    """The shape of one table's dlt source, for the asset's definition.

    The unit builds the real one at run time, inside the snapshot
    (``units.table_source``); only the resource's name matters here.
    """
    import dlt

    @dlt.source(name=units.pipeline_name(name), max_table_nesting=0)
    def shape() -> Any:
        return dlt.resource([], name=name, table_name=name)

    return shape()


def _definition_pipeline(name: str) -> Any:
    import dlt

    from pgshift.load.destination import raw_postgres

    state = Path(os.environ.get("PGSHIFT_STATE_DIR") or PROJECT_DIR / ".pgshift")
    return dlt.pipeline(
        pipeline_name=units.pipeline_name(name),
        pipelines_dir=str(state / "dagster" / "definitions"),
        destination=raw_postgres(destination_name="postgres"),
        dataset_name="raw",
    )


def _load_unit(name: str) -> dg.AssetsDefinition:
    """The load asset of one source table."""

    @dlt_assets(
        dlt_source=_definition_source(name),
        dlt_pipeline=_definition_pipeline(name),
        name=f"load_{units.pipeline_name(name)}",
        dagster_dlt_translator=RawTranslator(),
    )
    def load_table(
        context: AssetExecutionContext,
        dlt: DagsterDltResource,
        pgshift: PgshiftResource,
    ) -> Iterator[Any]:
        settings = pgshift.settings()
        held, _ = _held(context)
        units.configure_dlt(settings)
        pipeline = units.make_pipeline(settings, units.pipeline_name(name))
        # The unit's ranges, until dlt has taken them (removed on the way out).
        copies = units.unit_dir(settings) / "copies"
        copies /= f"{context.run_id}-{units.pipeline_name(name)}"
        with units.joined_snapshot(settings, held) as snapshot:
            seen = units.seen_snapshot(snapshot)
            table = units.table_figures(settings, snapshot, name)
            rows = snapshot.count(table)
            with background_fingerprints(
                settings.source_required, snapshot, [table]
            ) as fingerprinting:
                with SourceCopier(
                    settings.source_required,
                    snapshot,
                    copies,
                    workers=settings.jobs,
                ) as copier:
                    events = list(
                        dlt.run(
                            context=context,
                            dlt_source=units.table_source(table, snapshot, copier),
                            dlt_pipeline=pipeline,
                        )
                    )
                checked_rows, checksum = fingerprinting.result()[name]
        if checked_rows != rows:  # one snapshot: cannot happen
            raise dg.Failure(f"{name}: {checked_rows} rows checksummed, {rows} read")
        figures = {
            "source_rows": rows,
            "source_checksum": checksum,
            "snapshot_id": held.snapshot_id,
            "txid_snapshot": seen,
            "worker_pid": os.getpid(),
        }
        for event in events:
            yield dg.MaterializeResult(
                asset_key=event.asset_key, metadata={**event.metadata, **figures}
            )

    return load_table


LOAD_UNITS = [_load_unit(name) for name in TABLES]


@dg.asset(
    key=MANIFEST_KEY,
    deps=[dg.AssetKey([RAW_PREFIX, name]) for name in TABLES],
    group_name="load",
    kinds={"postgres"},
)
def pgshift_manifest(
    context: AssetExecutionContext, pgshift: PgshiftResource
) -> dg.MaterializeResult:
    """Write the load manifest from every table's figures, release the snapshot."""
    settings = pgshift.settings()
    held, started = _held(context)
    figures: dict[str, tuple[int, str]] = {}
    for name in TABLES:
        event = context.instance.get_latest_materialization_event(
            dg.AssetKey([RAW_PREFIX, name])
        )
        meta = event.asset_materialization.metadata if event else {}
        if event is None or event.run_id != context.run_id:
            raise dg.Failure(f"table {name} was not loaded in this run")
        if meta["snapshot_id"].value != held.snapshot_id:
            raise dg.Failure(f"table {name} was read in another snapshot")
        figures[name] = (
            int(meta["source_rows"].value),
            str(meta["source_checksum"].value),
        )
    try:
        with units.joined_snapshot(settings, held) as snapshot:
            result = units.finish(settings, snapshot, TABLES, figures, started)
    finally:
        context.instance.add_run_tags(context.run_id, {RELEASE_TAG: "true"})
    return dg.MaterializeResult(
        metadata={
            "snapshot_id": result.snapshot_id,
            "tables": len(result.source_rows),
            "rows": sum(result.source_rows.values()),
            "load_seconds": round(result.seconds, 1),
        }
    )


class PgshiftDbtTranslator(DagsterDbtTranslator):  # type: ignore[misc]
    """dbt's sources are the load units' ``raw/<table>`` assets."""

    def get_asset_key(self, dbt_resource_props: dict[str, Any]) -> dg.AssetKey:
        """``raw/<table>`` for a source, dbt's default for the rest."""
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([RAW_PREFIX, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: dict[str, Any]) -> str | None:
        """The model's folder: ``final`` (the staging models are ephemeral)."""
        fqn = dbt_resource_props.get("fqn") or []
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)

    def get_asset_spec(
        self, manifest: Any, unique_id: str, project: Any
    ) -> dg.AssetSpec:
        """A model also waits for the manifest: its checksum test reads it."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("model."):
            spec = spec.merge_attributes(deps=[MANIFEST_KEY])
        return spec


DBT_SOURCES = ("dbt_project.yml", "models", "macros", "tests")
"""What dbt parses: a file newer than the manifest parses it again."""


def _dbt_manifest() -> Path:
    """The dbt project's manifest, parsed into ``target/dagster``.

    It is parsed again when a model, macro, test or dbt_project.yml is
    newer (after a scaffold, for instance), so the assets are those dbt
    builds.
    """
    path = PROJECT_DIR / DBT_TARGET_PATH / "manifest.json"
    newest = max(
        (
            f.stat().st_mtime
            for name in DBT_SOURCES
            for f in [PROJECT_DIR / name, *(PROJECT_DIR / name).rglob("*")]
            if f.is_file()
        ),
        default=0.0,
    )
    if not path.exists() or path.stat().st_mtime < newest:
        import subprocess

        subprocess.run(
            [
                _dbt_executable(),
                "parse",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(_profiles_dir()),
                "--target-path",
                str(PROJECT_DIR / DBT_TARGET_PATH),
                "--log-path",
                str(PROJECT_DIR / DBT_TARGET_PATH),
                "--quiet",
            ],
            cwd=PROJECT_DIR,
            env={**os.environ, **quiet_telemetry()},
            check=True,
        )
    return path


def _dbt_executable() -> str:
    return str(Path(sys.executable).parent / "dbt")


def _profiles_dir() -> Path:
    """The project's profiles.yml if it has one, else a copy of the example.

    The example reads only environment variables: the copy holds no secret.
    """
    if (PROJECT_DIR / "profiles.yml").exists():
        return PROJECT_DIR
    directory = PROJECT_DIR / DBT_TARGET_PATH / "profiles"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "profiles.example.yml", directory / "profiles.yml")
    return directory


@dbt_assets(
    manifest=_dbt_manifest(),
    dagster_dbt_translator=PgshiftDbtTranslator(),
    name="pgshift_dbt_build",
)
def pgshift_dbt(
    context: AssetExecutionContext, dbt: DbtCliResource, pgshift: PgshiftResource
) -> Iterator[Any]:
    """One ``dbt build`` of every node, published in its on-run-end."""
    if context.is_subset:
        raise dg.Failure(
            "pgshift's dbt project runs as one `dbt build` of every node: it "
            "publishes the final tables in on-run-end only when every model "
            "and test of the run passed; materialize all of its assets"
        )
    settings = pgshift.settings()
    variables = {
        **settings.dbt_vars(),
        "manifest_table": MANIFEST_TABLE,
        "built_table": BUILT_TABLE,
        "carried_table": CARRIED_TABLE,
        "sequences_table": SEQUENCES_TABLE,
        "pgshift_replace_existing": pgshift.replace_existing,
        "pgshift_drop_dependents": pgshift.drop_dependents,
    }
    target = settings.project_dir / "target"
    env = {**settings.target.dbt_env(), **quiet_telemetry()}
    with scoped_environment(env):
        invocation = dbt.cli(
            [
                "build",
                "--threads",
                str(settings.jobs),
                "--vars",
                json.dumps(variables),
            ],
            context=context,
            target_path=target,
        )
        yield from invocation.stream()
    # verify reads this build's tests from target/run_results.json, once
    # it knows which target that run was of (pgshift.transform).
    results = json.loads((target / "run_results.json").read_text())
    (target / RUN_TARGET_FILE).write_text(
        json.dumps(
            {
                "invocation_id": results["metadata"]["invocation_id"],
                "target": settings.target.redacted(),
            }
        )
        + "\n",
        encoding="utf-8",
    )


@dg.asset(key=VERIFY_KEY, deps=[pgshift_dbt], group_name="verify", kinds={"postgres"})
def pgshift_verify(
    context: AssetExecutionContext, pgshift: PgshiftResource
) -> dg.MaterializeResult:
    """Reconcile every table with the snapshot and write the report."""
    settings = pgshift.settings()
    report = verify(settings)
    markdown, _ = write_report(report, settings.project_dir)
    metadata = {
        "passed": report.passed,
        "tables": len(report.tables),
        "complete": sum(t.status == "complete" for t in report.tables),
        "report": dg.MetadataValue.path(str(markdown)),
        "summary": dg.MetadataValue.md(summary_table(report)),
    }
    if not report.passed:
        raise dg.Failure("the migration did not verify", metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


def _jobs() -> int:
    return parse_jobs(os.environ.get("PGSHIFT_JOBS") or DEFAULT_JOBS)


pgshift_migrate = dg.define_asset_job(
    "pgshift_migrate",
    selection=dg.AssetSelection.all(),
    # Each step forks from a server that has imported these definitions
    # once, instead of starting a Python that imports Dagster, dlt and dbt.
    executor_def=dg.multiprocess_executor.configured(
        {
            "max_concurrent": _jobs(),
            "start_method": {
                "forkserver": {"preload_modules": ["pgshift_dagster.definitions"]}
            },
        }
    ),
    description="Load every table inside one snapshot, dbt build, verify.",
)

defs = dg.Definitions(
    assets=[
        pgshift_snapshot,
        *LOAD_UNITS,
        pgshift_manifest,
        pgshift_dbt,
        pgshift_verify,
    ],
    jobs=[pgshift_migrate],
    resources={
        "pgshift": PgshiftResource(
            source_url=dg.EnvVar("SOURCE_DATABASE_URL"),
            target_url=dg.EnvVar("TARGET_DATABASE_URL"),
            jobs=_jobs(),
        ),
        "dlt": DagsterDltResource(),
        "dbt": DbtCliResource(
            project_dir=str(PROJECT_DIR),
            profiles_dir=str(_profiles_dir()),
            dbt_executable=_dbt_executable(),
        ),
    },
)


def migrate_job() -> dg.JobDefinition:
    """The job, for ``dagster.reconstructable`` (run on other processes)."""
    return defs.resolve_job_def("pgshift_migrate")
