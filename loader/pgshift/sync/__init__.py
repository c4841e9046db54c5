"""Online migration: copy once, then follow the source's changes through the renames.

``sync`` checks the source (``sync.source.preflight``) before creating
anything on it, then records a run on the target (``sync.state``), creates a
publication of the migrated tables and a logical replication slot whose
exported snapshot the initial load reads in, builds and verifies the final
tables as ``migrate`` does, and follows the slot: every source transaction
is applied to the final tables through the name map (``sync.apply``), in
commit order, with the applied position in the same target transaction
(``sync.stream``). Killed at any point and run again, it goes on from that
position; a start that failed is cleaned up (its slot and publication
dropped) before anything else. ``status`` tells where a run stands,
``cleanup`` drops what a run left on the source, and ``cutover``
(``sync.cutover``) stops the application's writes and finishes.

One writer per final table: while a run is recorded as active, ``migrate``,
the load and a rebuilding ``dbt build`` refuse (``manifest.refuse_while_syncing``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2

from pgshift import manifest
from pgshift.connection import connect, transaction
from pgshift.load import is_transient, load
from pgshift.mapping import NameMap
from pgshift.progress import listed
from pgshift.settings import ConfigError, Settings
from pgshift.sqlident import quote_ident
from pgshift.sync import pgoutput, source, state
from pgshift.sync.apply import SyncError
from pgshift.sync.stream import FOLLOWING, Limits, Outcome, follow, over_limit
from pgshift.transform import run_dbt
from pgshift.verify import record_and_write, verify
from pgshift.verify.reconcile import refuse_replacing_final_tables

__all__ = ["Limits", "SyncError", "cleanup", "run_sync", "status"]

logger = logging.getLogger(__name__)

_RUN = logging.getLogger("pgshift.sync.run")
"""What a sync says, and why it ended, for its log file only: the terminal
has them already (printed, and the command line's own message)."""
_RUN.propagate = False
_RUN.setLevel(logging.INFO)

ACTIVE_WAIT_ROUNDS = 20
"""Half-seconds a new sync waits for the slot to be free of an old walsender."""
RECONNECT_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before each new attempt to follow after a dropped connection
(counted again once an attempt applied something)."""


LOG_FILE = "logs/sync.log"
"""Where in the project sync writes its detail: positions, lag, retained WAL."""


def _log_to_file(settings: Settings) -> Path:
    """Send the sync's detail (INFO and up) to its log file, not the terminal."""
    path = settings.project_dir / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("pgshift.sync")
    if not any(getattr(h, "baseFilename", None) == str(path) for h in log.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        log.addHandler(handler)
        for earlier in list(_RUN.handlers):
            _RUN.removeHandler(earlier)
        _RUN.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        for shown in logging.getLogger().handlers:
            shown.addFilter(
                lambda r: (
                    not r.name.startswith("pgshift.sync")
                    or r.levelno >= logging.WARNING
                )
            )
        log.setLevel(logging.INFO)
    return path


def _latest(settings: Settings) -> state.SyncRun | None:
    with transaction(settings.target) as cursor:
        return state.latest(cursor, settings)


def _set(settings: Settings, run_id: str, **values: Any) -> None:
    with transaction(settings.target) as cursor:
        state.update(cursor, settings, run_id, **values)


def _warn_without_application_roles(
    settings: Settings, names: NameMap, say: Callable[[str], None]
) -> None:
    """Say at the start when cutover would find no application role to block.

    Cutover stops the application's writes by blocking its login roles;
    when the sync's own role is the only one that may write the tables
    (one role for everything, as Zabbix installs), it cannot, and says so
    only at the end.
    """
    from pgshift.sync.cutover import application_roles

    tables = [t for t in names.tables if settings.selects(t)]
    with transaction(settings.source_required, readonly=True) as cursor:
        if application_roles(cursor, settings.source_schema, tables):
            return
        cursor.execute("select current_user")
        user = cursor.fetchone()[0]
    say(
        f"warning: no login role but this sync's own ({user}) may write the "
        "migrated tables, so cutover will find no application role to block: "
        "the application must write as another role than the sync's. If it "
        f"writes as {user}, give the sync a role of its own, on the source: "
        "`CREATE ROLE pgshift_sync LOGIN REPLICATION PASSWORD '...'; GRANT "
        f"{quote_ident(user)} TO pgshift_sync;`, and start sync with it in "
        "SOURCE_DATABASE_URL"
    )


def run_sync(
    settings: Settings,
    *,
    replace_existing: bool = False,
    drop_dependents: bool = False,
    limits: Limits | None = None,
    say: Callable[[str], None] | None = None,
    check_models: Callable[[Settings], str | None] | None = None,
) -> Outcome:
    """Start a sync, or resume the one recorded on the target, and follow it.

    ``check_models`` says why the models do not match the source, if they do
    not (``source.preflight``); a new start refuses then.

    Returns when the run's status changes on the target (cutover, cleanup).
    What it says goes to ``say``; by default to standard output, flushed
    line by line (a log file read while sync runs holds it).

    Raises:
        PreflightError: The source cannot be followed; nothing was created.
        SyncError: The start or the stream failed (a failed start leaves no
            slot or publication behind).
        ConfigError: As ``migrate``.
    """
    limits = limits or Limits()
    shown = say or (lambda text: print(text, flush=True))
    path = _log_to_file(settings)

    def said(text: str) -> None:
        _RUN.info("%s", text)
        shown(text)

    said(f"sync's log: {path}")
    try:
        return _run_sync(
            settings, replace_existing, drop_dependents, limits, said, check_models
        )
    except KeyboardInterrupt:
        _RUN.info("stopped by an interrupt (Ctrl-C, SIGINT)")
        raise
    except Exception as exc:
        # The terminal gets the message from the command line; the log
        # file, read by whoever started sync in the background, gets it too.
        _RUN.error("%s", exc, exc_info=not isinstance(exc, ConfigError))
        raise


def _run_sync(
    settings: Settings,
    replace_existing: bool,
    drop_dependents: bool,
    limits: Limits,
    say: Callable[[str], None],
    check_models: Callable[[Settings], str | None] | None,
) -> Outcome:
    """``run_sync``'s work, its lines said (and logged) through ``say``."""
    names = NameMap.read(settings.project_dir)
    run = _latest(settings)
    if run is not None and run.status == "streaming":
        assert names is not None
        return _resume(settings, names, run, limits, say)
    if run is not None and run.status in ("cutover", "stopping"):
        raise SyncError(
            f"sync run {run.run_id} is in cutover; run `python loader/run.py "
            "cutover` again to finish it, or `python loader/run.py cleanup`"
        )
    if run is not None and state.active(run):
        say(
            f"sync run {run.run_id} did not finish its start ({run.status}); "
            "dropping its slot and publication and starting over"
        )
        _cleanup_run(settings, run, "failed", "its start was cut off")
    tables = source.preflight(settings, names, check_models)
    assert names is not None
    with transaction(settings.target) as cursor:
        manifest.refuse_without_target_privileges(
            cursor, settings.created_schemas(), settings.final_schema, "sync"
        )
    _warn_without_application_roles(settings, names, say)
    if not replace_existing:
        refuse_replacing_final_tables(settings, "sync")
    run_id = state.new_run_id()
    slot, publication = source.names_for(run_id)
    run = state.SyncRun(
        run_id=run_id,
        slot_name=slot,
        publication_name=publication,
        source_database=settings.source_required.redacted(),
        status="starting",
        source_columns=tables.columns,
    )
    with transaction(settings.target) as cursor:
        state.ensure_table(cursor, settings)
        state.insert(cursor, settings, run)
    try:
        _start(
            settings, run, list(tables.columns), replace_existing, drop_dependents, say
        )
    except BaseException as exc:
        dropped = _cleanup_run(
            settings,
            run,
            "failed",
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        say(
            f"sync start failed; dropped {', '.join(dropped) or 'nothing'} on the source"
        )
        raise
    run = _latest(settings)
    assert run is not None
    return _resume(settings, names, run, limits, say)


def _start(
    settings: Settings,
    run: state.SyncRun,
    tables: list[str],
    replace_existing: bool,
    drop_dependents: bool,
    say: Callable[[str], None],
) -> None:
    """Publication, slot, the copy in its snapshot, the build, the verify."""
    source.create_publication(settings, run.publication_name, tables)
    exporter = source.replication_connection(settings.source_required, "pgshift slot")
    try:
        consistent, snapshot_id = source.create_slot(exporter, run.slot_name)
        _set(
            settings,
            run.run_id,
            status="copying",
            consistent_lsn=consistent,
            applied_lsn=consistent,
        )
        say(f"slot {run.slot_name} created at {consistent}; copying in its snapshot")
        # The exporting connection stays open and idle: the snapshot lives
        # as long as it does.
        result = load(settings, snapshot_id=snapshot_id)
    finally:
        exporter.close()
    rows = sum(result.source_rows.values())
    say(
        f"loaded {len(result.source_rows)} tables, {rows} rows, in {result.seconds:.1f} s"
    )
    _set(settings, run.run_id, status="building")
    outcome = run_dbt(
        settings,
        ["build"],
        {
            "pgshift_replace_existing": replace_existing,
            "pgshift_drop_dependents": drop_dependents,
        },
        quiet=True,
    )
    if outcome.refusal:
        raise ConfigError(outcome.refusal)
    if not outcome.success:
        raise SyncError(
            "sync stopped: dbt build failed: "
            + "; ".join(outcome.failures[:5])
            + f" (dbt's log: {outcome.log_file})"
        )
    say(
        f"dbt build: passed ({len(outcome.results)} nodes); dbt's log: {outcome.log_file}"
    )
    # The application writes to the source meanwhile: the tables are
    # compared with the copy's snapshot, the views at cutover.
    report = verify(settings, source_moves=True)
    record_and_write(report, settings)
    if not report.passed:
        failures = report.failures()
        shown = listed(failures)
        # A schema difference right after the copy is the source changed
        # since scaffold (a grant, an owner, a routine); other failures say
        # what they are themselves.
        hint = (
            "; a grant, owner or routine changed on the source since scaffold "
            "needs `python loader/run.py scaffold` again"
            if any(line.startswith("schema differs:") for line in failures)
            else ""
        )
        raise SyncError(
            f"sync stopped: the target does not match the copy:\n  {shown}\n"
            f"(the report: {settings.project_dir / 'MIGRATION_REPORT.md'}){hint}"
        )
    _set(settings, run.run_id, status="streaming")
    say("verified; following the source's changes (Ctrl-C stops, sync resumes)")


def _resume(
    settings: Settings,
    names: NameMap,
    run: state.SyncRun,
    limits: Limits,
    say: Callable[[str], None],
) -> Outcome:
    unfollowed = state.unfollowed_tables(settings, names, run)
    if unfollowed:
        raise SyncError("sync refused: " + state.unfollowed_refusal(run, unfollowed))
    # A column retyped on the source stopped the sync; once its final column
    # has the same type (the change made there too), the run follows it with
    # its new type. One whose final column has not is named.
    columns, retyped, pending = source.retyped_columns(
        settings, names, run.source_columns
    )
    if pending:
        raise SyncError(
            "sync refused: columns changed type on the source since the sync "
            "started, and their final columns have not:\n  "
            + listed(pending)
            + "\nNext: make the same change to each final column (ALTER TABLE "
            "... ALTER COLUMN ... TYPE), run `python loader/run.py scaffold`, "
            "and run sync again; or `python loader/run.py cleanup` and sync "
            "from a new copy"
        )
    if retyped:
        with transaction(settings.target) as cursor:
            state.update(
                cursor, settings, run.run_id, source_columns=json.dumps(columns)
            )
        run.source_columns = columns
        say("following with the new types of " + ", ".join(retyped))
    conn = connect(settings.source_required, autocommit=True)
    try:
        with conn.cursor() as cursor:
            # A walsender whose sync was killed ends when the server sees
            # the connection gone: give it a moment.
            for _ in range(ACTIVE_WAIT_ROUNDS):
                slot = source.slot_state(cursor, run.slot_name)
                if not slot.active:
                    break
                time.sleep(0.5)
            gone = source.unpublished_tables(cursor, settings.source_schema, run)
    finally:
        conn.close()
    if not slot.exists:
        raise SyncError(
            f"sync run {run.run_id}: its slot {run.slot_name} is gone from the "
            "source (dropped by hand, or removed by the provider after being "
            "inactive), so the changes since "
            f"{run.applied_lsn} cannot be followed. Next: `python loader/run.py "
            "cleanup`, then sync again"
        )
    if gone:
        raise SyncError("sync refused: " + source.unpublished_refusal(run, gone))
    if slot.active:
        raise SyncError(
            f"sync run {run.run_id}: another process streams from its slot "
            f"{run.slot_name} already (one sync per target); stop it first, or "
            "see where it stands with `python loader/run.py status`"
        )
    retained = slot.retained_bytes or 0
    if limits.max_bytes and retained >= limits.max_bytes:
        _cleanup_run(settings, run, "failed", "retained WAL past the limit")
        raise over_limit(run, retained, limits)
    with transaction(settings.target) as cursor:
        # A hold left by a cutover that did not finish holds nothing now:
        # cutover checks that the sync stands where it asked, and fails
        # cleanly when not.
        state.ensure_table(cursor, settings)
        # Caught up before it stopped says nothing of the changes written
        # since: until the stream says so again, the lag counts from the
        # last transaction applied.
        state.update(
            cursor,
            settings,
            run.run_id,
            hold_lsn=None,
            held_lsn=None,
            caught_up_at=None,
        )
    say(f"following slot {run.slot_name} from {run.applied_lsn}")

    def drop_slot() -> None:
        _cleanup_run(settings, run, "failed", "retained WAL past the limit")

    failures = 0
    while True:
        try:
            return follow(settings, names, run, limits=limits, on_limit=drop_slot)
        except SyncError:
            raise
        except Exception as exc:
            if not is_transient(exc) or failures >= len(RECONNECT_DELAYS):
                if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
                    raise SyncError(
                        "sync stopped: "
                        + (
                            "the connection dropped, and the servers did not "
                            f"take it back after {failures} attempts"
                            if failures
                            else "a connection failed"
                        )
                        + f" ({str(exc).strip().splitlines()[0]}). Next: run "
                        "sync again once both servers accept its connections "
                        "(`python loader/run.py status` shows the run): it "
                        "goes on from the applied position"
                    ) from exc
                raise
            delay = RECONNECT_DELAYS[failures]
            failures += 1
            say(
                f"a connection dropped ({str(exc).strip().splitlines()[0]}); "
                f"following again from the applied position in {delay:.0f} s"
            )
            time.sleep(delay)
        try:
            latest = _latest(settings)
        except Exception as exc:
            if not is_transient(exc):
                raise
            continue  # the target is still away: the next attempt counts
        assert latest is not None
        if latest.status not in FOLLOWING:
            # Ended meanwhile (cleanup, cutover): nothing more to follow.
            return Outcome("status", pgoutput.parse_lsn(latest.applied_lsn or "0/0"), 0)
        if latest.applied_lsn != run.applied_lsn:
            failures = 0  # it got further since the last drop
        run = latest


def _cleanup_run(
    settings: Settings, run: state.SyncRun, status: str, detail: str
) -> list[str]:
    dropped = source.drop(settings, run.slot_name, run.publication_name)
    _set(settings, run.run_id, status=status, detail=detail[:500])
    return dropped


def cleanup(settings: Settings) -> list[str]:
    """Drop every slot and publication the target's sync runs left on the source.

    Idempotent: what is gone already is skipped.

    Returns:
        What was dropped, one phrase each.
    """
    with transaction(settings.target) as cursor:
        exists = state.latest(cursor, settings) is not None
        runs = []
        if exists:
            cursor.execute(
                state.sql.SQL(
                    "select run_id, slot_name, publication_name, status from {}"
                ).format(state.relation(settings))
            )
            runs = cursor.fetchall()
    dropped = []
    for run_id, slot, publication, status in runs:
        dropped += source.drop(settings, slot, publication)
        if status not in ("done", "failed", "cleaned"):
            _set(settings, run_id, status="cleaned", detail="dropped by cleanup")
    return dropped


@dataclass
class Status:
    """Where a sync stands, for ``status`` (also as JSON)."""

    run_id: str | None
    status: str
    slot: str | None = None
    slot_exists: bool = False
    slot_active: bool = False
    source_lsn: str | None = None
    applied_lsn: str | None = None
    passed_lsn: str | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    retained_wal_bytes: int | None = None
    wal_status: str | None = None
    applied_rows: int = 0
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The status as a JSON-ready dict."""
        return asdict(self)

    def lines(self) -> list[str]:
        """The status for a terminal."""
        if self.run_id is None:
            return ["no sync recorded on this target"]
        # The run's recorded state; a streaming run with no process reading
        # its slot is stopped, and said so first.
        state = (
            "stopped (the run streams, but no sync process reads its slot)"
            if self.status == "streaming" and self.slot_exists and not self.slot_active
            else self.status
        )
        out = [
            f"sync run {self.run_id}: {state}",
            f"slot {self.slot}: "
            + (
                ("streaming" if self.slot_active else "inactive")
                if self.slot_exists
                else "not on the source"
            ),
        ]
        if self.slot_exists:
            # The slot moves on past WAL that publishes nothing (another
            # database's writes on the server): the lag counts from there.
            passed = f", passed {self.passed_lsn}" if self.passed_lsn else ""
            out.append(
                f"source at {self.source_lsn}, applied {self.applied_lsn}{passed}: lag "
                f"{(self.lag_bytes or 0) / 2**20:.1f} MiB, "
                + (
                    "time not known yet"
                    if self.lag_seconds is None
                    else f"{self.lag_seconds:.1f} s"
                )
                + "; "
                f"{self.applied_rows} rows applied"
            )
            out.append(
                f"WAL retained on the source: {(self.retained_wal_bytes or 0) / 2**20:.1f} MiB"
                f" ({self.wal_status})"
            )
        if self.warning:
            out.append(f"warning: {self.warning}")
        return out


CAUGHT_UP_SECONDS = 10.0
"""A stream caught up this recently, and still streaming, lags no seconds."""


def _recent(moment: datetime) -> bool:
    return (datetime.now(UTC) - moment).total_seconds() < CAUGHT_UP_SECONDS


def slot_warning(
    retained: int, warn_bytes: int, *, streamed: bool, run_status: str | None
) -> str | None:
    """What ``status`` warns of about a run's slot, or None.

    Args:
        retained: The WAL the slot holds back on the source, in bytes.
        warn_bytes: From how much retained WAL on to warn.
        streamed: Whether a process streams from the slot now.
        run_status: The run's status while it is active, else None.
    """
    warnings = []
    if retained >= warn_bytes:
        warnings.append(
            f"the slot holds back {retained / 2**30:.1f} GiB of WAL on the "
            "source; a sync that stays stopped fills its disk (`python "
            "loader/run.py cleanup` drops the slot)"
        )
    if not streamed and run_status in ("cutover", "stopping"):
        # sync refuses a run in cutover: only cutover finishes it.
        warnings.append(
            f"no process streams from the slot of a run in {run_status}: if no "
            "cutover is running, it was cut off; run `python loader/run.py "
            "cutover` again to finish it, or `python loader/run.py cleanup`"
        )
    elif not streamed and run_status is not None:
        warnings.append(
            "no sync process streams from the slot: run sync to go on"
            if run_status in FOLLOWING
            else f"nothing streams from the slot yet: the run is {run_status} "
            "(the copy, build and verify come first); if its sync process is "
            "no longer running, run sync to go on"
        )
    return "; ".join(warnings) or None


def status(settings: Settings, limits: Limits | None = None) -> Status:
    """Read where the target's latest sync run stands, on both sides."""
    limits = limits or Limits()
    run = _latest(settings)
    if run is None:
        return Status(None, "none")
    found = Status(
        run.run_id, run.status, slot=run.slot_name, applied_lsn=run.applied_lsn
    )
    found.applied_rows = run.applied_rows
    if settings.source is None:
        return found
    conn = connect(settings.source_required, autocommit=True)
    try:
        with conn.cursor() as cursor:
            slot = source.slot_state(cursor, run.slot_name)
            gone = source.unpublished_tables(cursor, settings.source_schema, run)
    finally:
        conn.close()
    found.slot_exists, found.slot_active = slot.exists, slot.active
    found.source_lsn = slot.current_lsn
    if slot.exists:
        positions = [run.applied_lsn, run.consistent_lsn, run.confirmed_lsn]
        applied = max((pgoutput.parse_lsn(p) for p in positions if p), default=0)
        if applied > pgoutput.parse_lsn(run.applied_lsn or "0/0"):
            found.passed_lsn = pgoutput.format_lsn(applied)
        found.lag_bytes = max(0, pgoutput.parse_lsn(slot.current_lsn) - applied)
        found.retained_wal_bytes = slot.retained_bytes
        found.wal_status = slot.wal_status
        # Seconds: since the stream was last known to hold every change
        # (caught up, or the commit of the last transaction applied).
        known = [t for t in (run.applied_commit_at, run.caught_up_at) if t]
        found.lag_seconds = 0.0
        caught_up = run.caught_up_at is not None and _recent(run.caught_up_at)
        if known and found.lag_bytes and not (slot.active and caught_up):
            found.lag_seconds = max(
                0.0, (datetime.now(UTC) - max(known)).total_seconds()
            )
        elif found.lag_bytes and not known:
            # Behind, and nothing applied or caught up yet: how long
            # behind is not known (0.0 s would say it is caught up).
            found.lag_seconds = None
        found.warning = slot_warning(
            slot.retained_bytes or 0,
            limits.warn_bytes,
            streamed=slot.active,
            run_status=run.status if state.active(run) else None,
        )
    elif state.active(run):
        found.warning = "the run is active but its slot is gone: run cleanup"
    if gone and state.active(run):
        found.warning = "; ".join(
            w
            for w in (
                source.unpublished_refusal(run, gone),
                found.warning,
            )
            if w
        )
    return found
