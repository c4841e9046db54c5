"""The source side of a sync: preflight, publication, slot, and their removal.

Nothing is created on the source before every check of ``preflight`` has
passed. The publication lists the migrated tables explicitly; the slot is
created on a replication connection with its own exported snapshot, which
the initial load reads in (the slot's stream then starts exactly where
that snapshot ends: no change is missed or applied twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extras
from psycopg2 import sql

from pgshift.catalog import row_keys
from pgshift.connection import check_connection, connect, transaction
from pgshift.load.extract import SESSION_SETTINGS
from pgshift.mapping import NameMap
from pgshift.progress import some, spilled
from pgshift.settings import ConfigError, DatabaseUrl, Settings
from pgshift.sqlident import rename_type, render_ident
from pgshift.sync.state import SyncRun

logger = logging.getLogger(__name__)

MIN_VERSION = 140000
"""pgoutput's ``messages`` option (the cutover's marker) is there from 14 on."""

SLOT_PREFIX = "pgshift_"
"""Slot and publication names: this prefix and the run id."""

REPLICA_IDENTITY_FILE = "logs/replica-identity.sql"
"""Where the statements giving keyless tables a replica identity go when
there are too many to print (in the project directory)."""


class PreflightError(ConfigError):
    """The source cannot be followed as it is; nothing was created (exit 2)."""


def names_for(run_id: str) -> tuple[str, str]:
    """The slot's and the publication's names for a run."""
    return f"{SLOT_PREFIX}{run_id}", f"{SLOT_PREFIX}{run_id}"


def replication_connection(url: DatabaseUrl, name: str) -> Any:
    """Open a logical replication connection (a walsender) to the source.

    The walsender writes each value with its type's output function under
    the load's session settings (``extract.SESSION_SETTINGS``), so a value
    that arrives through the stream is the same text the load copied.
    """
    settings = " ".join(
        f"-c {key}={value.replace(' ', '')}" for key, value in SESSION_SETTINGS.items()
    )
    options = f"{url.params.get('options', '')} {settings}".strip()
    return connect(
        url,
        application_name=name,
        connection_factory=psycopg2.extras.LogicalReplicationConnection,
        options=options,
    )


@dataclass
class SourceTables:
    """The migrated tables as the source has them now.

    Attributes:
        columns: Table to [[column, type oid, typmod], ...] of its
            published columns (not the generated ones), in order.
    """

    columns: dict[str, list[list[Any]]]


def preflight(
    settings: Settings,
    names: NameMap | None,
    check_models: Callable[[Settings], str | None] | None = None,
) -> SourceTables:
    """Check everything a sync needs of the source, creating nothing.

    Args:
        settings: The run settings.
        names: The project's name map.
        check_models: Why the project's models do not match the source as it
            is (``scaffold.drift_refusal``, which the command line hands in:
            sync does not import the scaffold), or None when they do.

    Raises:
        PreflightError: A check failed; the message names each that failed,
            and what to do.
    """
    source = settings.source_required
    if "-pooler" in source.host:
        raise PreflightError(
            f"sync refused: {source.describe()} is a -pooler host, and logical "
            "replication needs a direct connection (a transaction pooler such "
            "as Neon's PgBouncer cannot carry it). Next: point "
            "SOURCE_DATABASE_URL at the host without -pooler"
        )
    check_connection(source)
    check_connection(settings.target)
    target_role = _target_without_replica_role(settings.target)
    if names is None:
        raise PreflightError(
            "sync refused: the project has no name map (models/"
            "pgshift_name_map.json); run `python loader/run.py scaffold` first"
        )
    conn = connect(source, readonly=True)
    try:
        with conn.cursor() as cursor:
            tables = _check(cursor, settings, names, target_role)
    finally:
        conn.close()
    # After the checks that name a table and its fix: then the models must
    # be those of the source as it is, with the same options.
    refusal = check_models(settings) if check_models else None
    if refusal:
        raise PreflightError(f"sync refused, nothing was created: {refusal}")
    return tables


def _check(
    cursor: Any,
    settings: Settings,
    names: NameMap,
    target_role: tuple[str, int] | None,
) -> SourceTables:
    """Run every check of the source; refuse once, naming each that failed.

    A source often fails more than one (wal_level, the role's REPLICATION,
    a keyless table): the user learns them all before restarting the server
    for the first. ``target_role`` is the target's role and server version
    when that role may not set ``session_replication_role``.
    """
    refusals, role, superuser = _server_refusals(cursor)
    tables, table_refusals = _table_refusals(cursor, settings, names, role, superuser)
    refusals += table_refusals
    if target_role is not None:
        refusals += _acting_on_applied_rows(
            cursor, settings, names, tables, target_role
        )
    columns = read_columns(cursor, settings.source_schema, tables)
    for table in tables:
        mapped = names.tables[table]
        published = [c[0] for c in columns[table]]
        expected = [s for s, t in mapped.columns.items() if t not in mapped.generated]
        if published != expected:
            refusals.append(
                f"source table {table} has the columns {published}, the name "
                f"map {expected}. Next: run `python loader/run.py scaffold` "
                "and migrate again"
            )
    if len(refusals) == 1:
        raise PreflightError(f"sync refused, nothing was created: {refusals[0]}")
    if refusals:
        raise PreflightError(
            f"sync refused for {len(refusals)} reasons, nothing was created:\n"
            + "\n".join(f"- {refusal}" for refusal in refusals)
        )
    return SourceTables(columns)


def _server_refusals(cursor: Any) -> tuple[list[str], str, bool]:
    """What the source server and the role lack for a replication slot.

    Returns:
        The refusals, the role's name, and whether it is a superuser.
    """
    cursor.execute(
        "select current_setting('wal_level'), "
        "current_setting('server_version_num')::int, "
        "current_setting('max_replication_slots')::int, "
        "(select count(*) from pg_replication_slots), "
        "current_setting('max_wal_senders')::int, "
        "(select count(*) from pg_stat_replication), "
        "r.rolsuper, r.rolreplication, current_user, current_database(), "
        "has_database_privilege(current_database(), 'CREATE') "
        "from pg_roles r where r.rolname = current_user"
    )
    (
        wal_level,
        version,
        slots,
        used_slots,
        senders,
        used_senders,
        superuser,
        can_replicate,
        role,
        database,
        can_create,
    ) = cursor.fetchone()
    refusals = []
    if wal_level != "logical":
        refusals.append(
            f"the source's wal_level is {wal_level}, and following its changes "
            "needs wal_level = logical. Next: set wal_level = logical and "
            "restart the source server (on Neon: enable logical replication "
            "in the project's settings, which restarts its computes)"
        )
    if version < MIN_VERSION:
        refusals.append(
            f"the source runs PostgreSQL {version // 10000}; sync needs 14 or "
            "later (pgoutput's messages, used by cutover)"
        )
    if not (superuser or can_replicate):
        refusals.append(
            f"the source role {role} has neither REPLICATION nor superuser, "
            f"and a replication slot needs one. Next: ALTER ROLE {role} "
            "REPLICATION (on Neon: use a role created in the Console, CLI or "
            "API, which belongs to neon_superuser)"
        )
    if not can_create:
        # CREATE PUBLICATION asks for CREATE on the database besides the
        # ownership of each table it names.
        refusals.append(
            f"the source role {role} may not create a publication in the "
            f"source database {database}: that needs CREATE on the database. "
            f"Next: as its owner or a superuser, run `GRANT CREATE ON DATABASE "
            f"{render_ident(database)} TO {render_ident(role)}` (it lets the "
            "role create schemas there too: revoke it after cutover)"
        )
    if used_slots >= slots:
        refusals.append(
            f"the source has no free replication slot ({used_slots} of "
            f"max_replication_slots = {slots} in use). Next: drop an unused "
            "slot (pg_replication_slots) or raise max_replication_slots"
        )
    if used_senders >= senders:
        refusals.append(
            f"the source has no free WAL sender ({used_senders} of "
            f"max_wal_senders = {senders} in use). Next: end an unused "
            "replication connection or raise max_wal_senders"
        )
    return refusals, role, superuser


def _target_without_replica_role(url: DatabaseUrl) -> tuple[str, int] | None:
    """The target role and server version if it may not set the replica role.

    That is ``session_replication_role = replica``, as the apply session
    sets it; None when the role may.
    """
    conn = connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "select current_user, current_setting('server_version_num')::int"
            )
            role, version = cursor.fetchone()
            try:
                # Tried, not read from the catalog: a managed service's
                # role may hold it through a membership of its own kind.
                cursor.execute("set local session_replication_role = replica")
            except psycopg2.errors.InsufficientPrivilege:
                return role, version
            return None
    finally:
        conn.close()


# Each trigger that fires on the migrated tables' changes in a session of
# the default session_replication_role (origin): enabled, or ALWAYS.
_ORIGIN_TRIGGERS = """
select c.relname::text, tg.tgname::text
from pg_trigger tg
join pg_class c on c.oid = tg.tgrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %s and c.relname = any(%s) and not tg.tgisinternal
  and tg.tgenabled in ('O', 'A')
order by c.relname, tg.tgname
"""

# What a foreign key may do a second time to no harm: a delete of its
# table's rows that the stream's own delete then finds done (``apply``
# lets such a delete touch no row). Anything else changes rows the stream
# then no longer matches, or gives them other values than the source's.
_ABSORBED_ACTIONS = {
    "on delete": ("no action", "restrict", "cascade"),
    "on update": ("no action", "restrict"),
}


def _acting_on_applied_rows(
    cursor: Any,
    settings: Settings,
    names: NameMap,
    tables: list[str],
    target_role: tuple[str, int],
) -> list[str]:
    """Why the final tables cannot take the stream outside the replica role.

    The source fired its triggers and foreign-key actions already, and the
    stream carries what they did: outside ``session_replication_role =
    replica`` the final tables' own act again on every applied change (the
    scaffolded models give them the source's triggers), and their rows end
    unlike the source's.
    """
    acting = []
    cursor.execute(_ORIGIN_TRIGGERS, (settings.source_schema, tables))
    for table, trigger in cursor.fetchall():
        acting.append(f"trigger {trigger} on {names.tables[table].target}")
    finals = {names.tables[t].target for t in tables}
    for table in tables:
        mapped = names.tables[table]
        for key in mapped.foreign_keys:
            if key.to_schema is not None or key.to not in finals:
                continue  # its parent's changes are not applied
            actions = [
                f"{event} {action}"
                for event, action in (
                    ("on delete", key.on_delete),
                    ("on update", key.on_update),
                )
                if action not in _ABSORBED_ACTIONS[event]
            ]
            if actions:
                acting.append(
                    f"foreign key {key.name} of {mapped.target} ({', '.join(actions)})"
                )
    if not acting:
        return []
    role, version = target_role
    grant = (
        "as a superuser of the target, run `GRANT SET ON PARAMETER "
        f"session_replication_role TO {render_ident(role)}`"
        if version >= 150000
        else f"run sync with a superuser role of the target (PostgreSQL "
        f"{version // 10000} has no GRANT SET ON PARAMETER; 15 and later do)"
    )
    return [
        f"the target role {role} may not set session_replication_role, so "
        "the final tables' triggers and foreign-key actions would act on "
        "every applied change, after the source's own did (the stream "
        "carries what they did): the final rows would differ from the "
        "source's (a last-updated trigger rewrites each row's time) and "
        f"cutover would stop at their checksums. These would act: "
        f"{some(acting, 5)}. Next: {grant}, and run sync again"
    ]


def _table_refusals(
    cursor: Any, settings: Settings, names: NameMap, role: str, superuser: bool
) -> tuple[list[str], list[str]]:
    """The migrated tables, and why any of them cannot be published."""
    cursor.execute(
        "select c.relname, c.relreplident, "
        "exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary), "
        "pg_has_role(c.relowner, 'USAGE'), c.relpersistence = 'u', "
        "c.relkind = 'p', (select ic.relname from pg_index i "
        "join pg_class ic on ic.oid = i.indexrelid "
        f"where {_IS_IDENTITY.format(table='c')}) "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p') order by c.relname",
        (settings.source_schema,),
    )
    keyless, not_owned, unlogged, tables = [], [], [], []
    # Each partitioned table's replica identity index (None: FULL, or
    # none yet: the keyless ones get the index offered to them below).
    partitioned: dict[str, str | None] = {}
    rows = cursor.fetchall()
    for name, identity, has_key, owns, is_unlogged, is_parent, index in rows:
        if not settings.selects(name) or name not in names.tables:
            continue
        tables.append(name)
        if is_unlogged:
            unlogged.append(name)
        if identity == "n" or (identity == "d" and not has_key):
            keyless.append(name)
        if not (owns or superuser):
            not_owned.append(name)
        if is_parent:
            partitioned[name] = index
    refusals = []
    if unlogged:
        # Their changes never reach the write-ahead log, so no slot sees
        # them, and PostgreSQL refuses to publish them.
        refusals.append(
            f"these source tables are UNLOGGED: {some(unlogged)}. Their "
            "changes are not written to the write-ahead log, so logical "
            "decoding cannot follow them. Next: make them logged on the "
            "source (ALTER TABLE ... SET LOGGED), or leave them out (`python "
            f"loader/run.py {settings.excluding(unlogged)} scaffold`, then the "
            "same --exclude on sync): the target then has neither the tables "
            "nor their rows, so create them there before the application "
            "switches over, with their indexes, their triggers and the "
            "functions those call, which stay behind with them (`pg_dump -s "
            "-t <table>` of the source, renamed as the models name them; "
            "rows an UNLOGGED table holds are lost at every "
            "crash of the source, so one of passing rows, such as a job "
            "queue's peers, may start empty)"
        )
    schema = settings.source_schema
    keys = row_keys(cursor, schema, keyless)
    for table in keyless:
        if table in partitioned and table in keys and keys[table].immediate:
            partitioned[table] = keys[table].index
    fixes = [
        (
            t,
            f"  ALTER TABLE {sql.Identifier(schema, t).as_string(cursor)} "
            + (
                f"REPLICA IDENTITY USING INDEX {sql.Identifier(keys[t].index).as_string(cursor)};"
                if t in keys and keys[t].immediate
                else "REPLICA IDENTITY FULL;"
            ),
        )
        for t in keyless
    ]
    leaves = _partitions_without_identity(cursor, schema, partitioned)
    fixes += [(parent, fix) for parent, _, fix in leaves]
    if fixes:
        # Each table's partitions follow it, whose index they attach to.
        ordered = sorted(fixes, key=lambda f: tables.index(f[0]))
        parents = sorted({parent for parent, _ in fixes}, key=tables.index)
        named = []
        if keyless:
            named.append(
                "these source tables have no primary key and no replica "
                f"identity: {some(keyless)}"
            )
        if leaves:
            named.append(
                "these partitions of migrated tables have no replica identity "
                "that gives their table's key (a partition's UPDATEs and "
                "DELETEs need its own; it does not have its parent's): "
                + some([f"{leaf} (of {parent})" for parent, leaf, _ in leaves])
            )
        # Hundreds of statements (an ORM's keyless join tables) go to a file.
        statements = [
            f"  {line.strip()}"
            for line in spilled(
                [fix for _, fix in ordered],
                settings.project_dir / REPLICA_IDENTITY_FILE,
            )
        ]
        refusals.append(
            f"{'; '.join(named)}. Published as they are, the source "
            "application's own UPDATEs and DELETEs on them would fail. Next: "
            "give each table a primary key, or run on the source\n"
            + "\n".join(statements)
            + "\n(USING INDEX where a unique index over NOT NULL columns names "
            "each row, a partition by its copy of its table's: cutover then "
            "checks the table by that key; FULL where none does, and then "
            "each UPDATE and DELETE of it is found on the target by reading "
            "the table, which is slow on a large one unless an index of the "
            "final table leads with one of its columns: a key is better), then "
            "`python loader/run.py scaffold` again; or leave them out: "
            f"`python loader/run.py {settings.excluding(parents)} scaffold`, "
            "then the same --exclude on sync"
        )
    if not_owned:
        refusals.append(
            f"the source role {role} does not own {some(not_owned)}, and "
            "only a table's owner may publish it. Next: run sync as the "
            "tables' owner"
        )
    missing = [
        t
        for t, m in names.tables.items()
        if settings.selects(t)
        and t not in tables
        and m.source_schema == settings.source_schema
    ]
    if missing:
        refusals.append(
            "the name map lists tables the source no longer has: "
            f"{', '.join(missing)}. Next: run `python loader/run.py scaffold`"
        )
    return tables, refusals


# Whether index i is the one table {table}'s replica identity is by: its
# primary key under REPLICA IDENTITY DEFAULT, the one it names under USING
# INDEX.
_IS_IDENTITY = (
    "i.indrelid = {table}.oid and case {table}.relreplident "
    "when 'd' then i.indisprimary when 'i' then i.indisreplident else false end"
)

# Each leaf partition, at any depth, of the given partitioned tables: its
# identity's key columns (FULL: null), its parent's index's, and its own
# index attached to that one.
_LEAF_IDENTITIES = f"""
select p.parent, l.relname, l.relreplident = 'f', ln.nspname,
       array(select a.attname::text from pg_index i
             join pg_attribute a on a.attrelid = i.indrelid
              and a.attnum = any(i.indkey[0:i.indnkeyatts - 1])
             where {_IS_IDENTITY.format(table="l")}),
       array(select a.attname::text from pg_index i
             join pg_attribute a on a.attrelid = i.indrelid
              and a.attnum = any(i.indkey[0:i.indnkeyatts - 1])
             where i.indexrelid = ri.oid),
       (select ic.relname from pg_partition_tree(ri.oid) as t
        join pg_index i on i.indexrelid = t.relid
        join pg_class ic on ic.oid = i.indexrelid
        where i.indrelid = l.oid)
from unnest(%(parents)s::text[], %(indexes)s::text[]) as p (parent, index)
join pg_namespace n on n.nspname = %(schema)s
join pg_class r on r.relnamespace = n.oid and r.relname = p.parent
left join pg_class ri on ri.relnamespace = n.oid and ri.relname = p.index
cross join lateral pg_partition_tree(r.oid) as tree
join pg_class l on l.oid = tree.relid and l.relkind = 'r'
join pg_namespace ln on ln.oid = l.relnamespace
order by p.parent, tree.level, l.relname
"""


def _partitions_without_identity(
    cursor: Any, schema: str, partitioned: dict[str, str | None]
) -> list[tuple[str, str, str]]:
    """The leaf partitions whose replica identity does not give their table's key.

    A partition's UPDATEs and DELETEs need its own replica identity, which
    its parent's does not give it; published through the parent, its old
    rows must also hold the columns of the parent's key (every column where
    the parent's identity is FULL).

    Args:
        cursor: A cursor on the source.
        schema: The migrated tables' schema.
        partitioned: Each partitioned table, and the index its replica
            identity is by (None: FULL).

    Returns:
        (table, partition, the ALTER TABLE that fixes it) for each: USING
        INDEX its index attached to the table's, FULL where none is.
    """
    if not partitioned:
        return []
    cursor.execute(
        _LEAF_IDENTITIES,
        {
            "schema": schema,
            "parents": list(partitioned),
            "indexes": list(partitioned.values()),
        },
    )
    out = []
    for parent, leaf, full, leaf_schema, own, wanted, index in cursor.fetchall():
        if full or (partitioned[parent] and own and set(wanted) <= set(own)):
            continue
        fix = (
            f"REPLICA IDENTITY USING INDEX {sql.Identifier(index).as_string(cursor)};"
            if partitioned[parent] and index
            else "REPLICA IDENTITY FULL;"
        )
        name = sql.Identifier(leaf_schema, leaf).as_string(cursor)
        out.append((parent, leaf, f"  ALTER TABLE {name} {fix}"))
    return out


def read_columns(
    cursor: Any, schema: str, tables: Sequence[str]
) -> dict[str, list[list[Any]]]:
    """Per table, [[column, type oid, typmod], ...] of what pgoutput publishes."""
    cursor.execute(
        "select c.relname, a.attname, a.atttypid::int, a.atttypmod "
        "from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = any(%s) and a.attnum > 0 "
        "and not a.attisdropped and a.attgenerated = '' order by c.relname, a.attnum",
        (schema, list(tables)),
    )
    out: dict[str, list[list[Any]]] = {t: [] for t in tables}
    for table, column, oid, modifier in cursor.fetchall():
        out[table].append([column, oid, modifier])
    return out


def create_publication(
    settings: Settings, publication: str, tables: Sequence[str]
) -> None:
    """Publish the migrated tables, by name."""
    conn = connect(settings.source_required, autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                # A partitioned table's changes come as its own, not its
                # partitions' (the map knows the table, not the partitions).
                sql.SQL(
                    "create publication {} for table {} "
                    "with (publish_via_partition_root = true)"
                ).format(
                    sql.Identifier(publication),
                    sql.SQL(", ").join(
                        sql.Identifier(settings.source_schema, t) for t in tables
                    ),
                )
            )
    finally:
        conn.close()


def unpublished_tables(cursor: Any, schema: str, run: SyncRun) -> list[str]:
    """The run's tables that are no longer in its publication, by name.

    A table dropped on the source leaves the publication, and one created
    again under its name (a migration rolled back and applied again, as
    Django's ``migrate app 0086`` then ``migrate`` does) is not in it: its
    changes no longer reach the stream, and nothing else says so. A table
    renamed on the source stays in the publication under its new name,
    which the run does not know. Empty when the publication itself is gone
    (the slot's checks say so).
    """
    cursor.execute(
        "select t from unnest(%(tables)s::text[]) as t "
        "where exists (select 1 from pg_publication where pubname = %(pub)s) "
        "and not exists (select 1 from pg_publication_rel as pr "
        "join pg_publication as p on p.oid = pr.prpubid "
        "join pg_class as c on c.oid = pr.prrelid "
        "join pg_namespace as n on n.oid = c.relnamespace "
        "where p.pubname = %(pub)s and n.nspname = %(schema)s and c.relname = t) "
        "order by 1",
        {
            "tables": sorted(run.source_columns),
            "pub": run.publication_name,
            "schema": schema,
        },
    )
    return [row[0] for row in cursor.fetchall()]


def unpublished_refusal(run: SyncRun, tables: Sequence[str]) -> str:
    """Why a run cannot go on once tables left its publication, and what to do."""
    return (
        f"{some(list(tables))} left the publication {run.publication_name} on the "
        "source (dropped there, perhaps created again by a migration, or "
        "renamed): their changes no longer reach the target, whose copy "
        "stopped where they left. Next: `python loader/run.py cleanup`, then "
        "sync again (a new copy of every table, the new ones included)"
    )


def create_slot(connection: Any, slot: str) -> tuple[str, str]:
    """Create the logical slot on a replication connection, exporting its snapshot.

    The snapshot stays valid until the connection runs another command or
    closes: keep it open and idle until the initial copy is done.

    Returns:
        (consistent point LSN, snapshot id).
    """
    cursor = connection.cursor()
    cursor.execute(
        sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT")
        .format(sql.Identifier(slot))
        .as_string(cursor)
    )
    _, consistent_point, snapshot_id, _ = cursor.fetchone()
    return consistent_point, snapshot_id


def drop(settings: Settings, slot: str, publication: str) -> list[str]:
    """Drop a sync's slot and publication from the source, if they are there.

    A walsender still streaming from the slot (a sync process) is ended first.

    Returns:
        What was dropped, one phrase each.
    """
    dropped = []
    conn = connect(settings.source_required, autocommit=True)
    try:
        with conn.cursor() as cursor:
            for _ in range(50):
                cursor.execute(
                    "select active_pid from pg_replication_slots where slot_name = %s",
                    (slot,),
                )
                row = cursor.fetchone()
                if row is None:
                    break
                if row[0] is not None:
                    cursor.execute("select pg_terminate_backend(%s)", (row[0],))
                    time.sleep(0.1)
                    continue
                try:
                    cursor.execute("select pg_drop_replication_slot(%s)", (slot,))
                    dropped.append(f"slot {slot}")
                    break
                except psycopg2.errors.ObjectInUse:
                    time.sleep(0.1)
            else:
                raise ConfigError(
                    f"could not drop the replication slot {slot} on the source: "
                    "it stays in use; end the process streaming from it and run "
                    "`python loader/run.py cleanup` again"
                )
            cursor.execute(
                "select 1 from pg_publication where pubname = %s", (publication,)
            )
            if cursor.fetchone():
                cursor.execute(
                    sql.SQL("drop publication if exists {}").format(
                        sql.Identifier(publication)
                    )
                )
                dropped.append(f"publication {publication}")
    finally:
        conn.close()
    return dropped


@dataclass
class SlotState:
    """The slot as the source sees it.

    Attributes:
        exists: Whether the slot is there.
        active: Whether a walsender streams from it.
        current_lsn: The source's current WAL position.
        retained_bytes: WAL the slot keeps on the source's disk.
        confirmed_lsn: What the source was told is applied.
        wal_status: pg_replication_slots.wal_status.
    """

    exists: bool
    active: bool
    current_lsn: str
    retained_bytes: int | None
    confirmed_lsn: str | None
    wal_status: str | None


def slot_state(cursor: Any, slot: str) -> SlotState:
    """Read a slot's state from pg_replication_slots."""
    cursor.execute(
        "select pg_current_wal_lsn()::text, s.slot_name is not null, "
        "coalesce(s.active, false), "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint, "
        "s.confirmed_flush_lsn::text, s.wal_status "
        "from (select 1) one left join pg_replication_slots s on s.slot_name = %s",
        (slot,),
    )
    current, exists, active, retained, confirmed, wal_status = cursor.fetchone()
    return SlotState(exists, active, current, retained, confirmed, wal_status)


def retyped_columns(
    settings: Settings, names: NameMap, recorded: dict[str, list[list[Any]]]
) -> tuple[dict[str, list[list[Any]]], list[str], list[str]]:
    """Columns whose type changed on the source since a run recorded them.

    The stream's relations are checked against the types the run recorded
    (``Applier.relation``): a column retyped on the source stops the sync
    until the final column has the same type. Here each such column's new
    type is compared with its final column's, both as ``format_type``
    prints them on their own schema's path, the source's through the name
    map's type names (an enum or a domain of the schema renamed).

    Returns:
        (the run's columns as the source has them now, one line per column
        whose final column has its new type, one per column whose final
        column does not).
    """
    tables = list(recorded)
    with transaction(settings.source_required, readonly=True) as cursor:
        now = read_columns(cursor, settings.source_schema, tables)
        changed = [
            (table, column, oid, modifier)
            for table in tables
            for (column, oid, modifier) in now.get(table, [])
            for (was, was_oid, was_modifier) in recorded[table]
            if was == column and (was_oid, was_modifier) != (oid, modifier)
        ]
        if not changed:
            return recorded, [], []
        cursor.execute(
            "select set_config('search_path', quote_ident(%s), true)",
            (settings.source_schema,),
        )
        cursor.execute(
            "select format_type(t, m) from unnest(%s::oid[], %s::int[]) as c (t, m)",
            ([c[2] for c in changed], [c[3] for c in changed]),
        )
        source_types = [row[0] for row in cursor.fetchall()]
    done, pending = [], []
    with transaction(settings.target, readonly=True) as cursor:
        cursor.execute(
            "select set_config('search_path', quote_ident(%s), true)",
            (settings.final_schema,),
        )
        for (table, column, _, _), source_type in zip(
            changed, source_types, strict=True
        ):
            mapped = names.tables.get(table)
            if mapped is None or column not in mapped.columns:
                continue  # the relation check names it
            target_column = mapped.columns[column]
            cursor.execute(
                "select format_type(a.atttypid, a.atttypmod) from pg_attribute a "
                "where a.attrelid = to_regclass(%s) and a.attname = %s "
                "and not a.attisdropped",
                (
                    sql.Identifier(settings.final_schema, mapped.target).as_string(
                        cursor
                    ),
                    target_column,
                ),
            )
            found = cursor.fetchone()
            wanted = rename_type(source_type, settings.source_schema, names.types)
            line = f"{table}.{column} ({source_type})"
            if found is not None and found[0] == wanted:
                done.append(line)
            else:
                pending.append(
                    f"{line}: the final column {mapped.target}.{target_column} is "
                    f"{found[0] if found else 'missing'}, not {wanted}"
                )
    return now, done, pending
