"""Online migration: sync follows the source through the renames, cutover finishes.

One server with wal_level = logical for the whole module. The main test
writes to the source (parents and children, updates, a key change, an
update that leaves a TOASTed value alone, deletes) all through the copy and
the stream, kills the sync with SIGKILL midway and starts it again, and
cuts over: every table's row count and checksum then equal the source's,
and no slot or publication is left. The refusals (a source without
wal_level = logical, a keyless table) create nothing; a start that fails
in the copy leaves nothing behind. Source and target are databases of that
one server, so cutover keeps the application off the source database by
revoking CONNECT on it, and its roles still log in to the target.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest

from pgshift.checksum import checksum_sql
from pgshift.connection import transaction
from pgshift.demo.cluster import Cluster
from pgshift.mapping import NameMap, TableMap
from pgshift.settings import PROJECT_DIR
from pgshift.sqlident import quote_ident
from pgshift.sync import pgoutput, state
from pgshift.sync.apply import Applier, Batch, SchemaChanged, SyncError
from pgshift.sync.source import create_publication
from pgshift.sync.source import read_columns as source_columns

from migration import (
    cli_env,
    copy_project,
    fetch_text_rows,
    make_settings,
    query,
    run_cli,
    run_steps,
)

APP_ROLE = "sync_app_writer"


def _left_on_source(url: str) -> list[tuple]:
    """Slots of the server and publications of the database."""
    return query(url, "select slot_name from pg_replication_slots") + query(
        url, "select pubname from pg_publication"
    )


def test_a_source_without_logical_wal_is_refused(
    pg_cluster: Cluster, new_database: Callable[[], str], tmp_path: Path
) -> None:
    # The session's shared server runs with wal_level = replica, and this
    # role has no REPLICATION: both are said at once, not one per restart.
    source, target = new_database(), new_database()
    pg_cluster.execute(
        "do $$ begin create role plain_syncer login; "
        "exception when duplicate_object then null; end $$"
    )
    as_role = pg_cluster.url(source.rsplit("/", 1)[1], user="plain_syncer")
    done = run_cli(["sync"], as_role, target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "reasons, nothing was created" in done.stderr
    assert "- the source's wal_level is replica" in done.stderr
    assert "- the source role plain_syncer has neither REPLICATION" in done.stderr
    assert _left_on_source(source) == []


def test_a_source_role_without_create_on_the_database_is_refused(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # A role with everything else a sync needs (REPLICATION, owner of every
    # table): CREATE PUBLICATION still needs CREATE on the database.
    source, target = pair()
    database, role = source.rsplit("/", 1)[1], "sync_table_owner"
    query(
        source,
        f"do $$ begin create role {role} login replication; "
        "exception when duplicate_object then null; end $$; "
        f"revoke create on database {database} from {role}",
    )
    for (table,) in query(
        source, "select tablename from pg_tables where schemaname = 'public'"
    ):
        query(source, f"alter table public.{quote_ident(table)} owner to {role}")
    done = run_cli(["sync"], logical.url(database, user=role), target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sync refused, nothing was created: the source role" in done.stderr
    assert f"GRANT CREATE ON DATABASE {database} TO {role}" in done.stderr
    assert "Traceback" not in done.stderr
    assert _left_on_source(source) == []
    assert query(target, "select to_regclass('pgshift.sync_runs')") == [(None,)]


def test_a_target_role_whose_triggers_would_fire_on_applied_rows_is_refused(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # A target role that may not set session_replication_role (no superuser,
    # no SET on it): the final tables' own triggers and SET NULL would act
    # on every applied change, and the final rows would differ from the
    # source's (a last-updated trigger rewrites each row's time).
    source, _ = pair()
    query(
        source,
        "create function touch() returns trigger language plpgsql as $$ begin "
        'new."updatedAt" := now(); return new; end $$; '
        "create trigger users_touch before update on users for each row "
        "execute function touch(); "
        'alter table users drop constraint "users_defaultPaymentMethodId_fkey", '
        'add constraint "users_defaultPaymentMethodId_fkey" foreign key '
        '("defaultPaymentMethodId") references payment_methods (id) '
        "on delete set null",
    )
    project, state = copy_project(tmp_path / "project"), tmp_path / "state"
    owner = "sync_plain_target_owner"
    query(source, f"drop role if exists {owner}")
    query(source, f"create role {owner} login")
    logical.drop_database("sync_target_plain")
    logical.create_database("sync_target_plain", owner=owner)
    target = logical.url("sync_target_plain", user=owner)
    try:
        run_steps(["scaffold"], source, target, state, project)
        # A landing schema pgshift did not make stops a start that gets past
        # the checks, before it streams (test_a_failed_copy_leaves_no_slot).
        query(logical.url("sync_target_plain"), "create schema raw")
        done = run_cli(["sync"], source, target, state, project)
        assert done.returncode == 2, done.stdout + done.stderr
        message = done.stderr
        assert "sync refused, nothing was created: the target role" in message
        assert "may not set session_replication_role" in message
        assert "trigger users_touch on users" in message
        assert (
            "foreign key users_default_payment_method_id_fkey of users "
            "(on delete set null)" in message
        )
        assert f"GRANT SET ON PARAMETER session_replication_role TO {owner}" in message
        # ON DELETE CASCADE, which the sample has, is not named: a delete the
        # target's cascade did already is one the stream finds done.
        assert "cascade" not in message
        assert _left_on_source(source) == []
        assert query(target, "select to_regclass('pgshift.sync_runs')") == [(None,)]
        # Granted, the check passes (the landing schema stops the start).
        query(
            logical.url("sync_target_plain"),
            f"grant set on parameter session_replication_role to {owner}",
        )
        again = run_cli(["sync"], source, target, state, project)
        assert again.returncode == 2, again.stdout + again.stderr
        assert "session_replication_role" not in again.stderr
        assert _left_on_source(source) == []
    finally:
        logical.drop_database("sync_target_plain")


def test_a_keyless_table_is_named_and_nothing_is_created(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    source, target = pair()
    # One keeps a unique key over a NOT NULL column (its e-mail), which
    # names each row; the other has no key left at all.
    query(source, "alter table waitlist_entries drop constraint waitlist_entries_pkey")
    query(source, "alter table notifications drop constraint notifications_pkey")
    done = run_cli(["sync"], source, target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stderr
    assert "no replica identity: notifications, waitlist_entries." in message
    assert (
        'ALTER TABLE "public"."waitlist_entries" REPLICA IDENTITY USING INDEX '
        '"waitlist_entries_email_key";' in message
    )
    assert 'ALTER TABLE "public"."notifications" REPLICA IDENTITY FULL;' in message
    assert "--exclude notifications,waitlist_entries" in message
    assert _left_on_source(source) == []
    # The source application's own updates still work.
    query(source, "update waitlist_entries set \"fullName\" = 'x' where false")


def test_many_keyless_tables_are_counted_and_their_statements_written_to_a_file(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # An ORM's hundreds of keyless join tables: the message stays short, the
    # statements that fix them wait in a file, ready for psql.
    source, target = pair()
    tables = [
        t
        for (t,) in query(
            source,
            "select tablename from pg_tables where schemaname = 'public' order by 1",
        )
    ]
    for table in tables:
        query(source, f'alter table "{table}" replica identity nothing')
    done = run_cli(["sync"], source, target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stderr
    assert f"and {len(tables) - 20} more ({len(tables)} in all)." in message
    assert "REPLICA IDENTITY" not in message
    written = re.search(r"the (\d+) statements written to (\S+) \(psql -f", message)
    assert written and int(written[1]) == len(tables), message
    statements = Path(written[2]).read_text().splitlines()
    assert (
        'ALTER TABLE "public"."users" REPLICA IDENTITY USING INDEX "users_pkey";'
        in statements
    )
    assert len(statements) == len(tables)
    assert _left_on_source(source) == []


def test_an_unlogged_table_is_named_and_nothing_is_created(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # Its changes never reach the write-ahead log: no slot could follow it.
    source, target = pair()
    query(source, "alter table waitlist_entries set unlogged")
    done = run_cli(["sync"], source, target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "tables are UNLOGGED: waitlist_entries" in done.stderr
    assert "--exclude waitlist_entries" in done.stderr
    assert "the target then has neither the tables nor their rows" in done.stderr
    assert "their triggers and the functions those call" in done.stderr
    assert _left_on_source(source) == []


def test_models_scaffolded_with_other_options_are_refused(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # The project's models hold waitlist_entries: a sync leaving it out
    # would build a model whose raw table was never copied.
    source, target = pair()
    done = run_cli(["--exclude", "waitlist_entries", "sync"], source, target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "models do not match the source" in done.stderr
    assert "waitlist_entries" in done.stderr
    assert _left_on_source(source) == []


def test_a_failed_copy_leaves_no_slot(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    source, target = pair()
    # A landing schema pgshift did not make: the load refuses it, after
    # the slot was created for its snapshot.
    query(target, "create schema raw")
    done = run_cli(["sync"], source, target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "slot pgshift_" in done.stdout and "created" in done.stdout
    assert "dropped slot pgshift_" in done.stdout
    assert _left_on_source(source) == []
    assert query(target, "select status from pgshift.sync_runs") == [("failed",)]
    again = run_cli(["cleanup"], source, target, tmp_path)
    assert again.returncode == 0 and "nothing to drop" in again.stdout


def test_a_grant_made_since_scaffold_is_named_when_the_start_fails(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # The models carry the source's grants as scaffold read them: one made
    # since is a schema difference after the copy, named with what to do.
    source, target = pair()
    query(
        source,
        "do $$ begin if not exists (select from pg_roles where rolname = "
        "'sync_late_reader') then create role sync_late_reader; end if; end $$; "
        "grant select on users to sync_late_reader",
    )
    done = run_cli(["sync"], source, target, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the target does not match the copy:" in done.stderr
    assert "schema differs:" in done.stderr and "sync_late_reader" in done.stderr
    assert "scaffold` again" in done.stderr
    assert _left_on_source(source) == []


def _fingerprints(
    source: str, target: str, project: Path = PROJECT_DIR
) -> dict[str, tuple]:
    """Per table: (rows, checksum) on the source and on the final table."""
    names = NameMap.read(project)
    assert names is not None
    out = {}
    for name, mapped in names.tables.items():
        columns = query(
            source,
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped "
            "order by attnum",
            (f"public.{quote_ident(name)}",),
        )
        # Column names may hold "%": no parameters, so none is read as one.
        on_source = query(
            source,
            checksum_sql(f"public.{quote_ident(name)}", columns).replace("%", "%%"),
        )
        on_target = query(
            target,
            checksum_sql(
                f"public.{quote_ident(mapped.target)}",
                [(mapped.columns[c], t) for c, t in columns],
            ).replace("%", "%%"),
        )
        out[name] = (on_source[0], on_target[0])
    return out


class Writer(threading.Thread):
    """The application: small transactions on the source until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.transactions = 0
        self.error: BaseException | None = None
        self.blocked = False

    def run(self) -> None:
        try:
            conn = psycopg2.connect(self.url)
        except psycopg2.Error as exc:
            self.error = exc
            return
        step = 0
        try:
            while not self.stop.is_set():
                step += 1
                with conn, conn.cursor() as cur:
                    # A parent and its child.
                    cur.execute(
                        'insert into users (email, "passwordHash", "firstName") '
                        "values (%s, 'h', 'W') returning id",
                        (f"writer{step}@example.com",),
                    )
                    user = cur.fetchone()[0]
                    cur.execute(
                        'insert into payment_methods ("userId", type) values (%s, '
                        "'card')",
                        (user,),
                    )
                    cur.execute(
                        'update users set "lastName" = %s where id = '
                        "(select min(id) + %s from users)",
                        (f"L{step}", step % 7),
                    )
                    # A key change.
                    cur.execute(
                        "update job_photos set id = nextval('job_photos_id_seq') "
                        "where id = (select min(id) from job_photos)"
                    )
                    # An update that leaves the TOASTed terms alone.
                    cur.execute(
                        "update jobs set notes = %s where id = 1", (f"n{step}",)
                    )
                    cur.execute(
                        "delete from notifications where id = "
                        "(select min(id) from notifications)"
                    )
                    if step % 5 == 0:
                        cur.execute(
                            'delete from payment_methods where "userId" = %s', (user,)
                        )
                        cur.execute("delete from users where id = %s", (user,))
                self.transactions += 1
                time.sleep(0.01)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            # Cutover terminated the session.
            self.blocked = True
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            conn.close()


def _status(target: str) -> tuple[str, str | None, int]:
    if query(target, "select to_regclass('pgshift.sync_runs')") == [(None,)]:
        return ("none", None, 0)
    rows = query(
        target,
        "select status, applied_lsn::text, applied_rows from pgshift.sync_runs "
        "order by started_at desc limit 1",
    )
    return rows[0] if rows else ("none", None, 0)


def _wait(what: Callable[[], bool], seconds: float, why: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.2)
    raise AssertionError(f"{why}; sync's output:\n{log.read_text()[-3000:]}")


def _start_sync(
    source: str,
    target: str,
    state: Path,
    log: Path,
    project: Path = PROJECT_DIR,
    *,
    in_background: bool = False,
) -> subprocess.Popen:
    """Start ``run.py sync``; ``in_background``: as ``sync &`` in a script.

    A non-interactive shell starts a background command with SIGINT
    ignored; the child inherits that.
    """
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_background else None
    try:
        return subprocess.Popen(
            [sys.executable, str(project / "loader" / "run.py"), "sync"],
            cwd=project,
            env=cli_env(source, target, state),
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
        )
    finally:
        if saved is not None:
            signal.signal(signal.SIGINT, saved)


def _application_role(source: str, role: str) -> None:
    """Make a login role of the application anew.

    It reads and writes every table through the server's own roles, which
    source and target share here: the source's grants stay those the
    project was scaffolded with.
    """
    query(source, f"drop role if exists {role}")
    query(source, f"create role {role} login")
    query(source, f"grant pg_read_all_data, pg_write_all_data to {role}")


_APPLICATION_ROLES = (
    "select rolname from pg_roles where rolcanlogin and not rolsuper "
    "and pg_has_role(oid, 'pg_write_all_data', 'MEMBER') order by 1"
)
"""The login roles ``_application_role`` made on a server."""


def _wait_streaming(target: str, log: Path) -> None:
    """Wait until the target's sync run follows the source."""
    _wait(
        lambda: _status(target)[0] == "streaming",
        240,
        "sync did not start streaming",
        log,
    )


def test_sync_through_a_kill_then_cutover_equals_the_source(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    source, target = pair()
    _application_role(source, APP_ROLE)
    query(
        source,
        'update jobs set "termsAndConditions" = (select string_agg('
        "md5(random()::text), '') from generate_series(1, 400)) where id = 1",
    )
    # A view over a table the application writes while sync starts: its
    # rows move on from the copy's snapshot, and cutover compares them.
    query(
        source,
        'create view recent_users as select id, email, "lastName" from users '
        "where id > 5",
    )
    state = tmp_path / "state"
    project = copy_project(tmp_path / "project")
    scaffolded = run_cli(["scaffold"], source, target, state, project)
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    app_url = logical.url(source.rsplit("/", 1)[1], user=APP_ROLE)
    writer = Writer(app_url)
    writer.start()
    log = tmp_path / "sync.log"
    first = _start_sync(source, target, state, log, project)
    try:
        _wait(
            lambda: _status(target)[0] == "streaming" and _status(target)[2] > 20,
            240,
            "sync did not start streaming",
            log,
        )
        # One writer per final table.
        refused = run_cli(["migrate"], source, target, state, project)
        assert refused.returncode == 2
        assert "migrate refused: sync run" in refused.stderr
        assert "cutover" in refused.stderr and "cleanup" in refused.stderr
        for command in (["dbt", "build"], ["load"]):
            refused = run_cli(command, source, target, state, project)
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert "refused: sync run" in refused.stderr
        shown = run_cli(["status", "--json"], source, target, state, project)
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        assert status["status"] == "streaming" and status["slot_exists"]
        assert status["slot_active"] and status["lag_bytes"] is not None
        # Killed mid-stream, with the application still writing.
        streamed_by = query(
            source, "select active_pid from pg_replication_slots where active"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = _status(target)
    assert [r[0].startswith("pgshift_") for r in _left_on_source(source)] == [
        True,
        True,
    ]
    time.sleep(1)
    # As if it had caught up just before it was killed; the source changed
    # since, and the target holds the sync back for a while.
    query(target, "update pgshift.sync_runs set caught_up_at = now()")
    query(source, "update users set \"lastName\" = 'Held' where id = 1")
    locker = psycopg2.connect(target)
    locker.cursor().execute("lock table users in access exclusive mode")
    second = _start_sync(source, target, state, log, project)
    try:
        try:
            _wait(
                lambda: (
                    query(
                        source,
                        "select active_pid from pg_replication_slots where active",
                    )
                    not in ([], streamed_by)
                ),
                60,
                "sync did not follow its slot again",
                log,
            )
            shown = run_cli(["status", "--json"], source, target, state, project)
            status = json.loads(shown.stdout)
            # Behind, not caught up: the lag counts from the last commit
            # applied (at least the second slept above).
            assert status["lag_seconds"] >= 1.0, status
        finally:
            locker.rollback()
            locker.close()
        _wait(
            lambda: _status(target)[2] > killed_at[2] + 20,
            120,
            "sync did not resume",
            log,
        )
        # Either side's connection drops: the sync follows again by itself.
        query(
            source,
            "select pg_terminate_backend(active_pid) from pg_replication_slots "
            "where active_pid is not null",
        )
        query(
            target,
            "select pg_terminate_backend(pid) from pg_stat_activity where "
            "datname = current_database() and application_name = 'pgshift sync'",
        )
        mark = _status(target)[2]
        _wait(
            lambda: _status(target)[2] > mark + 20,
            60,
            "sync did not follow again after its connections dropped",
            log,
        )
        assert second.poll() is None
        assert "a connection dropped" in log.read_text()
        # Rows with ids of their own past the sequences' positions, and a
        # sentinel at a sequence's bound: cutover sets each sequence past
        # the values short of the bound, as the build does.
        query(
            source,
            'insert into users (id, email, "passwordHash", "firstName") values '
            "(100000, 'own-id@example.com', 'x', 'Own'), "
            "(2147483647, 'sentinel@example.com', 'x', 'Sentinel'); "
            'insert into sessions (id, "userId") values (5000, 1)',
        )
        # An enum label added on the source during the sync, as the next
        # version's migration would: cutover refuses before the downtime,
        # naming it, while the application goes on writing; the same label
        # added on the target, and scaffold run again, let it go on.
        query(source, "alter type bid_status add value 'countered'")
        refused = run_cli(["cutover"], source, target, state, project)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "nothing was changed on the source" in refused.stderr
        assert "pgshift_source_enums.sql: differs" in refused.stderr
        assert '"countered"' in refused.stderr, refused.stderr
        assert not writer.blocked and _can_connect(source, APP_ROLE)
        assert _status(target)[0] == "streaming"
        query(target, "alter type bid_status add value 'countered'")
        scaffolded = run_cli(["scaffold"], source, target, state, project)
        assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
        done = run_cli(["cutover"], source, target, state, project)
        assert done.returncode == 0, done.stdout + done.stderr + log.read_text()[-3000:]
        assert "before the downtime: schema check" in done.stdout

        assert "downtime" in done.stdout and APP_ROLE in done.stdout
        for step in ("stop writes", "drain to the marker", "sequences", "verify"):
            assert step in done.stdout
        assert (
            "(2 past the source's position, past the values their columns hold: "
            "users_id_seq, sessions_id_seq)"
        ) in done.stdout, done.stdout
        # The start named the view's rows as left to cutover, which compared
        # them at B, in both sides' snapshots.
        started = (project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
        assert "view recent_users: rows compared at cutover" in started
        assert "view differs" not in started
        assert "views at B" in done.stdout
        compared = re.search(
            r"view recent_users: source (\d+) rows, target (\d+) rows, "
            "checksum match",
            done.stdout,
        )
        assert compared is not None, done.stdout
        assert compared[1] == compared[2] and int(compared[1]) > 20
        assert "1 views compared at B" in done.stdout
        assert second.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
    writer.stop.set()
    writer.join(30)
    assert writer.error is None, writer.error
    assert writer.blocked  # its session was ended by cutover
    assert writer.transactions > 50
    # The application may no longer connect to the source database; its
    # role, the same on the target's server, still logs in there.
    assert "revoking CONNECT on the source database" in done.stdout
    with pytest.raises(psycopg2.OperationalError, match="permission denied for data"):
        psycopg2.connect(app_url).close()
    assert _can_login(source, APP_ROLE)
    psycopg2.connect(logical.url(target.rsplit("/", 1)[1], user=APP_ROLE)).close()
    figures = _fingerprints(source, target, project)
    assert {n: s for n, (s, _) in figures.items()} == {
        n: t for n, (_, t) in figures.items()
    }
    assert figures["users"][0][0] > 362 // 26
    assert fetch_text_rows(
        source, "public", "jobs", ["id", "notes", "termsAndConditions"]
    ) == fetch_text_rows(
        target, "public", "jobs", ["id", "notes", "terms_and_conditions"]
    )
    assert query(target, "select last_value, is_called from users_id_seq") == [
        (100000, True)
    ]
    assert query(
        target,
        "select last_value from "
        + query(target, "select pg_get_serial_sequence('sessions', 'id')")[0][0],
    ) == [(5000,)]
    # The state table records where the source's stood at cutover, an
    # identity column's too (the report shows them beside the target's).
    for sequence in ("users_id_seq", "sessions_id_seq"):
        assert query(
            target,
            "select last_value, is_called from pgshift.sequences "
            "where sequence_name = %s",
            (sequence,),
        ) == query(source, f"select last_value, is_called from {sequence}")
    assert _left_on_source(source) == []
    assert _status(target)[0] == "done"
    # The target is the application's now: a new start would replace its
    # final tables with a copy of the source, and says so before creating
    # anything.
    again = run_cli(["sync"], source, target, state, project)
    assert again.returncode == 2, again.stdout + again.stderr
    assert (
        "sync refused, nothing was written: the target was cut over from the "
        "source by sync run"
    ) in again.stderr
    assert "users (published" in again.stderr
    assert _left_on_source(source) == []
    # The run is over: migrate may run again, and cleanup has nothing to do.
    again = run_cli(["cleanup"], source, target, state, project)
    assert again.returncode == 0 and "nothing to drop" in again.stdout


def test_an_interrupted_sync_is_drained_by_cutover(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    source, _ = pair()
    role = f"{APP_ROLE}_2"
    acl = (
        "select a.* from pg_database d, aclexplode(coalesce(d.datacl, "
        "acldefault('d', d.datdba))) a where d.datname = current_database() "
        "order by 1, 2, 3"
    )
    acl_before = query(source, acl)
    query(source, f"drop role if exists {role}")
    query(source, f"create role {role} login")
    # A target role that is no superuser (as on a managed service): the
    # target's foreign-key actions act on the applied changes.
    owner = "sync_target_owner"
    query(source, f"drop role if exists {owner}")
    query(source, f"create role {owner} login")
    logical.drop_database("sync_target_owned")
    logical.create_database("sync_target_owned", owner=owner)
    target = logical.url("sync_target_owned", user=owner)
    log, state = tmp_path / "sync.log", tmp_path / "state"
    run = _start_sync(source, target, state, log, in_background=True)
    try:
        _wait_streaming(target, log)
        # Caught up, the slot lets go of WAL that publishes nothing (another
        # database's writes) at once, not at the next status interval.
        slot = (
            "select confirmed_flush_lsn from pg_replication_slots "
            "where slot_name like 'pgshift%%' and database = current_database()"
        )
        before = query(source, slot)[0][0]
        logical.drop_database("sync_other")
        logical.create_database("sync_other")
        query(logical.url("sync_other"), "create table t as select 1 as x")
        _wait(
            lambda: query(source, f"select ({slot}) > %s::pg_lsn", [before])[0][0],
            5,
            "the slot did not move past WAL that publishes nothing",
            log,
        )
        logical.drop_database("sync_other")
        # While the target follows the source, verify compares nothing (the
        # load's snapshot is behind, the source moves) and says what to do.
        following = run_cli(["verify"], source, target, state)
        assert following.returncode == 2, following.stdout + following.stderr
        assert "follows the source (streaming" in following.stderr
        assert "cutover` stops the application's writes" in following.stderr
        run.send_signal(signal.SIGINT)
        assert run.wait(30) == 130, log.read_text()[-3000:]
        said = log.read_text()
        assert "Run sync again to go on from the applied position" in said
        assert "start over" not in said
    finally:
        if run.poll() is None:
            run.kill()
    # Stopped, not ended: the slot keeps the changes for the next sync.
    assert _status(target)[0] == "streaming"
    assert len(_left_on_source(source)) == 2
    query(
        source,
        "insert into service_categories (name, slug) values ('late', 'late'); "
        "insert into service_categories (name, slug) select 'many' || i, "
        "'many' || i from generate_series(1, 50) i; "
        "update users set \"firstName\" = 'Late' where id = 2; "
        "delete from waitlist_entries where id = 3; "
        'insert into users (id, email, "passwordHash", "firstName") values '
        "(9001, 'gone@example.com', 'h', 'G'); "
        "insert into payment_methods (\"userId\", type) values (9001, 'card')",
    )
    # Deleted with its payment method by ON DELETE CASCADE, on both sides.
    query(source, "delete from users where id = 9001")
    shown = run_cli(["status"], source, target, state)
    assert "inactive" in shown.stdout and "run sync to go on" in shown.stdout
    assert (
        ": stopped (the run streams, but no sync process reads its slot)"
        in shown.stdout
    )
    # The stream carries rows, not DDL: a column, an index or a check added
    # on the source since scaffold refuses the cutover before the downtime,
    # each named, with nothing changed; undone, the cutover goes on.
    for change, named, undo in (
        (
            'alter table service_categories add column "lateNote" text',
            "service_categories: new column lateNote since scaffold",
            'alter table service_categories drop column "lateNote"',
        ),
        (
            'create index "usersLastName" on users ("lastName"); alter table '
            "bids add constraint bids_amount_sane check (amount < 10000000)",
            "users: its indexes changed since scaffold",
            'drop index "usersLastName"; alter table bids drop constraint '
            "bids_amount_sane",
        ),
    ):
        query(source, change)
        refused = run_cli(["cutover", "--roles", role], source, target, state)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "cutover refused before the downtime, nothing was changed" in (
            refused.stderr
        )
        assert named in refused.stderr, refused.stderr
        assert "make the same change on the target" in refused.stderr
        assert _can_login(source, role) and _can_connect(source, role)
        assert _status(target)[0] == "streaming"
        query(source, undo)
    assert "bids: its checks changed since scaffold" in refused.stderr
    # A grant made on both sides since scaffold: the models still carry the
    # old privileges, which scaffold settles; the sync need not start again.
    grant = f"grant truncate on service_categories to {role}"
    query(source, grant)
    query(target, grant)
    refused = run_cli(["cutover", "--roles", role], source, target, state)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "the source's privileges changed since scaffold" in refused.stderr
    assert "pgshift_source_privileges.sql" in refused.stderr
    assert "the sync applies rows only and goes on as it is" in refused.stderr
    revoke = f"revoke truncate on service_categories from {role}"
    query(source, revoke)
    query(target, revoke)
    # The models match the source, but the target lost a check (a change the
    # source took during the sync, scaffolded, never made on the target):
    # refused before the downtime, as verify would say it after.
    (check,) = query(
        target,
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conname = 'reviews_rating_check'",
    )[0]
    query(target, "alter table reviews drop constraint reviews_rating_check")
    refused = run_cli(["cutover", "--roles", role], source, target, state)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "the target's schema is not the source's" in refused.stderr
    assert "reviews" in refused.stderr and "rating" in refused.stderr
    assert _can_login(source, role) and _status(target)[0] == "streaming"
    query(target, f"alter table reviews add constraint reviews_rating_check {check}")
    # An index made on the target alone (to speed the apply up) is no change
    # to copy from the source: drop it, or keep it as intended.
    query(target, "create index reviews_rating_only_here on reviews (rating)")
    refused = run_cli(["cutover", "--roles", role], source, target, state)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "reviews_rating_only_here" in refused.stderr
    assert "an object only the target has: drop it there" in refused.stderr
    query(target, "drop index reviews_rating_only_here")
    # No sync process: cutover follows the slot itself up to its marker.
    done = run_cli(["cutover", "--roles", role], source, target, state)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = _fingerprints(source, target)
    assert {n: s for n, (s, _) in figures.items()} == {
        n: t for n, (_, t) in figures.items()
    }
    assert query(target, "select first_name from users where id = 2") == [("Late",)]
    assert _left_on_source(source) == []
    assert _can_login(source, role) and not _can_connect(source, role)
    assert "may not set session_replication_role" in done.stderr
    # Verify after the cutover compares with the source as it stands, not
    # with the load's snapshot the writes since have left behind.
    verified = run_cli(["verify"], source, target, state)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "compared with the source as it stood at" in verified.stdout
    assert "cutover" in verified.stdout
    assert "still may not connect to the source database" in verified.stdout
    report = json.loads((PROJECT_DIR / "MIGRATION_REPORT.json").read_text())
    assert report["passed"] and "WAL position" in report["compared_with"]
    # The source's figures were taken during the verify: it ended after them.
    taken = datetime.fromisoformat(report["snapshot_taken_at"])
    assert datetime.fromisoformat(report["verified_at"]) >= taken.replace(microsecond=0)
    # No false pass: a row changed on the target is named by its key.
    query(target, "update users set first_name = 'Changed' where id = 2")
    changed = run_cli(["verify"], source, target, state)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "id=2: first_name expected 'Late', found 'Changed'" in changed.stdout
    # Nothing to cut over any more.
    again = run_cli(["cutover"], source, target, state)
    assert again.returncode == 2, again.stdout + again.stderr
    assert "was cut over already" in again.stderr
    assert "start one with" not in again.stderr
    # The target is the application's now: a migrate into it says so.
    refused = run_cli(["migrate"], source, target, state)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "the target was cut over from the source by sync run" in refused.stderr
    assert "users (published" in refused.stderr
    # Going back: the statements cutover printed give the source database
    # its previous privileges.
    reopen = done.stdout.split("run on the source: ", 1)[1].split(")", 1)[0]
    assert "GRANT CONNECT" in reopen
    query(source, reopen)
    assert query(source, acl) == acl_before and _can_connect(source, role)
    logical.drop_database("sync_target_owned")


def test_the_decoder_reads_what_the_server_sends(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    source, target = pair()
    slot = "pgshift_decoder_test"
    query(source, "create publication decoder_test for table jobs, service_categories")
    query(source, f"select pg_create_logical_replication_slot('{slot}', 'pgoutput')")
    try:
        query(
            source,
            'insert into jobs (id, "propertyId", "landlordId", title, description) '
            "select 100000, \"propertyId\", \"landlordId\", 't', 'd' from jobs "
            "where id = 1",
        )
        query(
            source,
            'update jobs set "termsAndConditions" = (select string_agg('
            "md5(random()::text), '') from generate_series(1, 400)) where id = 100000",
        )
        query(source, "update jobs set notes = null where id = 100000")
        query(source, "update jobs set id = 100001 where id = 100000")
        query(source, "delete from jobs where id = 100001")
        query(source, "select pg_logical_emit_message(true, 'pgshift', 'mark')")
        query(source, "alter table service_categories add column extra int")
        query(source, "insert into service_categories (name, slug) values ('d', 'd')")
        query(source, "truncate service_categories, jobs cascade")
        rows = query(
            source,
            f"select data from pg_logical_slot_get_binary_changes('{slot}', null, "
            "null, 'proto_version', '1', 'publication_names', 'decoder_test', "
            "'messages', 'true')",
        )
    finally:
        query(source, f"select pg_drop_replication_slot('{slot}')")
        query(source, "drop publication decoder_test")
    decoded = [pgoutput.decode(bytes(row[0])) for row in rows]
    kinds = [type(m).__name__ for m in decoded]
    assert kinds.count("Begin") == kinds.count("Commit") == 8
    relation = next(m for m in decoded if isinstance(m, pgoutput.Relation))
    assert relation.name == "jobs" and relation.namespace == "public"
    assert [c.name for c in relation.columns if c.is_key] == ["id"]
    updates = [m for m in decoded if isinstance(m, pgoutput.Update)]
    terms = [c.name for c in relation.columns].index("termsAndConditions")
    notes = [c.name for c in relation.columns].index("notes")
    # The first update wrote the terms; the second left them unsent.
    assert len(updates[0].new[terms]) == 12800
    assert updates[1].new[terms] is pgoutput.UNCHANGED
    assert updates[1].new[notes] is None and updates[1].old is None
    # A key change carries the old key.
    assert updates[2].old_kind == "K" and updates[2].old[0] == "100000"
    assert updates[2].new[0] == "100001"
    delete = next(m for m in decoded if isinstance(m, pgoutput.Delete))
    assert delete.old_kind == "K" and delete.old[0] == "100001"
    message = next(m for m in decoded if isinstance(m, pgoutput.Message))
    assert message.transactional and message.content == b"mark"
    truncate = next(m for m in decoded if isinstance(m, pgoutput.Truncate))
    assert len(truncate.relation_ids) == 2 and truncate.cascade
    commits = [m for m in decoded if isinstance(m, pgoutput.Commit)]
    assert all(
        a.end_lsn < b.end_lsn for a, b in zip(commits, commits[1:], strict=False)
    )
    assert pgoutput.parse_lsn(pgoutput.format_lsn(commits[0].end_lsn)) == (
        commits[0].end_lsn
    )
    # The table changed after the start: the applier refuses its changes.
    changed = [
        m for m in decoded if isinstance(m, pgoutput.Relation) and m.name != "jobs"
    ][-1]
    settings = make_settings(source, target, state_dir=tmp_path)
    with transaction(settings.target) as cursor:
        state.ensure_table(cursor, settings)
    names = NameMap.read(PROJECT_DIR)
    assert names is not None
    with transaction(settings.source_required) as cursor:
        columns = source_columns(cursor, "public", ["service_categories"])
    columns["service_categories"] = [
        c for c in columns["service_categories"] if c[0] != "extra"
    ]
    applier = Applier(settings, names, "test", columns)
    try:
        with pytest.raises(SchemaChanged, match='column "extra" was added'):
            applier.relation(changed)
    finally:
        applier.close()
    with pytest.raises(pgoutput.DecodeError):
        pgoutput.decode(b"X")
    # Every message cut short is refused, never read as a shorter one.
    for row in rows:
        whole = bytes(row[0])
        for end in range(1, len(whole)):
            with pytest.raises(pgoutput.DecodeError):
                pgoutput.decode(whole[:end])


def test_a_partitioned_table_s_changes_apply_through_its_partitions_messages(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    """PostgreSQL 15 describes the partition as well as its partitioned table
    before an UPDATE or DELETE published through the root: the partition,
    which the map does not name, is passed over, and every change (one
    moving a row to another partition too) reaches the final table."""
    source, target = pair()
    table = (
        '"LogLine" (id bigint, "createdAt" date, msg text, '
        'primary key ("createdAt", id)) partition by range ("createdAt"); '
    )
    query(
        source,
        f"create table {table}"
        'create table "LogLine_2026" partition of "LogLine" '
        "for values from ('2026-01-01') to ('2027-01-01'); "
        'create table "LogLine_2027" partition of "LogLine" '
        "for values from ('2027-01-01') to ('2028-01-01'); "
        """insert into "LogLine" values (1, '2026-06-01', 'a'), """
        "(2, '2027-06-01', 'b')",
    )
    query(
        target,
        "create table log_line (id bigint, created_at date, msg text, "
        "primary key (created_at, id)) partition by range (created_at); "
        "create table log_line_2026 partition of log_line "
        "for values from ('2026-01-01') to ('2027-01-01'); "
        "create table log_line_2027 partition of log_line "
        "for values from ('2027-01-01') to ('2028-01-01'); "
        "insert into log_line values (1, '2026-06-01', 'a'), (2, '2027-06-01', 'b')",
    )
    settings = make_settings(source, target, state_dir=tmp_path)
    create_publication(settings, "partition_test", ["LogLine"])
    slot = "pgshift_partition_test"
    query(source, f"select pg_create_logical_replication_slot('{slot}', 'pgoutput')")
    try:
        query(
            source,
            # Flushed at commit: decoding reads no further than the flush.
            "set synchronous_commit = on; "
            """update "LogLine" set msg = 'c' where id = 1; """
            """insert into "LogLine" values (3, '2026-07-01', 'd'); """
            """update "LogLine" set "createdAt" = '2027-02-01' where id = 3; """
            """delete from "LogLine" where id = 2""",
        )
        rows = query(
            source,
            f"select data from pg_logical_slot_get_binary_changes('{slot}', null, "
            "null, 'proto_version', '1', 'publication_names', 'partition_test')",
        )
    finally:
        query(source, f"select pg_drop_replication_slot('{slot}')")
        query(source, "drop publication partition_test")
    decoded = [pgoutput.decode(bytes(row[0])) for row in rows]
    described = {m.name for m in decoded if isinstance(m, pgoutput.Relation)}
    assert described == {"LogLine", "LogLine_2026", "LogLine_2027"}, described
    names = NameMap(source_name="app", source_schema="public")
    names.tables["LogLine"] = TableMap(
        source_schema="public",
        source="LogLine",
        target="log_line",
        staging_model="stg_app__log_line",
        columns={"id": "id", "createdAt": "created_at", "msg": "msg"},
        partition_key="RANGE (created_at)",
    )
    with transaction(settings.target) as cursor:
        state.ensure_table(cursor, settings)
    with transaction(settings.source_required) as cursor:
        columns = source_columns(cursor, "public", ["LogLine"])
    applier = Applier(settings, names, "test", columns)
    batch = Batch()
    try:
        changes: list[pgoutput.Decoded] = []
        for message in decoded:
            if isinstance(message, pgoutput.Relation):
                applier.relation(message)
            elif isinstance(message, pgoutput.Commit):
                applier.add(batch, changes, message)
                changes = []
            elif not isinstance(message, pgoutput.Begin):
                changes.append(message)
        applier.build(batch)
        applier.commit(batch)
        # A change of the partition itself would still stop the sync.
        partition = next(
            m
            for m in decoded
            if isinstance(m, pgoutput.Relation) and m.name == "LogLine_2026"
        )
        with pytest.raises(SyncError, match="LogLine_2026, which this run does not"):
            applier.add(
                Batch(),
                [pgoutput.Insert(partition.relation_id, ("9", "2026-01-02", "x"))],
                decoded[-1],
            )
    finally:
        applier.close()
    # A table the map holds that this run's options leave out is not written
    # to (its final table is not there): its change stops the sync, saying so.
    excluded = Applier(
        make_settings(source, target, state_dir=tmp_path, exclude=("LogLine",)),
        names,
        "test",
        columns,
    )
    try:
        table = next(
            m
            for m in decoded
            if isinstance(m, pgoutput.Relation) and m.name == "LogLine"
        )
        excluded.relation(table)
        with pytest.raises(SyncError, match="public.LogLine, which this run does not"):
            excluded.add(
                Batch(),
                [pgoutput.Insert(table.relation_id, ("9", "2026-01-02", "x"))],
                decoded[-1],
            )
    finally:
        excluded.close()
    assert query(
        target,
        "select id, created_at::text, msg, tableoid::regclass::text "
        "from log_line order by id",
    ) == [
        (1, "2026-06-01", "c", "log_line_2026"),
        (3, "2027-02-01", "d", "log_line_2027"),
    ]


def test_an_update_leaves_an_always_identity_that_is_not_the_key_alone(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    _, target = pair()
    query(
        target,
        'create table public.tickets (code text primary key, "row_no" bigint '
        "generated always as identity, note text); "
        "insert into public.tickets (code, note) values ('a', 'old')",
    )
    mapped = TableMap(
        source_schema="public",
        source="Tickets",
        target="tickets",
        staging_model="stg_app__tickets",
        columns={"code": "code", "rowNo": "row_no", "note": "note"},
        identities={"row_no": "a"},
    )
    names = NameMap(source_name="app", source_schema="public")
    names.tables["Tickets"] = mapped
    settings = make_settings(target, target, state_dir=tmp_path)
    with transaction(settings.target) as cursor:
        state.ensure_table(cursor, settings)
    applier = Applier(settings, names, "test", {})
    relation = pgoutput.Relation(
        relation_id=1,
        namespace="public",
        name="Tickets",
        replica_identity="d",
        columns=(
            pgoutput.Column("code", 25, -1, True),
            pgoutput.Column("rowNo", 20, -1, False),
            pgoutput.Column("note", 25, -1, False),
        ),
    )
    try:
        applier.relation(relation)

        def apply(new: tuple[str, ...]) -> None:
            statement = applier.statement(pgoutput.Update(1, new))
            assert statement is not None
            with applier.conn.cursor() as cursor:
                cursor.execute(statement[0])

        # PostgreSQL refuses to assign the column; the row holds its value.
        apply(("a", "1", "new"))
        assert query(target, "select row_no, note from tickets") == [(1, "new")]
        # A value the source changed (SET DEFAULT) is never skipped silently.
        with pytest.raises(psycopg2.errors.RaiseException, match="changed 0 rows"):
            apply(("a", "2", "newer"))
    finally:
        applier.close()
    assert query(target, "select row_no, note from tickets") == [(1, "new")]


def _stopped_by(source: str, target: str, tmp_path: Path, *changes: str) -> str:
    """Start a sync (state in ``tmp_path / "state"``), make the changes on
    the source once it streams, and return what it said when they stopped
    it (exit code 2)."""
    log = tmp_path / "sync.log"
    run = _start_sync(source, target, tmp_path / "state", log)
    try:
        _wait_streaming(target, log)
        for change in changes:
            query(source, change)
        assert run.wait(60) == 2, log.read_text()[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
    return log.read_text()


def test_a_changed_table_stops_sync_and_too_much_wal_drops_the_slot(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    source, target = pair()
    state = tmp_path / "state"
    said = _stopped_by(
        source,
        target,
        tmp_path,
        "insert into service_categories (name, slug) values ('a', 'a')",
        "alter table service_categories add column extra int",
        "insert into service_categories (name, slug, extra) values ('b', 'b', 1)",
    )
    assert "source table service_categories changed during the sync" in said
    assert 'column "extra" was added' in said
    # Said once on the terminal, and written to sync's own log file, which
    # whoever started sync in the background reads.
    assert said.count("changed during the sync") == 1, said
    written = (PROJECT_DIR / "logs" / "sync.log").read_text(encoding="utf-8")
    assert (
        "ERROR pgshift.sync.run: sync stopped: source table service_categories "
        "changed during the sync"
    ) in written
    assert "INFO pgshift.sync.run: following slot " in written
    # Everything before the change is applied, nothing from it on.
    assert query(
        target, "select name from service_categories where name in ('a', 'b')"
    ) == [("a",)]
    # The slot stays, so that sync can go on once the target has the column.
    assert len(_left_on_source(source)) == 2
    # Past the hard limit of WAL held back, sync drops the slot and stops.
    limited = run_cli(["sync", "--max-wal-gb", "0.000000001"], source, target, state)
    assert limited.returncode == 2, limited.stdout + limited.stderr
    assert "publication were dropped" in limited.stderr
    assert _left_on_source(source) == []
    assert _status(target)[0] == "failed"


def test_a_table_dropped_and_created_again_on_the_source_stops_sync(
    pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # A migration rolled back and applied again (Django's `migrate app
    # 0086`, then `migrate`) drops a table and creates it anew: the new one
    # is not in the publication, its changes never reach the stream, and the
    # sync, its status and cutover's counts were all that said anything.
    source, target = pair()
    state = tmp_path / "state"
    said = _stopped_by(
        source,
        target,
        tmp_path,
        "create table audit_events_new as select * from audit_events;"
        "drop table audit_events;"
        "alter table audit_events_new rename to audit_events",
    )
    gone = "audit_events left the publication pgshift_"
    # Said by the stream's check, or by the start's own check when the
    # table left before the stream began.
    assert "sync stopped: " + gone in said or "sync refused: " + gone in said
    assert "`python loader/run.py cleanup`, then sync again" in said
    # A restart, status and cutover say so too, and change nothing.
    again = run_cli(["sync"], source, target, state)
    assert again.returncode == 2, again.stdout + again.stderr
    assert "sync refused: " + gone in again.stderr
    status = run_cli(["status"], source, target, state)
    assert gone in status.stdout + status.stderr
    cutover = run_cli(["cutover"], source, target, state)
    assert cutover.returncode == 2, cutover.stdout + cutover.stderr
    assert "cutover refused, nothing was changed: " + gone in cutover.stderr
    assert len(_left_on_source(source)) == 2


def _server_setting(cluster: Cluster, name: str, value: str | None) -> None:
    """Set (None: reset) a server setting and reload the configuration."""
    conn = psycopg2.connect(cluster.url("postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            if value is None:
                cursor.execute(f"alter system reset {name}")
            else:
                cursor.execute(f"alter system set {name} = %s", (value,))
            cursor.execute("select pg_reload_conf()")
    finally:
        conn.close()


def test_a_batch_longer_than_the_sources_wal_sender_timeout_keeps_the_stream(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # A transaction of a million rows takes the target longer than the
    # source's wal_sender_timeout (60 s by default): the stream must not go
    # silent meanwhile, or the source ends it. Here: 3 s, and a batch the
    # target takes 8 s over (a trigger on the final table sleeps).
    source, target = pair()
    log, state = tmp_path / "sync.log", tmp_path / "state"
    _server_setting(logical, "wal_sender_timeout", "3s")
    run = _start_sync(source, target, state, log)
    try:
        _wait_streaming(target, log)
        query(
            target,
            "create function slow_apply() returns trigger language plpgsql as "
            "$$ begin perform pg_sleep(8); return null; end $$; "
            "create trigger slow_apply after insert on service_categories "
            "for each statement execute function slow_apply(); "
            "alter table service_categories enable always trigger slow_apply",
        )
        query(source, "insert into service_categories (name, slug) values ('s', 's')")
        _wait(
            lambda: (
                query(
                    target, "select count(*) from service_categories where slug = 's'"
                )
                == [(1,)]
            ),
            60,
            "the slow batch was not applied",
            log,
        )
        query(source, "insert into service_categories (name, slug) values ('t', 't')")
        _wait(
            lambda: (
                query(
                    target, "select count(*) from service_categories where slug = 't'"
                )
                == [(1,)]
            ),
            60,
            "the batch after the slow one was not applied",
            log,
        )
        assert run.poll() is None, log.read_text()[-3000:]
        said = log.read_text()
        assert "a connection dropped" not in said, said[-3000:]
        assert "Traceback" not in said, said[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
        _server_setting(logical, "wal_sender_timeout", None)
    cleaned = run_cli(["cleanup"], source, target, state)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr


def _stopped_sync(
    logical: Cluster,
    source: str,
    target: str,
    tmp_path: Path,
    role: str | None,
    project: Path = PROJECT_DIR,
) -> None:
    """A sync that copied, built and streamed, then was killed.

    ``role``: the application's login role, made anew first (None: made
    already).
    """
    if role is not None:
        _application_role(source, role)
    log, state_dir = tmp_path / "sync.log", tmp_path / "state"
    run = _start_sync(source, target, state_dir, log, project)
    try:
        _wait_streaming(target, log)
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()
    _wait(
        lambda: query(source, "select count(*) from pg_stat_replication")[0][0] == 0,
        30,
        "the killed sync's walsender did not end",
        log,
    )


def _check_slots(source: str) -> list[tuple]:
    return query(source, "select slot_name from pg_replication_slots where temporary")


def _can_login(source: str, role: str) -> bool:
    return query(source, f"select rolcanlogin from pg_roles where rolname = '{role}'")[
        0
    ][0]


def _can_connect(source: str, role: str) -> bool:
    """Whether the role may connect to the source database."""
    return query(
        source,
        "select has_database_privilege(%s, current_database(), 'CONNECT')",
        [role],
    )[0][0]


def test_cutover_checks_at_b_before_the_downtime_then_the_changes_since(
    logical: Cluster,
    pair: Callable[[], tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pgshift.sync import proof
    from pgshift.sync.apply import SyncError
    from pgshift.sync.cutover import cutover

    source, target = pair()
    role = f"{APP_ROLE}_3"
    _stopped_sync(logical, source, target, tmp_path, role)
    settings = make_settings(source, target, state_dir=tmp_path / "state")
    db = source.rsplit("/", 1)[1]

    # Grants made on the source during the sync (the stream carries rows,
    # not grants): refused before the downtime, each named with the
    # statement that gives it on the target, and nothing changed.
    late = "sync_late_app"
    query(
        source,
        f"create role {late} login; grant select, insert, update, delete on all "
        f"tables in schema public to {late}; grant truncate on notifications to "
        f"{role}",
    )
    with pytest.raises(SyncError, match="privileges no longer match") as caught:
        cutover(settings, [role], say=lambda _: None)
    said = str(caught.value)
    assert "nothing was changed on the source" in said
    assert f"bids: role {late} may INSERT on the source, not on the target" in said
    # A grant per table and privilege: past twenty they wait in a file.
    written = re.search(r"the (\d+) statements written to (\S+) \(psql -f", said)
    assert written, said
    statements = Path(written[2]).read_text().splitlines()
    assert len(statements) == int(written[1]) > 20
    assert f'GRANT INSERT ON TABLE "public"."users" TO "{late}";' in statements
    assert f'GRANT TRUNCATE ON TABLE "public"."notifications" TO "{role}";' in (
        statements
    )
    assert _can_login(source, role) and _status(target)[0] == "streaming"
    assert _check_slots(source) == []
    assert query(
        target, f"select has_table_privilege('{late}', 'users', 'insert')"
    ) == [(False,)]
    # The statements it gives, run on the target, close the difference.
    query(target, "\n".join(statements))

    # Source and target share this server, so the application is kept off
    # the source database by CONNECT: a role that would keep it (through a
    # role granted CONNECT, or as a superuser) is refused before the
    # downtime, each named, and nothing changed.
    group, superuser = "sync_connect_group", "sync_app_superuser"
    query(
        source,
        f"create role {group}; grant connect on database {db} to {group}; "
        f"grant {group} to {role}; create role {superuser} login superuser",
    )
    acl = "select datacl::text from pg_database where datname = current_database()"
    acl_before = query(source, acl)
    with pytest.raises(SyncError, match="would still connect") as caught:
        cutover(settings, [role, superuser], say=lambda _: None)
    assert f"{role} holds CONNECT through {group} (granted by" in str(caught.value)
    assert f"{superuser} is a superuser" in str(caught.value)
    assert "nothing was changed on the source" in str(caught.value)
    assert query(source, acl) == acl_before and _can_connect(source, role)
    assert _status(target)[0] == "streaming"
    query(
        source,
        f"revoke connect on database {db} from {group}; drop role {group}; "
        f"drop role {superuser}",
    )

    # No free replication slot for the check: refused, nothing changed.
    free = query(
        source,
        "select current_setting('max_replication_slots')::int - "
        "(select count(*) from pg_replication_slots)",
    )[0][0]
    fillers = [f"filler_{i}" for i in range(free)]
    for name in fillers:
        query(source, f"select pg_create_physical_replication_slot('{name}')")
    try:
        with pytest.raises(SyncError, match="no free replication slot"):
            cutover(settings, [role], say=lambda _: None)
    finally:
        for name in fillers:
            query(source, f"select pg_drop_replication_slot('{name}')")
    assert _can_login(source, role) and _status(target)[0] == "streaming"

    # Something streams from the slot but does not answer the hold: the
    # cutover gives up after the timeout, lets go, and says why.
    monkeypatch.setattr(proof, "HOLD_TIMEOUT", 2.0)
    stranger = psycopg2.connect(
        source, connection_factory=psycopg2.extras.LogicalReplicationConnection
    )
    try:
        slot = query(
            target, "select slot_name, publication_name from pgshift.sync_runs"
        )[0]
        stranger.cursor().start_replication(
            slot_name=slot[0],
            options={"proto_version": "1", "publication_names": slot[1]},
        )
        with pytest.raises(SyncError, match="did not stop between two transactions"):
            cutover(settings, [role], say=lambda _: None)
    finally:
        stranger.close()
    assert query(target, "select hold_lsn from pgshift.sync_runs") == [(None,)]
    assert _check_slots(source) == [] and _can_login(source, role)
    monkeypatch.undo()
    _wait(
        lambda: query(source, "select count(*) from pg_stat_replication")[0][0] == 0,
        10,
        "the stranger's walsender did not end",
        tmp_path / "sync.log",
    )

    # The sync reading the source as a role cutover would block (one role
    # for everything, as Zabbix installs): refused before anything changes.
    query(source, f"alter role {role} replication")
    user = source.split("//", 1)[1].split("@", 1)[0]
    as_role = source.replace(f"//{user}@", f"//{role}@", 1)
    reader = psycopg2.connect(
        as_role, connection_factory=psycopg2.extras.LogicalReplicationConnection
    )
    try:
        reader.cursor().start_replication(
            slot_name=slot[0],
            options={"proto_version": "1", "publication_names": slot[1]},
        )
        _wait(
            lambda: query(
                source,
                "select active from pg_replication_slots where slot_name = %s",
                [slot[0]],
            )[0][0],
            10,
            "the role's walsender did not take the slot",
            tmp_path / "sync.log",
        )
        with pytest.raises(
            SyncError, match=f"the running sync reads the source as {role}"
        ):
            cutover(settings, [role], say=lambda _: None)
    finally:
        reader.close()
        query(source, f"alter role {role} noreplication")
    assert _can_login(source, role) and _can_connect(source, role)
    _wait(
        lambda: query(source, "select count(*) from pg_stat_replication")[0][0] == 0,
        10,
        "the role's walsender did not end",
        tmp_path / "sync.log",
    )

    # A column added on the source since scaffold, with no check of the
    # schema handed in: the name map does not know it, and the check at B
    # names it, with nothing changed.
    query(source, 'alter table service_categories add column "lateNote" text')
    with pytest.raises(SyncError, match="name map does not know") as caught:
        cutover(settings, [role], say=lambda _: None)
    assert "service_categories has column lateNote" in str(caught.value)
    assert "final table public.service_categories" in str(caught.value)
    assert _check_slots(source) == [] and _can_login(source, role)
    assert query(target, "select hold_lsn from pgshift.sync_runs") == [(None,)]
    assert _status(target)[0] == "streaming"
    query(source, 'alter table service_categories drop column "lateNote"')

    # A target row changed before B: caught before the downtime.
    query(target, "update users set first_name = 'Drifted' where id = 4")
    with pytest.raises(SyncError, match=r"(?s)before the downtime.*users") as caught:
        cutover(settings, [role], say=lambda _: None)
    assert "nothing was changed on the source" in str(caught.value)
    assert _check_slots(source) == [] and _can_login(source, role)
    assert _status(target)[0] == "streaming"
    original = query(source, 'select "firstName" from users where id = 4')[0][0]
    query(target, "update users set first_name = %s where id = 4", (original,))

    # Between the check and the downtime the application writes, and
    # truncates a table: the check's open snapshots block nothing, and the
    # truncated table is checked whole.
    truncated: list[float] = []

    def application(line: str) -> None:
        if "matched at" not in line:
            return
        started = time.monotonic()
        conn = psycopg2.connect(logical.url(db, user=role))
        try:
            with conn, conn.cursor() as cur:
                cur.execute("set lock_timeout = '5s'")
                cur.execute("truncate notifications")
                cur.execute("update users set \"lastName\" = 'After B' where id < 6")
                cur.execute(
                    "insert into service_categories (name, slug) values ('b', 'b')"
                )
        finally:
            conn.close()
        truncated.append(time.monotonic() - started)

    done = cutover(settings, [role], say=application)
    assert truncated and truncated[0] < 5
    assert done.passed and done.whole == {"notifications": "a TRUNCATE since B"}
    assert [name for name, _ in done.before] == ["hold the sync at B", "checksums at B"]
    assert "verify changes since B" in [name for name, _ in done.steps]
    figures = _fingerprints(source, target)
    assert {n: s for n, (s, _) in figures.items()} == {
        n: t for n, (_, t) in figures.items()
    }
    assert figures["notifications"][1][0] == 0
    assert figures["users"][1][0] > 0
    assert _left_on_source(source) == []
    assert _can_login(source, role) and not _can_connect(source, role)
    assert query(
        target, f"select has_table_privilege('{late}', 'users', 'insert')"
    ) == [(True,)]
    query(target, f"drop owned by {late}")
    query(source, f"drop owned by {late}; drop role {late}")


@pytest.mark.parametrize(
    ("drift", "table"),
    [
        ("update users set first_name = 'Behind' where id = 8 returning 1", "users"),
        (
            "delete from notifications where id = "
            "(select max(id) from notifications) returning 1",
            "notifications",
        ),
    ],
)
def test_a_target_row_changed_after_b_is_caught_in_the_downtime(
    logical: Cluster,
    pair: Callable[[], tuple[str, str]],
    tmp_path: Path,
    drift: str,
    table: str,
) -> None:
    from pgshift.sync.apply import SyncError
    from pgshift.sync.cutover import cutover

    source, target = pair()
    role = f"{APP_ROLE}_4"
    _stopped_sync(logical, source, target, tmp_path, role)
    settings = make_settings(source, target, state_dir=tmp_path / "state")

    def behind_the_sync(line: str) -> None:
        if "matched at" not in line:
            return
        # The source changes rows of both tables after B; the target loses
        # or changes a row whose key the source left alone.
        query(
            source,
            "update users set \"lastName\" = 'Source' where id = 3; "
            "delete from notifications where id = 2",
        )
        assert query(target, drift) == [(1,)]

    # A session of pgshift's own role, which cutover does not block, stays
    # on the source through the downtime: the failure names it as a cause.
    idle = psycopg2.connect(source, application_name="the application's worker")
    try:
        with idle.cursor() as cursor:
            cursor.execute("select current_user")
            (own,) = cursor.fetchone()
        idle.commit()
        with pytest.raises(
            SyncError, match=rf"(?s)does not match the source:.*{table}"
        ) as caught:
            cutover(settings, [role], say=behind_the_sync)
    finally:
        idle.close()
    assert (
        "Sessions of roles cutover did not block were connected to the source "
        f"database during the downtime ({own}:"
    ) in str(caught.value)
    assert "the sync goes on" not in str(caught.value)
    assert _check_slots(source) == []
    assert _status(target)[0] == "cutover"
    assert _can_login(source, role) and not _can_connect(source, role)
    assert "stay without CONNECT on the source database" in str(caught.value)
    assert 'GRANT CONNECT ON DATABASE "sync_source_0" TO PUBLIC;' in str(caught.value)
    if table == "users":
        # Mended, the cutover that was cut off is finished by running it
        # again, which says so: its downtime is only its own part.
        (first,) = query(source, 'select "firstName" from users where id = 8')[0]
        query(target, "update users set first_name = %s where id = 8", (first,))
        said: list[str] = []
        done = cutover(settings, [role], say=said.append)
        assert done.passed and done.resumed
        assert any(
            line.startswith("finishing the cutover of sync run ")
            and "cut off after it stopped the writes on the source" in line
            for line in said
        ), said
        assert _status(target)[0] == "done"
    run_cli(["cleanup"], source, target, tmp_path / "state")


PERCENT_SOURCE = """
create table "rateCard" (
    "id%" bigint generated by default as identity primary key,
    "pct%Done" numeric,
    "%(xmax)s" text,
    "it's %s" text
);
create table "cardLine" (
    id serial primary key,
    "card%Id" bigint references "rateCard" on update cascade,
    note text
);
insert into "rateCard" ("pct%Done", "%(xmax)s", "it's %s")
select g / 3.0, 'v' || g, 'w%' || g from generate_series(1, 40) g;
insert into "cardLine" ("card%Id", note) select g, 'n' || g from generate_series(1, 40) g;
"""

REFERENCE_SCHEMA = """
create schema ref;
create table ref.currency (code text primary key);
insert into ref.currency values ('EUR'), ('USD');
"""
"""A schema of the source the migration leaves out, copied to the target by
the team, into which a migrated table has a foreign key."""


def test_columns_named_with_percent_signs_sync_and_cut_over(
    logical: Cluster, pg_cluster: Cluster, tmp_path: Path
) -> None:
    """Names holding ``%`` (a placeholder to the client library) go through
    the stream, the set-based apply and the cutover's checks unharmed.

    The target is on another server, as in most migrations: cutover makes
    the application's role NOLOGIN on the source's.
    """
    from pgshift.sync.apply import SyncError
    from pgshift.sync.cutover import cutover

    source = logical.create_database("sync_percent_source")
    mirrored: list[str] = []
    pg_cluster.drop_database("sync_percent_target")
    target = pg_cluster.create_database("sync_percent_target")
    role = f"{APP_ROLE}_percent"
    try:
        query(source, PERCENT_SOURCE.replace("%", "%%") + REFERENCE_SCHEMA)
        query(
            source,
            'alter table "cardLine" add "currencyCode" text references ref.currency; '
            'update "cardLine" set "currencyCode" = \'EUR\' where id %% 2 = 0',
        )
        query(target, REFERENCE_SCHEMA)
        _application_role(source, role)
        # The application's roles exist on the target's server too (roles
        # belong to a server: the team creates them there first).
        mirrored = [name for (name,) in query(source, _APPLICATION_ROLES)]
        for name in mirrored:
            _application_role(target, name)
        project = copy_project(tmp_path / "project")
        state, log = tmp_path / "state", tmp_path / "sync.log"
        done = run_cli(["scaffold"], source, target, state, project)
        assert done.returncode == 0, done.stdout + done.stderr
        run = _start_sync(source, target, state, log, project)
        try:
            _wait_streaming(target, log)
            writes = [
                'insert into "rateCard" ("pct%Done", "%(xmax)s", "it\'s %s") '
                "select g, '%s' || g, '%(x)s' from generate_series(1, 30) g",
                'update "rateCard" set "%(xmax)s" = \'50%\' where "id%" % 3 = 0',
                'update "rateCard" set "id%" = "id%" + 1000 where "id%" between 5 and 9',
                'delete from "cardLine" where "card%Id" % 4 = 0',
                'delete from "rateCard" where "id%" in (4, 8, 12)',
            ]
            # Before the cutover's check at B, then between B and the
            # downtime (the keys changed since B are checked by name).
            for statement in writes[:2]:
                query(source, statement.replace("%", "%%"))

            def application(line: str) -> None:
                if "matched at" in line:
                    for statement in writes[2:]:
                        query(source, statement.replace("%", "%%"))

            settings = make_settings(
                source, target, state_dir=state, project_dir=project
            )
            # A currency the source gained since the team copied ref: the
            # sync, which does not follow ref, brings the line using it.
            query(
                source,
                "insert into ref.currency values ('GBP'); "
                'insert into "cardLine" ("currencyCode") values (\'GBP\')',
            )
            gbp = "select count(*) from card_line where currency_code = 'GBP'"
            _wait(lambda: query(target, gbp) == [(1,)], 60, "GBP not applied", log)
            with pytest.raises(SyncError) as caught:
                cutover(settings, [role], say=lambda _line: None)
            assert (
                "cutover refused before the downtime, nothing was changed on the "
                "source:\n  foreign key card_line_currency_code_fkey of card_line: 1 "
                "row references rows of ref.currency the target does not have "
                "(the first: (currency_code) = (GBP))"
            ) in str(caught.value)
            assert _can_login(source, role)
            query(target, "insert into ref.currency values ('GBP')")
            done = cutover(settings, [role], say=application)
            assert done.passed and done.whole == {}
            assert done.blocked_database is None and done.blocked_roles == [role]
            assert not _can_login(source, role)
            assert run.wait(30) == 0, log.read_text()[-3000:]
        finally:
            if run.poll() is None:
                run.kill()
        figures = _fingerprints(source, target, project)
        assert {n: s for n, (s, _) in figures.items()} == {
            n: t for n, (_, t) in figures.items()
        }
        assert figures["rateCard"][0][0] == 68
        assert _left_on_source(source) == []
        # The identity column's sequence moved on with the rows the sync
        # applied, and past the keys moved beyond it (1005-1009): the next
        # insert gets no value a row holds, where the source's would give
        # 71 and collide at 1005.
        ours = query(target, "insert into rate_card default values returning *")
        theirs = query(source, 'insert into "rateCard" default values returning *')
        assert (ours[0][0], theirs[0][0]) == (1010, 71)
    finally:
        query(source, f"drop role if exists {role}")
        logical.drop_database(source.rsplit("/", 1)[1])
        pg_cluster.drop_database(target.rsplit("/", 1)[1])
        for name in mirrored:
            query(pg_cluster.url("postgres"), f"drop role if exists {name}")


def test_status_names_the_position_its_lag_counts_from() -> None:
    # The slot confirms WAL that publishes nothing (another database's
    # writes on the server) beyond the last change applied: no lag, and
    # the two positions apart say why.
    from pgshift.sync import Status

    lines = Status(
        "r1",
        "streaming",
        slot="pgshift_r1",
        slot_exists=True,
        slot_active=True,
        source_lsn="0/135217D0",
        applied_lsn="0/12E36CE0",
        passed_lsn="0/135217D0",
        lag_bytes=0,
        lag_seconds=0.0,
    ).lines()
    assert (
        "source at 0/135217D0, applied 0/12E36CE0, passed 0/135217D0: lag 0.0 MiB"
    ) in "\n".join(lines)
    # Behind with nothing applied yet (a sync killed while it started): how
    # long behind is not known, rather than 0.0 s.
    lines = Status(
        "r1",
        "streaming",
        slot="pgshift_r1",
        slot_exists=True,
        source_lsn="0/B1F0668",
        applied_lsn="0/B01F398",
        lag_bytes=1_900_000,
        lag_seconds=None,
    ).lines()
    assert "lag 1.8 MiB, time not known yet; 0 rows applied" in "\n".join(lines)


def test_status_warns_of_a_slot_in_words_that_fit_the_runs_phase() -> None:
    from pgshift.sync import slot_warning

    gib = 2**30
    assert slot_warning(0, gib, streamed=True, run_status="streaming") is None
    # Stopped while following: run sync again.
    assert slot_warning(0, gib, streamed=False, run_status="streaming") == (
        "no sync process streams from the slot: run sync to go on"
    )
    # Still copying or building: nothing streams yet, which is no sign of a
    # stopped sync (a second one would be started on that advice).
    building = slot_warning(0, gib, streamed=False, run_status="building")
    assert building is not None
    assert building.startswith("nothing streams from the slot yet: the run is building")
    # Both at once, as two clauses.
    both = slot_warning(2 * gib, gib, streamed=False, run_status="streaming")
    assert both == (
        "the slot holds back 2.0 GiB of WAL on the source; a sync that stays "
        "stopped fills its disk (`python loader/run.py cleanup` drops the slot); "
        "no sync process streams from the slot: run sync to go on"
    )
    assert slot_warning(0, gib, streamed=False, run_status=None) is None
    # A cutover cut off (in its downtime, or before it): sync would refuse,
    # cutover finishes it.
    for phase in ("cutover", "stopping"):
        assert slot_warning(0, gib, streamed=False, run_status=phase) == (
            f"no process streams from the slot of a run in {phase}: if no cutover "
            "is running, it was cut off; run `python loader/run.py cutover` again "
            "to finish it, or `python loader/run.py cleanup`"
        )


@pytest.mark.parametrize("command", ["status", "cutover", "cleanup"])
def test_a_url_that_does_not_connect_is_a_message_not_a_traceback(
    pair: Callable[[], tuple[str, str]], tmp_path: Path, command: str
) -> None:
    from pgshift.demo.cluster import free_port

    source, target = pair()
    nowhere = f"postgresql://u:secret-pw@127.0.0.1:{free_port()}/app"
    for side, urls in (("source", (nowhere, target)), ("target", (source, nowhere))):
        done = run_cli([command], *urls, tmp_path)
        said = done.stdout + done.stderr
        assert done.returncode == 2, said
        assert f"cannot connect to the {side}" in said, said
        assert "Traceback" not in said and "secret-pw" not in said


MATVIEW_SOURCE = """
create table "stockItem" (
    id bigint generated by default as identity primary key,
    "catId" int not null
);
insert into "stockItem" ("catId") select g % 3 from generate_series(1, 10) g;
create materialized view "itemCounts" as
    select "catId", count(*) as "itemCount" from "stockItem" group by "catId";
create materialized view "catTotals" as
    select count(*) as cats, sum("itemCount") as items from "itemCounts";
create materialized view "laterCounts" as
    select "catId", count(*) as n from "stockItem" group by "catId" with no data;
"""
"""A table and materialized views over it: one over another, one never
populated (WITH NO DATA)."""

MATVIEW_COUNTS = 'select "catId", count(*) from "stockItem" group by 1 order by 1'
"""What the definition of ``itemCounts`` gives on the source."""


def _matview_sync(
    source: str, target: str, role: str, tmp_path: Path
) -> tuple[Path, Path, subprocess.Popen]:
    """MATVIEW_SOURCE scaffolded and synced, then written to: (project, state,
    the running sync)."""
    query(source, MATVIEW_SOURCE.replace("%", "%%"))
    _application_role(source, role)
    project = copy_project(tmp_path / "project")
    state, log = tmp_path / "state", tmp_path / "sync.log"
    done = run_cli(["scaffold"], source, target, state, project)
    assert done.returncode == 0, done.stdout + done.stderr
    run = _start_sync(source, target, state, log, project)
    try:
        _wait_streaming(target, log)
        # The application writes to the materialized views' table during
        # the sync: a new category, a row moved, a row deleted.
        query(
            source,
            'insert into "stockItem" ("catId") values (7); '
            'update "stockItem" set "catId" = 7 where id = 1; '
            'delete from "stockItem" where id = 2',
        )
    except BaseException:
        run.kill()
        raise
    return project, state, run


def _matviews_hold_their_definitions(source: str, target: str) -> None:
    """The target's materialized views hold what their definitions give over
    the source's rows; the source's still hold their last REFRESH's."""
    assert query(target, "select * from item_counts order by 1") == query(
        source, MATVIEW_COUNTS
    )
    assert query(target, "select * from cat_totals") == query(
        source, f"select count(*), sum(count) from ({MATVIEW_COUNTS}) as t"
    )
    assert query(source, 'select count(*) from "itemCounts"') == [(3,)]
    assert query(
        target, "select relispopulated from pg_class where relname = 'later_counts'"
    ) == [(False,)]


def test_cutover_refreshes_the_targets_materialized_views_at_b(
    logical: Cluster, tmp_path: Path
) -> None:
    """The stream applies rows to the final tables, not to the materialized
    views over them: cutover refreshes the target's at B, in dependency
    order, so that they hold their definition over the rows at B and the
    views' comparison passes, where the source's stay as its last REFRESH
    left them."""
    source = logical.create_database("sync_matview_source")
    target = logical.create_database("sync_matview_target")
    role = f"{APP_ROLE}_matview"
    try:
        project, state, run = _matview_sync(source, target, role, tmp_path)
        try:
            done = run_cli(["cutover", "--roles", role], source, target, state, project)
            assert done.returncode == 0, done.stdout + done.stderr
            assert run.wait(30) == 0
        finally:
            if run.poll() is None:
                run.kill()
        assert re.search(
            r"before the downtime: refresh 2 materialized views +\d+\.\d\d s",
            done.stdout,
        ), done.stdout
        assert "refreshed 2 materialized views there (" in done.stdout, done.stdout
        assert "2 materialized views refreshed at B" in done.stdout, done.stdout
        assert "the target's were computed by cutover's REFRESH at B" in done.stdout
        assert "computed at migration" not in done.stdout, done.stdout
        assert query(target, "select count(*) from item_counts") == [(4,)]
        _matviews_hold_their_definitions(source, target)
        assert _left_on_source(source) == []
    finally:
        query(source, f"drop role if exists {role}")
        logical.drop_database(source.rsplit("/", 1)[1])
        logical.drop_database(target.rsplit("/", 1)[1])


def test_a_resumed_cutover_refreshes_the_materialized_views_in_its_downtime(
    logical: Cluster, tmp_path: Path
) -> None:
    """A cutover cut off in its downtime, after the application wrote past B,
    is finished by one with no check at B: it refreshes the target's
    materialized views before it compares the views."""
    from pgshift.sync.cutover import cutover

    source = logical.create_database("sync_matview_resumed_source")
    target = logical.create_database("sync_matview_resumed_target")
    role = f"{APP_ROLE}_matview_resumed"
    try:
        project, state, run = _matview_sync(source, target, role, tmp_path)
        settings = make_settings(source, target, state_dir=state, project_dir=project)

        def past_b(line: str) -> None:
            if "matched at" not in line:
                return
            # The application writes after B; the target drifts, which
            # stops the cutover in its downtime.
            query(source, 'insert into "stockItem" ("catId") values (8)')
            query(target, "update stock_item set cat_id = 5 where id = 3")

        try:
            with pytest.raises(SyncError, match="does not match the source"):
                cutover(settings, [role], say=past_b)
            assert run.wait(30) == 0
        finally:
            if run.poll() is None:
                run.kill()
        (cat,) = query(source, 'select "catId" from "stockItem" where id = 3')[0]
        query(target, "update stock_item set cat_id = %s where id = 3", (cat,))
        done = run_cli(["cutover", "--roles", role], source, target, state, project)
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"\n  refresh 2 materialized views +\d+\.\d\d s", done.stdout)
        assert "2 materialized views refreshed in the downtime" in done.stdout
        assert "computed by cutover's REFRESH in the downtime" in done.stdout
        assert query(target, "select count(*) from item_counts") == [(5,)]
        _matviews_hold_their_definitions(source, target)
    finally:
        query(source, f"drop role if exists {role}")
        logical.drop_database(source.rsplit("/", 1)[1])
        logical.drop_database(target.rsplit("/", 1)[1])
