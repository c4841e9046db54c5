"""dlt's PostgreSQL destination, with names and CSV load files kept exact.

The extract writes each range of a source table as a CSV file with
PostgreSQL's own ``COPY ... TO STDOUT (FORMAT csv, HEADER)``: a NULL is an
unquoted empty field, an empty string a quoted one (``""``). dlt's own CSV
job copies with ``FORCE_NULL`` on every nullable column, which turns both
into NULL, and splits the header line on commas. ``RawCsvCopyJob`` copies
the file as written, with the column list from a properly parsed header,
so the target's ``COPY ... FROM STDIN (FORMAT csv)`` reads back exactly the
values the source wrote.

``ExactNaming`` keeps every table and column name byte for byte, where
dlt's ``direct`` naming still strips spaces at either end and turns quotes,
line breaks and ``▶`` into ``_``.
"""

from __future__ import annotations

import csv
import io
import threading
from typing import IO, Any

from dlt.common.destination.client import LoadJob, RunnableLoadJob
from dlt.common.normalizers.naming.direct import NamingConvention as DirectNaming
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations import postgres
from dlt.destinations.impl.postgres.postgres import PostgresClient
from psycopg2 import sql
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from pgshift.load.extract import COPY_OPTIONS

REPLACE_STRATEGY = "truncate-and-insert"
"""How dlt replaces a raw table: emptied in place before its files are
copied in (no staging dataset, no follow-up job)."""

COPY_BUFFER_BYTES = 2**20
"""Bytes handed to the server per COPY message."""


class ExactNaming(DirectNaming):  # type: ignore[misc]
    """dlt naming that keeps every identifier exactly as the source has it.

    A PostgreSQL name may hold any character but NUL: the raw tables take
    the source's names unchanged, and the staging views select them by
    those names. Names are never paths here (the load nests nothing), so
    ``▶``, dlt's path separator, is an ordinary character too.
    """

    def normalize_identifier(self, identifier: str) -> str:
        """Return the identifier unchanged; an empty one is refused."""
        if not identifier:
            raise ValueError(f"not an identifier: {identifier!r}")
        return self.shorten_identifier(identifier, identifier, self.max_length)

    def normalize_path(self, path: str) -> str:
        """Return the name unchanged: a name is never a path here."""
        return self.normalize_identifier(path)

    def normalize_tables_path(self, path: str) -> str:
        """Return the table name unchanged: a name is never a path here."""
        return self.normalize_table_identifier(path)


def read_csv_header(handle: IO[bytes]) -> list[str]:
    """Read the header record of a CSV file, leaving the file at the first row.

    A quoted column name may hold commas, quotes and line breaks; a record
    is complete once its quotes are balanced (inner ones are doubled).

    Args:
        handle: The file, at its start.

    Returns:
        The column names.

    Raises:
        ValueError: The file ends inside its header.
    """
    record = b""
    while True:
        line = handle.readline()
        if not line:
            raise ValueError("the load file ends inside its header")
        record += line
        if record.count(b'"') % 2 == 0:
            break
    return next(csv.reader(io.StringIO(record.decode("utf-8"), newline="")))


class RawCsvCopyJob(RunnableLoadJob):  # type: ignore[misc]
    """Copy one CSV load file into its raw table, NULL and '' kept apart.

    No follow-up jobs: raw tables are replaced by truncating them before the
    load (``REPLACE_STRATEGY``), where only dlt's staging strategies and
    merges need a job after a table's files. Without them dlt skips
    listing every job of the package each time one completes.
    """

    _job_client: PostgresClient

    def run(self) -> None:
        """Copy the file's rows in one transaction."""
        sql_client = self._job_client.sql_client
        table = sql.SQL(sql_client.make_qualified_table_name(self.load_table_name))
        with open(self._file_path, "rb") as handle:
            columns = read_csv_header(handle)
            statement = sql.SQL("copy {} ({}) from stdin with ({})").format(
                table,
                sql.SQL(", ").join(sql.Identifier(name) for name in columns),
                sql.SQL(COPY_OPTIONS),
            )
            with (
                sql_client.begin_transaction(),
                sql_client.native_connection.cursor() as cursor,
            ):
                cursor.copy_expert(statement, handle, size=COPY_BUFFER_BYTES)


class _IdleSessions:
    """Target sessions that one load job hands on to the next.

    dlt opens a session for every job and closes it after: a server process
    started per load file, 300 of them for 300 small tables. A session goes
    back here only when it is idle (no transaction, autocommit on, as dlt
    opens it), and only to jobs of the same dataset, whose search path it
    was opened with. ``close`` ends them all when the load ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[str, Any]] = []

    def take(self, dataset: str) -> Any:
        with self._lock:
            for index, (name, handle) in enumerate(self._idle):
                if name == dataset:
                    del self._idle[index]
                    return handle
        return None

    def give_back(self, dataset: str, handle: Any) -> bool:
        sound = (
            not handle.closed
            and handle.autocommit
            and handle.get_transaction_status() == TRANSACTION_STATUS_IDLE
        )
        if sound:
            with self._lock:
                self._idle.append((dataset, handle))
        return bool(sound)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, handle in idle:
            handle.close()


_idle_sessions = _IdleSessions()


def close_idle_sessions() -> None:
    """Close the target sessions the load's jobs left idle."""
    _idle_sessions.close()


class RawClient(PostgresClient):  # type: ignore[misc]
    """dlt's PostgreSQL client, with CSV files copied by ``RawCsvCopyJob``.

    Raw tables are created UNLOGGED (``pgshift.load._unlog`` says why), so
    that a new table need not be rewritten before its rows go in.
    """

    def __enter__(self) -> RawClient:
        """Take an idle session of an earlier job, or open one."""
        client = self.sql_client
        handle = _idle_sessions.take(client.fully_qualified_dataset_name())
        if handle is None:
            return super().__enter__()  # type: ignore[no-any-return]
        client._conn = handle
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leave the session for the next job if it is idle and sound."""
        client = self.sql_client
        handle = client._conn
        if handle is not None and _idle_sessions.give_back(
            client.fully_qualified_dataset_name(), handle
        ):
            client._conn = None
            return
        super().__exit__(*exc_info)

    def _make_create_table(self, qualified_name: str, table: Any) -> str:
        """``CREATE UNLOGGED TABLE`` for a raw table; dlt's own stay logged."""
        statement: str = super()._make_create_table(qualified_name, table)
        if table["name"] in self.schema.dlt_table_names():
            return statement
        return statement.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)

    def create_load_job(
        self, table: Any, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        """Return the exact CSV job for CSV files, dlt's own job otherwise."""
        if ParsedLoadJobFileName.parse(file_path).file_format == "csv":
            return RawCsvCopyJob(file_path)
        return super().create_load_job(table, file_path, load_id, restore)


class raw_postgres(postgres):  # type: ignore[misc]  # noqa: N801 (dlt's naming)
    """dlt's ``postgres`` destination factory, loading CSV with ``RawClient``."""

    @property
    def client_class(self) -> type[RawClient]:
        """The job client the pipeline loads with."""
        return RawClient
