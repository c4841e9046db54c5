"""Throwaway servers: start, crash, restart, TLS, embedded binaries."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg2
import pytest

from pgshift.demo.cluster import Cluster, find_server_binaries

from migration import self_signed_certificate


def test_two_clusters_at_once(tmp_path: Path, pg_cluster: Cluster) -> None:
    with Cluster(tmp_path / "second") as second:
        assert second.port != pg_cluster.port
        assert second.execute("select 1") == [(1,)]
        assert pg_cluster.execute("select 1") == [(1,)]
    assert not second.is_running()


def test_recovers_after_a_crash(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "crash")
    with cluster:
        url = cluster.create_database("kept")
        psycopg2.connect(url).close()
        cluster.kill()
        assert not cluster.is_running()
        cluster.start()
        assert cluster.execute(
            "select count(*) from pg_database where datname = 'kept'"
        )


def test_embedded_binaries(tmp_path: Path) -> None:
    binaries = find_server_binaries("embedded")
    assert "pgserver" in str(binaries)
    with Cluster(tmp_path / "embedded", bin_dir=binaries) as cluster:
        version = cluster.execute("show server_version_num")[0][0]
        assert int(version) >= 160000


def test_ssl_and_scram(tmp_path: Path) -> None:
    binaries = find_server_binaries("system")
    if "pgserver" in str(binaries):
        pytest.skip("the embedded server binaries are built without SSL")
    cluster = Cluster(tmp_path / "tls", bin_dir=binaries)
    cluster.init(auth="scram-sha-256", password="s3cret pass")
    owner = "postgres" if os.geteuid() == 0 else None
    cert, key = self_signed_certificate(tmp_path, owner)
    cluster.start(
        settings={"ssl": "on", "ssl_cert_file": str(cert), "ssl_key_file": str(key)},
        hba_lines=["hostssl all all 127.0.0.1/32 scram-sha-256"],
    )
    try:
        conn = psycopg2.connect(cluster.url(sslmode="require"))
        assert conn.info.ssl_in_use
        conn.close()
        with pytest.raises(psycopg2.OperationalError, match="no encryption"):
            psycopg2.connect(cluster.url(sslmode="disable"))
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(cluster.url(password="wrong", sslmode="require"))
    finally:
        cluster.stop()
