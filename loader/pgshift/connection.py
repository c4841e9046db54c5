"""Connect once before anything is written, and explain failures in words.

A failed connection ends the run with exit code 2 and one message naming the
side (source or target), host, port, database and user, the cause in words
and the next step. The password is never part of it.
"""

from __future__ import annotations

import logging
import re

import psycopg2

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
    """Connect once, so a bad URL stops the run before anything is written.

    Args:
        url: The database to try.

    Raises:
        ConfigError: The connection failed; the message says why and what next.
    """
    if "-pooler" in url.host:
        logger.warning(
            "%s goes through a connection pooler (PgBouncer in transaction "
            "mode): exported snapshots, session settings and dbt's multi-"
            "statement transactions do not survive it; use the direct "
            "endpoint (the host without -pooler)",
            url.describe(),
        )
    try:
        psycopg2.connect(**{"connect_timeout": 10, **url.connect_kwargs()}).close()
    except psycopg2.OperationalError as exc:
        raise ConfigError(explain(url, str(exc))) from None
