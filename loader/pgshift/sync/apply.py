"""Apply decoded source transactions to the final tables, through the name map.

Every statement is written from ``pgshift.mapping.NameMap`` (the map the dbt
models come from): the source table and columns of a change become the
final table and its snake_case columns. Values stay PostgreSQL's text
output, sent as literals that the target casts to each column's type under
the load's session settings, as the staging views cast the raw text.

Transactions are applied whole and in commit order, many per target
transaction: a batch is one string of statements sent in one round trip,
which PostgreSQL runs as one implicit transaction, ending with the update
of the applied position (``sync.state``). Each UPDATE and DELETE must
touch exactly one row, and an INSERT fails on an existing key: a target
that drifted from the source stops the sync rather than being patched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.load import is_transient
from pgshift.load.extract import SESSION_SETTINGS
from pgshift.mapping import NameMap, TableMap
from pgshift.settings import ConfigError, Settings
from pgshift.sync import pgoutput
from pgshift.sync.pgoutput import UNCHANGED, Value
from pgshift.sync.state import relation as state_relation

logger = logging.getLogger(__name__)

EXPECT_FUNCTION = "sync_expect"
"""A function in the state schema that stops a batch whose statement
changed a number of rows other than the one the source changed."""

_CREATE_EXPECT = """
create or replace function {}(changed bigint, fewest bigint, what text)
returns void language plpgsql as $$
begin
    if changed < fewest or changed > 1 then
        raise exception 'pgshift sync: % changed % rows of the target, the source 1',
            what, changed;
    end if;
end
$$
"""


INSERT_ROWS = 1000
"""Rows at most in one multi-row INSERT."""


class SyncError(ConfigError):
    """The sync stopped; the message says why and what to do (exit 2)."""


class SchemaChanged(SyncError):
    """A table's columns changed on the source during the sync."""


@dataclass
class Target:
    """A published table and where its changes go.

    Attributes:
        source: The Relation message of the source table.
        mapped: Its entry in the name map.
        final: The final table, quoted.
        key: Indexes of the replica identity's columns in the tuples.
        fewest: Rows an UPDATE or DELETE may find gone already (1, or 0 for
            a child of an ON DELETE CASCADE key when the target's own foreign
            keys act).
        insert: The head of its INSERT and the placeholders of one row.
    """

    source: pgoutput.Relation
    mapped: TableMap
    final: sql.Composable
    key: tuple[int, ...]
    fewest: int
    insert: tuple[str, str] | None = None

    @property
    def always(self) -> set[int]:
        """Indexes of the columns GENERATED ALWAYS AS IDENTITY."""
        return {
            i
            for i, column in enumerate(self.source.columns)
            if self.mapped.identities.get(self.mapped.columns[column.name]) == "a"
        }


@dataclass
class Batch:
    """Statements of whole source transactions not yet committed on the target."""

    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    rows: int = 0
    end_lsn: int = 0
    commit_time: datetime | None = None
    insert: tuple[str, list[str]] | None = None
    marker: str | None = None


def _close_insert(batch: Batch) -> None:
    """End the multi-row INSERT being gathered, if any."""
    if batch.insert is not None:
        head, rows = batch.insert
        batch.statements.append(head + ", ".join(rows))
        batch.insert = None


class Applier:
    """Turns changes into SQL on the final tables and commits them in batches."""

    def __init__(
        self,
        settings: Settings,
        names: NameMap,
        run_id: str,
        source_columns: dict[str, list[list[Any]]],
    ) -> None:
        """Open the target connection.

        The apply session runs with ``session_replication_role = replica``
        where the role may set it, as PostgreSQL's own subscriptions do: the
        target's triggers and foreign-key actions then stay quiet, since the
        source already fired them and the stream carries their effects.
        Elsewhere the foreign keys act and are checked; statements keep the
        source's order, in which every key held on the source.
        """
        from pgshift.connection import connect

        self._settings = settings
        self._names = names
        self._run_id = run_id
        self._columns = source_columns
        self._targets: dict[int, Target] = {}
        self.conn = connect(
            settings.target, autocommit=True, application_name="pgshift sync"
        )
        self._cursor = self.conn.cursor()
        for name, value in SESSION_SETTINGS.items():
            self._cursor.execute("select set_config(%s, %s, false)", (name, value))
        try:
            self._cursor.execute("set session_replication_role = replica")
            self.replica_role = True
        except psycopg2.errors.InsufficientPrivilege:
            self.replica_role = False
            logger.warning(
                "the target role may not set session_replication_role: the final "
                "tables' triggers and foreign-key actions act on each applied change"
            )
        self._expect = sql.Identifier(settings.state_schema, EXPECT_FUNCTION)
        self._cursor.execute(sql.SQL(_CREATE_EXPECT).format(self._expect))
        self._state = state_relation(settings)
        self.hold: int | None = None
        """The run's hold_lsn as last read (see ``sync.state``)."""

    def close(self) -> None:
        """Close the target connection."""
        self.conn.close()

    # -- relations ---------------------------------------------------------

    def relation(self, message: pgoutput.Relation) -> None:
        """Take a table's shape; stop if it no longer matches the map.

        Raises:
            SchemaChanged: Columns were added, dropped, renamed or retyped
                on the source since the sync started.
        """
        name = message.name
        mapped = self._names.tables.get(name)
        if mapped is None or message.namespace != self._settings.source_schema:
            raise SyncError(
                f"the stream carries {message.namespace}.{name}, which the name "
                "map does not migrate"
            )
        now = [(c.name, c.type_oid, c.type_modifier) for c in message.columns]
        expected = [s for s, t in mapped.columns.items() if t not in mapped.generated]
        recorded = {c[0]: (c[1], c[2]) for c in self._columns.get(name, [])}
        changes = []
        names_now = [c[0] for c in now]
        for column in expected:
            if column not in names_now:
                changes.append(f'column "{column}" is gone')
        for column, oid, modifier in now:
            if column not in expected:
                changes.append(f'column "{column}" was added')
            elif column in recorded and recorded[column] != (oid, modifier):
                changes.append(
                    f'column "{column}" changed type (type oid {recorded[column][0]} '
                    f"to {oid}, modifier {recorded[column][1]} to {modifier})"
                )
        if not changes and names_now != expected:
            changes.append("its columns are in another order")
        if changes:
            raise SchemaChanged(
                f"sync stopped: source table {name} changed during the sync: "
                f"{'; '.join(changes)}. Nothing of the transaction holding its "
                "next change was applied; everything before it is. Next: make "
                "the same change to the final table "
                f"{self._settings.final_schema}.{mapped.target} and the name map "
                "(`python loader/run.py scaffold`), then run sync again to go "
                "on; or run `python loader/run.py cleanup` and migrate again"
            )
        if message.replica_identity == "f":
            key = tuple(range(len(message.columns)))
        else:
            key = tuple(i for i, c in enumerate(message.columns) if c.is_key)
        if not key:
            raise SyncError(
                f"source table {name} has no replica identity: its changes cannot "
                "be matched to target rows"
            )
        cascades = any(f.on_delete == "cascade" for f in mapped.foreign_keys)
        self._targets[message.relation_id] = Target(
            source=message,
            mapped=mapped,
            final=sql.Identifier(self._settings.final_schema, mapped.target),
            key=key,
            fewest=0 if cascades and not self.replica_role else 1,
        )

    def _target(self, relation_id: int) -> Target:
        try:
            return self._targets[relation_id]
        except KeyError:
            raise SyncError(
                f"a change of relation {relation_id} came before its Relation message"
            ) from None

    # -- statements --------------------------------------------------------

    def _column(self, target: Target, index: int) -> sql.Composable:
        return sql.Identifier(target.mapped.columns[target.source.columns[index].name])

    def _literal(self, value: Value) -> sql.Composable:
        if value is None:
            return sql.SQL("null")
        assert isinstance(value, str)
        return sql.Literal(value)

    def _where(
        self, target: Target, old: Sequence[Value], kind: str | None
    ) -> sql.Composable:
        if kind == "O" or target.source.replica_identity == "f":
            # A whole old row (REPLICA IDENTITY FULL): compared as text, the
            # form both sides print it in; one row of equal ones is changed.
            terms = [
                sql.SQL("{}::text is not distinct from {}").format(
                    self._column(target, i), self._literal(old[i])
                )
                for i in range(len(old))
                if old[i] is not UNCHANGED
            ]
            return sql.SQL("ctid = (select ctid from {} where {} limit 1)").format(
                target.final, sql.SQL(" and ").join(terms)
            )
        terms = [
            sql.SQL("{} = {}").format(self._column(target, i), self._literal(old[i]))
            for i in target.key
        ]
        return sql.SQL(" and ").join(terms)

    def _expect_one(
        self, target: Target, statement: sql.Composable, what: str
    ) -> sql.Composable:
        return sql.SQL(
            "with changed as ({} returning 1) select {}(count(*), {}, {}) from changed"
        ).format(
            statement,
            self._expect,
            sql.Literal(target.fewest),
            sql.Literal(f"{what} of {target.mapped.target}"),
        )

    def statement(self, change: pgoutput.Decoded) -> tuple[sql.Composable, int] | None:
        """The SQL of one update, delete or truncate, and the rows it changes.

        None when there is nothing to do (inserts are gathered by ``add``).
        """
        if isinstance(change, pgoutput.Update):
            target = self._target(change.relation_id)
            # Left out: values not sent (unchanged TOAST), the key when it
            # did not change (the WHERE holds it), and a column GENERATED
            # ALWAYS AS IDENTITY, which may not be assigned: the row must
            # already hold its new value (the source changes one only by
            # SET DEFAULT, and then the update finds no row and stops sync).
            same = set(target.key) if change.old is None else set()
            always = target.always - same
            assignments = [
                sql.SQL("{} = {}").format(self._column(target, i), self._literal(v))
                for i, v in enumerate(change.new)
                if v is not UNCHANGED and i not in same and i not in always
            ]
            old = change.old if change.old is not None else change.new
            where = sql.SQL(" and ").join(
                [
                    self._where(target, old, change.old_kind),
                    *(
                        sql.SQL("{} = {}").format(
                            self._column(target, i), self._literal(change.new[i])
                        )
                        for i in sorted(always)
                        if change.new[i] is not UNCHANGED
                    ),
                ]
            )
            if not assignments:
                return None
            update = sql.SQL("update {} set {} where {}").format(
                target.final, sql.SQL(", ").join(assignments), where
            )
            return self._expect_one(target, update, "an update"), 1
        if isinstance(change, pgoutput.Delete):
            target = self._target(change.relation_id)
            delete = sql.SQL("delete from {} where {}").format(
                target.final, self._where(target, change.old, change.old_kind)
            )
            return self._expect_one(target, delete, "a delete"), 1
        if isinstance(change, pgoutput.Truncate):
            # ONLY belongs to each table named; PostgreSQL refuses it on a
            # partitioned table, whose partitions hold its rows.
            finals = [
                sql.SQL("{}{}").format(
                    sql.SQL("" if target.mapped.partition_key else "only "),
                    target.final,
                )
                for target in map(self._target, change.relation_ids)
            ]
            return (
                sql.SQL("truncate {}{}").format(
                    sql.SQL(", ").join(finals),
                    sql.SQL(" restart identity" if change.restart_identity else ""),
                ),
                1,
            )
        return None

    def add(
        self, batch: Batch, changes: Sequence[pgoutput.Decoded], commit: pgoutput.Commit
    ) -> None:
        """Add one whole source transaction to a batch."""
        for change in changes:
            if isinstance(change, pgoutput.Insert):
                self._add_insert(batch, change)
                continue
            built = self.statement(change)
            if built is None:
                continue
            statement, rows = built
            _close_insert(batch)
            batch.statements.append(statement.as_string(self._cursor))
            batch.rows += rows
        batch.transactions += 1
        batch.end_lsn = commit.end_lsn
        batch.commit_time = commit.commit_time

    def _add_insert(self, batch: Batch, change: pgoutput.Insert) -> None:
        """Add a row to the INSERT before it when that one fills the same table.

        Rows inserted one after the other into one table become one
        multi-row INSERT, in the same order: nothing else happened between
        them on the source.
        """
        target = self._target(change.relation_id)
        if target.insert is None:
            head = sql.SQL("insert into {} ({}){} values ").format(
                target.final,
                sql.SQL(", ").join(
                    self._column(target, i) for i in range(len(target.source.columns))
                ),
                sql.SQL(" overriding system value")
                if target.mapped.identities
                else sql.SQL(""),
            )
            row = "(" + ", ".join(["%s"] * len(target.source.columns)) + ")"
            target.insert = (head.as_string(self._cursor), row)
        head_text, row = target.insert
        values = self._cursor.mogrify(row, change.new).decode()
        pending = batch.insert
        if pending is None or pending[0] != head_text or len(pending[1]) >= INSERT_ROWS:
            _close_insert(batch)
            batch.insert = (head_text, [])
        assert batch.insert is not None
        batch.insert[1].append(values)
        batch.rows += 1

    def commit(self, batch: Batch) -> str:
        """Apply a batch and its position in one target transaction.

        Returns:
            The run's status as recorded on the target after the batch
            (its hold_lsn in ``hold``).

        Raises:
            SyncError: A statement failed; nothing of the batch was applied.
        """
        position = sql.SQL(
            "update {} set applied_lsn = {}::pg_lsn, applied_commit_at = {}, "
            "applied_rows = applied_rows + {}, marker = coalesce({}, marker), "
            "updated_at = now() where run_id = {} returning status, hold_lsn::text"
        ).format(
            self._state,
            sql.Literal(pgoutput.format_lsn(batch.end_lsn)),
            sql.Literal(batch.commit_time),
            sql.Literal(batch.rows),
            sql.Literal(batch.marker),
            sql.Literal(self._run_id),
        )
        _close_insert(batch)
        statements = [
            "set constraints all deferred",
            *batch.statements,
            position.as_string(self._cursor),
        ]
        try:
            # One Query message: one round trip, run as one transaction.
            self._cursor.execute(";\n".join(statements))
        except psycopg2.Error as exc:
            if is_transient(exc):
                # A dropped connection: nothing of the batch was committed,
                # and the stream resumes from the recorded position.
                raise
            raise SyncError(
                f"sync stopped: applying the source's transactions up to "
                f"{pgoutput.format_lsn(batch.end_lsn)} failed on the target, and "
                f"none of them was applied: {str(exc).strip().splitlines()[0]}. "
                "The target's final tables no longer match the source (changed "
                "by something other than the sync?). Next: `python loader/run.py "
                "cleanup`, then sync again from a new copy"
            ) from exc
        return self._read_status()

    def _read_status(self) -> str:
        """Take (status, hold_lsn) from the statement just run."""
        row = self._cursor.fetchone()
        if row is None:
            self.hold = None
            return "gone"
        self.hold = None if row[1] is None else pgoutput.parse_lsn(row[1])
        return str(row[0])

    def held(self, position: int | None) -> None:
        """Record that the stream waits at a position (None: it goes on)."""
        self._cursor.execute(
            sql.SQL("update {} set held_lsn = %s::pg_lsn where run_id = %s").format(
                self._state
            ),
            (None if position is None else pgoutput.format_lsn(position), self._run_id),
        )

    def status(self, confirmed: int | None = None) -> str:
        """The run's status as recorded on the target.

        Args:
            confirmed: The position the stream is caught up to, recorded
                with the time (for ``status``'s lag) when given.
        """
        if confirmed is None:
            self._cursor.execute(
                sql.SQL(
                    "select status, hold_lsn::text from {} where run_id = %s"
                ).format(self._state),
                (self._run_id,),
            )
        else:
            self._cursor.execute(
                sql.SQL(
                    "update {} set confirmed_lsn = %s::pg_lsn, caught_up_at = now() "
                    "where run_id = %s returning status, hold_lsn::text"
                ).format(self._state),
                (pgoutput.format_lsn(confirmed), self._run_id),
            )
        return self._read_status()
