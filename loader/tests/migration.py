"""Helpers the migration tests share: seeding, running pgshift, reading tables."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.load.extract import SESSION_SETTINGS
from pgshift.settings import PROJECT_DIR, DatabaseUrl, Settings
from pgshift.sqlident import quote_ident

RUN_PY = PROJECT_DIR / "loader" / "run.py"


@dataclass
class Migration:
    """A source and a target database, and the settings joining them."""

    source_url: str
    target_url: str
    settings: Settings


@dataclass
class MigratedSample:
    """The sample marketplace at scale 1, migrated once by ``run.py migrate``.

    Attributes:
        source_url: The seeded source (never written to by the tests).
        target_url: The migrated target.
        state: The dlt state directory of the migration.
        artifacts: dbt's manifest.json and run_results.json of its build,
            saved before any later dbt command overwrites them.
        output: What ``migrate`` printed.
    """

    source_url: str
    target_url: str
    state: Path
    artifacts: Path
    output: str

    @property
    def settings(self) -> Settings:
        """Settings joining the source and the target."""
        return make_settings(self.source_url, self.target_url, state_dir=self.state)


def make_settings(source_url: str, target_url: str, **kwargs: object) -> Settings:
    """Settings for a pair of test databases, with a private dlt state dir."""
    return Settings(
        source=DatabaseUrl.parse("source", source_url),
        target=DatabaseUrl.parse("target", target_url),
        **kwargs,  # type: ignore[arg-type]
    )


def seed_sample(url: str, scale: int = 1) -> dict[str, int]:
    """Create the sample marketplace schema in a database and fill it."""
    from pgshift.demo.sample.seed import create_schema, seed

    conn = psycopg2.connect(url)
    try:
        create_schema(conn)
        counts = seed(conn, scale=scale)
        conn.commit()
    finally:
        conn.close()
    return counts


def cli_env(source_url: str, target_url: str, state_dir: Path) -> dict[str, str]:
    """The whole environment of a ``run.py`` subprocess: the two URLs, a
    private state directory and home, nothing inherited."""
    return {
        "SOURCE_DATABASE_URL": source_url,
        "TARGET_DATABASE_URL": target_url,
        "PATH": "/usr/bin:/bin",
        "PGSHIFT_STATE_DIR": str(state_dir),
        "HOME": str(state_dir),
    }


def run_cli(
    args: Sequence[str],
    source_url: str,
    target_url: str,
    state_dir: Path,
    project_dir: Path = PROJECT_DIR,
) -> subprocess.CompletedProcess[str]:
    """Run ``python loader/run.py`` as a user would, in a subprocess.

    ``project_dir`` runs another copy of the project (its own models).
    """
    return subprocess.run(
        [sys.executable, str(project_dir / "loader" / "run.py"), *args],
        cwd=project_dir,
        env=cli_env(source_url, target_url, state_dir),
        capture_output=True,
        text=True,
        timeout=900,
    )


def run_steps(
    commands: Sequence[str],
    source_url: str,
    target_url: str,
    state_dir: Path,
    project_dir: Path = PROJECT_DIR,
) -> None:
    """Run each command of ``run.py`` in turn (``run_cli``); each must exit 0."""
    for command in commands:
        done = run_cli([command], source_url, target_url, state_dir, project_dir)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


_NOT_COPIED = frozenset(
    {
        ".git",
        ".venv",
        ".pgshift",
        ".pytest_cache",
        ".ruff_cache",
        "__pycache__",
        "target",
        "logs",
        "models",
        "bench",
        "docs",
    }
)


@dataclass
class ProjectCopy:
    """A fixture source, its target, and the project copy joining them."""

    source: str
    target: str
    project: Path
    state: Path

    def run(self, *args: str) -> tuple[int, str, str]:
        """Run ``run.py`` in the copy; its exit code, stdout and stderr."""
        done = run_cli(list(args), self.source, self.target, self.state, self.project)
        return done.returncode, done.stdout, done.stderr


def copy_project(destination: Path, *, scaffolded: bool = True) -> Path:
    """Copy the dbt project as a team's clone would hold it, without models.

    The copy runs its own scaffold against another source, leaving this
    checkout's models, state and artifacts alone. ``scaffolded=False``
    leaves out the checkout's scaffolded macros too (the sample's routines,
    views, sequences and grants), as in a project not scaffolded yet.
    """
    shutil.copytree(
        PROJECT_DIR, destination, ignore=lambda _d, names: _NOT_COPIED & set(names)
    )
    if not scaffolded:
        shutil.rmtree(destination / "macros" / "scaffolded")
    return destination


def fetch_text_rows(
    url: str, schema: str, table: str, columns: Sequence[str]
) -> list[tuple[str | None, ...]]:
    """All rows of some columns as PostgreSQL's text output, sorted.

    Values are read with the output function of their type under the
    loader's session settings, so equal values give equal strings.
    """
    conn = psycopg2.connect(url)
    try:
        cur = conn.cursor()
        for name, value in SESSION_SETTINGS.items():
            cur.execute("select set_config(%s, %s, false)", (name, value))
        cur.execute(
            sql.SQL("select {} from {}").format(
                sql.SQL(", ").join(
                    sql.SQL(
                        "case when {c} is null then null else format('%s', {c}) end"
                    ).format(c=sql.Identifier(c))
                    for c in columns
                ),
                sql.Identifier(schema, table),
            )
        )
        rows = cur.fetchall()
    finally:
        conn.close()
    return sorted(rows, key=lambda r: tuple("\x00" if v is None else v for v in r))


def query(url: str, statement: str, params: Sequence[object] = ()) -> list[tuple]:
    """Run one statement and return its rows."""
    conn = psycopg2.connect(url)
    try:
        cur = conn.cursor()
        cur.execute(statement, params)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
    finally:
        conn.close()
    return rows


def self_signed_certificate(directory: Path, owner: str | None) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, owned by owner."""
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-out",
            str(cert),
            "-keyout",
            str(key),
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o600)
    if owner:
        entry = pwd.getpwnam(owner)
        for path in (cert, key):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    return cert, key


CONSTRAINT_BACKED_TESTS = frozenset({"pgshift_constraints"})
"""dbt tests that read no rows when constraints enforce what they check."""


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def constraint_backed_tests(artifacts: Path, target_url: str) -> dict[str, int]:
    """Run the last build's constraint-backed tests again, on the published tables.

    Each test's compiled SQL (from the project's run_results.json) is run
    under EXPLAIN ANALYZE against ``public`` instead of the build schema it
    ran in, and must execute no scan of any final table but one of each
    table it checks: the checksum's, which reads every row by design. A
    key, key column, foreign key or enum check that scanned would add a
    scan (of its table again, or of a parent).

    Returns:
        Test kind to how many tables its tests checked.
    """
    results = json.loads((artifacts / "run_results.json").read_text())
    manifest = json.loads((artifacts / "manifest.json").read_text())
    tables = {
        r[0]
        for r in query(
            target_url, "select tablename from pg_tables where schemaname = 'public'"
        )
    }
    checked: dict[str, int] = {}
    for result in results["results"]:
        node = manifest["nodes"].get(result["unique_id"], {})
        kind = (node.get("test_metadata") or {}).get("name")
        if kind not in CONSTRAINT_BACKED_TESTS:
            continue
        sql = result["compiled_code"].replace('"public_pgshift_build".', '"public".')
        plan = query(target_url, f"explain (analyze, format json) {sql}")[0][0][0]
        scanned = [
            n["Relation Name"]
            for n in _plan_nodes(plan["Plan"])
            if n.get("Relation Name") in tables and n.get("Actual Loops", 0) > 0
        ]
        more = node["test_metadata"]["kwargs"].get("more_tables") or []
        own = [manifest["nodes"][node["attached_node"]]["alias"]]
        own += [other["model"] for other in more]
        # A partitioned table's checksum reads each of its leaf partitions.
        leaves = [
            leaf
            for table in own
            for leaf in [
                r[0]
                for r in query(
                    target_url,
                    "select c.relname from pg_partition_tree(%s::regclass) t"
                    " join pg_class c on c.oid = t.relid where t.isleaf",
                    (f"public.{quote_ident(table)}",),
                )
            ]
            or [table]
        ]
        assert sorted(scanned) == sorted(leaves), (
            f"{result['unique_id']} scanned {scanned}"
        )
        checked[kind] = checked.get(kind, 0) + len(own)
    return checked
