"""Reconciliation: per table, the snapshot's figures against raw and final.

For every table of the load manifest: the rows the source snapshot held, the
rows that landed in raw, the rows in the final table, the final table's
content checksum against the source's, its sequences and its dbt tests. The
final table's checksum is taken over the source's columns, as the name map
calls them on the target, in source order: a column the team added to the
final table is a schema difference (``verify.parity``), not a change of its
content, and a mapped column it lacks fails the table. A table whose
checksum differs is narrowed down to the differing rows (``verify.diff``).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import psycopg2
from psycopg2 import sql

from pgshift.catalog import raw_table_name, row_keys, sequence_end_sql
from pgshift.checksum import checksum_sql
from pgshift.connection import connect, relation_exists, transaction
from pgshift.manifest import (
    BUILT_TABLE,
    REGISTERED_HERE,
    ManifestRow,
    cut_over_by,
    other_source,
)
from pgshift.mapping import MAP_FILE, NameMap, TableMap
from pgshift.progress import Progress, room, some
from pgshift.settings import ConfigError, Settings
from pgshift.sqlident import quote_ident
from pgshift.verify.diff import Side, diff
from pgshift.verify.report import TableReport

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def count_rows(cursor: Any, schema: str, table: str) -> int | None:
    """Count a table's rows; None when the table does not exist."""
    if not relation_exists(cursor, sql.Identifier(schema, table).as_string(cursor)):
        return None
    cursor.execute(
        sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
    )
    return cursor.fetchone()[0]  # type: ignore[no-any-return]


def _fingerprint(
    cursor: Any, relation: str, columns: list[tuple[str, str]]
) -> tuple[int, str]:
    """Row count and content checksum of some columns of a table, in one scan."""
    cursor.execute(checksum_sql(relation, columns))
    rows, checksum = cursor.fetchone()
    return rows, checksum


def _typed(cursor: Any, relation: str, names: list[str]) -> list[tuple[str, str]]:
    """(name, type) of the relation's columns of these names, in their order.

    A name the relation has no column of is left out.
    """
    types = dict(_columns(cursor, relation))
    return [(name, types[name]) for name in names if name in types]


def final_figures(
    cursor: Any, settings: Settings, mapped: TableMap
) -> tuple[int | None, str | None, list[str]]:
    """A final table's rows and content checksum, as the source's are taken.

    The checksum is taken over the source's columns, as the name map calls
    them on the target, in source order: columns the team added are schema
    differences (``verify.parity``), not a change of content.

    Returns:
        (rows, checksum, mapped columns the table lacks): rows None when the
        table does not exist, checksum None when it lacks a column (then
        only its rows are counted).
    """
    final = sql.Identifier(settings.final_schema, mapped.target).as_string(cursor)
    if not relation_exists(cursor, final):
        return None, None, []
    names = list(mapped.columns.values())
    columns = _typed(cursor, final, names)
    missing = [name for name in names if name not in dict(columns)]
    if missing:
        return count_rows(cursor, settings.final_schema, mapped.target), None, missing
    rows, checksum = _fingerprint(cursor, final, columns)
    return rows, checksum, []


_DRAWN_FROM = """
select coalesce(
         case when a.attidentity <> ''
              then pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass
         end,
         (select d.refobjid from pg_attrdef ad
          join pg_depend d on d.classid = 'pg_attrdef'::regclass
           and d.objid = ad.oid and d.refclassid = 'pg_class'::regclass
          where ad.adrelid = a.attrelid and ad.adnum = a.attnum
            and pg_get_expr(ad.adbin, ad.adrelid)
                = 'nextval(''' || replace(d.refobjid::regclass::text, '''', '''''')
                  || '''::regclass)'))
from pg_attribute a where a.attrelid = %s::regclass and a.attname = %s
"""
"""The sequence a column draws its values from: its identity's, or the one
whose ``nextval()`` is its whole default. A sequence only owned by the
column (its default changed since) hands it nothing, and one a default
builds text from (``'INV-' || nextval(...)``) does not bound its values."""


def _sequences(
    cursor: Any, relation: str
) -> list[tuple[str, int, int | None, str, int | None]]:
    """Per column drawing from a sequence (``_DRAWN_FROM``), where it stands.

    (column, next value, edge, "max" or "min", the value at the sequence's
    end that the edge leaves out). The edge is the column's max for an ascending sequence, its min for a
    descending one (None on an empty table): the next value must lie past
    it. Values at the sequence's end (``catalog.sequence_end_sql``: a
    sentinel row holding the largest value it may hand out, or one just
    short of it) are left out: no position lies past them that the
    sequence would not use up at once, and it must lie past the values
    short of them. The furthest of them is given, to be shown, or None.
    """
    out = []
    for column, _ in _columns(cursor, relation):
        cursor.execute(
            "select s.seqrelid::regclass::text, s.seqincrement, "
            "case when s.seqincrement > 0 then "
            + sequence_end_sql("s", ascending=True)
            + " else "
            + sequence_end_sql("s", ascending=False)
            + " end from pg_sequence as s "
            "where s.seqrelid = (" + _DRAWN_FROM + ")",
            (relation, column),
        )
        found = cursor.fetchone()
        if not found:
            continue
        sequence, increment, end = found
        cursor.execute(f"select last_value, is_called from {sequence}")
        last, called = cursor.fetchone()
        edge = "max" if increment > 0 else "min"
        cursor.execute(
            # Two index-friendly lookups rather than one scan of the table.
            sql.SQL(
                "select (select {edge}({c}) from {t} where {c} {short} %s), "
                "(select {edge}({c}) from {t} where not {c} {short} %s)"
            ).format(
                edge=sql.SQL(edge),
                c=sql.Identifier(column),
                short=sql.SQL("<" if increment > 0 else ">"),
                t=sql.SQL(relation),
            ),
            (end, end),
        )
        value, beyond = cursor.fetchone()
        top = None if value is None else int(value)
        out.append(
            (
                column,
                last + increment if called else last,
                top,
                edge,
                None if beyond is None else int(beyond),
            )
        )
    return out


def _columns(cursor: Any, relation: str) -> list[tuple[str, str]]:
    cursor.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum",
        (relation,),
    )
    return [tuple(r) for r in cursor.fetchall()]  # type: ignore[misc]


def _declared_types(settings: Settings, final: str) -> dict[str, str]:
    """The column types a final model declares, from dbt's last manifest.

    The contract's types, which the staging model casts the raw text to.
    Empty when the project holds no manifest (or no such model).
    """
    try:
        manifest = json.loads(
            (settings.project_dir / "target" / "manifest.json").read_text()
        )
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    for node in manifest.get("nodes", {}).values():
        meta = node.get("meta") or {}
        if (
            node.get("resource_type") == "model"
            and meta.get("pgshift") is not None
            and node.get("alias") == final
        ):
            return {
                name: column["data_type"]
                for name, column in (node.get("columns") or {}).items()
                if column.get("data_type")
            }
    return {}


def on_target_connections(
    settings: Settings, items: Sequence[_Item], work: Callable[[Any, _Item], _Result]
) -> list[_Result]:
    """Run ``work(cursor, item)`` for each item, ``settings.jobs`` at a time.

    Each worker thread reads on a read-only target connection of its own,
    opened at its first item and closed at the end.

    Returns:
        The results, in the items' order.
    """
    local = threading.local()
    connections: list[Any] = []
    lock = threading.Lock()

    def run(item: _Item) -> _Result:
        if not hasattr(local, "cursor"):
            conn = connect(settings.target, readonly=True, autocommit=True)
            with lock:
                connections.append(conn)
            local.cursor = conn.cursor()
        return work(local.cursor, item)

    try:
        with ThreadPoolExecutor(settings.jobs) as pool:
            return list(pool.map(run, items))
    finally:
        for conn in connections:
            conn.close()


@dataclasses.dataclass(frozen=True)
class Published:
    """A final table pgshift published, as its last publish recorded it.

    Attributes:
        table: The final table's name.
        built_at: When it was published.
        rows: Its rows then (None: recorded by an older pgshift, or a view).
        checksum: Its content checksum then (None likewise).
        mapped: Its map; the columns published, when they were recorded (a
            name map changed since names others, which the table does not
            have until it is replaced). None for a table the name map has
            no final table of (another source's, or one left out since).
        source_dbname: The source database it was published from (None:
            unknown, recorded by an older pgshift).
        source_schema: The source schema it was published from (None
            likewise).
    """

    table: str
    built_at: datetime
    rows: int | None
    checksum: str | None
    mapped: TableMap | None
    source_dbname: str | None
    source_schema: str | None


def published_tables(settings: Settings, names: NameMap) -> list[Published]:
    """The final tables of this run's final schema that pgshift's registry records.

    The publish records, beside each final table it moved in, the rows and
    checksum it held, its columns and the source database and schema it
    came from (``pgshift_register_tables``); a registry written by an older
    pgshift lacks some of them, read as None.

    Returns:
        One entry per recorded table, by table name (``mapped`` None where
        the name map has no final table of it); empty when nothing was ever
        published.
    """
    registry = sql.Identifier(settings.state_schema, BUILT_TABLE)
    with transaction(settings.target, readonly=True) as cursor:
        if not relation_exists(cursor, registry.as_string(cursor)):
            return []
        cursor.execute(
            sql.SQL(
                "select table_name, built_at, (to_jsonb(r) ->> 'published_rows')"
                "::bigint, to_jsonb(r) ->> 'published_checksum', "
                "to_jsonb(r) -> 'published_columns', "
                "to_jsonb(r) ->> 'source_dbname', to_jsonb(r) ->> 'source_schema' "
                "from {} as r where " + REGISTERED_HERE + " order by 1"
            ).format(registry),
            {"final_schema": settings.final_schema},
        )
        return [
            Published(
                table,
                built_at,
                rows,
                checksum,
                dataclasses.replace(mapped, columns={c: c for c in columns})
                if columns and mapped is not None
                else mapped,
                dbname,
                schema,
            )
            for table, built_at, rows, checksum, columns, dbname, schema in (
                cursor.fetchall()
            )
            for mapped in (names.table_for_target(table),)
        ]


def changed_since_published(
    settings: Settings,
    names: NameMap,
    published: Sequence[Published] | None = None,
) -> list[str]:
    """The final tables that no longer hold what pgshift published in them.

    A table whose rows or checksum over the columns published differ from
    those recorded at its publish (``published_tables``) was written to
    since: by the application, once it runs on the target. A table recorded
    without them (published by an older pgshift, or a view) is not checked.
    The tables are read ``settings.jobs`` at a time, each worker on a
    connection of its own, as verify reads them.

    Args:
        settings: The run settings.
        names: The applied name map.
        published: The registry as ``published_tables`` read it (read here
            when not given).

    Returns:
        One line per changed table: its name, when it was published, and
        its rows then and now.
    """
    if published is None:
        published = published_tables(settings, names)
    recorded = [
        entry
        for entry in published
        if entry.checksum is not None and entry.mapped is not None
    ]

    def check(cursor: Any, entry: Published) -> str | None:
        now_rows, now_checksum, _ = final_figures(cursor, settings, entry.mapped)
        if now_rows is None or (now_rows, now_checksum) == (
            entry.rows,
            entry.checksum,
        ):
            return None
        now = f"{now_rows} now" + (
            ", content changed" if now_rows == entry.rows else ""
        )
        return (
            f"{entry.table} (published {entry.built_at:%Y-%m-%d %H:%M:%S %Z} with "
            f"{entry.rows} rows, {now})"
        )

    return [line for line in on_target_connections(settings, recorded, check) if line]


def describe_source(dbname: str | None, schema: str | None) -> str:
    """A source as messages name it: "database 'a', schema 'b'"."""
    parts = [f"database {dbname!r}"] if dbname is not None else []
    parts += [f"schema {schema!r}"] if schema is not None else []
    return ", ".join(parts) or "an unknown source"


SHOWN_TABLES = 5
"""How many tables a refusal names per source before "and N more"."""


def published_elsewhere(
    settings: Settings, published: Sequence[Published]
) -> list[str]:
    """The final tables published from another source than this run reads.

    A run reads the source database of ``SOURCE_DATABASE_URL`` and
    ``settings.source_schema``; a table whose recorded source database or
    schema differs holds another source's rows (the tenants' schemas of a
    one-schema-per-tenant application, or another database), whether this
    run's source has a table of its name or not. A part the registry does
    not record (an older pgshift) is unknown, not different.

    Returns:
        One line per other source: a few of its tables ("and N more") and
        where they came from.
    """
    dbname, schema = settings.source_required.dbname, settings.source_schema
    elsewhere: dict[tuple[str | None, str | None], list[str]] = {}
    for entry in published:
        if other_source(entry.source_dbname, entry.source_schema, dbname, schema):
            source = (entry.source_dbname, entry.source_schema)
            elsewhere.setdefault(source, []).append(entry.table)
    lines = []
    for (other_db, other_schema), tables in elsewhere.items():
        lines.append(
            f"{some(tables, SHOWN_TABLES)} (from {describe_source(other_db, other_schema)})"
        )
    return lines


def refuse_replacing_final_tables(settings: Settings, command: str) -> None:
    """Stop a command that would replace final tables not its own to replace.

    Two kinds of final table are not: one published from another source
    database or schema than the command reads (``published_elsewhere``),
    and one written to since pgshift published it
    (``changed_since_published``). Both are read from one reading of the
    registry (``published_tables``).

    Args:
        settings: The run settings.
        command: The command, as the message names it (``migrate``, ``sync``).

    Raises:
        ConfigError: Such a final table exists; nothing was written.
    """
    names = NameMap.read(settings.project_dir)
    if not names:
        return
    published = published_tables(settings, names)
    elsewhere = published_elsewhere(settings, published)
    if elsewhere:
        here = describe_source(settings.source_required.dbname, settings.source_schema)
        dbname, schema = settings.source_required.dbname, settings.source_schema
        ours = {table.target for table in names.tables.values()}
        overlap = any(
            entry.table in ours
            for entry in published
            if other_source(entry.source_dbname, entry.source_schema, dbname, schema)
        )
        loses = (
            "replaces each table of the same name, losing the other source's "
            "rows, and takes back"
            if overlap
            else "would mix its tables with the other source's (the load's "
            "manifest and pgshift's record of its tables are one source's) "
            "and take back"
        )
        raise ConfigError(
            f"{command} refused, nothing was written: these final tables "
            f"were published from another source than this {command} reads "
            f"({here}): {'; '.join(elsewhere)}. The final schema "
            f"{settings.final_schema!r} holds one source schema: a {command} "
            f"{loses} what the other source published beside its tables "
            f"(routines, grants). Next: to keep both, {command} this source "
            "into a final schema of its own on this target (`--final-schema "
            "NAME`, given to every command of this source) or into another "
            "target database (TARGET_DATABASE_URL); to replace them all the "
            f"same, run `python loader/run.py {command} --replace-existing` "
            "with this run's options"
        )
    every_change = changed_since_published(settings, names, published)
    if every_change:
        shown = room(len(every_change), SHOWN_TABLES)
        more = len(every_change) - shown
        changed = every_change[:shown] + (
            [f"and {more} more ({len(every_change)} tables in all)"] if more > 0 else []
        )
        with transaction(settings.target, readonly=True) as cursor:
            run_id = cut_over_by(cursor, settings.state_schema)
        if run_id is not None:
            raise ConfigError(
                f"{command} refused, nothing was written: the target was cut "
                f"over from the source by sync run {run_id}, so it is the "
                "application's database now; its final tables hold what the "
                "sync applied and what the application has written since "
                f"(against what pgshift first published: {'; '.join(changed)}), "
                f"and a {command} would replace them with a new copy of the "
                "source, losing every write made on the target since the "
                f"cutover. Next: do not {command} into it again; to start over "
                "from the source all the same, run `python loader/run.py "
                f"{command} --replace-existing`"
            )
        raise ConfigError(
            f"{command} refused, nothing was written: these final tables "
            f"changed since pgshift published them: {'; '.join(changed)}. "
            "Something has written to them (the application, if it runs on "
            "the target, or a sync that applied the source's changes), and a "
            f"{command} replaces them with a copy of the source, losing those "
            "writes. Next: if the application now writes to the target, do "
            f"not {command} into it again; to replace them all the same (a "
            f"sync that failed, started again), run `python loader/run.py "
            f"{command} --replace-existing`"
        )


def staged_relation(
    settings: Settings, cursor: Any, mapped: TableMap, types: dict[str, str]
) -> tuple[str, list[tuple[str, str]]]:
    """The raw table cast back and renamed, as the staging model does it.

    The staging model is ephemeral (it is part of the final model's select),
    so its rows are written here as a subquery over the raw table: each raw
    column, by the name map, cast to its target column's type and given its
    target name.

    Returns:
        The subquery (to read ``from``) and its (column, type) pairs.
    """
    raw = sql.Identifier(settings.raw_schema, raw_table_name(mapped.source)).as_string(
        cursor
    )
    columns = [
        (target, types[target]) for target in mapped.columns.values() if target in types
    ]
    casts = ", ".join(
        f"cast({quote_ident(source)} as {types[target]}) as {quote_ident(target)}"
        for source, target in mapped.columns.items()
        if target in types
    )
    return f"(select {casts} from {raw})", columns


def explain_mismatch(
    settings: Settings,
    cursor: Any,
    mapped: TableMap,
    source_checksum: str,
) -> list[str]:
    """Find the first rows that differ for a table whose checksum differs.

    The staging model's rows are the raw landing table cast back and
    renamed (``staged_relation``): when their checksum equals the source's,
    the final table is compared with them; otherwise the raw data itself
    differs, and they are compared with the source table as it is now
    (rows changed since the snapshot show up too, and are labelled so).

    Returns:
        One line per differing row, with its key.
    """
    final = mapped.target
    final_rel = sql.Identifier(settings.final_schema, final).as_string(cursor)
    # The declared types name the final schema's enums and domains unqualified,
    # as the build's sessions find them (pg-boss's job_state in pgboss).
    cursor.execute(
        "select set_config('search_path', %s, false)",
        (f"{quote_ident(settings.final_schema)}, public",),
    )
    names = list(mapped.columns.values())
    columns = _typed(cursor, final_rel, names)
    found_key = row_keys(cursor, settings.final_schema, [final]).get(final)
    key = list(found_key.columns) if found_key else []
    if not set(key) <= set(names):
        key = []  # a key of the team's, over columns the source does not have
    # The declared types, as the staging model casts; without a manifest,
    # the final table's own.
    types = _declared_types(settings, final) or dict(columns)
    staged, staged_columns = staged_relation(settings, cursor, mapped, types)
    staging_side = Side(
        f"raw table {mapped.source} cast and renamed",
        cursor,
        staged,
        staged_columns,
        key,
    )
    if staging_side.figures("true")[1] == source_checksum:
        final_side = Side(f"final table {final}", cursor, final_rel, columns, key)
        found = diff(staging_side, final_side)
        return found.lines()
    if settings.source is None:
        return [
            "raw data differs from the source snapshot; set SOURCE_DATABASE_URL "
            "to compare it with the source row by row"
        ]
    source_table = mapped.source
    with transaction(settings.source, readonly=True) as src_cursor:
        src_rel = sql.Identifier(mapped.source_schema, source_table).as_string(
            src_cursor
        )
        src_columns = _typed(src_cursor, src_rel, list(mapped.columns))
        src_key = [mapped.source_column(k) for k in key]
        source_side = Side(
            f"source table {source_table}", src_cursor, src_rel, src_columns, src_key
        )
        found = diff(source_side, staging_side)
    return [
        f"raw differs from the source (as of now): {line}" for line in found.lines()
    ]


def check_tables(
    settings: Settings,
    manifest: list[ManifestRow],
    names: NameMap | None,
    tests: dict[str, tuple[int, list[str]]],
    *,
    live: dict[str, tuple[int, str]] | None = None,
    snapshot: list[str] | None = None,
) -> list[TableReport]:
    """Check every table of the manifest, ``settings.jobs`` at a time.

    Each worker checks on a target connection of its own.

    Args:
        settings: The run settings.
        manifest: The load's figures, per source table.
        names: The applied name map.
        tests: The dbt tests' results per final table.
        live: After a sync's cutover, the figures of the source as it
            stands (per source table, taken in one snapshot) that the final
            tables must equal instead of the manifest's; a table missing
            from it is gone from the source.
        snapshot: The statements that join that snapshot, to list the
            differing rows of a table in it.

    Returns:
        One report per manifest row, in manifest order.
    """
    checked = Progress("verify", "tables", len(manifest))

    def check(cursor: Any, row: ManifestRow) -> TableReport:
        mapped = names.tables.get(row.table_name) if names else None
        if live is not None:
            report = _check_live(settings, cursor, row, mapped, tests, live, snapshot)
        else:
            report = _check_table(settings, cursor, row, mapped, tests)
        checked.advance()
        return report

    try:
        return on_target_connections(settings, manifest, check)
    finally:
        checked.close()


def _check_table(
    settings: Settings,
    cursor: Any,
    row: ManifestRow,
    mapped: TableMap | None,
    tests: dict[str, tuple[int, list[str]]],
    loaded_rows: int | None = None,
) -> TableReport:
    """Reconcile one table: raw and final counts, checksum, sequences, tests.

    ``loaded_rows``: the rows the load's snapshot held, when ``row`` holds
    other figures (the source as it stands, after a cutover): raw is
    compared with them, and the differing rows are left to the caller.
    """
    table, source_rows = row.table_name, row.source_rows
    source_checksum = row.source_checksum
    raw_rows = count_rows(cursor, settings.raw_schema, raw_table_name(table))
    if mapped is None:
        return TableReport(
            source_table=table,
            final_table="—",
            source_rows=source_rows,
            raw_rows=raw_rows,
            migrated_rows=None,
            checksum_match=None,
            status="failed",
            detail=(
                f"the name map ({MAP_FILE}) has no final table for {table}: "
                "run `python loader/run.py scaffold` with the same --include "
                "and --exclude as the load"
            ),
        )
    final = mapped.target
    final_rel = sql.Identifier(settings.final_schema, final).as_string(cursor)
    checksum_match = None
    problems = []
    migrated, final_checksum, missing = final_figures(cursor, settings, mapped)
    if migrated is not None:
        if missing:
            problems.append(
                f"final table {final} has no column {', '.join(missing)}, so "
                "its content cannot be checksummed against the source's"
            )
        else:
            checksum_match = final_checksum == source_checksum
            if not checksum_match:
                problems.append(
                    f"content checksum {final_checksum} differs from the "
                    f"source's {source_checksum}"
                )
    if loaded_rows is not None:
        if raw_rows != loaded_rows:
            problems.append(
                f"raw holds {raw_rows} rows, the load's snapshot {loaded_rows}"
            )
    elif raw_rows != source_rows:
        problems.append(f"raw holds {raw_rows} rows, the source {source_rows}")
    if migrated is None:
        problems.append(f"final table {final} does not exist")
    elif migrated != source_rows:
        problems.append(f"final table holds {migrated} rows, the source {source_rows}")
    sequences = []
    if migrated is not None:
        for column, next_value, top, edge, beyond in _sequences(cursor, final_rel):
            sequences.append(
                f"{column}: next {next_value}"
                + (f", {edge} {top}" if top is not None else "")
                + (
                    f" ({beyond} left out: at the sequence's end)"
                    if beyond is not None
                    else ""
                )
            )
            if top is not None and (
                next_value <= top if edge == "max" else next_value >= top
            ):
                problems.append(
                    f"sequence of {column} would hand out {next_value}, "
                    f"but {edge}({column}) is {top}"
                )
    run, failed_tests = tests.get(final, (0, []))
    if failed_tests:
        problems.append("dbt tests failed: " + ", ".join(failed_tests))
    differences = []
    if checksum_match is False and loaded_rows is None:
        try:
            differences = explain_mismatch(settings, cursor, mapped, source_checksum)
        except psycopg2.Error as error:
            # The team changed the target under the comparison (a raw
            # table dropped, say): the checksum has failed the table already.
            first = str(error).strip().splitlines() or [type(error).__name__]
            differences = [f"the differing rows could not be listed: {first[0]}"]
    return TableReport(
        source_table=table,
        final_table=final,
        source_rows=source_rows,
        raw_rows=raw_rows,
        migrated_rows=migrated,
        checksum_match=checksum_match,
        status="failed" if problems else "complete",
        detail="; ".join(problems),
        differences=differences,
        dbt_tests=f"{run - len(failed_tests)}/{run}" if run else "",
        sequences=sequences,
    )


def _check_live(
    settings: Settings,
    cursor: Any,
    row: ManifestRow,
    mapped: TableMap | None,
    tests: dict[str, tuple[int, list[str]]],
    live: dict[str, tuple[int, str]],
    snapshot: list[str] | None,
) -> TableReport:
    """Reconcile one table with the source as it stands (after a cutover).

    The final table against the source's current figures; raw still against
    the load's snapshot, which it holds.
    """
    now = live.get(row.table_name)
    if now is None:
        report = _check_table(settings, cursor, row, mapped, tests)
        report.status = "failed"
        report.detail = "; ".join(
            [f"the source has no table {row.table_name} now"]
            + ([report.detail] if report.detail else [])
        )
        report.differences = []
        return report
    rows, checksum = now
    against = dataclasses.replace(row, source_rows=rows, source_checksum=checksum)
    report = _check_table(
        settings, cursor, against, mapped, tests, loaded_rows=row.source_rows
    )
    if report.checksum_match is False and mapped is not None:
        try:
            report.differences = _explain_against_source(
                settings, cursor, mapped, snapshot or []
            )
        except psycopg2.Error as error:
            first = str(error).strip().splitlines() or [type(error).__name__]
            report.differences = [f"the differing rows could not be listed: {first[0]}"]
    return report


def _explain_against_source(
    settings: Settings, cursor: Any, mapped: TableMap, snapshot: list[str]
) -> list[str]:
    """The rows a final table and the source table differ by, with their keys.

    The source is read inside the snapshot its figures were taken in
    (``snapshot``: the statements that join it).
    """
    final_rel = sql.Identifier(settings.final_schema, mapped.target).as_string(cursor)
    columns = _typed(cursor, final_rel, list(mapped.columns.values()))
    found_key = row_keys(cursor, settings.final_schema, [mapped.target]).get(
        mapped.target
    )
    key = list(found_key.columns) if found_key else []
    if not set(key) <= set(mapped.columns.values()):
        key = []
    final_side = Side(f"final table {mapped.target}", cursor, final_rel, columns, key)
    conn = connect(settings.source_required, autocommit=True, readonly=True)
    try:
        src_cursor = conn.cursor()
        for statement in snapshot:
            src_cursor.execute(statement)
        src_rel = sql.Identifier(mapped.source_schema, mapped.source).as_string(
            src_cursor
        )
        source_side = Side(
            f"source table {mapped.source}",
            src_cursor,
            src_rel,
            _typed(src_cursor, src_rel, list(mapped.columns)),
            [mapped.source_column(k) for k in key],
        )
        found = diff(source_side, final_side)
        src_cursor.execute("ROLLBACK")
    finally:
        conn.close()
    return found.lines()
