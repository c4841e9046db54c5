"""Connect before anything is written, and explain failures in words.

A failed connection ends the run with exit code 2 and one message naming the
side (source or target), host, port, database and user, the cause in words
and the next step. The password is never part of it.

So does a connection pooler in transaction mode (PgBouncer's
``pool_mode = transaction``, Neon's ``-pooler`` endpoints): it hands each
transaction whichever server session is free, and pgshift relies on each
connection keeping one session. Measured with PgBouncer 1.18: on the target
side PgBouncer refuses the ``options`` startup parameter through which dlt
sets its ``search_path``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions

from pgshift.settings import ConfigError, DatabaseUrl

logger = logging.getLogger(__name__)

# (pattern in libpq's message, cause in words, what to do next)
_CAUSES: list[tuple[str, str, str]] = [
    (
        r"password authentication failed|SCRAM authentication|"
        r"no password supplied|password is required",
        "the password was refused",
        "check the user and password in {var}",
    ),
    (
        r"Endpoint ID is not specified",
        "the server could not tell which endpoint (compute) is meant",
        "add options=endpoint%3D<endpoint-id> to {var}, or use a client with SNI "
        "(sslmode=require with a recent libpq)",
    ),
    (
        r"no pg_hba\.conf entry .* no encryption|SSL connection is required|"
        r"SSL off",
        "the server requires SSL",
        "add ?sslmode=require to {var}",
    ),
    (
        r"certificate verify failed|root certificate file|"
        r"server certificate for .* does not match",
        "the server's certificate is not trusted",
        "point sslrootcert in {var} at the CA that signed it, or use sslmode=require",
    ),
    (
        r"server does not support SSL",
        "the server does not offer SSL",
        "use sslmode=prefer or disable in {var}, or enable ssl on the server",
    ),
    (
        r"could not translate host name|Name or service not known|"
        r"nodename nor servname",
        "the host name is unknown",
        "check the host in {var}",
    ),
    (
        r"socket .* failed: No such file or directory",
        "no server listens on that socket (the directory and port in the URL)",
        "check the host (the socket's directory) and port in {var}, and that "
        "the server is running",
    ),
    (
        r"Connection refused",
        "the connection was refused (nothing listens on that port)",
        "check the host and port in {var} and that the server is running",
    ),
    (
        r"timeout expired|timed out",
        "the connection timed out",
        "check the host, the port and any firewall; raise connect_timeout in {var}",
    ),
    (
        r"database .* does not exist",
        "the database does not exist",
        "check the database name at the end of {var}",
    ),
    (
        r"role .* does not exist",
        "the user does not exist",
        "check the user in {var}",
    ),
    (
        r"no pg_hba\.conf entry",
        "the server does not accept this user from this address",
        "ask the database owner to allow the connection (pg_hba.conf)",
    ),
]


def connect(
    url: DatabaseUrl,
    *,
    readonly: bool = False,
    autocommit: bool = False,
    application_name: str | None = None,
    **params: Any,
) -> Any:
    """Open a psycopg2 connection: the one place pgshift connects.

    Args:
        url: The database.
        readonly: Run every transaction read only (the source is never written).
        autocommit: Run each statement in its own transaction.
        application_name: How the server lists the session (pg_stat_activity).
        **params: Further libpq parameters, e.g. ``connect_timeout``.

    Returns:
        The open connection.
    """
    kwargs = {**url.connect_kwargs(), **params}
    if application_name is not None:
        kwargs["application_name"] = application_name
    conn = psycopg2.connect(**kwargs)
    if readonly or autocommit:
        conn.set_session(readonly=readonly or None, autocommit=autocommit)
    return conn


@contextmanager
def transaction(url: DatabaseUrl, *, readonly: bool = False) -> Iterator[Any]:
    """A cursor in one transaction, committed when the block ends without error.

    Args:
        url: The database.
        readonly: Make the transaction read only.

    Yields:
        The cursor.
    """
    conn = connect(url, readonly=readonly)
    try:
        with conn:
            yield conn.cursor()
    finally:
        conn.close()


@contextmanager
def undoable(cursor: Any) -> Iterator[None]:
    """A block whose failing statement leaves the session usable.

    Inside a transaction the block runs under a savepoint, rolled back when
    a statement fails; outside one (an autocommit session between
    transactions) a failed statement undoes only itself, and PostgreSQL
    refuses a savepoint there. The error is raised again either way.
    """
    conn = cursor.connection
    idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
    guarded = not (conn.autocommit and conn.get_transaction_status() == idle)
    if guarded:
        cursor.execute("savepoint pgshift_undoable")
    try:
        yield
    except psycopg2.Error:
        if guarded:
            cursor.execute("rollback to savepoint pgshift_undoable")
            cursor.execute("release savepoint pgshift_undoable")
        raise
    if guarded:
        cursor.execute("release savepoint pgshift_undoable")


def relation_exists(cursor: Any, relation: str) -> bool:
    """Whether a relation exists.

    Args:
        cursor: An open cursor.
        relation: The relation's name, quoted and schema-qualified as SQL
            spells it (``"raw"."users"``).
    """
    cursor.execute("select to_regclass(%s) is not null", (relation,))
    return bool(cursor.fetchone()[0])


def schema_comment(cursor: Any, schema: str) -> str | None:
    """A schema's comment ('' when it has none), or None if there is none such.

    pgshift marks the schemas it creates by their comment, and so tells them
    from the team's.
    """
    cursor.execute(
        "select coalesce(obj_description(oid, 'pg_namespace'), '') "
        "from pg_namespace where nspname = %s",
        (schema,),
    )
    row = cursor.fetchone()
    return None if row is None else row[0]


def explain(url: DatabaseUrl, message: str) -> str:
    """Turn a libpq error message into one line with cause and next step.

    Args:
        url: The database that was tried.
        message: libpq's message.

    Returns:
        The explanation; it never contains the password.
    """
    variable = f"{url.side.upper()}_DATABASE_URL"
    cause, step = "the connection failed", f"check {variable}"
    for pattern, words, what_next in _CAUSES:
        if re.search(pattern, message, re.IGNORECASE | re.DOTALL):
            cause, step = words, what_next.format(var=variable)
            break
    first = message.strip().splitlines()[0] if message.strip() else ""
    if url.password:
        first = first.replace(url.password, "***")
    return f"cannot connect to the {url.describe()}: {cause} ({first}). Next: {step}."


def check_connection(url: DatabaseUrl) -> None:
    """Connect, so a bad URL or a pooler stops the run before anything is written.

    Args:
        url: The database to try.

    Raises:
        ConfigError: The connection failed, or it goes through a pooler in
            transaction mode; the message says why and what next.
    """
    timeout = url.params.get("connect_timeout", 10)
    connections = []
    try:
        for _ in range(2):
            connections.append(connect(url, connect_timeout=timeout))
        pooled = shares_server_sessions(*connections)
    except psycopg2.OperationalError as exc:
        raise ConfigError(explain(url, str(exc))) from None
    finally:
        for conn in connections:
            conn.close()
    if pooled:
        raise ConfigError(pooler_message(url))
    if "-pooler" in url.host:
        logger.warning(
            "%s has -pooler in its host name, yet kept one server session per "
            "connection; if the load fails through it, use the direct endpoint "
            "(the host without -pooler)",
            url.describe(),
        )


def shares_server_sessions(first: Any, second: Any, rounds: int = 3) -> bool:
    """Tell whether two connections go through a pooler in transaction mode.

    Each connection asks for its server process a few times, one transaction
    per question. Directly, or through a pooler in session mode, a connection
    keeps one server process from start to end, and no other connection ever
    gets it. A pooler in transaction (or statement) mode gives each
    transaction whichever server session is free: the first connection's
    process changes, or the second connection gets it. PgBouncer hands out
    the server session freed last (the one freed first with
    ``server_round_robin``), so either shows within one round.

    Args:
        first: An open psycopg2 connection.
        second: Another one to the same database.
        rounds: How many rounds to ask before concluding there is no pooler.

    Returns:
        True when the server sessions are shared between connections.
    """
    seen: dict[int, set[int]] = {0: set(), 1: set()}
    for conn in (first, second):
        conn.autocommit = True
    for _ in range(rounds):
        for index, conn in ((0, first), (0, first), (1, second)):
            with conn.cursor() as cursor:
                cursor.execute("select pg_backend_pid()")
                seen[index].add(cursor.fetchone()[0])
        if len(seen[0]) > 1 or len(seen[1]) > 1 or seen[0] & seen[1]:
            return True
    return False


def pooler_message(url: DatabaseUrl) -> str:
    """Say that a URL leads to a pooler in transaction mode, and what to do.

    Args:
        url: The database that was tried.

    Returns:
        One line naming the side, what breaks and the direct endpoint to use.
    """
    variable = f"{url.side.upper()}_DATABASE_URL"
    direct = (
        "the host without -pooler"
        if "-pooler" in url.host
        else "the database server's own host and port, not the pooler's"
    )
    return (
        f"cannot use the {url.describe()}: it goes through a connection pooler "
        "in transaction mode (one connection was served by several server "
        "sessions), which pgshift does not support: it relies on each "
        "connection keeping one server session, and PgBouncer refuses dlt's "
        f"search_path startup option. Next: point {variable} at the direct endpoint "
        f"({direct})."
    )
