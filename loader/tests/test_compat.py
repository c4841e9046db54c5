"""The compatibility schema: the previous application on the final tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest

from pgshift.demo.cluster import Cluster
from pgshift.settings import OVERRIDES_FILE
from pgshift.verify import verify

from migration import MigratedSample, ProjectCopy, copy_project, query, run_cli

READER_PASSWORD = "compat-reader-pw"  # noqa: S105 (a throwaway test role's)


@pytest.fixture(scope="module")
def compat(
    pg_cluster: Cluster, sample_copy: Callable[[], MigratedSample]
) -> tuple[MigratedSample, str]:
    """A copy of the migrated sample with its compatibility schema, and the
    URL of a role that may only read its users."""
    copy = sample_copy()
    query(
        copy.target_url,
        "do $$ begin if not exists (select from pg_roles where rolname = "
        "'compat_reader') then create role compat_reader login password "
        f"'{READER_PASSWORD}'; end if; end $$",
    )
    query(copy.target_url, "grant usage on schema public to compat_reader")
    query(copy.target_url, "grant select on public.users to compat_reader")
    done = run_cli(["compat"], copy.source_url, copy.target_url, copy.state)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "public_compat" in done.stdout
    database = urlparse(copy.target_url).path.lstrip("/")
    return copy, pg_cluster.url(database, "compat_reader", READER_PASSWORD)


def test_the_previous_application_reads_the_source_names(
    compat: tuple[MigratedSample, str],
) -> None:
    columns = '"id", "email", "firstName", "isVerified", "createdAt", "role"::text'
    statement = f"select {columns} from users order by id"
    sample, _ = compat
    source = query(sample.source_url, statement)
    target = query(sample.target_url, f"set search_path = public_compat; {statement}")
    assert source and target == source


def test_a_rebuild_names_the_views_it_recreates_as_pgshifts(
    compat: tuple[MigratedSample, str],
) -> None:
    # A build replaces the final tables the views read: it recreates them,
    # and the report says they are pgshift's, not the team's objects.
    sample, _ = compat
    args = (sample.source_url, sample.target_url, sample.state)
    assert run_cli(["compat"], *args).returncode == 0
    built = run_cli(["dbt", "build", "-s", "users"], *args)
    assert built.returncode == 0, built.stdout[-3000:]
    report = verify(sample.settings)
    assert report.passed
    assert (
        "view public_compat.users: recreated (pgshift's compatibility schema, "
        "run.py compat)"
    ) in report.carried_over


def test_it_writes_through_the_views_with_the_final_tables_defaults(
    compat: tuple[MigratedSample, str],
) -> None:
    sample, _ = compat
    url = sample.target_url
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("set search_path = public_compat")
            cursor.execute(
                'insert into users (email, "passwordHash", "firstName") '
                "values ('new@example.com', 'x', 'New') "
                'returning id, "isVerified", role::text, "createdAt" is not null'
            )
            new_id, verified, role, stamped = cursor.fetchone()
            cursor.execute(
                'update users set "lastName" = %s where id = %s', ("Later", new_id)
            )
            assert cursor.rowcount == 1
    finally:
        conn.close()
    # The final table's own defaults (serial, false, 'landlord', now()) apply.
    assert (verified, role, stamped) == (False, "landlord", True)
    assert query(
        url, "select first_name, last_name from public.users where id = %s", (new_id,)
    ) == [("New", "Later")]
    assert new_id > query(sample.source_url, "select max(id) from users")[0][0]
    query(url, "delete from public_compat.users where id = %s", (new_id,))
    assert not query(url, "select 1 from public.users where id = %s", (new_id,))


def test_a_role_may_do_through_a_view_what_it_may_on_the_table(
    compat: tuple[MigratedSample, str],
) -> None:
    _, reader = compat
    assert query(reader, "select count(*) from public_compat.users")[0][0] > 0
    for statement in (
        "delete from public_compat.users",
        "select count(*) from public_compat.bids",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query(reader, statement)


def test_it_is_replaced_and_dropped_but_never_someone_elses(
    compat: tuple[MigratedSample, str],
) -> None:
    sample, _ = compat
    url = sample.target_url
    args = (sample.source_url, url, sample.state)
    count = query(
        url,
        "select count(*) from pg_views where schemaname = 'public_compat'",
    )[0][0]
    # The sample renames a name of every table: every table has its view.
    again = run_cli(["compat", "--every-table"], *args)
    assert again.returncode == 0, again.stderr
    assert query(
        url,
        "select count(*) from pg_views where schemaname = 'public_compat'",
    ) == [(count,)]
    # A view the team made there under a source table's name is theirs.
    query(url, "drop view public_compat.users")
    query(url, "create view public_compat.users as select 1 as id")
    for command in (["compat"], ["compat", "--drop"]):
        kept = run_cli(command, *args)
        assert kept.returncode == 2, kept.stdout + kept.stderr
        assert "holds what pgshift did not create there: view " in kept.stderr
        assert "public_compat.users" in kept.stderr
    query(url, "drop view public_compat.users")
    assert run_cli(["compat"], *args).returncode == 0
    query(url, "create schema theirs")
    refused = run_cli(["compat", "--schema", "theirs"], *args)
    assert refused.returncode == 2
    assert "did not create" in refused.stderr
    assert query(url, "select 1 from pg_namespace where nspname = 'theirs'")
    # A table the previous application created through the schema (its
    # search_path there) stops both a replace and a drop, with its rows.
    query(url, "create table public_compat.app_made (id int)")
    query(url, "insert into public_compat.app_made values (1)")
    for command in (["compat"], ["compat", "--drop"]):
        kept = run_cli(command, *args)
        assert kept.returncode == 2, kept.stdout + kept.stderr
        assert "holds what pgshift did not create there: table " in kept.stderr
        assert "app_made" in kept.stderr
        assert f"then run `python loader/run.py {' '.join(command)}` again" in (
            kept.stderr
        )
        assert query(url, "select id from public_compat.app_made") == [(1,)]
    query(url, "alter table public_compat.app_made set schema public")
    dropped = run_cli(["compat", "--drop"], *args)
    assert dropped.returncode == 0, dropped.stderr
    assert not query(url, "select 1 from pg_namespace where nspname = 'public_compat'")


def test_an_enum_that_keeps_its_name_compares_with_the_old_casts(
    compat: tuple[MigratedSample, str],
) -> None:
    # The sample's enum user_role keeps its name on the target (as an
    # override keeping a type's name does): with the final schema after the
    # compatibility schema on the search_path, the previous version's casts
    # name the final type, and every comparison works.
    sample, _ = compat
    statements = [
        "select count(*) from users where role = cast(%s as user_role)",
        "select count(*) from users where role <> 'admin'::user_role",
        "select count(*) from users where role in (cast(%s as user_role))",
        "select count(*) from users where role = any(cast(%s as user_role[]))",
    ]
    params: list[tuple] = [("landlord",), (), ("landlord",), (["landlord", "admin"],)]
    for statement, args in zip(statements, params, strict=True):
        source = query(sample.source_url, statement, args)
        target = query(
            sample.target_url,
            f"set search_path = public_compat, public; {statement}",
            args,
        )
        assert target == source and source[0][0] > 0, statement


# Immich's shape: snake_case tables with camelCase columns, so each view of
# the compatibility schema has its final table's name. A trigger on one
# table writes an audit row into another, and a SQL function reads a table.
ROUTINES_SOURCE = """
create table partners (
    "sharedById" int not null, "sharedWithId" int not null,
    "inTimeline" boolean not null default false,
    primary key ("sharedById", "sharedWithId"));
create table partners_audit (
    id serial primary key, "sharedById" int not null,
    "sharedWithId" int not null, "deletedAt" timestamptz not null default now());
create function partners_delete_audit() returns trigger language plpgsql as $$
begin
    insert into partners_audit ("sharedById", "sharedWithId")
    values (OLD."sharedById", OLD."sharedWithId");
    return OLD;
end $$;
create trigger partners_delete_audit after delete on partners
    for each row execute function partners_delete_audit();
create function partner_count(p_user int) returns bigint language sql stable
    as $$select count(*) from partners where "sharedById" = p_user
          and "inTimeline"$$;
insert into partners values (1, 2, true), (1, 3, true), (2, 1, false);
"""


def test_migrated_routines_read_the_final_tables_through_it(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # The migrated bodies name the final tables qualified with the final
    # schema: with the compatibility schema first on the search_path, a
    # trigger's insert and a function's read still reach the final tables
    # (snake_case columns), never the views of the same name.
    source, target = new_database(), new_database()
    query(source, ROUTINES_SOURCE)
    project = copy_project(tmp_path / "project", scaffolded=False)
    copy = ProjectCopy(source, target, project, tmp_path / "state")
    for command in ("scaffold", "migrate", "compat"):
        code, out, err = copy.run(command)
        assert code == 0, out[-4000:] + err[-4000:]
    path = "set search_path = public_compat, public"
    count = "select partner_count(1)"
    assert query(target, f"{path}; {count}") == query(source, count) == [(2,)]
    delete = 'delete from partners where "sharedById" = 1 and "sharedWithId" = 2'
    audit = 'select "sharedById", "sharedWithId" from partners_audit'
    query(source, delete)
    query(target, f"{path}; {delete}")
    assert query(target, f"{path}; {audit}") == query(source, audit) == [(1, 2)]
    assert query(target, "select shared_by_id from public.partners_audit") == [(1,)]
    assert query(target, f"{path}; {count}") == query(source, count) == [(1,)]


# Ghostfolio's shape (Prisma): enums named in PascalCase. Type takes the
# default name on the target (type); DataSource keeps its name through the
# override file, as the README advised for Prisma's enum filters.
PRISMA_SOURCE = """
create type "Type" as enum ('BUY', 'SELL', 'DIVIDEND');
create type "DataSource" as enum ('YAHOO', 'MANUAL', 'COINGECKO');
create table "Order" (
    id serial primary key, "type" "Type" not null,
    "dataSource" "DataSource" not null, quantity int not null);
create index "Order_type_idx" on "Order" ("type");
insert into "Order" ("type", "dataSource", quantity)
select (array['BUY', 'SELL', 'DIVIDEND']::"Type"[])[1 + mod(g, 3)],
       (array['YAHOO', 'MANUAL', 'COINGECKO']::"DataSource"[])[1 + mod(mod(g, 4), 3)], g
from generate_series(1, 30) g;
do $$ begin if not exists (select from pg_roles where rolname = 'compat_columns')
then create role compat_columns; end if; end $$;
grant select (id, "dataSource", quantity), update (quantity) on "Order"
    to compat_columns;
create table "Tenant" (
    id text primary key, "dbUser" text not null, "dbUserPassword" text not null);
insert into "Tenant" values
    ('t1', 'compat_columns', 'secret-1'), ('t2', 'someone_else', 'secret-2');
alter table "Tenant" enable row level security;
create policy tenant_own on "Tenant" using ("dbUser" = current_user);
grant select (id, "dbUser") on "Tenant" to compat_columns;
create table "Tag" (id text primary key, name text not null);
insert into "Tag" values ('t1', 'Growth'), ('t2', 'Income');
create table "_OrderToTag" (
    "A" int not null references "Order" (id) on delete cascade,
    "B" text not null references "Tag" (id) on delete cascade);
create unique index "_OrderToTag_AB_unique" on "_OrderToTag" ("A", "B");
create index "_OrderToTag_B_index" on "_OrderToTag" ("B");
insert into "_OrderToTag" values (1, 't1'), (2, 't1'), (2, 't2');
create table "_prisma_migrations" (
    id varchar(36) primary key, checksum varchar(64) not null,
    finished_at timestamptz, migration_name varchar(255) not null, logs text,
    rolled_back_at timestamptz, started_at timestamptz not null default now(),
    applied_steps_count integer not null default 0);
insert into "_prisma_migrations" (id, checksum, finished_at, migration_name)
values ('0b5f', repeat('a', 64), now(), '20240101000000_init');
"""
"""Its role compat_columns holds privileges on some columns only: of Order,
and of Tenant, which has row-level security (Logto's tenants table). Its
implicit many-to-many table and its migrations' record keep their names."""

# Prisma's statements, its schema (S) set to the source's or to the
# compatibility schema: every table and every enum cast qualified with it.
PRISMA_FILTERS = [
    ('"S"."Order"."type" = CAST(%s::text AS "S"."Type")', ("SELL",)),
    ('"S"."Order"."type" <> CAST(%s::text AS "S"."Type")', ("SELL",)),
    ('"S"."Order"."type" IN (CAST(%s::text AS "S"."Type"))', ("BUY",)),
    (
        '"S"."Order"."type" IN (CAST(%s::text AS "S"."Type"), '
        'CAST(%s::text AS "S"."Type"))',
        ("BUY", "DIVIDEND"),
    ),
    ('"S"."Order"."type" = ANY(CAST(%s::text[] AS "S"."Type"[]))', (["BUY", "SELL"],)),
    ('"S"."Order"."type" <> ALL(CAST(%s::text[] AS "S"."Type"[]))', (["BUY"],)),
    ('"S"."Order"."dataSource" = CAST(%s::text AS "S"."DataSource")', ("MANUAL",)),
    ('"S"."Order"."dataSource" <> CAST(%s::text AS "S"."DataSource")', ("MANUAL",)),
    ('"S"."Order"."dataSource" IN (CAST(%s::text AS "S"."DataSource"))', ("YAHOO",)),
    (
        '"S"."Order"."dataSource" IN (CAST(%s::text AS "S"."DataSource"), '
        'CAST(%s::text AS "S"."DataSource"))',
        ("YAHOO", "COINGECKO"),
    ),
    (
        '"S"."Order"."dataSource" = ANY(CAST(%s::text[] AS "S"."DataSource"[]))',
        (["YAHOO", "MANUAL"],),
    ),
    (
        '"S"."Order"."dataSource" <> ALL(CAST(%s::text[] AS "S"."DataSource"[]))',
        (["YAHOO", "MANUAL"],),
    ),
    # Raw SQL: the cast on the left, the enum's order, literals, a self-join.
    ('CAST(%s::text AS "S"."Type") = "S"."Order"."type"', ("BUY",)),
    ('"S"."Order"."type" > CAST(%s::text AS "S"."Type")', ("BUY",)),
    ("\"type\" in ('BUY', 'SELL') and \"dataSource\" <= 'MANUAL'", ()),
    ('id in (select b.id from "S"."Order" b where b."type" = "S"."Order"."type")', ()),
]


@pytest.fixture(scope="module")
def prisma(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: Cluster
) -> Iterator[ProjectCopy]:
    """The Prisma-shaped source migrated, with its compatibility schema."""
    root = tmp_path_factory.mktemp("prisma")
    names = ("compat_prisma_source", "compat_prisma_target")
    for name in names:
        pg_cluster.drop_database(name)
    source, target = (pg_cluster.create_database(name) for name in names)
    query(source, PRISMA_SOURCE)
    project = copy_project(root / "project", scaffolded=False)
    (project / OVERRIDES_FILE).write_text("types:\n  DataSource: DataSource\n")
    copy = ProjectCopy(source, target, project, root / "state")
    for command in ("scaffold", "migrate", "compat"):
        code, out, err = copy.run(command)
        assert code == 0, out[-4000:] + err[-4000:]
    assert query(
        target,
        "select typname from pg_type where typnamespace = 'public'::regnamespace "
        "and typtype = 'e' order by 1",
    ) == [("DataSource",), ("type",)]
    yield copy
    for name in names:
        pg_cluster.drop_database(name)


def _prisma(statement: str, schema: str) -> str:
    return statement.replace('"S"', f'"{schema}"')


@pytest.mark.parametrize("path", ["public_compat", "public_compat, public"])
def test_prisma_finds_every_table_through_it_renamed_or_not(
    prisma: ProjectCopy, path: str
) -> None:
    # Prisma names its schema before every table: one the rename leaves as
    # it is (its many-to-many table, its migrations' record) needs a view
    # there too, or the previous version finds no such table.
    reads = [
        'select "A", "B" from "S"."_OrderToTag" order by 1, 2',
        'select migration_name, finished_at is not null from "S"."_prisma_migrations"',
        'select t.name from "S"."Tag" t join "S"."_OrderToTag" r on r."B" = t.id '
        'where r."A" = 2 order by 1',
    ]
    for statement in reads:
        source = query(prisma.source, _prisma(statement, "public"))
        target = query(
            prisma.target,
            f"set search_path = {path}; {_prisma(statement, 'public_compat')}",
        )
        assert source and target == source, statement
    # connect and disconnect, as Prisma writes them
    connect = (
        'insert into "S"."_OrderToTag" ("A", "B") values (3, %s), (2, %s) '
        "on conflict do nothing"
    )
    disconnect = 'delete from "S"."_OrderToTag" where "A" = 3 and "B" = %s'
    compat = f"set search_path = {path}; "
    query(prisma.target, compat + _prisma(connect, "public_compat"), ("t2", "t2"))
    assert query(
        prisma.target, 'select "B" from public."_OrderToTag" where "A" = 3'
    ) == [("t2",)]
    query(prisma.target, compat + _prisma(disconnect, "public_compat"), ("t2",))
    assert query(prisma.target, 'select count(*) from public."_OrderToTag"') == [(3,)]


@pytest.mark.parametrize("path", ["public_compat", "public_compat, public"])
def test_prismas_enum_filters_work_through_it_renamed_or_not(
    prisma: ProjectCopy, path: str
) -> None:
    # Prisma's casts name the compatibility schema's domains (one per enum,
    # whether the enum was renamed or kept its name), and the schema's
    # comparisons take an enum and such a domain.
    for condition, args in PRISMA_FILTERS:
        statement = f'select id from "S"."Order" where {condition} order by id'
        source = query(prisma.source, _prisma(statement, "public"), args)
        target = query(
            prisma.target,
            f"set search_path = {path}; {_prisma(statement, 'public_compat')}",
            args,
        )
        assert source and target == source, condition
    # A plain comparison becomes PostgreSQL's own: the index still serves it.
    plan = query(
        prisma.target,
        f"set search_path = {path}; set enable_seqscan = off; explain (costs off) "
        + _prisma(
            f'select id from "S"."Order" where {PRISMA_FILTERS[0][0]}', "public_compat"
        ),
        ("SELL",),
    )
    assert "order_type_idx" in " ".join(row[0] for row in plan)


def test_prismas_enum_writes_work_through_it_renamed_or_not(
    prisma: ProjectCopy,
) -> None:
    insert = (
        'insert into "S"."Order" ("type", "dataSource", quantity) '
        'values (CAST(%s::text AS "S"."Type"), CAST(%s::text AS "S"."DataSource"), '
        '%s) returning "type"::text, "dataSource"::text, quantity'
    )
    update = (
        'update "S"."Order" set "type" = CAST(%s::text AS "S"."Type"), '
        '"dataSource" = CAST(%s::text AS "S"."DataSource") '
        'where "S"."Order"."dataSource" = CAST(%s::text AS "S"."DataSource") '
        'and "S"."Order".quantity = %s '
        'returning "type"::text, "dataSource"::text, quantity'
    )
    delete = (
        'delete from "S"."Order" where "S"."Order"."type" = CAST(%s::text AS "S"."Type") '
        'and "S"."Order"."dataSource" IN (CAST(%s::text AS "S"."DataSource")) '
        'and "S"."Order".quantity = %s returning quantity'
    )
    for statement, args in (
        (insert, ("SELL", "COINGECKO", 100)),
        (update, ("DIVIDEND", "MANUAL", "COINGECKO", 100)),
        (insert, ("BUY", "YAHOO", 101)),
        (delete, ("BUY", "YAHOO", 101)),
    ):
        source = query(prisma.source, _prisma(statement, "public"), args)
        target = query(
            prisma.target,
            f"set search_path = public_compat; {_prisma(statement, 'public_compat')}",
            args,
        )
        assert source and target == source, statement
    assert query(
        prisma.target,
        "select type::text, data_source::text from public.order where quantity = 100",
    ) == [("DIVIDEND", "MANUAL")]


# compat_columns' statements: each must run through the compatibility
# schema exactly when it runs on the source.
COLUMN_GRANT_STATEMENTS = [
    'select id, "dataSource"::text, quantity from "Order" where id < 4 order by id',
    'update "Order" set quantity = quantity where id = 1 returning quantity',
    'select "type"::text from "Order" where id = 1',
    'select * from "Order" where id = 1',
    'update "Order" set "dataSource" = "dataSource" where id = 1',
    'insert into "Order" (quantity) values (1)',
    'delete from "Order" where id = 1',
]


def _as_column_grantee(url: str, statement: str, path: str) -> list[tuple] | str:
    """Run a statement as compat_columns: its rows, or "denied"."""
    try:
        return query(url, f"set role compat_columns; {path}{statement}")
    except psycopg2.errors.InsufficientPrivilege:
        return "denied"


def test_a_role_with_column_grants_may_do_through_it_what_it_may_on_the_source(
    prisma: ProjectCopy,
) -> None:
    # Its columns' privileges are the view's columns', by their source
    # names: the columns it holds are read and written, the others refused.
    for statement in COLUMN_GRANT_STATEMENTS:
        source = _as_column_grantee(prisma.source, statement, "")
        target = _as_column_grantee(
            prisma.target, statement, "set search_path = public_compat; "
        )
        assert target == source, statement
    assert _as_column_grantee(prisma.source, COLUMN_GRANT_STATEMENTS[0], "")
    assert _as_column_grantee(prisma.source, COLUMN_GRANT_STATEMENTS[3], "") == (
        "denied"
    )
    # With row-level security, its policies must apply to whoever queries
    # the view: it stays security_invoker, and the role's read through it is
    # refused (never answered with another tenant's row), with a warning.
    tenants = 'select id, "dbUser" from "Tenant"'
    assert _as_column_grantee(prisma.source, tenants, "") == [("t1", "compat_columns")]
    assert (
        _as_column_grantee(prisma.target, tenants, "set search_path = public_compat; ")
        == "denied"
    )
    assert query(
        prisma.target,
        "select reloptions from pg_class where oid = "
        "'public_compat.\"Tenant\"'::regclass",
    ) == [(["security_invoker=true"],)]
    code, out, err = prisma.run("compat")
    assert code == 0, out + err
    assert "public.tenant has row-level security and compat_columns" in out + err


def test_its_comparisons_are_replaced_and_dropped_with_it(
    prisma: ProjectCopy,
) -> None:
    # compat owns the operators and functions it creates; a function the
    # application created there stops a replace and a drop as a table does.
    assert prisma.run("compat")[0] == 0
    query(
        prisma.target,
        "create function public_compat.app_made() returns int language sql "
        "as 'select 1'",
    )
    for command in (("compat",), ("compat", "--drop")):
        code, out, err = prisma.run(*command)
        assert code == 2, out + err
        assert "did not create there: function public_compat.app_made()" in err
    query(prisma.target, "drop function public_compat.app_made()")
    assert prisma.run("compat", "--drop")[0] == 0
    assert not query(
        prisma.target, "select 1 from pg_namespace where nspname = 'public_compat'"
    )


def test_it_says_what_prisma_and_django_meet_through_it() -> None:
    from pgshift.compat import compat_notes
    from pgshift.mapping import NameMap, TableMap

    def names(*tables: tuple[str, str, dict[str, str]]) -> NameMap:
        return NameMap(
            source_name="app",
            source_schema="public",
            tables={
                source: TableMap(
                    source_schema="public",
                    source=source,
                    target=target,
                    staging_model=f"stg_app__{target}",
                    columns=columns,
                )
                for source, target, columns in tables
            },
        )

    prisma = names(
        ("_prisma_migrations", "_prisma_migrations", {"id": "id"}),
        ("Order", "order", {"id": "id", "userId": "user_id"}),
    )
    (said,) = compat_notes(prisma)
    assert said.startswith("every table has a view there")
    assert compat_notes(prisma, every_table=True) == []
    django = names(
        ("django_migrations", "django_migrations", {"id": "id", "app": "app"}),
        ("trans_Unit", "trans_unit", {"id": "id", "state": "state"}),
        ("auth_user", "auth_user", {"id": "id", "isActive": "is_active"}),
    )
    (said,) = compat_notes(django)
    assert "Django's, and 2 of its tables are read through views" in said
    assert "over trans_Unit, auth_user fail through this schema" in said
    assert compat_notes(names(("django_migrations", "django_migrations", {}))) == []
