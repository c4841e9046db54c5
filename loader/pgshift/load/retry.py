"""When a failed load is worth another attempt, and how to say why it failed.

A dropped connection or a server restart on either side is transient: the
load starts over from a new snapshot. Authentication, configuration and
permission errors never are, however they are reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pgshift.settings import Settings

RETRY_DELAYS = (2.0, 8.0)
"""Seconds to wait before the second and the third (last) attempt of a load."""

_TRANSIENT = re.compile(
    r"server closed the connection unexpectedly|connection reset|"
    r"terminating connection|connection already closed|"
    r"could not receive data from server|could not send data to server|"
    r"SSL SYSCALL error|broken pipe|the database system is (starting up|"
    r"shutting down|in recovery mode)|connection refused|"
    r"invalid snapshot identifier|connection to server .* failed|"
    r"error with status PGRES_COPY_BOTH and no message",
    re.IGNORECASE,
)
"""Failures that another attempt can get past: a dropped connection, a
server restart; a replication connection the server ended (its
wal_sender_timeout), which libpq reports without a message."""

_PERMANENT = re.compile(
    r"password authentication failed|no pg_hba\.conf entry|"
    r"unsupported startup parameter|does not exist|permission denied|"
    r"certificate|authentication|row-level security",
    re.IGNORECASE,
)
"""Failures no attempt gets past, even when reported as a failed connection
("connection to server ... failed: FATAL: password authentication failed"),
or a table the source user may read only in part ("query would be affected
by row-level security policy")."""


class LoadError(RuntimeError):
    """A load failed for a reason another attempt would not get past."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield an exception and everything it wraps, dlt's step failures too."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [
            getattr(current, "exception", None),
            current.__cause__,
            None if current.__suppress_context__ else current.__context__,
        ]


def is_transient(exc: BaseException) -> bool:
    """Tell whether a failed load may succeed if run again from the start.

    Authentication and configuration errors never are, however they are
    reported.
    """
    messages = [str(cause) for cause in causes(exc)]
    if any(_PERMANENT.search(message) for message in messages):
        return False
    return any(_TRANSIENT.search(message) for message in messages)


def summary(exc: BaseException, settings: Settings) -> str:
    """The innermost cause of a failure, in one line, without any password."""
    innermost = list(causes(exc))[-1]
    lines = str(innermost).strip().splitlines() or [type(innermost).__name__]
    line = lines[0]
    for url in (settings.source, settings.target):
        if url is not None and url.password:
            line = line.replace(url.password, "***")
    return line
