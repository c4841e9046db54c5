"""``make demo``: the sample marketplace migrated on an embedded PostgreSQL.

Starts (or reuses) a PostgreSQL server from the ``pgserver`` package's
binaries under ``.pgshift/demo``, seeds the sample source database, migrates
it into a second database and prints the report. With SOURCE_DATABASE_URL
and TARGET_DATABASE_URL set, the same migration runs against those instead.
"""

from __future__ import annotations

import logging

from pgshift.connection import transaction
from pgshift.demo.cluster import Cluster, find_server_binaries
from pgshift.demo.sample.seed import create_schema, seed
from pgshift.pipeline import migrate
from pgshift.settings import (
    DEFAULT_JOBS,
    PROJECT_DIR,
    DatabaseUrl,
    Settings,
    databases_from_env,
)
from pgshift.verify import summary_table

logger = logging.getLogger(__name__)

DEMO_DIR = PROJECT_DIR / ".pgshift" / "demo"
SOURCE_DB = "marketplace"
TARGET_DB = "marketplace_migrated"


def _next_steps(settings: Settings) -> str:
    target = settings.target.redacted()
    return "\n".join(
        [
            "",
            "Connect to the migrated database:",
            f"    psql '{target}'",
            "Browse the lineage from every source table to its final table:",
            f"    export TARGET_DATABASE_URL='{target}'",
            "    .venv/bin/python loader/run.py dbt docs generate",
            "    .venv/bin/python loader/run.py dbt docs serve --port 8080",
        ]
    )


def run_demo(scale: int = 1, stop: bool = False, jobs: int = DEFAULT_JOBS) -> int:
    """Seed the sample source and migrate it, on an embedded server.

    Args:
        scale: The sample's scale (1 gives the row counts of the team's report).
        stop: Stop the embedded server instead.
        jobs: Parallel jobs (``Settings.jobs``).

    Returns:
        The exit code of the migration.
    """
    if stop:
        return stop_demo()
    given = databases_from_env()
    if given is not None:
        settings = Settings(source=given[0], target=given[1], jobs=jobs)
        print(f"migrating {given[0].redacted()} -> {given[1].redacted()}")
        code = _migrate(settings)
        print(_next_steps(settings))
        return code

    cluster = Cluster(DEMO_DIR / "data", bin_dir=find_server_binaries("embedded"))
    if not cluster.is_running():
        if not (cluster.data_dir / "PG_VERSION").exists():
            print("initialising an embedded PostgreSQL in .pgshift/demo ...")
            cluster.init()
        cluster.start()
    source_url = _fresh_database(cluster, SOURCE_DB)
    target_url = _fresh_database(cluster, TARGET_DB)
    print(f"seeding the sample marketplace (scale {scale}) into {SOURCE_DB} ...")
    with transaction(DatabaseUrl.parse("source", source_url)) as cursor:
        create_schema(cursor.connection)
        counts = seed(cursor.connection, scale=scale)
    print(f"seeded {len(counts)} tables, {sum(counts.values())} rows")
    settings = Settings(
        source=DatabaseUrl.parse("source", source_url),
        target=DatabaseUrl.parse("target", target_url),
        state_dir=DEMO_DIR / "state",
        jobs=jobs,
    )
    code = _migrate(settings)
    print(_next_steps(settings))
    print("The embedded server keeps running; `make demo-stop` stops it.")
    return code


def _migrate(settings: Settings) -> int:
    """Migrate and print the summary; the exit code of ``migrate``."""
    done = migrate(settings)
    print(summary_table(done.report))
    print(f"\nreport: {settings.project_dir / 'MIGRATION_REPORT.md'}")
    print(f"dbt's log: {done.build.log_file}")
    return 0 if done.passed else 1


def stop_demo() -> int:
    """Stop the embedded demo server, if it runs."""
    data_dir = DEMO_DIR / "data"
    if (data_dir / "PG_VERSION").exists():
        cluster = Cluster(data_dir, bin_dir=find_server_binaries("embedded"))
        cluster.stop()
        print("stopped the embedded demo server")
    return 0


def _fresh_database(cluster: Cluster, name: str) -> str:
    cluster.drop_database(name)
    return cluster.create_database(name)
