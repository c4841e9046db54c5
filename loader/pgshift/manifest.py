"""What pgshift records on the target, and what scaffold records for dbt.

Two contracts between phases live here, each in one place:

* pgshift's state tables, in a schema of their own on the target (the state
  schema, ``pgshift`` unless set otherwise), where no source table and no
  team object can take their names: ``manifest`` (per source table, the row
  count and content checksum inside the snapshot, with the snapshot's id and
  time), ``not_migrated`` (what the source holds that stays behind),
  ``built_tables`` (the final tables pgshift built), ``built_routines``
  (the functions and triggers it created), ``carried_over`` (what
  the last publish did with the target's own objects) and
  ``landing_schemas`` (the landing schemas pgshift made, the only ones it
  loads into). The load writes the first two and the last; the dbt macros
  write the others; ``verify`` and the report read them. The dbt side names
  them through vars that ``transform.run_dbt`` fills from these constants.
* ``meta.pgshift`` of each final model, written by scaffold and read by the
  macros that finish and publish a table (declared below as TypedDicts and in
  ``macros/_macros.yml``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NotRequired, TypedDict

from psycopg2 import sql

from pgshift.connection import relation_exists, schema_comment
from pgshift.settings import ConfigError
from pgshift.sqlident import quote_ident

MANIFEST_TABLE = "manifest"
"""Per source table: rows and checksum inside the snapshot."""
NOT_MIGRATED_TABLE = "not_migrated"
"""Source objects left behind, with the reason."""
BUILT_TABLE = "built_tables"
"""The final tables pgshift built (the guard lets a build replace only these)."""
REGISTERED_HERE = (
    "coalesce(to_jsonb(r) ->> 'final_schema', case when to_regclass(format("
    "'%%I.%%I', %(final_schema)s::text, r.table_name)) is not null then "
    "%(final_schema)s end) = %(final_schema)s"
)
"""A condition on a row ``r`` of ``built_tables``: it belongs to the final
schema the query's ``final_schema`` parameter names. One target may hold
several final schemas, each published by a run of its own source schema; a
run reads only its own. A registry of an older pgshift, which the next dbt
command keys by final schema (``macros/publish/pgshift_key_by_final_schema``),
has no column yet: its row is the final schema's that holds the table, as
that macro will record it."""
LANDING_TABLE = "landing_schemas"
"""The landing schemas pgshift created (it loads into no other)."""
STATE_MARK = "pgshift's own state: the load manifest, the tables it built"
"""The comment on the state schema by which pgshift knows it made it."""
SEQUENCES_TABLE = "sequences"
"""Per source sequence: its last_value and is_called as the load found them
(null where the source role may not read it)."""
ROUTINES_TABLE = "built_routines"
"""The functions, procedures, aggregates and triggers pgshift created from
the source's (a re-migration replaces these, and keeps no other as its own)."""
CARRIED_TABLE = "carried_over"
"""What the last publish recreated of the target's own objects on the tables
it replaced (views, foreign keys, indexes, triggers, policies, grants,
comments, publications, owners), or left out."""


@dataclass(frozen=True)
class ManifestRow:
    """What the snapshot held of one source table.

    Attributes:
        table_name: The source table's name.
        source_rows: Its rows inside the snapshot.
        source_checksum: Its content checksum inside the snapshot
            (``pgshift.checksum``).
        snapshot_id: The exported snapshot the load read.
        snapshot_taken_at: The source clock at the snapshot.
        source_database: The source URL, without its password.
        source_dbname: The source database's name (None in a manifest
            written by an older pgshift).
        source_schema: The source schema the table was read from (None in
            a manifest written by an older pgshift).
    """

    table_name: str
    source_rows: int
    source_checksum: str
    snapshot_id: str
    snapshot_taken_at: str
    source_database: str
    source_dbname: str | None = None
    source_schema: str | None = None

    def source_differs(self, dbname: str | None, schema: str) -> bool:
        """Whether the table was read from another database or schema."""
        return other_source(self.source_dbname, self.source_schema, dbname, schema)


def other_source(
    recorded_dbname: str | None,
    recorded_schema: str | None,
    dbname: str | None,
    schema: str,
) -> bool:
    """Whether what was recorded came from another database or schema.

    A part known to only one side (recorded by an older pgshift, or no
    source URL at hand) is unknown, not different.
    """
    return (None not in (recorded_dbname, dbname) and recorded_dbname != dbname) or (
        recorded_schema is not None and recorded_schema != schema
    )


_COLUMNS = (
    "table_name",
    "source_rows",
    "source_checksum",
    "snapshot_id",
    "snapshot_taken_at",
    "source_database",
    "source_dbname",
    "source_schema",
)

_CREATE_MANIFEST = """
create table {} (
    table_name text primary key,
    source_rows bigint not null,
    source_checksum text not null,
    snapshot_id text not null,
    snapshot_taken_at timestamptz not null,
    source_database text not null,
    source_dbname text not null,
    source_schema text not null,
    loaded_at timestamptz not null default now()
)
"""


class StateError(ConfigError):
    """The target's schemas are not pgshift's to write into (exit code 2)."""


def refuse_without_target_privileges(
    cursor: Any, schemas: Sequence[str], final_schema: str, command: str
) -> None:
    """Stop a command before it writes when the target role may not create what it must.

    The load creates the state and landing schemas, dbt the build schema
    and, with ``--final-schema``, the final schema: the role needs CREATE
    on the database for each one missing, and CREATE on the final schema
    where it exists (PostgreSQL 15 no longer grants it to PUBLIC on
    ``public``), which the publish moves the final tables into.

    Args:
        cursor: A cursor on the target.
        schemas: The schemas the command creates when they are missing.
        final_schema: The schema the final tables are published in.
        command: The command, as the message names it.

    Raises:
        StateError: The role lacks a privilege; the message gives the GRANT.
    """
    cursor.execute(
        "select current_user, current_database(), "
        "has_database_privilege(current_database(), 'CREATE'), "
        "array(select s from unnest(%(schemas)s::text[]) s "
        "where to_regnamespace(quote_ident(s)) is null), "
        "case when to_regnamespace(quote_ident(%(final)s)) is null then true "
        "else has_schema_privilege(to_regnamespace(quote_ident(%(final)s)), "
        "'CREATE') end",
        {
            "schemas": list(dict.fromkeys([*schemas, final_schema])),
            "final": final_schema,
        },
    )
    role, database, on_database, missing, on_final = cursor.fetchone()
    lacking = []  # (what the role may not create, the grant that lets it)
    if missing and not on_database:
        lacking.append(
            (
                f"the schemas {', '.join(missing)} in database {database}",
                f"GRANT CREATE ON DATABASE {quote_ident(database)} TO "
                f"{quote_ident(role)};",
            )
        )
    if not on_final:
        lacking.append(
            (
                f"the final tables in schema {final_schema}",
                f"GRANT CREATE ON SCHEMA {quote_ident(final_schema)} TO "
                f"{quote_ident(role)};",
            )
        )
    if not lacking:
        return
    needs, grants = zip(*lacking, strict=True)
    raise StateError(
        f"{command} refused, nothing was written: the target role {role} may not "
        f"create {', nor '.join(needs)}. Next: as the database's owner or a superuser, "
        f"run on the target `{' '.join(grants)}`, or connect as a role that may"
    )


NAME_MAPS_TABLE = "name_maps"
"""Per final schema: the source schema its tables were built from, and each
table's target name and column names (the name map of its last build)."""

PublishedParent = tuple[str, str, dict[str, str]]
"""A table another final schema holds: (final schema, table, source column
to final column)."""


def record_name_map(
    cursor: Any,
    state_schema: str,
    final_schema: str,
    source: tuple[str | None, str],
    tables: dict[str, tuple[str, dict[str, str]]],
    waiting: list[WaitingKey] | None = None,
    sequences: dict[str, str] | None = None,
    types: dict[str, str] | None = None,
) -> None:
    """Write down, beside the target's tables, where a final schema's came from.

    A source schema migrated by a later run of its own may reference this
    one's tables by their source names (``sales.order`` -> ``person."Address"``);
    its scaffold finds here what they are called on the target
    (``OtherBuilds.parents``).

    Args:
        cursor: An open cursor on the target, in the state schema's transaction.
        state_schema: pgshift's state schema there.
        final_schema: The final schema built.
        source: (source database name, source schema) it was built from.
        tables: Source table to (final table, source column to final column).
        waiting: The final tables' foreign keys that wait for another source
            schema's run (``NameMap.waiting_keys``), which adds them.
        sequences: Source sequence to its final name (standing alone or a
            serial's): another schema's default calling one calls it there.
        types: Source enum, domain, composite or range type to its final
            name: another schema's column of one is of that type there.
    """
    relation = sql.Identifier(state_schema, NAME_MAPS_TABLE)
    cursor.execute(
        sql.SQL(
            "create table if not exists {} (final_schema text primary key, "
            "source_dbname text, source_schema text not null, tables jsonb not "
            "null, recorded_at timestamptz not null default now())"
        ).format(relation)
    )
    cursor.execute(
        sql.SQL(
            "alter table {} add column if not exists waiting_keys jsonb "
            "not null default '[]', add column if not exists sequences jsonb "
            "not null default '{{}}', add column if not exists types jsonb "
            "not null default '{{}}'"
        ).format(relation)
    )
    cursor.execute(
        sql.SQL(
            "insert into {} (final_schema, source_dbname, source_schema, tables, "
            "waiting_keys, sequences, types) values (%s, %s, %s, %s, %s, %s, %s) "
            "on conflict (final_schema) do update set "
            "source_dbname = excluded.source_dbname, "
            "source_schema = excluded.source_schema, tables = excluded.tables, "
            "waiting_keys = excluded.waiting_keys, sequences = excluded.sequences, "
            "types = excluded.types, recorded_at = now()"
        ).format(relation),
        (
            final_schema,
            source[0],
            source[1],
            json.dumps(
                {
                    name: {"target": target, "columns": columns}
                    for name, (target, columns) in tables.items()
                }
            ),
            json.dumps(waiting or []),
            json.dumps(sequences or {}),
            json.dumps(types or {}),
        ),
    )


VERIFIED_TABLE = "verified_schemas"
"""Per final schema: the outcome of its last verify, for the reports of the
other final schemas of the target."""


def record_verified(
    cursor: Any,
    state_schema: str,
    final_schema: str,
    source_schema: str,
    outcome: tuple[bool, int, int, int, str],
) -> None:
    """Write down a final schema's last verify.

    ``outcome``: (passed, tables, complete, source rows, verified at).
    """
    relation = sql.Identifier(state_schema, VERIFIED_TABLE)
    cursor.execute(
        sql.SQL(
            "create table if not exists {} (final_schema text primary key, "
            "source_schema text not null, passed boolean not null, tables int "
            "not null, complete int not null, source_rows bigint not null, "
            "verified_at timestamptz not null)"
        ).format(relation)
    )
    cursor.execute(
        sql.SQL(
            "insert into {} values (%s, %s, %s, %s, %s, %s, %s) on conflict "
            "(final_schema) do update set source_schema = excluded.source_schema, "
            "passed = excluded.passed, tables = excluded.tables, complete = "
            "excluded.complete, source_rows = excluded.source_rows, verified_at = "
            "excluded.verified_at"
        ).format(relation),
        (final_schema, source_schema, *outcome),
    )


def read_verified(cursor: Any, state_schema: str) -> dict[str, str]:
    """Each final schema's last verify, in words.

    ``2 tables, 2 complete, 40 rows: PASSED at 2026-12-07 20:01:00+00``.
    """
    relation = sql.Identifier(state_schema, VERIFIED_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return {}
    cursor.execute(
        sql.SQL(
            "select final_schema, passed, tables, complete, source_rows, "
            "date_trunc('second', verified_at)::text from {}"
        ).format(relation)
    )
    return {
        schema: (
            f"{tables} {'table' if tables == 1 else 'tables'}, {complete} "
            f"complete, {rows} {'row' if rows == 1 else 'rows'}: "
            f"{'PASSED' if passed else 'FAILED'} at {at}"
        )
        for schema, passed, tables, complete, rows, at in cursor.fetchall()
    }


class WaitingKey(TypedDict):
    """A final table's foreign key that waits for another source schema's run.

    Its child under its target names; its parent under the source's.
    """

    table: str
    name: str
    columns: list[str]
    to_schema: str
    to: str
    to_columns: list[str]
    options: str


class RecordedMap(NamedTuple):
    """One final schema's map, as its build recorded it (``record_name_map``).

    A map an older pgshift wrote has no waiting keys, sequences nor types.
    """

    final_schema: str
    source_schema: str
    tables: dict[str, Any]
    waiting_keys: list[WaitingKey]
    sequences: dict[str, str]
    types: dict[str, str]


@dataclass
class OtherBuilds:
    """What earlier runs built into the target's other final schemas.

    Their recorded maps, read once, from the same source database (or one
    not recorded).
    """

    maps: list[RecordedMap]

    @property
    def parents(self) -> dict[tuple[str, str], PublishedParent]:
        """(source schema, source table) to where it is on the target."""
        return {
            (m.source_schema, name): (m.final_schema, entry["target"], entry["columns"])
            for m in self.maps
            for name, entry in m.tables.items()
        }

    @property
    def sequences(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(source schema, source sequence) to (final schema, its name there)."""
        return {
            (m.source_schema, name): (m.final_schema, target)
            for m in self.maps
            for name, target in m.sequences.items()
        }

    @property
    def types(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(source schema, source type) to (final schema, its name there)."""
        return {
            (m.source_schema, name): (m.final_schema, target)
            for m in self.maps
            for name, target in m.types.items()
        }

    @property
    def schemas(self) -> dict[str, str]:
        """Source schema to the final schema that holds its tables."""
        return {m.source_schema: m.final_schema for m in self.maps}

    def waiting_into(self, source_schema: str) -> list[tuple[str, WaitingKey]]:
        """The keys that wait for a table of ``source_schema``.

        Each as (final schema of the child table, key).
        """
        return [
            (m.final_schema, key)
            for m in self.maps
            for key in m.waiting_keys
            if key["to_schema"] == source_schema
        ]


def other_builds(
    cursor: Any, state_schema: str, final_schema: str, source_dbname: str | None
) -> OtherBuilds:
    """Read the maps of every final schema but ``final_schema`` (``OtherBuilds``)."""
    relation = sql.Identifier(state_schema, NAME_MAPS_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return OtherBuilds([])
    cursor.execute(
        sql.SQL(
            "select final_schema, source_schema, tables, "
            "coalesce(to_jsonb(m) -> 'waiting_keys', '[]'), "
            "coalesce(to_jsonb(m) -> 'sequences', '{{}}'), "
            "coalesce(to_jsonb(m) -> 'types', '{{}}') from {} as m "
            "where final_schema <> %s and (source_dbname is null "
            "or %s::text is null or source_dbname = %s) order by final_schema"
        ).format(relation),
        (final_schema, source_dbname, source_dbname),
    )
    return OtherBuilds([RecordedMap(*row) for row in cursor.fetchall()])


def ensure_state_schema(cursor: Any, schema: str) -> None:
    """Create the state schema, or check that pgshift created it.

    Raises:
        StateError: A schema of that name exists that pgshift did not create.
    """
    mark = schema_comment(cursor, schema)
    if mark is None:
        cursor.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        cursor.execute(
            sql.SQL("comment on schema {} is {}").format(
                sql.Identifier(schema), sql.Literal(STATE_MARK)
            )
        )
    elif mark != STATE_MARK:
        raise StateError(
            f"the target has a schema {schema} that pgshift did not create, and "
            "pgshift keeps its own state in a schema of that name; nothing was "
            "written. Rename or drop that schema"
        )
    cursor.execute(
        sql.SQL(
            "create table if not exists {} (schema_name text primary key, "
            "created_at timestamptz not null default now())"
        ).format(sql.Identifier(schema, LANDING_TABLE))
    )


def claim_landing_schema(cursor: Any, state_schema: str, landing: str) -> None:
    """Create the landing schema and record it, or check that pgshift made it.

    A team may have a schema of that name (``raw`` is a common one): pgshift
    never truncates, alters or loads into a table it did not create.

    Raises:
        StateError: The schema exists and pgshift did not create it.
    """
    cursor.execute(
        sql.SQL("select 1 from {} where schema_name = %s").format(
            sql.Identifier(state_schema, LANDING_TABLE)
        ),
        (landing,),
    )
    if cursor.fetchone():
        return
    cursor.execute("select 1 from pg_namespace where nspname = %s", (landing,))
    if cursor.fetchone():
        raise StateError(
            f"the target already has a schema {landing} that pgshift did not "
            "create: pgshift lands the source's tables in a schema of its own "
            "and never loads into, empties or alters a team's tables; nothing "
            "was written. Choose another landing schema with "
            f"`--raw-schema <name>`, or drop {landing} if it is a leftover"
        )
    cursor.execute(sql.SQL("create schema {}").format(sql.Identifier(landing)))
    cursor.execute(
        sql.SQL("insert into {} (schema_name) values (%s)").format(
            sql.Identifier(state_schema, LANDING_TABLE)
        ),
        (landing,),
    )


def drop_manifest(cursor: Any, schema: str) -> None:
    """Remove the manifest, so that a load cut off midway leaves none."""
    cursor.execute(
        sql.SQL("drop table if exists {}").format(
            sql.Identifier(schema, MANIFEST_TABLE)
        )
    )


def write_manifest(
    cursor: Any,
    schema: str,
    rows: Sequence[ManifestRow],
    not_migrated: Sequence[tuple[str, str, str]] = (),
    sequences: Sequence[tuple[str, int | None, bool | None]] = (),
) -> None:
    """Rewrite the manifest, the not-migrated list and the sequences whole.

    Args:
        cursor: A cursor on the target, inside the transaction to write in.
        schema: The state schema.
        rows: One row per loaded table.
        not_migrated: (kind, name, reason) of source objects left behind.
        sequences: (name, last_value, is_called) of each source sequence,
            None where it could not be read.
    """
    manifest = sql.Identifier(schema, MANIFEST_TABLE)
    drop_manifest(cursor, schema)
    cursor.execute(sql.SQL(_CREATE_MANIFEST).format(manifest))
    cursor.executemany(
        sql.SQL("insert into {} ({}) values ({})").format(
            manifest,
            sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)),
        ),
        [tuple(getattr(row, name) for name in _COLUMNS) for row in rows],
    )
    skipped = sql.Identifier(schema, NOT_MIGRATED_TABLE)
    cursor.execute(sql.SQL("drop table if exists {}").format(skipped))
    cursor.execute(
        sql.SQL(
            "create table {} (kind text not null, object_name text not null, "
            "reason text not null)"
        ).format(skipped)
    )
    cursor.executemany(
        sql.SQL(
            "insert into {} (kind, object_name, reason) values (%s, %s, %s)"
        ).format(skipped),
        list(not_migrated),
    )
    positions = sql.Identifier(schema, SEQUENCES_TABLE)
    cursor.execute(sql.SQL("drop table if exists {}").format(positions))
    cursor.execute(
        sql.SQL(
            "create table {} (sequence_name text primary key, last_value bigint, "
            "is_called boolean)"
        ).format(positions)
    )
    cursor.executemany(
        sql.SQL(
            "insert into {} (sequence_name, last_value, is_called) values (%s, %s, %s)"
        ).format(positions),
        list(sequences),
    )


def _read(
    cursor: Any, schema: str, table: str, query: sql.Composable
) -> list[tuple[Any, ...]] | None:
    """The rows of a query over one state table; None when the table is not there.

    ``query`` holds one ``{}`` for the table.
    """
    relation = sql.Identifier(schema, table)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return None
    cursor.execute(sql.SQL(query.as_string(cursor)).format(relation))
    return list(cursor.fetchall())


def read_sequences(
    cursor: Any, schema: str
) -> dict[str, tuple[int | None, bool | None]]:
    """Per source sequence, (last_value, is_called) as the last load found it."""
    rows = _read(
        cursor,
        schema,
        SEQUENCES_TABLE,
        sql.SQL("select sequence_name, last_value, is_called from {}"),
    )
    return {name: (last, called) for name, last, called in rows or []}


def read_manifest(cursor: Any, schema: str) -> list[ManifestRow] | None:
    """The manifest's rows, by table name; None when no load has finished.

    A manifest written by an older pgshift has no source schema and
    database name: they are read as None.
    """
    columns = sql.SQL(", ").join(
        sql.SQL("{}::text").format(sql.Identifier(name))
        if name == "snapshot_taken_at"
        else sql.SQL("to_jsonb(m) ->> {}").format(sql.Literal(name))
        if name in ("source_dbname", "source_schema")
        else sql.Identifier(name)
        for name in _COLUMNS
    )
    rows = _read(
        cursor,
        schema,
        MANIFEST_TABLE,
        sql.SQL("select {} from {{}} as m order by table_name").format(columns),
    )
    if rows is None:
        return None
    return [ManifestRow(*row) for row in rows]


EXCLUDED = "excluded by --include/--exclude"
"""Why the load left a source table behind: the run's options did."""


def excluded_tables(cursor: Any, schema: str) -> list[str]:
    """The source tables the last load's --include/--exclude left behind."""
    rows = _read(
        cursor,
        schema,
        NOT_MIGRATED_TABLE,
        sql.SQL("select object_name from {} where kind = 'table' and reason = ")
        + sql.Literal(EXCLUDED)
        + sql.SQL(" order by object_name"),
    )
    return [name for (name,) in rows or []]


def read_not_migrated(cursor: Any, schema: str) -> list[str]:
    """What the load recorded as left behind, one line each."""
    rows = _read(
        cursor,
        schema,
        NOT_MIGRATED_TABLE,
        sql.SQL("select kind, object_name, reason from {} order by kind, object_name"),
    )
    return [f"{kind} {name}: {reason}" for kind, name, reason in rows or []]


SYNC_TABLE = "sync_runs"
"""One row per ``sync`` run (``pgshift.sync.state``): its slot and
publication on the source, its status and the position it applied."""
SYNC_ACTIVE = ("starting", "copying", "building", "streaming", "cutover", "stopping")
"""Statuses of a sync that writes (or will write) into the final tables."""


CUT_OVER = "cut over"
"""The detail of a sync run whose cutover finished (its status ``done``)."""


def cut_over_by(cursor: Any, schema: str) -> str | None:
    """The sync run that cut this target over, if its latest one did.

    The target is then the application's database.
    """
    relation = sql.Identifier(schema, SYNC_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return None
    cursor.execute(
        sql.SQL(
            "select run_id, status, detail from {} order by started_at desc limit 1"
        ).format(relation)
    )
    row = cursor.fetchone()
    if row is None or (row[1], row[2]) != ("done", CUT_OVER):
        return None
    return str(row[0])


def refuse_while_syncing(cursor: Any, schema: str, what: str) -> None:
    """Stop a command that would replace the final tables a sync writes into.

    Raises:
        StateError: A sync is recorded as running on this target.
    """
    relation = sql.Identifier(schema, SYNC_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return
    cursor.execute(
        sql.SQL(
            "select run_id, slot_name, status from {} where status = any(%s) "
            "order by started_at desc limit 1"
        ).format(relation),
        (list(SYNC_ACTIVE),),
    )
    row = cursor.fetchone()
    if row is None:
        return
    run_id, slot, status = row
    raise StateError(
        f"{what} refused: sync run {run_id} (slot {slot} on the source, status "
        f"{status}) writes the source's changes into this target's final "
        f"tables, and {what} would replace them with an older copy; nothing "
        "was written. Finish the sync with `python loader/run.py cutover`, or "
        "abandon it with `python loader/run.py cleanup` (drops its slot and "
        "publication on the source), then run this again"
    )


@dataclass(frozen=True)
class CarriedOver:
    """One object of the target's that depended on a replaced final table.

    Attributes:
        kind: "view", "index", "grant", "comment", ...
        object: What it is, as "schema.relation[.name]" (a grant:
            "schema.relation to role"; a publication: "... in name").
        on_table: The relation it is on, as "schema.relation".
        outcome: "recreated", "dropped" (it could not be, and the run was
            told to leave such objects out) or "replaced" (a comment the
            source's replaces).
        detail: Why, for the last two.
    """

    kind: str
    object: str
    on_table: str
    outcome: str
    detail: str

    def describe(self) -> str:
        """One line for the report."""
        line = f"{self.kind} {self.object}: {self.outcome}"
        return f"{line} ({self.detail})" if self.detail else line


def read_carried_over(cursor: Any, schema: str) -> list[CarriedOver]:
    """What the last publish did with the target's own dependent objects."""
    rows = _read(
        cursor,
        schema,
        CARRIED_TABLE,
        sql.SQL(
            "select kind, object, on_table, outcome, detail from {} "
            "order by on_table, kind, object"
        ),
    )
    return [CarriedOver(*row) for row in rows or []]


# --------------------------------------------------------------------------
# meta.pgshift: what scaffold tells the macros about each final model


class KeyMeta(TypedDict):
    """A primary key, unique or exclusion constraint, added once the rows are in."""

    name: str
    type: str  # "primary_key", "unique" or "exclusion"
    columns: list[str]
    definition: str  # pg_get_constraintdef() with the target column names


class AttachedIndexMeta(TypedDict):
    """A partition's index attached to an invalid index of its table."""

    name: str
    partition: str  # the partition's table name
    to: str  # the index it is attached to


class IndexMeta(TypedDict):
    """A secondary index."""

    name: str
    unique: bool
    using: str  # what follows USING in pg_get_indexdef(), columns renamed
    # Invalid on the source: created ON ONLY the partitioned table, then
    # these partitions' indexes, each attached, so that it stays invalid.
    only: NotRequired[bool]
    attached: NotRequired[list[AttachedIndexMeta]]


class ForeignKeyMeta(TypedDict):
    """A foreign key to another final model, or to a table the target holds."""

    name: str
    columns: list[str]
    to: str  # the parent's model name, or its table name in to_schema
    to_columns: list[str]
    options: NotRequired[str]  # ON DELETE / ON UPDATE / DEFERRABLE clauses
    to_schema: NotRequired[str]  # a parent outside the migration (auth.users)


class SerialMeta(TypedDict):
    """A serial column: the sequence it owns, with the source's settings."""

    column: str
    sequence: str
    source: str
    data_type: str
    start: int
    increment: int
    minimum: int
    maximum: int
    cache: int
    cycle: bool
    unlogged: NotRequired[bool]  # true when the source's is UNLOGGED


class IdentityMeta(TypedDict):
    """An identity column: BY DEFAULT during the insert, ALWAYS if the source's is."""

    column: str
    always: bool
    options: NotRequired[list[str]]  # the source sequence's, ALTER COLUMN ... SET
    sequence: NotRequired[str]  # the source sequence, whose position it takes
    sequence_name: NotRequired[str]  # the target sequence's name
    unlogged: NotRequired[bool]  # its sequence's, where not as its table


class CheckMeta(TypedDict):
    """A check of a partition alone, or one the contract cannot hold.

    One the source never validated is added NOT VALID after the rows
    (pgshift_ensure_checks); one reading other tables, by the publish
    (pgshift_publish_checks).
    """

    name: str
    expression: str  # the condition, without CHECK, columns renamed
    # "no inherit", "not valid" or both; after the rows, "not valid" when
    # missing; at the publish, validated unless it says "not valid"
    options: NotRequired[str]


class StatisticsMeta(TypedDict):
    """An extended statistics object of a final table."""

    name: str
    definition: str  # (kinds) on columns and (expressions), renamed
    target: NotRequired[int]  # its statistics target, when the source set one


class PartitionDefaultMeta(TypedDict):
    """A partition's own default of one column (PartitionMap.defaults)."""

    column: str
    default: NotRequired[str]  # renamed; without it, the partition has none


class PartitionMeta(TypedDict):
    """A partition, created with the table (macros/partitions/)."""

    name: str
    parent: str  # the table it is a partition of (the model's alias, or a partition)
    bound: str  # FOR VALUES ... or DEFAULT, as pg_get_expr(relpartbound) prints it
    key: NotRequired[str]  # the partition key of a partition itself partitioned
    keys: NotRequired[list[KeyMeta]]  # its own, not its parent's
    checks: NotRequired[list[CheckMeta]]  # its own
    unvalidated_checks: NotRequired[list[CheckMeta]]  # its own, added NOT VALID
    indexes: NotRequired[list[IndexMeta]]  # its own
    foreign_keys: NotRequired[list[ForeignKeyMeta]]  # its own
    comment: NotRequired[str]  # its comment
    defaults: NotRequired[list[PartitionDefaultMeta]]  # its own, not its table's
    not_null: NotRequired[list[str]]  # its columns NOT NULL, its table's not


class PartitioningMeta(TypedDict):
    """A partitioned final table: its partition key and its partitions."""

    key: str  # pg_get_partkeydef(), columns renamed: RANGE (paid_at)
    partitions: list[PartitionMeta]  # each after its parent


class PgshiftMeta(TypedDict):
    """``meta.pgshift`` of a final model: its presence marks a final model."""

    source_table: str
    staging_model: str
    keys: list[KeyMeta]
    identities: list[IdentityMeta]
    serials: list[SerialMeta]
    foreign_keys: list[ForeignKeyMeta]
    indexes: list[IndexMeta]
    unvalidated_checks: NotRequired[list[CheckMeta]]
    # Added by the publish, once this build's tables are in (CheckMap.at_publish).
    published_checks: NotRequired[list[CheckMeta]]
    partitioning: NotRequired[PartitioningMeta]
    settings: NotRequired[list[str]]  # ALTER TABLE actions (TableMap.settings)
    statistics: NotRequired[list[StatisticsMeta]]
