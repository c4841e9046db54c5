"""A sync stopped or overtaken while it runs: what the next one and cutover do.

A killed sync's batch left running on the target, and a table the source
gained during the sync. Apart from ``test_sync.py`` so that the two files
run side by side (``--dist loadfile``); the helpers are its, the server
conftest's.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from test_sync import (
    APP_ROLE,
    _application_role,
    _start_sync,
    _stopped_sync,
    _wait,
    _wait_streaming,
)

from pgshift.connection import transaction
from pgshift.demo.cluster import Cluster
from pgshift.mapping import NameMap
from pgshift.settings import PROJECT_DIR

from migration import copy_project, make_settings, query, run_cli


def _scaffolded(source: str, target: str, tmp_path: Path) -> tuple[Path, Path]:
    """(state directory, project copy) with the source scaffolded into it."""
    state_dir, project = tmp_path / "state", copy_project(tmp_path / "project")
    scaffolded = run_cli(["scaffold"], source, target, state_dir, project)
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    return state_dir, project


def test_a_restarted_sync_ends_the_batch_a_killed_one_left_on_the_target(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # A sync killed while the target applies its batch leaves that session
    # running, holding the rows' locks, until the server notices the client
    # gone; the next sync must not wait on it in silence. Here the batch
    # sleeps 300 s on the target the first time only (a sequence, which no
    # rollback takes back), so only a sync that ends it applies the row soon.
    source, target = pair()
    log, state = tmp_path / "sync.log", tmp_path / "state"
    first = _start_sync(source, target, state, log)
    second = None
    try:
        _wait_streaming(target, log)
        query(
            target,
            "create sequence once_only; "
            "create function slow_once() returns trigger language plpgsql as "
            "$$ begin if nextval('once_only') = 1 then perform pg_sleep(300); "
            "end if; return null; end $$; "
            "create trigger slow_once after insert on service_categories "
            "for each statement execute function slow_once(); "
            "alter table service_categories enable always trigger slow_once",
        )
        query(source, "insert into service_categories (name, slug) values ('k', 'k')")
        _wait(
            lambda: query(target, "select is_called from once_only") == [(True,)],
            60,
            "the batch did not reach the target",
            log,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        _wait(
            lambda: (
                query(source, "select count(*) from pg_stat_replication")[0][0] == 0
            ),
            30,
            "the killed sync's walsender did not end",
            log,
        )
        assert query(
            target,
            "select count(*) from pg_stat_activity "
            "where application_name = 'pgshift sync' and state = 'active'",
        ) == [(1,)]
        second = _start_sync(source, target, state, log)
        _wait(
            lambda: (
                query(
                    target, "select count(*) from service_categories where slug = 'k'"
                )
                == [(1,)]
            ),
            90,
            "the row waited behind the killed sync's batch",
            log,
        )
        said = log.read_text()
        assert "ended the target session" in said, said[-3000:]
        assert second.poll() is None, said[-3000:]
    finally:
        for run in (first, second):
            if run is not None and run.poll() is None:
                run.kill()
    cleaned = run_cli(["cleanup"], source, target, state)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr


def test_a_table_added_to_the_source_during_a_sync_is_never_passed_over(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # A run follows the tables it copied. A table created on the source
    # during the sync, then scaffolded, had its rows neither copied nor
    # streamed, and cutover and verify passed without it.
    source, target = pair()
    _application_role(source, APP_ROLE)
    state_dir, project = _scaffolded(source, target, tmp_path)
    _stopped_sync(logical, source, target, tmp_path, None, project)
    table = "create table late_table (id integer primary key, note text)"
    query(source, f"{table}; insert into late_table values (1, 'before')")
    query(target, table)
    # The models lack it: cutover says a run cannot take on a new table.
    refused = run_cli(["cutover"], source, target, state_dir, project)
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "late_table: a source table the models do not have" in refused.stderr
    assert "cannot take on a new one" in refused.stderr
    assert "--exclude late_table" in refused.stderr
    # Scaffolded: the run still does not follow it, and says so.
    scaffolded = run_cli(["scaffold"], source, target, state_dir, project)
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    for command in ("sync", "cutover"):
        refused = run_cli([command], source, target, state_dir, project)
        assert refused.returncode != 0, refused.stdout + refused.stderr
        assert "does not follow: late_table" in refused.stderr, refused.stderr
        assert "cleanup" in refused.stderr
    assert query(target, "select count(*) from late_table") == [(0,)]
    cleaned = run_cli(["cleanup"], source, target, state_dir, project)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    # verify, against the copy's manifest, names it as never copied,
    # whatever its final table holds.
    query(target, "insert into late_table values (1, 'before')")
    verified = run_cli(["verify"], source, target, state_dir, project)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "late_table" in verified.stdout
    assert "no load or sync copied it" in verified.stdout


def test_a_column_retyped_on_both_sides_is_followed_with_its_new_type(
    logical: Cluster, pair: Callable[[], tuple[str, str]], tmp_path: Path
) -> None:
    # The stop names the retyped column and says: the same change on the
    # target, scaffold, sync again. Followed, that stopped again at once:
    # the run kept the types it started with.
    source, target = pair()
    state_dir, project = _scaffolded(source, target, tmp_path)
    log = tmp_path / "sync.log"
    run = _start_sync(source, target, state_dir, log, project)
    try:
        _wait_streaming(target, log)
        query(
            source,
            "alter table service_categories alter column description "
            "type varchar(500); alter table service_categories alter column slug "
            "type varchar(200); insert into service_categories (name, slug, "
            "description) values ('r', 'r', 'retyped')",
        )
        assert run.wait(60) != 0
    finally:
        if run.poll() is None:
            run.kill()
    assert 'column "description" changed type' in log.read_text()
    # Only one final column changed as the source's: refused, the other named.
    query(target, "alter table service_categories alter column slug type varchar(200)")
    scaffolded = run_cli(["scaffold"], source, target, state_dir, project)
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    refused = run_cli(["sync"], source, target, state_dir, project)
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert (
        "service_categories.description (character varying(500)): the final "
        "column service_categories.description is text, not character "
        "varying(500)"
    ) in refused.stderr
    assert "service_categories.slug" not in refused.stderr
    # Both changed: the sync goes on with the new types and applies the row.
    query(
        target,
        "alter table service_categories alter column description type varchar(500)",
    )
    run = _start_sync(source, target, state_dir, log, project)
    try:
        _wait(
            lambda: (
                query(
                    target,
                    "select description from service_categories where slug = 'r'",
                )
                == [("retyped",)]
            ),
            90,
            "the row after the retype was not applied",
            log,
        )
        assert "following with the new types of" in log.read_text()
        assert run.poll() is None
    finally:
        if run.poll() is None:
            run.kill()
    cleaned = run_cli(["cleanup"], source, target, state_dir, project)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr


def _counting_pieces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pieces of 40 changes; the size of each piece applied, as applied."""
    from pgshift.sync import stream
    from pgshift.sync.apply import Applier

    monkeypatch.setattr(stream, "PIECE_ROWS", 40)
    pieces: list[int] = []
    apply_piece = Applier.apply_piece

    def counted(self: Applier, changes: Any, final_lsn: int) -> None:
        pieces.append(len(changes))
        apply_piece(self, changes, final_lsn)

    monkeypatch.setattr(Applier, "apply_piece", counted)
    return pieces


def test_a_large_transaction_is_applied_in_pieces_all_or_nothing(
    logical: Cluster,
    pair: Callable[[], tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A source transaction is applied whole or not at all; one too large to
    # hold in memory is applied a piece at a time in one target transaction.
    # Pieces of 40 changes here (megabytes in use): a commit that fails
    # after its pieces leaves nothing of it, and the next run applies it.
    from pgshift.sync import stream
    from pgshift.sync.apply import Applier
    from pgshift.sync.state import latest

    source, target = pair()
    _stopped_sync(logical, source, target, tmp_path, None)
    settings = make_settings(source, target, state_dir=tmp_path / "state")
    names = NameMap.read(PROJECT_DIR)
    assert names is not None
    query(
        source,
        "begin; "
        "insert into service_categories (name, slug) select 'piece ' || i, "
        "'piece-' || i from generate_series(1, 150) i; "
        "update service_categories set name = name || ' again' "
        "where left(slug, 6) = 'piece-' and right(slug, 1) = '7'; "
        "delete from service_categories where slug = 'piece-99'; "
        "commit; select pg_logical_emit_message(true, 'pgshift', 'pieces')",
    )
    pieces = _counting_pieces(monkeypatch)

    def broken(self: Applier, batch: Any) -> str:
        # The pieces are in, uncommitted; the commit fails as a crash would.
        assert query(
            target,
            "select count(*) from service_categories where left(slug, 6) = 'piece-'",
        ) == [(0,)]
        raise psycopg2.OperationalError("the target went away")

    monkeypatch.setattr(Applier, "commit_pieces", broken)
    with transaction(settings.target) as cursor:
        run = latest(cursor, settings)
    assert run is not None
    before = run.applied_lsn
    with pytest.raises(psycopg2.OperationalError):
        stream.follow(settings, names, run, until_marker="pieces", quiet=True)
    assert pieces == [40, 40, 40, 40]
    assert query(
        target, "select count(*) from service_categories where left(slug, 6) = 'piece-'"
    ) == [(0,)]
    with transaction(settings.target) as cursor:
        run = latest(cursor, settings)
    assert run is not None and run.applied_lsn == before

    monkeypatch.undo()
    monkeypatch.setattr(stream, "PIECE_ROWS", 40)
    # Every progress check, as the progress line and the log would show it.
    monkeypatch.setattr(stream, "CHECK_SECONDS", 0.0)
    checks: list[tuple[int, Any, int, int]] = []
    check = stream._Meter.check

    def recorded(
        meter: Any, applied: int, when: Any, rows: int, *args: Any, **kw: Any
    ) -> Any:
        in_progress = args[2] if len(args) > 2 else kw.get("in_progress", 0)
        checks.append((applied, when, rows + in_progress, rows))
        return check(meter, applied, when, rows, *args, **kw)

    monkeypatch.setattr(stream._Meter, "check", recorded)
    done = stream.follow(settings, names, run, until_marker="pieces", quiet=True)
    assert done.reason == "until" and done.rows == 150 + 15 + 1
    # While its pieces were applied, the transaction counted as not applied
    # (its commit time, a position before its end), its rows as in progress,
    # not as committed.
    during = [c for c in checks if 0 < c[2] < 166]
    assert during, checks
    assert all(
        position < done.applied_lsn and when is not None and committed == 0
        for position, when, _, committed in during
    ), (during, done.applied_lsn)
    wanted = "select name, slug from service_categories order by slug"
    assert query(target, wanted) == query(source, wanted)


def test_cutover_following_the_slot_itself_applies_a_large_transaction_whole(
    logical: Cluster,
    pair: Callable[[], tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No sync process: cutover follows the slot itself to its position B,
    # where a transaction past B must wait whole; one before B is applied
    # whole too (no target transaction is left open across the check at B).
    from pgshift.sync.cutover import cutover

    source, target = pair()
    role = f"{APP_ROLE}_pieces"
    _stopped_sync(logical, source, target, tmp_path, role)
    settings = make_settings(source, target, state_dir=tmp_path / "state")
    query(
        source,
        "begin; insert into service_categories (name, slug) select 'drain ' || i, "
        "'drain-' || i from generate_series(1, 150) i; "
        "update service_categories set name = 'drained' where slug = 'drain-7'; "
        "commit",
    )
    pieces = _counting_pieces(monkeypatch)
    done = cutover(settings, [role], say=lambda _: None)
    assert done.passed and pieces == []
    wanted = "select name, slug from service_categories order by slug"
    assert query(target, wanted) == query(source, wanted)
