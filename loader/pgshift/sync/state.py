"""What a sync records on the target: ``<state schema>.sync_runs``.

One row per run: the slot and publication it created on the source (named
after the run, recorded *before* they are created, so that ``cleanup``
always knows what to drop), its status, the source's columns of each
published table when the run started, and the applied position: the end
LSN of the last source transaction whose changes are committed on the
target, written in the same target transaction as those changes.

Statuses: ``starting`` (slot and publication being created), ``copying``
(the initial load), ``building`` (dbt build), ``streaming`` (following the
source), ``cutover`` (cutover under way), then ``done``, ``failed`` or
``cleaned``.

Cutover holds a running sync at a source position through two columns:
``hold_lsn`` is written by cutover ('0/0': stop applying at the next
transaction boundary; a position: apply every transaction that ends at or
before it, then wait; null: go on), ``held_lsn`` by the sync once it
waits there. ``manifest.SYNC_ACTIVE`` lists those that keep ``migrate``,
the load and a rebuild away from the final tables.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg2 import sql

from pgshift import manifest
from pgshift.mapping import NameMap
from pgshift.settings import Settings

TABLE = manifest.SYNC_TABLE

_CREATE = """
create table if not exists {} (
    run_id text primary key,
    slot_name text not null,
    publication_name text not null,
    source_database text not null,
    status text not null,
    consistent_lsn pg_lsn,
    applied_lsn pg_lsn,
    applied_commit_at timestamptz,
    applied_rows bigint not null default 0,
    source_columns jsonb not null default '{{}}',
    blocked_roles text[] not null default '{{}}',
    detail text not null default '',
    started_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    confirmed_lsn pg_lsn,
    caught_up_at timestamptz,
    marker text
)
"""

_ADD_COLUMNS = """
alter table {} add column if not exists hold_lsn pg_lsn,
    add column if not exists held_lsn pg_lsn,
    add column if not exists database_block jsonb
"""


@dataclass
class SyncRun:
    """One recorded sync run.

    Attributes:
        run_id: Its id, part of the slot's and the publication's names.
        slot_name: The logical replication slot on the source.
        publication_name: The publication on the source.
        source_database: The source URL, without its password.
        status: Where the run stands (see the module's docstring).
        consistent_lsn: Where the slot's stream starts (its snapshot's position).
        applied_lsn: The end LSN of the last applied source transaction.
        applied_commit_at: That transaction's commit time on the source.
        applied_rows: Rows changed on the target by the stream so far.
        source_columns: Source table to [[column, type oid, typmod], ...]
            as the run found them.
        blocked_roles: The source roles cutover blocked: made NOLOGIN, or,
            with ``database_block``, without CONNECT on the source database.
        detail: Why it failed, or what it last did.
        confirmed_lsn: Where the stream was caught up when last idle (the
            server's sent position: everything before it is applied).
        caught_up_at: When it last was.
        marker: The last cutover marker applied (in the batch that applied it).
        database_block: Where source and target share a server, how cutover
            blocked the roles instead of NOLOGIN: ``{"database": the source
            database whose CONNECT it revoked, "acl": that database's ACL
            before, as text (null: the default)}``; None otherwise.
    """

    run_id: str
    slot_name: str
    publication_name: str
    source_database: str
    status: str
    consistent_lsn: str | None = None
    applied_lsn: str | None = None
    applied_commit_at: datetime | None = None
    applied_rows: int = 0
    source_columns: dict[str, list[list[Any]]] = field(default_factory=dict)
    blocked_roles: list[str] = field(default_factory=list)
    detail: str = ""
    confirmed_lsn: str | None = None
    caught_up_at: datetime | None = None
    marker: str | None = None
    database_block: dict[str, Any] | None = None


_FIELDS = (
    "run_id",
    "slot_name",
    "publication_name",
    "source_database",
    "status",
    "consistent_lsn",
    "applied_lsn",
    "applied_commit_at",
    "applied_rows",
    "source_columns",
    "blocked_roles",
    "detail",
    "confirmed_lsn",
    "caught_up_at",
    "marker",
    "database_block",
)


def new_run_id() -> str:
    """A run id: the UTC time and a random suffix, valid in a slot name."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{stamp}_{secrets.token_hex(3)}"


def relation(settings: Settings) -> sql.Composable:
    """The state table."""
    return sql.Identifier(settings.state_schema, TABLE)


def ensure_table(cursor: Any, settings: Settings) -> None:
    """Create the state schema (``manifest``) and the sync table if needed."""
    manifest.ensure_state_schema(cursor, settings.state_schema)
    cursor.execute(sql.SQL(_CREATE).format(relation(settings)))
    cursor.execute(sql.SQL(_ADD_COLUMNS).format(relation(settings)))


def insert(cursor: Any, settings: Settings, run: SyncRun) -> None:
    """Record a new run."""
    cursor.execute(
        sql.SQL(
            "insert into {} (run_id, slot_name, publication_name, "
            "source_database, status, source_columns) values (%s, %s, %s, %s, %s, %s)"
        ).format(relation(settings)),
        (
            run.run_id,
            run.slot_name,
            run.publication_name,
            run.source_database,
            run.status,
            json.dumps(run.source_columns),
        ),
    )


def update(cursor: Any, settings: Settings, run_id: str, **values: Any) -> None:
    """Set some fields of a run (and its updated_at)."""
    assignments = [sql.SQL("{} = %s").format(sql.Identifier(name)) for name in values]
    assignments.append(sql.SQL("updated_at = now()"))
    cursor.execute(
        sql.SQL("update {} set {} where run_id = %s").format(
            relation(settings), sql.SQL(", ").join(assignments)
        ),
        [*values.values(), run_id],
    )


def latest(cursor: Any, settings: Settings) -> SyncRun | None:
    """The most recent run recorded on the target, or None."""
    table = relation(settings)
    cursor.execute("select to_regclass(%s) is not null", (table.as_string(cursor),))
    if not cursor.fetchone()[0]:
        return None
    # database_block through to_jsonb: a table older than that column reads
    # as null there.
    cursor.execute(
        sql.SQL(
            "select run_id, slot_name, publication_name, source_database, status, "
            "consistent_lsn::text, applied_lsn::text, applied_commit_at, "
            "applied_rows, source_columns, blocked_roles, detail, "
            "confirmed_lsn::text, caught_up_at, marker, "
            "to_jsonb(r) -> 'database_block' from {} as r "
            "order by started_at desc limit 1"
        ).format(table)
    )
    row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(_FIELDS, row, strict=True))
    values["blocked_roles"] = list(values["blocked_roles"] or [])
    return SyncRun(**values)


def active(run: SyncRun | None) -> bool:
    """Whether a run is one that writes into the final tables."""
    return run is not None and run.status in manifest.SYNC_ACTIVE


def unfollowed_tables(settings: Settings, names: NameMap, run: SyncRun) -> list[str]:
    """The tables the models migrate that the run does not follow.

    A run follows the tables it copied (``SyncRun.source_columns``), in the
    publication it created: a table added to the source and scaffolded
    after the run started has neither its rows copied nor its changes
    published, and no step of the run would bring them.
    """
    return sorted(
        t for t in names.tables if settings.selects(t) and t not in run.source_columns
    )


def unfollowed_refusal(run: SyncRun, tables: list[str]) -> str:
    """Why a run cannot go on with tables it does not follow, and what to do."""
    return (
        f"the models migrate {len(tables)} table(s) that sync run {run.run_id} "
        f"does not follow: {', '.join(tables)}. They were added to the models "
        "after the run started (a table created on the source, then "
        "scaffold); a run follows the tables it copied, so their rows would "
        "never reach the target. Next: `python loader/run.py cleanup`, then "
        "sync again from a new copy (it copies every table of the models); or, "
        "to leave them out, give --exclude naming them to scaffold, sync and "
        "cutover alike"
    )
