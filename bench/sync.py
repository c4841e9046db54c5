"""Benchmark pgshift's online migration against native logical replication.

Usage::

    python bench/sync.py                       # the 1m preset, 200 tx/s for 60 s
    python bench/sync.py --preset 10m
    python bench/sync.py --rows 20000 --seconds 10 --backlog 5   # a smoke run

One run seeds the sample marketplace source at the chosen size on a
throwaway PostgreSQL cluster with ``wal_level = logical`` (source and both
targets on that one server), then, each into an empty database:

1. pgshift: ``run.py sync`` (copy, dbt build, verify, then follow); once
   ``run.py status --json`` says it streams, a fixed-rate write load runs on
   the source (``--rate`` transactions/s for ``--seconds`` from ``THREADS``
   client threads, as an application role: inserts, updates and deletes
   across seven tables, a few rows per transaction); then the time until
   the target holds the load's last transaction (the drain); then a
   backlog: the sync process is stopped (Ctrl-C), a load of
   ``--backlog-rate`` transactions/s runs for ``--backlog`` seconds, the
   sync is started again, and the time from its slot streaming again to
   the backlog applied gives its peak apply rate (with the CPU seconds of
   the processes that apply it); finally ``run.py cutover``, whose
   downtime and steps are recorded.
2. native logical replication: the schema from ``pg_dump --schema-only``,
   a publication of the same tables, a subscription with ``copy_data``
   (the initial copy by the subscription's own table sync), then the same
   load at the same rate, the same drain, and the same backlog (the
   subscription disabled during it, enabled after).

Every SAMPLE_EVERY seconds a sampler reads, on the source,
``pg_current_wal_lsn()`` and the contender's slot, and, on the target, the
applied position (pgshift: ``applied_lsn`` in ``pgshift.sync_runs``;
native: the subscription's replication origin), each committed with the
changes it covers. Lag counts the source database's own commits: every
load transaction reads ``pg_current_wal_insert_lsn()`` just before it
commits, and a commit is on the target once the applied position passed
that. Lag in seconds is the age of the oldest commit not on the target,
lag in bytes the WAL from the last commit on it to the newest (``Sample``). Drained means
the applied position passed a last transaction written after the load
stopped.

It prints and writes ``bench/results/sync-<name>.csv`` (the samples, then
the summary rows) and ``.png`` (lag over time, both contenders), and the
ratios pgshift / native.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "loader"))

import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

from pgshift.demo.cluster import Cluster, find_server_binaries  # noqa: E402
from pgshift.demo.sample.seed import BASE_COUNTS  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
assert _spec is not None and _spec.loader is not None
bench_run = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = bench_run
_spec.loader.exec_module(bench_run)

PRESETS: dict[str, int] = bench_run.PRESETS
ROWS_PER_SCALE: int = bench_run.ROWS_PER_SCALE

SERVER_SETTINGS = {
    **bench_run.SERVER_SETTINGS,
    "wal_level": "logical",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
    "max_logical_replication_workers": "4",
    "max_worker_processes": "12",
}
"""bench/run.py's settings (durable, fsync on), with logical decoding."""

APP_ROLE = "bench_app"
"""The application's login role on the source: the write load runs as it,
and pgshift's cutover blocks it."""
THREADS = 2
"""Client threads of the write load, each with its own connection."""
SAMPLE_EVERY = 0.1
"""Seconds between two readings of the positions."""
KEEP_EVERY = 0.25
"""Seconds between two kept lag samples."""
DRAIN_TIMEOUT = 600.0
"""Seconds to wait for a contender to apply the load."""
START_TIMEOUT = 1800.0
"""Seconds to wait for pgshift's sync, or the subscription's copy, to stream."""
NATIVE = "native logical replication"


# -- the write load ------------------------------------------------------------


class Load:
    """A fixed-rate write load on the source, from THREADS client threads.

    Each transaction is one of four kinds, a few rows each, chosen at
    random: a chat message (insert into messages, update its room), a job's
    status change with a notification (update jobs, insert notifications),
    housekeeping (update a notification, delete a session and a
    notification the load inserted earlier), a sign-in (insert sessions and
    audit_events). Keys of the seeded rows come from the seed's arithmetic
    (1..count), so every update finds its row; deletes only remove rows
    the load inserted.
    """

    def __init__(
        self, url: str, scale: int, rate: float, commits: list[tuple[float, int]]
    ) -> None:
        """A load on ``url`` (the application role) at ``rate`` transactions/s.

        Each commit appends (when it returned, a WAL position just before
        its commit record) to ``commits``.
        """
        self.url = url
        self.n = {t: c * scale for t, c in BASE_COUNTS.items()}
        self.rate = rate
        self.commits = commits
        self.transactions = 0
        self.rows = 0
        self.behind = 0.0
        self._lock = threading.Lock()

    def run(self, seconds: float) -> tuple[float, float]:
        """Write for ``seconds``; return (started, stopped) as monotonic times."""
        stop = threading.Event()
        errors: list[BaseException] = []
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=self._worker, args=(i, started, seconds, stop, errors)
            )
            for i in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise SystemExit(f"the write load failed: {errors[0]}")
        return started, time.monotonic()

    def _worker(
        self,
        index: int,
        started: float,
        seconds: float,
        stop: threading.Event,
        errors: list[BaseException],
    ) -> None:
        rng = random.Random(index * 7919 + int(started))
        per_thread = self.rate / THREADS
        conn = psycopg2.connect(self.url, application_name="bench load")
        inserted: dict[str, list[int]] = {"sessions": [], "notifications": []}
        done = 0
        try:
            with conn.cursor() as cursor:
                while not stop.is_set():
                    due = started + done / per_thread
                    now = time.monotonic()
                    if due >= started + seconds or now >= started + seconds:
                        break
                    if due > now:
                        time.sleep(due - now)
                    rows = self._transaction(cursor, rng, inserted)
                    cursor.execute("select pg_current_wal_insert_lsn() - '0/0'")
                    before_commit = int(cursor.fetchone()[0])
                    conn.commit()
                    self.commits.append((time.monotonic(), before_commit))
                    done += 1
                    with self._lock:
                        self.transactions += 1
                        self.rows += rows
                lateness = time.monotonic() - (started + seconds)
                with self._lock:
                    self.behind = max(self.behind, lateness)
        except BaseException as exc:  # reported by run()
            errors.append(exc)
            stop.set()
        finally:
            conn.close()

    def _id(self, rng: random.Random, table: str) -> int:
        return rng.randint(1, self.n[table])

    def _transaction(
        self, cursor: Any, rng: random.Random, inserted: dict[str, list[int]]
    ) -> int:
        """One application transaction; returns the rows it changed."""
        kind = rng.randrange(4)
        rows = 0
        if kind == 0:
            room = self._id(rng, "chat_rooms")
            cursor.execute(
                'insert into messages ("chatRoomId", "senderId", content, '
                '"createdAt") values (%s, %s, %s, now())',
                (room, self._id(rng, "users"), f"bench message {rng.random():.6f}"),
            )
            rows += cursor.rowcount
            cursor.execute(
                'update chat_rooms set "lastMessageAt" = now() where id = %s', (room,)
            )
            rows += cursor.rowcount
        elif kind == 1:
            cursor.execute(
                'update jobs set status = %s, "updatedAt" = now() where id = %s',
                (
                    rng.choice(["open", "assigned", "in_progress"]),
                    self._id(rng, "jobs"),
                ),
            )
            rows += cursor.rowcount
            cursor.execute(
                'insert into notifications ("userId", type, title, body) '
                "values (%s, 'job', 'Job updated', %s) returning id",
                (self._id(rng, "users"), f"status changed {rng.random():.6f}"),
            )
            inserted["notifications"].append(cursor.fetchone()[0])
            rows += 1
        elif kind == 2:
            cursor.execute(
                'update notifications set "isRead" = not "isRead" where id = %s',
                (self._id(rng, "notifications"),),
            )
            rows += cursor.rowcount
            for table in ("sessions", "notifications"):
                if inserted[table]:
                    key = inserted[table].pop(rng.randrange(len(inserted[table])))
                    cursor.execute(
                        sql.SQL("delete from {} where id = %s").format(
                            sql.Identifier(table)
                        ),
                        (key,),
                    )
                    rows += cursor.rowcount
        else:
            user = self._id(rng, "users")
            cursor.execute(
                'insert into sessions ("userId", "ipAddress", "userAgent", '
                "\"expiresAt\") values (%s, '10.0.0.1', 'bench', now() + "
                "interval '1 day') returning id",
                (user,),
            )
            inserted["sessions"].append(cursor.fetchone()[0])
            cursor.execute(
                'insert into audit_events ("actorId", action, "entityType", '
                "\"entityId\", payload) values (%s, 'sign_in', 'user', %s, "
                "'{\"bench\": true}')",
                (user, str(user)),
            )
            rows += 2
        return rows


def last_transaction(url: str, commits: list[tuple[float, int]]) -> int:
    """Write one more row on the source; return an LSN its commit ends after.

    Every earlier commit of the source database ends before that LSN, so
    a target whose applied position passed it holds the whole load.
    """
    conn = psycopg2.connect(url, application_name="bench load")
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                'update service_categories set "sortOrder" = "sortOrder" '
                "where id = 1 returning pg_current_wal_insert_lsn() - '0/0'"
            )
            bound = int(cursor.fetchone()[0])
        conn.commit()
        commits.append((time.monotonic(), bound))
    finally:
        conn.close()
    return bound


# -- sampling the lag ----------------------------------------------------------


@dataclass
class Sample:
    """One kept reading of a contender's lag.

    ``lag_bytes`` and ``lag_seconds`` count the source database's own
    commits only: the WAL from the last commit the target holds to the
    newest, and how long ago the oldest one it does not hold returned to
    its client.
    ``slot_lag_bytes`` is what monitoring shows (``pg_current_wal_lsn()``
    minus the slot's ``confirmed_flush_lsn``); on this one server it also
    counts the targets' own WAL.
    """

    contender: str
    phase: str
    t: float
    source_lsn: int
    confirmed_lsn: int
    applied_lsn: int
    slot_active: bool
    slot_lag_bytes: int
    lag_bytes: int
    lag_seconds: float


@dataclass
class Sampler:
    """Reads the positions every SAMPLE_EVERY s in a thread; keeps one each KEEP_EVERY s.

    ``applied_query`` runs on the target and returns the applied position
    as a number (``pg_lsn - '0/0'``). ``commits`` is appended to by the
    load (see ``Load``).
    """

    contender: str
    source_admin: str
    target: str
    slot: str
    applied_query: str
    zero: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    commits: list[tuple[float, int]] = field(default_factory=list)
    phase: str = "load"
    applied: int = 0
    confirmed: int = 0
    active: bool = False
    peaks: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Per phase, the largest lag of any reading (bytes, seconds)."""

    def __post_init__(self) -> None:
        """Prepare the thread (start() starts it)."""
        self._stop = threading.Event()
        self._oldest = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; raise what the thread met, if anything."""
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise SystemExit(f"the lag sampler failed: {self._error}")

    def _commit_lag(self, now: float) -> tuple[int, float]:
        """(bytes, seconds) of the source's commits the target does not hold.

        A commit is held once the applied position (the end of a commit
        record) passed the position read just before it.
        """
        commits = self.commits
        count = len(commits)
        while self._oldest < count and commits[self._oldest][1] < self.applied:
            self._oldest += 1
        if self._oldest >= count:
            return 0, 0.0
        newest = max(position for _, position in commits[self._oldest : count])
        # From the last commit on the target (not from an applied position
        # that has not moved since the initial copy).
        held = commits[self._oldest - 1][1] if self._oldest else commits[0][1]
        return (
            max(0, newest - max(self.applied, held)),
            max(0.0, now - commits[self._oldest][0]),
        )

    def _loop(self) -> None:
        try:
            src = psycopg2.connect(self.source_admin, application_name="bench lag")
            src.autocommit = True
            dst = psycopg2.connect(self.target, application_name="bench lag")
            dst.autocommit = True
            kept = -KEEP_EVERY
            with src.cursor() as s, dst.cursor() as d:
                while not self._stop.is_set():
                    s.execute(
                        "select pg_current_wal_lsn() - '0/0', confirmed_flush_lsn "
                        "- '0/0', coalesce(active, false) from (select 1) one left "
                        "join pg_replication_slots on slot_name = %s",
                        (self.slot,),
                    )
                    current, confirmed, active = s.fetchone()
                    d.execute(self.applied_query)
                    row = d.fetchone()
                    now = time.monotonic()
                    current = int(current)
                    self.confirmed = int(confirmed or 0)
                    self.active = bool(active)
                    self.applied = int(row[0]) if row and row[0] is not None else 0
                    lag_bytes, lag_seconds = self._commit_lag(now)
                    peak = self.peaks.get(self.phase, (0, 0.0))
                    self.peaks[self.phase] = (
                        max(peak[0], lag_bytes),
                        max(peak[1], lag_seconds),
                    )
                    if now - self.zero - kept >= KEEP_EVERY:
                        kept = now - self.zero
                        self.samples.append(
                            Sample(
                                self.contender,
                                self.phase,
                                kept,
                                current,
                                self.confirmed,
                                self.applied,
                                self.active,
                                max(0, current - self.confirmed),
                                lag_bytes,
                                lag_seconds,
                            )
                        )
                    time.sleep(SAMPLE_EVERY)
            src.close()
            dst.close()
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def wait_active(self, timeout: float = START_TIMEOUT) -> float:
        """Wait until the slot streams again; return that moment."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None:
                raise SystemExit(f"the lag sampler failed: {self._error}")
            if self.active:
                return time.monotonic()
            time.sleep(SAMPLE_EVERY / 4)
        raise SystemExit(f"{self.contender}: the slot was not streamed again")

    def wait_applied(self, bound: int, timeout: float = DRAIN_TIMEOUT) -> float:
        """Wait until the applied position passes ``bound``; return that moment."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None:
                raise SystemExit(f"the lag sampler failed: {self._error}")
            if self.applied > bound:
                return time.monotonic()
            time.sleep(SAMPLE_EVERY / 4)
        raise SystemExit(
            f"{self.contender}: the load was not applied in {timeout:.0f} s"
        )


# -- one contender's run -------------------------------------------------------


@dataclass
class Result:
    """What one contender did."""

    contender: str
    start_seconds: float = 0.0
    load_seconds: float = 0.0
    transactions: int = 0
    rows: int = 0
    drain_seconds: float = 0.0
    applied_seconds: float = 0.0
    backlog_transactions: int = 0
    backlog_rows: int = 0
    backlog_load_tx_per_s: float = 0.0
    resume_seconds: float = 0.0
    catchup_seconds: float = 0.0
    max_lag_bytes: int = 0
    max_lag_seconds: float = 0.0
    downtime: float | None = None
    cutover_steps: list[tuple[str, float]] = field(default_factory=list)
    catchup_cpu: dict[str, float] = field(default_factory=dict)
    behind: float = 0.0

    @property
    def rows_per_s(self) -> float:
        """Rows of the load per second until applied."""
        return self.rows / self.applied_seconds if self.applied_seconds else 0.0

    @property
    def tx_per_s(self) -> float:
        """Transactions of the load per second until applied."""
        return self.transactions / self.applied_seconds if self.applied_seconds else 0.0

    @property
    def backlog_rows_per_s(self) -> float:
        """Rows of the backlog per second of catch-up."""
        return self.backlog_rows / self.catchup_seconds if self.catchup_seconds else 0.0

    @property
    def backlog_tx_per_s(self) -> float:
        """Transactions of the backlog per second of catch-up."""
        if not self.catchup_seconds:
            return 0.0
        return self.backlog_transactions / self.catchup_seconds


def loaded_phase(
    result: Result,
    sampler: Sampler,
    app_url: str,
    source: str,
    scale: int,
    rate: float,
    seconds: float,
) -> None:
    """The fixed-rate load while the contender follows, then its drain."""
    load = Load(app_url, scale, rate, sampler.commits)
    sampler.phase = "load"
    started, stopped = load.run(seconds)
    sampler.phase = "drain"
    bound = last_transaction(source, sampler.commits)
    applied_at = sampler.wait_applied(bound)
    result.load_seconds = stopped - started
    result.transactions, result.rows = load.transactions, load.rows
    result.behind = load.behind
    result.drain_seconds = applied_at - stopped
    result.applied_seconds = applied_at - started
    print(
        f"{result.contender}: {load.transactions} transactions, {load.rows} rows "
        f"in {result.load_seconds:.1f} s; drained {result.drain_seconds:.2f} s "
        "after the load stopped",
        flush=True,
    )


def backlog_phase(
    result: Result,
    sampler: Sampler,
    app_url: str,
    source: str,
    scale: int,
    rate: float,
    seconds: float,
    pause: Any,
    resume: Any,
    processes: Any,
) -> None:
    """A load while the contender is stopped; then its catch-up.

    The apply rate counts from the moment the slot streams again, so that
    starting the sync process (or the subscription's worker) is not in it;
    that start is kept apart (``resume_seconds``).
    """
    if seconds <= 0:
        return
    pause()
    sampler.phase = "backlog"
    load = Load(app_url, scale, rate, sampler.commits)
    started, stopped = load.run(seconds)
    bound = last_transaction(source, sampler.commits)
    sampler.phase = "catch-up"
    resumed = time.monotonic()
    resume()
    streaming = sampler.wait_active()
    watched = processes()
    before = cpu_of(watched)
    caught_up = sampler.wait_applied(bound)
    after = cpu_of(watched)
    result.catchup_cpu = {n: after[n] - before[n] for n in watched}
    result.backlog_transactions, result.backlog_rows = load.transactions, load.rows
    result.backlog_load_tx_per_s = load.transactions / (stopped - started)
    result.resume_seconds = streaming - resumed
    result.catchup_seconds = caught_up - streaming
    print(
        f"{result.contender}: backlog of {load.transactions} transactions, "
        f"{load.rows} rows applied in {result.catchup_seconds:.2f} s "
        f"({result.backlog_rows_per_s:,.0f} rows/s) after streaming again "
        f"{result.resume_seconds:.2f} s after the resume",
        flush=True,
    )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process."""
    return {name: cpu_seconds(pid) for name, pid in processes.items()}


def settle(seconds: float = 3.0) -> None:
    """Keep sampling a little after the drain, so the plot shows it."""
    time.sleep(seconds)


def summarize_lag(result: Result, sampler: Sampler) -> None:
    """The largest lag of any reading under the fixed-rate load and its drain."""
    peaks = [sampler.peaks.get(phase, (0, 0.0)) for phase in ("load", "drain")]
    result.max_lag_bytes = max(p[0] for p in peaks)
    result.max_lag_seconds = max(p[1] for p in peaks)


class SyncProcess:
    """``run.py sync`` as a subprocess, its output in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        """A sync with this environment, its output appended to ``log``."""
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or resume) the sync."""
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "loader" / "run.py"), "sync"],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()

    def stop(self, timeout: float = 60.0) -> None:
        """Ctrl-C, as a user would; the sync resumes from its applied position."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def check(self) -> None:
        """Stop the benchmark if the sync process failed."""
        if self.process is not None and self.process.poll() not in (None, 0):
            tail = self.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"run.py sync failed ({self.process.returncode}):\n{tail}")


def status(env: dict[str, str]) -> dict[str, Any]:
    """``run.py status --json``, or {} while it cannot tell."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "loader" / "run.py"), "status", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {}
    try:
        return dict(json.loads(done.stdout))
    except json.JSONDecodeError:
        return {}


def wait_streaming(env: dict[str, str], sync: SyncProcess, timeout: float) -> dict:
    """Poll ``status --json`` until the run streams from an active slot."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sync.check()
        found = status(env)
        if found.get("status") == "streaming" and found.get("slot_active"):
            return found
        time.sleep(1.0)
    raise SystemExit(f"run.py sync did not stream in {timeout:.0f} s; see {sync.log}")


def backends(cluster: Cluster, where: str) -> dict[str, int]:
    """Server processes matching ``where`` in pg_stat_activity, by kind."""
    found = cluster.execute(
        "select backend_type || ' (' || coalesce(datname, '') || ')', pid "
        f"from pg_stat_activity where {where}"  # noqa: S608
    )
    return {str(kind): int(pid) for kind, pid in found}


CUTOVER_STEP = re.compile(r"^\s{2}(\S.*?)\s+(\d+\.\d+) s$")
CUTOVER_DOWNTIME = re.compile(r"downtime (\d+\.\d+) s")


def run_pgshift(
    cluster: Cluster,
    source: str,
    app_url: str,
    scale: int,
    args: argparse.Namespace,
    work: Path,
) -> tuple[Result, Sampler]:
    """sync, the load, the drain, the backlog, then cutover."""
    result = Result("pgshift")
    target = bench_run.fresh_database(cluster, "bench_sync_pgshift")
    state_dir = work / "state"
    state_dir.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "SOURCE_DATABASE_URL": source,
        "TARGET_DATABASE_URL": target,
        "PGSHIFT_STATE_DIR": str(state_dir),
    }
    sync = SyncProcess(env, work / "sync.out")
    began = time.monotonic()
    sync.start()
    found = wait_streaming(env, sync, START_TIMEOUT)
    result.start_seconds = time.monotonic() - began
    print(
        f"pgshift: sync streams from slot {found['slot']} after "
        f"{result.start_seconds:.1f} s (copy, dbt build, verify)",
        flush=True,
    )
    sampler = Sampler(
        "pgshift",
        cluster.url(),
        target,
        str(found["slot"]),
        "select applied_lsn - '0/0' from pgshift.sync_runs where run_id = "
        f"'{found['run_id']}'",
    )
    sampler.start()
    try:
        loaded_phase(result, sampler, app_url, source, scale, args.rate, args.seconds)
        settle()

        def resume() -> None:
            sync.start()

        backlog_phase(
            result,
            sampler,
            app_url,
            source,
            scale,
            args.backlog_rate,
            args.backlog,
            sync.stop,
            resume,
            lambda: {
                "run.py sync (Python)": sync.process.pid if sync.process else 0,
                **backends(cluster, "application_name = 'pgshift sync'"),
            },
        )
        settle()
        sampler.phase = "cutover"
        done = subprocess.run(
            [sys.executable, str(ROOT / "loader" / "run.py"), "cutover"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"run.py cutover failed:\n{done.stdout}\n{done.stderr}")
        print(done.stdout.rstrip(), flush=True)
        for line in done.stdout.splitlines():
            step = CUTOVER_STEP.match(line)
            if step:
                result.cutover_steps.append((step.group(1), float(step.group(2))))
            downtime = CUTOVER_DOWNTIME.search(line)
            if downtime:
                result.downtime = float(downtime.group(1))
        if sync.process is not None:
            try:
                sync.process.wait(60)
            except subprocess.TimeoutExpired:
                sync.stop()
    finally:
        sampler.stop()
        sync.stop()
        # Cutover blocks the application: NOLOGIN, or, as source and target
        # share this server, CONNECT on the source database revoked (its ACL
        # was the default, PUBLIC's). Native's run needs it back.
        cluster.execute(f"alter role {APP_ROLE} login")
        source_db = source.rsplit("/", 1)[1].split("?")[0]
        cluster.execute(f'grant connect on database "{source_db}" to public')
        cluster.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
            "where slot_name like 'pgshift%' and not active"
        )
    summarize_lag(result, sampler)
    return result, sampler


def run_native(
    cluster: Cluster,
    source: str,
    app_url: str,
    scale: int,
    args: argparse.Namespace,
) -> tuple[Result, Sampler]:
    """Publication, subscription (copy_data), the load, the drain, the backlog."""
    result = Result(NATIVE)
    source_db = source.rsplit("/", 1)[1]
    target = bench_run.fresh_database(cluster, "bench_sync_native")
    bin_dir = cluster.bin_dir
    schema = subprocess.run(
        [
            str(bin_dir / "pg_dump"),
            "--schema-only",
            "--no-owner",
            "--no-publications",
            "--no-subscriptions",
            "-d",
            source,
        ],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        [str(bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", target],
        input=schema,
        check=True,
        capture_output=True,
    )
    tables = bench_run.table_names(source)
    slot, publication, subscription = "bench_native", "bench_native", "bench_native"
    with psycopg2.connect(source) as conn, conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("drop publication if exists {}").format(sql.Identifier(publication))
        )
        cursor.execute(
            sql.SQL("create publication {} for table {}").format(
                sql.Identifier(publication),
                sql.SQL(", ").join(sql.Identifier(t) for t in tables),
            )
        )
    conn.close()
    # CREATE SUBSCRIPTION cannot create its slot on its own server (it
    # would wait for its own transaction): the slot is made first.
    cluster.execute(
        f"select pg_create_logical_replication_slot('{slot}', 'pgoutput')",
        dbname=source_db,
    )
    connection = f"host=127.0.0.1 port={cluster.port} dbname={source_db} user={cluster.superuser}"
    began = time.monotonic()
    cluster.execute(
        f"create subscription {subscription} connection '{connection}' "
        f"publication {publication} with (create_slot = false, slot_name = "
        f"'{slot}', copy_data = true)",
        dbname="bench_sync_native",
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pending = cluster.execute(
            "select count(*) from pg_subscription_rel where srsubstate <> 'r'",
            dbname="bench_sync_native",
        )[0][0]
        active = cluster.execute(
            f"select count(*) from pg_replication_slots where slot_name = '{slot}' "
            "and active"
        )[0][0]
        if not pending and active:
            break
        time.sleep(0.5)
    else:
        raise SystemExit("the subscription's initial copy did not finish")
    result.start_seconds = time.monotonic() - began
    print(
        f"{NATIVE}: subscription streams after {result.start_seconds:.1f} s "
        "(initial copy by table sync)",
        flush=True,
    )
    sampler = Sampler(
        NATIVE,
        cluster.url(),
        target,
        slot,
        "select remote_lsn - '0/0' from pg_replication_origin_status o join "
        "pg_subscription s on o.external_id = 'pg_' || s.oid where s.subname = "
        f"'{subscription}'",
    )
    sampler.start()

    def set_enabled(enabled: bool) -> None:
        cluster.execute(
            f"alter subscription {subscription} "
            + ("enable" if enabled else "disable"),
            dbname="bench_sync_native",
        )
        if not enabled:
            for _ in range(200):
                if not cluster.execute(
                    f"select count(*) from pg_replication_slots where slot_name = "
                    f"'{slot}' and active"
                )[0][0]:
                    break
                time.sleep(0.05)

    try:
        loaded_phase(result, sampler, app_url, source, scale, args.rate, args.seconds)
        settle()
        backlog_phase(
            result,
            sampler,
            app_url,
            source,
            scale,
            args.backlog_rate,
            args.backlog,
            lambda: set_enabled(False),
            lambda: set_enabled(True),
            lambda: backends(
                cluster,
                f"application_name = '{subscription}' or backend_type = "
                "'logical replication worker'",
            ),
        )
        settle()
    finally:
        sampler.stop()
        cluster.execute(
            f"alter subscription {subscription} disable", dbname="bench_sync_native"
        )
        cluster.execute(
            f"alter subscription {subscription} set (slot_name = none)",
            dbname="bench_sync_native",
        )
        cluster.execute(f"drop subscription {subscription}", dbname="bench_sync_native")
        for _ in range(100):
            gone = cluster.execute(
                "select pg_drop_replication_slot(slot_name) from "
                f"pg_replication_slots where slot_name = '{slot}' and not active"
            )
            still = cluster.execute(
                f"select 1 from pg_replication_slots where slot_name = '{slot}'"
            )
            if gone or not still:
                break
            time.sleep(0.1)
        cluster.execute(f"drop publication {publication}", dbname=source_db)
    summarize_lag(result, sampler)
    return result, sampler


# -- results ---------------------------------------------------------------------


SUMMARY_FIELDS = [
    ("start_seconds", "seconds from start to streaming (initial copy)"),
    ("load_seconds", "seconds of load"),
    ("transactions", "transactions written by the load"),
    ("rows", "rows changed by the load"),
    ("drain_seconds", "seconds from the load's end until applied"),
    ("applied_seconds", "seconds from the load's start until applied"),
    ("tx_per_s", "transactions/s applied (load / time until applied)"),
    ("rows_per_s", "rows/s applied (load / time until applied)"),
    ("max_lag_bytes", "largest lag under the load, bytes (any reading)"),
    ("max_lag_seconds", "largest lag under the load, seconds (any reading)"),
    ("backlog_transactions", "transactions in the backlog"),
    ("backlog_rows", "rows in the backlog"),
    ("backlog_load_tx_per_s", "transactions/s written into the backlog"),
    ("resume_seconds", "seconds from the resume to streaming again"),
    ("catchup_seconds", "seconds to apply the backlog, once streaming"),
    ("backlog_tx_per_s", "transactions/s applying the backlog"),
    ("backlog_rows_per_s", "rows/s applying the backlog"),
    ("downtime", "cutover downtime, seconds"),
]


SAMPLE_FIELDS = [
    "t_seconds",
    "source_lsn",
    "confirmed_lsn",
    "applied_lsn",
    "slot_active",
    "slot_lag_bytes",
    "lag_bytes",
    "lag_seconds",
]


def write_results(
    name: str, results: list[Result], samplers: list[Sampler], rate: float
) -> Path:
    """bench/results/sync-<name>.csv: samples, then the summary; and the plot."""
    path = ROOT / "bench" / "results" / f"sync-{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    blank = [""] * len(SAMPLE_FIELDS)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["kind", "contender", "phase", *SAMPLE_FIELDS, "metric", "value"]
        )
        for sampler in samplers:
            for s in sampler.samples:
                writer.writerow(
                    [
                        "sample",
                        s.contender,
                        s.phase,
                        f"{s.t:.2f}",
                        s.source_lsn,
                        s.confirmed_lsn,
                        s.applied_lsn,
                        int(s.slot_active),
                        s.slot_lag_bytes,
                        s.lag_bytes,
                        f"{s.lag_seconds:.2f}",
                        "",
                        "",
                    ]
                )
        for result in results:
            rows = [(f, getattr(result, f)) for f, _ in SUMMARY_FIELDS]
            rows.append(("rate_tx_per_s", rate))
            rows += [(f"cutover: {n}", s) for n, s in result.cutover_steps]
            rows += [(f"catch-up CPU s: {n}", s) for n, s in result.catchup_cpu.items()]
            for metric, value in rows:
                if value is None:
                    continue
                shown = f"{value:.3f}" if isinstance(value, float) else str(value)
                writer.writerow(
                    ["summary", result.contender, "", *blank, metric, shown]
                )
    plot(samplers, path.with_suffix(".png"), name, rate)
    return path


def plot(samplers: list[Sampler], png: Path, name: str, rate: float) -> None:
    """Lag over time: the fixed-rate load (left) and the backlog (right)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (make bench-sync installs it)")
        return
    fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex="col")
    parts = (("load", "drain"), ("backlog", "catch-up"))
    for sampler in samplers:
        for column, phases in enumerate(parts):
            kept = [s for s in sampler.samples if s.phase in phases]
            if not kept:
                continue
            zero = kept[0].t
            t = [s.t - zero for s in kept]
            axes[0][column].plot(
                t, [s.lag_seconds for s in kept], label=sampler.contender
            )
            axes[1][column].plot(
                t, [s.lag_bytes / 2**10 for s in kept], label=sampler.contender
            )
            ends = [s.t - zero for s in kept if s.phase == phases[1]]
            if ends:
                for row in (0, 1):
                    axes[row][column].axvline(
                        ends[0], color="grey", alpha=0.4, linewidth=0.8
                    )
    axes[0][0].set_title(f"{rate:.0f} tx/s while following, then drained")
    axes[0][1].set_title("a backlog written while stopped, then caught up")
    axes[0][0].set_ylabel("lag, seconds")
    axes[1][0].set_ylabel("lag, KiB of WAL")
    for column in (0, 1):
        axes[1][column].set_xlabel("seconds (grey line: the load stopped / resumed)")
        for row in (0, 1):
            axes[row][column].grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Online migration, {name}: lag of the source's commits, 2 cores")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def report(results: list[Result]) -> None:
    """Print each contender's figures and the ratios pgshift / native."""
    print()
    for result in results:
        print(f"{result.contender}:")
        for field_name, text in SUMMARY_FIELDS:
            value = getattr(result, field_name)
            if value is None:
                continue
            shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
            print(f"  {text:<52} {shown:>14}")
        for process, seconds in result.catchup_cpu.items():
            print(f"  catch-up CPU seconds, {process:<33} {seconds:14.2f}")
        if result.behind > 0.5:
            print(
                f"  warning: the load ended {result.behind:.1f} s late (below its rate)"
            )
    ours, theirs = results
    print("\npgshift / native logical replication:")
    for field_name, text in (
        ("rows_per_s", "apply rate under the load (rows/s)"),
        ("backlog_rows_per_s", "apply rate on a backlog (rows/s)"),
        ("backlog_tx_per_s", "apply rate on a backlog (transactions/s)"),
        ("drain_seconds", "time to drain after the load"),
        ("max_lag_seconds", "largest lag under the load (seconds)"),
    ):
        a, b = getattr(ours, field_name), getattr(theirs, field_name)
        print(
            f"  {text:<44} {f'{a / b:8.2f}' if b else '     n/a'}  ({a:,.2f} / {b:,.2f})"
        )
    if ours.downtime is not None:
        verdict = "under" if ours.downtime < 5 else "over"
        print(f"  cutover downtime {ours.downtime:.2f} s ({verdict} the 5 s target)")


def prepare_source(cluster: Cluster, rows: int) -> tuple[str, str, int]:
    """The seeded source, its application role; (source, app URL, scale)."""
    source, total = bench_run.seed_source(cluster, rows)
    scale = max(1, round(rows / ROWS_PER_SCALE))
    source_db = source.rsplit("/", 1)[1]
    exists = cluster.execute(f"select 1 from pg_roles where rolname = '{APP_ROLE}'")
    if not exists:
        cluster.execute(f"create role {APP_ROLE} login")
    cluster.execute(f"alter role {APP_ROLE} login")
    cluster.execute(f'grant connect on database "{source_db}" to public')
    cluster.execute(f"grant pg_write_all_data, pg_read_all_data to {APP_ROLE}")
    # Leftovers of an interrupted run.
    cluster.execute(
        "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
        "where not active"
    )
    with psycopg2.connect(source) as conn, conn.cursor() as cursor:
        cursor.execute("select pubname from pg_publication")
        for (publication,) in cursor.fetchall():
            cursor.execute(
                sql.SQL("drop publication {}").format(sql.Identifier(publication))
            )
    conn.close()
    print(f"source: {total:,} rows (scale {scale})", flush=True)
    return source, cluster.url(source_db, user=APP_ROLE), scale


def main() -> int:
    """Seed, run both contenders, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=sorted(PRESETS), default="1m")
    size.add_argument("--rows", type=int, help="any total row count instead")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="transactions/s of the load"
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="seconds of load while following"
    )
    parser.add_argument(
        "--backlog",
        type=float,
        default=30.0,
        help="seconds of load while the contender is stopped (0: none)",
    )
    parser.add_argument(
        "--backlog-rate",
        type=float,
        default=1000.0,
        help="transactions/s of that load (its apply rate is the contender's peak)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / ".pgshift" / "bench-sync",
        help="where the benchmark's cluster lives (the seeded source is kept)",
    )
    args = parser.parse_args()
    rows = args.rows or PRESETS[args.preset]
    name = f"{args.rows}rows" if args.rows else args.preset
    cluster = Cluster(args.data_dir / "data", bin_dir=find_server_binaries())
    if not (cluster.data_dir / "PG_VERSION").exists():
        cluster.init()
    cluster.start(settings=SERVER_SETTINGS)
    began = time.monotonic()
    try:
        source, app_url, scale = prepare_source(cluster, rows)
        with tempfile.TemporaryDirectory(prefix="pgshift-bench-sync-") as tmp:
            work = Path(tmp)
            os.chmod(work, 0o755)
            ours, ours_lag = run_pgshift(cluster, source, app_url, scale, args, work)
            theirs, theirs_lag = run_native(cluster, source, app_url, scale, args)
        path = write_results(name, [ours, theirs], [ours_lag, theirs_lag], args.rate)
    finally:
        cluster.stop()
    report([ours, theirs])
    print(f"results: {path} (whole run {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
