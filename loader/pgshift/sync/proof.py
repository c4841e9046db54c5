"""Cutover's proof: a full check before the downtime, the changes since during it.

Before the downtime, while the application still writes:

1. The running sync stops at a transaction boundary (``hold_lsn`` '0/0',
   see ``sync.state``).
2. A temporary logical slot is created on the source with its exported
   snapshot: position B, and the source as it was at B.
3. The sync applies every transaction that ends at or before B and waits
   there (``hold_lsn`` B, answered by ``held_lsn``); with no sync process
   running, cutover follows the slot itself up to B.
4. Each materialized view pgshift migrated is refreshed on the target
   (``refresh_materialized_views``): the stream applies rows to the final
   tables, never to the views over them, so the target's would otherwise
   hold the rows of the build while their tables moved on.
5. A target transaction that reads no table exports its snapshot: the
   target at B. The sync goes on.
6. Every table is counted and checksummed on both sides at B, each in its
   own short transaction that imports the snapshot and commits, up to
   ``--jobs`` at a time; then every view's rows, in the same snapshots
   (``verify.views.check_views``): sync's start could not compare them, the
   source moving on from the copy's snapshot.

The transactions that keep the two snapshots open touch no table, so they
hold no lock: an application's TRUNCATE or DDL waits for none of them.

During the downtime (writes stopped, the stream drained to the marker) the
temporary slot's changes since B give, per table, the keys touched since B
(K). At B both sides held the same rows, so the rows outside K still match
on the source (only K changed there, the slot says so). On the target, one
scan counts the rows and the row versions written after B (by their
``xmin``, against the snapshot at B): every such version must have a key
in K, and the count must equal the count at B less K's rows at B plus K's
rows now. Then the rows of K are compared, count and checksum, on both
sides. A table whose changes cannot be keyed (a TRUNCATE since B, REPLICA
IDENTITY FULL without a primary key, a key value the stream left out, more
than ``MAX_KEYS`` keys) is counted and checksummed whole instead, as is a
table whose target scan finds writes that are not the stream's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.catalog import Catalog, read_catalog
from pgshift.checksum import checksum_expression, checksum_sql
from pgshift.connection import connect, transaction
from pgshift.load.extract import SESSION_SETTINGS
from pgshift.mapping import NameMap, TableMap
from pgshift.progress import counted
from pgshift.settings import Settings
from pgshift.sqlident import percent_safe, quote_ident
from pgshift.sync import pgoutput, source, state
from pgshift.sync.apply import SyncError
from pgshift.sync.pgoutput import UNCHANGED
from pgshift.sync.stream import follow
from pgshift.verify.views import check_views

logger = logging.getLogger(__name__)

HOLD_TIMEOUT = 120.0
"""Seconds cutover waits for the running sync to stop where it asks."""
MAX_KEYS = 100_000
"""Keys touched since B above which a table is checked whole."""
HOLD_PREFIX = "pgshift hold"
"""The prefix of the logical message written right after B: a transaction
that ends after B, so that a held stream sees where to stop even when the
application writes nothing."""


@dataclass
class Side:
    """One side's figures of a table: rows and checksum."""

    rows: int
    checksum: str


@dataclass
class Baseline:
    """What the check before the downtime left for the downtime.

    Attributes:
        position: B, as text.
        slot_name: The temporary slot.
        replication: The source's replication connection owning the
            temporary slot (closed: the slot is gone).
        holder: The target connection whose open transaction keeps the
            snapshot at B (it reads no table).
        target_snapshot: That snapshot's id.
        xmax: The snapshot's xmax, as a 32-bit transaction id.
        xip: The transactions in progress in it, as 32-bit ids.
        rows: Table to its row count at B (equal on both sides).
        views: One line per view, its rows compared at B.
        refreshed: The target's materialized views refreshed at B (target
            names).
        catalog: The source catalog (columns, primary keys).
        steps: (step, seconds) of the check.
    """

    position: str
    slot_name: str
    replication: Any
    holder: Any
    target_snapshot: str
    xmax: str
    xip: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    views: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    catalog: Catalog | None = None
    steps: list[tuple[str, float]] = field(default_factory=list)

    def close(self) -> None:
        """End both snapshots and drop the temporary slot."""
        _close(self.holder, self.replication, self.slot_name)


def _close(holder: Any, replication: Any, slot: str) -> None:
    """Close the check's connections, dropping the temporary slot first.

    The server drops a temporary slot when its session ends, but only once
    the session's process has gone: dropped here, it is gone when cutover
    returns.
    """
    if replication is not None and not replication.closed:
        try:
            replication.cursor().execute(
                sql.SQL("DROP_REPLICATION_SLOT {}")
                .format(sql.Identifier(slot))
                .as_string(replication)
            )
        except Exception:  # noqa: BLE001 - the slot may never have been made
            logger.debug("dropping the temporary slot failed", exc_info=True)
    for conn in (holder, replication):
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing on every path
                logger.debug("closing a check connection failed", exc_info=True)


def temporary_slot_name(run_id: str) -> str:
    """The temporary slot of a run's cutover check."""
    return f"{source.SLOT_PREFIX}{run_id}_check"


def refuse_without_free_slot(cursor: Any) -> None:
    """Refuse a cutover when the source has no slot or WAL sender for its check.

    Raises:
        SyncError: None free; nothing was changed.
    """
    cursor.execute(
        "select current_setting('max_replication_slots')::int, "
        "(select count(*) from pg_replication_slots), "
        "current_setting('max_wal_senders')::int, "
        "(select count(*) from pg_stat_replication)"
    )
    slots, used_slots, senders, used_senders = cursor.fetchone()
    if used_slots >= slots:
        raise SyncError(
            "cutover refused: the source has no free replication slot for the "
            f"check before the downtime ({used_slots} of max_replication_slots = "
            f"{slots} in use); nothing was changed. Next: drop an unused slot "
            "(pg_replication_slots) or raise max_replication_slots"
        )
    if used_senders >= senders:
        raise SyncError(
            "cutover refused: the source has no free WAL sender for the check "
            f"before the downtime ({used_senders} of max_wal_senders = {senders} "
            "in use); nothing was changed. Next: end an unused replication "
            "connection or raise max_wal_senders"
        )


def _set_hold(settings: Settings, run_id: str, hold: str | None) -> None:
    with transaction(settings.target) as cursor:
        state.update(cursor, settings, run_id, hold_lsn=hold, held_lsn=None)


def _wait_held(settings: Settings, run_id: str, position: str | None) -> str:
    """Wait until the sync records it is held (at ``position`` when given)."""
    deadline = time.monotonic() + HOLD_TIMEOUT
    while time.monotonic() < deadline:
        with transaction(settings.target) as cursor:
            cursor.execute(
                sql.SQL(
                    "select held_lsn::text, status from {} where run_id = %s"
                ).format(state.relation(settings)),
                (run_id,),
            )
            held, status = cursor.fetchone()
        if status != "streaming":
            raise SyncError(
                f"cutover stopped before the downtime: the sync run is {status} now"
            )
        if held is not None and (
            position is None or pgoutput.parse_lsn(held) == pgoutput.parse_lsn(position)
        ):
            return str(held)
        time.sleep(0.02)
    raise SyncError(
        "cutover stopped before the downtime: the running sync did not stop "
        + (f"at {position}" if position else "between two transactions")
        + f" within {HOLD_TIMEOUT:.0f} s (is it far behind, or stuck? see its "
        "output and `python loader/run.py status`); it was let go and nothing "
        "was changed on the source"
    )


def _session(conn: Any) -> Any:
    cursor = conn.cursor()
    for name, value in SESSION_SETTINGS.items():
        cursor.execute("select set_config(%s, %s, false)", (name, value))
    conn.commit()
    return cursor


def _read(
    url: Any, query: str, params: Any = None, snapshot: str | None = None
) -> tuple:
    """The row of one query, run in its own short read-only transaction.

    With ``snapshot``, the transaction imports it (repeatable read) and
    reads what that snapshot saw; without, it reads the present.
    """
    conn = connect(url, readonly=True, application_name="pgshift cutover check")
    try:
        cursor = _session(conn)
        if snapshot is not None:
            cursor.execute("set transaction isolation level repeatable read")
            cursor.execute("set transaction snapshot %s", (snapshot,))
        cursor.execute(query, params)
        row = cursor.fetchone()
        conn.commit()
        return tuple(row)
    finally:
        conn.close()


def _relations(
    settings: Settings, names: NameMap, catalog: Catalog, table: str
) -> tuple[str, str, list[tuple[str, str]], list[tuple[str, str]]]:
    """(source relation, target relation, source columns, target columns)."""
    mapped = names.tables[table]
    columns = [(c.name, c.data_type) for c in catalog.tables[table].columns]
    return (
        f"{quote_ident(settings.source_schema)}.{quote_ident(table)}",
        f"{quote_ident(settings.final_schema)}.{quote_ident(mapped.target)}",
        columns,
        target_columns(settings, mapped, columns),
    )


def target_columns(
    settings: Settings, mapped: TableMap, columns: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The final table's (column, type) for the source table's, by the name map.

    Raises:
        SyncError: A source column the map does not know: added on the
            source since scaffold.
    """
    unknown = [c for c, _ in columns if c not in mapped.columns]
    if unknown:
        raise SyncError(
            f"cutover stopped: source table {mapped.source} has "
            f"{'columns' if len(unknown) > 1 else 'column'} {', '.join(unknown)}, "
            "which the name map does not know (added on the source since "
            "scaffold, and not on the target). Next: add "
            f"{'them' if len(unknown) > 1 else 'it'} to the final table "
            f"{settings.final_schema}.{mapped.target} too, run `python "
            "loader/run.py scaffold`, and cutover again"
        )
    return [(mapped.columns[c], t) for c, t in columns]


def check_at_b(
    settings: Settings,
    names: NameMap,
    run: state.SyncRun,
    tables: list[str],
    cursor: Any,
    say: Callable[[str], None],
) -> Baseline:
    """Hold the sync at a fresh position B and prove both sides equal there.

    Args:
        settings: The run settings.
        names: The name map.
        run: The recorded run.
        tables: The migrated tables.
        cursor: An autocommit cursor on the source.
        say: Prints a line of progress.

    Raises:
        SyncError: The hold timed out, or a table differs at B (the
            sync is let go and the temporary slot dropped either way).
    """
    with transaction(settings.source_required, readonly=True) as src:
        catalog = read_catalog(src, settings.source_schema)
    started = time.monotonic()
    running = source.slot_state(cursor, run.slot_name).active
    replication = holder = None
    held = False
    try:
        if running:
            held = True
            _set_hold(settings, run.run_id, "0/0")
            _wait_held(settings, run.run_id, None)
        replication = source.replication_connection(
            settings.source_required, "pgshift cutover check"
        )
        position, snapshot = _create_temporary_slot(replication, run.run_id)
        cursor.execute(
            "select pg_logical_emit_message(true, %s, %s)", (HOLD_PREFIX, position)
        )
        if running:
            _set_hold(settings, run.run_id, position)
            _wait_held(settings, run.run_id, position)
        else:
            with transaction(settings.target) as target_cursor:
                latest = state.latest(target_cursor, settings)
            assert latest is not None
            reached = follow(
                settings,
                names,
                latest,
                stop_at=pgoutput.parse_lsn(position),
                quiet=True,
            )
            if reached.reason != "held":
                raise SyncError(
                    f"cutover stopped before the downtime: the stream ended before "
                    f"{position} ({reached.reason})"
                )
        held_at = time.monotonic()
        # The target's tables hold the source's rows at B now, and stay so
        # while the sync is held: refreshed here, each materialized view
        # holds its definition over them, which the snapshot exported next
        # sees. It is not refreshed again in the downtime, which would add
        # every materialized view's query to it: the target's hold their
        # rows as of B, seconds before the switch, where a source's
        # materialized view is only as fresh as its last REFRESH (the
        # application's schedule refreshes the target's from then on).
        refreshed = refresh_materialized_views(settings, names, say)
        refreshing = time.monotonic() - held_at
        holder = connect(settings.target, application_name="pgshift cutover check")
        holding = holder.cursor()
        holding.execute("set transaction isolation level repeatable read, read only")
        # Reads no table: it holds no lock, only the snapshot.
        holding.execute(
            "select pg_export_snapshot(), "
            "(pg_snapshot_xmax(pg_current_snapshot())::text::numeric % 4294967296)::text, "
            "array(select (x::text::numeric % 4294967296)::text "
            "from pg_snapshot_xip(pg_current_snapshot()) x)"
        )
        target_snapshot, xmax, xip = holding.fetchone()
        applied = _read(
            settings.target,
            sql.SQL(
                "select applied_lsn::text, held_lsn::text from {} where run_id = %s"
            )
            .format(state.relation(settings))
            .as_string(holding),
            (run.run_id,),
            snapshot=target_snapshot,
        )
        if pgoutput.parse_lsn(applied[0] or "0/0") > pgoutput.parse_lsn(position) or (
            running
            and pgoutput.parse_lsn(applied[1] or "0/0") != pgoutput.parse_lsn(position)
        ):
            raise SyncError(
                f"cutover stopped before the downtime: the target was not held at "
                f"{position} (applied {applied[0]}; another sync process?); "
                "nothing was changed on the source"
            )
        if held:
            _set_hold(settings, run.run_id, None)
            held = False
        baseline = Baseline(
            position=position,
            slot_name=temporary_slot_name(run.run_id),
            replication=replication,
            holder=holder,
            target_snapshot=target_snapshot,
            xmax=xmax,
            xip=list(xip),
            catalog=catalog,
            refreshed=refreshed,
        )
        baseline.steps.append(
            ("hold the sync at B", time.monotonic() - started - refreshing)
        )
        if refreshed:
            baseline.steps.append((refresh_step(len(refreshed)), refreshing))
        say(
            f"cutover: the target is held at {position}; "
            + (
                f"refreshed {counted(len(refreshed), 'materialized view')} "
                f"there ({refreshing:.1f} s); "
                if refreshed
                else ""
            )
            + "checking every table there"
        )
        lap = time.monotonic()
        differences = _full_check(
            settings,
            names,
            catalog,
            tables,
            source_snapshot=snapshot,
            target_snapshot=target_snapshot,
            rows=baseline.rows,
        )
        baseline.steps.append(("checksums at B", time.monotonic() - lap))
        if not differences:
            lap = time.monotonic()
            baseline.views, differences = check_views_at(
                settings,
                names,
                snapshot,
                target_snapshot,
                refreshed=dict.fromkeys(refreshed, "by cutover's REFRESH at B"),
            )
            differences = [f"view {line}" for line in differences]
            if names.views:
                baseline.steps.append(("views at B", time.monotonic() - lap))
        if differences:
            raise SyncError(
                "cutover stopped before the downtime: the target does not match "
                f"the source at {position}; nothing was changed on the source:\n  "
                + "\n  ".join(differences)
            )
        say(
            f"cutover: every table matched at {position} "
            f"({sum(seconds for _, seconds in baseline.steps):.1f} s); "
            "stopping the application's writes"
        )
        return baseline
    except BaseException:
        _close(holder, replication, temporary_slot_name(run.run_id))
        raise
    finally:
        if held:
            _set_hold(settings, run.run_id, None)


def refresh_step(count: int) -> str:
    """The name of the step that refreshed ``count`` materialized views."""
    return f"refresh {counted(count, 'materialized view')}"


def refresh_materialized_views(
    settings: Settings, names: NameMap, say: Callable[[str], None]
) -> list[str]:
    """REFRESH each materialized view pgshift migrated, on the target.

    In the name map's order, the shadow's dependency order: one read by
    another is refreshed first. One the source never populated (WITH NO
    DATA) is left unpopulated, as the source's is. Each is refreshed in a
    transaction of its own; one that fails (its query gives an error over
    the rows) is named and left as it was, and the views' comparison says
    what it holds.

    Returns:
        The target names of those refreshed.
    """
    views = [
        v for v in names.views.values() if v.kind == "materialized view" and v.populated
    ]
    if not views:
        return []
    refreshed = []
    conn = connect(
        settings.target, autocommit=True, application_name="pgshift cutover check"
    )
    try:
        cursor = conn.cursor()
        for view in views:
            try:
                cursor.execute(
                    sql.SQL("refresh materialized view {}").format(
                        sql.Identifier(settings.final_schema, view.name)
                    )
                )
            except psycopg2.Error as error:
                say(
                    f"cutover: materialized view {view.name} could not be "
                    "refreshed on the target ("
                    f"{(error.diag.message_primary or str(error)).strip()}), so "
                    "it keeps the rows it had; the views' comparison says "
                    "whether they match. Next, if they do not: fix the cause "
                    "(REFRESH MATERIALIZED VIEW needs the view's owner) and "
                    "cutover again"
                )
                continue
            refreshed.append(view.name)
    finally:
        conn.close()
    return refreshed


def check_views_at(
    settings: Settings,
    names: NameMap,
    source_snapshot: str | None = None,
    target_snapshot: str | None = None,
    refreshed: dict[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Compare every view's rows on both sides (in snapshots when given).

    At B the two snapshots hold the same table rows, so each view must
    return the same rows in them (``verify.views.check_views``); without
    snapshots, each side as it stands. ``refreshed``: the target's
    materialized views cutover refreshed, to when (``check_views``).

    Returns:
        One line per view, and the lines of the views that differ.
    """
    if not names.views:
        return [], []
    connections = []
    try:
        cursors = []
        for url, snapshot in (
            (settings.source_required, source_snapshot),
            (settings.target, target_snapshot),
        ):
            conn = connect(url, readonly=True, application_name="pgshift cutover check")
            connections.append(conn)
            cursor = _session(conn)
            if snapshot is not None:
                cursor.execute("set transaction isolation level repeatable read")
                cursor.execute("set transaction snapshot %s", (snapshot,))
            cursors.append(cursor)
        return check_views(
            settings, names, cursors[1], source=cursors[0], refreshed=refreshed
        )
    finally:
        for conn in connections:
            conn.close()


def _create_temporary_slot(connection: Any, run_id: str) -> tuple[str, str]:
    cursor = connection.cursor()
    cursor.execute(
        sql.SQL("CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT")
        .format(sql.Identifier(temporary_slot_name(run_id)))
        .as_string(cursor)
    )
    _, position, snapshot, _ = cursor.fetchone()
    return str(position), str(snapshot)


def _full_check(
    settings: Settings,
    names: NameMap,
    catalog: Catalog,
    tables: list[str],
    *,
    source_snapshot: str | None = None,
    target_snapshot: str | None = None,
    rows: dict[str, int] | None = None,
) -> list[str]:
    """Count and checksum whole tables on both sides (in snapshots when given)."""

    def one(url: Any, snapshot: str | None, query: str) -> Side:
        row = _read(url, query, snapshot=snapshot)
        return Side(int(row[0]), str(row[1]))

    tasks = []
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        for table in tables:
            src, tgt, src_columns, tgt_columns = _relations(
                settings, names, catalog, table
            )
            tasks.append(
                (
                    table,
                    pool.submit(
                        one,
                        settings.source_required,
                        source_snapshot,
                        checksum_sql(src, src_columns),
                    ),
                    pool.submit(
                        one,
                        settings.target,
                        target_snapshot,
                        checksum_sql(tgt, tgt_columns),
                    ),
                )
            )
    differences = []
    for table, on_source, on_target in tasks:
        a, b = on_source.result(), on_target.result()
        if rows is not None:
            rows[table] = a.rows
        if (a.rows, a.checksum) != (b.rows, b.checksum):
            differences.append(
                f"{table}: source {a.rows} rows (checksum {a.checksum}), target "
                f"{names.tables[table].target} {b.rows} rows (checksum {b.checksum})"
            )
    return differences


@dataclass
class Touched:
    """The keys touched since B, per table.

    Attributes:
        keys: Table to (key columns, set of key value tuples as text).
        whole: Tables to check whole, with why.
    """

    keys: dict[str, tuple[list[str], set[tuple[str, ...]]]] = field(
        default_factory=dict
    )
    whole: dict[str, str] = field(default_factory=dict)


def touched_since_b(
    baseline: Baseline, publication: str, catalog: Catalog, tables: list[str]
) -> Touched:
    """Read the temporary slot from B to now: the keys each table's changes touched."""
    cursor = baseline.replication.cursor()
    # The slot belongs to this connection's session, which may use it by SQL.
    cursor.execute(
        "select data from pg_logical_slot_get_binary_changes(%s, NULL, NULL, "
        "'proto_version', '1', 'publication_names', %s)",
        (baseline.slot_name, publication),
    )
    touched = Touched()
    relations: dict[int, tuple[str, list[int] | None]] = {}
    for (data,) in cursor:
        message = pgoutput.decode(bytes(data))
        if isinstance(message, pgoutput.Relation):
            names = [c.name for c in message.columns]
            table = message.name
            key: list[int] | None
            if message.replica_identity == "f":
                primary = (
                    catalog.tables[table].primary_key
                    if table in catalog.tables
                    else None
                )
                key = (
                    [names.index(c) for c in primary.columns]
                    if primary is not None and all(c in names for c in primary.columns)
                    else None
                )
            else:
                key = [i for i, c in enumerate(message.columns) if c.is_key] or None
            relations[message.relation_id] = (table, key)
            if key is None:
                touched.whole.setdefault(
                    table, "REPLICA IDENTITY FULL and no primary key"
                )
            else:
                touched.keys.setdefault(table, ([names[i] for i in key], set()))
            continue
        if isinstance(message, pgoutput.Truncate):
            for relation_id in message.relation_ids:
                touched.whole.setdefault(
                    relations[relation_id][0], "a TRUNCATE since B"
                )
            continue
        rows: list[tuple[Any, ...]] = []
        if isinstance(message, pgoutput.Insert):
            rows = [message.new]
        elif isinstance(message, pgoutput.Update):
            rows = [message.new] + ([message.old] if message.old is not None else [])
        elif isinstance(message, pgoutput.Delete):
            rows = [message.old]
        else:
            continue
        table, key = relations[message.relation_id]
        if key is None or table in touched.whole:
            continue
        keys = touched.keys[table][1]
        for row in rows:
            values = tuple(row[i] for i in key)
            if any(v is None or v is UNCHANGED for v in values):
                touched.whole[table] = "a key value the stream left out"
                break
            keys.add(values)  # type: ignore[arg-type]
        if len(keys) > MAX_KEYS:
            touched.whole[table] = f"more than {MAX_KEYS} keys touched since B"
    for table in touched.whole:
        touched.keys.pop(table, None)
    return touched


def verify_since_b(
    settings: Settings,
    names: NameMap,
    baseline: Baseline,
    publication: str,
    tables: list[str],
) -> tuple[list[str], dict[str, str]]:
    """Prove both sides equal now from B (see the module's docstring).

    Returns:
        (one line per difference, table checked whole to why).
    """
    catalog = baseline.catalog
    assert catalog is not None
    touched = touched_since_b(baseline, publication, catalog, tables)
    whole = [t for t in tables if t in touched.whole]
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        delta = {
            t: pool.submit(
                _delta, settings, names, baseline, catalog, t, touched.keys.get(t)
            )
            for t in tables
            if t not in touched.whole
        }
        found = {t: f.result() for t, f in delta.items()}
    differences = []
    reasons = dict(touched.whole)
    for table, why in found.items():
        if why is not None:
            whole.append(table)
            reasons[table] = why
    if whole:
        differences = _full_check(settings, names, catalog, sorted(whole))
    return differences, reasons


def _delta(
    settings: Settings,
    names: NameMap,
    baseline: Baseline,
    catalog: Catalog,
    table: str,
    keys: tuple[list[str], set[tuple[str, ...]]] | None,
) -> str | None:
    """Check one table from B; None when proven equal, else why to check it whole."""
    mapped = names.tables[table]
    src, tgt, src_columns, tgt_columns = _relations(settings, names, catalog, table)
    # Every query below runs with parameters: names join it percent-safe.
    src, tgt = percent_safe(src), percent_safe(tgt)
    src_sum = percent_safe(checksum_expression(src_columns))
    tgt_sum = percent_safe(checksum_expression(tgt_columns))
    types = {c: percent_safe(t) for c, t in src_columns}
    fresh = (
        "(age(t.xmin) >= 0 and age(t.xmin) <= age(%(xmax)s::xid)) "
        "or t.xmin = any(%(xip)s::xid[])"
    )
    params: dict[str, Any] = {"xmax": baseline.xmax, "xip": baseline.xip}
    scan = _read(
        settings.target,
        f"select count(*), count(*) filter (where {fresh}) from {tgt} as t",
        params,
    )
    total_now, fresh_now = int(scan[0]), int(scan[1])
    at_b = baseline.rows[table]
    if keys is None or not keys[1]:
        if fresh_now or total_now != at_b:
            return (
                f"the target has {total_now} rows ({at_b} at B) and {fresh_now} "
                "written since B, where the source changed none"
            )
        return None
    columns, values = keys
    listed = sorted(values)
    for i in range(len(columns)):
        params[f"k{i}"] = [v[i] for v in listed]

    def among(names_: list[str]) -> str:
        unnest = ", ".join(
            f"unnest(%(k{i})s::text[])::{types[c]}" for i, c in enumerate(columns)
        )
        listed_names = ", ".join("t." + percent_safe(quote_ident(n)) for n in names_)
        return f"({listed_names}) in (select distinct {unnest})"

    source_keys = among(columns)
    target_keys = among([mapped.columns[c] for c in columns])
    on_source = _read(
        settings.source_required,
        f"select count(*), {src_sum} from {src} as t where {source_keys}",
        params,
    )
    on_target = _read(
        settings.target,
        f"select count(*), {tgt_sum}, "
        f"count(*) filter (where {fresh}) from {tgt} as t where {target_keys}",
        params,
    )
    then = _read(
        settings.target,
        f"select count(*) from {tgt} as t where {target_keys}",
        params,
        snapshot=baseline.target_snapshot,
    )
    if int(on_target[2]) != fresh_now:
        return (
            f"{fresh_now - int(on_target[2])} rows of the target were written "
            "since B outside the keys the source changed"
        )
    if total_now != at_b - int(then[0]) + int(on_target[0]):
        return "the target lost rows since B outside the keys the source changed"
    if (int(on_source[0]), str(on_source[1])) != (
        int(on_target[0]),
        str(on_target[1]),
    ):
        return (
            f"the {len(listed)} keys changed since B differ: source "
            f"{on_source[0]} rows (checksum {on_source[1]}), target "
            f"{on_target[0]} rows (checksum {on_target[1]})"
        )
    return None
