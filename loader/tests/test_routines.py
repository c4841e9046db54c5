"""Functions, procedures, aggregates and triggers arrive renamed, and behave.

The fixture (fixtures/routines_source.sql, in the shape pg_dump writes)
holds a last-updated trigger on camelCase columns (UPDATE OF list, WHEN
condition), SQL functions the application calls, a PL/pgSQL function whose
string literals and comments name camelCase columns, one that builds SQL in
EXECUTE, a procedure, an aggregate with its state function, a disabled
trigger, a deferred constraint trigger and an event trigger. It is
migrated once (and a second time, to see nothing doubled); the application's
calls then give the same results on both sides.

The rewriter itself (``pgshift.routines``) is tested on tricky bodies
without a database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from pgshift.catalog import read_catalog
from pgshift.mapping import (
    KeyMap,
    NameMap,
    SequenceMap,
    TableMap,
    ViewMap,
    build_map,
)
from pgshift.naming import Overrides
from pgshift.routines import (
    SCHEMA,
    Routine,
    SourceRoutines,
    Trigger,
    read_routines,
    reading_tables,
    rewrite,
)
from pgshift.scaffold.routine_files import INDEX_FILE
from pgshift.settings import OVERRIDES_FILE
from pgshift.verify.routine_parity import _target_routine

from migration import ProjectCopy, copy_project, query

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def routines(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ProjectCopy, str, str]]:
    cluster = pg_cluster
    source = cluster.create_database("routines_source")  # type: ignore[attr-defined]
    target = cluster.create_database("routines_target")  # type: ignore[attr-defined]
    conn = psycopg2.connect(source)
    with conn, conn.cursor() as cursor:
        cursor.execute((FIXTURES / "routines_source.sql").read_text(encoding="utf-8"))
    conn.close()
    project = tmp_path_factory.mktemp("routines") / "pgshift"
    copy_project(project, scaffolded=False)
    # The team reviewed the partition maintenance's dynamic SQL.
    (project / OVERRIDES_FILE).write_text(
        "reviewed_routines:\n  - create_range_partition\n", encoding="utf-8"
    )
    copy = ProjectCopy(source, target, project, tmp_path_factory.mktemp("state"))
    code, scaffolded, stderr = copy.run("scaffold")
    assert code == 0, scaffolded + stderr
    code, out, err = copy.run("migrate")
    assert code == 0, out[-4000:] + err[-4000:]
    yield copy, scaffolded, out
    for name in ("routines_source", "routines_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]


def _one(url: str, statement: str, *setup: str) -> object:
    """The first value of a statement, run after setup, all rolled back."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            for step in setup:
                cursor.execute(step)
            cursor.execute(statement)
            row = cursor.fetchone()
        conn.rollback()
    finally:
        conn.close()
    return row[0] if row else None


def _rows(url: str, statement: str, *setup: str) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            for step in setup:
                cursor.execute(step)
            cursor.execute(statement)
            rows = cursor.fetchall()
        conn.rollback()
    finally:
        conn.close()
    return rows


def test_functions_give_the_same_results(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    copy, _, _ = routines
    calls = [
        "select account_total(1)",
        "select account_total(2)",
        "select account_total(99)",
        "select describe_account(1)",
        "select describe_account(3)",
        "select describe_account(42)",
        "select account_key(7)::text",
    ]
    for call in calls:
        assert _one(copy.source, call) == _one(copy.target, call), call
    # The literal and the dollar-quoted text kept the camelCase names.
    assert _one(copy.target, "select describe_account(1)") == (
        'Ada Lovelace has balanceCents=1500 ("fullName") '
    )
    assert _one(copy.target, "select describe_account(42)") == (
        'no account: "fullName" unknown'
    )
    assert _rows(copy.source, "select * from active_accounts()") == _rows(
        copy.target, "select * from active_accounts()"
    )
    aggregate = "select sum_positive({}) from accounts"
    assert _one(copy.source, aggregate.format('"balanceCents"')) == 1500
    assert _one(copy.target, aggregate.format("balance_cents")) == 1500
    # An aggregate of no arguments, which PostgreSQL prints as row_tally(*).
    tally = "select row_tally(*) from accounts"
    assert _one(copy.source, tally) == _one(copy.target, tally) == 3
    assert _one(copy.target, "select obj_description('row_tally()'::regprocedure)") == (
        "Rows, as count(*) counts them."
    )


def test_the_procedure_writes_the_same_row(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    copy, _, _ = routines
    call = "call record_audit(2, 'called')"
    assert _rows(
        copy.source, 'select "accountId", note from "auditLog"', call
    ) == _rows(copy.target, "select account_id, note from audit_log", call)
    assert _rows(copy.target, "select account_id, note from audit_log", call) == [
        (2, "called")
    ]


def test_the_last_updated_trigger_behaves_as_on_the_source(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    copy, _, _ = routines
    check = "select {}, {} = now() from accounts where id = 2"
    source_check = check.format('"editCount"', '"updatedAt"')
    target_check = check.format("edit_count", "updated_at")

    def both(source_update: str, target_update: str) -> tuple[list, list]:
        return (
            _rows(copy.source, source_check, source_update),
            _rows(copy.target, target_check, target_update),
        )

    # A column of the UPDATE OF list, changed: the trigger fires.
    fired = both(
        'update accounts set "balanceCents" = 5 where id = 2',
        "update accounts set balance_cents = 5 where id = 2",
    )
    assert fired[0] == fired[1] == [(4, True)]
    # The same value again: the WHEN condition keeps it from firing.
    unchanged = both(
        'update accounts set "balanceCents" = -200 where id = 2',
        "update accounts set balance_cents = -200 where id = 2",
    )
    assert unchanged[0] == unchanged[1] == [(3, False)]
    # A column outside the UPDATE OF list: it does not fire.
    outside = both(
        'update accounts set "isActive" = false where id = 2',
        "update accounts set is_active = false where id = 2",
    )
    assert outside[0] == outside[1] == [(3, False)]


def test_triggers_keep_their_state_and_kind(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    copy, _, _ = routines
    state = (
        "select tgrelid::regclass::text, tgname, tgenabled, tgconstraint <> 0, "
        "tgdeferrable, tginitdeferred from pg_trigger where not tgisinternal "
        "order by 2"
    )
    target = _rows(copy.target, state)
    # accounts_count executes a function left for review: not created.
    source = [row for row in _rows(copy.source, state) if row[1] != "accounts_count"]
    assert [row[1:] for row in target] == [row[1:] for row in source]
    assert [row[0] for row in target] == ["accounts"] + ["order_items"] * 3
    assert [row[2] for row in target] == ["O", "D", "O", "O"]
    # The disabled trigger does not fire: no audit row on either side.
    insert = "insert into {} values (13, 1, 5, 1)"
    audit = "select count(*) from {}"
    assert (
        _one(copy.source, audit.format('"auditLog"'), insert.format('"orderItems"'))
        == 0
    )
    assert (
        _one(copy.target, audit.format("audit_log"), insert.format("order_items")) == 0
    )
    # The deferred constraint trigger refuses a negative price at commit.
    for url, table in ((copy.source, '"orderItems"'), (copy.target, "order_items")):
        conn = psycopg2.connect(url)
        try:
            with (
                pytest.raises(psycopg2.errors.RaiseException, match="must not"),
                conn,
                conn.cursor() as cursor,
            ):
                cursor.execute(f"insert into {table} values (14, 1, -5, 1)")
        finally:
            conn.close()


def test_dynamic_sql_is_left_for_review(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    copy, scaffolded, migrated = routines
    line = (
        "function count_rows(table_name text): needs review, not created by the "
        "build: line 5: EXECUTE of dynamic SQL"
    )
    assert line in scaffolded
    report = (copy.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "count_rows(table_name text): needs review: line 5: EXECUTE" in report
    # migrate's own summary names it too, not only the report.
    said = migrated.split("not migrated or needing review, ", 1)[1]
    assert "count_rows" in said.split("\n", 1)[0]
    # What calls it, and the trigger executing that, need review too.
    assert (
        "not migrated: function note_count(): needs review, not created by the "
        "build: line 1: it calls count_rows(table_name text), which needs review"
    ) in scaffolded
    assert (
        "not migrated: trigger accounts_count on accounts: needs review, not "
        "created by the build: line 1: it executes note_count(), which needs review"
    ) in scaffolded
    # What is left for review reads as text: the schema as {{ schema }}.
    for path in (copy.project / "macros" / "scaffolded").rglob("*.sql"):
        assert "\x00" not in path.read_text(encoding="utf-8"), path
    assert (
        _one(copy.target, "select to_regprocedure('public.count_rows(text)')") is None
    )
    candidate = (
        copy.project / "macros/scaffolded/routines/pgshift_routine__count_rows.sql"
    )
    assert "NEEDS REVIEW" in candidate.read_text(encoding="utf-8")
    # The event trigger is listed, not migrated.
    assert "event trigger pgshift_test_noop_ddl: event triggers are not" in report


def test_dynamic_sql_the_team_reviewed_is_created(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    # Hatchet's partition maintenance, listed under reviewed_routines: in
    # the override file, is created with its dynamic SQL as written.
    copy, scaffolded, _ = routines
    note = (
        "function create_range_partition(target_table text, target_date date): "
        "line 5: reviewed in the override file: dynamic SQL kept as written"
    )
    assert f"migrated: {note}" in scaffolded
    report = (copy.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert f"- {note}\n" in report
    # The application's daily partition creation works on the target.
    call = "select create_range_partition('event_log', date '2024-03-01')"
    insert = "insert into event_log values (1, date '2024-03-01')"
    placed = "select tableoid::regclass::text from event_log"
    for url in (copy.source, copy.target):
        assert _rows(url, placed, call, insert) == [("event_log_20240301",)], url
    # A listed routine the schema does not hold (misspelt, or dropped since)
    # stops scaffold, rather than being ignored.
    overrides = copy.project / OVERRIDES_FILE
    listed = overrides.read_text(encoding="utf-8")
    overrides.write_text(listed + "  - create_range_partitions\n", encoding="utf-8")
    try:
        code, out, err = copy.run("scaffold", "--check")
    finally:
        overrides.write_text(listed, encoding="utf-8")
    assert code == 2, out + err
    assert (
        "reviewed_routines lists 'create_range_partitions', which names no "
        "routine of schema public"
    ) in err


def test_a_derived_tables_columns_keep_their_names_with_their_aliases(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    # The trigger function reads a derived table aliased s (over a table
    # aliased s): it is created, and its trigger inserts the same rows.
    copy, scaffolded, _ = routines
    assert "record_item_total" not in scaffolded
    totals = "select account_id, order_item_id, price_cents from item_totals"
    source = _rows(
        copy.source, totals, 'insert into "orderItems" values (15, 2, 70, 1)'
    )
    target = _rows(copy.target, totals, "insert into order_items values (15, 2, 70, 1)")
    assert source == target == [(1002, 15, 70)]


def test_bodies_keep_their_text_but_the_names(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    copy, _, _ = routines
    body = _one(
        copy.target, "select prosrc from pg_proc where proname = 'describe_account'"
    )
    source = _one(
        copy.source, "select prosrc from pg_proc where proname = 'describe_account'"
    )
    assert isinstance(body, str) and isinstance(source, str)
    # The table, unqualified on the source, is the final schema's whatever
    # the caller's search_path (a compatibility schema's view comes first).
    assert body == (
        source.replace('a."fullName" ||', "a.full_name ||")
        .replace('a."balanceCents"\n', "a.balance_cents\n")
        .replace("FROM accounts a", 'FROM "public".accounts a')
    )
    assert "{{ not jinja }}" in body


_ROLE_CHECK = (
    "select convalidated, pg_get_constraintdef(oid) from pg_constraint "
    "where conname = 'users_roles__role_type'"
)


def test_a_check_reading_another_table_holds_on_the_target(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    # Logto's users_roles: its check calls a function selecting from roles.
    # The publish adds it once this build's roles are in the final schema
    # (in the build it read the final schema's roles: none on a fresh
    # target, "relation public.roles does not exist"), validated.
    copy, _, _ = routines
    assert _rows(copy.target, _ROLE_CHECK) == [
        (True, "CHECK (check_role_type(role_id, 'User'::text))")
    ]
    assert _rows(copy.target, "select id, role_id from users_roles") == [(1, 1)]
    # A machine's role is refused, as on the source.
    for url, table in ((copy.source, '"usersRoles"'), (copy.target, "users_roles")):
        with pytest.raises(
            psycopg2.errors.CheckViolation, match="users_roles__role_type"
        ):
            _one(url, f"insert into {table} values (2, 2) returning id")
    # Only the publish needs the function: the build creates no routine
    # before the tables.
    index = (copy.project / INDEX_FILE).read_text(encoding="utf-8")
    assert "pgshift_routines_before_build() -%}\n{{ return(false) }}" in index


def test_a_second_migration_replaces_rather_than_doubles(
    routines: tuple[ProjectCopy, str, str],
) -> None:
    copy, _, _ = routines
    # Role 2 becomes a user's role on the source, and a user takes it: the
    # check must read this build's roles, not the ones published before.
    query(copy.source, "update roles set type = 'User' where id = 2")
    query(copy.source, 'insert into "usersRoles" values (2, 2)')
    # A function of that signature that pgshift did not create (here: one no
    # longer recorded as pgshift's) stops the publish, naming it, and the
    # final schema stays as it was.
    signature = '"public".account_total(integer)'
    query(
        copy.target,
        "delete from pgshift.built_routines where name = %s",
        (signature,),
    )
    # A row written to a final table, to see it stay (replacing it needs
    # --replace-existing: migrate keeps what was written since the publish).
    query(copy.target, "insert into accounts (id, full_name) values (99, 'kept')")
    code, out, err = copy.run("migrate", "--replace-existing")
    assert code != 0
    assert (
        "the target already has the function " + signature + ", which pgshift "
        "did not create"
    ) in out + err
    assert query(copy.target, "select full_name from accounts where id = 99") == [
        ("kept",)
    ]
    query(
        copy.target,
        "insert into pgshift.built_routines (final_schema, kind, name) "
        "values ('public', 'function', %s)",
        (signature,),
    )
    code, out, err = copy.run("migrate", "--replace-existing")
    assert code == 0, out[-4000:] + err[-4000:]
    assert query(copy.target, "select full_name from accounts where id = 99") == []
    counts = _rows(
        copy.target,
        "select proname, count(*) from pg_proc p join pg_namespace n "
        "on n.oid = p.pronamespace where n.nspname = 'public' "
        "and not exists (select 1 from pg_depend d where d.objid = p.oid "
        "and d.deptype = 'e') group by 1 order by 1",
    )
    assert counts == [
        (name, 1)
        for name in sorted(
            [
                "account_key",
                "account_total",
                "active_accounts",
                "check_order_item",
                "check_role_type",
                "create_range_partition",
                "describe_account",
                "log_order_item",
                "noop_ddl",
                "record_audit",
                "record_item_total",
                "row_tally",
                "row_tally_state",
                "sum_positive",
                "sum_positive_state",
                "touch_updated_at",
            ]
        )
    ]
    triggers = _rows(
        copy.target,
        "select tgname, count(*) from pg_trigger where not tgisinternal "
        "group by 1 order by 1",
    )
    assert triggers == [
        ("accounts_touch", 1),
        ("order_items_audit", 1),
        ("order_items_check", 1),
        ("order_items_total", 1),
    ]
    assert _rows(copy.target, "select id, role_id from users_roles") == [
        (1, 1),
        (2, 2),
    ]
    assert _rows(copy.target, _ROLE_CHECK)[0][0] is True
    # None of them is taken for a team object of the target's.
    report = (copy.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "trigger public.accounts.accounts_touch" not in report
    assert "users_roles__role_type" not in report
    # And the trigger still works.
    assert _rows(
        copy.target,
        "select edit_count from accounts where id = 1",
        "update accounts set full_name = 'Ada King' where id = 1",
    ) == [(1,)]
    code, out, err = copy.run("scaffold", "--check")
    assert code == 0, out + err


# MusicBrainz's shape: a schema ``app`` (not public) migrated into the final
# schema public, every name kept. A check calls a function, so routines go
# before the tables; a function takes a table's row type; a function sorts
# with the schema's own collation; a trigger function calls one that runs
# dynamic SQL over unqualified names, under SET search_path TO app, public.
MOVED_SOURCE = """
create schema app;
create collation app.natural (provider = icu, locale = 'und-u-kn-true');
create function app.nonblank(text) returns boolean language sql immutable
    as $$select btrim($1) <> ''$$;
create function app.mb_lower(t text) returns text language sql immutable
    parallel safe strict as $$select lower(t collate app.natural)$$;
create table app.editor (
    id int primary key, name text not null check (app.nonblank(name)));
create index editor_lower on app.editor (app.mb_lower(name));
create function app.sanitize(e app.editor) returns app.editor language sql
    stable as $$select e.id, 'hidden'::text$$;
create table app.counter (id int primary key, ref_count int not null default 0);
create table app.item (id serial primary key,
    counter int not null references app.counter);
create function app.inc_ref_count(tbl varchar, row_id integer) returns void
    language plpgsql set search_path to app, public as $$
begin
    execute 'UPDATE ' || tbl || ' SET ref_count = ref_count + 1 WHERE id = '
        || row_id;
end $$;
create function app.a_ins_item() returns trigger language plpgsql
    set search_path to app, public as $$
begin perform inc_ref_count('counter', NEW.counter); return null; end $$;
create trigger a_ins_item after insert on app.item
    for each row execute function app.a_ins_item();
insert into app.counter values (1, 0), (2, 5);
insert into app.editor values (1, 'Zoë');
"""


def test_a_schema_of_another_name_keeps_its_routines_working(
    new_database: object, tmp_path: Path
) -> None:
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(source, MOVED_SOURCE)
    project = copy_project(tmp_path / "project", scaffolded=False)
    copy = ProjectCopy(source, target, project, tmp_path / "state")
    code, out, err = copy.run("--schemas", "app", "scaffold")
    assert code == 0, out + err
    code, out, err = copy.run("--schemas", "app", "migrate")
    # The function over editor's row type is created once editor is there,
    # and verify finds it (it raised on to_regprocedure before).
    assert code == 0, out[-4000:] + err[-4000:]
    assert _one(target, "select (sanitize(e)).name from editor e") == "hidden"
    # Verify's look-up gives "missing" for a type the target lacks (a build
    # that failed before publishing editor), rather than raise.
    conn = psycopg2.connect(target)
    try:
        with conn.cursor() as cursor:
            assert _target_routine(cursor, "public.sanitize(nosuchtype)") is None
            assert _target_routine(cursor, "public.sanitize(editor)") is not None
    finally:
        conn.close()
    # Its collation is the final schema's, as is the index calling it.
    assert 'collate "public".natural' in str(
        _one(target, "select prosrc from pg_proc where proname = 'mb_lower'")
    )
    assert _one(target, "select mb_lower('ZOË')") == "zoë"
    # SET search_path TO app, public into public: public once.
    assert _one(
        target, "select proconfig from pg_proc where proname = 'inc_ref_count'"
    ) == ["search_path=public"]
    # The dynamic SQL names no schema and the map renames nothing: the
    # trigger and its helper arrive, and behave as on the source.
    report = (project / "MIGRATION_REPORT.md").read_text()
    assert "needs review" not in report, report
    insert = "insert into {}item (counter) values (1), (1), (2)"
    counts = "select id, ref_count from {}counter order by id"
    assert _rows(source, counts.format("app."), insert.format("app.")) == [
        (1, 2),
        (2, 6),
    ]
    assert _rows(target, counts.format(""), insert.format("")) == [(1, 2), (2, 6)]


def test_routines_the_tables_need_first_are_checked_against_the_target(
    new_database: object, tmp_path: Path
) -> None:
    # A routine an index calls (so created before the tables) calling a
    # function of a schema pgshift does not migrate, which the target
    # lacks; another naming the schema's text search configuration in a
    # string, which is not rewritten.
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(
        source,
        """
        create schema app; create schema util;
        create text search configuration app.simple2 (copy = pg_catalog.simple);
        create function util.norm(text) returns text language sql immutable
            as $$select lower($1)$$;
        create function app.norm(text) returns text language sql immutable
            as $$select util.norm($1)$$;
        create function app.tsv(t text) returns tsvector language sql immutable
            strict as $$select to_tsvector('app.simple2', t)$$;
        create table app.t (id int primary key, name text);
        create index t_norm on app.t (app.norm(name));
        create index t_txt on app.t using gin (app.tsv(name));
        create table app.u (id int primary key, t_id int references app.t);
        """,
    )
    project = copy_project(tmp_path / "project", scaffolded=False)
    copy = ProjectCopy(source, target, project, tmp_path / "state")
    missing = (
        "t index t_norm: calls norm(text), which calls util.norm, a function of a "
        "schema pgshift does not migrate, which the target does not have"
    )
    config = (
        "t index t_txt: calls tsv(t text), which needs review and is not created "
        "(line 1: the string 'app.simple2' names schema app, whose objects are "
        "in the final schema on the target; strings are not rewritten)"
    )
    code, out, err = copy.run("--schemas", "app", "scaffold")
    assert code == 2, out + err
    assert missing in err and config in err, err
    # Ready to paste: the table, and the one whose key references it.
    assert (
        "or leave these tables out with `python loader/run.py --schemas app "
        "--exclude t,u scaffold` (u: their foreign keys reference them)"
    ) in err, err
    query(
        target,
        "create schema util; create function util.norm(text) returns text "
        "language sql immutable as $$select lower($1)$$",
    )
    code, out, err = copy.run("--schemas", "app", "scaffold")
    assert code == 2, out + err
    assert missing not in err and config in err, err


# --------------------------------------------------------------------------
# The rewriter on its own


def _table(source: str, target: str, columns: dict[str, str]) -> TableMap:
    return TableMap(
        source_schema="public",
        source=source,
        target=target,
        staging_model=f"stg_app__{target}",
        columns=columns,
    )


NAMES = NameMap(
    source_name="app",
    source_schema="public",
    tables={
        "Users": _table(
            "Users",
            "users",
            {"id": "id", "fullName": "full_name", "orders": "orders"},
        ),
        "orders": _table(
            "orders",
            "orders",
            {"id": "id", "userId": "user_id", "totalCents": "total_cents"},
        ),
        "Posts": _table("Posts", "posts", {"id": "id", "userId": "author_id"}),
    },
)


_RELATIONS = {"Users": "r", "orders": "r", "Posts": "r", "Legacy": "r"}


def _rewrite(
    body: str,
    language: str = "plpgsql",
    returns: str = "integer",
    names: NameMap = NAMES,
    relations: dict[str, str] | None = None,
    **kwargs: object,
) -> Routine:
    definition = (
        f"CREATE OR REPLACE FUNCTION public.f()\n RETURNS {returns}\n"
        f" LANGUAGE {language}\nAS $function${body}$function$\n"
    )
    routine = Routine(
        oid=1,
        kind="function",
        name="f",
        arguments="",
        language=language,
        source=definition,
        body=body,
        argument_names=[],
        identity="public.f()",
    )
    triggers = kwargs.get("triggers", [])
    source = SourceRoutines(
        "public",
        [routine],
        triggers,  # type: ignore[arg-type]
        _RELATIONS if relations is None else relations,
        {},
    )
    # As scaffold rewrites them: into a final schema of the source's name.
    reviewed = kwargs.get("reviewed", ())
    return rewrite(
        source,
        names,
        final_schema="public",
        reviewed=reviewed,  # type: ignore[arg-type]
    ).routines[0]


def _body(routine: Routine) -> str:
    text = routine.definition.replace(SCHEMA, "public")
    return text.split("$function$")[1]


def test_quoted_identifiers_and_a_column_named_like_a_table() -> None:
    routine = _rewrite(
        'select count(*)::int from "Users" u join orders o on o."userId" = u.id '
        'where u.orders is not null and "Users"."fullName" <> \'\'',
        language="sql",
    )
    assert not routine.problems
    # orders is the final schema's (``_body`` spells it public) whatever
    # the caller's search_path: the compatibility schema has a view of
    # that name. users has none, and stays as the source wrote it.
    assert _body(routine) == (
        "select count(*)::int from users u join public.orders o "
        "on o.user_id = u.id where u.orders is not null and users.full_name <> ''"
    )
    assert routine.definition.startswith(f"CREATE OR REPLACE FUNCTION {SCHEMA}.f()")


def test_names_after_text_of_several_bytes_a_character_are_renamed() -> None:
    # The parser counts characters, not bytes: 'Größe' and the comment's
    # accents come before the names to rename.
    routine = _rewrite(
        'select count(*)::int from "Users" u where u."fullName" <> \'Größe\' '
        "-- Zähler für Benutzer\n  and u.\"fullName\" <> ''",
        language="sql",
    )
    assert not routine.problems
    assert _body(routine) == (
        "select count(*)::int from users u where u.full_name <> 'Größe' "
        "-- Zähler für Benutzer\n  and u.full_name <> ''"
    )


def test_strings_comments_and_nested_dollar_quotes_stay() -> None:
    body = (
        '\ndeclare s text := $q$ "fullName" $q$;\nbegin\n'
        '  -- "fullName" {{ jinja }} {% tag %} {# note #}\n'
        '  /* "userId" */\n'
        '  return (select count(*) from "Users" where "fullName" <> '
        '\'"fullName"\' and "fullName" <> $x$"fullName"$x$);\nend\n'
    )
    routine = _rewrite(body)
    assert not routine.problems
    assert _body(routine) == body.replace(
        'from "Users" where "fullName" <> \'', "from users where full_name <> '"
    ).replace('and "fullName" <> $x$', "and full_name <> $x$")


def test_an_ambiguous_column_and_dynamic_sql_are_flagged() -> None:
    routine = _rewrite(
        'select max("userId") from (select "userId" from "Posts" '
        'union all select "userId" from orders) s',
        language="sql",
    )
    assert any("ambiguous" in p.reason for p in routine.problems)
    dynamic = _rewrite(
        "\nbegin\n  perform 1;\n  execute 'delete from \"Users\"';\n  return 1;\nend\n"
    )
    assert [p.describe() for p in dynamic.problems] == [
        "line 4: EXECUTE of dynamic SQL: the statement is built from strings "
        "at run time, which pgshift cannot rename, and its body names "
        '"Users" (line 4), whose name changes on the target'
    ]


def test_dynamic_sql_is_kept_where_the_map_renames_nothing() -> None:
    # Every name is the source's (a snake_case schema) and the routines land
    # in a schema of the source's name: a string names what it named.
    same = NameMap(
        source_name="app",
        source_schema="public",
        tables={"orders": _table("orders", "orders", {"id": "id", "total": "total"})},
    )
    body = "\nbegin\n  execute 'delete from orders';\n  return 1;\nend\n"

    def rewritten(names: NameMap, final_schema: str) -> Routine:
        routine = _plpgsql(1, "f", "\n RETURNS integer", body)
        source = SourceRoutines("public", [routine], [], {"orders": "r"}, {})
        return rewrite(source, names, final_schema=final_schema).routines[0]

    assert rewritten(same, "public").problems == []
    # Into a schema of another name too, where the body never names the
    # source schema (nor the final one): its strings name what they named.
    assert rewritten(same, "app").problems == []
    # A body naming the source schema anywhere, in any case, in a string or
    # as an identifier, is flagged there (a comment does not count).
    for named in (
        "\nbegin\n  execute 'delete from PUBLIC.orders';\n  return 1;\nend\n",
        "\nbegin\n  execute 'delete from \"public\".orders';\n  return 1;\nend\n",
        "\nbegin\n  perform 1 from public.orders;\n  execute 'delete from orders';"
        "\n  return 1;\nend\n",
        "\nbegin\n  execute 'delete from ' || 'app.orders';\n  return 1;\nend\n",
    ):
        routine = _plpgsql(1, "f", "\n RETURNS integer", named)
        source = SourceRoutines("public", [routine], [], {"orders": "r"}, {})
        problems = rewrite(source, same, final_schema="app").routines[0].problems
        assert any("dynamic SQL" in p.reason for p in problems), named
    commented = "\nbegin\n  -- public.orders\n  execute 'delete from orders';\n  return 1;\nend\n"
    routine = _plpgsql(1, "f", "\n RETURNS integer", commented)
    source = SourceRoutines("public", [routine], [], {"orders": "r"}, {})
    assert rewrite(source, same, final_schema="app").routines[0].problems == []
    assert rewritten(same, "public").notes == [
        "line 3: dynamic SQL kept as written: no name changes on the target"
    ]
    # With one name changed, even one the dynamic SQL does not seem to
    # name, it needs review: what it runs is known only at run time.
    renamed = NameMap(
        source_name="app",
        source_schema="public",
        tables={"orders": _table("orders", "orders", {"id": "id", "Total": "total"})},
    )
    flagged = rewritten(renamed, "public")
    assert [p.describe() for p in flagged.problems] == [
        "line 3: EXECUTE of dynamic SQL: the statement is built from strings at "
        "run time, which pgshift cannot rename (its strings name no table or "
        "column whose name changes; once reviewed, list it under "
        "reviewed_routines: in the override file to create it as written)"
    ]
    assert flagged.notes == []


def test_dynamic_sql_is_created_where_the_team_reviewed_it() -> None:
    # Hatchet's partition maintenance builds SQL over snake_case tables,
    # beside camelCase tables whose names change. Its strings name none of
    # them, yet names built at run time are invisible to any reading: it
    # needs review, unless the override file lists it as reviewed.
    names = NameMap(
        source_name="app",
        source_schema="public",
        tables={
            "WorkflowRun": _table(
                "WorkflowRun", "workflow_run", {"id": "id", "tenantId": "tenant_id"}
            ),
            "v1_task": _table(
                "v1_task", "v1_task", {"id": "id", "tenant_id": "tenant_id"}
            ),
        },
    )
    relations = {"WorkflowRun": "r", "v1_task": "p"}

    def rewritten(body: str, reviewed: tuple[str, ...] = ()) -> Routine:
        routine = _plpgsql(1, "f", "\n RETURNS integer", body)
        source = SourceRoutines("public", [routine], [], relations, {})
        return rewrite(
            source, names, final_schema="public", reviewed=reviewed
        ).routines[0]

    partition = (
        "\nDECLARE n text := 'v1_task_' || to_char(current_date, 'YYYYMMDD');"
        "\nBEGIN\n  EXECUTE format('CREATE TABLE %I PARTITION OF %I "
        "FOR VALUES FROM (%L) TO (%L)',\n    n, 'v1_task', current_date, "
        'current_date + 1);\n  UPDATE "WorkflowRun" SET "tenantId" = NULL '
        "WHERE false;\n  RETURN 1;\nEND\n"
    )
    assert [p.describe() for p in rewritten(partition).problems] == [
        "line 4: EXECUTE of dynamic SQL: the statement is built from strings at "
        "run time, which pgshift cannot rename (its strings name no table or "
        "column whose name changes; once reviewed, list it under "
        "reviewed_routines: in the override file to create it as written)"
    ]
    # Listed by name or as scaffold prints it: created, and noted.
    for entry in ("f", "f()"):
        reviewed = rewritten(partition, (entry,))
        assert reviewed.problems == []
        assert reviewed.notes == [
            "line 4: reviewed in the override file: dynamic SQL kept as written"
        ]
        # Its static statement is renamed as in any body; the dynamic one stays.
        assert "UPDATE workflow_run SET tenant_id = NULL" in _body(reviewed)
        assert "EXECUTE format('CREATE TABLE %I PARTITION OF %I" in _body(reviewed)
    assert rewritten(partition, ("g",)).problems != []
    # Names put together, escaped or quoted at run time name nothing a
    # reading of the strings could find: each needs review all the same.
    for body in (
        "EXECUTE format('SELECT sum(%I) FROM %I', 'tenant' || 'Id', "
        "'Workflow' || 'Run')",
        "EXECUTE 'SELECT ' || quote_ident('tenant' || chr(73) || 'd') "
        "|| ' FROM v1_task'",
        "EXECUTE format('SELECT %I FROM v1_task', replace('tenant_Id', '_', ''))",
        'EXECUTE E\'SELECT "tenant\\x49d" FROM "Workflow\\x52un"\'',
        "EXECUTE 'SELECT U&\"tenant\\0049d\" FROM v1_task'",
    ):
        flagged = rewritten(f"\nBEGIN\n  {body};\n  RETURN 1;\nEND\n")
        assert [p.line for p in flagged.problems] == [3], body
        assert "reviewed_routines:" in flagged.problems[0].reason, body
        assert flagged.notes == []
    # Where its strings name a renamed name, the message names it.
    for body, named in (
        ("EXECUTE 'UPDATE \"WorkflowRun\" SET id = id'", '"WorkflowRun"'),
        ("EXECUTE format('SELECT %I FROM v1_task', 'tenantId')", '"tenantId"'),
        ("EXECUTE $q$SELECT 1 FROM v1_task WHERE 'x' = 'tenantId'$q$", '"tenantId"'),
        (
            "EXECUTE 'SELECT $1' USING (SELECT max(\"tenantId\") FROM v1_task)",
            '"tenantId"',
        ),
    ):
        flagged = rewritten(f"\nBEGIN\n  {body};\n  RETURN 1;\nEND\n")
        assert [p.describe() for p in flagged.problems] == [
            "line 3: EXECUTE of dynamic SQL: the statement is built from strings at "
            f"run time, which pgshift cannot rename, and its body names {named} "
            "(line 3), whose name changes on the target"
        ], body
        assert flagged.notes == []

    # A routine taking the name from its caller needs review whatever the
    # caller passes: a variable, a call through another function, data.
    def called(passed: str, reviewed: tuple[str, ...] = ()) -> list[Routine]:
        counter = _plpgsql(
            1,
            "count_rows",
            "\n RETURNS bigint",
            "\nDECLARE n bigint;\nBEGIN\n  EXECUTE format('SELECT count(*) "
            "FROM %I', TG_ARGV[0]) INTO n;\n  RETURN n;\nEND\n",
        )
        caller = _plpgsql(
            2,
            "caller",
            "\n RETURNS bigint",
            "\nDECLARE v text := 'Workflow' || 'Run';\nBEGIN\n  RETURN "
            f"public.count_rows({passed});\nEND\n",
        )
        source = SourceRoutines("public", [counter, caller], [], relations, {})
        return rewrite(source, names, final_schema="public", reviewed=reviewed).routines

    done = called("v")
    assert "reviewed_routines:" in str(done[0].problems)
    assert "it calls count_rows(), which needs review" in str(done[1].problems)
    # Reviewed, it is created; a call in the schema passing it a renamed
    # name in a string still makes it need review, and its caller too.
    done = called("v", ("count_rows",))
    assert done[0].problems == [] and done[1].problems == []
    done = called("'WorkflowRun'", ("count_rows",))
    assert [p.describe() for p in done[0].problems] == [
        "line 1: it runs dynamic SQL, and function caller() passes it "
        "'WorkflowRun', which names \"WorkflowRun\", whose name changes on the "
        "target; strings are not renamed"
    ]
    assert done[0].notes == []
    assert "it calls count_rows(), which needs review" in str(done[1].problems)


def test_a_derived_tables_kept_names_a_join_or_a_record_reads_are_flagged() -> None:
    # A name a subquery chose stays as written; where a NATURAL JOIN or a
    # record reads it by name against a renamed one, that would change what
    # the routine does on the target: it needs review.
    names = dataclasses.replace(
        NAMES,
        tables={
            **NAMES.tables,
            "plain": _table("plain", "plain", {"id": "id", "note": "note"}),
            "other": _table("other", "other", {"id": "id", "label": "label"}),
        },
    )
    relations = {**_RELATIONS, "plain": "r", "other": "r"}

    def rewritten(body: str) -> Routine:
        return _rewrite(body, names=names, relations=relations)

    def statement(sql: str) -> str:
        return f"\ndeclare n bigint;\nbegin\n  {sql};\n  return n;\nend\n"

    for sql, over in (
        # It became a cross join: 2 rows, 6 on the target.
        (
            'select count(*) into n from (select id as "totalCents" from "Users") '
            "s natural join orders o",
            "a subquery or a function",
        ),
        (
            'with c as (select id as "totalCents" from "Users") '
            "select count(*) into n from c natural join plain",
            "CTE c",
        ),
        (
            "select count(*) into n from plain natural join orders",
            "table orders, whose columns are renamed",
        ),
        (
            "select count(*) into n from plain natural join (other natural join "
            '"Posts")',
            "table Posts, whose columns are renamed",
        ),
    ):
        flagged = rewritten(statement(sql))
        assert [p.describe() for p in flagged.problems] == [
            f"line 4: NATURAL JOIN over {over}: it joins on the column names its "
            "sides share, and names change on the target; join ON the columns on "
            "the source"
        ], sql
    # Between relations whose columns keep their names, it stays.
    kept = rewritten(statement("select count(*) into n from plain natural join other"))
    assert kept.problems == []
    assert "from plain natural join other" in _body(kept)
    # A record's fields are renamed as columns: a result column keeping the
    # name its subquery chose would not be found under it.
    derived = '(select id as "totalCents" from "Users") s'
    for body in (
        f'\ndeclare r record; n bigint := 0;\nbegin\n  for r in select s."totalCents"'
        f' from {derived} loop\n    n := n + r."totalCents";\n  end loop;\n'
        "  return n;\nend\n",
        f'\ndeclare r record;\nbegin\n  select s."totalCents" into r from {derived}'
        ';\n  return r."totalCents";\nend\n',
    ):
        flagged = rewritten(body)
        assert [p.describe() for p in flagged.problems] == [
            'line 4: s."totalCents" names a column of the result, which keeps the '
            "name its subquery chose, while a record's field of that name is "
            "renamed: give it another alias on the source"
        ], body
    # Passed through, or named by an alias of the statement's own, it is not.
    for body, spelled in (
        (
            '\ndeclare r record;\nbegin\n  select s."totalCents" into r from '
            '(select "totalCents" from orders) s;\n  return r."totalCents";\nend\n',
            "select s.total_cents into r from (select total_cents from "
            "public.orders) s;\n  return r.total_cents;",
        ),
        (
            '\ndeclare r record;\nbegin\n  select s."totalCents" as t into r from '
            f"{derived};\n  return r.t;\nend\n",
            's."totalCents" as t into r from (select id as "totalCents" from users) s;',
        ),
    ):
        kept = rewritten(body)
        assert kept.problems == [], body
        assert spelled in _body(kept)
    # A VALUES list's columns, named by the alias.
    values = rewritten(statement("select sum(v.a) into n from (values (1), (2)) v(a)"))
    assert values.problems == []
    assert "from (values (1), (2)) v(a)" in _body(values)


def _moved(*routines: Routine) -> list[Routine]:
    """Routines of a schema ``app`` rewritten into the final schema ``public``."""
    names = NameMap(
        source_name="app",
        source_schema="app",
        tables={"artist": _table("artist", "artist", {"id": "id", "name": "name"})},
    )
    source = SourceRoutines("app", list(routines), [], {"artist": "r"}, {})
    return rewrite(source, names, final_schema="public").routines


def _taking(
    oid: int,
    argument: str,
    returns: str,
    body: str,
    *,
    language: str = "sql",
    schema: str = "public",
) -> Routine:
    """Function ``f<oid>`` of one argument (``name type``), as read from a source."""
    name, argument_type = argument.split(" ", 1)
    return Routine(
        oid=oid,
        kind="function",
        name=f"f{oid}",
        arguments=argument,
        language=language,
        source=(
            f"CREATE OR REPLACE FUNCTION {schema}.f{oid}({argument})\n"
            f" RETURNS {returns}\n LANGUAGE {language}\n"
            f"AS $function${body}$function$\n"
        ),
        body=body,
        argument_names=[name],
        identity=f"{schema}.f{oid}({argument_type})",
    )


def test_a_builtin_types_name_is_the_builtin_type_not_a_relations_row_type() -> None:
    # A view named xml and a table named point (PostgREST's fixtures): an
    # unqualified xml or point is PostgreSQL's own type, found first on the
    # path; only a qualified app.point is the table's row type.
    names = NameMap(
        source_name="app",
        source_schema="app",
        tables={"point": _table("point", "point", {"id": "id"})},
    )
    routines = [
        _taking(1, "arg xml", "text", "select $1::text", schema="app"),
        _taking(2, "p point", "double precision", "select $1[0]", schema="app"),
        _taking(3, "p app.point", "integer", "select $1.id", schema="app"),
        _taking(
            4,
            "n integer",
            "double precision",
            "\ndeclare v point := '(1,2)';\nbegin\n  return v[0];\nend\n",
            language="plpgsql",
            schema="app",
        ),
    ]
    source = SourceRoutines(
        "app",
        routines,
        [],
        {"point": "r", "xml": "v"},
        {},
        builtin_types=frozenset({"xml", "point", "text", "int4", "float8"}),
    )
    xml, point, row, declared = rewrite(source, names, final_schema="public").routines
    assert xml.problems == point.problems == row.problems == []
    assert declared.problems == [], declared.problems
    assert "declare v point :=" in declared.definition
    assert "(arg xml)" in xml.definition
    assert "(p point)" in point.definition
    assert "(p point)" not in row.definition and "point" in row.definition


def test_a_parameter_named_like_a_later_keyword_is_read() -> None:
    # PostgreSQL 15 takes json as a parameter's name and prints it bare;
    # pglast's grammar (PostgreSQL 17's) made it a keyword (Parse Server's
    # json_object_set_key, PostgREST's varied_arguments).
    sql, plpgsql = rewrite(
        SourceRoutines(
            "public",
            [
                _taking(
                    1,
                    "json jsonb",
                    "jsonb",
                    "select json || jsonb_build_object('n', 1)",
                ),
                _taking(
                    2,
                    "json jsonb",
                    "jsonb",
                    "\nbegin\n  return json || (select to_jsonb(count(*)) "
                    'from "Users");\nend\n',
                    language="plpgsql",
                ),
            ],
            [],
            _RELATIONS,
            {},
        ),
        NAMES,
        final_schema="public",
    ).routines
    assert sql.problems == plpgsql.problems == []
    # Each word read in its place stands for itself alone.
    from pgshift.sqltree import parse_tree

    tree = str(parse_tree("select json_value(a), json_table, json_query from t"))
    assert (
        tree.index("json_value") < tree.index("json_table") < tree.index("json_query")
    )
    assert "f1(json jsonb)" in sql.definition
    assert "select json || jsonb_build_object" in sql.definition
    assert "return json || (select to_jsonb(count(*)) from" in plpgsql.definition
    assert '"Users"' not in plpgsql.definition


def test_a_routine_over_the_row_type_of_a_table_left_out_needs_review() -> None:
    # PostgREST's ov_json_trans(application_json, ov_json): with the table
    # --exclude left out, the target has no such type, and the publish failed.
    routine = _taking(1, "r legacy", "integer", "select 1")
    relations = {**_RELATIONS, "legacy": "r"}
    done = rewrite(
        SourceRoutines("public", [routine], [], relations, {}),
        NAMES,
        final_schema="public",
    ).routines[0]
    assert [p.reason for p in done.problems] == [
        "names the row type of table legacy, which is not migrated"
    ]


def _in_app(oid: int, header: str, body: str, language: str = "sql") -> Routine:
    routine = _plpgsql(oid, f"f{oid}", header, body)
    routine.language = language
    routine.source = routine.source.replace("public.", "app.", 1).replace(
        "plpgsql", language
    )
    routine.identity = f"app.f{oid}()"
    return routine


def test_names_qualified_with_the_source_schema_are_rewritten_or_flagged() -> None:
    # MusicBrainz: its collation and text search configuration move into
    # the final schema with the tables. An identifier qualifying a name is
    # rewritten where the parser places it; a string is flagged, never kept.
    collate, config, plpgsql = _moved(
        _in_app(1, "\n RETURNS text", "select lower($1 collate app.natural)"),
        _in_app(
            2, "\n RETURNS tsvector", "select to_tsvector('app.simple2', app.f1($1))"
        ),
        _in_app(
            3,
            "\n RETURNS integer",
            "\ndeclare n integer;\nbegin\n  select count(*) into n from app.artist a"
            "\n  where a.name = 'x' collate app.natural;\n"
            "  perform 1 from pg_class where oid = 'app.artist'::regclass;"
            "\n  return n;\nend\n",
            "plpgsql",
        ),
    )
    assert collate.definition.split("$function$")[1] == (
        f"select lower($1 collate {SCHEMA}.natural)"
    )
    assert not collate.problems
    assert config.definition.split("$function$")[1] == (
        f"select to_tsvector('app.simple2', {SCHEMA}.f1($1))"
    )
    assert [p.describe() for p in config.problems] == [
        "line 1: the string 'app.simple2' names schema app, whose objects are "
        "in the final schema on the target; strings are not rewritten"
    ]
    assert f"from {SCHEMA}.artist a\n  where a.name = 'x' collate {SCHEMA}.natural" in (
        plpgsql.definition
    )
    assert [p.describe() for p in plpgsql.problems] == [
        "line 6: the string 'app.artist' names schema app, whose objects are in "
        "the final schema on the target; strings are not rewritten"
    ]
    # Into a final schema of the source schema's name, a string means what
    # it meant.
    kept = _in_app(2, "\n RETURNS tsvector", "select to_tsvector('app.simple2', $1)")
    source = SourceRoutines("app", [kept], [], {}, {})
    names = NameMap(source_name="app", source_schema="app", tables={})
    assert rewrite(source, names, final_schema="app").routines[0].problems == []


def test_a_search_path_naming_the_final_schema_twice_names_it_once() -> None:
    # 'musicbrainz', 'public' migrated into public: 'public' once, first.
    for header, expected in (
        (
            "\n RETURNS integer\n SET search_path TO 'app', 'public'",
            f" SET search_path TO {SCHEMA}\n",
        ),
        (
            "\n RETURNS integer\n SET search_path TO 'public', 'app', 'pg_temp'",
            " SET search_path TO 'public', 'pg_temp'\n",
        ),
        (
            "\n RETURNS integer\n SET search_path TO 'app', 'ext'",
            f" SET search_path TO {SCHEMA}, 'ext'\n",
        ),
    ):
        (routine,) = _moved(_in_app(1, header, "select 1"))
        assert not routine.problems
        assert expected in routine.definition, routine.definition


def test_a_table_not_migrated_and_unplaced_names_are_flagged() -> None:
    routine = _rewrite('select count(*)::int from "Legacy"', language="sql")
    assert [p.reason for p in routine.problems] == [
        "reads table Legacy, which is not migrated"
    ]
    # A block labelled with a renamed table's name: pgshift cannot place it.
    labelled = _rewrite('\n<<"Users">>\nbegin\n  return 1;\nend\n')
    assert [p.line for p in labelled.problems] == [2]
    assert "cannot tell what it refers to" in labelled.problems[0].reason


def _in_final(routine: Routine) -> str:
    """A rewritten body, the final schema spelled ``final``."""
    return routine.definition.replace(SCHEMA, "final").split("$function$")[1]


def test_a_bodys_tables_are_the_final_schemas_whatever_the_search_path() -> None:
    # The previous application runs with a compatibility schema first on its
    # search_path (run.py compat), whose views have the source's table names
    # and columns: a migrated table or view a body names unqualified, and
    # its row type, is written qualified with the final schema where such a
    # view could take its target name (orders keeps its name, not its
    # columns); "Users" becomes users, which no view is named, and stays
    # unqualified, as does another schema's relation.
    routine = _rewrite(
        '\ndeclare\n  a "Users"%rowtype;\n  b orders."totalCents"%type;\n'
        '  c public."Posts"%rowtype;\n  d "Users";\n  e constant orders := null;\n'
        "  f a%type;\nbegin\n"
        '  merge into orders o using "Posts" p on o.id = p.id\n'
        "    when matched then delete;\n"
        '  delete from "Users" where "Users".id = 1;\n'
        '  perform null::"Users", (select count(*) from "P"."Users");\n'
        "  return 1;\nend\n"
    )
    assert routine.problems == []
    assert _in_final(routine) == (
        "\ndeclare\n  a users%rowtype;\n  b final.orders.total_cents%type;\n"
        "  c public.posts%rowtype;\n  d users;\n"
        "  e constant final.orders := null;\n  f a%type;\nbegin\n"
        "  merge into final.orders o using posts p on o.id = p.id\n"
        "    when matched then delete;\n"
        "  delete from users where users.id = 1;\n"
        '  perform null::users, (select count(*) from "P"."Users");\n'
        "  return 1;\nend\n"
    )
    sql = _rewrite(
        'select count(*)::int from "Users" u where u."fullName" <> \'\'',
        language="sql",
    )
    assert _in_final(sql) == (
        "select count(*)::int from users u where u.full_name <> ''"
    )
    # The routine's header is bound when it is created: its types stay as
    # the build's search_path finds them. Landing in a schema of the source
    # schema's name, a qualifier stays as written.
    typed = _rewrite('select * from "Users"', "sql", 'SETOF public."Users"')
    assert typed.definition.startswith(
        f"CREATE OR REPLACE FUNCTION {SCHEMA}.f()\n RETURNS SETOF public.users\n"
    )
    assert _in_final(typed) == "select * from users"


def test_ctes_variables_and_temporary_tables_named_like_a_table_stay() -> None:
    # A CTE, a PL/pgSQL variable and a temporary table the body creates are
    # found before the schema's tables: named like one, they stay unqualified.
    routine = _rewrite(
        "\ndeclare\n  orders integer;\nbegin\n"
        "  with orders as (select 1 as id) select count(*) into orders from orders;\n"
        '  create temp table "Posts" (id int);\n'
        '  insert into "Posts" select id from orders o where o.id = orders;\n'
        "  return orders;\nend\n"
    )
    assert routine.problems == []
    assert _in_final(routine) == (
        "\ndeclare\n  orders integer;\nbegin\n"
        "  with orders as (select 1 as id) select count(*) into orders from orders;\n"
        "  create temp table posts (id int);\n"
        "  insert into posts select id from final.orders o where o.id = orders;\n"
        "  return orders;\nend\n"
    )
    # A trigger's transition table, likewise.
    trigger = Trigger(
        table="Posts",
        name="posts_gone",
        function_oid=1,
        function_schema="public",
        function_name="f",
        enabled="O",
        source=(
            'CREATE TRIGGER posts_gone AFTER DELETE ON public."Posts" REFERENCING '
            "OLD TABLE AS orders FOR EACH STATEMENT EXECUTE FUNCTION public.f()"
        ),
    )
    audit = _rewrite(
        '\nbegin\n  insert into "Users" (id) select id from orders;\n'
        "  return null;\nend\n",
        returns="trigger",
        triggers=[trigger],
    )
    assert audit.problems == []
    assert "insert into users (id) select id from orders;" in _in_final(audit)
    cte = _rewrite(
        "with orders as (select 1 as id) select count(*)::int from orders",
        language="sql",
    )
    assert cte.problems == []
    assert _in_final(cte) == (
        "with orders as (select 1 as id) select count(*)::int from orders"
    )


def test_trigger_function_fields_follow_the_trigger_table() -> None:
    trigger = Trigger(
        table="Posts",
        name="posts_touch",
        function_oid=1,
        function_schema="public",
        function_name="f",
        enabled="D",
        source=(
            'CREATE TRIGGER posts_touch BEFORE UPDATE OF "userId" ON public."Posts" '
            'FOR EACH ROW WHEN ((old."userId" IS DISTINCT FROM new."userId")) '
            "EXECUTE FUNCTION public.f()"
        ),
    )
    body = '\nbegin\n  NEW."userId" := OLD."userId" + 1;\n  return NEW;\nend\n'
    routine = _plpgsql(1, "f", "\n RETURNS trigger", body)
    source = SourceRoutines("public", [routine], [trigger], {"Posts": "r"}, {})
    done = rewrite(source, NAMES)
    # "userId" is user_id in orders but author_id in Posts, whose trigger
    # calls the function: NEW and OLD are rows of Posts.
    assert not done.routines[0].problems
    assert "NEW.author_id := OLD.author_id + 1;" in done.routines[0].definition
    created = done.triggers[0]
    assert not created.problems
    assert created.definition.replace(SCHEMA, "s") == (
        "CREATE TRIGGER posts_touch BEFORE UPDATE OF author_id ON s.posts "
        "FOR EACH ROW WHEN (old.author_id IS DISTINCT FROM new.author_id) "
        "EXECUTE PROCEDURE s.f()"
    )
    assert created.state_clause == "disable trigger"


def test_insert_and_update_columns_follow_their_table() -> None:
    routine = _rewrite(
        '\nbegin\n  insert into "Posts" ("userId", id) values (1, 2);\n'
        '  update orders set "userId" = 3, "totalCents" = "totalCents" + 1 '
        "where id = 2;\n"
        "  insert into orders (id) values (1) on conflict (id) do update set "
        '"totalCents" = excluded."totalCents";\n  return 1;\nend\n'
    )
    assert not routine.problems
    assert _body(routine) == (
        "\nbegin\n  insert into posts (author_id, id) values (1, 2);\n"
        "  update public.orders set user_id = 3, total_cents = total_cents + 1 "
        "where id = 2;\n"
        "  insert into public.orders (id) values (1) on conflict (id) do update set "
        "total_cents = excluded.total_cents;\n  return 1;\nend\n"
    )


def test_a_parameter_named_like_a_renamed_column_is_qualified() -> None:
    body = 'select count(*)::int from orders where "userId" = user_id'
    definition = (
        "CREATE OR REPLACE FUNCTION public.f(user_id integer)\n RETURNS integer\n"
        f" LANGUAGE sql\nAS $function${body}$function$\n"
    )
    routine = Routine(
        oid=1,
        kind="function",
        name="f",
        arguments="user_id integer",
        language="sql",
        source=definition,
        body=body,
        argument_names=["user_id"],
        identity="public.f(integer)",
    )
    done = rewrite(SourceRoutines("public", [routine], [], {}, {}), NAMES)
    assert not done.routines[0].problems
    # Left as it was, user_id would be the renamed column on the target.
    assert _body(done.routines[0]) == (
        "select count(*)::int from public.orders where user_id = f.user_id"
    )


def test_an_into_target_naming_a_renamed_field_is_flagged() -> None:
    routine = _rewrite(
        '\nbegin\n  select 1 into NEW."fullName" from "Users";\n  return NEW;\nend\n',
        returns="trigger",
    )
    assert [p.line for p in routine.problems] == [3]


def test_a_sql_standard_body_is_renamed_in_the_definition() -> None:
    definition = (
        'CREATE OR REPLACE FUNCTION public.f()\n RETURNS SETOF public."Users"\n'
        ' LANGUAGE sql\nBEGIN ATOMIC\n SELECT "Users".id,\n    "Users"."fullName"\n'
        '   FROM public."Users"\n  WHERE ("Users"."fullName" <> \'fullName\'::text);\n'
        "END\n"
    )
    routine = Routine(
        oid=1,
        kind="function",
        name="f",
        arguments="",
        language="sql",
        source=definition,
        body="",
        argument_names=[],
        identity="public.f()",
    )
    done = rewrite(SourceRoutines("public", [routine], [], {}, {}), NAMES)
    assert not done.routines[0].problems
    assert done.routines[0].definition.replace(SCHEMA, "s") == (
        "CREATE OR REPLACE FUNCTION s.f()\n RETURNS SETOF s.users\n"
        " LANGUAGE sql\nBEGIN ATOMIC\n SELECT users.id,\n    users.full_name\n"
        "   FROM s.users\n  WHERE (users.full_name <> 'fullName'::text);\n"
        "END\n"
    )


def test_a_string_naming_a_renamed_relation_is_flagged() -> None:
    routine = _rewrite(
        "select count(*)::int from pg_class where oid = '\"Users\"'::regclass "
        "or oid = to_regclass('public.\"Posts\"')",
        language="sql",
    )
    assert [p.reason.split(",")[0] for p in routine.problems] == [
        "the string '\"Users\"' names the relation Users",
        "the string 'public.\"Posts\"' names the relation Posts",
    ]


def _sequence(name: str) -> SequenceMap:
    """A bigint sequence of the schema that keeps its name."""
    return SequenceMap(
        source=name,
        name=name,
        data_type="bigint",
        start=1,
        increment=1,
        minimum=1,
        maximum=2**63 - 1,
        cache=1,
        cycle=False,
        serial=False,
    )


def test_a_sequence_the_target_does_not_get_is_flagged() -> None:
    """nextval() of a sequence left out with its excluded table would fail
    on the target at the first call: the routine needs review; one the
    target gets, under the same name, is kept as it is."""
    body = "select nextval('legacy_id_seq')::int + nextval('kept_seq')::int"
    relations = {**_RELATIONS, "legacy_id_seq": "S", "kept_seq": "S"}
    names = NameMap(
        source_name="app",
        source_schema="public",
        tables=dict(NAMES.tables),
        sequences={"kept_seq": _sequence("kept_seq")},
    )
    routine = _rewrite(body, language="sql", names=names, relations=relations)
    assert [p.reason.split(",")[0] for p in routine.problems] == [
        "the string 'legacy_id_seq' names the relation legacy_id_seq"
    ]
    names.sequences["legacy_id_seq"] = _sequence("legacy_id_seq")
    routine = _rewrite(body, language="sql", names=names, relations=relations)
    assert routine.problems == []
    assert _body(routine) == body


def test_a_renamed_name_compared_as_a_string_is_flagged() -> None:
    # An audit trigger's test of its table, and its read of a column through
    # the row made JSON: neither matches on the target, where the table is
    # users and the key full_name.
    body = (
        "\nbegin\n  if TG_TABLE_NAME = 'Users' then\n    return NEW;\n  end if;\n"
        "  if to_jsonb(NEW) ->> 'fullName' is null then\n    return NULL;\n"
        "  end if;\n  if TG_TABLE_NAME = 'fullName' then\n    return NULL;\n"
        "  end if;\n  return NEW;\nend\n"
    )
    routine = _rewrite(body, returns="trigger")
    assert [(p.line, p.reason.split(";")[0]) for p in routine.problems] == [
        (
            3,
            "the string 'Users' is the source name of Users, whose name changes "
            "on the target",
        ),
        (
            6,
            "the key 'fullName' of the row made JSON is the source name of a "
            "column whose name changes on the target",
        ),
    ]
    assert "reviewed_routines:" in routine.problems[0].reason
    # A string that only looks like a table's name (a value of the
    # application's, 'Users' the name of a kind of account): listed under
    # reviewed_routines, the routine is created with its strings as written,
    # and says so.
    routine = _rewrite(body, returns="trigger", reviewed=("f",))
    assert routine.problems == []
    assert routine.notes == [
        "line 3: reviewed in the override file: the string 'Users' kept as written",
        "line 6: reviewed in the override file: the key 'fullName' kept as written",
    ]
    assert "TG_TABLE_NAME = 'Users'" in _body(routine)


def test_on_conflict_on_constraint_takes_the_keys_target_name() -> None:
    posts = NAMES.tables["Posts"]
    posts.keys = [
        KeyMap("Posts_pkey", "posts_pkey", "primary_key", ["id"], "PRIMARY KEY (id)")
    ]
    try:
        routine = _rewrite(
            '\nbegin\n  insert into "Posts" (id) values (1)\n'
            '    on conflict on constraint "Posts_pkey" do nothing;\n'
            '  insert into "Posts" (id) values (2)\n'
            '    on conflict on constraint "Posts_gone" do nothing;\n'
            "  return 1;\nend\n"
        )
    finally:
        posts.keys = []
    assert "on conflict on constraint posts_pkey do nothing" in _body(routine)
    # A constraint the table does not have on the target is never guessed.
    assert [(p.line, p.reason) for p in routine.problems] == [
        (6, 'ON CONFLICT ON CONSTRAINT "Posts_gone": no such key on "Posts"')
    ]


@pytest.mark.parametrize("language", ["plpgsql", "sql"])
def test_on_conflict_columns_take_their_target_names(language: str) -> None:
    """A Prisma-style upsert (Civitai's ``insert_tag_on_image``): the
    conflict target's columns are the table's, renamed with it."""
    statement = (
        'insert into "Posts" (id, "userId") values (1, 2)\n'
        '    on conflict ("userId", id)\n'
        '    do update set "userId" = excluded."userId"'
    )
    body = (
        f"\nbegin\n  {statement};\n  return 1;\nend\n"
        if language == "plpgsql"
        else f"\n  {statement}\n  returning id;\n"
    )
    routine = _rewrite(body, language)
    assert routine.problems == []
    assert (
        "on conflict (author_id, id)\n    do update set author_id = excluded.author_id"
    ) in _body(routine)


def test_a_view_read_by_a_body_takes_its_target_names() -> None:
    view = ViewMap(
        source="activeUsers",
        name="active_users",
        kind="view",
        columns={"id": "id", "fullName": "full_name"},
        types={"id": "integer", "full_name": "text"},
        definition="",
    )
    names = dataclasses.replace(NAMES, views={"activeUsers": view})
    relations = {"Users": "r", "orders": "r", "activeUsers": "v", "oldUsers": "v"}

    def rewritten(body: str, returns: str = "integer") -> Routine:
        return _rewrite(body, "sql", returns, names=names, relations=relations)

    routine = rewritten(
        'select count(*)::int from "activeUsers" a where a."fullName" <> \'\''
    )
    assert not routine.problems
    assert _body(routine) == (
        "select count(*)::int from active_users a where a.full_name <> ''"
    )
    # A view left out of the migration is never guessed at.
    left_out = rewritten('select count(*)::int from "oldUsers"')
    assert [p.reason for p in left_out.problems] == [
        "reads view oldUsers, which is not migrated"
    ]
    # A result type naming a view is bound when the routine is created, and
    # the publish creates the routines before the views.
    typed = rewritten(
        'select * from "activeUsers"', returns='SETOF public."activeUsers"'
    )
    assert any("names view activeUsers" in p.reason for p in typed.problems)


def _plpgsql(oid: int, name: str, header: str, body: str) -> Routine:
    return Routine(
        oid=oid,
        kind="function",
        name=name,
        arguments="",
        language="plpgsql",
        source=(
            f"CREATE OR REPLACE FUNCTION public.{name}(){header}\n"
            f" LANGUAGE plpgsql\nAS $function${body}$function$\n"
        ),
        body=body,
        argument_names=[],
        identity=f"public.{name}()",
    )


def test_what_calls_a_routine_needing_review_needs_review_too() -> None:
    # helper() is not created (dynamic SQL), so step() calling it, top()
    # calling step(), an aggregate over step() and the trigger executing
    # top() would fail on the target: each is flagged, none created.
    helper = _plpgsql(
        1,
        "helper",
        "\n RETURNS integer",
        "\nbegin\n  execute 'select count(*) from \"Users\"';\n  return 1;\nend\n",
    )
    step = _plpgsql(
        2, "step", "\n RETURNS integer", "\nbegin\n  return helper() + 1;\nend\n"
    )
    top = _plpgsql(
        3,
        "top",
        "\n RETURNS trigger",
        '\nbegin\n  NEW."totalCents" := step();\n  return NEW;\nend\n',
    )
    total = Routine(
        oid=4,
        kind="aggregate",
        name="total",
        arguments="integer",
        language="aggregate",
        source="CREATE AGGREGATE public.total(integer) (SFUNC = public.s, STYPE = int)",
        body="",
        argument_names=[],
        identity="public.total(integer)",
        needs=[2],
    )
    trigger = Trigger(
        table="orders",
        name="orders_top",
        function_oid=3,
        function_schema="public",
        function_name="top",
        enabled="O",
        source=(
            "CREATE TRIGGER orders_top BEFORE INSERT ON public.orders "
            "FOR EACH ROW EXECUTE FUNCTION public.top()"
        ),
    )
    source = SourceRoutines(
        "public", [helper, step, top, total], [trigger], {"orders": "r"}, {}
    )
    done = rewrite(source, NAMES)
    reasons = {r.name: [p.reason for p in r.problems] for r in done.routines}
    assert reasons["step"] == ["it calls helper(), which needs review"]
    assert reasons["top"] == ["it calls step(), which needs review"]
    assert reasons["total"] == ["it calls step(), which needs review"]
    assert [p.reason for p in done.triggers[0].problems] == [
        "it executes top(), which needs review"
    ]


def test_the_tables_a_routine_reads_include_those_of_routines_it_calls() -> None:
    # A check calling outer() reads orders through inner(): the publish adds
    # it. One calling pure() reads no table: it stays in the contract.
    inner = _plpgsql(
        1,
        "inner",
        "\n RETURNS integer",
        '\nbegin\n  return (select count(*) from orders where "userId" = 1);\nend\n',
    )
    outer = _plpgsql(
        2, "outer", "\n RETURNS boolean", "\nbegin\n  return inner() > 0;\nend\n"
    )
    pure = _plpgsql(
        3, "pure", "\n RETURNS integer", "\nbegin\n  return length('orders');\nend\n"
    )
    source = SourceRoutines("public", [inner, outer, pure], [], _RELATIONS, {})
    done = rewrite(source, NAMES, final_schema="public").routines
    assert [r.problems for r in done] == [[], [], []]
    assert reading_tables(done, "outer()") == ["orders"]
    assert reading_tables(done, "inner()") == ["orders"]
    assert reading_tables(done, "pure()") == []


def test_arrays_of_types_the_plpgsql_parser_cannot_resolve_are_read() -> None:
    # pglast's PL/pgSQL parser takes an unknown type for record, and refuses
    # an array of one as an argument, result or variable.
    routine = _rewrite(
        '\ndeclare\n  d hstore[];\n  e public."moodKind"[];\nbegin\n'
        '  return (select count(*) from "Users" where "fullName" = d[1]::text);\nend\n'
    )
    assert routine.problems == []
    assert "from users where full_name = d[1]::text" in _body(routine)
    assert "d hstore[];" in _body(routine) and '"moodKind"[]' in _body(routine)


def test_a_variadic_parameter_of_any_array_type_is_read() -> None:
    # Logto's check functions take VARIADIC arrays of an enum; the parser
    # refuses a VARIADIC parameter it cannot see to be an array.
    for parameter in ('VARIADIC kinds "moodKind"[]', "VARIADIC kinds integer[]"):
        body = (
            '\nbegin\n  return (select count(*) from "Users"'
            ' where "fullName" = any(kinds::text[]));\nend\n'
        )
        routine = Routine(
            oid=1,
            kind="function",
            name="f",
            arguments=parameter,
            language="plpgsql",
            source=(
                f"CREATE OR REPLACE FUNCTION public.f({parameter})\n"
                f" RETURNS integer\n LANGUAGE plpgsql\nAS $function${body}$function$\n"
            ),
            body=body,
            argument_names=["kinds"],
            identity=f"public.f({parameter})",
        )
        done = rewrite(SourceRoutines("public", [routine], [], _RELATIONS, {}), NAMES)
        (rewritten,) = done.routines
        assert rewritten.problems == [], parameter
        assert "where full_name = any(kinds::text[])" in rewritten.definition
        assert parameter in rewritten.definition


def test_the_output_names_of_an_insert_select_stay_as_they_are() -> None:
    # INSERT takes its SELECT's columns by position: an alias there means
    # nothing and is left alone (cal.com's denormalizing trigger). A SELECT
    # INTO a record is another matter: its aliases name the record's fields.
    routine = _rewrite(
        '\nbegin\n  insert into orders (id, "userId") '
        'select 1, u."fullName" as "userId" from "Users" u\n'
        '  union all select 2, 3 as "totalCents";\n  return 1;\nend\n'
    )
    assert routine.problems == []
    assert (
        'insert into public.orders (id, user_id) select 1, u.full_name as "userId" '
        "from users u"
    ) in _body(routine)
    ordered = _rewrite(
        '\nbegin\n  insert into orders (id, "userId") '
        'select 1, u.id as "userId" from "Users" u order by "userId";\n'
        "  return 1;\nend\n"
    )
    assert [p.line for p in ordered.problems] == [3]
    into = _rewrite(
        '\ndeclare r record;\nbegin\n  select u."fullName" as "userId" into r '
        'from "Users" u;\n  return 1;\nend\n'
    )
    assert [p.line for p in into.problems] == [4]


def test_columns_of_another_schemas_relations_keep_their_names() -> None:
    # "P"."Users" is the platform's: its columns are not the map's, though
    # migrated tables have columns of those names.
    aliased = _rewrite(
        'select count(*)::int from "Users" m join "P"."Users" u '
        'on u."fullName" = m."fullName"',
        language="sql",
    )
    assert aliased.problems == []
    assert 'join "P"."Users" u on u."fullName" = m.full_name' in _body(aliased)
    named = _rewrite(
        'select count(*)::int from "P"."Users" where "P"."Users"."fullName" <> \'\'',
        language="sql",
    )
    assert named.problems == [] and '"P"."Users"."fullName"' in _body(named)
    # Unqualified, it may be either: left for review.
    bare = _rewrite(
        'select count(*)::int from "P"."Users" where "fullName" <> \'\'',
        language="sql",
    )
    assert [p.line for p in bare.problems] == [1]
    assert "qualify it on the source" in bare.problems[0].reason


def test_new_and_old_of_another_schemas_table_keep_their_names() -> None:
    # A trigger on the platform's table executes the function: NEW is a row
    # of that table (Supabase's handle_new_user on auth.users).
    body = (
        '\nbegin\n  insert into "Users" (id, "fullName") '
        'values (NEW.id, NEW."fullName");\n  NEW."fullName" := trim(NEW."fullName");'
        "\n  return NEW;\nend\n"
    )
    routine = _plpgsql(1, "f", "\n RETURNS trigger", body)
    routine.foreign_trigger = True
    done = rewrite(SourceRoutines("public", [routine], [], {"Users": "r"}, {}), NAMES)
    assert done.routines[0].problems == []
    text = _body(done.routines[0])
    assert (
        'insert into public.users (id, full_name) values (NEW.id, NEW."fullName")'
    ) in text
    assert 'NEW."fullName" := trim(NEW."fullName")' in text


def test_a_declared_type_of_a_schema_other_than_public_is_read(
    new_database: object,
) -> None:
    # graphile-worker's add_job declares a variable of its schema's table
    # type (`v_job graphile_worker._private_jobs`): pglast's PL/pgSQL parser
    # looks up only public and pg_catalog, and the function was left for
    # review, though nothing in it is renamed. Landing in a schema of the
    # source schema's name, its qualifiers stay as written.
    source = new_database()  # type: ignore[operator]
    query(
        source,
        'create schema s; create table s.t (id int primary key, "camelCol" int);'
        "create function s.f(a s.t, b int) returns s.t language plpgsql as $$ "
        "declare v s.t; w constant s.t := null; begin select * into v from s.t "
        'where "camelCol" = b limit 1; return v; end $$;'
        "create function s.g() returns setof s.t language plpgsql as $$ "
        "declare v s.t; begin return query select * from s.t; end $$",
    )
    with psycopg2.connect(source) as conn, conn.cursor() as cursor:
        names = build_map(read_catalog(cursor, "s"), Overrides())
        names.final_schema = "s"
        done = rewrite(read_routines(cursor, "s"), names, final_schema="s")
    f, g = done.routines
    assert (f.problems, g.problems) == ([], [])
    assert f.definition.endswith(
        "AS $function$ declare v s.t; w constant s.t := null; begin select * "
        "into v from s.t where camel_col = b limit 1; return v; end $function$\n"
    )
    assert "declare v s.t; begin return query select * from s.t; end" in g.definition
