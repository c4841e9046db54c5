"""The source's owners and privileges arrive, for the roles the target has.

The source (``fixtures/privileges_source.sql``) is on a server of its own,
as a production source is: roles belong to a server, so a role the source
grants to and the target lacks (``pv_ghost``), or an owner it lacks
(``pv_legacy``), is real only across two servers (a role cannot be dropped
on a shared server while the source database still holds its grants).
After one ``migrate``, each role runs the same statements on both sides
(``SET ROLE``, in a transaction rolled back) and is allowed and refused
alike; the missing role and owner are listed with their statements; a
second ``migrate`` keeps every privilege once, the team's own grant
included; and a privilege taken away on the target fails verify.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from pgshift.demo.cluster import FAST_TEST_SETTINGS, Cluster, find_server_binaries
from pgshift.mapping import NameMap
from pgshift.verify import privilege_drift

from migration import ProjectCopy, copy_project, make_settings, query

FIXTURE = Path(__file__).parent / "fixtures" / "privileges_source.sql"

BOTH = ("pv_owner", "pv_reader", "pv_writer", "pv_auditor", "pv_team")
SOURCE_ONLY = ("pv_ghost", "pv_legacy")

ACL = """
select c.relname::text, c.relkind::text, pg_get_userbyid(c.relowner),
       coalesce(array_to_string(array(select unnest(c.relacl)::text order by 1),
                                ','), ''),
       coalesce((select string_agg(a.attname || '=' || a.attacl::text, ';'
                                   order by a.attnum)
                 from pg_attribute a
                 where a.attrelid = c.oid and a.attacl is not null), '')
from pg_class c
where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'S')
order by 1
"""

ROUTINE_ACL = """
select p.proname::text, pg_get_userbyid(p.proowner), coalesce(p.proacl::text, '')
from pg_proc p where p.pronamespace = 'public'::regnamespace order by 1
"""

CASES = [
    # (role, statements on the source, statements on the target, allowed)
    (
        "pv_reader",
        ['select * from "userAccounts"'],
        ["select * from user_accounts"],
        True,
    ),
    (
        "pv_reader",
        ["""insert into "userAccounts" ("displayName") values ('x')"""],
        ["insert into user_accounts (display_name) values ('x')"],
        False,
    ),
    ("pv_reader", ['select * from "orderItems"'], ["select * from order_items"], True),
    ("pv_reader", ['delete from "orderItems"'], ["delete from order_items"], False),
    (
        "pv_writer",
        ['select "id", "displayName" from "userAccounts"'],
        ["select id, display_name from user_accounts"],
        True,
    ),
    (
        "pv_writer",
        ['select "emailAddress" from "userAccounts"'],
        ["select email_address from user_accounts"],
        False,
    ),
    (
        "pv_writer",
        ["""insert into "userAccounts" ("displayName") values ('x')"""],
        ["insert into user_accounts (display_name) values ('x')"],
        True,
    ),
    (
        "pv_writer",
        [
            """insert into "userAccounts" ("displayName", "emailAddress") values ('x', 'y')"""
        ],
        ["insert into user_accounts (display_name, email_address) values ('x', 'y')"],
        False,
    ),
    (
        "pv_writer",
        ["""update "userAccounts" set "displayName" = 'y'"""],
        ["update user_accounts set display_name = 'y'"],
        True,
    ),
    (
        "pv_writer",
        ["""update "userAccounts" set "emailAddress" = 'y'"""],
        ["update user_accounts set email_address = 'y'"],
        False,
    ),
    (
        "pv_writer",
        ["""select nextval('"userAccounts_id_seq"')"""],
        ["select nextval('user_accounts_id_seq')"],
        True,
    ),
    (
        "pv_reader",
        ["""select nextval('"invoiceNumberSeq"')"""],
        ["select nextval('invoice_number_seq')"],
        True,
    ),
    (
        "pv_writer",
        ["""select nextval('"invoiceNumberSeq"')"""],
        ["select nextval('invoice_number_seq')"],
        False,
    ),
    # An identity column's sequence: drawn from, read and set by the roles
    # the source grants it to.
    (
        "pv_auditor",
        ["""select nextval('"orderItems_id_seq"')"""],
        ["select nextval('order_items_id_seq')"],
        True,
    ),
    (
        "pv_writer",
        ['select setval(\'"orderItems_id_seq"\', last_value) from "orderItems_id_seq"'],
        ["select setval('order_items_id_seq', last_value) from order_items_id_seq"],
        True,
    ),
    (
        "pv_reader",
        ["""select nextval('"orderItems_id_seq"')"""],
        ["select nextval('order_items_id_seq')"],
        False,
    ),
    ("pv_auditor", ['select * from "orderItems"'], ["select * from order_items"], True),
    # WITH GRANT OPTION: the auditor passes it on, and the writer then reads.
    (
        "pv_auditor",
        [
            'grant select on "orderItems" to pv_writer',
            "set role pv_writer",
            'select * from "orderItems"',
        ],
        [
            "grant select on order_items to pv_writer",
            "set role pv_writer",
            "select * from order_items",
        ],
        True,
    ),
    (
        "pv_writer",
        ['grant select on "orderItems" to pv_team'],
        ["grant select on order_items to pv_team"],
        False,
    ),
    # PUBLIC.
    ("pv_team", ['select * from "auditLog"'], ["select * from audit_log"], True),
    (
        "pv_team",
        ['select * from "userAccounts"'],
        ["select * from user_accounts"],
        False,
    ),
    (
        "pv_team",
        ["create table pv_new (x int)"],
        ["create table pv_new (x int)"],
        False,
    ),
    # Routines: EXECUTE as the source's ACL says, PUBLIC's taken back where
    # the source took it back.
    ("pv_reader", ["select account_count()"], ["select account_count()"], True),
    ("pv_writer", ["select account_count()"], ["select account_count()"], False),
    (
        "pv_team",
        ["select display_name_of('ada')"],
        ["select display_name_of('ada')"],
        True,
    ),
    # Types: their owner alters them, others may not; USAGE of a domain as
    # the source grants it (a column of it in a table of one's own).
    (
        "pv_owner",
        [
            """alter type "loginType" add value 'oidc'""",
            """alter type "namePair" add attribute "note" text""",
            'alter type "priceRange" rename to "priceSpan"',
        ],
        [
            "alter type login_type add value 'oidc'",
            "alter type name_pair add attribute note text",
            "alter type price_range rename to price_span",
        ],
        True,
    ),
    (
        "pv_reader",
        ["""alter type "loginType" add value 'oidc'"""],
        ["alter type login_type add value 'oidc'"],
        False,
    ),
    (
        "pv_writer",
        ['create temporary table pv_email (x "emailText")'],
        ["create temporary table pv_email (x email_text)"],
        True,
    ),
    (
        "pv_team",
        ['create temporary table pv_email (x "emailText")'],
        ["create temporary table pv_email (x email_text)"],
        False,
    ),
    # The schema's default privileges: what the owner creates, the reader reads.
    (
        "pv_owner",
        [
            'create table "newThing" (x int)',
            "create sequence pv_seq",
            "set role pv_reader",
            'select * from "newThing"',
        ],
        [
            "create table new_thing (x int)",
            "create sequence pv_seq",
            "set role pv_reader",
            "select * from new_thing",
        ],
        True,
    ),
    (
        "pv_owner",
        ["create sequence pv_seq", "set role pv_writer", "select nextval('pv_seq')"],
        ["create sequence pv_seq", "set role pv_writer", "select nextval('pv_seq')"],
        True,
    ),
    (
        "pv_owner",
        [
            'create table "newThing" (x int)',
            "set role pv_writer",
            'select * from "newThing"',
        ],
        [
            "create table new_thing (x int)",
            "set role pv_writer",
            "select * from new_thing",
        ],
        False,
    ),
]


def allowed(url: str, role: str, statements: list[str]) -> bool:
    """Whether a role may run the statements (rolled back either way)."""
    conn = psycopg2.connect(url)
    try:
        cur = conn.cursor()
        cur.execute(f"set role {role}")
        for statement in statements:
            cur.execute(statement)
        return True
    except psycopg2.errors.InsufficientPrivilege:
        return False
    finally:
        conn.rollback()
        conn.close()


def create_roles(url: str, roles: tuple[str, ...]) -> None:
    query(
        url,
        "do $$ declare r text; begin foreach r in array %s::text[] loop "
        "if not exists (select 1 from pg_roles where rolname = r) then "
        "execute format('create role %%I', r); end if; end loop; end $$",
        (list(roles),),
    )


@pytest.fixture(scope="module")
def migrated(
    pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ProjectCopy, str, str]]:
    """The fixture, scaffolded and migrated once onto the session's server.

    Yields the project copy, what scaffold printed and what migrate printed.
    """
    base = tmp_path_factory.mktemp("privileges")
    source_cluster = Cluster(base / "source", bin_dir=find_server_binaries())
    source_cluster.init()
    source_cluster.start(settings=FAST_TEST_SETTINGS)
    pg_cluster.drop_database("privileges_target")
    target = pg_cluster.create_database("privileges_target")
    try:
        source = source_cluster.create_database("app")
        create_roles(source, BOTH + SOURCE_ONLY)
        create_roles(target, BOTH)
        query(source, FIXTURE.read_text(encoding="utf-8"))
        project = ProjectCopy(
            source, target, copy_project(base / "project"), base / "state"
        )
        code, scaffolded, err = project.run("scaffold")
        assert code == 0, scaffolded + err
        code, out, err = project.run("migrate")
        assert code == 0, out[-3000:] + err[-3000:]
        yield project, scaffolded, out
    finally:
        source_cluster.stop()
        pg_cluster.drop_database("privileges_target")


def _report(project: ProjectCopy) -> dict:
    return json.loads((project.project / "MIGRATION_REPORT.json").read_text())


def test_scaffold_writes_the_statements_and_lists_what_the_target_lacks(
    migrated: tuple[ProjectCopy, str, str],
) -> None:
    project, scaffolded, _ = migrated
    macro = (
        project.project / "macros/scaffolded/pgshift_source_privileges.sql"
    ).read_text()
    assert macro.startswith("{# generated by")
    for statement in [
        'alter table " ~ schema ~ ".user_accounts owner to pv_owner',
        'grant insert (display_name) on table " ~ schema ~ ".user_accounts to pv_writer',
        'grant select on table " ~ schema ~ ".order_items to pv_auditor with grant option',
        'grant usage on sequence " ~ schema ~ ".user_accounts_id_seq to pv_writer',
        'grant usage on sequence " ~ schema ~ ".order_items_id_seq to pv_auditor',
        'grant select on table " ~ schema ~ ".audit_log to public',
        'revoke execute on routine " ~ schema ~ ".account_count() from public',
        'grant execute on routine " ~ schema ~ ".account_count() to pv_reader',
        'alter default privileges for role pv_owner in schema " ~ schema ~ " grant '
        "select on tables to pv_reader",
        'alter type " ~ schema ~ ".login_type owner to pv_owner',
        'revoke usage on type " ~ schema ~ ".email_text from public',
        'grant usage on type " ~ schema ~ ".email_text to pv_writer',
    ]:
        assert statement.replace('"', "'") in macro.replace('"', "'"), statement
    assert (
        "privileges: role pv_ghost is missing on the target; once it exists, run: "
        'grant insert on table "public".audit_log to pv_ghost'
    ) in scaffolded
    assert (
        "privileges: role pv_legacy is missing on the target; once it exists, run: "
        'alter table "public".audit_log owner to pv_legacy'
    ) in scaffolded
    assert "identity sequence" not in scaffolded, scaffolded
    checked = project.run("scaffold", "--check")
    assert checked[0] == 0, checked
    # An object the connecting role owns keeps no owner statement, so the
    # file depends on who ran scaffold: a check as an operator's own role
    # (as cutover's may be) is not a change of the source; a grant is.
    query(project.source, "create role pv_operator login superuser")
    user = urlsplit(project.source).username
    operator = dataclasses.replace(
        project, source=project.source.replace(f"//{user}@", "//pv_operator@", 1)
    )
    try:
        checked = operator.run("scaffold", "--check")
        assert checked[0] == 0, checked
        query(project.source, 'grant update on "orderItems" to pv_reader')
        checked = operator.run("scaffold", "--check")
        assert checked[0] == 1, checked
        said = checked[1] + checked[2]
        assert "pgshift_source_privileges.sql" in said
        # The grant itself is named, as the statement the target would run.
        assert "now grant update on table <final schema>.order_items to " in said
        assert "pv_reader" in said.split("now grant update", 1)[1]
    finally:
        query(project.source, 'revoke update on "orderItems" from pv_reader')
        query(project.source, "drop role pv_operator")


def test_the_grants_of_many_tables_for_a_missing_role_go_to_a_file(
    migrated: tuple[ProjectCopy, str, str], tmp_path: Path
) -> None:
    """A grant per table for a role the target lacks: a line per role, not per grant."""
    from pgshift.privileges import SCHEMA, Privileges, Statement
    from pgshift.scaffold import MISSING_ROLES_FILE, _missing_role_notes

    project, _, _ = migrated

    def grant(table: str, role: str) -> Statement:
        return Statement(
            kind="table",
            object=table,
            column="",
            grantee=role,
            privilege="select",
            grantable=False,
            roles=(role,),
            relation="table",
            source=table,
            parts=("grant select on table ", SCHEMA, f".{table} to {role}"),
        )

    statements = [grant(f"t{i}", "pv_ghost") for i in range(30)]
    statements += [grant("t0", "pv_reader"), grant("t0", "pv_legacy")]
    settings = make_settings(project.source, project.target, project_dir=tmp_path)
    notes = _missing_role_notes(settings, Privileges(statements=statements))
    path = tmp_path / MISSING_ROLES_FILE
    assert notes == [
        "role pv_ghost is missing on the target; once it exists, run its 30 "
        f"statements in {path} (the file holds the 31 statements of every "
        "missing role)",
        "role pv_legacy is missing on the target; once it exists, run its 1 "
        f"statement in {path} (the file holds the 31 statements of every "
        "missing role)",
    ]
    written = path.read_text().splitlines()
    assert len(written) == 31
    assert 'grant select on table "public".t29 to pv_ghost' in written
    assert 'grant select on table "public".t0 to pv_legacy' in written
    assert not any("pv_reader" in line for line in written)  # on the target


def test_each_role_is_allowed_and_refused_alike(
    migrated: tuple[ProjectCopy, str, str],
) -> None:
    project, _, _ = migrated
    for role, on_source, on_target, expected in CASES:
        assert allowed(project.source, role, on_source) is expected, (role, on_source)
        assert allowed(project.target, role, on_target) is expected, (role, on_target)


def test_an_identity_columns_sequence_has_the_sources_grants(
    migrated: tuple[ProjectCopy, str, str],
) -> None:
    project, _, _ = migrated
    asked = (
        "select r, p from unnest(%s::text[]) as r, "
        "unnest(array['USAGE', 'SELECT', 'UPDATE']) as p "
        "where has_sequence_privilege(r, %s, p) order by 1, 2"
    )
    roles = list(BOTH)
    on_source = query(project.source, asked, (roles, '"orderItems_id_seq"'))
    on_target = query(project.target, asked, (roles, "public.order_items_id_seq"))
    assert on_source == [
        ("pv_auditor", "USAGE"),
        ("pv_owner", "SELECT"),
        ("pv_owner", "UPDATE"),
        ("pv_owner", "USAGE"),
        ("pv_writer", "SELECT"),
        ("pv_writer", "UPDATE"),
    ]
    assert on_target == on_source


def test_owners_parity_and_the_report(migrated: tuple[ProjectCopy, str, str]) -> None:
    project, _, _ = migrated
    owners = {r[0]: r[2] for r in query(project.target, ACL)}
    migrating = query(project.target, "select current_user")[0][0]
    assert owners["user_accounts"] == "pv_owner"
    assert owners["order_items"] == "pv_owner"
    assert owners["invoice_number_seq"] == "pv_owner"
    assert owners["user_accounts_id_seq"] == "pv_owner"  # with its table
    assert owners["order_items_id_seq"] == "pv_owner"  # an identity's, too
    assert owners["audit_log"] == migrating  # pv_legacy is not on the target
    routine_owners = dict(
        query(
            project.target,
            "select proname::text, pg_get_userbyid(proowner) from pg_proc p "
            "where pronamespace = 'public'::regnamespace and not exists ("
            "select 1 from pg_depend d where d.classid = 'pg_proc'::regclass "
            "and d.objid = p.oid and d.deptype = 'i')",  # a range's constructors
        )
    )
    assert routine_owners == {"account_count": "pv_owner", "display_name_of": migrating}
    type_owners = dict(
        query(
            project.target,
            "select typname::text, pg_get_userbyid(typowner) from pg_type "
            "where typnamespace = 'public'::regnamespace and typtype in "
            "('e', 'd', 'r') or typrelid in (select oid from pg_class "
            "where relkind = 'c' and relnamespace = 'public'::regnamespace)",
        )
    )
    assert type_owners == {
        "login_type": "pv_owner",
        "name_pair": "pv_owner",
        "email_text": "pv_owner",
        "price_range": "pv_owner",
        "legacy_kind": migrating,  # pv_legacy is not on the target
    }
    report = _report(project)
    assert report["schema_differences"] == []
    assert report["kept_differences"] == []
    lines = report["privileges"]
    assert (
        "role pv_ghost is missing on the target; once it exists, run: "
        'grant select on table "public".audit_log to pv_ghost'
    ) in lines
    assert (
        "role pv_legacy is missing on the target; once it exists, run: "
        'alter table "public".audit_log owner to pv_legacy'
    ) in lines
    assert (
        "role pv_legacy is missing on the target; once it exists, run: "
        'alter routine "public".display_name_of(text) owner to pv_legacy'
    ) in lines
    assert (
        "role pv_legacy is missing on the target; once it exists, run: "
        'alter type "public".legacy_kind owner to pv_legacy'
    ) in lines
    assert len(lines) == 5, lines
    not_migrated = report["not_migrated"]
    assert (
        "database privileges app: privileges on the database itself (CONNECT, "
        "CREATE, TEMPORARY) are out of scope: grant them on the target"
    ) in not_migrated
    assert any(
        line.startswith(
            "default privileges pv_owner on tables: default privileges "
            "for the whole database are not migrated"
        )
        for line in not_migrated
    ), not_migrated
    markdown = (project.project / "MIGRATION_REPORT.md").read_text()
    assert "## Privileges not applied" in markdown


def test_a_second_migrate_keeps_every_privilege_once_and_the_teams_own(
    migrated: tuple[ProjectCopy, str, str],
) -> None:
    project, _, _ = migrated
    migrating = query(project.target, "select current_user")[0][0]
    query(
        project.target,
        "grant select on public.order_items to pv_team; "
        "grant update (email_address) on public.user_accounts to pv_team",
    )
    before = query(project.target, ACL)
    assert "pv_team=r/pv_owner" in {r[0]: r[3] for r in before}["order_items"]
    routine_acl = query(project.target, ROUTINE_ACL)
    code, out, err = project.run("migrate")
    assert code == 0, out[-3000:] + err[-3000:]
    assert query(project.target, ACL) == before
    assert query(project.target, ROUTINE_ACL) == routine_acl
    report = _report(project)
    assert report["schema_differences"] == []
    carried = report["carried_over"]
    assert "grant public.order_items to pv_team: recreated" in carried
    assert "grant public.user_accounts to pv_team: recreated" in carried
    # pgshift's own grants and owners are given again, not carried over.
    assert not [c for c in carried if "pv_reader" in c or "owner" in c], carried
    assert any(
        "order_items: role pv_team may SELECT on the target" in line
        for line in report["kept_differences"]
    ), report["kept_differences"]

    # A grant the source takes back goes on the target too, where pgshift
    # keeps the object (a standalone sequence is not rebuilt).
    query(
        project.source,
        'revoke usage, select on sequence "invoiceNumberSeq" from pv_reader',
    )
    assert project.run("scaffold")[0] == 0
    code, out, err = project.run("migrate")
    assert code == 0, out[-3000:] + err[-3000:]
    sequence = ["select nextval('invoice_number_seq')"]
    assert not allowed(project.target, "pv_reader", sequence)
    assert not allowed(
        project.source, "pv_reader", ["select nextval('\"invoiceNumberSeq\"')"]
    )
    assert _report(project)["schema_differences"] == []

    # A privilege taken away on the target, or given there, on a table or a
    # column, is a parity difference; so is an owner changed there (a table's
    # serial sequence goes with it, and is not named again).
    query(
        project.target,
        "revoke select on public.user_accounts from pv_reader; "
        "revoke update (display_name) on public.user_accounts from pv_writer; "
        "grant delete on public.order_items to pv_reader; "
        "revoke execute on function public.account_count() from pv_reader; "
        "revoke usage on type public.email_text from pv_writer; "
        "alter type public.login_type owner to current_user; "
        "revoke update on sequence public.order_items_id_seq from pv_writer; "
        "alter table public.user_accounts owner to current_user; "
        "alter view public.named_accounts owner to current_user; "
        "alter sequence public.invoice_number_seq owner to current_user; "
        "alter function public.account_count() owner to current_user",
    )
    code, out, _ = project.run("verify")
    assert code == 1
    owners = {
        "type login_type": 'ALTER TYPE "public"."login_type"',
        "table user_accounts": 'ALTER TABLE "public"."user_accounts"',
        "view named_accounts": 'ALTER VIEW "public"."named_accounts"',
        "sequence invoice_number_seq": 'ALTER SEQUENCE "public"."invoice_number_seq"',
        "routine account_count()": 'ALTER ROUTINE "public".account_count()',
    }
    for line in [
        "user_accounts: role pv_reader may SELECT on the source, not on the target",
        "user_accounts.display_name: role pv_writer may UPDATE on the source, "
        "not on the target",
        "order_items: role pv_reader may DELETE on the target, not on the source",
        "account_count(): role pv_reader may EXECUTE on the source, not on the target",
        "type email_text: role pv_writer may USAGE on the source, not on the target",
        *(
            f"{owned}: owned by pv_owner on the source, by {migrating} on the target"
            for owned in owners
        ),
        "order_items_id_seq: role pv_writer may UPDATE on the source, not on the "
        "target",
    ]:
        assert f"schema differs: {line}" in out, out
    assert len([x for x in out.splitlines() if x.startswith("schema differs")]) == 11

    # Cutover's check names the same, with the statements that undo it all.
    settings = make_settings(
        project.source,
        project.target,
        project_dir=project.project,
        state_dir=project.state,
    )
    names = NameMap.read(project.project)
    with psycopg2.connect(project.source) as s, psycopg2.connect(project.target) as t:
        lines, statements = privilege_drift(settings, names, s.cursor(), t.cursor())
    assert len(lines) == 11, lines
    for alter in owners.values():
        assert f'{alter} OWNER TO "pv_owner";' in statements, statements
    query(project.target, " ".join(statements))
    with psycopg2.connect(project.source) as s, psycopg2.connect(project.target) as t:
        assert privilege_drift(settings, names, s.cursor(), t.cursor()) == ([], [])
    assert query(
        project.target,
        "select pg_get_userbyid(relowner) from pg_class "
        "where oid = 'public.user_accounts_id_seq'::regclass",
    ) == [("pv_owner",)]


def test_a_right_that_comes_with_owning_the_database_is_named_so(
    pg_cluster: Cluster,
) -> None:
    """PostgreSQL 15's schema public belongs to pg_database_owner.

    An application role owning the source database may CREATE there
    without any grant; the difference names that, and how to close it.
    """
    from pgshift.verify.privilege_parity import _schema_lines

    create_roles(pg_cluster.url("postgres"), ("pv_db_owner",))
    source = pg_cluster.create_database("owned_source", owner="pv_db_owner")
    target = pg_cluster.create_database("owned_target")
    try:
        with (
            psycopg2.connect(source) as s,
            psycopg2.connect(target) as t,
        ):
            fixes: dict[str, str] = {}
            lines = _schema_lines(
                s.cursor(), t.cursor(), "public", "public", ["pv_db_owner"], fixes
            )
        assert lines == [
            "schema public: role pv_db_owner may CREATE on the source's schema "
            "public, not on the target's (it owns the source database, and with "
            "it schema public: make it the target database's owner too, or "
            "grant it)"
        ]
        assert all(line in fixes for line in lines)
        # A target whose schema public was given to a role: the rights of
        # the source's owner, the pseudo-role, come back with the schema.
        query(target, "alter schema public owner to pv_db_owner")
        with (
            psycopg2.connect(source) as s,
            psycopg2.connect(target) as t,
        ):
            fixes = {}
            lines = _schema_lines(
                s.cursor(), t.cursor(), "public", "public", ["pg_database_owner"], fixes
            )
        assert lines == [
            "schema public: role pg_database_owner may CREATE on the source's "
            "schema public, not on the target's (the source's schema public "
            "belongs to pg_database_owner, as PostgreSQL 15 makes it; the "
            "target's to a role: give it back to pg_database_owner on the target)"
        ]
        assert fixes[lines[0]] == 'ALTER SCHEMA "public" OWNER TO pg_database_owner;'
        # The publish grants them to it on the target's final schema (its
        # next migrations create there); the migrating role needs none.
        from pgshift.privileges import (
            SourceGrant,
            map_privileges,
            read_privileges,
        )

        with psycopg2.connect(source) as s:
            found = read_privileges(s.cursor(), "public")
        assert sorted(
            (g for g in found.grants if g.kind == "schema"),
            key=lambda g: (g.grantee, g.privilege),
        ) == [
            SourceGrant("schema", "", "", "public", "usage", False),
            SourceGrant("schema", "", "", "pv_db_owner", "create", False),
            SourceGrant("schema", "", "", "pv_db_owner", "usage", False),
        ]
        with psycopg2.connect(source) as s:
            cursor = s.cursor()
            cursor.execute("set role pv_db_owner")
            found = read_privileges(cursor, "public")
        # The owner's own rights are read whoever connects; the map leaves
        # them out when the connecting role owns the schema.
        assert found.schema_owner == found.user == "pv_db_owner"
        assert sorted(g.grantee for g in found.grants if g.kind == "schema") == [
            "public",
            "pv_db_owner",
            "pv_db_owner",
        ]
        kept = map_privileges(found, NameMap(source_name="app", source_schema="public"))
        assert {s.grantee for s in kept.statements if s.kind == "schema"} == {"public"}
    finally:
        pg_cluster.drop_database("owned_source")
        pg_cluster.drop_database("owned_target")


HARDENED_SOURCE = """
revoke all on schema public from public;
create table public.users (id bigint primary key, email text, password_hash text);
insert into users values (1, 'a@x', 'secret');
grant usage on schema public to pv_app;
grant select on users to pv_app;
grant select on users to pv_analyst;
"""
"""A source kept from PUBLIC, as hardening guides say: the analyst's grant
on the table reaches nothing without the schema's USAGE."""

OWNED_BY_A_ROLE = """
create table public.teams (id int primary key);
create table public.members (
    id int primary key, team_id int not null references public.teams (id)
);
insert into teams values (1);
alter table teams owner to pv_owner;
alter table members owner to pv_owner;
alter schema public owner to pv_owner;
"""
"""The schema and its tables owned by the application's role, whose rights
on the schema come with owning it."""

SCHEMA_ACL = """
select case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       a.privilege_type, a.is_grantable
from pg_namespace n cross join lateral aclexplode(n.nspacl) a
where n.nspname = 'public' and a.grantee <> 'pg_database_owner'::regrole
order by 1, 2
"""


def test_a_schema_kept_from_public_is_kept_from_public_on_the_target(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    """PUBLIC's rights on the final schema are the source schema's.

    The target's ``public`` gives PUBLIC USAGE, the source's none: the
    publish revokes it, records so, and a role the source kept out of the
    schema is kept out on the target too, while the source schema's owner
    keeps what owning it gave: the target's schema has another owner. A
    right the final schema gives that the source's does not, to a role or
    to PUBLIC, fails verify and cutover's check, named, with the statement
    that takes it back.
    """
    create_roles(pg_cluster.url("postgres"), ("pv_app", "pv_analyst", "pv_owner"))
    for name in ("hardened_source", "hardened_target"):
        pg_cluster.drop_database(name)
    source = pg_cluster.create_database("hardened_source")
    target = pg_cluster.create_database("hardened_target")
    try:
        query(source, HARDENED_SOURCE + OWNED_BY_A_ROLE)
        project = ProjectCopy(
            source, target, copy_project(tmp_path / "project"), tmp_path / "state"
        )
        code, out, err = project.run("scaffold")
        assert code == 0, out + err
        # Said before the build takes it from every role of the target.
        assert (
            "privileges: PUBLIC may USAGE on the target's schema public, not on "
            "the source's schema public: the build revokes it, and every role "
            "of the target database that holds it only through PUBLIC loses it"
        ) in out, out
        assert "PUBLIC may CREATE" not in out, out
        code, out, err = project.run("migrate")
        assert code == 0, out[-3000:] + err[-3000:]
        assert query(target, SCHEMA_ACL) == query(source, SCHEMA_ACL)
        assert ("public", "USAGE", False) not in query(target, SCHEMA_ACL)
        read = ["select * from public.users"]
        for role, expected in (("pv_app", True), ("pv_analyst", False)):
            assert allowed(source, role, read) is expected, role
            assert allowed(target, role, read) is expected, role
        # The owner's insert, and its foreign key's check (made as the
        # table's owner), reach the schema.
        write = ["insert into public.members values (1, 1)", "create table t ()"]
        assert allowed(source, "pv_owner", write)
        assert allowed(target, "pv_owner", write)
        recorded = query(
            target,
            "select statement, outcome from pgshift.privileges "
            "where kind = 'schema' order by ord",
        )
        assert ('revoke usage on schema "public" from public', "revoked") in recorded
        # The report names what the target's other roles lost.
        assert (
            'revoke usage on schema "public" from public: revoked (PUBLIC held '
            "it on the target: every role that held it only through PUBLIC lost it)"
        ) in _report(project)["taken_from_public"]
        assert len(_report(project)["taken_from_public"]) == 1
        assert ('grant usage on schema "public" to pv_app', "granted") in recorded
        code, out, err = project.run("verify")
        assert code == 0, out[-3000:] + err[-3000:]

        # A right the source's schema does not give, granted on the target.
        query(
            target,
            "grant usage on schema public to pv_analyst; "
            "grant create on schema public to public",
        )
        code, out, _ = project.run("verify")
        assert code == 1, out[-3000:]
        for line in [
            "schema public: role pv_analyst may USAGE on the target's schema "
            "public, not on the source's schema public",
            "schema public: PUBLIC may CREATE on the target's schema "
            "public, not on the source's schema public",
        ]:
            assert f"schema differs: {line}" in out, out
        # pv_app may CREATE through PUBLIC: PUBLIC's line names it once.
        assert "role pv_app may CREATE" not in out, out
        # Cutover's check names the same, with the statements that undo it.
        settings = make_settings(
            source, target, project_dir=project.project, state_dir=project.state
        )
        names = NameMap.read(project.project)
        with psycopg2.connect(source) as s, psycopg2.connect(target) as t:
            lines, statements = privilege_drift(settings, names, s.cursor(), t.cursor())
        assert len(lines) == 2, lines
        assert sorted(statements) == [
            'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC;',
            'REVOKE USAGE ON SCHEMA "public" FROM "pv_analyst";',
        ]

        # A second migrate revokes PUBLIC's right again; a role's own grant
        # stays, named.
        code, out, _ = project.run("migrate")
        assert code == 1, out[-3000:]
        assert "PUBLIC may CREATE" not in out, out
        assert (
            "schema differs: schema public: role pv_analyst may USAGE on the "
            "target's schema public, not on the source's schema public"
        ) in out, out
        with psycopg2.connect(source) as s, psycopg2.connect(target) as t:
            lines, statements = privilege_drift(settings, names, s.cursor(), t.cursor())
        assert len(lines) == 1, lines
        assert statements == ['REVOKE USAGE ON SCHEMA "public" FROM "pv_analyst";']
        query(target, " ".join(statements))
        with psycopg2.connect(source) as s, psycopg2.connect(target) as t:
            assert privilege_drift(settings, names, s.cursor(), t.cursor()) == ([], [])
        assert query(target, SCHEMA_ACL) == query(source, SCHEMA_ACL)
        assert not allowed(target, "pv_analyst", read)
    finally:
        pg_cluster.drop_database("hardened_source")
        pg_cluster.drop_database("hardened_target")


def test_a_revoke_the_publishing_role_may_not_make_is_recorded_as_failed(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    """Only the schema's owner revokes PUBLIC's USAGE on ``public``.

    A publishing role that does not own it (granted CREATE on it) revokes
    nothing, with a warning: the publish records the revoke as failed,
    naming who may run it, and verify names PUBLIC's USAGE.
    """
    pg_cluster.execute(
        "do $$ begin if not exists (select from pg_roles "
        "where rolname = 'pv_migrator') then create role pv_migrator login; "
        "end if; end $$"
    )
    create_roles(pg_cluster.url("postgres"), ("pv_app", "pv_analyst"))
    for name in ("migrator_source", "migrator_target"):
        pg_cluster.drop_database(name)
    source = pg_cluster.create_database("migrator_source")
    owned = pg_cluster.create_database("migrator_target")
    target = pg_cluster.url("migrator_target", user="pv_migrator")
    try:
        query(source, HARDENED_SOURCE)
        query(
            owned,
            "grant create on database migrator_target to pv_migrator; "
            "grant create on schema public to pv_migrator",
        )
        project = ProjectCopy(
            source, target, copy_project(tmp_path / "project"), tmp_path / "state"
        )
        code, out, err = project.run("scaffold")
        assert code == 0, out + err
        code, out, err = project.run("migrate")
        assert code == 1, out[-3000:] + err[-3000:]
        assert (
            "schema differs: schema public: PUBLIC may USAGE on the target's "
            "schema public, not on the source's schema public"
        ) in out, out
        assert ("public", "USAGE", False) in query(target, SCHEMA_ACL)
        revoke = 'revoke usage on schema "public" from public'
        assert query(
            target,
            "select outcome, detail from pgshift.privileges where statement = %s",
            (revoke,),
        ) == [
            (
                "failed",
                "PUBLIC keeps it: only the schema's owner (pg_database_owner), "
                "a member of it or a superuser may revoke it; run the "
                "statement as one, granting pv_migrator its own usage first "
                "(it holds it through PUBLIC alone, and publishes)",
            )
        ]
        assert any(revoke in line for line in _report(project)["privileges"])
        # Run as the owner, it holds (with the grant to pv_app, which the
        # publishing role could not make either), and verify passes.
        query(
            owned,
            f"grant usage on schema public to pv_migrator, pv_app; {revoke}",
        )
        code, out, err = project.run("verify")
        assert code == 0, out[-3000:] + err[-3000:]
    finally:
        pg_cluster.drop_database("migrator_source")
        pg_cluster.drop_database("migrator_target")


def test_the_tables_the_source_role_owns_go_to_it_on_the_target(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    """The application's role owns its tables and reads the source.

    Another role (a superuser) migrates the target: the tables go to the
    application's role there too, which reads and writes them as on the
    source; a publishing role that may not give them (neither superuser
    nor a member of it) keeps them, without a line in the report.
    """
    pg_cluster.execute(
        "do $$ begin if not exists (select from pg_roles "
        "where rolname = 'pv_own_app') then "
        "create role pv_own_app login replication; end if; end $$"
    )
    for name in ("own_app_source", "own_app_target"):
        pg_cluster.drop_database(name)
    pg_cluster.create_database("own_app_source", owner="pv_own_app")
    target = pg_cluster.create_database("own_app_target")
    source = pg_cluster.url("own_app_source", user="pv_own_app")
    try:
        query(
            source,
            'create table widgets (id int primary key, "displayName" text);'
            "insert into widgets values (1, 'a')",
        )
        project = ProjectCopy(
            source, target, copy_project(tmp_path / "project"), tmp_path / "state"
        )
        for command in ("scaffold", "migrate"):
            code, out, err = project.run(command)
            assert code == 0, out[-3000:] + err[-3000:]
        assert query(
            target,
            "select tableowner from pg_tables where schemaname = 'public' "
            "and tablename = 'widgets'",
        ) == [("pv_own_app",)]
        app = pg_cluster.url("own_app_target", user="pv_own_app")
        assert query(app, "select display_name from widgets") == [("a",)]
        assert not any("widgets" in line for line in _report(project)["privileges"])
    finally:
        for name in ("own_app_source", "own_app_target"):
            pg_cluster.drop_database(name)
