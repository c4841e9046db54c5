"""Several source schemas on one target, a run each.

A final schema holds one source schema: a second one's migrate into it is
refused. Each run migrates one source schema into a final schema of its
own, and what reaches across schemas follows the other runs' names:
foreign keys (keys both ways wait for the second run), views, policies,
routine bodies and defaults calling another schema's sequence; the report
names the other schemas with their last verify, and verify refuses
another schema than the project's models.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from pgshift.catalog import read_not_migrated
from pgshift.mapping import MAP_FILE, NameMap
from pgshift.settings import OVERRIDES_FILE
from pgshift.verify.reconcile import published_elsewhere, published_tables

from migration import (
    PROJECT_DIR,
    cli_env,
    copy_project,
    make_settings,
    query,
    run_cli,
)

WORKSPACE = """
create schema {schema};
create table {schema}."Person" (id int primary key, "fullName" text not null);
create table {schema}."Company" (id int primary key, "companyName" text);
insert into {schema}."Person" select i, 'person ' || i from generate_series(1, {people}) i;
insert into {schema}."Company" values (1, '{schema}');
"""


def test_a_target_published_from_one_source_is_not_replaced_by_another(
    new_database: object, tmp_path: Path
) -> None:
    # Twenty's shape: one schema per workspace, each with the same tables.
    # The final schema holds one source schema: migrating a second one into
    # the same target would replace the first one's tables, so it is
    # refused before anything is written, naming both sources.
    source, other, target = (new_database() for _ in range(3))  # type: ignore[operator]
    query(
        source,
        WORKSPACE.format(schema="workspace_aaa", people=80)
        + WORKSPACE.format(schema="workspace_bbb", people=0)
        + 'create schema billing; create table billing."Ledger" (id int primary key);',
    )
    query(other, WORKSPACE.format(schema="workspace_aaa", people=5))
    project = copy_project(tmp_path / "project", scaffolded=False)
    state = tmp_path / "state"

    def run(url: str, schema: str, *args: str) -> tuple[int, str]:
        done = run_cli(["--schemas", schema, *args], url, target, state, project)
        return done.returncode, done.stdout[-3000:] + done.stderr[-3000:]

    def scaffold(url: str, schema: str) -> int:
        # Without the target, scaffold leaves dbt's parse to the next build:
        # the refused runs below build nothing.
        done = run_cli(["--schemas", schema, "scaffold"], url, "", state, project)
        return done.returncode

    def counts() -> list[tuple]:
        return query(
            target,
            "select (select count(*) from person), (select company_name from company)",
        )

    assert run(source, "workspace_aaa", "scaffold")[0] == 0
    code, out = run(source, "workspace_aaa", "migrate")
    assert code == 0, out
    assert counts() == [(80, "workspace_aaa")]

    # verify of another schema than the one loaded says so, naming both.
    assert scaffold(source, "workspace_bbb") == 0
    code, out = run(source, "workspace_bbb", "verify")
    assert code == 2, out
    source_db = source.rsplit("/", 1)[1]
    assert (
        f"the target's last load read database '{source_db}', schema "
        f"'workspace_aaa', and this verify checks database '{source_db}', "
        "schema 'workspace_bbb'"
    ) in out
    assert (
        "loader/run.py --schemas workspace_bbb --final-schema public migrate` "
        "(or `load`"
    ) in out
    assert "Failed" not in out and "same --include" not in out

    code, out = run(source, "workspace_bbb", "migrate")
    assert code == 2, out
    assert (
        "migrate refused, nothing was written: these final tables were "
        "published from another source than this migrate reads (database "
        f"'{source_db}', schema 'workspace_bbb'): company, person (from "
        f"database '{source_db}', schema 'workspace_aaa')"
    ) in out
    assert "replaces each table of the same name, losing the other" in out
    assert "another target database" in out
    assert "--replace-existing" in out
    assert counts() == [(80, "workspace_aaa")]
    assert query(target, 'select count(*) from raw."Person"') == [(80,)]

    # A schema of other table names would take back what the first one
    # published beside its tables: refused too.
    assert scaffold(source, "billing") == 0
    code, out = run(source, "billing", "migrate")
    assert code == 2, out
    assert (
        f"this migrate reads (database '{source_db}', schema 'billing'): "
        f"company, person (from database '{source_db}', schema 'workspace_aaa')"
    ) in out
    # No table of the same name: the message does not claim one is lost.
    assert "would mix its tables with the other source's" in out
    assert "losing the other source's rows" not in out
    assert query(target, "select to_regclass('raw.\"Ledger\"')") == [(None,)]

    # The same schema of another database is another source too.
    assert scaffold(other, "workspace_aaa") == 0
    code, out = run(other, "workspace_aaa", "migrate")
    assert code == 2, out
    other_db = other.rsplit("/", 1)[1]
    assert (
        f"this migrate reads (database '{other_db}', schema 'workspace_aaa'): "
        f"company, person (from database '{source_db}', schema 'workspace_aaa')"
    ) in out
    assert counts() == [(80, "workspace_aaa")]

    # A registry of an older pgshift does not record the source: unknown,
    # not different.
    names = NameMap.read(project)
    assert names is not None
    settings = make_settings(other, target, source_schema="workspace_aaa")
    query(target, "update pgshift.built_tables set source_dbname = null")
    assert published_elsewhere(settings, published_tables(settings, names)) == []
    query(target, f"update pgshift.built_tables set source_dbname = '{source_db}'")

    # --replace-existing replaces them all the same; from then on they are
    # the new source's, and its reruns (with verify) replace them.
    assert run(source, "workspace_bbb", "scaffold")[0] == 0
    code, out = run(source, "workspace_bbb", "migrate", "--replace-existing")
    assert code == 0, out
    assert counts() == [(0, "workspace_bbb")]
    code, out = run(source, "workspace_bbb", "migrate")
    assert code == 0, out


def _run_schema(
    schema: str,
    final: str,
    args: list[str],
    dbs: tuple[str, str],
    tmp_path: Path,
    project: Path,
) -> subprocess.CompletedProcess[str]:
    """One command of run.py for a source schema and its final schema."""
    return run_cli(
        ["--schemas", schema, "--final-schema", final, *args],
        dbs[0],
        dbs[1],
        tmp_path / "state",
        project,
    )


def _migrate_into_its_own_schema(
    schema: str,
    source: str,
    target: str,
    tmp_path: Path,
    project: Path,
    *,
    replace: bool = False,
    snapshot: str | None = None,
) -> str:
    """Scaffold one source schema into a final schema of its name and
    migrate it, replacing its tables with
    ``replace``, reading the source in ``snapshot`` when given: migrate is
    given neither schema, and takes both from the project scaffold wrote.

    Returns what migrate printed.
    """
    done = _run_schema(
        schema, schema, ["scaffold"], (source, target), tmp_path, project
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = run_cli(
        [
            "migrate",
            *(["--replace-existing"] if replace else []),
            *(["--snapshot", snapshot] if snapshot else []),
        ],
        source,
        target,
        tmp_path / "state",
        project,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


WORKSPACE_CODE = """
create function {schema}.people() returns bigint language sql stable
    as $$ select count(*) from {schema}."Person" $$;
create function {schema}.fill_name() returns trigger language plpgsql
    as $$ begin new."fullName" := coalesce(new."fullName", 'unnamed'); return new; end $$;
create trigger fill_name before insert on {schema}."Person"
    for each row execute function {schema}.fill_name();
create view {schema}."namedPeople" as
    select id, "fullName" from {schema}."Person" where "fullName" <> 'unnamed';
"""


def test_schemas_migrated_into_final_schemas_of_their_own_share_a_target(
    new_database: object, tmp_path: Path
) -> None:
    # One schema per workspace, each migrated by a run of its own into a
    # final schema of its own name on one target. Each run replaces, and
    # takes back, only what it published into its own final schema: the
    # second neither is refused as another source nor drops the first's
    # functions and triggers, and the first can be migrated again.
    source, target = (new_database() for _ in range(2))  # type: ignore[operator]
    query(
        source,
        "".join(
            WORKSPACE.format(schema=schema, people=people)
            + WORKSPACE_CODE.format(schema=schema)
            for schema, people in (("workspace_aaa", 80), ("workspace_bbb", 3))
        ),
    )
    # A role of the second workspace alone (roles are the cluster's, so the
    # target has it too): a run of the first must not take its grant back.
    query(
        source,
        "do $$ begin create role ws_bbb_reader; "
        "exception when duplicate_object then null; end $$;"
        "grant usage on schema workspace_bbb to ws_bbb_reader;"
        'grant select on workspace_bbb."Person" to ws_bbb_reader',
    )
    reads = (
        "select has_table_privilege('ws_bbb_reader', 'workspace_bbb.person', 'select')"
    )
    project = copy_project(tmp_path / "project", scaffolded=False)

    aaa = ["--schemas", "workspace_aaa", "--final-schema", "workspace_aaa"]

    def migrate(schema: str) -> None:
        _migrate_into_its_own_schema(schema, source, target, tmp_path, project)

    def workspaces() -> list[tuple]:
        # Each final schema's function, view and trigger, on its own rows.
        query(target, "insert into workspace_aaa.person values (1001, null)")
        query(target, "insert into workspace_bbb.person values (1001, null)")
        rows = query(
            target,
            "select workspace_aaa.people(), workspace_bbb.people(), "
            "(select count(*) from workspace_aaa.named_people), "
            "(select count(*) from workspace_bbb.named_people), "
            "(select full_name from workspace_aaa.person where id = 1001), "
            "(select full_name from workspace_bbb.person where id = 1001)",
        )
        query(target, "delete from workspace_aaa.person where id = 1001")
        query(target, "delete from workspace_bbb.person where id = 1001")
        return rows

    migrate("workspace_aaa")
    # The registries as a pgshift that kept one final schema per target
    # wrote them: keyed without the final schema.
    query(
        target,
        "alter table pgshift.built_tables drop column final_schema;"
        "alter table pgshift.built_tables add primary key (table_name);"
        "alter table pgshift.built_routines drop column final_schema;"
        "alter table pgshift.built_routines add primary key (kind, name, on_table)",
    )
    migrate("workspace_bbb")
    assert workspaces() == [(81, 4, 80, 3, "unnamed", "unnamed")]
    registered = "select final_schema, count(*) from pgshift.{} group by 1 order by 1"
    # Two tables and a view; two functions and a trigger, in each.
    assert query(target, registered.format("built_tables")) == [
        ("workspace_aaa", 3),
        ("workspace_bbb", 3),
    ]
    assert query(target, registered.format("built_routines")) == [
        ("workspace_aaa", 3),
        ("workspace_bbb", 3),
    ]

    # The first workspace's models built from the second's load (the
    # landing schema holds the last one) would publish its rows as theirs:
    # refused before anything is built.
    done = run_cli([*aaa, "scaffold"], source, target, tmp_path / "state", project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = run_cli([*aaa, "dbt", "build"], source, target, tmp_path / "state", project)
    assert done.returncode != 0, done.stdout[-3000:]
    assert (
        "holds the last load, of source schema workspace_bbb, and these models "
        "were scaffolded from source schema workspace_aaa"
    ) in done.stdout + done.stderr
    assert "--schemas workspace_aaa --final-schema workspace_aaa migrate" in (
        done.stdout + done.stderr
    )
    assert workspaces() == [(81, 4, 80, 3, "unnamed", "unnamed")]

    # The first workspace's run again, with a row more on its source.
    query(source, "insert into workspace_aaa.\"Person\" values (81, 'late')")
    assert query(target, reads) == [(True,)]
    migrate("workspace_aaa")
    assert workspaces() == [(82, 4, 81, 3, "unnamed", "unnamed")]
    assert query(target, reads) == [(True,)]


# sales' views, functions and policy read person's table: qualified, by an
# alias, by the table's own name, a column qualified with schema and table.
READING_PERSON = """
create view sales."orderCities" as
    select o.id, a."cityName" from sales."SalesOrder" o
    join person."Address" a on a."AddressID" = o."shipToAddressId";
create view sales."addressCount" as
    select count(*) as n, max(person."Address"."cityName") as "lastCity"
    from person."Address";
create materialized view sales."cityOrders" as
    select a."AddressID", a."cityName", count(o.id) as orders
    from person."Address" a
    left join sales."SalesOrder" o on o."shipToAddressId" = a."AddressID"
    group by a."AddressID";
create unique index "cityOrdersKey" on sales."cityOrders" ("AddressID");
create function sales.city_of(o int) returns text language sql stable as $$
    select "Address"."cityName" from sales."SalesOrder" s
    join person."Address" on person."Address"."AddressID" = s."shipToAddressId"
    where s.id = o $$;
create function sales.cities() returns setof text language plpgsql stable as $$
begin
    return query select a."cityName" from person."Address" a order by 1;
end $$;
create function sales.move_city(a int, c text) returns text language plpgsql as $$
declare
    r person."Address"%%rowtype;
    previous person."Address"."cityName"%%type;
begin
    select * into r from person."Address" where "AddressID" = a;
    previous := r."cityName";
    update person."Address" x set "cityName" = c where x."AddressID" = a;
    insert into person."Address" ("AddressID", "cityName") values (a + 100, previous);
    return previous;
end $$;
create function sales.addresses() returns setof person."Address"
    language sql stable as $$ select * from person."Address" order by 1 $$;
alter table sales."SalesOrder" enable row level security;
create policy shipped on sales."SalesOrder" using (exists (
    select 1 from person."Address" a where a."AddressID" = "shipToAddressId"));
"""


def test_a_key_into_a_schema_an_earlier_run_renamed_follows_its_names(
    new_database: object, tmp_path: Path
) -> None:
    # sales references person."Address"("AddressID"); person was migrated
    # first, into a final schema of its own, renamed. Its build recorded
    # its name map on the target, where sales' scaffold finds the table as
    # person.address(address_id): the key is kept there, not refused, and
    # sales' views, functions and policy read it under those names.
    source, target = (new_database() for _ in range(2))  # type: ignore[operator]
    query(
        source,
        "create schema person; create schema sales;"
        'create table person."Address" ("AddressID" int primary key, "cityName" text);'
        'create table sales."SalesOrder" (id int primary key, "shipToAddressId" int '
        'references person."Address" ("AddressID"));'
        "insert into person.\"Address\" values (1, 'Oslo'), (2, 'Lima');"
        'insert into sales."SalesOrder" values (10, 1), (11, 2), (12, null);'
        + READING_PERSON,
    )
    project = copy_project(tmp_path / "project", scaffolded=False)
    for schema in ("person", "sales"):
        _migrate_into_its_own_schema(schema, source, target, tmp_path, project)
    # Every view, function and policy arrived, reading person.address.
    for source_sql, target_sql in [
        (
            'select * from sales."orderCities" order by 1',
            "select * from sales.order_cities order by 1",
        ),
        ('select * from sales."addressCount"', "select * from sales.address_count"),
        (
            'select * from sales."cityOrders" order by 1',
            "select * from sales.city_orders order by 1",
        ),
        (
            "select sales.city_of(11), array(select sales.cities())",
            "select sales.city_of(11), array(select sales.cities())",
        ),
        ("select * from sales.addresses()", "select * from sales.addresses()"),
        # Its row variable, %TYPE, UPDATE ... SET and INSERT's columns.
        (
            "select sales.move_city(1, 'Bergen'), "
            'array(select row("AddressID", "cityName") from person."Address" '
            "order by 1)",
            "select sales.move_city(1, 'Bergen'), "
            "array(select row(address_id, city_name) from person.address order by 1)",
        ),
    ]:
        assert query(target, target_sql) == query(source, source_sql), target_sql
    assert (
        query(
            target, "select definition from pg_views where viewname = 'order_cities'"
        )[0][0].count("person.address a")
        == 1
    )
    assert query(
        target,
        "select pg_get_expr(polqual, polrelid) from pg_policy where polname = 'shipped'",
    ) == [
        (
            "(EXISTS ( SELECT 1\n   FROM person.address a\n"
            "  WHERE (a.address_id = sales_order.ship_to_address_id)))",
        )
    ]
    report = (project / "MIGRATION_REPORT.md").read_text()
    # With person's last verify, for a report of the whole target.
    assert (
        "- person -> person (by a run of its own; last verify: 1 table, 1 "
        "complete, 2 rows: PASSED at "
    ) in report
    assert "## Not migrated\n\n- nothing: every table" in report
    # person migrated again (its rows changed on the target, by move_city):
    # sales.addresses() returns its row type, and the drop of the replaced
    # table takes it with it; it is created again, and said so.
    _migrate_into_its_own_schema(
        "person", source, target, tmp_path, project, replace=True
    )
    assert query(target, "select * from sales.addresses()") == query(
        source, "select * from sales.addresses()"
    )
    report = (project / "MIGRATION_REPORT.md").read_text()
    assert "- function sales.addresses(): recreated" in report, report
    assert query(
        target,
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'sales.sales_order'::regclass and contype = 'f'",
    ) == [("FOREIGN KEY (ship_to_address_id) REFERENCES person.address(address_id)",)]
    # The key holds on the target as on the source.
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        query(target, "insert into sales.sales_order values (13, 3)")


def test_keys_between_two_schemas_both_ways_wait_for_the_second_run(
    new_database: object, tmp_path: Path
) -> None:
    # person."StateProvince" references sales."SalesTerritory", and
    # sales."Store" references person."StateProvince" (AdventureWorks'
    # shape): neither schema's run can find the other's table first. The
    # first run builds its table without the key, listing it as waiting;
    # the second run, once its tables are published, adds it under its
    # names. Each schema migrated again afterwards keeps both keys.
    source, target = (new_database() for _ in range(2))  # type: ignore[operator]
    query(
        source,
        "create schema person; create schema sales;"
        'create table sales."SalesTerritory" ("TerritoryID" int primary key, "Name" text);'
        'create table person."StateProvince" ("StateProvinceID" int primary key, '
        '"TerritoryID" int not null references sales."SalesTerritory" '
        "on delete cascade);"
        'create table sales."Store" (id int primary key, '
        '"stateId" int references person."StateProvince");'
        "insert into sales.\"SalesTerritory\" values (1, 'North'), (2, 'South');"
        'insert into person."StateProvince" values (10, 1), (11, 2);'
        'insert into sales."Store" values (100, 10), (101, null)',
    )
    project = copy_project(tmp_path / "project", scaffolded=False)
    keys = (
        "select conrelid::regclass::text, pg_get_constraintdef(oid) from pg_constraint "
        "where contype = 'f' order by 1"
    )
    both = [
        (
            "person.state_province",
            "FOREIGN KEY (territory_id) REFERENCES sales.sales_territory(territory_id) "
            "ON DELETE CASCADE",
        ),
        (
            "sales.store",
            "FOREIGN KEY (state_id) REFERENCES person.state_province(state_province_id)",
        ),
    ]
    # Every run reads the one moment `snapshot` holds (as pg_dump
    # --snapshot): the application's rows written between the runs, a
    # store of a province person's run did not see, stay out of sales'.
    holder = subprocess.Popen(
        [sys.executable, str(project / "loader" / "run.py"), "snapshot"],
        cwd=project,
        env=cli_env(source, target, tmp_path / "state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    held = holder.stdout.readline()
    assert held.startswith("holding source snapshot "), held + holder.stderr.read()
    snapshot = held.split()[3]
    taken = held.split("(taken at ", 1)[1].split(")", 1)[0]
    try:
        _migrate_into_its_own_schema(
            "person", source, target, tmp_path, project, snapshot=snapshot
        )
        assert query(target, keys) == []
        report = (project / "MIGRATION_REPORT.md").read_text()
        assert (
            "foreign key StateProvince.StateProvince_TerritoryID_fkey: references "
            'sales."SalesTerritory", in schema sales, which a run of its own '
            "migrates"
        ) in report
        query(
            source,
            'insert into person."StateProvince" values (12, 2);'
            'insert into sales."Store" values (102, 12)',
        )
        output = _migrate_into_its_own_schema(
            "sales", source, target, tmp_path, project, snapshot=snapshot
        )
        assert (
            "foreign key state_province_territory_id_fkey of person.state_province: "
            "added, referencing sales.sales_territory"
        ) in output
        assert query(target, keys) == both
        assert query(target, "select count(*) from sales.store") == [(2,)]
        # The report gives the moment the runs read, not the time of a load.
        report = (project / "MIGRATION_REPORT.md").read_text()
        assert f"- **Source snapshot:** `{snapshot}` taken at {taken}" in report
        # The keys hold on the target as on the source.
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            query(target, "insert into person.state_province values (12, 3)")
        for schema in ("person", "sales"):
            _migrate_into_its_own_schema(
                schema, source, target, tmp_path, project, snapshot=snapshot
            )
            assert query(target, keys) == both, schema
        assert "Result:** PASSED" in (project / "MIGRATION_REPORT.md").read_text()
    finally:
        holder.send_signal(signal.SIGINT)
        out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, out + err
    assert f"released source snapshot {snapshot}" in out
    # Released, it is refused by name, before anything is written.
    done = run_cli(
        ["load", "--snapshot", snapshot], source, target, tmp_path / "state", project
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"the source snapshot {snapshot} cannot be read in (invalid snapshot identifier"
    ) in done.stderr
    # The project holds sales' models now: a verify of person says so
    # rather than look for sales' tables in person.
    done = _run_schema(
        "person", "person", ["verify"], (source, target), tmp_path, project
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "the project's models were scaffolded from schema 'sales' into final "
        "schema 'sales', and this verify names 'person' into 'person'"
    ) in done.stderr


def test_a_trigger_of_another_schemas_table_is_listed_runnable_as_printed(
    new_database: object,
) -> None:
    # The statement to run on the target names the migrated schema's
    # function qualified, whatever the search_path it was read with (Indico's
    # consistent_deleted on events.events calls a function of categories).
    source = new_database()  # type: ignore[operator]
    query(
        source,
        "create schema categories; create schema events;"
        "create table events.events (id int primary key);"
        "create function categories.check_deleted() returns trigger "
        "language plpgsql as $$ begin return null; end $$;"
        "create trigger consistent_deleted after delete on events.events "
        "for each row execute function categories.check_deleted()",
    )
    with psycopg2.connect(source) as conn, conn.cursor() as cursor:
        cursor.execute("set search_path = categories")
        listed = read_not_migrated(cursor, "categories", lambda _: True)
    (statement,) = [r for k, _, r in listed if k == "trigger"]
    assert statement.endswith(
        "CREATE TRIGGER consistent_deleted AFTER DELETE ON events.events FOR EACH "
        "ROW EXECUTE FUNCTION categories.check_deleted()"
    )


def test_a_default_calling_another_schemas_sequence_calls_it_where_its_run_put_it(
    new_database: object, tmp_path: Path
) -> None:
    # "Production"."WorkOrder" draws its ids from "Sales"."DocumentNumberSeq",
    # which "Sales"."Order" shares (AdventureWorks-like). Migrated before
    # Sales, the default cannot be kept (the target lacks the sequence),
    # and says which run to make first; after Sales' run, it calls
    # sales.document_number_seq, the one both tables draw from.
    source, target = (new_database() for _ in range(2))  # type: ignore[operator]
    query(
        source,
        'create schema "Sales"; create schema "Production";'
        'create sequence "Sales"."DocumentNumberSeq" start 100;'
        'create table "Sales"."Order" (id int primary key '
        """default nextval('"Sales"."DocumentNumberSeq"'));"""
        'create table "Production"."WorkOrder" (id int primary key '
        """default nextval('"Sales"."DocumentNumberSeq"'), "partName" text);"""
        'insert into "Sales"."Order" default values;'
        """insert into "Production"."WorkOrder" ("partName") values ('bolt')""",
    )
    project = copy_project(tmp_path / "project", scaffolded=False)
    # Each schema's final schema is named once, in the override file, which
    # every command reads: no command is given --final-schema.
    (project / OVERRIDES_FILE).write_text(
        "schemas:\n  Sales: sales\n  Production: production\n", encoding="utf-8"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = run_cli(list(args), source, target, tmp_path / "state", project)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    done = run("--schemas", "Production", "scaffold")
    # Said at scaffold, not only found by verify.
    assert (
        'not migrated: default of work_order.id: nextval(\'"Sales".'
        '"DocumentNumberSeq"\'::regclass) is not migrated'
    ) in done.stdout
    names = NameMap.read(project)
    assert names is not None
    assert (
        names.tables["WorkOrder"]
        .dropped_defaults["id"]
        .startswith(
            """nextval('"Sales"."DocumentNumberSeq"'::regclass) is not migrated: """
            'it calls sequence "Sales"."DocumentNumberSeq" of schema "Sales", which '
            "the target does not have: migrate that schema first, in a run of its "
            "own (--schemas Sales --final-schema sales)"
        )
    )
    for schema in ("Sales", "Production"):
        run("--schemas", schema, "scaffold")
        run("migrate")
    assert query(
        target,
        "select pg_get_expr(adbin, adrelid) from pg_attrdef "
        "where adrelid = 'production.work_order'::regclass",
    ) == [("nextval('sales.document_number_seq'::regclass)",)]
    # Both tables draw from the one sequence, where the source's left off.
    assert query(
        target,
        "insert into production.work_order (part_name) values ('nut') returning id",
    ) == [(102,)]
    assert query(target, "insert into sales.order default values returning id") == [
        (103,)
    ]


def test_verify_lists_the_differing_rows_of_a_table_over_its_schemas_enum(
    new_database: object, tmp_path: Path
) -> None:
    # pg-boss' job.state is its schema's enum: the rows verify lists are cast
    # to the declared types, which name it unqualified, as in the final schema.
    source, target = (new_database() for _ in range(2))  # type: ignore[operator]
    query(
        source,
        "create schema boss; create type boss.job_state as enum ('created', 'done');"
        "create table boss.job (id int primary key, state boss.job_state);"
        "insert into boss.job values (1, 'created'), (2, 'done')",
    )
    project = copy_project(tmp_path / "project", scaffolded=False)
    _migrate_into_its_own_schema("boss", source, target, tmp_path, project)
    query(target, "update boss.job set state = 'done' where id = 1")
    done = run_cli(["verify"], source, target, tmp_path / "state", project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "id=1: state expected 'created', found 'done'" in done.stdout


def test_columns_of_another_schemas_types_follow_the_run_that_renamed_them(
    new_database: object, tmp_path: Path
) -> None:
    # AdventureWorks' shape: public holds only the domains and enums that the
    # other schemas' columns use. Named with --schemas, public's run creates
    # them under its map's names; person's run then gives its columns and
    # defaults those types where public's run put them.
    source, target = (new_database() for _ in range(2))  # type: ignore[operator]
    query(
        source,
        "create domain public.\"FullName\" varchar(50) check (value <> '');"
        'create domain public."Score" int default 42;'
        "create type public.\"Flag\" as enum ('yes', 'no, it''s not');"
        'create schema person; create table person."Person" (id int primary key, '
        '"firstName" "FullName", flag "Flag", aliases "FullName"[], score "Score", '
        '"isYes" "Flag" default \'yes\', tags "Flag"[] default \'{yes}\');'
        'insert into person."Person" values '
        "(1, 'Ada', 'no, it''s not', '{A,\"B c\"}', 7, 'no, it''s not', '{}'), "
        "(2, null, null, null, null, null, null);"
        'alter table person."Person" add constraint "notYes" check (flag <> \'yes\');'
        'create index "yesPeople" on person."Person" (id) where "isYes" = \'yes\';'
        'create view person."namedPeople" as select id, "firstName", flag '
        'from person."Person" where "firstName" is not null;'
        'create function person."flagOf"(p_id int) returns public."Flag" '
        'language sql stable as $$ select flag from person."Person" '
        "where id = p_id $$;"
        'create function person."isFlag"(p_flag text) returns boolean '
        "language plpgsql as $$ begin "
        'return p_flag::public."Flag" is not null; end $$;'
        # AdventureWorks' pe: a schema of views alone, one over each table
        # of person; and a schema holding nothing.
        'create schema pe; create view pe.p as select id as "personId", * '
        'from person."Person"; create schema scratch',
    )
    project = copy_project(tmp_path / "project", scaffolded=False)
    # Without --schemas, public (no tables) is refused, naming the run and
    # the order of all of them; in a new clone too, whose sample models
    # were scaffolded from public unnamed.
    (project / MAP_FILE).parent.mkdir()
    shutil.copy(PROJECT_DIR / MAP_FILE, project / MAP_FILE)
    done = run_cli(["scaffold"], source, target, tmp_path / "state", project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "its own types move in a run naming it: --schemas public\n"
        "schemas: a run each, each after the schemas it uses (their types, "
        "sequences, tables, functions): public; then person; then pe"
    ) in done.stderr
    # person first: the target lacks public's types, and the refusal says
    # which run makes them.
    done = _run_schema(
        "person", "person", ["scaffold"], (source, target), tmp_path, project
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        'Person.flag (public."Flag"): a type of schema public, which the target '
        "does not have: migrate that schema first, in a run of its own "
        "(--schemas public --final-schema public)"
    ) in done.stderr
    _migrate_into_its_own_schema("public", source, target, tmp_path, project)
    assert query(
        target,
        "select types from pgshift.name_maps where final_schema = 'public'",
    ) == [({"Flag": "flag", "FullName": "full_name", "Score": "score"},)]
    # Its migrate's verify passes: parity compares the columns' types and
    # defaults, and the functions' bodies, under public's run's names.
    _migrate_into_its_own_schema("person", source, target, tmp_path, project)
    assert query(
        target,
        "select attname::text, format_type(atttypid, atttypmod), "
        "pg_get_expr(adbin, adrelid) from pg_attribute "
        "left join pg_attrdef on adrelid = attrelid and adnum = attnum "
        "where attrelid = 'person.person'::regclass and attnum > 1 order by attnum",
    ) == [
        ("first_name", "full_name", None),
        ("flag", "flag", None),
        ("aliases", "full_name[]", None),
        ("score", "score", None),
        ("is_yes", "flag", "'yes'::flag"),
        ("tags", "flag[]", "'{yes}'::flag[]"),
    ]
    assert query(
        target,
        "select id, first_name, flag::text, aliases::text, score, is_yes::text, "
        "tags::text from person.person order by id",
    ) == [
        (1, "Ada", "no, it's not", '{A,"B c"}', 7, "no, it's not", "{}"),
        (2, None, None, None, None, None, None),
    ]
    # A check and a partial index comparing with their labels.
    assert query(
        target,
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'person.person'::regclass and contype = 'c'",
    ) == [("CHECK ((flag <> 'yes'::flag))",)]
    assert query(
        target,
        "select pg_get_expr(indpred, indrelid) from pg_index "
        "where indrelid = 'person.person'::regclass and indpred is not null",
    ) == [("(is_yes = 'yes'::flag)",)]
    # The domains' and the defaults' own effects, as on the source.
    assert query(
        target,
        "insert into person.person (id) values (3) returning score, is_yes::text, "
        "tags::text",
    ) == [(42, "yes", "{yes}")]
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(target, "insert into person.person (id, first_name) values (4, '')")
    query(target, "delete from person.person where id = 3")
    # A view over them, and functions taking, returning and casting to them.
    assert query(
        target,
        "select format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = 'person.named_people'::regclass and attnum > 1 "
        "order by attnum",
    ) == [("full_name",), ("flag",)]
    assert query(
        target,
        """select person."flagOf"(1)::text, pg_typeof(person."flagOf"(1))::text, """
        """person."isFlag"('yes'), (select count(*) from person.named_people)""",
    ) == [("no, it's not", "flag", True, 1)]
    # The schema of views reads person's tables where its run put them, its
    # columns renamed; the empty schema is named, not left out.
    output = _migrate_into_its_own_schema("pe", source, target, tmp_path, project)
    assert "schemas left out" not in output
    report = (project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "- scratch: holds nothing to migrate" in report
    assert query(
        target, "select person_id, first_name, flag::text from pe.p order by 1"
    ) == query(
        source, 'select "personId", "firstName", flag::text from pe.p order by 1'
    )
