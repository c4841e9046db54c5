"""Fixtures of the Dagster tests: a throwaway PostgreSQL server, as in loader/tests.

Run by ``make dagster-test`` in ``.venv-dagster`` (not part of ``make test``):
the definitions need Dagster, dagster-dbt and dagster-dlt, which the
project's own environment does not hold.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "orchestrate"), str(ROOT / "loader" / "tests")]

from pgshift.demo.cluster import (  # noqa: E402
    FAST_TEST_SETTINGS,
    Cluster,
    find_server_binaries,
)


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
