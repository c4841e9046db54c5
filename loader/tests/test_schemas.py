"""The source's schemas: which one a run migrates, where it lands, what stays.

The source holds ``public``, a camelCase-named ``Billing`` (an enum, a
sequence the application calls, a foreign key between its tables), ``audit``
(a table named like one of ``public``'s) and ``ext_only``, which holds
nothing but an extension's members. ``--schemas Billing`` migrates Billing
into the final schema; the report's Schemas section names it and every
other schema with the reason it stays. Several schemas in one run, a schema
the source does not have or the user may not read, and two schemas mapped
to one name are refused with exit 2 before anything is written. Several
schemas on one target, a run each: ``test_schema_runs.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from pgshift.catalog import schemas_referencing
from pgshift.comments import PUBLIC_COMMENT, SourceComment, map_comments
from pgshift.mapping import NameMap
from pgshift.naming import NamingError, Overrides
from pgshift.schemas import (
    ANY_ORDER,
    IN_ORDER,
    KEYS_WAIT,
    RecordedSchemas,
    RunSchemas,
    SourceSchema,
    plan_schemas,
    read_schemas,
    run_order,
    run_order_line,
    run_schemas,
    schema_uses,
)
from pgshift.settings import ConfigError

from migration import copy_project, query, run_cli, run_steps

SOURCE = """
create schema "Billing";
comment on schema "Billing" is 'Invoices: it''s {{ billing }}';
create schema audit;
create schema ext_only;
create extension hstore schema ext_only;
-- An extension beside a schema's own tables: its functions are not the
-- schema's to count.
create extension pg_trgm schema audit;
create table public."Customer" (id serial primary key, "fullName" text not null);
create table audit."Customer" (id serial primary key, note text);
create type "Billing"."InvoiceStatus" as enum ('open', 'paid');
create sequence "Billing"."invoiceNumberSeq" start 1000;
create table "Billing"."Account" (id serial primary key, "ownerName" text);
create table "Billing"."Invoice" (
    id serial primary key,
    "accountId" int not null references "Billing"."Account" (id),
    status "Billing"."InvoiceStatus" not null default 'open',
    "invoiceNumber" bigint not null
        default nextval('"Billing"."invoiceNumberSeq"')
);
create function "Billing".open_invoices() returns bigint language sql stable
    set search_path = "Billing", pg_temp
    as $$ select count(*) from "Invoice" where status = 'open' $$;
insert into public."Customer" ("fullName") values ('Ada'), ('Grace');
insert into audit."Customer" (note) values ('seen');
insert into "Billing"."Account" ("ownerName") values ('Ada'), ('Grace');
insert into "Billing"."Invoice" ("accountId", status)
select 1 + mod(i, 2), case when mod(i, 3) = 0 then 'paid' else 'open' end::"Billing"."InvoiceStatus"
from generate_series(1, 30) i;
"""

FOUND = [
    SourceSchema("Billing", True, tables=2),
    SourceSchema("audit", True, tables=1),
    SourceSchema("ext_only", True, extension_only=True),
    SourceSchema("hidden", False, tables=1),
    SourceSchema("public", True, tables=1),
]


@dataclass
class Schemas:
    """The source of several schemas, its target and the project joining them."""

    source: str
    target: str
    project: Path
    state: Path
    migrate_output: str = ""

    def run(self, *args: str) -> tuple[int, str, str]:
        done = run_cli(list(args), self.source, self.target, self.state, self.project)
        return done.returncode, done.stdout, done.stderr


def _files(project: Path) -> dict[str, bytes]:
    """The project's files (Python's caches aside) and their contents."""
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def schemas(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Schemas]:
    cluster = pg_cluster
    source = cluster.create_database("schemas_source")  # type: ignore[attr-defined]
    target = cluster.create_database("schemas_target")  # type: ignore[attr-defined]
    query(source, SOURCE)
    project = copy_project(
        tmp_path_factory.mktemp("schemas") / "pgshift", scaffolded=False
    )
    yield Schemas(source, target, project, tmp_path_factory.mktemp("state"))
    for name in ("schemas_source", "schemas_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def migrated(schemas: Schemas) -> Schemas:
    """Billing, migrated alone into the final schema (one migration)."""
    code, out, err = schemas.run("--schemas", "Billing", "scaffold")
    assert code == 0, out + err
    code, out, err = schemas.run("--schemas", "Billing", "migrate")
    assert code == 0, out[-3000:] + err[-3000:]
    schemas.migrate_output = out
    return schemas


def test_the_source_schemas_are_read_with_what_the_user_may_do(
    schemas: Schemas,
) -> None:
    conn = psycopg2.connect(schemas.source)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "create role schemas_reader; "
                "grant usage on schema public, audit to schemas_reader"
            )
            # A schema of a sequence alone holds something; one of nothing
            # is empty.
            cursor.execute(
                "create schema ids; create sequence ids.seq; create schema scratch"
            )
            found = {s.name: s for s in read_schemas(cursor)}
            assert [n for n, s in found.items() if s.empty] == ["scratch"]
            cursor.execute("drop schema ids cascade; drop schema scratch")
            found = {s.name: s for s in read_schemas(cursor)}
            cursor.execute("set role schemas_reader")
            as_reader = {s.name: s.readable for s in read_schemas(cursor)}
        conn.rollback()
    finally:
        conn.close()
    assert sorted(found) == ["Billing", "audit", "ext_only", "public"]
    assert found["ext_only"].extension_only
    assert not any(found[n].extension_only for n in ("Billing", "audit", "public"))
    assert (found["Billing"].tables, found["audit"].tables) == (2, 1)
    assert as_reader == {
        "Billing": False,
        "audit": True,
        "ext_only": False,
        "public": True,
    }


def test_the_runs_of_several_schemas_are_ordered_by_what_each_uses(
    new_database: object,
) -> None:
    # AdventureWorks' shape: public holds a domain alone; person's and
    # sales' keys point at each other; production's default calls a
    # sales sequence; a view of report reads production; inventory's
    # column is of a sales enum while their keys point at each other
    # (sales comes first: keys wait, a type does not).
    source = new_database()  # type: ignore[operator]
    query(
        source,
        'create domain public."FullName" varchar(50);'
        "create schema person; create schema sales; create schema production;"
        "create schema report; create schema inventory; create schema idle;"
        'create table person."Person" (id int primary key, name "FullName");'
        'create table sales."Territory" (id int primary key);'
        'create table person."Province" (id int primary key, '
        'territory int references sales."Territory");'
        'create table sales."Store" (id int primary key, '
        'person int references person."Person");'
        'create sequence sales."DocSeq";'
        'create table production."WorkOrder" (id int primary key '
        """default nextval('sales."DocSeq"'));"""
        'create view report."Orders" as select id from production."WorkOrder";'
        "create type sales.grade as enum ('a', 'b');"
        "create table inventory.bin (id int primary key, grade sales.grade, "
        'store int references sales."Store");'
        'alter table sales."Store" add column bin int references inventory.bin',
    )
    conn = psycopg2.connect(source)
    try:
        with conn.cursor() as cursor:
            found = {s.name: s for s in read_schemas(cursor)}
            order = run_order(
                schema_uses(cursor),
                [n for n, s in found.items() if s.migratable],
            )
    finally:
        conn.close()
    assert (found["public"].tables, found["public"].types) == (0, 1)
    assert found["sales"].types == 1
    assert order == [
        (["public"], IN_ORDER),
        (["person", "sales", "inventory"], IN_ORDER),
        (["production"], IN_ORDER),
        (["report"], IN_ORDER),
    ]
    # Without its key into sales, inventory still cannot go before sales
    # (its column is of sales' enum): sales' key into inventory waits for
    # inventory's run, as person's and sales' keys into each other do.
    conn = psycopg2.connect(source)
    try:
        with conn.cursor() as cursor:
            cursor.execute("alter table inventory.bin drop column store")
            later = {"inventory", "production", "report"}
            uses = schema_uses(cursor)
            assert schemas_referencing(uses, "sales") == {"person", *later}
            assert schemas_referencing(uses, "person") == {"sales", *later}
            assert schemas_referencing(uses, "production") == {"report"}
        conn.rollback()
    finally:
        conn.close()
    assert run_order_line(order, "person", {"public": "public"}) == (
        "schemas: a run each, each after the schemas it uses (their types, "
        "sequences, tables, functions): public (migrated into public); then "
        "person (this run), then sales, then inventory; then production; then "
        "report"
    )
    # Tied by keys alone, two schemas go in either order.
    assert run_order_line([(["person", "sales"], KEYS_WAIT)], "sales", {}) == (
        "schemas: a run each, each after the schemas it uses (their types, "
        "sequences, tables, functions): person and sales (this run) in either "
        "order (their keys wait for the later)"
    )
    # A schema per tenant, each using public alone: one step, any order.
    tenants = [("acme", "public", True), ("globex", "public", False)]
    found_tenants = ["public", "acme", "globex", "initech"]
    order = run_order([*tenants, ("initech", "public", True)], found_tenants)
    assert order == [
        (["public"], IN_ORDER),
        (["acme", "globex", "initech"], ANY_ORDER),
    ]
    assert run_order_line(order, "public", {}) == (
        "schemas: a run each, each after the schemas it uses (their types, "
        "sequences, tables, functions): public (this run); then acme, globex "
        "and initech in any order (none uses another)"
    )


def test_within_a_group_the_runs_go_so_that_the_fewest_keys_wait() -> None:
    # AdventureWorks: person, humanresources, purchasing and sales are tied
    # by keys through sales -> purchasing -> humanresources -> person ->
    # sales; humanresources' and sales' views read person. After person,
    # humanresources (whose keys reference person alone) goes before
    # purchasing (whose key references humanresources): only person's key
    # into sales waits.
    uses = [
        ("humanresources", "person", False),
        ("humanresources", "person", True),
        ("person", "sales", True),
        ("purchasing", "humanresources", True),
        ("purchasing", "person", True),
        ("sales", "person", False),
        ("sales", "purchasing", True),
    ]
    assert run_order(uses, ["sales", "purchasing", "person", "humanresources"]) == [
        (["person", "humanresources", "purchasing", "sales"], IN_ORDER)
    ]


def test_a_schema_tied_both_ways_by_views_is_listed_to_run_again() -> None:
    # Each schema's view reads the other's table: neither run can bring
    # its view first. The first runs again after the second.
    order = run_order([("a", "b", False), ("b", "a", False)], ["a", "b"])
    assert order == [(["a", "b", "a"], IN_ORDER)]
    assert run_order_line(order, "a", {}) == (
        "schemas: a run each, each after the schemas it uses (their types, "
        "sequences, tables, functions): a (this run), then b, then a (again)"
    )


def test_the_default_migrates_public_and_lists_every_other_schema() -> None:
    plan = plan_schemas(FOUND, ["public"], "public")
    assert plan.targets == {"public": "public"}
    assert plan.left_out["Billing"].startswith(
        "pgshift migrates one schema (public, chosen with --schemas or "
        "--source-schema); this one stays behind (tables: 2, views: 0, "
    )
    assert plan.left_out["ext_only"] == (
        "holds only extension members, created with their extension"
    )
    assert plan.left_out["hidden"] == "the source user may not read it (no USAGE)"
    assert list(plan.left_out) == ["Billing", "audit", "ext_only", "hidden"]


def test_the_only_chosen_schema_lands_in_the_final_schema() -> None:
    plan = plan_schemas(FOUND, ["Billing"], "public", {"audit": "logs"})
    assert plan.targets == {"Billing": "public"}
    assert "public" in plan.left_out


def test_a_command_takes_its_schemas_from_options_overrides_project() -> None:
    # Before scaffold: public, into public.
    assert run_schemas((), None, None, {}) == RunSchemas("public", (), "public")
    # After `--schemas sales --final-schema sales scaffold`, every command
    # runs on what scaffold recorded, given neither option.
    sales = RecordedSchemas("sales", "sales", None, tables=3)
    assert run_schemas((), None, sales, {}) == RunSchemas("sales", (), "sales")
    # Models of no tables came from a schema named with --schemas (one of
    # types or views alone): the later commands name it too.
    types_only = RecordedSchemas("public", "public", None, tables=0)
    assert run_schemas((), None, types_only, {}).schemas == ("public",)
    assert run_schemas(("sales",), None, sales, {}).final_schema == "sales"
    # The project's final schema is its schema's: another lands in public.
    assert run_schemas(("person",), None, sales, {}) == (
        RunSchemas("person", ("person",), "public")
    )
    # The override file's entry names a schema's final schema, over the
    # project's (whose models the drift check then finds elsewhere).
    mapped = {"Billing": "accounts", "sales": "shop"}
    assert run_schemas(("Billing",), None, None, mapped).final_schema == "accounts"
    assert run_schemas((), None, sales, mapped).final_schema == "shop"
    assert run_schemas(("Billing",), "accounts", None, mapped).final_schema == (
        "accounts"
    )
    # The option naming another than the entry: two homes disagree.
    with pytest.raises(
        ConfigError,
        match="maps schema 'Billing' to 'accounts' under 'schemas:', and "
        "--final-schema names 'public'",
    ):
        run_schemas(("Billing",), "public", None, mapped)
    # The option wins over the project's record (the drift check then
    # refuses models scaffolded elsewhere).
    assert run_schemas((), "public", sales, {}).final_schema == "public"


def test_other_schemas_map_by_the_naming_rules_and_the_override_file(
    tmp_path: Path,
) -> None:
    chosen = ["public", "Billing", "audit"]
    assert plan_schemas(FOUND, chosen, "public").targets == {
        "public": "public",
        "Billing": "billing",
        "audit": "audit",
    }
    overrides = tmp_path / "overrides.yml"
    overrides.write_text("schemas:\n  Billing: accounts\n", encoding="utf-8")
    loaded = Overrides.load(overrides).schemas
    assert loaded == {"Billing": "accounts"}
    assert plan_schemas(FOUND, chosen, "public", loaded).targets["Billing"] == (
        "accounts"
    )
    # A schema left out whose final schema the file names: its run needs
    # --schemas alone.
    assert (
        plan_schemas(FOUND, ["public"], "public", loaded)
        .left_out["Billing"]
        .endswith(
            "a run of its own moves it into a final schema of its own on the same "
            "target: --schemas Billing (the override file names its final schema, "
            "accounts)"
        )
    )
    # Two schemas on one name, or one on the final schema, are refused.
    with pytest.raises(NamingError, match="'Billing' and 'audit' both map"):
        plan_schemas(FOUND, ["Billing", "audit"], "public", {"audit": "billing"})
    with pytest.raises(ConfigError, match="'Billing' maps to 'public'"):
        plan_schemas(FOUND, chosen, "public", {"Billing": "public"})
    with pytest.raises(ConfigError, match="one pgshift keeps for itself"):
        plan_schemas(FOUND, chosen, "public", {"audit": "raw"}, reserved=("raw",))


def test_a_schema_that_cannot_be_migrated_is_refused() -> None:
    with pytest.raises(ConfigError, match="no schema 'Nope'.*Billing, audit"):
        plan_schemas(FOUND, ["Nope"], "public")
    with pytest.raises(ConfigError, match="may not read schema 'hidden'"):
        plan_schemas(FOUND, ["hidden"], "public")
    with pytest.raises(ConfigError, match="'ext_only' holds only extension"):
        plan_schemas(FOUND, ["ext_only"], "public")
    # A chosen schema without tables, where others hold them (AdventureWorks'
    # empty public), would migrate nothing: it names where the tables are.
    empty_public = [s for s in FOUND if s.name != "public"]
    empty_public.append(SourceSchema("public", True, functions=3))
    with pytest.raises(
        ConfigError,
        match=r"'public' holds no tables; the source's tables are in "
        r"Billing \(2\), audit \(1\)\. pgshift migrates one schema per run",
    ):
        plan_schemas(empty_public, ["public"], "public")
    # A schema of views alone (AdventureWorks' pe, a view over each table
    # of person) migrates when named, after the schemas it reads.
    views_only = [*empty_public, SourceSchema("pe", True, views=4)]
    with pytest.raises(
        ConfigError, match="its own views move in a run naming it: --schemas pe$"
    ):
        plan_schemas(views_only, ["pe"], "pe")
    plan = plan_schemas(views_only, ["pe"], "pe", named=True)
    assert plan.targets == {"pe": "pe"}
    # A schema holding nothing is named as such, not left out.
    scratch = SourceSchema("scratch", True, empty=True)
    plan = plan_schemas([*FOUND, scratch], ["public"], "public")
    assert (plan.empty, "scratch" in plan.left_out) == (("scratch",), False)
    assert plan.lines()[-1] == "scratch: holds nothing to migrate (no object at all)"
    # One holding a sequence alone is no empty schema: it stays listed.
    ids = SourceSchema("ids", True)
    plan = plan_schemas([*FOUND, ids], ["public"], "public")
    assert (plan.empty, "ids" in plan.left_out) == ((), True)
    # A database that has no tables at all is no mistake of choice.
    assert plan_schemas([SourceSchema("public", True)], ["public"], "public")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--schemas", "public,Billing", "scaffold"],
            "several schemas were chosen (public, Billing), and pgshift "
            "migrates one schema per run",
        ),
        (["--schemas", "Nope", "scaffold"], "the source has no schema 'Nope'"),
        (
            ["--schemas", "Billing", "--source-schema", "audit", "scaffold"],
            "--source-schema audit and --schemas Billing name different schemas",
        ),
        (["--schemas", " , ", "scaffold"], "--schemas names no schema"),
        (["--schemas", "public,audit", "migrate"], "several schemas were chosen"),
        (["--schemas", "public,audit", "sync"], "several schemas were chosen"),
    ],
)
def test_a_refused_choice_exits_2_and_writes_nothing(
    schemas: Schemas, args: list[str], message: str
) -> None:
    before = _files(schemas.project)
    code, out, err = schemas.run(*args)
    assert code == 2, out + err
    assert message in err
    assert _files(schemas.project) == before


def test_a_schema_override_file_of_the_wrong_shape_is_refused(
    schemas: Schemas, tmp_path: Path
) -> None:
    bad = tmp_path / "overrides.yml"
    bad.write_text("schemas:\n  - Billing\n", encoding="utf-8")
    with pytest.raises(NamingError, match="'schemas' must be mappings"):
        Overrides.load(bad)


def test_an_override_naming_nothing_on_the_source_is_refused(
    schemas: Schemas, tmp_path: Path
) -> None:
    # A typo in the override file would otherwise be skipped, and the table
    # or column get the naming rules' name instead of the one asked for.
    overrides = tmp_path / "overrides.yml"
    overrides.write_text(
        "tables:\n  Invoices: bills\n  Account: accounts\n"
        "columns:\n  Invoice:\n    invoiceNo: number\n    accountId: account\n"
        "  Payment:\n    amount: total\n"
        "objects:\n  Invoice:\n    Invoice_pkey: bills_pkey\n"
        "    Invoice_pkei: bill_pkey\n"
        "types:\n  invoiceStatus: bill_status\n",
        encoding="utf-8",
    )
    before = _files(schemas.project)
    code, out, err = schemas.run(
        "--schemas", "Billing", "scaffold", "--overrides", str(overrides)
    )
    assert code == 2, out + err
    assert "names what the source does not have" in err
    for line in (
        "tables: 'Invoices' is not a table of the source (did you mean 'Invoice'",
        "columns: Invoice: 'invoiceNo' is not a column of Invoice of the source "
        "(did you mean 'invoiceNumber'?)",
        "columns: 'Payment' is not a table of the source",
        "objects: Invoice: 'Invoice_pkei' is not an object of Invoice of the "
        "source (did you mean 'Invoice_pkey'",
        "types: 'invoiceStatus' is not a type of the source (did you mean "
        "'InvoiceStatus'",
    ):
        assert line in err, err
    # The entries that name what the source has are not listed.
    assert "'Account'" not in err and "'accountId'" not in err
    assert _files(schemas.project) == before
    # A section the file format does not have is refused as it is read.
    overrides.write_text("table:\n  Invoice: bills\n", encoding="utf-8")
    with pytest.raises(
        NamingError, match="unknown section 'table' \\(did you mean 'tables'"
    ):
        Overrides.load(overrides)


def test_the_chosen_schema_arrives_in_the_final_schema(migrated: Schemas) -> None:
    source, target = migrated.source, migrated.target
    # Counts and checksums agree for every table; schema parity is empty.
    assert "**2 tables, 2 complete**" in migrated.migrate_output
    assert "schema differs" not in migrated.migrate_output
    assert query(
        target,
        "select table_name from information_schema.tables "
        "where table_schema = 'public' order by 1",
    ) == [("account",), ("invoice",)]
    assert query(target, "select count(*), sum(invoice_number) from invoice") == (
        query(source, 'select count(*), sum("invoiceNumber") from "Billing"."Invoice"')
    )
    # The enum, the sequence and the foreign key came along; an insert
    # without an id or a number takes the source's next values.
    assert query(target, "select enum_range(null::public.invoice_status)::text") == [
        ("{open,paid}",)
    ]
    assert query(
        target,
        "select confrelid::regclass::text from pg_constraint "
        "where conrelid = 'public.invoice'::regclass and contype = 'f'",
    ) == [("account",)]
    # A function's SET search_path names the final schema, where its
    # unqualified table is.
    assert query(target, "select public.open_invoices()") == query(
        source, 'select "Billing".open_invoices()'
    )
    assert query(
        target,
        "insert into invoice (account_id) values (2) "
        "returning id, invoice_number, status::text",
    ) == [(31, 1030, "open")]


def test_the_chosen_schema_lands_in_the_final_schema_the_run_names(
    schemas: Schemas, new_database: object, tmp_path: Path
) -> None:
    # Zulip names its text search configuration zulip.english_us_search in
    # its own code: its schema must keep its name on the target.
    target = new_database()  # type: ignore[operator]
    project = copy_project(tmp_path / "project", scaffolded=False)
    state = tmp_path / "state"

    def run(*args: str) -> tuple[int, str]:
        done = run_cli(list(args), schemas.source, target, state, project)
        return done.returncode, done.stdout[-3000:] + done.stderr[-3000:]

    chosen = ("--schemas", "Billing", "--final-schema", "Billing")
    assert run(*chosen, "scaffold")[0] == 0
    code, out = run(*chosen, "migrate")
    assert code == 0, out
    assert "**2 tables, 2 complete**" in out and "schema differs" not in out
    # Tables, their sequences, the enum and the function are in "Billing";
    # public holds nothing of the migration.
    assert query(
        target,
        "select n.nspname::text, c.relname::text from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where c.relkind in ('r', 'S') and n.nspname in ('Billing', 'public') "
        "order by 1, 2",
    ) == [
        ("Billing", "account"),
        ("Billing", "account_id_seq"),
        ("Billing", "invoice"),
        ("Billing", "invoice_id_seq"),
        ("Billing", "invoice_number_seq"),
    ]
    assert query(
        target,
        "select typnamespace::regnamespace::text from pg_type "
        "where typname = 'invoice_status'",
    ) == [('"Billing"',)]
    assert query(target, 'select "Billing".open_invoices()') == query(
        schemas.source, 'select "Billing".open_invoices()'
    )
    assert query(
        target,
        'insert into "Billing".invoice (account_id) values (2) '
        "returning id, invoice_number, status::text",
    ) == [(31, 1030, "open")]
    # The schema's comment comes with it (PostgREST's API description).
    assert query(target, """select obj_description('"Billing"'::regnamespace)""") == [
        ("Invoices: it's {{ billing }}",)
    ]
    # A later command takes the final schema scaffold recorded: migrated
    # again (its mixed-case schema now there), given neither option, the
    # row written on the target replaced by the source's rows.
    code, out = run("migrate", "--replace-existing")
    assert code == 0, out
    assert query(target, 'select count(*) from "Billing".invoice') == (
        query(schemas.source, 'select count(*) from "Billing"."Invoice"')
    )
    # One naming another final schema than the project's: refused.
    code, out = run("--schemas", "Billing", "--final-schema", "public", "migrate")
    assert code == 2, out
    assert "scaffolded to land in 'Billing', this run's is 'public'" in out
    assert query(
        target, "select count(*) from pg_tables where schemaname = 'public'"
    ) == [(0,)]


def test_the_report_names_every_schema_and_where_it_went(migrated: Schemas) -> None:
    report = (migrated.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    section = report.split("## Schemas\n\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [
        "- Billing -> public",
        "- audit: left out: pgshift migrates one schema (Billing, chosen with "
        "--schemas or --source-schema); this one stays behind (tables: 1, "
        "views: 0, functions: 0); a run of its own moves it into a final "
        "schema of its own on the same target: --schemas audit --final-schema "
        "audit",
        "- ext_only: left out: holds only extension members, created with "
        "their extension",
        "- public: left out: pgshift migrates one schema (Billing, chosen with "
        "--schemas or --source-schema); this one stays behind (tables: 1, "
        "views: 0, functions: 0); a run of its own moves it into a final "
        "schema of its own on the same target: --schemas public --final-schema "
        "NAME",
    ]
    assert "schema audit" not in report.split("## Not migrated", 1)[1]
    assert (
        "schemas left out, 3 (each with why in the report): audit; ext_only; public"
    ) in migrated.migrate_output
    # Not migrated points at them, so that "nothing" does not read as all.
    assert (
        "- the schemas left out, each with why: audit, ext_only, public "
        "(under Schemas, above)"
    ) in report.split("## Not migrated", 1)[1]


AUTH_UID = """
create schema auth;
create function auth.uid() returns uuid language sql stable
    as $$ select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
create function auth.stamp() returns trigger language plpgsql
    as $$ begin new.note := coalesce(new.note, 'stamped'); return new; end $$;
"""
AUTH_USERS = "create table auth.users (id uuid primary key, email text);"

ADA, GRACE = (
    "00000000-0000-0000-0000-000000000001",
    "00000000-0000-0000-0000-000000000002",
)

AUTH_SOURCE = f"""
{AUTH_UID}
{AUTH_USERS}
insert into auth.users values ('{ADA}', 'ada@example.org'),
    ('{GRACE}', 'grace@example.org');
create table profiles (
    id uuid primary key references auth.users (id) on delete cascade,
    "displayName" text,
    "ownerId" uuid default auth.uid()
);
alter table profiles enable row level security;
create policy "Own profile" on profiles for update using (auth.uid() = id);
insert into profiles (id, "displayName") values ('{ADA}', 'Ada'), ('{GRACE}', 'Grace');
create view "userEmails" as
    select p.id, p."displayName", u.email
    from profiles as p join auth.users as u on u.id = p.id;
-- The source's auth.users has a column the target's lacks.
alter table auth.users add column phone text;
create view "userPhones" as select u.id, u.phone from auth.users as u;
create function "onNewUser"() returns trigger language plpgsql as $$
begin
    insert into public.profiles (id, "displayName") values (new.id, new.email);
    return new;
end $$;
create trigger "onAuthUserCreated" after insert on auth.users
    for each row execute function "onNewUser"();
do $$ begin
    if not exists (select from pg_roles where rolname = 'schemas_reader') then
        create role schemas_reader nologin;
    end if;
end $$;
grant usage on schema public to schemas_reader;
create table notes (id int primary key, note text);
create trigger stamp before insert on notes
    for each row execute function auth.stamp();
create trigger "stampProfile" before insert on profiles
    for each row execute function auth.stamp();
create function auth.gone() returns trigger language plpgsql
    as $$ begin return new; end $$;
create trigger gone before insert on notes
    for each row execute function auth.gone();
"""


def test_a_schema_the_target_has_keeps_its_calls_and_foreign_keys(
    new_database: object, tmp_path: Path
) -> None:
    # Supabase's shape: policies and defaults call auth.uid(), profiles
    # reference auth.users and a view reads it: a schema the platform keeps
    # on both sides, which pgshift does not migrate. Refused while the
    # target lacks it; kept once it has it, the key proved like any other.
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(source, AUTH_SOURCE)
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    refusal = (
        "profiles.profiles_id_fkey references auth.users (id), in another "
        "schema than public, which this run does not migrate; the key is kept "
        "when the target has that table"
    )
    done = run_cli(["scaffold"], source, target, state, project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert refusal in done.stderr
    # auth.users without a unique key on id cannot be referenced.
    query(target, "create schema auth; create table auth.users (id uuid)")
    done = run_cli(["scaffold"], source, target, state, project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert refusal in done.stderr
    # The platform's users arrive by its own means; one is missing yet.
    query(
        target,
        f"drop table auth.users; {AUTH_USERS}"
        f"insert into auth.users values ('{ADA}', 'ada@example.org')",
    )
    done = run_cli(["scaffold"], source, target, state, project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "auth.uid()" in done.stderr
    query(target, AUTH_UID.replace("create schema auth;", ""))
    run_steps(("scaffold",), source, target, state, project)
    done = run_cli(["migrate"], source, target, state, project)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout + done.stderr
    assert "profiles_id_fkey (id) -> auth.users (id)" in out
    assert GRACE in out
    assert query(target, "select to_regclass('public.profiles')") == [(None,)]
    query(target, f"insert into auth.users values ('{GRACE}', 'grace@example.org')")
    run_steps(("migrate",), source, target, state, project)
    assert query(
        target,
        "select conname, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'public.profiles'::regclass and contype = 'f'",
    ) == [
        (
            "profiles_id_fkey",
            "FOREIGN KEY (id) REFERENCES auth.users(id) ON DELETE CASCADE",
        )
    ]
    # A view reading auth.users reads the target's; a trigger on it, which
    # calls a migrated function, is the platform's table's: listed.
    assert query(target, "select display_name, email from user_emails") == [
        ("Ada", "ada@example.org"),
        ("Grace", "grace@example.org"),
    ]
    report = (project / "MIGRATION_REPORT.md").read_text()
    assert (
        '- trigger "onAuthUserCreated" on auth.users: calls "onNewUser"() of '
        "the migrated schema from a table of schema auth"
    ) in report
    # A trigger executing the target's own function of that schema arrives,
    # unless its table's names change (the function may name its columns);
    # one executing a function the target lacks is listed.
    query(target, "insert into notes (id) values (1)")
    assert query(target, "select note from notes") == [("stamped",)]
    assert (
        "- trigger stampProfile on profiles: needs review: line 1: it executes "
        "auth.stamp(), a function of schema auth, which pgshift does not "
        "rewrite, on a table whose names change"
    ) in report
    assert (
        "- trigger gone on notes: needs review: line 1: it executes auth.gone(), "
        "a function of schema auth, which pgshift does not migrate and the "
        "target does not have"
    ) in report
    # A view reading a column the target's table lacks stays behind, saying so.
    assert (
        "- view userPhones: reads auth.users, which the target has without "
        "phone text (a column of that name and type)"
    ) in report
    # USAGE granted to a role, which it held through PUBLIC's too.
    assert query(
        target,
        "select count(*) from pg_namespace, aclexplode(nspacl) as a "
        "where nspname = 'public' and a.grantee = 'schemas_reader'::regrole",
    ) == [(1,)]
    query(target, f"delete from auth.users where id = '{GRACE}'")
    assert query(target, "select display_name from profiles") == [("Ada",)]
    assert query(
        target,
        "select policyname, qual from pg_policies where tablename = 'profiles'",
    ) == [("Own profile", "(auth.uid() = id)")]
    assert query(
        target,
        "select column_default from information_schema.columns "
        "where table_name = 'profiles' and column_name = 'owner_id' "
        "and table_schema = 'public'",
    ) == [("auth.uid()",)]


EXTENSION_TYPES_SOURCE = """
create extension cube;
create schema app;
create domain app."TocBox" as public.cube default public.cube(array[1, 1])
    check (public.cube_dim(value) <= 3);
create type app."Span" as ("lowerCorner" public.cube, "tag" text);
create table app."MediumIndex" (
    id int primary key,
    toc public.cube not null default public.cube(array[0, 0, 0]),
    "tocs" public.cube[],
    "tocBox" app."TocBox",
    "span" app."Span",
    "dims" int generated always as (public.cube_dim(toc)) stored,
    constraint "tocDims" check (public.cube_dim(toc) <= 3)
);
create index "mediumIndexDims" on app."MediumIndex" (public.cube_dim(toc));
create index "mediumIndexToc" on app."MediumIndex" using gist (toc);
insert into app."MediumIndex" (id, toc, "tocs", "tocBox") values
    (1, public.cube(array[1, 2, 3]), array[public.cube(1)], public.cube(2));
"""


def test_an_extension_of_another_schema_is_no_schema_difference(
    new_database: object, tmp_path: Path
) -> None:
    # MusicBrainz's shape: the extension is in public on the source, the
    # migrated schema is another; on the target the extension is created in
    # the final schema public. The source prints its types and functions
    # qualified (public.cube), the target bare: the same extension's objects.
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(source, EXTENSION_TYPES_SOURCE)
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    done = run_cli(["--schemas", "app", "scaffold"], source, target, state, project)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_cli(["--schemas", "app", "migrate"], source, target, state, project)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "schema differs" not in out
    assert query(
        target,
        "select format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = 'public.medium_index'::regclass and attname = 'toc'",
    ) == [("cube",)]
    # A real difference of such a column, default, generated column or
    # domain check is still one.
    query(
        target,
        "alter table medium_index alter column tocs type text[];"
        "alter table medium_index alter column toc set default cube(array[9]);"
        "alter domain toc_box add constraint flat check (cube_dim(value) <= 2);"
        "alter domain toc_box set default cube(array[2, 2]);",
    )
    done = run_cli(["--schemas", "app", "verify"], source, target, state, project)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-4000:]
    differences = [line for line in out.splitlines() if "schema differs" in line]
    assert any("medium_index.tocs: type 'text[]'" in line for line in differences)
    assert any("medium_index.toc: default 'cube(" in line for line in differences)
    assert any(
        line.startswith("schema differs: domain toc_box:") for line in differences
    )
    assert len(differences) == 3, differences


EXTENSION_FUNCTION_SOURCE = """
create extension cube;
create extension earthdistance;
create schema ext;
create schema app;
create table app.place (id int primary key, lat float8, lon float8);
-- The schema's own function, with earthdistance's name and argument types.
create function app.ll_to_earth(float8, float8) returns float8
    language sql immutable strict as 'select $1 + $2';
insert into app.place values (1, 51.5, -0.17);
"""


def test_a_routine_an_extension_function_displaces_stops_scaffold(
    new_database: object, tmp_path: Path
) -> None:
    # MusicBrainz's shape: its schema overrides earthdistance's
    # ll_to_earth(float8, float8), the extension in public, which is the
    # final schema on the target: both cannot be created there.
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(source, EXTENSION_FUNCTION_SOURCE)
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    scaffold = ["--schemas", "app", "scaffold"]
    migrate = ["--schemas", "app", "migrate"]
    clash = (
        "app.ll_to_earth(double precision, double precision) has the name and "
        "argument types of public.ll_to_earth(double precision, double "
        "precision) of extension earthdistance, which is in schema public on "
        "the target"
    )
    done = run_cli(scaffold, source, target, state, project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert clash in done.stderr
    assert "ALTER EXTENSION earthdistance SET SCHEMA <schema>" in done.stderr
    assert not (project / "models" / "final" / "place.sql").exists()
    # Moved out of public on the source, the build creates it elsewhere,
    # unless the target has it in public already.
    query(source, "alter extension earthdistance set schema ext")
    query(target, "create extension cube; create extension earthdistance")
    done = run_cli(scaffold, source, target, state, project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert clash in done.stderr
    query(target, "drop extension earthdistance")
    done = run_cli(scaffold, source, target, state, project)
    assert done.returncode == 0, done.stdout + done.stderr
    # The extension arriving in public after scaffold fails the publish;
    # the report does not take the extension's function for the build's.
    query(target, "create extension earthdistance")
    done = run_cli(migrate, source, target, state, project)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    report = (project / "MIGRATION_REPORT.md").read_text()
    assert "body differs" not in report
    assert (
        'function "public".ll_to_earth(double precision, double precision): '
        "missing on the target, where extension earthdistance's function of "
        "that name and argument types is"
    ) in report
    query(target, "drop extension earthdistance")
    done = run_cli(migrate, source, target, state, project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # earthdistance's own bodies name cube's and its objects unqualified.
    assert query(
        target,
        "set search_path = public, ext; "
        "select public.ll_to_earth(1, 2) = 3, ext.ll_to_earth(0, 0) is not null",
    ) == [(True, True)]


FINAL_SCHEMA_FUNCTION_SOURCE = """
create function public.fold(t text) returns text language sql immutable
    as $$ select lower(t) $$;
create schema ws;
create table ws."Person" (
    id int primary key,
    "nameFirst" text,
    "searchKey" text generated always as (public.fold("nameFirst")) stored
);
insert into ws."Person" (id, "nameFirst") values (1, 'Ada'), (2, 'GRACE');
"""


def test_a_function_of_the_final_schema_the_target_has_is_called_there(
    new_database: object, tmp_path: Path
) -> None:
    # Twenty's shape: a workspace schema's generated column calls a helper
    # of the source's public, the final schema on the target. Refused while
    # the target lacks it; once created there, the column calls it.
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(source, FINAL_SCHEMA_FUNCTION_SOURCE)
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    scaffold = ["--schemas", "ws", "scaffold"]
    done = run_cli(scaffold, source, target, state, project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "uses function public.fold(pg_catalog.text)" in done.stderr
    query(
        target,
        "create function public.fold(t text) returns text language sql "
        "immutable as $$ select lower(t) $$",
    )
    for command in ("scaffold", "migrate"):
        done = run_cli(["--schemas", "ws", command], source, target, state, project)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert query(target, "select id, search_key from person order by id") == [
        (1, "ada"),
        (2, "grace"),
    ]
    query(target, "insert into person (id, name_first) values (3, 'Hopper')")
    assert query(target, "select search_key from person where id = 3") == [("hopper",)]


def test_the_schema_comment_goes_to_a_final_schema_of_its_own_only() -> None:
    # PostgreSQL's own comment on public is no comment of the source's, and
    # the target's public keeps its own.
    said = SourceComment("schema", None, "public", PUBLIC_COMMENT)
    own = SourceComment("schema", None, "Billing", "Invoices")
    into_app = NameMap(source_name="app", source_schema="public", final_schema="app")
    assert map_comments([said], into_app) == []
    assert [c.text for c in map_comments([own], into_app)] == ["Invoices"]
    into_public = NameMap(source_name="app", source_schema="Billing")
    assert map_comments([own], into_public) == []


SHARED_TYPES = """
create domain public."Name" varchar(50) constraint named check (value <> '');
create domain public."Score" int default 42;
create domain public."Sorted" text collate "C";
create type public."Flag" as enum ('yes', 'no, it''s not');
"""


def test_a_column_of_another_schemas_type_the_target_has_keeps_it(
    new_database: object, tmp_path: Path
) -> None:
    # AdventureWorks' shape: every schema's columns use domains of public.
    # Kept where the target has the type as the source has it; refused,
    # naming the difference, where the target's is another.
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(
        source,
        SHARED_TYPES + 'create schema person; create table person."Person" '
        '(id int primary key, "firstName" "Name", flag "Flag", aliases "Name"[], '
        'score "Score", sorted "Sorted"); '
        """insert into person."Person" values (1, 'Ada', 'no, it''s not', '{A,"B c"}', """
        "7, 'b'), (2, null, null, null, null, 'B')",
    )
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    chosen = ["--schemas", "person", "--final-schema", "person"]
    other = (
        SHARED_TYPES.replace("varchar(50)", "varchar(40)")
        .replace("default 42", "default 0")
        .replace('collate "C"', "")
    )
    query(target, other)
    done = run_cli([*chosen, "scaffold"], source, target, state, project)
    assert done.returncode == 2, done.stdout + done.stderr
    for column, domain in (
        ("firstName", "Name"),
        ("score", "Score"),
        ("sorted", "Sorted"),
    ):
        assert (
            f'Person.{column} (public."{domain}"): a type of schema public, which '
            "the target has, but not as the source has it"
        ) in done.stderr
    assert "Person.flag" not in done.stderr
    # The same checks under other names are the same domain.
    query(
        target,
        'drop domain public."Name", public."Score", public."Sorted"; '
        + SHARED_TYPES.replace("constraint named", "constraint other").replace(
            """create type public."Flag" as enum ('yes', 'no, it''s not');""", ""
        ),
    )
    for command in ("scaffold", "migrate"):
        done = run_cli([*chosen, command], source, target, state, project)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert query(
        target,
        "select id, first_name, flag::text, aliases::text, "
        "pg_typeof(first_name)::text, score from person.person order by sorted",
    ) == [
        (2, None, None, None, '"Name"', None),
        (1, "Ada", "no, it's not", '{A,"B c"}', '"Name"', 7),
    ]
    assert query(
        target, "insert into person.person (id) values (3) returning score"
    ) == [(42,)]
    # Into public, the final schema, as well: the target's public types are
    # found there.
    other_target = new_database()  # type: ignore[operator]
    query(other_target, SHARED_TYPES)
    for command in ("scaffold", "migrate"):
        done = run_cli(
            ["--schemas", "person", command],
            source,
            other_target,
            tmp_path / "s2",
            project,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
