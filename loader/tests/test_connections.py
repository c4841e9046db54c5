"""Connection failures end the run with the side, the cause and the next step."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from pgshift.connection import check_connection
from pgshift.demo.cluster import Cluster, find_server_binaries, free_port
from pgshift.settings import ConfigError, DatabaseUrl

from migration import (
    copy_project,
    query,
    run_cli,
    run_steps,
    self_signed_certificate,
)

PASSWORD = "Tls-Secret-pgshift-31"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Path]]:
    """A server with ssl=on that only takes hostssl + scram-sha-256."""
    binaries = find_server_binaries("system")
    if "pgserver" in str(binaries):
        pytest.skip("the embedded server binaries are built without SSL")
    base = tmp_path_factory.mktemp("tls")
    cluster = Cluster(base / "data", bin_dir=binaries)
    cluster.init(auth="scram-sha-256", password=PASSWORD)
    cert, key = self_signed_certificate(base, "postgres" if os.geteuid() == 0 else None)
    cluster.start(
        settings={"ssl": "on", "ssl_cert_file": str(cert), "ssl_key_file": str(key)},
        hba_lines=["hostssl all all 127.0.0.1/32 scram-sha-256"],
    )
    yield cluster, cert
    cluster.stop()


def _check(url: str) -> str:
    """The error message check_connection gives, or '' when it connects."""
    try:
        check_connection(DatabaseUrl.parse("source", url))
    except ConfigError as exc:
        assert PASSWORD not in str(exc)
        return str(exc)
    return ""


def test_require_and_verify_full_connect(tls: tuple[Cluster, Path]) -> None:
    cluster, cert = tls
    assert _check(cluster.url(sslmode="require")) == ""
    assert _check(cluster.url(sslmode="verify-full", sslrootcert=str(cert))) == ""


def test_untrusted_certificate_is_refused(
    tls: tuple[Cluster, Path], tmp_path: Path
) -> None:
    cluster, _ = tls
    other_ca, _ = self_signed_certificate(tmp_path, None)
    message = _check(cluster.url(sslmode="verify-full", sslrootcert=str(other_ca)))
    assert "certificate is not trusted" in message
    assert "source database 'postgres' on 127.0.0.1" in message


def test_plain_connection_is_told_to_add_sslmode(tls: tuple[Cluster, Path]) -> None:
    cluster, _ = tls
    message = _check(cluster.url(sslmode="disable"))
    assert "requires SSL" in message
    assert "sslmode=require" in message


def test_wrong_password(tls: tuple[Cluster, Path]) -> None:
    cluster, _ = tls
    message = _check(cluster.url(password="not-it", sslmode="require"))
    assert "password was refused" in message
    assert "user 'postgres'" in message


def test_unknown_host_refused_port_missing_database(pg_cluster: Cluster) -> None:
    assert "host name is unknown" in _check(
        "postgresql://u:p@no-such-host.invalid:5432/db"
    )
    assert "refused" in _check(f"postgresql://u:p@127.0.0.1:{free_port()}/db")
    assert "database does not exist" in _check(pg_cluster.url("missing_db"))
    # A socket directory with no server on that port.
    said = _check(
        f"postgresql:///db?host={pg_cluster.socket_dir}&port={free_port()}&user=u"
    )
    assert "no server listens on that socket" in said, said


def test_scaffold_of_a_target_that_is_missing_exits_2_and_writes_nothing(
    pg_cluster: Cluster, new_database: Callable[[], str], tmp_path: Path
) -> None:
    source = new_database()
    query(source, 'create table "Account" (id int primary key, "fullName" text)')
    project = copy_project(tmp_path / "project")
    before = sorted(p for p in project.rglob("*") if "__pycache__" not in p.parts)
    done = run_cli(
        ["scaffold"], source, pg_cluster.url("missing_db"), tmp_path / "state", project
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "cannot connect to the target database 'missing_db'" in done.stderr
        and "Next: check the database name at the end of TARGET_DATABASE_URL"
        in done.stderr
    ), done.stderr
    after = sorted(p for p in project.rglob("*") if "__pycache__" not in p.parts)
    assert after == before


def test_pooler_host_name_alone_gets_a_warning(
    pg_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    # A direct server behind a host name that says -pooler: one server
    # session per connection, so it passes, with a word about the name.
    url = pg_cluster.url(hostaddr="127.0.0.1").replace(
        "@127.0.0.1:", "@ep-dark-bird-a4-pooler.test:"
    )
    check_connection(DatabaseUrl.parse("target", url))
    assert "has -pooler in its host name" in caplog.text
    assert "direct endpoint (the host without -pooler)" in caplog.text


@pytest.mark.parametrize("autocommit", [True, False])
def test_a_failed_lookup_is_undone_in_and_out_of_a_transaction(
    pg_url: str, autocommit: bool
) -> None:
    """Parity's lookups run on autocommit sessions (cutover's) and in transactions.

    ``to_regprocedure`` raises for a type the server lacks; the lookup gives
    None and the session goes on, and inside a transaction what came before
    the failure stays.
    """
    import psycopg2

    from pgshift.verify.privilege_parity import _routine_oids

    conn = psycopg2.connect(pg_url)
    conn.autocommit = autocommit
    try:
        cursor = conn.cursor()
        cursor.execute("create table kept (id int)")
        oids = _routine_oids(cursor, ["lower(text)", "f(no_such_type)", "g()"])
        assert oids[0] is not None and oids[1:] == [None, None]
        cursor.execute("select count(*) from kept")
        assert cursor.fetchone() == (0,)
        assert conn.get_transaction_status() == (
            psycopg2.extensions.TRANSACTION_STATUS_IDLE
            if autocommit
            else psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        )
    finally:
        conn.close()


def test_a_unix_socket_reaches_both_sides(
    pg_cluster: Cluster, new_database: Callable[[], str], tmp_path: Path
) -> None:
    """libpq's form for a unix socket, the directory as the host in the
    query, works for the load's target as for everything else."""
    source, target = new_database(), new_database()
    query(
        source,
        'create table "Notes" (id int primary key, "noteText" text); '
        """insert into "Notes" values (1, 'it''s'), (2, null)""",
    )

    def by_socket(url: str) -> str:
        return f"postgresql:///{url.rsplit('/', 1)[1]}?" + urlencode(
            {
                "host": str(pg_cluster.socket_dir),
                "port": pg_cluster.port,
                "user": pg_cluster.superuser,
            }
        )

    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    run_steps(
        ("scaffold", "migrate"), by_socket(source), by_socket(target), state, project
    )
    assert query(target, "select id, note_text from notes order by id") == [
        (1, "it's"),
        (2, None),
    ]
