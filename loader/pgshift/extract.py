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
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
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

    def fingerprint(self, table: Table) -> tuple[int, str]:
        """Count a table's rows and checksum its content, as the snapshot sees it.

        Args:
            table: The table.

        Returns:
            (row count, content checksum); see ``pgshift.checksum``.
        """
        relation = sql.Identifier(table.schema, table.name).as_string(self.cursor)
        columns = [(c.name, c.data_type) for c in table.columns]
        self.cursor.execute(checksum_sql(relation, columns))
        rows, checksum = self.cursor.fetchone()
        return rows, checksum

    def read_catalog(self, schema: str) -> Catalog:
        """Read the source catalog as the snapshot sees it."""
        return read_catalog(self.cursor, schema)


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


def snapshot_source(
    source: DatabaseUrl,
    schema: str,
    table_names: Sequence[str],
    snapshot: Snapshot,
    *,
    batch_size: int = 100_000,
) -> Any:
    """Build the dlt source that reads the given tables inside the snapshot.

    Args:
        source: The source database.
        schema: The source schema.
        table_names: The tables to read.
        snapshot: The exported snapshot every read joins.
        batch_size: Rows per Arrow batch; bounds memory per table.

    Returns:
        A dlt source with one resource per table.
    """
    from dlt.sources.sql_database import sql_database

    return sql_database(
        source.url("postgresql+psycopg2"),
        schema=schema,
        table_names=list(table_names),
        backend="connectorx",
        reflection_level="minimal",
        defer_table_reflect=False,
        query_adapter_callback=text_select,
        table_adapter_callback=text_columns,
        chunk_size=batch_size,
        backend_kwargs={
            "conn": source.url(),
            "return_type": "arrow_stream",
            "batch_size": batch_size,
            "pre_execution_query": snapshot.begin_statements(),
        },
    )
