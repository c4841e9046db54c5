"""Cutover: stop the application's writes on the source, drain, prove, finish.

0. Before the downtime, while the application still writes: the running
   sync is held at a fresh source position B, the target's materialized
   views are refreshed there (the stream applies rows to the tables only),
   both sides are counted and checksummed there, and the sync goes on
   (``sync.proof``). A difference
   stops cutover here, with nothing changed on the source.
1. Block writes: every login role of the application (``--roles``, or
   each non-superuser login role other than pgshift's own that may
   INSERT, UPDATE, DELETE or TRUNCATE a migrated table) becomes NOLOGIN,
   and its sessions on the source server are terminated; the roles are
   recorded on the target first, so that they can be given back.
   NOLOGIN holds for every new session whatever the client sets, where
   ``default_transaction_read_only`` is a default a session may change.
   Where source and target are databases of one server (``same_server``),
   a role is the same role on both, and NOLOGIN would shut the application
   out of the target too: there CONNECT on the source database is revoked
   from PUBLIC and from the roles instead (pgshift's own role granted it
   first), only their sessions on that database are ended, and the
   database's previous ACL is recorded on the target
   (``state.SyncRun.database_block``), from which cutover gives the
   statements that restore it (``DatabaseBlock.statements``). A role that would
   still connect (a superuser, a member of a role granted CONNECT) is
   refused before the downtime.
2. Marker: a transactional ``pg_logical_emit_message`` on the source; its
   LSN is the last position to apply. The running sync applies it (or, with
   no sync process running, cutover follows the slot itself until then).
3. Sequences: each mapped sequence is set to the source's final position,
   or past the values its columns hold where those lie beyond it.
4. Verify: from B, the rows whose keys changed since B (read from the
   check's temporary slot), compared on both sides, and one scan of each
   target table that proves nothing else changed there; a table whose
   changes cannot be keyed is counted and checksummed whole
   (``sync.proof``). The views' rows were compared at B; without the check
   before the downtime, the materialized views are refreshed and the views
   compared here, after the tables. Each
   foreign key from a final table to a table the sync does not follow
   (another schema's, copied to the target some other way) is checked:
   the sync applies changes with the target's triggers, foreign keys'
   included, off, so a row referencing one the application added there
   since that copy would otherwise arrive without its parent
   (``_outside_key_orphans``); before the downtime too, where a broken key
   refuses the cutover with nothing changed.
5. The target takes its first write (the run marked done): downtime ends.
6. The slot and the publication are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2 import sql
from psycopg2.extras import Json

from pgshift import manifest
from pgshift.catalog import read_catalog, sequence_end_sql
from pgshift.checksum import checksum_sql
from pgshift.connection import connect, transaction
from pgshift.mapping import NEW_TABLE, NameMap
from pgshift.privileges import PRIVILEGES_MACRO
from pgshift.progress import listed, spilled
from pgshift.settings import Settings
from pgshift.sqlident import quote_ident
from pgshift.sync import pgoutput, proof, source, state
from pgshift.sync.apply import SyncError
from pgshift.sync.stream import MARKER_PREFIX, follow

PRIVILEGE_DRIFT_FILE = "logs/privilege-drift.sql"
"""Where cutover writes the statements that give the target the source's
privileges, when there are too many to list in its refusal."""

DRAIN_TIMEOUT = 300.0
"""Seconds cutover waits for a running sync to apply the marker."""


@dataclass
class Cutover:
    """What cutover did.

    Attributes:
        steps: (step, seconds) in order.
        downtime: Seconds from writes stopped to the target's first write.
        blocked_roles: The source roles blocked: made NOLOGIN, or without
            CONNECT on the source database where ``blocked_database`` says.
        differences: Tables whose count or checksum differ, and views
            whose rows do (empty: proven).
        views: One line per view, its rows compared on both sides (at B
            before the downtime, or during it without that check).
        refreshed: The target's materialized views refreshed before the
            views were compared (at B, or in the downtime without the
            check before it).
        before: (step, seconds) of the check before the downtime.
        whole: Tables checked whole in the downtime, and why.
        sequences: Sequences set on the target.
        past_rows: The source names of those set past the source's position,
            past the values their columns hold (``position_past_rows``).
        still_connected: Roles not blocked with sessions on the source
            database at the time (superusers, pgshift's own role): whatever
            they wrote after the marker is not on the target.
        blocked_database: The source database whose CONNECT was revoked
            (source and target on one server), or None: NOLOGIN.
        reopen: The statements that give the source database its previous
            ACL back (with ``blocked_database``).
        schema_check: Seconds the check that the source's schema still
            matches the models took, before the downtime (None: not run).
        resumed: This cutover finishes one that was cut off after it had
            begun to stop the writes: they have been stopped since, so
            ``downtime`` is this run's part of it only.
    """

    steps: list[tuple[str, float]] = field(default_factory=list)
    downtime: float = 0.0
    blocked_roles: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    sequences: int = 0
    past_rows: list[str] = field(default_factory=list)
    still_connected: list[str] = field(default_factory=list)
    before: list[tuple[str, float]] = field(default_factory=list)
    whole: dict[str, str] = field(default_factory=dict)
    views: list[str] = field(default_factory=list)
    refreshed: int = 0
    blocked_database: str | None = None
    reopen: list[str] = field(default_factory=list)
    schema_check: float | None = None
    resumed: bool = False

    @property
    def passed(self) -> bool:
        """Whether every table matched."""
        return not self.differences


def _writes_stopped(cursor: Any, run: state.SyncRun) -> bool:
    """Whether an earlier cutover of the run stopped the writes, which still are.

    The run records its roles as "cutover" just before they are blocked (a
    cutover refused there changed nothing): what the source says of them
    tells the two apart.
    """
    if run.status not in ("cutover", "stopping") or not run.blocked_roles:
        return False
    cursor.execute(
        "select bool_and(not r.rolcanlogin or not has_database_privilege("
        "r.oid, current_database(), 'CONNECT')) from pg_roles r "
        "where r.rolname = any(%s)",
        (list(run.blocked_roles),),
    )
    return bool(cursor.fetchone()[0])


def application_roles(cursor: Any, schema: str, tables: list[str]) -> list[str]:
    """Login roles that may write a migrated table: the application's."""
    cursor.execute(
        "select r.rolname from pg_roles r where r.rolcanlogin and not r.rolsuper "
        "and r.rolname <> current_user and exists ("
        " select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname = any(%s)"
        " and has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))"
        " order by 1",
        (schema, tables),
    )
    return [r[0] for r in cursor.fetchall()]


def cutover(
    settings: Settings,
    roles: list[str] | None = None,
    say: Callable[[str], None] = print,
    check_schema: Callable[[Settings], list[str]] | None = None,
) -> Cutover:
    """Finish the target's sync run (see the module's docstring).

    ``check_schema`` lists where the source's schema no longer matches the
    project's models (``scaffold.schema_drift``, which the command line
    hands in: sync does not import the scaffold); any line refuses the
    cutover before the downtime.

    Raises:
        SyncError: No run to cut over, or a step failed (the message says
            what holds: the roles stay blocked until given back).
    """
    names = NameMap.read(settings.project_dir)
    with transaction(settings.target) as cursor:
        run = state.latest(cursor, settings)
    if run is not None and run.status == "done":
        raise SyncError(
            f"cutover refused: sync run {run.run_id} was cut over already; "
            "the target is the application's database now (`python "
            "loader/run.py status` shows the run)"
        )
    if (
        run is None
        or run.status not in ("streaming", "cutover", "stopping")
        or names is None
    ):
        raise SyncError(
            "cutover refused: no sync is following the source for this target "
            f"({'none recorded' if run is None else 'run ' + run.run_id + ' is ' + run.status}); "
            "start one with `python loader/run.py sync`"
        )
    unfollowed = state.unfollowed_tables(settings, names, run)
    if unfollowed:
        raise SyncError(
            "cutover refused, nothing was changed: "
            + state.unfollowed_refusal(run, unfollowed)
        )
    done = Cutover()
    tables = [t for t in names.tables if settings.selects(t)]
    src = connect(
        settings.source_required, autocommit=True, application_name="pgshift cutover"
    )
    baseline: proof.Baseline | None = None
    try:
        cursor = src.cursor()
        gone = source.unpublished_tables(cursor, settings.source_schema, run)
        if gone:
            raise SyncError(
                "cutover refused, nothing was changed: "
                + source.unpublished_refusal(run, gone)
            )
        done.resumed = _writes_stopped(cursor, run)
        if done.resumed:
            say(
                f"finishing the cutover of sync run {run.run_id}, which was cut "
                "off after it stopped the writes on the source: they stay stopped"
            )
        if roles is None:
            roles = application_roles(cursor, settings.source_schema, tables)
        if not roles and not run.blocked_roles:
            raise SyncError(
                "cutover refused: no login role other than pgshift's own may write "
                "the migrated tables, so there are no application writes to stop; "
                "name the application's roles with --roles"
            )
        cursor.execute(
            "select count(*) from pg_prepared_xacts where database = current_database()"
        )
        if cursor.fetchone()[0]:
            raise SyncError(
                "cutover refused: the source database has prepared transactions "
                "(pg_prepared_xacts), which outlive the sessions cutover ends and "
                "could still commit; nothing was changed. Commit or roll them back "
                "first"
            )
        cursor.execute(
            "select r, exists (select 1 from pg_roles where rolname = r), "
            "r = current_user from unnest(%s::text[]) r",
            (list(roles),),
        )
        for role, exists, own in cursor.fetchall():
            if not exists or own:
                raise SyncError(
                    f"cutover refused: {role} "
                    + (
                        "is the role pgshift connects as; the application must "
                        "use another"
                        if own
                        else "is not a role on the source"
                    )
                    + "; nothing was changed"
                )
        _refuse_privilege_drift(settings, names, cursor)
        if check_schema is not None:
            began = time.monotonic()
            _refuse_schema_drift(settings, names, check_schema(settings), run)
            _refuse_target_drift(settings, run)
            done.schema_check = time.monotonic() - began
        blocked = sorted(set(roles) | set(run.blocked_roles))
        if not done.resumed:
            _refuse_blocking_the_sync(cursor, run, blocked)
        done.blocked_roles = blocked
        block: DatabaseBlock | None = None
        if same_server(cursor, settings):
            block = DatabaseBlock.of(cursor, run)
            blocking, done.reopen = block.statements(cursor, blocked)
            _refuse_unblockable(cursor, block, blocked, blocking)
            done.blocked_database = block.database
        if run.status == "streaming":
            proof.refuse_without_free_slot(cursor)
            orphans = _outside_key_orphans(settings, names, tables)
            if orphans:
                raise SyncError(
                    "cutover refused before the downtime, nothing was changed "
                    "on the source:\n  " + "\n  ".join(orphans)
                )
            with transaction(settings.target) as target_cursor:
                state.ensure_table(target_cursor, settings)
            baseline = proof.check_at_b(settings, names, run, tables, cursor, say)
            done.before = baseline.steps
            done.refreshed = len(baseline.refreshed)
        with transaction(settings.target) as target_cursor:
            recorded: dict[str, Any] = {}
            if block is not None:
                state.ensure_table(target_cursor, settings)
                recorded["database_block"] = Json(block.record())
            state.update(
                target_cursor,
                settings,
                run.run_id,
                status="cutover",
                blocked_roles=blocked,
                **recorded,
            )
        started = time.monotonic()
        step = started

        def lap(name: str) -> None:
            nonlocal step
            now = time.monotonic()
            done.steps.append((name, now - step))
            step = now

        sessions = "usename = any(%s) and pid <> pg_backend_pid()"
        if block is None:
            for role in blocked:
                cursor.execute(
                    sql.SQL("alter role {} nologin").format(sql.Identifier(role))
                )
        else:
            still = _revoke_connect(cursor, blocking, blocked, keep=True)
            if still:
                raise SyncError(
                    "cutover stopped, nothing was changed on the source: "
                    + _unblockable(block, still)
                )
            sessions += " and datname = current_database()"
        for _ in range(100):
            cursor.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where "
                + sessions,
                (blocked,),
            )
            if not cursor.fetchall():
                break
            time.sleep(0.05)
        lap("stop writes")
        cursor.execute(
            "select distinct usename from pg_stat_activity where datname = "
            "current_database() and backend_type = 'client backend' and pid <> "
            "pg_backend_pid() and coalesce(application_name, '') not like 'pgshift%%' "
            "and usename <> all(%s) order by 1",
            (blocked,),
        )
        done.still_connected = [r[0] for r in cursor.fetchall()]
        try:
            marker = f"cutover {run.run_id} {time.time_ns()}"
            cursor.execute(
                "select pg_logical_emit_message(true, %s, %s)",
                (MARKER_PREFIX, marker),
            )
            _drain(settings, names, run, marker, cursor)
            lap("drain to the marker")
            done.sequences, done.past_rows = _set_sequences(settings, names, cursor)
            lap("sequences")
            if baseline is not None:
                done.differences, done.whole = proof.verify_since_b(
                    settings, names, baseline, run.publication_name, tables
                )
                done.views = baseline.views
                lap("verify changes since B")
            else:
                done.differences = _verify(settings, names, tables)
                done.whole = dict.fromkeys(tables, "no check before the downtime")
                lap("verify")
                if not done.differences:
                    # Writes stopped and every table equal: each side as
                    # it stands. A cutover finished this way (one that was
                    # cut off in its downtime) refreshes the materialized
                    # views here, as no check at B did since the last
                    # writes reached their tables.
                    refreshed = proof.refresh_materialized_views(settings, names, say)
                    done.refreshed = len(refreshed)
                    if refreshed:
                        lap(proof.refresh_step(len(refreshed)))
                    done.views, differ = proof.check_views_at(
                        settings,
                        names,
                        refreshed=dict.fromkeys(
                            refreshed, "by cutover's REFRESH in the downtime"
                        ),
                    )
                    done.differences = [f"view {line}" for line in differ]
                    lap("views")
            done.differences += _outside_key_orphans(settings, names, tables)
            if not done.passed:
                raise SyncError(
                    "cutover stopped: the target does not match the source:\n  "
                    + "\n  ".join(done.differences)
                    + _still_connected_hint(done.still_connected)
                )
        except Exception as exc:
            if block is not None:
                raise SyncError(
                    f"{exc}\nThe application's roles ({', '.join(blocked)}) "
                    "stay without CONNECT on the source database "
                    f"{block.database} (source and target share a server, so "
                    "they were not made NOLOGIN): run cutover again once the "
                    "cause is fixed, or reopen the source by giving it its "
                    "previous privileges back, on the source:\n  "
                    + "\n  ".join(done.reopen)
                ) from exc
            raise SyncError(
                f"{exc}\nThe source's application roles stay NOLOGIN ("
                + ", ".join(blocked)
                + "): run cutover again once the cause is fixed, or give them "
                "back with ALTER ROLE ... LOGIN to reopen the source"
            ) from exc
        with transaction(settings.target) as target_cursor:
            state.update(
                target_cursor,
                settings,
                run.run_id,
                status="done",
                detail=manifest.CUT_OVER,
            )
        lap("first write on the target")
        done.downtime = time.monotonic() - started
    finally:
        if baseline is not None:
            baseline.close()
        src.close()
    source.drop(settings, run.slot_name, run.publication_name)
    lap_drop = time.monotonic() - step
    done.steps.append(("drop slot and publication", lap_drop))
    return done


def same_server(cursor: Any, settings: Settings) -> bool:
    """Whether the source and target databases are on one PostgreSQL server.

    The target's own session (its process id, in the target database's
    oid) must be listed in the source server's ``pg_stat_activity``, which
    shows every session's process and database to every role, and both
    must report the same server start: a copy of a server (a promoted
    standby, a restored backup) has the same databases, oids and system
    identifier, not the same start time and the same live session.

    Args:
        cursor: On the source (autocommit).
        settings: The target's URL.
    """
    with transaction(settings.target, readonly=True) as target:
        target.execute(
            "select pg_backend_pid(), d.oid, d.datname, pg_postmaster_start_time() "
            "from pg_database d where d.datname = current_database()"
        )
        pid, oid, name, started = target.fetchone()
        cursor.execute(
            "select pg_postmaster_start_time() = %s and exists (select 1 from "
            "pg_stat_activity where pid = %s and datid = %s) and exists (select "
            "1 from pg_database where oid = %s and datname = %s)",
            (started, pid, oid, oid, name),
        )
        return bool(cursor.fetchone()[0])


@dataclass
class DatabaseBlock:
    """The source database whose CONNECT cutover revokes, on a shared server.

    Attributes:
        database: Its name.
        acl: Its ACL before the first cutover attempt, as text (None: the
            default one, where PUBLIC may connect).
    """

    database: str
    acl: str | None

    @classmethod
    def of(cls, cursor: Any, run: state.SyncRun) -> DatabaseBlock:
        """The source database, with the ACL an earlier attempt recorded."""
        if run.database_block:
            return cls(run.database_block["database"], run.database_block["acl"])
        cursor.execute(
            "select datname, datacl::text from pg_database "
            "where datname = current_database()"
        )
        name, acl = cursor.fetchone()
        return cls(name, acl)

    def record(self) -> dict[str, Any]:
        """What the target's state records (``state.SyncRun.database_block``)."""
        return {"database": self.database, "acl": self.acl}

    def statements(self, cursor: Any, roles: list[str]) -> tuple[list[str], list[str]]:
        """The statements that block the roles, and those that give it back.

        Blocking: CONNECT granted to pgshift's own role (unless a superuser,
        or the ACL grants CONNECT to it by name), then revoked from PUBLIC
        and from each role. Giving back: each CONNECT the revoke removed from
        the previous ACL (those the database's owner granted, as the revoke
        runs as the owner) granted again as it was, and the grant to
        pgshift's role revoked; the database then has its previous ACL.

        Returns:
            (block, reopen), reopen ending each statement with ``;``.
        """
        cursor.execute(
            "select a.grantee = 0, r.rolname, a.is_grantable, a.grantor = d.datdba "
            "from pg_database d cross join aclexplode(coalesce(%s::aclitem[], "
            "acldefault('d', d.datdba))) a left join pg_roles r on r.oid = a.grantee "
            "where d.datname = current_database() and a.privilege_type = 'CONNECT' "
            "order by 2",
            (self.acl,),
        )
        entries = cursor.fetchall()
        cursor.execute(
            "select current_user, rolsuper from pg_roles where rolname = current_user"
        )
        own, superuser = cursor.fetchone()
        database = sql.Identifier(self.database).as_string(cursor)

        def role(name: str) -> str:
            return sql.Identifier(name).as_string(cursor)

        grant_own = not superuser and own not in {name for _, name, _, _ in entries}
        block = [f"GRANT CONNECT ON DATABASE {database} TO {role(own)}"] * grant_own
        block.append(
            f"REVOKE CONNECT ON DATABASE {database} FROM "
            + ", ".join(["PUBLIC", *map(role, roles)])
        )
        reopen = [
            f"GRANT CONNECT ON DATABASE {database} TO "
            + ("PUBLIC" if public else role(name))
            + (" WITH GRANT OPTION" if grantable else "")
            + ";"
            for public, name, grantable, by_owner in entries
            if by_owner and (public or name in roles)
        ]
        if grant_own:
            reopen.append(f"REVOKE CONNECT ON DATABASE {database} FROM {role(own)};")
        return block, reopen


def _refuse_blocking_the_sync(
    cursor: Any, run: state.SyncRun, blocked: list[str]
) -> None:
    """Refuse to block the role the running sync reads the source as.

    An application with one role for everything (Zabbix's ``zabbix``, which
    owns its tables) may have had sync started as that role: cutover would
    end the sync's own sessions and refuse its logins, and the sync would
    stop before it applied the marker.
    """
    cursor.execute(
        "select a.usename from pg_replication_slots s "
        "join pg_stat_activity a on a.pid = s.active_pid where s.slot_name = %s",
        (run.slot_name,),
    )
    row = cursor.fetchone()
    user = row[0] if row else unquote(urlsplit(run.source_database).username or "")
    if user not in blocked:
        return
    raise SyncError(
        f"cutover refused, nothing was changed: the running sync reads the "
        f"source as {user}, a role cutover would block ({', '.join(blocked)}): "
        "ending its sessions would stop the sync before it applies the last "
        "writes. Next: give the sync a role of its own that may read and "
        "publish the tables, on the source: `CREATE ROLE pgshift_sync LOGIN "
        f"REPLICATION PASSWORD '...'; GRANT {quote_ident(user)} TO pgshift_sync;`, "
        "stop this sync (Ctrl-C) and start it again with that role in "
        "SOURCE_DATABASE_URL (it goes on where it stopped), then cutover again"
    )


def _still_connected_hint(roles: list[str]) -> str:
    """Why the target may differ when roles cutover did not block kept sessions."""
    if not roles:
        return ""
    return (
        "\nSessions of roles cutover did not block were connected to the source "
        f"database during the downtime ({', '.join(roles)}: pgshift's own role, "
        "a superuser, or a role --roles left out): a write of theirs after the "
        "application's writes were stopped reaches the source but not the "
        "target, and shows as such a difference. Stop them, or give the "
        "application a role of its own and name it with --roles"
    )


def _revoke_connect(
    cursor: Any, block: list[str], roles: list[str], *, keep: bool
) -> list[tuple[str, bool, list[str]]]:
    """Run the blocking statements in one transaction; keep them if they hold.

    Returns:
        (role, superuser, the CONNECT grants it still holds directly, by a
        membership or through PUBLIC) for each role that could still
        connect to the source database; empty when every role is blocked.
        The statements are committed only with ``keep`` and an empty answer.

    Raises:
        SyncError: pgshift's own role would lose CONNECT.
    """
    cursor.execute("begin")
    try:
        for statement in block:
            cursor.execute(statement)
        cursor.execute(
            "select r.rolname, r.rolsuper, array(select concat(case when "
            "a.grantee = 0 then 'PUBLIC' else a.grantee::regrole::text end, "
            "' (granted by ', a.grantor::regrole::text, ')') from pg_database d "
            "cross join aclexplode(d.datacl) a where d.datname = current_database() "
            "and a.privilege_type = 'CONNECT' and (a.grantee = 0 or "
            "pg_has_role(r.oid, a.grantee, 'USAGE')) order by 1) from pg_roles r "
            "where r.rolname = any(%s) and has_database_privilege(r.oid, "
            "current_database(), 'CONNECT') order by 1",
            (roles,),
        )
        still = [(name, superuser, list(how)) for name, superuser, how in cursor]
        cursor.execute("select has_database_privilege(current_database(), 'CONNECT')")
        if not cursor.fetchone()[0]:
            raise SyncError(
                "cutover refused, nothing was changed on the source: pgshift's "
                "own role would lose CONNECT on the source database"
            )
    except BaseException:
        cursor.execute("rollback")
        raise
    cursor.execute("commit" if keep and not still else "rollback")
    return still


def _unblockable(block: DatabaseBlock, still: list[tuple[str, bool, list[str]]]) -> str:
    """Why roles would still connect to the source database, and what to do."""
    reasons = "; ".join(
        f"{name} "
        + (
            "is a superuser, who connects whatever the database's privileges say"
            if superuser
            else "holds CONNECT through " + ", ".join(how or ["a grant"])
        )
        for name, superuser, how in still
    )
    return (
        "source and target are databases of one server, where a role is the "
        "same role on both, so cutover stops the application's writes by "
        f"revoking CONNECT on the source database {block.database} from "
        "PUBLIC and from the application's roles (NOLOGIN would shut them out "
        f"of the target too), and these would still connect: {reasons}. Next: "
        "give the application a role of its own that is no superuser, or "
        "revoke that CONNECT from the role it comes through, or name the "
        "application's roles with --roles, and cutover again"
    )


def _refuse_unblockable(
    cursor: Any, block: DatabaseBlock, roles: list[str], blocking: list[str]
) -> None:
    """Stop before the downtime when the roles cannot be kept off the source.

    The blocking statements are tried in a transaction that is rolled back.

    Raises:
        SyncError: pgshift's role may not change the source database's
            privileges, or a role would still connect after them.
    """
    refused = "cutover refused, nothing was changed on the source (the application "
    refused += "still writes there, the sync goes on): "
    cursor.execute(
        "select pg_has_role(current_user, datdba, 'USAGE'), datdba::regrole::text "
        "from pg_database where datname = current_database()"
    )
    may, owner = cursor.fetchone()
    if not may:
        raise SyncError(
            refused + "source and target are databases of one server, so cutover "
            "stops the application's writes by revoking CONNECT on the source "
            f"database {block.database} (NOLOGIN would shut the application out "
            "of the target too), which only its owner "
            f"({owner}), a member of that role or a superuser may do; pgshift's "
            "source role is none of these. Next: connect as one, or grant the "
            f"owner's role to pgshift's, and cutover again"
        )
    try:
        still = _revoke_connect(cursor, blocking, roles, keep=False)
    except psycopg2.Error as exc:
        raise SyncError(
            refused + f"revoking CONNECT on the source database {block.database} "
            f"(source and target share a server) failed: {exc}"
        ) from exc
    if still:
        raise SyncError(refused + _unblockable(block, still))


def _refuse_privilege_drift(settings: Settings, names: NameMap, cursor: Any) -> None:
    """Stop before the downtime when the source's privileges left the target's.

    The build gave the final tables the source's grants as scaffold read
    them; the stream carries rows, not grants. A grant or revoke made on the
    source since (an application role created during the sync, say) would
    leave the application without its rights on the target, or with rights
    the source took away: cutover names each difference and the statements
    that close it, and changes nothing. The target's privileges are not
    changed here: a grant is a decision of the team, to review, not to copy
    because it appeared on the source during a migration.

    Raises:
        SyncError: Privileges differ (``verify.privilege_drift``).
    """
    from pgshift.verify import privilege_drift

    with transaction(settings.target, readonly=True) as target_cursor:
        lines, statements = privilege_drift(settings, names, cursor, target_cursor)
    if not lines:
        return
    shown = listed(lines)
    statements = spilled(statements, settings.project_dir / PRIVILEGE_DRIFT_FILE)
    fix = (
        "run on the target:\n    " + "\n    ".join(statements) + "\n  "
        if statements
        else ""
    )
    raise SyncError(
        "cutover refused, nothing was changed on the source (the application "
        "still writes there, the sync goes on): the source's privileges no "
        "longer match the target's, so the application would not find its "
        "rights on the target after the cutover (a grant, revoke or role made "
        f"on the source since scaffold):\n  {shown}\nNext: {fix}"
        "(or undo on the source what was not meant), then `python "
        "loader/run.py scaffold` so that the project's models carry the "
        "source's privileges, and cutover again"
    )


def _held(run: state.SyncRun) -> str:
    """What a refusal before the downtime leaves as it is."""
    if run.status == "streaming":
        return (
            "nothing was changed on the source (the application still writes "
            "there, the sync goes on)"
        )
    return "the roles a previous cutover blocked stay blocked"


def _refuse_schema_drift(
    settings: Settings, names: NameMap, drifted: list[str], run: state.SyncRun
) -> None:
    """Refuse the cutover where the source's schema changed since scaffold.

    The stream carries rows, not DDL: a column, index, constraint or enum
    label added on the source during the sync is not on the target, whose
    final tables the models built. The application's next version, which
    needs it, would meet a target without it.
    """
    if not drifted:
        return
    shown = listed(drifted)
    held = _held(run)
    if all(line.startswith(PRIVILEGES_MACRO) for line in drifted):
        raise SyncError(
            f"cutover refused before the downtime, {held}: the source's "
            "privileges changed since scaffold (a grant, revoke or role), and "
            f"the project's models still carry the old ones:\n  {shown}\n"
            "Next: give the target the same privileges if it lacks them, run "
            "`python loader/run.py scaffold` so that the models carry the "
            "source's (`scaffold --check` then passes), and cutover again; the "
            "sync applies rows only and goes on as it is"
        )
    added = [line.split(": ", 1)[0] for line in drifted if line.endswith(NEW_TABLE)]
    if added:
        raise SyncError(
            f"cutover refused before the downtime, {held}: the source has "
            f"table(s) the models do not, created since scaffold:\n  {shown}\n"
            "A sync run follows the tables it copied, and cannot take on a new "
            "one. Next: `python loader/run.py cleanup`, scaffold, and sync "
            "again from a new copy; or, to leave them out, give "
            f"{settings.excluding(added)} to scaffold, sync and cutover "
            "alike"
        )
    raise SyncError(
        f"cutover refused before the downtime, {held}: the source's schema "
        "changed since scaffold, and the stream carries rows, not schema "
        f"changes, so the target does not have them:\n  {shown}\n"
        "Next: make the same change on the target, to the final tables in "
        f"schema {settings.final_schema} under their target names, run "
        "`python loader/run.py scaffold` so that the models match the source "
        "(`scaffold --check` then passes), start sync again so that it reads "
        "the new name map, and cutover again; or `python loader/run.py "
        "cleanup`, scaffold, and sync (or migrate) from the start"
    )


def _refuse_target_drift(settings: Settings, run: state.SyncRun) -> None:
    """Refuse the cutover where the target's schema is not the source's.

    The models may match the source (scaffold ran again after a change on
    the source during the sync) while the target never got the change: a
    function replaced on the source, the new body in the models, the old
    one still on the target, where the application's writes would run it
    after the switch. Verify's schema parity names each difference.
    """
    from pgshift.verify import schema_differences

    lines = schema_differences(settings)
    if not lines:
        return
    held = _held(run)
    # An object only the target has (an index made there to speed the
    # apply up) is no change to copy from the source.
    only_target = any(line.endswith(" is not in the source") for line in lines)
    raise SyncError(
        f"cutover refused before the downtime, {held}: the target's schema "
        "is not the source's (the stream carries rows, not schema changes):\n  "
        f"{listed(lines)}\nNext: make the same change on the target, in schema "
        f"{settings.final_schema} under the target's names (`python "
        "loader/run.py verify` lists the same lines), and cutover again"
        + (
            "; an object only the target has: drop it there, or, if the "
            "target is to keep it, list its line under intended_differences: "
            "in the override file"
            if only_target
            else ""
        )
    )


def _drain(
    settings: Settings, names: NameMap, run: state.SyncRun, marker: str, cursor: Any
) -> None:
    """Apply everything up to the marker: by the running sync, or here."""
    slot = source.slot_state(cursor, run.slot_name)
    if not slot.exists:
        raise SyncError(
            f"cutover stopped: the slot {run.slot_name} is gone from the source"
        )
    if slot.active:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline:
            with transaction(settings.target) as target_cursor:
                latest = state.latest(target_cursor, settings)
            assert latest is not None
            if latest.marker == marker:
                break
            if not source.slot_state(cursor, run.slot_name).active:
                break  # the sync process stopped: cutover follows the rest
            time.sleep(0.02)
        else:
            raise SyncError(
                "cutover stopped: the running sync did not reach the marker in "
                f"{DRAIN_TIMEOUT:.0f} s; see its output"
            )
        with transaction(settings.target) as target_cursor:
            state.update(target_cursor, settings, run.run_id, status="stopping")
        for _ in range(200):
            if not source.slot_state(cursor, run.slot_name).active:
                break
            time.sleep(0.05)
        with transaction(settings.target) as target_cursor:
            latest = state.latest(target_cursor, settings)
        assert latest is not None
        if latest.marker == marker:
            return
    with transaction(settings.target) as target_cursor:
        state.update(target_cursor, settings, run.run_id, status="cutover")
        latest = state.latest(target_cursor, settings)
    assert latest is not None
    reached = follow(settings, names, latest, until_marker=marker, quiet=True)
    if reached.reason != "until":
        raise SyncError(
            "cutover stopped: the stream ended before the marker "
            f"({reached.reason} at {pgoutput.format_lsn(reached.applied_lsn)})"
        )


def position_past_rows(
    last: int, called: bool, reached: int | None, increment: int
) -> tuple[int, bool]:
    """Where a sequence goes: the source's position, or past the rows' values.

    ``reached`` is the furthest value its columns hold short of the
    sequence's end (``catalog.sequence_end_sql``): their max for an
    ascending sequence, their min for a descending one; None for no value.
    Rows inserted with ids of their own can lie past the source's position:
    the application's next insert would collide on the target as on the
    source, so the sequence moves past them, as the build does (macro
    ``pgshift_sequence_position``).

    Returns:
        (value, is_called) for ``setval``.
    """
    if reached is None:
        return last, called
    beyond = reached > last if increment > 0 else reached < last
    if beyond or (reached == last and not called):
        return reached, True
    return last, called


def _set_sequences(
    settings: Settings, names: NameMap, cursor: Any
) -> tuple[int, list[str]]:
    """Set each mapped sequence on the target from the source's position.

    The schema's sequences (owned by a serial column or not) by the name map,
    and each identity column's own sequence: rows the sync applied carry the
    values the source's sequences gave them, so the target's must move on as
    far, and past what the columns drawing from it hold
    (``position_past_rows``). This runs while the application's writes are
    stopped: the source's positions are read in one query, the target's
    columns in another, and the sequences set in one statement, whatever
    their number.
    """
    # (source sequence, target sequence as SQL, its name in the state table,
    # the (final table, column) pairs drawing from it)
    wanted: list[tuple[str, sql.Composable, str, list[tuple[str, str]]]] = [
        (
            sql.Identifier(settings.source_schema, mapped.source).as_string(cursor),
            sql.Literal(
                sql.Identifier(settings.final_schema, mapped.name).as_string(cursor)
            ),
            mapped.source,
            [
                (
                    sql.Identifier(settings.final_schema, table).as_string(cursor),
                    column,
                )
                for table, column in mapped.drawn_by
            ],
        )
        for mapped in names.sequences.values()
    ]
    # Each identity column's sequence, as the name map records it.
    for table_name, table in names.tables.items():
        if not settings.selects(table_name):
            continue
        final = sql.Identifier(settings.final_schema, table.target).as_string(cursor)
        for column, sequence in table.identity_sequences.items():
            wanted.append(
                (
                    sql.Identifier(settings.source_schema, sequence).as_string(cursor),
                    sql.SQL("pg_get_serial_sequence({}, {})").format(
                        sql.Literal(final), sql.Literal(column)
                    ),
                    sequence,
                    [(final, column)],
                )
            )
    if not wanted:
        return 0, []
    cursor.execute(
        " union all ".join(
            f"(select {n}, last_value, is_called from {sequence})"
            for n, (sequence, _, _, _) in enumerate(wanted)
        )
        + " order by 1"
    )
    found = [(last, called) for _, last, called in cursor.fetchall()]
    with transaction(settings.target) as target:
        target.execute(
            sql.SQL(" union all ").join(
                _reached_sql(n, sequence, drawn)
                for n, (_, sequence, _, drawn) in enumerate(wanted)
            )
            + sql.SQL(" order by 1")
        )
        positions = [
            position_past_rows(last, called, reached, increment)
            for (last, called), (_, increment, reached) in zip(
                found, target.fetchall(), strict=True
            )
        ]
        target.execute(
            sql.SQL("select {}").format(
                sql.SQL(", ").join(
                    sql.SQL("setval({}, {}, {})").format(
                        sequence, sql.Literal(last), sql.Literal(called)
                    )
                    for (_, sequence, _, _), (last, called) in zip(
                        wanted, positions, strict=True
                    )
                )
            )
        )
        # The state table holds the source's positions, as the load's
        # (the report shows them beside the target's).
        recorded = [
            (name, last, called)
            for (_, _, name, _), (last, called) in zip(wanted, found, strict=True)
        ]
        if recorded:
            target.execute(
                sql.SQL(
                    "update {} as s set last_value = v.last_value, "
                    "is_called = v.is_called from (values {}) as v "
                    "(sequence_name, last_value, is_called) "
                    "where s.sequence_name = v.sequence_name"
                ).format(
                    sql.Identifier(settings.state_schema, manifest.SEQUENCES_TABLE),
                    sql.SQL(", ").join(
                        sql.SQL("({}, {}::bigint, {})").format(
                            sql.Literal(name), sql.Literal(last), sql.Literal(called)
                        )
                        for name, last, called in recorded
                    ),
                )
            )
    return len(wanted), [
        name
        for (_, _, name, _), before, after in zip(wanted, found, positions, strict=True)
        if tuple(before) != tuple(after)
    ]


def _reached_sql(
    n: int, sequence: sql.Composable, drawn: list[tuple[str, str]]
) -> sql.Composable:
    """(n, increment, the furthest value its columns hold short of its end)."""
    parts = [
        sql.SQL(
            "select case when s.seqincrement > 0 then "
            "(select max({c})::bigint from {t} where {c} < {up}) else "
            "(select min({c})::bigint from {t} where {c} > {down}) end as v"
        ).format(
            c=sql.Identifier(column),
            t=sql.SQL(table),
            up=sql.SQL(sequence_end_sql("s", ascending=True)),
            down=sql.SQL(sequence_end_sql("s", ascending=False)),
        )
        for table, column in drawn
    ]
    reached = (
        sql.SQL(
            "(select case when s.seqincrement > 0 then max(d.v) else min(d.v) end "
            "from ({}) as d)"
        ).format(sql.SQL(" union all ").join(parts))
        if parts
        else sql.SQL("null::bigint")
    )
    return sql.SQL(
        "(select {}, s.seqincrement, {} from pg_catalog.pg_sequence as s "
        "where s.seqrelid = {}::regclass)"
    ).format(sql.Literal(n), reached, sequence)


def _verify(settings: Settings, names: NameMap, tables: list[str]) -> list[str]:
    """Count and checksum every table on both sides; one line per difference."""
    with transaction(settings.source_required, readonly=True) as cursor:
        catalog = read_catalog(cursor, settings.source_schema)

    def figures(url: Any, queries: list[str]) -> list[tuple[int, str]]:
        with transaction(url, readonly=True) as cursor:
            out = []
            for query in queries:
                cursor.execute(query)
                rows, checksum = cursor.fetchone()
                out.append((int(rows), str(checksum)))
            return out

    source_queries, target_queries = [], []
    for name in tables:
        table = catalog.tables[name]
        mapped = names.tables[name]
        columns = [(c.name, c.data_type) for c in table.columns]
        source_queries.append(
            checksum_sql(
                f"{quote_ident(settings.source_schema)}.{quote_ident(name)}", columns
            )
        )
        target_queries.append(
            checksum_sql(
                f"{quote_ident(settings.final_schema)}.{quote_ident(mapped.target)}",
                proof.target_columns(settings, mapped, columns),
            )
        )
    with ThreadPoolExecutor(max_workers=2) as pool:
        on_source = pool.submit(figures, settings.source_required, source_queries)
        on_target = pool.submit(figures, settings.target, target_queries)
        both = zip(tables, on_source.result(), on_target.result(), strict=True)
    differences = []
    for name, (rows, checksum), (target_rows, target_checksum) in both:
        if (rows, checksum) != (target_rows, target_checksum):
            differences.append(
                f"{name}: source {rows} rows (checksum {checksum}), target "
                f"{names.tables[name].target} {target_rows} rows (checksum {target_checksum})"
            )
    return differences


_OUTSIDE_KEYS = """
select c.conname, t.relname, format('%%I.%%I', pn.nspname, p.relname),
       array(select a.attname from unnest(c.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n
             order by k.i),
       array(select a.attname from unnest(c.confkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n
             order by k.i)
from pg_constraint c
join pg_class t on t.oid = c.conrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_class p on p.oid = c.confrelid
join pg_namespace pn on pn.oid = p.relnamespace
where c.contype = 'f' and c.conparentid = 0
  and n.nspname = %(schema)s and t.relname = any(%(followed)s)
  and not (pn.nspname = %(schema)s and p.relname = any(%(followed)s))
order by 2, 1
"""
"""The foreign keys from the followed final tables to any other table."""


def _outside_key_orphans(
    settings: Settings, names: NameMap, tables: list[str]
) -> list[str]:
    """The rows whose foreign key into a table the sync does not follow is broken.

    Such a parent (a table of another schema, or one left out of the
    migration) is on the target as it was copied there, while the sync
    applies the children's changes with foreign keys off: a child the
    application added on the source with a new parent arrives, its parent
    does not. A key with a NULL column references nothing (MATCH SIMPLE).

    Returns:
        One line per broken key: how many rows, the first one's key, and
        what to do.
    """
    followed = [names.tables[t].target for t in tables]
    schema = settings.final_schema
    lines = []
    with transaction(settings.target, readonly=True) as cursor:
        cursor.execute(_OUTSIDE_KEYS, {"schema": schema, "followed": followed})
        for key, table, parent, columns, referenced in cursor.fetchall():
            child = [sql.SQL("c.{}").format(sql.Identifier(c)) for c in columns]
            cursor.execute(
                sql.SQL(
                    "select count(*), min(row({keys})::text) from {table} as c "
                    "where {present} and not exists (select from {parent} as p "
                    "where {joined})"
                ).format(
                    keys=sql.SQL(", ").join(child),
                    table=sql.Identifier(schema, table),
                    present=sql.SQL(" and ").join(
                        sql.SQL("{} is not null").format(c) for c in child
                    ),
                    parent=sql.SQL(parent),
                    joined=sql.SQL(" and ").join(
                        sql.SQL("p.{} = {}").format(sql.Identifier(r), c)
                        for r, c in zip(referenced, child, strict=True)
                    ),
                )
            )
            broken, first = cursor.fetchone()
            if broken:
                lines.append(
                    f"foreign key {key} of {table}: {broken} "
                    f"{'row references' if broken == 1 else 'rows reference'} rows "
                    f"of {parent} the target does not have (the first: "
                    f"({', '.join(columns)}) = {first}); the sync follows the "
                    f"migrated tables of schema {settings.source_schema} only: "
                    f"copy the rows {parent} gained on the source since it was "
                    "copied to the target, and set its schema's sequences there "
                    "to the source's (setval: the copied rows took values the "
                    "target's sequences would give again), then run cutover "
                    "again"
                )
    return lines
