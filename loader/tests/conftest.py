"""Fixtures: throwaway PostgreSQL servers started by the test session.

Debian's server binaries are used where installed (they have SSL), the ones
bundled by pgserver otherwise; PGSHIFT_TEST_PG=embedded forces the latter.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from pgshift.demo.cluster import FAST_TEST_SETTINGS, Cluster, find_server_binaries

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
