"""A connection pooler in transaction mode stops the run before anything is written.

Measured through Debian's PgBouncer (1.18) with ``pool_mode = transaction``:
a connection gets whichever server session is free for each transaction,
while pgshift relies on each connection keeping one session, and PgBouncer
refuses the ``options`` startup parameter through which dlt's target
connections set their search_path. So the pre-flight check detects such a pooler, by its
behaviour rather than its host name, on either side, and stops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from pgshift.connection import check_connection
from pgshift.demo.cluster import Cluster, free_port
from pgshift.settings import ConfigError, DatabaseUrl

from migration import query, run_cli, seed_sample


def _pgbouncer_binary() -> str:
    """PgBouncer's binary; the test fails (never skips) without it."""
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
    )
    if found is None:
        pytest.fail(
            "pgbouncer is not installed: `make test` installs it as root "
            "(apt-get install pgbouncer); install it by hand otherwise"
        )
    return found


class PgBouncer:
    """One PgBouncer process on 127.0.0.1 in front of a test cluster."""

    def __init__(self, cluster: Cluster, mode: str, **settings: str) -> None:
        """Write the configuration and start PgBouncer on a free port.

        Args:
            cluster: The server every database is passed on to.
            mode: The pool_mode (session, transaction, statement).
            **settings: More [pgbouncer] settings.
        """
        binary = _pgbouncer_binary()
        self.cluster = cluster
        self.directory = Path(tempfile.mkdtemp(prefix="pgshift-pgbouncer-"))
        self.directory.chmod(0o755)
        (self.directory / "userlist.txt").write_text(f'"{cluster.superuser}" ""\n')
        self.log = self.directory / "pgbouncer.log"
        config = {
            "listen_addr": "127.0.0.1",
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": str(self.directory / "userlist.txt"),
            "pool_mode": mode,
            "default_pool_size": "10",
            **settings,
        }
        for _ in range(3):
            self.port = free_port()
            ini = self.directory / "pgbouncer.ini"
            ini.write_text(
                f"[databases]\n* = host=127.0.0.1 port={cluster.port}\n"
                "[pgbouncer]\n"
                + "".join(f"{k} = {v}\n" for k, v in config.items())
                + f"listen_port = {self.port}\n"
            )
            for path in self.directory.iterdir():
                path.chmod(0o644)
            # PgBouncer refuses to run as root.
            user = {"user": "postgres", "group": "postgres", "extra_groups": []}
            with self.log.open("a") as log:
                self.process = subprocess.Popen(
                    [binary, str(ini)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    **(user if os.geteuid() == 0 else {}),  # type: ignore[arg-type]
                )
            if self._ready():
                return
            self.stop(remove=False)
        log = self.log.read_text()
        shutil.rmtree(self.directory, ignore_errors=True)
        raise AssertionError(f"PgBouncer did not start:\n{log}")

    def _ready(self) -> bool:
        deadline = time.monotonic() + 15
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                psycopg2.connect(
                    self.url(self.cluster.url()), connect_timeout=2
                ).close()
                return True
            except psycopg2.OperationalError:
                time.sleep(0.1)
        return False

    def url(self, direct: str, host: str | None = None) -> str:
        """The URL of a database through this PgBouncer.

        Args:
            direct: The database's URL on the server itself.
            host: A host name to show in the URL; the connection still goes
                to 127.0.0.1 (libpq's hostaddr).
        """
        parts = urlsplit(direct)
        netloc = parts.netloc.replace(f":{self.cluster.port}", f":{self.port}")
        query_string = parts.query
        if host:
            netloc = netloc.replace("127.0.0.1", host)
            query_string = "&".join(
                q for q in (query_string, "hostaddr=127.0.0.1") if q
            )
        return urlunsplit(parts._replace(netloc=netloc, query=query_string))

    def stop(self, remove: bool = True) -> None:
        """Stop PgBouncer and drop its files."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def pgbouncer(pg_cluster: Cluster) -> Iterator[Callable[..., PgBouncer]]:
    """A factory of PgBouncer processes, all stopped at teardown."""
    started: list[PgBouncer] = []

    def start(mode: str, **settings: str) -> PgBouncer:
        started.append(PgBouncer(pg_cluster, mode, **settings))
        return started[-1]

    yield start
    for bouncer in started:
        bouncer.stop()


def _warm(url: str, sessions: int) -> None:
    """Leave the pool holding several idle server sessions, freed in order."""
    connections = [psycopg2.connect(url) for _ in range(sessions)]
    try:
        for conn in connections:
            conn.cursor().execute("select 1")
        for conn in connections:
            conn.commit()
    finally:
        for conn in connections:
            conn.close()


def _check(side: str, url: str) -> str:
    """check_connection's error message, or '' when it lets the URL pass."""
    try:
        check_connection(DatabaseUrl.parse(side, url))
    except ConfigError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize(
    ("mode", "settings"),
    [
        ("transaction", {}),
        # The session freed first is handed out next, not the one freed last.
        ("transaction", {"server_round_robin": "1"}),
        ("statement", {}),
    ],
    ids=["transaction", "transaction-round-robin", "statement"],
)
def test_transaction_pooling_is_detected_on_any_host(
    mode: str,
    settings: dict[str, str],
    pgbouncer: Callable[..., PgBouncer],
    pg_url: str,
) -> None:
    bouncer = pgbouncer(mode, **settings)
    if mode == "transaction":  # statement mode allows no transaction blocks
        _warm(bouncer.url(pg_url), 2)
    message = _check("target", bouncer.url(pg_url))
    assert message.startswith("cannot use the target database 'test_")
    assert f"on 127.0.0.1:{bouncer.port} as user 'postgres'" in message
    assert "connection pooler in transaction mode" in message
    assert "search_path" in message
    assert "Next: point TARGET_DATABASE_URL at the direct endpoint" in message
    assert "the database server's own host and port" in message


def test_session_pooling_and_direct_connections_pass(
    pgbouncer: Callable[..., PgBouncer], pg_url: str
) -> None:
    bouncer = pgbouncer("session")
    _warm(bouncer.url(pg_url), 3)
    assert _check("source", bouncer.url(pg_url)) == ""
    assert _check("source", pg_url) == ""


def test_pooler_host_name_gets_its_direct_endpoint(
    pgbouncer: Callable[..., PgBouncer], pg_url: str
) -> None:
    bouncer = pgbouncer("transaction")
    url = bouncer.url(pg_url, host="ep-quiet-bird-a4-pooler.test")
    message = _check("source", url)
    assert "source database" in message
    assert "on ep-quiet-bird-a4-pooler.test:" in message
    assert "point SOURCE_DATABASE_URL at the direct endpoint" in message
    assert "(the host without -pooler)" in message


@pytest.mark.parametrize("side", ["source", "target"])
def test_migrate_through_the_pooler_stops_before_writing(
    side: str,
    pgbouncer: Callable[..., PgBouncer],
    new_database: Callable[[], str],
    tmp_path: Path,
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source)
    bouncer = pgbouncer("transaction")
    urls = {"source": source, "target": target}
    urls[side] = bouncer.url(urls[side])

    result = run_cli(["migrate"], urls["source"], urls["target"], tmp_path)

    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert f"cannot use the {side} database" in errors[0]
    assert "connection pooler in transaction mode" in errors[0]
    assert f"point {side.upper()}_DATABASE_URL at the direct endpoint" in errors[0]
    assert result.stdout == ""
    assert query(target, "select nspname from pg_namespace where nspname = 'raw'") == []
    assert query(
        target,
        "select count(*) from pg_class c join pg_namespace n "
        "on n.oid = c.relnamespace where n.nspname not in "
        "('pg_catalog', 'information_schema', 'pg_toast')",
    ) == [(0,)]
