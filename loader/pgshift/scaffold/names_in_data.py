"""Table names the application keeps as data, which the rename leaves behind.

Some applications look their own tables up by names they store in rows:
Directus's ``directus_collections.collection``, n8n's data tables, a
registry of report tables. The rename changes the table (``blogPosts``
becomes ``blog_posts``) but not the rows that name it, so on the target such
an application looks for a table that is no longer there, while every count
and checksum passes. Scaffold cannot know what a value means; it can see a
column whose values are the names of migrated tables the rename changes,
and say so before anything is built.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.connection import transaction
from pgshift.mapping import NameMap
from pgshift.settings import Settings
from pgshift.sqlident import quote_ident

logger = logging.getLogger(__name__)

LARGEST_TABLE_READ = 8 * 1024 * 1024
"""Bigger tables are not read: registries of names are small."""

TIME_BUDGET = 30.0
"""Seconds of reading, all tables together, after which the rest are not read."""

SHOWN = 5
"""Names shown per column."""

_COLUMNS = """
select c.relname, a.attname
from pg_class c
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where c.relnamespace = to_regnamespace(%(schema)s)
  and c.relkind = 'r' and not c.relispartition
  and c.relname = any(%(tables)s)
  and pg_table_size(c.oid) <= %(largest)s
  and a.atttypid = any(array['text', 'varchar', 'bpchar', 'name']::regtype[])
  and has_column_privilege(c.oid, a.attnum, 'SELECT')
order by 1, a.attnum
"""


def names_in_data_notes(settings: Settings, names: NameMap) -> list[str]:
    """A note per column of the source whose values name tables (or columns) renamed.

    Only the migrated tables of at most ``LARGEST_TABLE_READ`` bytes are
    read, each in one scan of its text columns, for ``TIME_BUDGET`` seconds
    at most in all; a table the source user may not read is passed over.

    Args:
        settings: The run settings (the source is read).
        names: The name map scaffold made.

    Returns:
        One line per such column, naming the values and what to do.
    """
    renamed = {
        table.source: table.target
        for table in names.tables.values()
        if table.target != table.source
    }
    renamed_columns: dict[str, str] = {}
    for table in names.tables.values():
        for source, target in table.columns.items():
            if target != source:
                renamed_columns.setdefault(source, target)
    wanted = [*renamed, *renamed_columns]
    if not wanted:
        return []
    found: dict[tuple[str, str], list[str]] = {}
    deadline = time.monotonic() + TIME_BUDGET
    with transaction(settings.source_required, readonly=True) as cursor:
        # A production source: no read here may hold it up.
        cursor.execute("set local statement_timeout = '10s'")
        cursor.execute(
            _COLUMNS,
            {
                "schema": quote_ident(names.source_schema),
                "tables": list(names.tables),
                "largest": LARGEST_TABLE_READ,
            },
        )
        by_table: dict[str, list[str]] = {}
        for table, column in cursor.fetchall():
            by_table.setdefault(table, []).append(column)
        for table, columns in by_table.items():
            if time.monotonic() > deadline:
                logger.info("names in data: %s and later tables not read", table)
                break
            hits = _matching(cursor, names.source_schema, table, columns, wanted)
            for column, value in hits:
                found.setdefault((table, column), []).append(value)
    notes = []
    for (table, column), values in found.items():
        tables = [v for v in values if v in renamed]
        if tables:
            notes.append(_note(table, column, tables, renamed, "tables"))
        # Column names are short words: two or more in one column make a
        # registry of them (NocoDB's nc_columns_v2), one may be chance.
        others = [v for v in values if v not in renamed]
        if len(others) >= 2:
            notes.append(_note(table, column, others, renamed_columns, "columns"))
    return notes


def _matching(
    cursor: Any, schema: str, table: str, columns: list[str], renamed: list[str]
) -> list[tuple[str, str]]:
    """(column, value) for the renamed names a table's columns hold."""
    pairs = sql.SQL(", ").join(
        sql.SQL("({}, {}::text)").format(sql.Literal(c), sql.Identifier(c))
        for c in columns
    )
    # Everything inline, nothing passed as a parameter: a name holding `%`
    # would otherwise read as a placeholder.
    statement = sql.SQL(
        "select distinct c, v from (select x.c, x.v from {table} as t "
        "cross join lateral (values {pairs}) as x(c, v) where x.v = any({names}) "
        "limit 1000) as hits order by 1, 2"
    ).format(
        table=sql.Identifier(schema, table),
        pairs=pairs,
        names=sql.SQL("{}::text[]").format(sql.Literal(renamed)),
    )
    cursor.execute("savepoint names_in_data")
    try:
        cursor.execute(statement)
    except psycopg2.Error:
        cursor.execute("rollback to savepoint names_in_data")
        return []
    return [(column, value) for column, value in cursor.fetchall()]


def _note(
    table: str, column: str, values: list[str], renamed: dict[str, str], kind: str
) -> str:
    shown = ", ".join(f"{v} (becomes {renamed[v]})" for v in values[:SHOWN])
    more = ", …" if len(values) > SHOWN else ""
    return (
        f"note: {table}.{column} holds the names of {kind} the rename changes: "
        f"{shown}{more}. An application that finds its {kind} by names kept "
        "in its rows (Directus's collections, NocoDB's and n8n's tables) "
        "looks for them under these names on the target and finds none, "
        "while every count and checksum passes: keep those names with "
        "`tables:` and `columns:` entries in the override file, then "
        "scaffold again"
    )
