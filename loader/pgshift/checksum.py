"""Order-independent content checksums of a table, comparable across databases.

A table's checksum is the sum, as an exact numeric, of a 64-bit hash of each
row's text form. A sum is commutative, so no sort is needed and the same rows
give the same figure in any physical order; a changed, missing or duplicated
row changes it.

The hash is PostgreSQL's ``hashtextextended(text, 0)``, the 64-bit hash that
hash partitioning relies on: stable across PostgreSQL versions (from 11), and
about twice as fast as md5, whose cryptographic strength a checksum against
accidental loss does not need. It depends on the server's byte order, so
``hash_probe_sql`` lets the loader check that source and target agree before
anything is written (every mainstream platform is little-endian).

The row's text form is PostgreSQL's output of ``row(col1, col2, ...)``, with
timestamptz values shifted to UTC so the figure does not depend on the
session's time zone, and xml values cast to text (``XML_TEXT``). The source table and the final table give the same
text for the same values: same types, same column order, names do not enter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgshift.sqlident import quote_ident

TEXT_SETTINGS = {
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "row_security": "off",
}
"""Settings of every source transaction whose rows are read or checksummed
(the load's, verify's of the source after a cutover): every type's text
output is unambiguous, and a read of a table whose row-level security
policies apply to the user fails instead of returning only the rows they
let through (``pgshift.catalog.ROW_SECURITY_REFUSAL``), as under pg_dump."""

TIMESTAMPTZ = "timestamp with time zone"

XML_TEXT = {"xml": "text", "xml[]": "text[]"}
"""An xml value is hashed as its cast to text, which keeps the document as
stored: its output function, which a row's text form would use, leaves out
an XML declaration (``<?xml version="1.0"?>``), and a lost declaration would
go unseen."""


def row_expression(columns: Sequence[tuple[str, str]], alias: str = "t") -> str:
    """Build the SQL for one row's text form.

    Args:
        columns: (column name, data type) in table order.
        alias: The table alias the columns are read from.

    Returns:
        An SQL expression of type text.
    """
    parts = column_values(columns, alias)
    if not parts:
        return "''"
    return f"row({', '.join(parts)})::text"


def column_values(columns: Sequence[tuple[str, str]], alias: str = "t") -> list[str]:
    """Each column as a row's text form holds it (a timestamptz in UTC)."""
    parts = []
    for name, data_type in columns:
        ref = f"{alias}.{quote_ident(name)}"
        if data_type.startswith("timestamp") and data_type.endswith(TIMESTAMPTZ[9:]):
            ref = f"({ref} at time zone 'UTC')"
        elif data_type in XML_TEXT:
            ref = f"{ref}::{XML_TEXT[data_type]}"
        parts.append(ref)
    return parts


HASH_PROBE_SQL = "select hashtextextended('pgshift', 0)"
"""A query giving the hash of a fixed text: equal on servers whose checksums agree."""


def checksum_expression(columns: Sequence[tuple[str, str]]) -> str:
    """Build the SQL aggregate giving a table's checksum as text.

    Args:
        columns: (column name, data type) in table order, read from alias t.

    Returns:
        An SQL aggregate expression of type text ('0' for no rows).
    """
    return f"coalesce(sum(hashtextextended({row_expression(columns)}, 0)), 0)::text"


def checksum_sql(relation: str, columns: Sequence[tuple[str, str]]) -> str:
    """Build a query returning (row count, checksum as text) for a relation.

    Args:
        relation: The relation, already quoted (``"public"."users"``).
        columns: (column name, data type) in table order.

    Returns:
        The query.
    """
    return f"select count(*), {checksum_expression(columns)} from {relation} as t"


def fingerprint(
    cursor: Any, schema: str, table: str, columns: Sequence[tuple[str, str]]
) -> tuple[int, str]:
    """Count a table's rows and checksum its content, in one scan.

    The load's manifest figures, and verify's of the source after a cutover.
    """
    cursor.execute(checksum_sql(f"{quote_ident(schema)}.{quote_ident(table)}", columns))
    rows, checksum = cursor.fetchone()
    return int(rows), str(checksum)
