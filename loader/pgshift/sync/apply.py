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

A batch is written set-based: a run of inserts, of updates of the same
columns, or of deletes on one table becomes one statement (a multi-row
INSERT, ``UPDATE ... FROM (VALUES ...)``, ``DELETE ... USING (VALUES ...)``
joined on the key), whose row count must equal its number of keys. A
run keeps each table's changes in their order: it ends at another kind
of change to its table, and at a key it holds already. Runs of different
tables gather across each other only where the target checks nothing
between statements (``session_replication_role = replica``: no foreign
key, trigger or cascade acts), so the batch's end state is the source's.
A batch that fails set-based is run again one statement per change,
which names the row that is missing, or applies it where only the set's
order tripped a constraint.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.load import is_transient
from pgshift.load.extract import SESSION_SETTINGS
from pgshift.mapping import NameMap, TableMap
from pgshift.naming import is_migration_record
from pgshift.settings import ConfigError, Settings
from pgshift.sqlident import quote_ident, sql_literal
from pgshift.sync import pgoutput
from pgshift.sync.pgoutput import UNCHANGED, Value
from pgshift.sync.state import relation as state_relation

logger = logging.getLogger(__name__)

APPLY_SESSION = "pgshift sync"
"""How the target lists a sync's apply session (``application_name``)."""

EXPECT_FUNCTION = "sync_expect"
"""A function in the state schema that stops a batch whose statement
changed a number of rows other than the source changed: one row (or none,
for a row a cascade may have removed already), or a set-based statement's
number of keys."""

_CREATE_EXPECT = """
create or replace function {}(changed bigint, fewest bigint, most bigint, what text)
returns void language plpgsql as $$
begin
    if changed < fewest or changed > most then
        raise exception 'pgshift sync: % changed % rows of the target, the source %',
            what, changed, most;
    end if;
end
$$
"""

RUN_ROWS = 1000
"""Changes at most in one set-based statement (or multi-row INSERT)."""

Statement = str | sql.Composable
"""One statement of a batch: SQL text, or (a single change's statement) a
composed statement that the apply thread renders on its connection."""


ENUM_INPUT = re.compile(r'invalid input value for enum (?P<type>.+?): "(?P<label>.*)"')
"""PostgreSQL's refusal of a label its enum type lacks (SQLSTATE 22P02): the
type as format_type_be names it (schema-qualified unless on the search path,
quoted where needed), then the label as it came."""


def enum_label_statement(message: str, schema: str) -> str | None:
    """The ALTER TYPE that gives an enum the label a statement lacked.

    Args:
        message: The first line of PostgreSQL's error.
        schema: The schema an unqualified type name is in (the final schema,
            where pgshift creates the source's types).

    Returns:
        ``ALTER TYPE <type> ADD VALUE '<label>'``, or None when the message
        is not an enum's refusal of a label.
    """
    found = ENUM_INPUT.fullmatch(message)
    if found is None:
        return None
    type_name = found["type"]
    if not _qualified(type_name):
        type_name = f"{quote_ident(schema)}.{type_name}"
    return f"ALTER TYPE {type_name} ADD VALUE {sql_literal(found['label'])}"


def _qualified(type_name: str) -> bool:
    """Whether a type's name, as PostgreSQL prints it, holds a schema."""
    quoted = False
    for char in type_name:
        if char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            return True
    return False


def quote(value: str | None) -> str:
    """A value as an SQL literal, written without the connection.

    An escape string (``E'...'``, read the same whatever the session's
    ``standard_conforming_strings``): a backslash and a quote are each
    written twice. PostgreSQL text holds no NUL. Set-based statements are
    written with it in the stream's thread while the apply thread's
    connection runs the batch before (libpq's escaping reads the
    connection, which one thread at a time may use).
    """
    if value is None:
        return "null"
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _element(value: str | None) -> str:
    if value is None:
        return "NULL"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: Sequence[Value]) -> str:
    """Values as one literal of type text[] (None: an SQL NULL element).

    Each element is quoted as array input reads it (a quote and a
    backslash escaped with a backslash; an unquoted NULL is the null
    value, a quoted "NULL" the text), then the whole is one SQL literal.
    Without a NULL, the elements are escaped together, joined by NUL
    (which PostgreSQL text never holds) and split into quoted elements.
    """
    if None in values:
        body = ",".join(map(_element, values))  # type: ignore[arg-type]
    else:
        joined = "\0".join(values)  # type: ignore[arg-type]
        body = (
            '"'
            + joined.replace("\\", "\\\\").replace('"', '\\"').replace("\0", '","')
            + '"'
        )
    return quote("{" + body + "}") + "::text[]"


def _flat(picked: Any) -> tuple[Value, ...]:
    """What itemgetter picked, as a tuple (it returns one item bare)."""
    return picked if type(picked) is tuple else (picked,)


def _columns(rows: Sequence[Sequence[Value]]) -> list[tuple[Value, ...]]:
    """Rows of equal width, as their columns."""
    return list(zip(*rows, strict=True))


def _unnest(columns: Sequence[Sequence[Value]]) -> str:
    """The rows whose columns are given, as a FROM item ``pgshift_rows``.

    One text[] per column, unnested side by side: the server reads each
    column's values with array input, far cheaper than parsing as many SQL
    literals, and every value stays text until cast to its final type.
    """
    header = ", ".join(f"v{j}" for j in range(len(columns)))
    arrays = ", ".join(map(text_array, columns))
    return f"unnest({arrays}) as pgshift_rows ({header})"


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
        types: The final column type of each source column, without its
            modifier (set-based statements cast their VALUES to it; the
            assignment applies the modifier as a literal's would).
        full_types: The same with its modifier (a whole old row's values
            are read through it).
        leading: Indexes of the columns that lead a btree index of the
            final table (a whole old row is looked up through them).
        set_based: Whether its updates and deletes may be set-based: the
            key is not the whole row, no row may be found gone, and a
            unique index of the final table lies within the key columns,
            so that each key names at most one row and a row count equal
            to the number of keys proves each found exactly one.
        unique_beyond_key: Whether the final table has a unique index or an
            exclusion constraint besides those within the key columns (a
            Django many-to-many table's ``(a, b)`` beside its ``id``): a
            change of one key may free a value another key's change takes.
        insert: The head of its INSERT, up to the rows' SELECT.
        always: Indexes of the columns GENERATED ALWAYS AS IDENTITY.
        names: Each source column's final column, quoted.
        final_text: ``final`` as SQL text.
        key_of: A tuple's key (one value, or a tuple of several).
        plain: The update shape of a change that sent every column and
            kept its key (None when such an update assigns nothing).
        table: The final table's name (``mapped.target``).
        insert_slot: What names an open run of its inserts in a plan.
        plain_slot: What names an open run of its ``plain`` updates.
    """

    source: pgoutput.Relation
    mapped: TableMap
    final: sql.Composable
    key: tuple[int, ...]
    fewest: int
    types: tuple[str, ...] = ()
    full_types: tuple[str, ...] = ()
    leading: frozenset[int] = frozenset()
    set_based: bool = False
    unique_beyond_key: bool = False
    insert: str = ""
    always: frozenset[int] = frozenset()
    names: tuple[str, ...] = ()
    final_text: str = ""
    key_of: Callable[[Sequence[Value]], Any] = field(default=tuple)
    plain: tuple[Any, ...] | None = None
    table: str = ""
    insert_slot: tuple[Any, ...] = ()
    plain_slot: tuple[Any, ...] = ()


@dataclass
class Batch:
    """Whole source transactions not yet committed on the target.

    Attributes:
        changes: Their changes, in commit order, each after its table (the
            tables of a truncate).
        transactions: How many.
        rows: Rows they change (once committed: rows the statements changed).
        end_lsn: The position just past the last one.
        last: The last one's Commit message.
        marker: The cutover marker among them, if any.
    """

    changes: list[tuple[Any, pgoutput.Decoded]] = field(default_factory=list)
    transactions: int = 0
    rows: int = 0
    end_lsn: int = 0
    last: pgoutput.Commit | None = None
    marker: str | None = None

    @property
    def commit_time(self) -> datetime | None:
        """When the last one committed on the source."""
        return None if self.last is None else self.last.commit_time


@dataclass
class _Run:
    """Changes written as one statement: one, or a set-based run of many.

    Attributes:
        target: The table (None for a truncate).
        kind: "insert", "update", "delete" (set-based) or "one".
        shape: For updates, the assigned columns, the GENERATED ALWAYS
            columns matched, and whether the key changed; for a truncate,
            its tables.
        changes: The changes, in the source's order.
    """

    target: Target | None
    kind: str
    shape: tuple[Any, ...]
    changes: list[pgoutput.Decoded]


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
        # Relations the stream described that the map does not migrate, by
        # id: a change of one stops the sync (``_target``).
        self._unmapped: dict[int, str] = {}
        # The source tables a schema-migration tool keeps its record in, by
        # relation id: a change there means a migration ran on the source.
        self._records: dict[int, str] = {}
        self.conn = connect(
            settings.target, autocommit=True, application_name=APPLY_SESSION
        )
        self._cursor = self.conn.cursor()
        for name, value in SESSION_SETTINGS.items():
            self._cursor.execute("select set_config(%s, %s, false)", (name, value))
        try:
            self._cursor.execute("set session_replication_role = replica")
            self.replica_role = True
        except psycopg2.errors.InsufficientPrivilege:
            self.replica_role = False
            # Sync refused at its start a table whose triggers or
            # foreign-key actions would change the applied rows
            # (``source.preflight``): what is left is ON DELETE CASCADE,
            # whose deletes the stream then finds done.
            logger.warning(
                "the target role may not set session_replication_role: the "
                "final tables' foreign keys check each applied change and their "
                "ON DELETE CASCADE acts on the target too, and changes of "
                "different tables are applied one table's run at a time"
            )
        self._expect = sql.Identifier(settings.state_schema, EXPECT_FUNCTION)
        self._cursor.execute(sql.SQL(_CREATE_EXPECT).format(self._expect))
        self._expect_text = self._expect.as_string(self._cursor)
        self._state = state_relation(settings)
        self.hold: int | None = None
        """The run's hold_lsn as last read (see ``sync.state``)."""
        self.open_rows: int | None = None
        """Rows applied so far of a source transaction applied in pieces,
        whose target transaction is open (None: none is)."""
        self._state_conn: Any = None

    def close(self) -> None:
        """Close the target connections (an open transaction rolls back)."""
        self.conn.close()
        if self._state_conn is not None:
            self._state_conn.close()

    def apply_piece(self, changes: Sequence[pgoutput.Decoded], final_lsn: int) -> None:
        """Apply part of one large source transaction, left uncommitted.

        A source transaction is applied whole or not at all; one too large
        to hold in memory is applied in pieces as it arrives, inside one
        target transaction that the first piece opens and ``commit_pieces``
        commits with the position. A piece that fails set-based runs again
        one statement per change (the piece alone rolled back to its
        savepoint), to name the row; anything else rolls it all back.

        Args:
            changes: The piece's changes, in the source's order.
            final_lsn: Where the source transaction commits (its Begin's).

        Raises:
            SyncError: A change could not be applied; nothing of the
                transaction is.
        """
        piece = Batch()
        self._gather(piece, changes)
        piece.end_lsn = final_lsn
        if self.open_rows is None:
            self._cursor.execute("begin; set constraints all deferred")
            self.open_rows = 0
        self.open_rows += self._run_piece(piece)

    def commit_pieces(self, batch: Batch) -> str:
        """Apply a transaction's last piece, its position, and commit it.

        Args:
            batch: The transaction's changes since its last piece, and its
                Commit (``add``).

        Returns:
            The run's status as recorded on the target (as ``commit``).

        Raises:
            SyncError: A change, or a deferred constraint at the commit,
                failed; nothing of the transaction is applied.
        """
        assert self.open_rows is not None
        rows = self.open_rows + self._run_piece(batch)
        try:
            self._cursor.execute(self._position(batch, rows).as_string(self._cursor))
            status = self._read_status()
            self._cursor.execute("commit")
        except psycopg2.Error as exc:
            self.abandon()
            if is_transient(exc):
                raise
            raise self._failed(batch, exc) from exc
        finally:
            self.open_rows = None
        batch.rows = rows
        return status

    def abandon(self) -> None:
        """Roll back a transaction applied in pieces, if one is open."""
        if self.open_rows is None:
            return
        self.open_rows = None
        # A closed connection rolled it back already.
        with contextlib.suppress(psycopg2.Error):
            self._cursor.execute("rollback")

    def _run_piece(self, piece: Batch) -> int:
        """Run a piece's statements in the open transaction; the rows they change."""
        statements, rows = self.build(piece, set_based=True)
        try:
            self._cursor.execute("savepoint pgshift_piece")
            self._run(statements)
            return rows
        except psycopg2.Error as exc:
            if is_transient(exc):
                self.abandon()
                raise
            failed = exc
        one_by_one, rows = self.build(piece, set_based=False)
        try:
            self._cursor.execute("rollback to savepoint pgshift_piece")
            if one_by_one == statements:
                raise failed
            self._run(one_by_one)
            return rows
        except psycopg2.Error as again:
            self.abandon()
            if is_transient(again):
                raise
            raise self._failed(piece, again) from again

    def _run(self, statements: Sequence[Statement]) -> None:
        """Run statements as one Query message.

        Outside a transaction block they run as one implicit transaction.
        """
        if statements:
            self._cursor.execute(
                ";\n".join(
                    s if isinstance(s, str) else s.as_string(self._cursor)
                    for s in statements
                )
            )

    def end_leftover_sessions(
        self, wait_seconds: float = 10.0
    ) -> tuple[int, str | None] | None:
        """End the target sessions a sync that is gone left applying a batch.

        A sync killed while the target applied one of its batches leaves that
        session running until the server notices its client gone (a minute
        for a large multi-row statement), holding the rows' locks: the next
        sync's first batch would wait on them, saying nothing. Called once
        the slot is held, when no other sync streams: another session of this
        role and database, a client's (not a walsender's), named as a sync's
        apply session and not idle, is such a leftover (or the last batch of
        a sync whose stream has just dropped). Each is ended, its transaction
        rolled back; had it committed first, its applied position was
        recorded with it, which is read here again. One this role may not
        end is left to the server, and said.

        Returns:
            None when no session was ended; else the applied position and
            the cutover marker recorded on the target once they ended: a
            leftover may have committed its batch after the run's position
            was first read, and the stream then skips what it applied.
        """
        self._cursor.execute(
            "select pid from pg_stat_activity where datname = current_database() "
            "and application_name = %s and pid <> pg_backend_pid() "
            "and usename = current_user and backend_type = 'client backend' "
            "and state is distinct from 'idle'",
            (APPLY_SESSION,),
        )
        ended = []
        for (pid,) in self._cursor.fetchall():
            try:
                self._cursor.execute("select pg_terminate_backend(%s)", (pid,))
            except psycopg2.errors.InsufficientPrivilege:
                logger.warning(
                    "a sync that is gone left its session on the target (pid %s) "
                    "applying a batch, and the target role may not end it: this "
                    "sync may wait on its rows until the server ends it",
                    pid,
                )
                continue
            ended.append(pid)
        if not ended:
            return None
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            self._cursor.execute(
                "select count(*) from pg_stat_activity where pid = any(%s)", (ended,)
            )
            if self._cursor.fetchone()[0] == 0:
                break
            time.sleep(0.1)
        logger.warning(
            "ended the target session%s %s that a sync that is gone left "
            "applying a batch (rolled back; this sync applies those changes again)",
            "" if len(ended) == 1 else "s",
            ", ".join(str(pid) for pid in ended),
        )
        self._cursor.execute(
            sql.SQL(
                "select applied_lsn::text, marker from {} where run_id = %s"
            ).format(self._state),
            (self._run_id,),
        )
        row = self._cursor.fetchone()
        if row is None or row[0] is None:
            return None
        return pgoutput.parse_lsn(row[0]), row[1]

    # -- relations ---------------------------------------------------------

    def relation(self, message: pgoutput.Relation) -> None:
        """Take a table's shape; stop if it no longer matches the map.

        A relation the map does not migrate is noted, not refused: PostgreSQL
        15's pgoutput describes a partition too before a change it publishes
        as its partitioned table's (``publish_via_partition_root``), and
        only a change of such a relation stops the sync.

        Raises:
            SchemaChanged: Columns were added, dropped, renamed or retyped
                on the source since the sync started.
        """
        name = message.name
        mapped = self._names.tables.get(name)
        if (
            mapped is None
            or message.namespace != self._settings.source_schema
            or not self._settings.selects(name)
        ):
            self._targets.pop(message.relation_id, None)
            self._unmapped[message.relation_id] = f"{message.namespace}.{name}"
            return
        self._unmapped.pop(message.relation_id, None)
        if is_migration_record(name, [c.name for c in message.columns]):
            self._records[message.relation_id] = name
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
                "on; or run `python loader/run.py cleanup` and migrate again. "
                "The application's migration tool, run against the target, "
                "would do nothing: the sync copied its record of the source's "
                "migrations, which says the change is made; run the SQL it "
                "gives for it instead (Django's `sqlmigrate`)"
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
        final = sql.Identifier(self._settings.final_schema, mapped.target)
        targets = [mapped.columns[c.name] for c in message.columns]
        self._cursor.execute(
            sql.SQL(
                # A modifier of -1 names bpchar and bit as such, where null
                # would name them character and bit: character(1), bit(1).
                "select a.attname, format_type(a.atttypid, -1), "
                "format_type(a.atttypid, a.atttypmod) "
                "from pg_attribute as a where a.attrelid = {}::regclass "
                "and a.attnum > 0 and not a.attisdropped"
            ).format(sql.Literal(final.as_string(self._cursor)))
        )
        types = {name: (bare, full) for name, bare, full in self._cursor.fetchall()}
        # Whether a unique index lies within the key's columns (each key
        # names one row), and whether one, or an exclusion constraint, lies
        # beyond them (``Target.unique_beyond_key``).
        self._cursor.execute(
            sql.SQL(
                "with i as (select i.indisunique as is_unique, i.indpred is null "
                "and i.indexprs is null and (select array_agg(a.attname::text) "
                "from pg_attribute as a where a.attrelid = i.indrelid and "
                "a.attnum = any(i.indkey)) operator(pg_catalog.<@) %s::text[] "
                "as within from pg_index as i where i.indrelid = {}::regclass "
                "and (i.indisunique or i.indisexclusion)) "
                "select coalesce(bool_or(is_unique and within), false), "
                "coalesce(bool_or(not within), false) from i"
            ).format(sql.Literal(final.as_string(self._cursor))),
            ([targets[i] for i in key],),
        )
        row = self._cursor.fetchone()
        unique_beyond_key = bool(row[1])
        leading: frozenset[int] = frozenset()
        if message.replica_identity == "f":
            # The columns a whole old row's lookup can reach by an index.
            self._cursor.execute(
                sql.SQL(
                    "select distinct a.attname from pg_index as i "
                    "join pg_class as c on c.oid = i.indexrelid "
                    "join pg_am as m on m.oid = c.relam and m.amname = 'btree' "
                    "join pg_attribute as a on a.attrelid = i.indrelid "
                    "and a.attnum = i.indkey[0] "
                    "where i.indrelid = {}::regclass and i.indpred is null"
                ).format(sql.Literal(final.as_string(self._cursor)))
            )
            indexed = {name for (name,) in self._cursor.fetchall()}
            leading = frozenset(i for i, t in enumerate(targets) if t in indexed)
        fewest = 0 if cascades and not self.replica_role else 1
        self._targets[message.relation_id] = Target(
            source=message,
            mapped=mapped,
            final=final,
            key=key,
            fewest=fewest,
            types=tuple(types.get(t, ("text",))[0] for t in targets),
            full_types=tuple(types.get(t, ("text", "text"))[1] for t in targets),
            leading=leading,
            set_based=bool(row and row[0])
            and message.replica_identity != "f"
            and fewest == 1,
            unique_beyond_key=unique_beyond_key,
            always=frozenset(
                i for i, t in enumerate(targets) if mapped.identities.get(t) == "a"
            ),
            names=tuple(sql.Identifier(t).as_string(self._cursor) for t in targets),
            final_text=final.as_string(self._cursor),
            key_of=itemgetter(*key),
        )
        made = self._targets[message.relation_id]
        assigned = tuple(
            i for i in range(len(targets)) if i not in key and i not in made.always
        )
        matched = tuple(sorted(made.always - set(key)))
        made.plain = (assigned, matched, False) if assigned else None
        made.table = mapped.target
        made.insert_slot = (mapped.target, "insert", ())
        made.plain_slot = (mapped.target, "plain")
        made.insert = (
            sql.SQL("insert into {} ({}){} ")
            .format(
                final,
                sql.SQL(", ").join(map(sql.Identifier, targets)),
                sql.SQL(" overriding system value" if mapped.identities else ""),
            )
            .as_string(self._cursor)
        )

    def _target(self, relation_id: int) -> Target:
        try:
            return self._targets[relation_id]
        except KeyError:
            if relation_id in self._unmapped:
                raise SyncError(
                    f"sync stopped: the stream carries a change of "
                    f"{self._unmapped[relation_id]}, which this run does not "
                    "migrate (a table renamed on the source since the sync "
                    "started, or one left out with --include/--exclude that the "
                    "publication still carries). Nothing of the transaction "
                    "holding it was applied; everything before it is. A run "
                    "follows the tables it copied, by their names then. Next: "
                    "`python loader/run.py cleanup`, scaffold, and sync again "
                    "from a new copy"
                ) from None
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
            # A whole old row (REPLICA IDENTITY FULL): each value is read as
            # the final column's type, and it and the column are compared as
            # their type's output function prints them in this session, as
            # the source printed the value (a cast to text is not that for a
            # boolean, an inet, a char(n) or an xml's declaration, and a
            # json, point or xml has no equality; concat() prints by the
            # output function); one row of equal ones is changed.
            terms = [
                # As text: a composite of null fields is null to IS NULL.
                sql.SQL("{}::text is null").format(self._column(target, i))
                if old[i] is None
                else sql.SQL("concat({}) = concat(cast({} as {}))").format(
                    self._column(target, i),
                    self._literal(old[i]),
                    sql.SQL(target.full_types[i]),
                )
                for i in range(len(old))
                if old[i] is not UNCHANGED
            ]
            # A column leading a btree index is also compared by its type's
            # equality, which values printed alike always satisfy: the row
            # is then found through the index, not by reading the table.
            terms += [
                sql.SQL("{} = cast({} as {})").format(
                    self._column(target, i),
                    self._literal(old[i]),
                    sql.SQL(target.full_types[i]),
                )
                for i in sorted(target.leading)
                if old[i] is not None and old[i] is not UNCHANGED
            ]
            # A ctid names a row within one table: a partitioned table's
            # partitions each have their own, so the partition is named too.
            return sql.SQL(
                "(tableoid, ctid) = (select tableoid, ctid from {} where {} limit 1)"
            ).format(target.final, sql.SQL(" and ").join(terms))
        terms = [
            sql.SQL("{} = {}").format(self._column(target, i), self._literal(old[i]))
            for i in target.key
        ]
        return sql.SQL(" and ").join(terms)

    def _expect_one(
        self,
        target: Target,
        statement: sql.Composable,
        what: str,
        old: Sequence[Value],
        kind: str | None,
    ) -> sql.Composable:
        row = self._name_row(target, old, kind)
        return sql.SQL(
            "with changed as ({} returning 1) select {}(count(*), {}, 1, {}) "
            "from changed"
        ).format(
            statement,
            self._expect,
            sql.Literal(target.fewest),
            sql.Literal(f"{what} of {target.mapped.target} ({row})"),
        )

    def _name_row(self, target: Target, old: Sequence[Value], kind: str | None) -> str:
        """The row a change looks for, as final columns and values."""
        whole = kind == "O" or target.source.replica_identity == "f"
        indexes = range(len(old)) if whole else target.key
        named = ", ".join(
            f"{target.mapped.columns[target.source.columns[i].name]} = "
            + ("null" if old[i] is None else repr(str(old[i])))
            for i in indexes
            if old[i] is not UNCHANGED
        )
        return named if len(named) <= 300 else named[:300] + "..."

    def statement(self, change: pgoutput.Decoded) -> tuple[sql.Composable, int] | None:
        """The SQL of one update, delete or truncate, and the rows it changes.

        None when there is nothing to do (inserts are gathered by ``add``).
        """
        if isinstance(change, pgoutput.Truncate):
            return self._truncate(tuple(map(self._target, change.relation_ids)), change)
        if isinstance(change, pgoutput.Update | pgoutput.Delete):
            return self._statement(self._target(change.relation_id), change)
        return None

    def _statement(
        self, target: Target, change: pgoutput.Decoded
    ) -> tuple[sql.Composable, int] | None:
        if isinstance(change, pgoutput.Update):
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
            return (
                self._expect_one(target, update, "an update", old, change.old_kind),
                1,
            )
        if isinstance(change, pgoutput.Delete):
            delete = sql.SQL("delete from {} where {}").format(
                target.final, self._where(target, change.old, change.old_kind)
            )
            return (
                self._expect_one(
                    target, delete, "a delete", change.old, change.old_kind
                ),
                1,
            )
        return None

    def _truncate(
        self, targets: tuple[Target, ...], change: pgoutput.Truncate
    ) -> tuple[sql.Composable, int]:
        # ONLY belongs to each table named; PostgreSQL refuses it on a
        # partitioned table, whose partitions hold its rows.
        finals = [
            sql.SQL("{}{}").format(
                sql.SQL("" if target.mapped.partition_key else "only "),
                target.final,
            )
            for target in targets
        ]
        return (
            sql.SQL("truncate {}{}").format(
                sql.SQL(", ").join(finals),
                sql.SQL(" restart identity" if change.restart_identity else ""),
            ),
            1,
        )

    def add(
        self, batch: Batch, changes: Sequence[pgoutput.Decoded], commit: pgoutput.Commit
    ) -> None:
        """Add one whole source transaction to a batch.

        Each change keeps the table shape it arrived under; the statements
        are written when the batch is committed.
        """
        self._gather(batch, changes)
        batch.transactions += 1
        batch.end_lsn = commit.end_lsn
        batch.last = commit
        if self._records:  # rare: a migration tool's table was described
            self._say_migrated(changes, commit)

    def _say_migrated(
        self, changes: Sequence[pgoutput.Decoded], commit: pgoutput.Commit
    ) -> None:
        """Warn when a transaction writes a migration tool's record.

        The stream carries the record's rows, not the migration's DDL: once
        applied, the record tells the tool that the target's schema is the
        new one, which it is not until the team makes the change there.
        """
        written = {
            self._records[relation]
            for change in changes
            if (relation := getattr(change, "relation_id", None)) in self._records
        }
        for name in sorted(written):
            logger.warning(
                "the source's %s changed in the transaction ending at %s: a "
                "schema migration ran on the source (or its record was "
                "written). The stream applies the record, not the migration's "
                "schema changes, so the target's record now says the schema "
                "is current. Next: `python loader/run.py scaffold --check` "
                "says what changed; make the same change on the target under "
                "the target names (the SQL the tool gives for it: Django's "
                "`sqlmigrate`, alembic's `upgrade --sql`), then scaffold; "
                "cutover refuses until the target has it. A migration that "
                "creates a table cannot join this run (it follows the tables "
                "it copied): `python loader/run.py cleanup` and sync from a "
                "new copy, or leave the table out with --exclude",
                name,
                pgoutput.format_lsn(commit.end_lsn),
            )

    def _gather(self, batch: Batch, changes: Sequence[pgoutput.Decoded]) -> None:
        """Add changes to a batch, each with the table shape it arrived under."""
        append = batch.changes.append
        targets = self._targets
        truncate = pgoutput.Truncate
        for change in changes:
            if type(change) is truncate:
                append((tuple(map(self._target, change.relation_ids)), change))
            else:
                relation_id = change.relation_id  # type: ignore[union-attr]
                target = targets.get(relation_id) or self._target(relation_id)
                append((target, change))
        batch.rows += len(changes)

    def build(
        self, batch: Batch, set_based: bool = True
    ) -> tuple[list[Statement], int]:
        """The statements of a batch, and the rows they change.

        It reads the batch and the tables' shapes only, never the
        connection: the stream's thread builds the next batch while the
        apply thread runs the one before.

        Args:
            batch: The batch.
            set_based: Write runs of changes as set-based statements; when
                False, one statement per update and delete, and one
                multi-row INSERT per run of inserts into one table.
        """
        statements: list[Statement] = []
        rows = 0
        for run in self._plan(batch.changes, set_based):
            text, changed = self._write(run)
            if text is not None:
                statements.append(text)
                rows += changed
        return statements, rows

    def _plan(
        self, items: Sequence[tuple[Any, pgoutput.Decoded]], set_based: bool
    ) -> list[_Run]:
        """Gather a batch's changes into runs, each one statement.

        A change joins the open run of its table, kind and shape unless a
        change of its table after that run touched one of its keys (or
        the run holds it already: a key changed twice, or inserted and then
        changed, starts a new run), or a change of its table that names no
        key (a whole-row match, a truncate) came after the run. Changes of
        one key thus keep the source's order; changes of different keys
        of one table commute, but for a table with a unique index beyond
        its key (``Target.unique_beyond_key``): there a delete may free a
        value (its old row's, which the stream does not send) that a later
        insert or update takes (a Django many-to-many link deleted and made
        again), so none of those joins a run before it. An update freeing
        one is rarer, and left to the batch's one-change-at-a-time retry,
        rather than split every run of updates. Across tables, unless the
        session is a replica's, a change joins only the batch's last run.
        """
        plan: list[_Run] = []
        open_runs: dict[tuple[Any, ...], int] = {}
        touched: dict[tuple[str, Any], int] = {}
        floor: dict[str, int] = {}
        # Per table with a unique index beyond its key: the last run that
        # deleted a row of it.
        freed: dict[str, int] = {}
        across = set_based and self.replica_role
        insert_type, update_type = pgoutput.Insert, pgoutput.Update
        for target, change in items:
            if type(target) is tuple:
                plan.append(_Run(None, "one", target, [change]))
                open_runs.clear()
                touched.clear()
                continue
            table = target.table
            kind_type = type(change)
            # The common changes are classified here; _classify does the rest.
            if kind_type is insert_type:
                kind, shape, slot = "insert", (), target.insert_slot
                keys: tuple[Any, ...] = (target.key_of(change.new),)  # type: ignore[union-attr]
            elif (
                kind_type is update_type
                and change.old is None  # type: ignore[union-attr]
                and set_based
                and target.set_based
                and target.plain is not None
                and UNCHANGED not in change.new  # type: ignore[union-attr]
            ):
                # Every column sent, the key kept.
                kind, shape, slot = "update", target.plain, target.plain_slot
                keys = (target.key_of(change.new),)  # type: ignore[union-attr]
            else:
                kind, shape, keys = self._classify(target, change, set_based)
                if kind == "one":
                    plan.append(_Run(target, "one", (), [change]))
                    floor[table] = len(plan) - 1
                    continue
                slot = (table, kind, shape)
            index = open_runs.get(slot)
            if index is not None and (
                index <= floor.get(table, -1)
                or (not across and index != len(plan) - 1)
                or len(plan[index].changes) >= RUN_ROWS
            ):
                index = None
            if index is not None:
                for key in keys:
                    if touched.get((table, key), -1) >= index:
                        index = None
                        break
            if index is not None and kind != "delete" and index < freed.get(table, -1):
                index = None
            if index is None:
                plan.append(_Run(target, kind, shape, []))
                index = open_runs[slot] = len(plan) - 1
            plan[index].changes.append(change)
            for key in keys:
                touched[table, key] = index
            if target.unique_beyond_key and kind == "delete":
                freed[table] = max(freed.get(table, -1), index)
        return plan

    def _classify(
        self, target: Target, change: pgoutput.Decoded, set_based: bool
    ) -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
        """A change's kind of run, its shape, and the keys it touches."""
        kind = type(change)
        if kind is pgoutput.Insert:
            return "insert", (), (target.key_of(change.new),)  # type: ignore[union-attr]
        if not (set_based and target.set_based):
            return "one", (), ()
        if kind is pgoutput.Update and change.old_kind != "O":  # type: ignore[union-attr]
            new = change.new  # type: ignore[union-attr]
            old = change.old  # type: ignore[union-attr]
            if old is None and UNCHANGED not in new:
                # Every column sent, the key kept: nothing to assign, since
                # _plan takes the others (``Target.plain``).
                return "one", (), ()
            if old is None:
                keys: tuple[Any, ...] = (target.key_of(new),)
                same: frozenset[int] = frozenset(target.key)
            else:
                keys = (target.key_of(old), target.key_of(new))
                same = frozenset()
            if any(new[i] is UNCHANGED for i in target.key) or (
                old is not None and UNCHANGED in old
            ):
                return "one", (), ()
            always = target.always - same
            assigned = tuple(
                i
                for i, v in enumerate(new)
                if v is not UNCHANGED and i not in same and i not in always
            )
            if not assigned:
                return "one", (), ()
            matched = tuple(i for i in sorted(always) if new[i] is not UNCHANGED)
            return "update", (assigned, matched, change.old is not None), keys
        if kind is pgoutput.Delete and change.old_kind != "O":  # type: ignore[union-attr]
            old = change.old  # type: ignore[union-attr]
            if UNCHANGED in old:
                return "one", (), ()
            return "delete", (), (target.key_of(old),)
        return "one", (), ()

    def _write(self, run: _Run) -> tuple[Statement | None, int]:
        """The SQL of one run, and the rows it changes (None: nothing to do).

        A set-based run is SQL text; a single change's statement stays
        composed, rendered by the thread that runs it.
        """
        target = run.target
        if run.kind == "one" or (run.kind != "insert" and len(run.changes) == 1):
            (change,) = run.changes
            if target is None:
                built = self._truncate(run.shape, change)
            else:
                built = self._statement(target, change)
            if built is None:
                return None, 0
            return built
        assert target is not None
        count = len(run.changes)
        names, types = target.names, target.types
        if run.kind == "insert":
            columns = _columns([c.new for c in run.changes])  # type: ignore[union-attr]
            casts = ", ".join(
                f"pgshift_rows.v{j}::{types[j]}" for j in range(len(columns))
            )
            return (
                f"{target.insert}select {casts} from {_unnest(columns)}",
                count,
            )
        if run.kind == "update":
            assigned, matched, moved = run.shape
            if moved:
                pick_old = itemgetter(*target.key)
                pick_new = itemgetter(*assigned, *matched)
                rows = [
                    _flat(pick_old(c.old)) + _flat(pick_new(c.new))  # type: ignore[union-attr]
                    for c in run.changes
                ]
            else:
                pick = itemgetter(*target.key, *assigned, *matched)
                # At least two columns: itemgetter returns tuples.
                rows = [pick(c.new) for c in run.changes]  # type: ignore[union-attr]
            k, a = len(target.key), len(assigned)
            sets = ", ".join(
                f"{names[i]} = pgshift_rows.v{k + j}::{types[i]}"
                for j, i in enumerate(assigned)
            )
            where = [
                f"pgshift_target.{names[i]} = pgshift_rows.v{j}::{types[i]}"
                for j, i in enumerate(target.key)
            ] + [
                f"pgshift_target.{names[i]} = pgshift_rows.v{k + a + j}::{types[i]}"
                for j, i in enumerate(matched)
            ]
            action = (
                f"update {target.final_text} as pgshift_target set {sets} "
                f"from {_unnest(_columns(rows))} where {' and '.join(where)}"
            )
            what = f"{count} updates of {target.mapped.target}"
        else:
            pick = itemgetter(*target.key)
            rows = [_flat(pick(c.old)) for c in run.changes]  # type: ignore[union-attr]
            where = [
                f"pgshift_target.{names[i]} = pgshift_rows.v{j}::{types[i]}"
                for j, i in enumerate(target.key)
            ]
            action = (
                f"delete from {target.final_text} as pgshift_target using "
                f"{_unnest(_columns(rows))} where {' and '.join(where)}"
            )
            what = f"{count} deletes of {target.mapped.target}"
        text = (
            f"with pgshift_changed as ({action} returning 1) "
            f"select {self._expect_text}(count(*), {count}, {count}, "
            f"{quote(what)}) from pgshift_changed"
        )
        return text, count

    def _position(self, batch: Batch, rows: int) -> sql.Composed:
        """The statement recording a batch's position, returning the run's status."""
        return sql.SQL(
            "update {} set applied_lsn = {}::pg_lsn, applied_commit_at = {}, "
            "applied_rows = applied_rows + {}, marker = coalesce({}, marker), "
            "updated_at = now() where run_id = {} returning status, hold_lsn::text"
        ).format(
            self._state,
            sql.Literal(pgoutput.format_lsn(batch.end_lsn)),
            sql.Literal(batch.commit_time),
            sql.Literal(rows),
            sql.Literal(batch.marker),
            sql.Literal(self._run_id),
        )

    def _execute(self, batch: Batch, statements: list[Statement], rows: int) -> str:
        """Run statements and the batch's position as one target transaction."""
        # One Query message: one round trip, run as one transaction.
        self._run(
            ["set constraints all deferred", *statements, self._position(batch, rows)]
        )
        return self._read_status()

    def commit(
        self, batch: Batch, built: tuple[list[Statement], int] | None = None
    ) -> str:
        """Apply a batch and its position in one target transaction.

        The batch is written set-based first. When that fails, nothing of
        it was applied, and it runs again one statement per change: that
        either applies it (a unique constraint can trip on the order in
        which a set-based statement visits its rows, never on the source's
        order) or fails on the change the target cannot take, and says
        which row.

        Args:
            batch: The batch.
            built: Its set-based statements and rows, when built already
                (``build``); built here otherwise.

        Returns:
            The run's status as recorded on the target after the batch
            (its hold_lsn in ``hold``).

        Raises:
            SyncError: A statement failed; nothing of the batch was applied.
        """
        statements, rows = built or self.build(batch, set_based=True)
        try:
            status = self._execute(batch, statements, rows)
        except psycopg2.Error as exc:
            if is_transient(exc):
                # A dropped connection: nothing of the batch was committed,
                # and the stream resumes from the recorded position.
                raise
            one_by_one, rows = self.build(batch, set_based=False)
            if one_by_one == statements:
                raise self._failed(batch, exc) from exc
            logger.info(
                "the batch up to %s failed set-based (%s); applying it one "
                "change at a time",
                pgoutput.format_lsn(batch.end_lsn),
                str(exc).strip().splitlines()[0],
            )
            try:
                status = self._execute(batch, one_by_one, rows)
            except psycopg2.Error as again:
                if is_transient(again):
                    raise
                raise self._failed(batch, again) from again
        batch.rows = rows
        return status

    def _failed(self, batch: Batch, exc: psycopg2.Error) -> SyncError:
        first = str(exc).strip().splitlines()[0]
        next_step = "`python loader/run.py cleanup`, then sync again from a new copy"
        if exc.pgcode == "P0001" and first.startswith("pgshift sync: "):
            # sync_expect: a change found no row, or more than one.
            why = (
                "The final table does not hold that row exactly once as the "
                "source had it: either something other than the sync changed "
                "the table, or pgshift could not match one of the row's values "
                "(one that does not read back through its final column's type "
                "as the source printed it, such as a type the final column "
                "does not share with the source's)"
            )
        elif exc.pgcode == "23514" and first.startswith("no partition of relation"):
            # A partition the source gained during the sync (partition
            # maintenance making next month's): the rows it takes have no
            # place on the target until it is made there too.
            detail = getattr(exc.diag, "message_detail", None) or ""
            first += f" ({detail.rstrip('.')})"
            why = (
                "The source has a partition the final table lacks, added after scaffold"
            )
            next_step = (
                "create it on the target with the final table's names (`CREATE "
                "TABLE <name> PARTITION OF <final table> FOR VALUES ...`, the "
                "source's bounds), then run sync again: it goes on from the "
                "last applied position"
            )
        elif exc.pgcode == "22P02" and (
            added := enum_label_statement(
                exc.diag.message_primary or first, self._settings.final_schema
            )
        ):
            # A label the source's enum gained during the sync (its
            # application's next migration): the target's type lacks it.
            why = "The source's enum type gained that label after scaffold"
            next_step = (
                f"add it on the target (`{added}`, with BEFORE or AFTER the "
                "label next to it on the source, to keep the source's order), "
                "then run sync again: it goes on from the last applied position"
            )
        elif exc.pgcode == "23502" and (
            dropped := self._dropped_on_source(
                exc.diag.table_name, exc.diag.column_name
            )
        ):
            # A NOT NULL column the source dropped during the sync, its
            # application's migration run on the source only: the name map
            # scaffold wrote since has it no more, the final table still has.
            why = (
                f"The final table {dropped} still has column "
                f"{exc.diag.column_name}, which the source's table no longer "
                "has (dropped there during the sync): the rows the sync writes "
                "give it no value. A migration tool run against the target "
                "does nothing here: the sync copied its record of the source's "
                "migrations, which says it ran"
            )
            next_step = (
                "drop the column on the target as it was on the source (`ALTER "
                f"TABLE {quote_ident(self._settings.final_schema)}."
                f"{quote_ident(dropped)} DROP COLUMN "
                f"{quote_ident(exc.diag.column_name)}`, or the SQL the migration tool gives "
                "for that migration: Django's `sqlmigrate`), then run sync "
                "again: it goes on from the last applied position"
            )
        else:
            why = (
                "The target's final tables no longer match the source (changed "
                "by something other than the sync?)"
            )
        return SyncError(
            f"sync stopped: applying the source's transactions up to "
            f"{pgoutput.format_lsn(batch.end_lsn)} failed on the target, and "
            f"none of them was applied: {first}. {why}. Next: {next_step}"
        )

    def _dropped_on_source(self, table: str | None, column: str | None) -> str | None:
        """The final table, where ``column`` is one of its the name map lacks."""
        for mapped in self._names.tables.values():
            if mapped.target == table and column not in mapped.columns.values():
                return mapped.target
        return None

    def _read_status(self) -> str:
        """Take (status, hold_lsn) from the statement just run."""
        row = self._cursor.fetchone()
        if row is None:
            self.hold = None
            return "gone"
        self.hold = None if row[1] is None else pgoutput.parse_lsn(row[1])
        return str(row[0])

    def held(self, position: int | None) -> None:
        """Record that the stream waits at a position (None: it goes on).

        While a transaction applied in pieces is open, on a connection of
        its own: cutover must see it at once.
        """
        cursor = self._cursor
        if self.open_rows is not None:
            if self._state_conn is None:
                from pgshift.connection import connect

                self._state_conn = connect(
                    self._settings.target,
                    autocommit=True,
                    application_name=APPLY_SESSION + " state",
                )
            cursor = self._state_conn.cursor()
        cursor.execute(
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
