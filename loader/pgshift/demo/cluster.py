"""Throwaway PostgreSQL servers for the demo and the tests.

A ``Cluster`` is one data directory and one postmaster on 127.0.0.1. The
server binaries are Debian's (``/usr/lib/postgresql/<major>/bin``, built with
SSL) where installed, otherwise the ones the ``pgserver`` package bundles.
PostgreSQL refuses to run as root: as root, the server runs as the
``postgres`` system user with Debian's binaries, or as a dedicated
unprivileged user created with ``useradd`` for the bundled ones.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import psycopg2
from psycopg2 import sql

from pgshift.settings import embedded_server_forced

logger = logging.getLogger(__name__)

FAST_TEST_SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "100",
    "shared_buffers": "128MB",
}
"""Settings for servers whose data may be lost: tests and the demo."""

EMBEDDED_USER = "pgshift"


class ClusterError(RuntimeError):
    """A server could not be initialised or started."""


def find_server_binaries(prefer: str = "system") -> Path:
    """Find a directory holding initdb, pg_ctl and postgres.

    Args:
        prefer: "system" for Debian's newest server binaries when installed,
            "embedded" for the ones bundled by the pgserver package.

    Returns:
        The directory.

    Raises:
        ClusterError: No server binaries are available.
    """
    if embedded_server_forced():
        prefer = "embedded"
    candidates: list[Path] = []
    system = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    # Only pgserver's bundled binaries are used: find them without importing it.
    spec = importlib.util.find_spec("pgserver")
    embedded = []
    if spec is not None and spec.origin:
        embedded = [Path(spec.origin).parent / "pginstall" / "bin"]
    candidates = embedded + system if prefer == "embedded" else system + embedded
    for path in candidates:
        if (path / "initdb").exists() and (path / "postgres").exists():
            return path
    raise ClusterError(
        "no PostgreSQL server binaries found: install Debian's postgresql "
        "package or the pgserver Python package (make does the latter)"
    )


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_system_binaries(bin_dir: Path) -> bool:
    return str(bin_dir).startswith("/usr/lib/postgresql/")


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/bin/false", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def _open_path_for(path: Path, readable: bool = False) -> None:
    """Let other users traverse every parent of path (and read it if asked)."""
    for parent in [*reversed(path.parents)]:
        mode = parent.stat().st_mode
        wanted = mode | stat.S_IXOTH | stat.S_IXGRP
        if wanted != mode:
            parent.chmod(wanted)
    if readable:
        for item in [path, *path.rglob("*")]:
            mode = item.stat().st_mode
            extra = stat.S_IROTH | stat.S_IRGRP
            if item.is_dir() or mode & stat.S_IXUSR:
                extra |= stat.S_IXOTH | stat.S_IXGRP
            if mode | extra != mode:
                item.chmod(mode | extra)


class Cluster:
    """One PostgreSQL data directory and its server on 127.0.0.1.

    Attributes:
        data_dir: The data directory.
        bin_dir: The server binaries.
        port: The TCP port on 127.0.0.1.
        superuser: The bootstrap superuser's role name.
        log_file: The server's log.
        socket_dir: The directory of the server's unix socket.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        bin_dir: Path | None = None,
        superuser: str = "postgres",
    ) -> None:
        """Describe a cluster; nothing is created until init()/start().

        Args:
            data_dir: The data directory (created by init()).
            port: The TCP port; a free one is chosen when None, or the one a
                previous start wrote into the data directory.
            bin_dir: The server binaries (default: find_server_binaries()).
            superuser: The bootstrap superuser's role name.
        """
        self.data_dir = Path(data_dir).resolve()
        self.bin_dir = bin_dir or find_server_binaries()
        self.superuser = superuser
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.socket_dir = self.data_dir.parent / f"{self.data_dir.name}.sock"
        self.port = port or self._recorded_port() or free_port()
        self.password: str | None = None
        self._os_user: str | None = None
        if os.geteuid() == 0:
            self._os_user = (
                "postgres" if _is_system_binaries(self.bin_dir) else EMBEDDED_USER
            )

    # -- running commands as the server's user --------------------------------

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if self._os_user:
            command = ["runuser", "-u", self._os_user, "--", *command]
        env = {
            **os.environ,
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
        }
        lib = self.bin_dir.parent / "lib"
        if lib.exists() and not _is_system_binaries(self.bin_dir):
            env["LD_LIBRARY_PATH"] = str(lib)
        return subprocess.run(
            command, env=env, capture_output=True, text=True, check=False, **kwargs
        )

    def _chown(self, path: Path) -> None:
        if not self._os_user:
            return
        entry = _ensure_user(self._os_user)
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.chown(item, entry.pw_uid, entry.pw_gid)

    def _recorded_port(self) -> int | None:
        conf = self.data_dir / "postgresql.auto.conf"
        if conf.exists():
            for line in conf.read_text().splitlines():
                if line.startswith("port ="):
                    return int(line.split("=", 1)[1].strip().strip("'"))
        return None

    # -- lifecycle -------------------------------------------------------------

    def init(
        self,
        *,
        auth: str = "trust",
        password: str | None = None,
        extra_initdb_args: list[str] | None = None,
    ) -> None:
        """Create the data directory with initdb.

        Args:
            auth: The authentication method for host connections.
            password: The superuser's password, if any.
            extra_initdb_args: More initdb arguments.

        Raises:
            ClusterError: initdb failed.
        """
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._os_user:
            _ensure_user(self._os_user)
            _open_path_for(self.data_dir)
            if not _is_system_binaries(self.bin_dir):
                _open_path_for(self.bin_dir.parent, readable=True)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir)
        self._chown(self.socket_dir)
        args = [
            self.bin_dir / "initdb",
            "-D",
            self.data_dir,
            "-U",
            self.superuser,
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            f"--auth-host={auth}",
            *(extra_initdb_args or []),
        ]
        pwfile = None
        if password is not None:
            pwfile = self.data_dir.parent / f"{self.data_dir.name}.pw"
            pwfile.write_text(password + "\n")
            self._chown(pwfile)
            args.append(f"--pwfile={pwfile}")
            self.password = password
        try:
            result = self._run(args)
        finally:
            if pwfile is not None:
                pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(
        self,
        *,
        settings: dict[str, str] | None = None,
        hba_lines: list[str] | None = None,
        timeout: float = 30,
    ) -> None:
        """Start the server and wait until it accepts connections.

        Args:
            settings: postgresql.conf settings, written to postgresql.auto.conf.
            hba_lines: When given, the whole pg_hba.conf (local trust is kept).
            timeout: Seconds to wait for the server.

        Raises:
            ClusterError: The server did not start; the message holds its log.
        """
        for attempt in range(3):
            conf = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.socket_dir}'",
            }
            for key, value in (settings or {}).items():
                conf[key] = value if value.startswith("'") else f"'{value}'"
            auto = self.data_dir / "postgresql.auto.conf"
            auto.write_text("".join(f"{k} = {v}\n" for k, v in conf.items()))
            self._chown(auto)
            if hba_lines is not None:
                hba = self.data_dir / "pg_hba.conf"
                hba.write_text("local all all trust\n" + "\n".join(hba_lines) + "\n")
                self._chown(hba)
            if self.log_file.exists():
                self.log_file.unlink()
            self.log_file.touch()
            self._chown(self.log_file)
            result = self._run(
                [
                    self.bin_dir / "pg_ctl",
                    "start",
                    "-D",
                    self.data_dir,
                    "-l",
                    self.log_file,
                    "-w",
                    "-t",
                    str(int(timeout)),
                ]
            )
            if result.returncode == 0:
                self._wait_ready(timeout)
                return
            log = self._log_tail()
            if "could not bind" in log or "already in use" in log:
                logger.info("port %s taken, retrying on another", self.port)
                self.port = free_port()
                continue
            raise ClusterError(
                f"PostgreSQL did not start (attempt {attempt + 1}):\n"
                f"{result.stdout}{result.stderr}\n--- server log ---\n{log}"
            )
        raise ClusterError("PostgreSQL did not start: no free port")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"server not ready: {exc}\n{self._log_tail()}"
                    ) from exc
                time.sleep(0.2)

    def _log_tail(self, lines: int = 30) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(
            self.log_file.read_text(errors="replace").splitlines()[-lines:]
        )

    def restart(self, **kwargs: Any) -> None:
        """Stop and start again, with start()'s arguments."""
        self.stop()
        self.start(**kwargs)

    def reload(self) -> None:
        """Make the server re-read its configuration files."""
        self._run([self.bin_dir / "pg_ctl", "reload", "-D", self.data_dir])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs; safe to call twice."""
        if not self.is_running():
            return
        self._run(
            [self.bin_dir / "pg_ctl", "stop", "-D", self.data_dir, "-m", mode, "-w"]
        )

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would."""
        pid = self._pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            # Until the process is reaped, a new postmaster takes the lock
            # file's pid for a running server.
            deadline = time.monotonic() + 30
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)

    def _pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    @staticmethod
    def _alive(pid: int) -> bool:
        """Whether a process exists (a zombie counts: PostgreSQL sees it too)."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def is_running(self) -> bool:
        """Whether the postmaster of this data directory is alive."""
        pid = self._pid()
        if not pid or not self._alive(pid):
            return False
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            return "\nState:\tZ" not in status
        return True

    def __enter__(self) -> Cluster:
        """Start the server (initialising it first if needed)."""
        if not (self.data_dir / "PG_VERSION").exists():
            self.init()
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- databases -------------------------------------------------------------

    def url(
        self,
        dbname: str = "postgres",
        user: str | None = None,
        password: str | None = None,
        **params: str,
    ) -> str:
        """A libpq URL for a database on this server.

        Args:
            dbname: The database.
            user: The role (default: the superuser).
            password: The password, if the role has one.
            **params: More libpq parameters (sslmode=..., ...).

        Returns:
            The URL.
        """
        user = user or self.superuser
        if password is None and user == self.superuser:
            password = self.password
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        url = f"postgresql://{auth}@127.0.0.1:{self.port}/{quote(dbname, safe='')}"
        if params:
            url += "?" + urlencode(params)
        return url

    def execute(
        self, statement: str, dbname: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser, in autocommit.

        Args:
            statement: The SQL.
            dbname: The database to run it in.

        Returns:
            The rows it returned, if any.
        """
        conn = psycopg2.connect(self.url(dbname))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def create_database(
        self, name: str, owner: str | None = None, template: str | None = None
    ) -> str:
        """Create a database and return its URL.

        Args:
            name: The database name.
            owner: The owning role, if not the superuser.
            template: A database to copy (nobody may be connected to it).

        Returns:
            The database's URL (as the superuser).
        """
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} template {}").format(
                statement, sql.Identifier(template)
            )
        if owner:
            statement = sql.SQL("{} owner {}").format(statement, sql.Identifier(owner))
        conn = psycopg2.connect(self.url())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database if it exists, disconnecting its sessions first."""
        conn = psycopg2.connect(self.url())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("drop database if exists {} with (force)").format(
                        sql.Identifier(name)
                    )
                )
        finally:
            conn.close()
