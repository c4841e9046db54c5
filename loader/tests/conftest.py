"""Fixtures: throwaway PostgreSQL servers started by the test session.

Debian's server binaries are used where installed (they have SSL), the ones
bundled by pgserver otherwise; PGSHIFT_TEST_PG=embedded forces the latter.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests run dbt, scaffold and migrate inside the project directory (its
# target/, logs/ and report). Under pytest-xdist (`make test` runs two
# workers) each worker after the first therefore runs in a checkout of its
# own, as two clones of the project would: a copy of this tree whose
# `loader/` comes first on sys.path, so that every `pgshift` import below,
# and PROJECT_DIR with it, resolves to the copy.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_CHECKOUT: Path | None = None
if _WORKER != "gw0":
    _CHECKOUT = Path(tempfile.mkdtemp(prefix=f"pgshift-tests-{_WORKER}-"))
    _CHECKOUT.chmod(0o755)  # the servers' unprivileged user reads fixture files
    shutil.copytree(
        Path(__file__).resolve().parents[2],
        _CHECKOUT,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv*",
            ".pgshift",
            ".pytest_cache",
            ".ruff_cache",
            ".hypothesis",
            "__pycache__",
            "target",
            "logs",
            "dbt_packages",
            "MIGRATION_REPORT.*",
        ),
    )
    sys.path.insert(0, str(_CHECKOUT / "loader"))

from pgshift.demo.cluster import (  # noqa: E402
    FAST_TEST_SETTINGS,
    Cluster,
    find_server_binaries,
)
from pgshift.settings import PROJECT_DIR  # noqa: E402

from migration import MigratedSample, query, run_cli, seed_sample  # noqa: E402

assert _CHECKOUT is None or PROJECT_DIR == _CHECKOUT, PROJECT_DIR


def pytest_sessionfinish() -> None:
    """Remove this worker's checkout."""
    if _CHECKOUT is not None:
        shutil.rmtree(_CHECKOUT, ignore_errors=True)


# The files that take longest (a full run's per-file seconds, 2 cores),
# longest first: `make test` hands whole files to its workers in
# collection order, so these start first and the two workers end together
# rather than one finishing a long file alone.
LONGEST_FIRST = (
    "test_sync.py",
    "test_schema_runs.py",
    "test_schemas.py",
    "test_team_target.py",
    "test_privileges.py",
    "test_sync_recovery.py",
    "test_crash.py",
    "test_target.py",
    "test_publish.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest files first (``LONGEST_FIRST``), the rest as collected."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


_names = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One server for the whole session, trust auth on 127.0.0.1."""
    cluster = Cluster(
        tmp_path_factory.mktemp("pg") / "data", bin_dir=find_server_binaries()
    )
    cluster.init()
    cluster.start(settings=FAST_TEST_SETTINGS)
    yield cluster
    cluster.stop()


@pytest.fixture
def new_database(pg_cluster: Cluster) -> Iterator[Callable[[], str]]:
    """A factory of fresh empty databases, all dropped at teardown."""
    created: list[str] = []

    def make() -> str:
        name = f"test_{next(_names)}"
        pg_cluster.drop_database(name)
        created.append(name)
        return pg_cluster.create_database(name)

    yield make
    for name in created:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_url(new_database: Callable[[], str]) -> str:
    """The URL of a fresh empty database."""
    return new_database()


@pytest.fixture(scope="session")
def migrated_sample(
    pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MigratedSample]:
    """One migration of the sample, shared by every test that only reads it.

    Tests that change the target take a copy (``sample_copy``).
    """
    source = pg_cluster.create_database("sample_source")
    target = pg_cluster.create_database("sample_target")
    seed_sample(source, scale=1)
    state = tmp_path_factory.mktemp("sample_state")
    done = run_cli(["migrate"], source, target, state)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    artifacts = tmp_path_factory.mktemp("sample_artifacts")
    for name in ("manifest.json", "run_results.json"):
        shutil.copy(PROJECT_DIR / "target" / name, artifacts / name)
    yield MigratedSample(source, target, state, artifacts, done.stdout)
    for name in ("sample_source", "sample_target"):
        pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def sample_copy(
    pg_cluster: Cluster,
    migrated_sample: MigratedSample,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], MigratedSample]]:
    """A factory of copies of the migrated sample, dropped at the end.

    Each copy is a pair of databases of its own (template copies of the
    source and of the migrated target) with its own dlt state directory, so
    a test may change either side. The target's copy records the source's
    copy as the database it was loaded and published from, as a migration
    of that copy would have.
    """
    created: list[str] = []

    def make() -> MigratedSample:
        urls = []
        for side in ("source", "target"):
            name = f"sample_{side}_copy_{next(_names)}"
            pg_cluster.drop_database(name)
            created.append(name)
            urls.append(pg_cluster.create_database(name, template=f"sample_{side}"))
        source_name = urls[0].rsplit("/", 1)[1]
        query(
            urls[1],
            "update pgshift.manifest set source_dbname = %s; "
            "update pgshift.built_tables set source_dbname = %s "
            "where source_dbname is not null",
            (source_name, source_name),
        )
        return MigratedSample(
            urls[0],
            urls[1],
            tmp_path_factory.mktemp("copy_state"),
            migrated_sample.artifacts,
            migrated_sample.output,
        )

    yield make
    for name in created:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def logical(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A server with wal_level = logical and the seeded sample, per test module
    (the sync tests').
    """
    cluster = Cluster(
        tmp_path_factory.mktemp("pg_logical") / "data",
        bin_dir=find_server_binaries(),
    )
    cluster.init()
    cluster.start(settings={**FAST_TEST_SETTINGS, "wal_level": "logical"})
    source = cluster.create_database("sync_sample")
    seed_sample(source)
    yield cluster
    cluster.stop()


@pytest.fixture
def pair(logical: Cluster) -> Iterator[Callable[[], tuple[str, str]]]:
    """Fresh (source, target) pairs: the seeded sample copied, an empty target."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        index = len(made) // 2
        names = (f"sync_source_{index}", f"sync_target_{index}")
        made.extend(names)
        source = logical.create_database(names[0], template="sync_sample")
        return source, logical.create_database(names[1])

    yield make
    for name in made:
        logical.drop_database(name)
