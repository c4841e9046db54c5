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

Memory stays bounded whatever the size of a table or of its rows. ConnectorX
queues the Arrow batches of a query without limit, as fast as the source
sends them, so no query may ask for much: each table is read in ctid ranges
of at most about ``CHUNK_BYTES`` of text (a handful of rows when rows are
megabytes each), each range one query inside the same snapshot, the next
range read while the current one is written out, in Arrow batches of about
``BATCH_BYTES``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.catalog import Catalog, Table, read_catalog
from pgshift.checksum import checksum_sql
from pgshift.settings import DatabaseUrl

logger = logging.getLogger(__name__)

SESSION_SETTINGS = {
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}
"""Session settings under which every type's text output is unambiguous."""

BATCH_BYTES = 16 * 2**20
"""Text bytes per Arrow batch (and per row group of the load files)."""

CHUNK_BYTES = 64 * 2**20
"""Text bytes per query: what ConnectorX may hold before dlt writes it out."""

MAX_BATCH_ROWS = 100_000
"""Rows per Arrow batch of a narrow table; more only adds per-batch memory."""

HEAP_TO_TEXT = 1.5
"""Text bytes per heap byte, for a table whose values are all in its heap
(about 1 for the sample's tables; text forms of numbers and timestamps are
longer than their binary forms, tuple headers are not copied)."""

SPLIT_BYTES = 2 * BATCH_BYTES
"""Text bytes from which a table is read in two ranges at least."""

TID_RANGE_SCAN_VERSION = 140000
"""PostgreSQL reads a ctid range without a full scan from version 14 on."""

_TEXT_TYPES = {"text", "varchar", "bpchar", "name"}
_CTID = re.compile(r"\(\d+,\d+\)")


@dataclass(frozen=True)
class ReadPlan:
    """How one table is read: batch size and the ctid ranges, one query each.

    Attributes:
        batch_rows: Rows per Arrow batch.
        starts: The ctid where each range after the first starts; the first
            range starts at the beginning of the table, the last one runs to
            its end (rows appended after the estimate are read too).
    """

    batch_rows: int
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
        cursor: A cursor inside the snapshot's transaction.
    """

    snapshot_id: str
    taken_at: str
    cursor: Any

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

    def count(self, table: Table) -> int:
        """Count a table's rows as the snapshot sees them."""
        self.cursor.execute(
            sql.SQL("select count(*) from {}").format(
                sql.Identifier(table.schema, table.name)
            )
        )
        return int(self.cursor.fetchone()[0])

    def read_catalog(self, schema: str) -> Catalog:
        """Read the source catalog as the snapshot sees it."""
        return read_catalog(self.cursor, schema)

    def read_plan(
        self, table: Table, rows: int, chunk_bytes: int = CHUNK_BYTES
    ) -> ReadPlan:
        """Split a table into ctid ranges of about ``chunk_bytes`` of text.

        A table whose values all sit in its heap is split into equal block
        ranges, from its size on disk. A table with TOASTed values (long
        text, bytea, JSON) is measured row by row inside the snapshot, and
        split where the running sum of its rows' text bytes crosses a
        multiple of ``chunk_bytes``: a range holds few rows when rows are
        megabytes each.

        Args:
            table: The table.
            rows: Its row count inside the snapshot.
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
        rows = max(rows, 1)
        width = _width_sql(table)
        if toast_bytes == 0:
            text_bytes = heap_bytes * HEAP_TO_TEXT
        else:
            self.cursor.execute(
                sql.SQL("select coalesce(sum({}), 0) from {}").format(width, relation)
            )
            text_bytes = float(self.cursor.fetchone()[0])
        batch_rows = _batch_rows(text_bytes / rows)
        if text_bytes >= SPLIT_BYTES:
            # Two ranges at least, so that two backends read the table.
            chunk_bytes = min(chunk_bytes, math.ceil(text_bytes / 2))
        if text_bytes <= chunk_bytes or version < TID_RANGE_SCAN_VERSION:
            return ReadPlan(batch_rows)
        if toast_bytes == 0:
            blocks = heap_bytes // block_size
            step = math.ceil(blocks / math.ceil(text_bytes / chunk_bytes))
            starts = range(step, blocks, step)
            return ReadPlan(batch_rows, tuple(f"({b},0)" for b in starts))
        self.cursor.execute(
            sql.SQL(
                "select distinct on (chunk) at::text as start from ("
                " select ctid as at,"
                " floor((sum(w) over (order by ctid) - w) / {}) as chunk"
                " from (select ctid, {} as w from {}) widths"
                ") chunks where chunk > 0 order by chunk, at"
            ).format(sql.Literal(chunk_bytes), width, relation)
        )
        return ReadPlan(batch_rows, tuple(r[0] for r in self.cursor.fetchall()))


@contextmanager
def open_snapshot(source: DatabaseUrl) -> Iterator[Snapshot]:
    """Open a read-only transaction on the source and export its snapshot.

    The snapshot stays valid while the context is open.

    Args:
        source: The source database.

    Yields:
        The snapshot.
    """
    conn = psycopg2.connect(
        **source.connect_kwargs(), application_name="pgshift snapshot"
    )
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        cursor = conn.cursor()
        for name, value in SESSION_SETTINGS.items():
            cursor.execute("select set_config(%s, %s, true)", (name, value))
        cursor.execute("select pg_export_snapshot(), now()::text")
        snapshot_id, taken_at = cursor.fetchone()
        logger.info("exported source snapshot %s at %s", snapshot_id, taken_at)
        yield Snapshot(snapshot_id=snapshot_id, taken_at=taken_at, cursor=cursor)
        conn.rollback()
    finally:
        conn.close()


def _fingerprint(cursor: Any, table: Table) -> tuple[int, str]:
    """Count a table's rows and checksum its content (``pgshift.checksum``)."""
    relation = sql.Identifier(table.schema, table.name).as_string(cursor)
    columns = [(c.name, c.data_type) for c in table.columns]
    cursor.execute(checksum_sql(relation, columns))
    rows, checksum = cursor.fetchone()
    return int(rows), str(checksum)


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
    conn = psycopg2.connect(
        **source.connect_kwargs(), application_name="pgshift checksums"
    )
    conn.autocommit = True
    stop = threading.Event()

    def run() -> dict[str, tuple[int, str]]:
        figures = {}
        with conn.cursor() as cursor:
            for statement in snapshot.begin_statements():
                cursor.execute(statement)
            for table in tables:
                if stop.is_set():
                    raise RuntimeError("checksums stopped: the load ended early")
                figures[table.name] = _fingerprint(cursor, table)
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


def _batch_rows(row_bytes: float) -> int:
    """Rows per Arrow batch for rows of about this many text bytes."""
    return max(1, min(MAX_BATCH_ROWS, int(BATCH_BYTES / max(row_bytes, 1.0))))


def text_select(query: Any, table: Any) -> Any:
    """Rewrite dlt's table query to read every column as its text output.

    Args:
        query: The SQLAlchemy select dlt built for the table.
        table: The reflected SQLAlchemy table.

    Returns:
        A select of ``CAST(col AS TEXT) AS col`` for every column, in order.
    """
    import sqlalchemy as sa

    columns = [sa.cast(col, sa.Text).label(col.name) for col in table.columns]
    return sa.select(*columns).select_from(table)


def text_columns(table: Any) -> Any:
    """Declare every reflected column as nullable text, as it lands in raw."""
    import sqlalchemy as sa

    for col in table.columns:
        col.type = sa.Text()
        col.nullable = True
    return table


class SourceReadError(RuntimeError):
    """ConnectorX failed to read a range of a source table."""


def _range_loader(plans: dict[str, ReadPlan]) -> type:
    """A dlt ConnectorX table loader that reads each table range by range.

    Every range is one ConnectorX query inside the snapshot. ConnectorX
    streams a query's batches from a thread of its own as soon as the query
    is opened, so while one range is written out the next one is already
    being read: two source backends work at once, and at most two ranges
    are in memory.
    """
    import sqlalchemy as sa
    from dlt.sources.sql_database.helpers import ConnectorXTableLoader

    class RangeLoader(ConnectorXTableLoader):  # type: ignore[misc]
        def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Any:
            import connectorx as cx
            import pyarrow as pa

            plan = plans[self.table.name]
            kwargs = {
                "protocol": "binary",
                **(backend_kwargs or {}),
                "return_type": "arrow_stream",
                "batch_size": plan.batch_rows,
            }
            conn = kwargs.pop("conn")

            def open_range(low: str | None, high: str | None) -> Any:
                query = self.make_query()
                condition = range_condition(low, high)
                if condition is not None:
                    query = query.where(sa.text(condition))
                return cx.read_sql(conn, self.compile_query(query), **kwargs)

            ranges = iter(plan.ranges())
            try:
                reading = [open_range(*r) for r in itertools.islice(ranges, 2)]
                while reading:
                    for batch in reading.pop(0):
                        # ConnectorX ends a query whose rows fill its last
                        # batch with an empty one; alone in a load file,
                        # dlt's copy of that file would fail.
                        if batch.num_rows:
                            yield pa.Table.from_batches([batch])
                    reading += [open_range(*r) for r in itertools.islice(ranges, 1)]
            except BaseException as exc:
                # ConnectorX reports a failed read (a dropped connection
                # too) as a Rust panic, which is no Exception: neither dlt
                # nor the load's retry would see it.
                if type(exc).__name__ == "PanicException":
                    raise SourceReadError(str(exc)) from None
                raise

    return RangeLoader


def snapshot_source(
    source: DatabaseUrl,
    schema: str,
    tables: Sequence[Table],
    snapshot: Snapshot,
    rows: dict[str, int],
) -> Any:
    """Build the dlt source that reads the given tables inside the snapshot.

    Args:
        source: The source database.
        schema: The source schema.
        tables: The tables to read.
        snapshot: The exported snapshot every read joins.
        rows: Table name to its row count inside the snapshot.

    Returns:
        A dlt source with one resource per table.
    """
    from dlt.sources.sql_database import sql_database

    plans = {t.name: snapshot.read_plan(t, rows[t.name]) for t in tables}
    for name, plan in plans.items():
        logger.info(
            "%s: %d range(s), %d rows per batch",
            name,
            len(plan.starts) + 1,
            plan.batch_rows,
        )
    return sql_database(
        source.url("postgresql+psycopg2"),
        schema=schema,
        table_names=[t.name for t in tables],
        backend="connectorx",
        reflection_level="minimal",
        defer_table_reflect=False,
        query_adapter_callback=text_select,
        table_adapter_callback=text_columns,
        chunk_size=MAX_BATCH_ROWS,
        table_loader_class=_range_loader(plans),
        backend_kwargs={
            "conn": source.url(),
            "return_type": "arrow_stream",
            "pre_execution_query": snapshot.begin_statements(),
        },
    )
