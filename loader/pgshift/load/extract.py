"""Extraction from the source: one exported snapshot, every value as text.

All reads run in read-only REPEATABLE READ transactions that share one
snapshot exported by a holder connection (``pg_export_snapshot()``), as
pg_dump does, so tables read one after the other (or in parallel) see the
database at one instant.

Every column is read as PostgreSQL's own text output (``col::text``) under
fixed session settings (ISO dates, UTC, hex bytea, shortest-exact floats).
That form is lossless for every type: ``'infinity'`` timestamps, NaN and
unbounded numerics, arrays with NULL elements, JSON ``null``, intervals and
bytea all survive, and the staging views cast each value back to its exact
source type. dlt's typed path was measured to lose several of these.

Each table is copied out in ctid ranges of about ``CHUNK_BYTES`` of text
(a handful of rows when rows are megabytes each), each range one
``COPY (select col::text ...) TO STDOUT`` in CSV inside the snapshot,
written straight to a file that dlt imports as a load file of the table's
raw table (``pgshift.destination`` copies it in). The loader holds one row
at a time (psycopg2 hands each row of a COPY to the file it writes), so
memory stays flat whatever the size of a table; the files take as much disk
as the text of the tables, until the load has copied them in and deletes
them.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
from psycopg2 import sql

from pgshift.catalog import (
    Catalog,
    Table,
    raw_table_name,
    read_catalog,
    unreadable_tables,
)
from pgshift.checksum import TEXT_SETTINGS
from pgshift.checksum import fingerprint as _table_fingerprint
from pgshift.connection import connect
from pgshift.progress import Progress
from pgshift.settings import ConfigError, DatabaseUrl

logger = logging.getLogger(__name__)

T = TypeVar("T")

SESSION_SETTINGS = TEXT_SETTINGS
"""Settings of every source transaction of the load (``pgshift.checksum``)."""

CHUNK_BYTES = 64 * 2**20
"""Text bytes per range: one COPY, one load file."""

COPY_OPTIONS = "FORMAT csv, ENCODING 'UTF8'"
"""The CSV dialect of the load files, the same on both ends: a NULL is an
unquoted empty field, an empty string a quoted one."""

WRITE_BUFFER_BYTES = 2**20
"""Bytes buffered before each write to a load file."""

HEAP_TO_TEXT = 1.5
"""Text bytes per heap byte, for a table whose values are all in its heap
(about 1 for the sample's tables; text forms of numbers and timestamps are
longer than their binary forms, tuple headers are not copied)."""

SPLIT_BYTES = 32 * 2**20
"""Text bytes from which a table is read in two ranges at least, so that
two source backends copy it and two target backends load it."""

TID_RANGE_SCAN_VERSION = 140000
"""PostgreSQL reads a ctid range without a full scan from version 14 on."""

_TEXT_TYPES = {"text", "varchar", "bpchar", "name"}
_CTID = re.compile(r"\(\d+,\d+\)")


@dataclass(frozen=True)
class ReadPlan:
    """How one table is read: the ctid ranges, one COPY each.

    Attributes:
        starts: The ctid where each range after the first starts; the first
            range starts at the beginning of the table, the last one runs to
            its end (rows appended after the estimate are read too).
    """

    starts: tuple[str, ...] = ()

    def ranges(self) -> list[tuple[str | None, str | None]]:
        """Return (from, to) ctids of each range; None is an open end."""
        bounds: list[str | None] = [None, *self.starts, None]
        return list(zip(bounds[:-1], bounds[1:], strict=False))


def range_condition(low: str | None, high: str | None) -> str | None:
    """The WHERE condition of one ctid range: ``low <= ctid < high``.

    Args:
        low: The first ctid of the range, or None from the table's start.
        high: The first ctid past the range, or None to the table's end.

    Returns:
        The SQL condition, or None for the whole table.

    Raises:
        ValueError: A bound is not a ctid such as ``(12,3)``.
    """
    terms = []
    for bound, op in ((low, ">="), (high, "<")):
        if bound is None:
            continue
        if not _CTID.fullmatch(bound):
            raise ValueError(f"not a ctid: {bound!r}")
        terms.append(f"ctid {op} '{bound}'::tid")
    return " and ".join(terms) or None


def _width_sql(table: Table) -> sql.Composable:
    """An estimate of one row's text bytes, computed without detoasting.

    ``octet_length`` of text and bytea reads the stored length, also of a
    TOASTed value; bytea's hex form is twice as long. Other types count
    four times their stored size (text forms of numbers and timestamps are
    up to about three times longer; compressed values expand).
    """
    terms = []
    for column in table.columns:
        ident = sql.Identifier(column.name)
        plain = not column.is_array and column.type_kind == "b"
        if plain and column.type_name in _TEXT_TYPES:
            term = sql.SQL("octet_length({})").format(ident)
        elif plain and column.type_name == "bytea":
            term = sql.SQL("2 * octet_length({}) + 2").format(ident)
        else:
            term = sql.SQL("4 * pg_column_size({})").format(ident)
        terms.append(sql.SQL("coalesce({}, 0) + 4").format(term))
    return sql.SQL(" + ").join(terms) if terms else sql.SQL("0")


@dataclass
class Snapshot:
    """An exported snapshot of the source, held open by one connection.

    Attributes:
        snapshot_id: The id other transactions import with SET TRANSACTION SNAPSHOT.
        taken_at: The source server's clock when the snapshot was taken (UTC).
        cursor: A cursor inside the snapshot's transaction. It holds an
            ACCESS SHARE lock on each table it has counted or planned,
            until the load ends, and it reads what another connection of
            the snapshot cannot lock (``lock_shared``).
        guard: Held by whichever thread uses ``cursor``.
    """

    snapshot_id: str
    taken_at: str
    cursor: Any
    guard: threading.Lock = field(default_factory=threading.Lock)

    def begin_statements(self) -> list[str]:
        """Return the statements that put a new transaction into this snapshot."""
        statements = [
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            f"SET TRANSACTION SNAPSHOT '{self.snapshot_id}'",
        ]
        statements += [
            f"SET LOCAL {name} = '{value}'" for name, value in SESSION_SETTINGS.items()
        ]
        return statements

    def reading(self, cursor: Any, table: Table, read: Callable[[Any, Table], T]) -> T:
        """Read a table on a connection of the snapshot, or on the snapshot's own.

        ``read(cursor, table)`` runs on ``cursor`` once it holds the table's
        lock (``lock_shared``); when a request queued ahead refuses it, on
        this snapshot's cursor, which holds it, under the guard.
        """
        if lock_shared(cursor, table):
            return read(cursor, table)
        with self.guard:
            return read(self.cursor, table)

    def count(self, table: Table) -> int:
        """Count a table's rows as the snapshot sees them."""
        with self.guard:
            self.cursor.execute(
                sql.SQL("select count(*) from {}").format(
                    sql.Identifier(table.schema, table.name)
                )
            )
            return int(self.cursor.fetchone()[0])

    def unreadable(self, tables: Sequence[Table]) -> tuple[str, list[str]]:
        """The source role, and the tables it may not read every column of."""
        with self.guard:
            return unreadable_tables(self.cursor, tables)

    def sequence_positions(
        self, catalog: Catalog
    ) -> list[tuple[str, int | None, bool | None]]:
        """(name, last_value, is_called) of every sequence of the catalog.

        Those of identity columns too. Sequences are not transactional: this
        is their position when read, at or past the snapshot's. None where
        the role may not read one (the target then positions it past the
        rows that draw from it).
        """
        positions = []
        names = [s.name for s in catalog.sequences.values()] + [
            c.identity_sequence
            for t in catalog.tables.values()
            for c in t.columns
            if c.identity_sequence
        ]
        for name in names:
            relation = sql.Identifier(catalog.schema, name)
            self.cursor.execute(
                "select has_sequence_privilege(%s, 'SELECT')",
                (relation.as_string(self.cursor),),
            )
            if not self.cursor.fetchone()[0]:
                positions.append((name, None, None))
                continue
            self.cursor.execute(
                sql.SQL("select last_value, is_called from {}").format(relation)
            )
            last, called = self.cursor.fetchone()
            positions.append((name, last, called))
        return positions

    def read_catalog(self, schema: str) -> Catalog:
        """Read the source catalog as the snapshot sees it."""
        return read_catalog(self.cursor, schema)

    def read_plan(self, table: Table, chunk_bytes: int = CHUNK_BYTES) -> ReadPlan:
        """Split a table into ctid ranges (``_read_plan``), holding the guard."""
        with self.guard:
            return self._read_plan(table, chunk_bytes)

    def _read_plan(self, table: Table, chunk_bytes: int) -> ReadPlan:
        """Split a table into ctid ranges of about ``chunk_bytes`` of text.

        A table whose values all sit in its heap is split into equal block
        ranges, from its size on disk. A table with TOASTed values (long
        text, bytea, JSON) is measured row by row inside the snapshot, and
        split where the running sum of its rows' text bytes crosses a
        multiple of ``chunk_bytes``: a range holds few rows when rows are
        megabytes each.

        Args:
            table: The table.
            chunk_bytes: Text bytes per range.

        Returns:
            The plan.
        """
        relation = sql.Identifier(table.schema, table.name)
        self.cursor.execute(
            sql.SQL(
                "select pg_relation_size(c.oid),"
                " coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0),"
                " current_setting('block_size')::bigint,"
                " current_setting('server_version_num')::int"
                " from pg_class c where c.oid = {}::regclass"
            ).format(sql.Literal(relation.as_string(self.cursor)))
        )
        heap_bytes, toast_bytes, block_size, version = self.cursor.fetchone()
        width = _width_sql(table)
        if toast_bytes == 0:
            text_bytes = heap_bytes * HEAP_TO_TEXT
        else:
            self.cursor.execute(
                sql.SQL("select coalesce(sum({}), 0) from {}").format(width, relation)
            )
            text_bytes = float(self.cursor.fetchone()[0])
        if text_bytes >= SPLIT_BYTES:
            # Two ranges at least, so that two backends read the table.
            chunk_bytes = min(chunk_bytes, math.ceil(text_bytes / 2))
        if text_bytes <= chunk_bytes or version < TID_RANGE_SCAN_VERSION:
            return ReadPlan()
        if toast_bytes == 0:
            blocks = heap_bytes // block_size
            step = math.ceil(blocks / math.ceil(text_bytes / chunk_bytes))
            starts = range(step, blocks, step)
            return ReadPlan(tuple(f"({b},0)" for b in starts))
        self.cursor.execute(
            sql.SQL(
                "select distinct on (chunk) at::text as start from ("
                " select ctid as at,"
                " floor((sum(w) over (order by ctid) - w) / {}) as chunk"
                " from (select ctid, {} as w from {}) widths"
                ") chunks where chunk > 0 order by chunk, at"
            ).format(sql.Literal(chunk_bytes), width, relation)
        )
        return ReadPlan(tuple(r[0] for r in self.cursor.fetchall()))


_EXPORTED_AT = """
select %s, coalesce(
    (select a.xact_start::text from pg_locks as l
     join pg_stat_activity as a on a.pid = l.pid
     where l.locktype = 'virtualxid' and l.virtualxid = %s and l.granted
     limit 1),
    now()::text)
"""


def _virtual_xid(snapshot_id: str) -> str | None:
    """The exporting transaction's virtual id (``3/27``) in a snapshot's (``00000003-0000001B-1``)."""
    parts = snapshot_id.split("-")
    try:
        return f"{int(parts[0], 16)}/{int(parts[1], 16)}" if len(parts) == 3 else None
    except ValueError:
        return None


@contextmanager
def open_snapshot(
    source: DatabaseUrl, snapshot_id: str | None = None
) -> Iterator[Snapshot]:
    """Open a read-only transaction on the source and export its snapshot.

    The snapshot stays valid while the context is open.

    Args:
        source: The source database.
        snapshot_id: A snapshot exported elsewhere to read in instead (the
            one a replication slot exported when it was created, which its
            creator keeps valid): this transaction imports it, and every
            other one joins it as usual.

    Yields:
        The snapshot.
    """
    conn = connect(source, application_name="pgshift snapshot")
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        cursor = conn.cursor()
        if snapshot_id is not None:
            # The first statement of the transaction.
            try:
                cursor.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_id,))
            except psycopg2.Error as exc:
                reason = (exc.pgerror or str(exc)).strip().splitlines()[0]
                raise ConfigError(
                    f"the source snapshot {snapshot_id} cannot be read in "
                    f"({reason.removeprefix('ERROR:  ')}): the session that "
                    "exported it must still be open, on this source database "
                    "(`python loader/run.py snapshot` holds one until "
                    "stopped); start it again, and load every schema again "
                    "in the new snapshot"
                ) from None
        for name, value in SESSION_SETTINGS.items():
            cursor.execute("select set_config(%s, %s, true)", (name, value))
        if snapshot_id is None:
            cursor.execute("select pg_export_snapshot(), now()::text")
        else:
            # Taken when its exporter's transaction began, which the source
            # shows to the exporter's role; else, the time of the import.
            cursor.execute(_EXPORTED_AT, (snapshot_id, _virtual_xid(snapshot_id)))
        snapshot_id, taken_at = cursor.fetchone()
        logger.info("exported source snapshot %s at %s", snapshot_id, taken_at)
        yield Snapshot(snapshot_id=snapshot_id, taken_at=taken_at, cursor=cursor)
        conn.rollback()
    finally:
        conn.close()


def hold_snapshot(
    source: DatabaseUrl,
    ready: Callable[[Snapshot], None],
    poll_seconds: float = 30.0,
) -> None:
    """Export a snapshot of the source and keep it valid until interrupted.

    The runs of a database of several schemas, a run each, then read their
    schemas inside it (``--snapshot``), as one run reads its tables, and
    as ``pg_dump --snapshot`` does: their keys into each other's tables
    find the rows they reference, whatever the application wrote between
    the runs. The transaction stays open, with its idle timeout off for
    it; the source keeps the dead rows it could still see until then.

    Args:
        source: The source database.
        ready: Called once the snapshot is exported, with it.
        poll_seconds: How often the connection is checked.

    Raises:
        ConfigError: The connection was lost, and the snapshot with it.
    """
    with open_snapshot(source) as snapshot:
        snapshot.cursor.execute("set local idle_in_transaction_session_timeout = 0")
        ready(snapshot)
        while True:
            time.sleep(poll_seconds)
            try:
                snapshot.cursor.execute("select 1")
            except psycopg2.Error as exc:
                raise ConfigError(
                    f"the connection holding snapshot {snapshot.snapshot_id} "
                    f"was lost ({str(exc).strip()}): a load reading it from now "
                    "on fails; start `snapshot` again, and load every schema "
                    "again in the new one"
                ) from None


def lock_shared(cursor: Any, table: Table) -> bool:
    """Take a table's ACCESS SHARE lock at once on a connection of the snapshot.

    The snapshot's own connection has held that lock since it counted the
    table, so no session can hold a lock that conflicts with it; the only
    thing that can keep it from another connection of ours is a conflicting
    request queued behind the snapshot's (the application's TRUNCATE or
    ALTER TABLE), which waits for the load to end. Waiting behind it would
    wait for ever: the load never ends, and PostgreSQL sees no deadlock
    (the snapshot's connection waits on its client, not on a lock). So the
    lock is asked for without waiting, inside a savepoint that keeps the
    transaction (and its snapshot) usable when it is refused.

    Returns:
        False when a request queued ahead refuses it: the snapshot's own
        connection, which holds the lock, reads the table instead.
    """
    cursor.execute("savepoint pgshift_lock")
    try:
        cursor.execute(
            sql.SQL("lock table {} in access share mode nowait").format(
                sql.Identifier(table.schema, table.name)
            )
        )
    except psycopg2.errors.LockNotAvailable:
        cursor.execute("rollback to savepoint pgshift_lock")
        logger.info(
            "%s: a lock request queued behind the load (TRUNCATE, ALTER "
            "TABLE...) waits for it; the snapshot's connection reads the table",
            table.name,
        )
        return False
    cursor.execute("release savepoint pgshift_lock")
    return True


def fingerprint(cursor: Any, table: Table) -> tuple[int, str]:
    """Count a table's rows and checksum its content (``pgshift.checksum``)."""
    columns = [(c.name, c.data_type) for c in table.columns]
    return _table_fingerprint(cursor, table.schema, table.name, columns)


@contextmanager
def background_fingerprints(
    source: DatabaseUrl, snapshot: Snapshot, tables: Sequence[Table]
) -> Iterator[Future[dict[str, tuple[int, str]]]]:
    """Count and checksum tables inside the snapshot, while the load runs.

    A connection of its own joins the snapshot, so the figures describe the
    very rows the load reads; the load reads and writes meanwhile, and both
    finish sooner than one after the other. Leaving the block early cancels
    the query in progress.

    Args:
        source: The source database.
        snapshot: The exported snapshot.
        tables: The tables.

    Yields:
        The future of table name to (row count, content checksum).
    """
    conn = connect(source, autocommit=True, application_name="pgshift checksums")
    stop = threading.Event()

    def run() -> dict[str, tuple[int, str]]:
        figures = {}
        with conn.cursor() as cursor:
            for statement in snapshot.begin_statements():
                cursor.execute(statement)
            for table in tables:
                if stop.is_set():
                    raise RuntimeError("checksums stopped: the load ended early")
                figures[table.name] = snapshot.reading(cursor, table, fingerprint)
            cursor.execute("ROLLBACK")
        return figures

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pgshift-checksums")
    future = pool.submit(run)
    try:
        yield future
    finally:
        stop.set()
        try:
            if not future.done():
                with contextlib.suppress(psycopg2.Error):
                    conn.cancel()
            pool.shutdown(wait=True)
        finally:
            conn.close()


class SourceCopier:
    """Copies ranges of source tables into CSV files, inside the snapshot.

    ``workers`` connections join the snapshot once and stay in it; each
    range is one ``COPY (select col::text ...) TO STDOUT`` into a file of
    its own, ``workers`` ranges at a time, whatever table they belong to.
    Leaving the block cancels the copies in progress and removes the files
    nobody took.
    """

    def __init__(
        self,
        source: DatabaseUrl,
        snapshot: Snapshot,
        directory: Path,
        workers: int = 1,
    ) -> None:
        """Prepare a copier; entering it opens the connections.

        Args:
            source: The source database.
            snapshot: The exported snapshot every copy joins.
            directory: Where the files are written (on the filesystem of
                dlt's pipeline directory, so that dlt imports them by a hard
                link).
            workers: Copies at a time, each on a source connection of its
                own (``Settings.jobs``).
        """
        self._source = source
        self._snapshot = snapshot
        self._directory = directory
        self._workers = workers
        self._connections: queue.Queue[Any] = queue.Queue()
        self._opened: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        self._files = itertools.count(1)

    def __enter__(self) -> SourceCopier:
        """Open the connections, each in the snapshot, and the workers."""
        self._directory.mkdir(parents=True, exist_ok=True)
        try:
            for _ in range(self._workers):
                conn = connect(
                    self._source, autocommit=True, application_name="pgshift copy"
                )
                self._opened.append(conn)
                with conn.cursor() as cursor:
                    for statement in self._snapshot.begin_statements():
                        cursor.execute(statement)
                self._connections.put(conn)
        except BaseException:
            self._close()
            raise
        self._pool = ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="pgshift-copy"
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Cancel what is still running, close everything, remove the files."""
        self._close()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            for conn in self._opened:
                with contextlib.suppress(psycopg2.Error):
                    conn.cancel()
            self._pool.shutdown(wait=True)
        for conn in self._opened:
            conn.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def submit(self, table: Table, plan: ReadPlan) -> list[Future[tuple[Path, int]]]:
        """Queue the copy of every range of a table.

        Returns:
            Per range, in order, the future of (file, rows in it).
        """
        assert self._pool is not None, "use the copier as a context manager"
        return [
            self._pool.submit(self._copy, table, low, high)
            for low, high in plan.ranges()
        ]

    def _copy(
        self, table: Table, low: str | None, high: str | None
    ) -> tuple[Path, int]:
        path = self._directory / f"{next(self._files):06d}.csv"
        conn = self._connections.get()
        try:
            with conn.cursor() as cursor:
                rows = self._snapshot.reading(
                    cursor, table, lambda on, t: _copy_range(on, t, low, high, path)
                )
        finally:
            self._connections.put(conn)
        return path, rows


def _copy_range(
    cursor: Any, table: Table, low: str | None, high: str | None, path: Path
) -> int:
    """Copy one range of a table into a file; the rows copied."""
    with path.open("wb", buffering=WRITE_BUFFER_BYTES) as out:
        cursor.copy_expert(copy_out_sql(table, low, high), out)
        return int(cursor.rowcount)


def copy_out_sql(
    table: Table, low: str | None = None, high: str | None = None
) -> sql.Composed:
    """The COPY that writes one ctid range of a table as CSV of text values.

    Every column is read as ``col::text`` under the snapshot's session
    settings, with a header of the source's column names.
    """
    query = sql.SQL("select {} from {}").format(
        sql.SQL(", ").join(
            sql.SQL("{0}::text as {0}").format(sql.Identifier(c.name))
            for c in table.columns
        ),
        sql.Identifier(table.schema, table.name),
    )
    condition = range_condition(low, high)
    if condition is not None:
        query = sql.SQL("{} where {}").format(query, sql.SQL(condition))
    return sql.SQL("copy ({}) to stdout with ({}, HEADER true)").format(
        query, sql.SQL(COPY_OPTIONS)
    )


def _import_files(
    copies: list[Future[tuple[Path, int]]], copied: Progress | None = None
) -> Iterator[Any]:
    """Hand each copied range's file to dlt as a CSV load file, in order.

    The table counts as copied (``copied``) once its last file is handed over.
    """
    import dlt

    for copy in copies:
        path, count = copy.result()
        if count:
            yield dlt.mark.with_file_import(str(path), "csv", count)
        # dlt took the file by a hard link (or a copy) of its own.
        path.unlink(missing_ok=True)
    if copied is not None:
        copied.advance()


def snapshot_source(
    tables: Sequence[Table],
    snapshot: Snapshot,
    copier: SourceCopier,
    copied: Progress | None = None,
) -> Any:
    """Build the dlt source that reads the given tables inside the snapshot.

    Every range of every table is queued on the copier at once, so its
    workers go from one table to the next while dlt takes the files in
    table order; each file is handed to dlt as a CSV load file of its table
    (``dlt.mark.with_file_import``), whose raw table has one nullable text
    column per source column.

    Args:
        tables: The tables to read.
        snapshot: The exported snapshot.
        copier: The open copier.
        copied: Counts each table once its ranges are all copied.

    Returns:
        A dlt source with one resource per table.
    """
    import dlt

    resources = []
    for table in tables:
        plan = snapshot.read_plan(table)
        logger.info("%s: %d range(s)", table.name, len(plan.starts) + 1)
        copies = copier.submit(table, plan)

        resources.append(
            dlt.resource(
                _import_files(copies, copied),
                name=raw_table_name(table.name),
                table_name=raw_table_name(table.name),
                write_disposition="replace",
                file_format="csv",
                columns={
                    c.name: {"data_type": "text", "nullable": True}
                    for c in table.columns
                },
            )
        )

    @dlt.source(name="source", max_table_nesting=0)
    def source() -> Any:
        return resources

    return source()
