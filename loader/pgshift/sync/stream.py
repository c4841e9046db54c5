"""Follow the slot: decode the stream, apply it in batches, confirm what is durable.

The stream starts at the applied position recorded on the target. A
source transaction whose end LSN is at or before it was applied already
(its batch committed, but the source had not heard so before a crash) and
is skipped; every later one is applied once. The source is told a
position is flushed only after the target committed it, so the slot
never lets go of WAL the target does not hold yet.

While the target runs one batch (in a thread of its own: psycopg2 lets go
of the interpreter while it waits for the server), the stream is read,
decoded and gathered into the next, and the next's SQL is written; at most one batch is in flight, and
batches commit in order. A batch holding cutover's marker, and the last
one before the stream pauses, are waited for.
"""

from __future__ import annotations

import logging
import select
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pgshift.connection import connect
from pgshift.mapping import NameMap
from pgshift.settings import Settings
from pgshift.sync import pgoutput, source
from pgshift.sync.apply import Applier, Batch, SyncError
from pgshift.sync.state import SyncRun

logger = logging.getLogger(__name__)

BATCH_ROWS = 5000
"""Rows after which a batch is committed, even while more arrive."""
BATCH_SECONDS = 0.5
"""Age after which a batch is committed, even while more arrive."""
PIECE_BYTES = 32 * 2**20
"""Bytes of a source transaction's changes (as the stream sends them) after
which what arrived of it is applied, uncommitted, before the rest arrives:
a transaction is held in memory a piece at a time, not whole."""
PIECE_ROWS = 200_000
"""Changes of a source transaction after which the same is done."""
POLL_SECONDS = 0.2
"""How long an idle stream waits for the next message."""
MARKER_PREFIX = "pgshift"
"""The prefix of cutover's logical message (its content names the run)."""
FOLLOWING = ("streaming", "cutover")
"""Statuses in which the stream goes on (cutover waits for its marker)."""
CHECK_SECONDS = 2.0
"""How often the source's position and the slot's retained WAL are read."""
HOLD_POLL_SECONDS = 0.05
"""How often a held stream reads whether cutover let it go."""
FEEDBACK_SECONDS = 1.0
"""How often a held stream, or one waiting for a batch to be applied, tells
the source it is alive."""
CHANGES = frozenset(
    (pgoutput.Insert, pgoutput.Update, pgoutput.Delete, pgoutput.Truncate)
)
"""The messages that change rows, gathered into their transaction."""


@dataclass
class Limits:
    """When the slot's retained WAL is too much for the source's disk.

    Attributes:
        warn_bytes: Retained WAL from which sync and status warn.
        max_bytes: Retained WAL at which sync stops and drops the slot
            (0: no limit).
    """

    warn_bytes: int = 2**30
    max_bytes: int = 20 * 2**30


@dataclass
class Outcome:
    """Why following stopped, and where.

    Attributes:
        reason: "until" (the marker asked for was applied), "status" (the
            run's status changed on the target: cutover or cleanup), "idle"
            (the stream was caught up and ``stop_when_idle`` was set),
            "held" (every transaction up to ``stop_at`` is applied).
        applied_lsn: The last applied position.
        rows: Rows applied by this call.
    """

    reason: str
    applied_lsn: int
    rows: int


class _Meter:
    """Shows lag and throughput: short on a terminal, detail in the log."""

    def __init__(self, settings: Settings, run: SyncRun, quiet: bool) -> None:
        self._quiet = quiet
        self._source = connect(
            settings.source_required,
            autocommit=True,
            application_name="pgshift sync lag",
        )
        self._slot = run.slot_name
        self._run = run
        self._schema = settings.source_schema
        self._last = 0.0
        self._rows_at = (time.monotonic(), 0)
        # Rows the run applied before this process started: the progress
        # line counts the run's rows, as `status` does.
        self._earlier_rows = run.applied_rows
        self._warned = False

    def close(self) -> None:
        self._source.close()

    def wal_inserted(self) -> int:
        """Where the source's WAL ends now (its insert position)."""
        with self._source.cursor() as cursor:
            cursor.execute("select pg_current_wal_insert_lsn()::text")
            return pgoutput.parse_lsn(cursor.fetchone()[0])

    def check(
        self,
        applied: int,
        commit_time: datetime | None,
        rows: int,
        caught_up: bool,
        limits: Limits,
        in_progress: int = 0,
    ) -> int | None:
        """Read the source's position; report; return the retained WAL bytes.

        ``rows`` are committed on the target; ``in_progress`` are the rows
        of a large source transaction applied so far, uncommitted (a crash
        would undo them, and they would be applied again).

        Raises:
            SyncError: A table of the run left its publication on the
                source (``source.unpublished_tables``).
        """
        now = time.monotonic()
        if now - self._last < CHECK_SECONDS:
            return None
        self._last = now
        with self._source.cursor() as cursor:
            state = source.slot_state(cursor, self._slot)
            gone = source.unpublished_tables(cursor, self._schema, self._run)
        if gone:
            raise SyncError(
                "sync stopped: " + source.unpublished_refusal(self._run, gone)
            )
        lag_bytes = max(0, pgoutput.parse_lsn(state.current_lsn) - applied)
        # Behind the source with no transaction applied yet, the lag in time
        # is not known (a 0.0 s would say it was caught up).
        lag_time = "0.0 s" if caught_up or lag_bytes == 0 else "not known yet"
        if commit_time is not None and not caught_up and lag_bytes:
            lag_time = (
                f"{max(0.0, (datetime.now(UTC) - commit_time).total_seconds()):.1f} s"
            )
        started, before = self._rows_at
        rate = (rows + in_progress - before) / max(now - started, 1e-6)
        self._rows_at = (now, rows + in_progress)
        retained = state.retained_bytes or 0
        line = (
            f"sync: lag {lag_bytes / 2**20:.1f} MiB, {lag_time}; "
            f"{rate:.0f} rows/s; {self._earlier_rows + rows} rows applied"
            + (
                f" ({in_progress} more of a transaction being applied)"
                if in_progress
                else ""
            )
        )
        logger.info(
            "%s; applied %s, source at %s, slot retains %d bytes (%s)",
            line,
            pgoutput.format_lsn(applied),
            state.current_lsn,
            retained,
            state.wal_status,
        )
        if not self._quiet:
            if sys.stdout.isatty():
                sys.stdout.write(f"\r{line}   ")
                sys.stdout.flush()
            else:
                print(line, flush=True)
        if limits.warn_bytes and retained >= limits.warn_bytes and not self._warned:
            self._warned = True
            logger.warning(
                "the slot %s holds back %.1f GiB of WAL on the source",
                self._slot,
                retained / 2**30,
            )
        return retained


def over_limit(run: SyncRun, retained: int, limits: Limits) -> SyncError:
    """The error of a slot that held back more WAL than the hard limit."""
    return SyncError(
        f"sync stopped: the slot {run.slot_name} held back "
        f"{retained / 2**30:.3g} GiB of WAL on the source, past the limit of "
        f"{limits.max_bytes / 2**30:.3g} GiB (--max-wal-gb); the slot and "
        "publication were dropped to keep the source's disk safe. Next: sync "
        "again (it starts over from a new copy), from closer to the target"
    )


def follow(
    settings: Settings,
    names: NameMap,
    run: SyncRun,
    *,
    until_marker: str | None = None,
    stop_when_idle: bool = False,
    limits: Limits | None = None,
    quiet: bool = False,
    on_limit: Callable[[], None] | None = None,
    stop_at: int | None = None,
) -> Outcome:
    """Stream the slot's changes into the final tables.

    Args:
        settings: The run settings.
        names: The name map.
        run: The recorded run (its slot, publication and applied position).
        until_marker: Return once the transaction holding the logical
            message of this content (cutover's marker) is applied.
        stop_when_idle: Return as soon as the stream has nothing more.
        limits: The retained-WAL limits.
        quiet: Print no progress (cutover prints its own).
        on_limit: Called when the retained WAL passes the hard limit, before
            SyncError is raised (drops the slot).
        stop_at: Return at the first transaction that ends after this
            position, applying none of it (cutover's check position, when
            no sync process runs). Without it, the run's ``hold_lsn`` on the
            target holds the stream the same way until cutover clears it
            (see ``sync.state``).

    Returns:
        Why and where it stopped.

    Raises:
        SyncError: A change could not be applied, a table changed on the
            source, or the retained WAL passed the hard limit.
    """
    limits = limits or Limits()
    applied = pgoutput.parse_lsn(run.applied_lsn or run.consistent_lsn or "0/0")
    commit_time = run.applied_commit_at
    applier = Applier(settings, names, run.run_id, run.source_columns)
    meter = _Meter(settings, run, quiet)
    conn = source.replication_connection(settings.source_required, "pgshift sync")
    total = 0
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pgshift-apply")
    pending: tuple[Future[str], Batch] | None = None
    try:
        cursor = conn.cursor()
        cursor.start_replication(
            slot_name=run.slot_name,
            decode=False,
            start_lsn=pgoutput.format_lsn(applied),
            options={
                "proto_version": "1",
                "publication_names": run.publication_name,
                "messages": "true",
            },
        )
        # The slot is held: no other sync streams, and a session a killed
        # one left applying a batch would hold its rows' locks.
        recorded = applier.end_leftover_sessions()
        leftover_marker = None
        if recorded is not None and recorded[0] > applied:
            # The leftover committed its batch first: what it applied is
            # skipped, and a cutover marker it applied counts as seen.
            applied, leftover_marker = recorded
        batch = Batch()
        opened = time.monotonic()
        changes: list[pgoutput.Decoded] = []
        in_transaction = False
        confirmed = applied
        backlog_end = meter.wal_inserted()

        def caught_up() -> bool:
            """Whether nothing received means nothing left to apply.

            Only once the server has sent a position as far as its WAL
            reached when the stream started: until then (its walsender
            still decoding a backlog) it is no sign of being caught up.
            """
            return cursor.wal_end >= backlog_end

        seen_marker: str | None = leftover_marker
        txn_marker: str | None = None
        idle_since = 0.0
        # The transaction being received: its size so far, where it commits,
        # whether it may be applied in pieces and whether one was, and when
        # it committed on the source.
        txn_bytes, txn_final, piecewise, pieces = 0, 0, False, False
        txn_begin: pgoutput.Begin | None = None

        def measure(caught: bool) -> int | None:
            """Report lag and rows; return the WAL the slot retains, if read.

            Inside a transaction being received, nothing from its commit on
            is applied, whatever position the server said it had sent
            before streaming it: the lag counts from there, in bytes and
            from its commit time, and its pieces applied are shown apart
            from the rows committed.
            """
            if in_transaction:
                return meter.check(
                    min(max(applied, confirmed), txn_final),
                    txn_begin.commit_time if txn_begin is not None else None,
                    total,
                    False,
                    limits,
                    applier.open_rows or 0,
                )
            return meter.check(
                max(applied, confirmed), commit_time, total, caught, limits
            )

        def wait(future: Future[Any]) -> Any:
            """The apply thread's result, the source hearing from the stream.

            A batch or piece may take longer than the source's
            wal_sender_timeout (a transaction of a million rows): the source
            hears from the stream meanwhile, positions unchanged.
            """
            while True:
                try:
                    return future.result(timeout=FEEDBACK_SECONDS)
                except FutureTimeout:
                    cursor.send_feedback(force=True)

        def finish() -> str | None:
            """Wait for the batch in flight; tell the source it is durable."""
            nonlocal pending, applied, commit_time, total, seen_marker
            if pending is None:
                return None
            future, done = pending
            pending = None
            status = wait(future)
            seen_marker = done.marker or seen_marker
            applied, commit_time = done.end_lsn, done.commit_time
            total += done.rows
            cursor.send_feedback(flush_lsn=applied, reply=True)
            return status

        def flush(wait: bool) -> str | None:
            """Send the batch to the target once the one in flight is done.

            Its statements are written here, while the target still runs
            the batch in flight.
            """
            nonlocal batch, pending
            built = applier.build(batch)
            status = finish()
            pending = (executor.submit(applier.commit, batch, built), batch)
            batch = Batch()
            return finish() if wait else status

        def settle() -> str | None:
            """Apply everything received; nothing stays in flight."""
            return flush(True) if batch.transactions else finish()

        def piece() -> str | None:
            """Apply what arrived of a large transaction, uncommitted.

            Everything before it is committed first. The first piece is
            applied only while cutover holds nothing (a transaction that
            ends past a hold waits whole, as any other).
            """
            nonlocal changes, txn_bytes, pieces, piecewise
            status = settle()
            if status is not None and status not in FOLLOWING:
                return status
            if not pieces:
                status = applier.status()
                if status not in FOLLOWING or applier.hold is not None:
                    piecewise = False
                    return status
            part, changes, txn_bytes = changes, [], 0
            wait(executor.submit(applier.apply_piece, part, txn_final))
            pieces = True
            measure(False)
            return None

        while True:
            message = cursor.read_message()
            if message is None:
                status = None
                if batch.transactions or pending is not None:
                    status = settle()
                elif not in_transaction:
                    # Caught up: every transaction that ends before the
                    # server's sent position was received and is applied,
                    # so the slot may let go of the WAL up to there (other
                    # databases' writes, transactions that publish nothing).
                    if cursor.wal_end > max(applied, confirmed):
                        confirmed = cursor.wal_end
                        cursor.send_feedback(flush_lsn=confirmed, force=True)
                    record = None
                    if caught_up() and time.monotonic() - idle_since >= CHECK_SECONDS:
                        idle_since = time.monotonic()
                        record = max(applied, confirmed)
                    status = applier.status(record)
                if status is not None and status not in FOLLOWING:
                    return Outcome("status", applied, total)
                if (
                    stop_at is None
                    and applier.hold == 0
                    and not in_transaction
                    and not batch.transactions
                    and not _wait_while_held(applier, cursor, applied)
                ):
                    return Outcome("status", applied, total)
                if until_marker is not None and seen_marker == until_marker:
                    return Outcome("until", applied, total)
                retained = measure(not in_transaction and caught_up())
                if (
                    retained is not None
                    and limits.max_bytes
                    and retained >= limits.max_bytes
                ):
                    if on_limit is not None:
                        on_limit()
                    raise over_limit(run, retained, limits)
                if stop_when_idle and not in_transaction:
                    return Outcome("idle", applied, total)
                select.select([conn], [], [], POLL_SECONDS)
                continue
            decoded = pgoutput.decode(message.payload)
            if type(decoded) in CHANGES:
                # Most messages: asked first.
                changes.append(decoded)
                txn_bytes += len(message.payload)
                if piecewise and (
                    txn_bytes >= PIECE_BYTES or len(changes) >= PIECE_ROWS
                ):
                    status = piece()
                    if status is not None and status not in FOLLOWING:
                        return Outcome("status", applied, total)
            elif isinstance(decoded, pgoutput.Begin):
                in_transaction, changes, txn_marker = True, [], None
                txn_bytes, txn_final, pieces = 0, decoded.final_lsn, False
                txn_begin = decoded
                # Not one applied already (its commit is past the applied
                # position), nor while cutover follows the slot to a position.
                piecewise = stop_at is None and decoded.final_lsn >= applied
            elif isinstance(decoded, pgoutput.Message):
                if decoded.transactional and decoded.prefix == MARKER_PREFIX:
                    txn_marker = decoded.content.decode("utf-8", "replace")
            elif isinstance(decoded, pgoutput.Commit):
                in_transaction = False
                if decoded.end_lsn <= applied:
                    logger.debug(
                        "skipping a transaction applied already (%s)",
                        pgoutput.format_lsn(decoded.end_lsn),
                    )
                    changes = []
                    continue
                while True:
                    hold = stop_at if stop_at is not None else applier.hold
                    if hold is None or 0 < decoded.end_lsn <= hold:
                        break
                    # Hold: everything before this transaction is applied
                    # and committed before anyone is told so (nothing stays
                    # in flight: the wait uses the applier's connection).
                    status = settle()
                    if status is not None and status not in FOLLOWING:
                        return Outcome("status", applied, total)
                    if stop_at is not None:
                        return Outcome("held", applied, total)
                    if not _wait_while_held(applier, cursor, hold or applied):
                        return Outcome("status", applied, total)
                if pieces:
                    # The rest of a transaction applied in pieces, its
                    # position, and the commit of its target transaction.
                    rest = Batch()
                    applier.add(rest, changes, decoded)
                    rest.marker = txn_marker
                    changes, pieces = [], False
                    # Nothing else is in flight: the first piece settled it.
                    pending = (executor.submit(applier.commit_pieces, rest), rest)
                    status = finish()
                    if status is not None and status not in FOLLOWING:
                        return Outcome("status", applied, total)
                    continue
                if not batch.transactions:
                    opened = time.monotonic()
                applier.add(batch, changes, decoded)
                changes = []
                batch.marker = txn_marker or batch.marker
                if (
                    txn_marker is not None
                    or batch.rows >= BATCH_ROWS
                    or time.monotonic() - opened >= BATCH_SECONDS
                ):
                    flush(txn_marker is not None)
                    meter.check(applied, commit_time, total, False, limits)
            elif isinstance(decoded, pgoutput.Relation):
                # The applier's connection is the batch's until it is done.
                finish()
                try:
                    applier.relation(decoded)
                except SyncError:
                    settle()
                    raise
            # Origin and Type need nothing.
    finally:
        # A batch still in flight ends (committed or not) before its
        # connection closes; the source hears of it on the next run.
        executor.shutdown(wait=True)
        if not quiet and sys.stdout.isatty():
            sys.stdout.write("\n")
        meter.close()
        applier.close()
        conn.close()


def _wait_while_held(applier: Applier, cursor: Any, position: int) -> bool:
    """Wait at a position until cutover changes the hold; False: the run ended.

    Records ``held_lsn`` so that cutover knows the target stands there, and
    keeps the replication connection alive meanwhile.
    """
    hold = applier.hold
    applier.held(position)
    told = time.monotonic()
    try:
        while True:
            time.sleep(HOLD_POLL_SECONDS)
            if time.monotonic() - told >= FEEDBACK_SECONDS:
                cursor.send_feedback(force=True)
                told = time.monotonic()
            status = applier.status()
            if status not in FOLLOWING:
                return False
            if applier.hold != hold:
                return True
    finally:
        if applier.hold is None:
            applier.held(None)


def describe_time(value: Any) -> str:
    """A timestamp for messages, or 'never'."""
    return value.isoformat(timespec="seconds") if value else "never"
