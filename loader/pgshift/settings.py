"""Run settings: the two database URLs and where things land.

Connection settings come from ``SOURCE_DATABASE_URL`` and
``TARGET_DATABASE_URL`` (libpq URLs, as hosting providers hand them out, e.g.
``postgresql://user:pass@host/db?sslmode=require``). One URL configures every
client that talks to that database: psycopg2, dlt and dbt. The password
only ever lives in memory: every printable form of a URL is redacted.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from psycopg2.extensions import parse_dsn

from pgshift.naming import closest_names

PROJECT_DIR = Path(__file__).resolve().parents[2]
"""The repository root: dbt_project.yml, models/ and loader/ live here."""

OVERRIDES_FILE = "pgshift_overrides.yml"
"""The override file (explicit names, intended differences), in the project."""

BUILD_SCHEMA_SUFFIX = "_pgshift_build"
"""dbt's build schema is the final schema's name and this
(``macros/build/pgshift_build_schema.sql``)."""

RAW_SCHEMA = "raw"
"""The target schema the load lands the source's tables in, names unchanged."""
STAGING_SCHEMA = "staging"
"""A target schema kept free of migrated tables (no source schema is mapped
to it); the staging models that rename and cast are ephemeral, part of each
final model's select, and build nothing there."""
FINAL_SCHEMA = "public"
"""The target schema the application reads: the final tables."""
STATE_SCHEMA = "pgshift"
"""The target schema of pgshift's own state (the load manifest, the tables it
built, what it carried over, the landing schemas it made): apart from the
landing schema, so that no source table can take a state table's name."""

_URL_PARTS = ("user", "password", "host", "port", "dbname")


class ConfigError(ValueError):
    """Bad usage or configuration; the run stops with exit code 2."""


DEFAULT_JOBS = os.cpu_count() or 1
"""Parallel jobs when --jobs is not given: the machine's cores."""


def parse_jobs(value: str | int) -> int:
    """Read a number of parallel jobs (``--jobs``): a whole number, at least 1.

    Raises:
        ConfigError: It is not.
    """
    try:
        jobs = int(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"--jobs must be a whole number of parallel jobs, 1 or more, not {value!r}"
        ) from None
    if jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, not {jobs}")
    return jobs


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL connection URL, parsed once, printable without secrets.

    Attributes:
        side: "source" or "target", used in messages.
        params: The libpq connection parameters the URL holds.
    """

    side: str
    params: dict[str, str] = field(repr=False)

    @classmethod
    def parse(cls, side: str, url: str | None) -> DatabaseUrl:
        """Parse a libpq URL.

        Args:
            side: "source" or "target".
            url: The URL, e.g. from the environment.

        Returns:
            The parsed URL.

        Raises:
            ConfigError: The URL is missing or not a PostgreSQL URL.
        """
        variable = f"{side.upper()}_DATABASE_URL"
        if not url:
            raise ConfigError(
                f"{variable} is not set: export it as "
                "postgresql://user:password@host:port/dbname[?sslmode=require]"
            )
        if not url.startswith(("postgresql://", "postgres://")):
            driver = url.split("://", 1)[0]
            raise ConfigError(
                f"{variable} must be a postgresql:// URL "
                "(postgresql://user:password@host:port/dbname)"
                + (
                    f"; {driver}:// names a driver too (SQLAlchemy's form): "
                    "drop the +... part"
                    if driver.startswith(("postgresql+", "postgres+"))
                    else ""
                )
            )
        try:
            params = parse_dsn(url)
        except Exception as exc:  # psycopg2 echoes the URL: never show it
            raise ConfigError(
                f"{variable} is not a valid PostgreSQL URL "
                f"({type(exc).__name__}); expected "
                "postgresql://user:password@host:port/dbname"
            ) from None
        if not params.get("dbname"):
            raise ConfigError(f"{variable} names no database (…/dbname at the end)")
        ports = str(params.get("port") or "5432").split(",")
        if not all(port.strip().isdigit() for port in ports):
            raise ConfigError(
                f"{variable} has a port that is not a number ({params['port']!r}); "
                "expected postgresql://user:password@host:port/dbname"
            )
        return cls(side=side, params=dict(params))

    @property
    def host(self) -> str:
        """The server host (libpq's default when the URL names none)."""
        return self.params.get("host") or "localhost"

    @property
    def port(self) -> int:
        """The server port."""
        return int(self.params.get("port") or 5432)

    @property
    def dbname(self) -> str:
        """The database name."""
        return self.params["dbname"]

    @property
    def user(self) -> str:
        """The role the connection logs in as."""
        return self.params.get("user") or os.environ.get("PGUSER") or "postgres"

    @property
    def password(self) -> str | None:
        """The password, if the URL holds one. Never print it."""
        return self.params.get("password")

    @property
    def options(self) -> dict[str, str]:
        """Every libpq parameter other than user, password, host, port, dbname."""
        return {k: v for k, v in self.params.items() if k not in _URL_PARTS}

    def redacted(self) -> str:
        """Return the URL with the password removed, safe to print and store."""
        shown = f"postgresql://{quote(self.user, safe='')}@{self.host}:{self.port}"
        shown += f"/{quote(self.dbname, safe='')}"
        if self.options:
            shown += "?" + urlencode(self.options)
        return shown

    def describe(self) -> str:
        """Describe the connection for messages: side, user, host, port, db."""
        return (
            f"{self.side} database {self.dbname!r} on {self.host}:{self.port} "
            f"as user {self.user!r}"
        )

    def connect_kwargs(self) -> dict[str, Any]:
        """Return keyword arguments for ``psycopg2.connect``."""
        return dict(self.params)

    def dbt_env(self) -> dict[str, str]:
        """Return the environment variables profiles.example.yml reads.

        The password goes into a ``DBT_ENV_SECRET_`` variable, which dbt
        scrubs from its logs and artifacts. Every other URL parameter
        (sslmode, sslrootcert, options, ...) reaches libpq through its own
        environment variable, since dbt's profile has no place for most.
        """
        env = {
            "PGSHIFT_TARGET_HOST": self.host,
            "PGSHIFT_TARGET_PORT": str(self.port),
            "PGSHIFT_TARGET_USER": self.user,
            "PGSHIFT_TARGET_DBNAME": self.dbname,
            "DBT_ENV_SECRET_PGSHIFT_TARGET_PASSWORD": self.password or "",
            "PGSHIFT_TARGET_CONNECT_TIMEOUT": self.params.get("connect_timeout", "10"),
        }
        for name, value in self.options.items():
            if name in LIBPQ_ENV:
                env[LIBPQ_ENV[name]] = value
        return env


LIBPQ_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "sslsni": "PGSSLSNI",
    "channel_binding": "PGCHANNELBINDING",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
    "requirepeer": "PGREQUIREPEER",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
}
"""libpq URL parameters and the environment variables libpq reads them from."""


def recorded_overrides(project_dir: Path, recorded: str | None) -> Path | None:
    """The override file scaffold was given, as the name map records it.

    A relative path is the project's; None when scaffold was given none.
    """
    return project_dir / recorded if recorded else None


@dataclass(frozen=True)
class Settings:
    """Everything one run needs to know.

    Attributes:
        source: The database to migrate from (only ever read); None for
            commands that only touch the target.
        target: The database to migrate into (None only for commands that
            read the source alone: scaffold).
        source_schema: The schema whose tables are migrated.
        schemas: The schemas ``--schemas`` chose (empty: ``source_schema``
            alone; see ``pgshift.schemas``).
        raw_schema: The target schema the loader lands tables in.
        staging_schema: A target schema kept free of migrated tables.
        final_schema: The target schema the application reads.
        state_schema: The target schema of pgshift's own state.
        include: Only these source tables (empty: all).
        exclude: Never these source tables.
        state_dir: Local working directory for dlt's pipeline state
            (PGSHIFT_STATE_DIR, default .pgshift/ in the project).
        project_dir: The dbt project directory.
        overrides: The override file scaffold reads (default: the project's
            pgshift_overrides.yml).
        snapshot: A source snapshot another session exported and holds
            (``--snapshot``, ``python loader/run.py snapshot``): the load
            reads inside it instead of one of its own.
        jobs: Parallel jobs (``--jobs``, default: the machine's cores): the
            ranges copied out of the source at once, dlt's load workers,
            dbt's threads and verify's connections. Each source copy holds
            a connection of its own, beside the snapshot's and the
            checksums': a load opens about ``jobs + 2`` source connections.
    """

    source: DatabaseUrl | None
    target: DatabaseUrl
    source_schema: str = "public"
    schemas: tuple[str, ...] = ()
    raw_schema: str = RAW_SCHEMA
    staging_schema: str = STAGING_SCHEMA
    final_schema: str = FINAL_SCHEMA
    state_schema: str = STATE_SCHEMA
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    state_dir: Path = PROJECT_DIR / ".pgshift"
    project_dir: Path = PROJECT_DIR
    overrides: Path | None = None
    snapshot: str | None = None
    jobs: int = DEFAULT_JOBS

    def __post_init__(self) -> None:
        """Refuse a number of jobs below 1."""
        parse_jobs(self.jobs)

    @property
    def overrides_path(self) -> Path:
        """The override file: the one given, else the project's."""
        return self.overrides or self.project_dir / OVERRIDES_FILE

    def dbt_vars(self) -> dict[str, str]:
        """The schema names, as the dbt vars the project reads them from."""
        return {
            "raw_schema": self.raw_schema,
            "staging_schema": self.staging_schema,
            "final_schema": self.final_schema,
            "state_schema": self.state_schema,
        }

    @classmethod
    def from_env(
        cls, *, need_source: bool = True, need_target: bool = True, **overrides: Any
    ) -> Settings:
        """Build settings from the environment, with explicit overrides.

        Args:
            need_source: Whether the command reads the source. Commands that
                only touch the target (dbt, verify) run without
                SOURCE_DATABASE_URL.
            need_target: Whether the command touches the target. Commands
                that only read the source (scaffold, sample) run without
                TARGET_DATABASE_URL.
            **overrides: Field values that win over the environment.

        Returns:
            The settings.

        Raises:
            ConfigError: A URL is missing or invalid.
        """
        source_url = os.environ.get("SOURCE_DATABASE_URL")
        source = overrides.pop("source", None)
        if source is None and (need_source or source_url):
            source = DatabaseUrl.parse("source", source_url)
        target_url = os.environ.get("TARGET_DATABASE_URL")
        target = overrides.pop("target", None)
        if target is None and (need_target or target_url):
            target = DatabaseUrl.parse("target", target_url)
        if "state_dir" not in overrides and os.environ.get("PGSHIFT_STATE_DIR"):
            overrides["state_dir"] = Path(os.environ["PGSHIFT_STATE_DIR"])
        return cls(source=source, target=target, **overrides)

    @property
    def source_required(self) -> DatabaseUrl:
        """The source database, for commands that read it.

        Raises:
            ConfigError: SOURCE_DATABASE_URL was not given.
        """
        if self.source is None:
            raise ConfigError("SOURCE_DATABASE_URL is not set")
        return self.source

    def created_schemas(self) -> list[str]:
        """The target schemas a migration creates when they are missing.

        pgshift's state, the landing schema and dbt's build schema (the
        final schema's name and ``_pgshift_build``,
        ``macros/build/pgshift_build_schema.sql``).
        """
        return [
            self.state_schema,
            self.raw_schema,
            f"{self.final_schema}{BUILD_SCHEMA_SUFFIX}",
        ]

    def selects(self, table: str) -> bool:
        """Tell whether a source table is part of this migration."""
        if self.include and table not in self.include:
            return False
        return table not in self.exclude

    def excluding(self, tables: Iterable[str]) -> str:
        """``--exclude`` leaving out these tables too, ready to paste.

        The tables this run's ``--exclude`` names stay in it: an advice
        naming only the new ones would bring the others back.
        """
        more = [t for t in tables if t not in self.exclude]
        return f"--exclude {names_argument([*self.exclude, *more])}"

    def check_selection(self, tables: Collection[str]) -> None:
        """Refuse an --include or --exclude naming no table of the source.

        A typo in ``--include`` would migrate nothing, and in ``--exclude``
        would migrate the very table meant to stay behind.

        Raises:
            ConfigError: Some name matches none of ``tables``.
        """
        unmatched = [
            f"--{option} {name}" + _closest(name, tables)
            for option, names in (("include", self.include), ("exclude", self.exclude))
            for name in names
            if name not in tables
        ]
        if unmatched:
            raise ConfigError(
                f"{'; '.join(unmatched)}: no such table in the source schema "
                f"{self.source_schema} (names are the source's, exactly as "
                "spelt there, case included; only tables can be left out). "
                f"Its tables: {', '.join(sorted(tables)[:20])}"
                + (", ..." if len(tables) > 20 else "")
            )


def _closest(name: str, tables: Collection[str]) -> str:
    """`` (did you mean …?)`` with the source's closest table names, if any."""
    close = closest_names(name, tables)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def databases_from_env() -> tuple[DatabaseUrl, DatabaseUrl] | None:
    """The two databases, when both URLs are set in the environment."""
    source, target = (
        os.environ.get("SOURCE_DATABASE_URL"),
        os.environ.get("TARGET_DATABASE_URL"),
    )
    if not (source and target):
        return None
    return DatabaseUrl.parse("source", source), DatabaseUrl.parse("target", target)


def embedded_server_forced() -> bool:
    """Whether PGSHIFT_TEST_PG=embedded asks for pgserver's bundled binaries."""
    return os.environ.get("PGSHIFT_TEST_PG") == "embedded"


TELEMETRY_VARIABLES = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}
"""dlt's and dbt's switches for anonymous usage events, and pgshift's
default: off (a migration's details stay on site). A value the user set wins."""


def quiet_telemetry() -> dict[str, str]:
    """Turn dlt's and dbt's usage events off unless the user set them.

    dlt reads its switch from the environment when a pipeline is created
    (``dlt.config`` is too late for it).

    Returns:
        The switches as they now stand.
    """
    for name, value in TELEMETRY_VARIABLES.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in TELEMETRY_VARIABLES}


@contextmanager
def scoped_environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


EXIT_INTERRUPTED = 130
"""The exit code of a run stopped by Ctrl-C or SIGINT, as a shell gives it."""


def parse_names(value: str) -> tuple[str, ...]:
    """The names of a comma-separated list, as ``--include`` and ``--exclude`` take.

    A name holding a comma, a double quote or spaces at either end is
    written in double quotes, a quote in it doubled (``"a,b",c``); any other
    is taken without the spaces around it.
    """
    names: list[str] = []
    field, quoted, inside, index = "", False, False, 0
    while index <= len(value):
        char = value[index] if index < len(value) else ","
        if inside:
            if char == '"' and value[index + 1 : index + 2] == '"':
                field += '"'
                index += 1
            elif char == '"':
                inside = False
            else:
                field += char
        elif char == '"' and not field.strip():
            field, quoted, inside = "", True, True
        elif char == ",":
            name = field if quoted else field.strip()
            if name:
                names.append(name)
            field, quoted = "", False
        elif not quoted:
            field += char
        index += 1
    return tuple(names)


def names_argument(names: Iterable[str]) -> str:
    """The names as one ``--exclude`` argument, quoted for the shell.

    The inverse of ``parse_names``: pasted into a shell, it gives back the
    names exactly, whatever they hold.
    """
    fields = [
        '"' + name.replace('"', '""') + '"'
        if "," in name or '"' in name or name != name.strip()
        else name
        for name in names
    ]
    return shlex.quote(",".join(fields))
