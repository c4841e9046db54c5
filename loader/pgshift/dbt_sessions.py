"""One PostgreSQL session per dbt thread for a whole command, not one per node.

dbt closes a thread's connection when each node ends, so every model and
every test of a build starts a new server process, which reads its catalog
caches in again before its first statement. At two nodes per table that is
most of what a build of many small tables spends outside its own SQL
(docs/benchmarks.md, "One session per dbt thread").

``keep_sessions`` makes the release at the end of a node keep the session
instead: a transaction the node left open is rolled back, as dbt's close
would, and a session that broke or cannot be rolled back is closed as
before, so the next node opens a new one. Nothing else of a session
outlives its node: pgshift's macros set options for their transaction only
(``set_config(..., true)``) and make their temporary tables ``on commit
drop``. dbt closes every session at the end of the command.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

_KEPT = "_pgshift_keeps_sessions"


def keep_sessions() -> None:
    """Have dbt-postgres keep each thread's session between nodes (idempotent)."""
    from dbt.adapters.contracts.connection import ConnectionState
    from dbt.adapters.postgres.connections import PostgresConnectionManager
    from psycopg2.extensions import (
        TRANSACTION_STATUS_IDLE,
        TRANSACTION_STATUS_INERROR,
        TRANSACTION_STATUS_INTRANS,
    )

    if getattr(PostgresConnectionManager, _KEPT, False):
        return
    close_after_node = PostgresConnectionManager.release

    def release(self: Any) -> None:
        with self.lock:
            connection = self.get_if_exists()
        if connection is None:
            return
        handle = connection.handle
        try:
            status = (
                handle.get_transaction_status()
                if connection.state == ConnectionState.OPEN and not handle.closed
                else None
            )
            if status in (
                TRANSACTION_STATUS_IDLE,
                TRANSACTION_STATUS_INTRANS,
                TRANSACTION_STATUS_INERROR,
            ):
                if status != TRANSACTION_STATUS_IDLE:
                    handle.rollback()
                connection.transaction_open = False
                return
        except Exception:  # a broken session: closed below, like any other
            logger.debug("closing a dbt session that could not be kept", exc_info=True)
        close_after_node(self)

    PostgresConnectionManager.release = release  # type: ignore[method-assign]
    setattr(PostgresConnectionManager, _KEPT, True)
