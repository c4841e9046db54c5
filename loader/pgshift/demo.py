"""``make demo``: the sample marketplace migrated on an embedded PostgreSQL.

Starts (or reuses) a PostgreSQL server from the ``pgserver`` package's
binaries under ``.pgshift/demo``, seeds the sample source database, migrates
it into a second database and prints the report. With SOURCE_DATABASE_URL
and TARGET_DATABASE_URL set, the same migration runs against those instead.
"""

from __future__ import annotations

import logging
import os

import psycopg2

from pgshift.cli import cmd_migrate
from pgshift.settings import PROJECT_DIR, DatabaseUrl, Settings

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


def run_demo(scale: int = 1, stop: bool = False) -> int:
    """Seed the sample source and migrate it, on an embedded server.

    Args:
        scale: The sample's scale (1 gives the row counts of the team's report).
        stop: Stop the embedded server instead.

    Returns:
        The exit code of the migration.
    """
    if stop:
        return stop_demo()
    if os.environ.get("SOURCE_DATABASE_URL") and os.environ.get("TARGET_DATABASE_URL"):
        settings = Settings.from_env()
        print(
            f"migrating {settings.source_required.redacted()} -> {settings.target.redacted()}"
        )
        code = cmd_migrate(settings)
        print(_next_steps(settings))
        return code

    from pgshift.cluster import Cluster, find_server_binaries
    from pgshift.sample.seed import create_schema, seed

    cluster = Cluster(DEMO_DIR / "data", bin_dir=find_server_binaries("embedded"))
    if not cluster.is_running():
        if not (cluster.data_dir / "PG_VERSION").exists():
            print("initialising an embedded PostgreSQL in .pgshift/demo ...")
            cluster.init()
        cluster.start()
    source_url = _fresh_database(cluster, SOURCE_DB)
    target_url = _fresh_database(cluster, TARGET_DB)
    print(f"seeding the sample marketplace (scale {scale}) into {SOURCE_DB} ...")
    conn = psycopg2.connect(source_url)
    try:
        create_schema(conn)
        counts = seed(conn, scale=scale)
        conn.commit()
    finally:
        conn.close()
    print(f"seeded {len(counts)} tables, {sum(counts.values())} rows")
    settings = Settings(
        source=DatabaseUrl.parse("source", source_url),
        target=DatabaseUrl.parse("target", target_url),
        state_dir=DEMO_DIR / "state",
    )
    code = cmd_migrate(settings)
    print(_next_steps(settings))
    print("The embedded server keeps running; `make demo-stop` stops it.")
    return code


def stop_demo() -> int:
    """Stop the embedded demo server, if it runs."""
    from pgshift.cluster import Cluster, find_server_binaries

    data_dir = DEMO_DIR / "data"
    if (data_dir / "PG_VERSION").exists():
        cluster = Cluster(data_dir, bin_dir=find_server_binaries("embedded"))
        cluster.stop()
        print("stopped the embedded demo server")
    return 0


def _fresh_database(cluster: object, name: str) -> str:
    cluster.drop_database(name)  # type: ignore[attr-defined]
    return cluster.create_database(name)  # type: ignore[attr-defined,no-any-return]
