"""Views, materialized views and row-level security arrive renamed by PostgreSQL.

The fixture (fixtures/views_source.sql, in pg_dump's shape) holds views on
views, a WITH CASCADED CHECK OPTION view, a security_barrier and a
security_invoker view, a materialized view with an index, comments, a view
reading an enum-typed camelCase column, views with a WITH query named like
the table they read, a view calling a function of the source (listed, not
guessed), and a table with row-level security enabled
and forced and policies reading camelCase columns. One migration; then the
views, the check option and the policies behave on the target as on the
source, and a second migration replaces them without duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from pgshift.shadow import unhide_relations
from pgshift.verify.views import Moment, moment_dependence

from migration import ProjectCopy, copy_project, query, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
READER = "views_ticket_reader"

VIEWS = {
    # target view: source view
    "active_accounts": "activeAccounts",
    "open_tickets": "openTickets",
    "big_tickets": "bigTickets",
    "pending_tickets": "pendingTickets",
    "my_tickets": "myTickets",
    "account_totals": "accountTotals",
    # Created by the publish, after the function it calls.
    "ticket_euros": "ticketEuros",
    "big_euros": "bigEuros",
    "ticket_statuses": "ticketStatuses",
    # A WITH query named like the table it reads, renamed on the way.
    "ticket_owners": "ticketOwners",
    "account_tickets": "accountTickets",
}
NEVER_REFRESHED = "never_refreshed"
# Views whose rows on the target are not the source's as it stores them,
# by design: verify compares what can be compared and names the rest.
MOMENT_VIEWS = {
    "ticket_stats": "ticketStats",  # now() AS "updatedAt": listmonk's shape
    "ticket_ages": "ticketAges",
    "ticket_stats_shown": "ticketStatsShown",
    "home_accounts": "homeAccounts",  # filters on current_database()
}
STALE_VIEWS = {
    "account_count": "accountCount",  # not refreshed since its table changed
    "account_count_shown": "accountCountShown",
}
# Its query fails on the source's rows (a division by zero), and so on the
# target's: named, its rows not compared.
FAILING_VIEW = "ticket_ratios"
ALL_VIEWS = sorted([*VIEWS, *MOMENT_VIEWS, *STALE_VIEWS, NEVER_REFRESHED, FAILING_VIEW])


@pytest.fixture(scope="module")
def views(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProjectCopy]:
    cluster = pg_cluster
    cluster.execute(  # type: ignore[attr-defined]
        f"do $$ begin create role {READER}; exception when duplicate_object "
        "then null; end $$"
    )
    source = cluster.create_database("views_source")  # type: ignore[attr-defined]
    target = cluster.create_database("views_target")  # type: ignore[attr-defined]
    conn = psycopg2.connect(source)
    with conn, conn.cursor() as cursor:
        cursor.execute((FIXTURES / "views_source.sql").read_text(encoding="utf-8"))
    conn.close()
    project = tmp_path_factory.mktemp("views") / "pgshift"
    copy_project(project, scaffolded=False)
    yield ProjectCopy(source, target, project, tmp_path_factory.mktemp("state"))
    for name in ("views_source", "views_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def migrated(views: ProjectCopy) -> ProjectCopy:
    code, stdout, stderr = views.run("scaffold")
    assert code == 0, stdout + stderr
    views.scaffold_output = stdout  # type: ignore[attr-defined]
    code, stdout, stderr = views.run("migrate")
    assert code == 0, stdout[-4000:] + stderr[-4000:]
    return views


def _rows(url: str, statement: str, role: str | None = None) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            if role:
                cursor.execute(f"set local role {role}")
            cursor.execute(statement)
            return sorted(cursor.fetchall(), key=repr)
    finally:
        conn.close()


def _sqlstate(url: str, statement: str, role: str | None = None) -> str | None:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            if role:
                cursor.execute(f"set role {role}")
            cursor.execute(statement)
    except psycopg2.Error as error:
        return error.pgcode
    finally:
        conn.rollback()
        conn.close()
    return None


def test_scaffold_writes_each_view_as_a_model_with_its_lineage(
    migrated: ProjectCopy,
) -> None:
    models = migrated.project / "models" / "views"
    assert sorted(p.stem for p in models.glob("*.sql")) == ALL_VIEWS
    text = (models / "open_tickets.sql").read_text(encoding="utf-8")
    assert "-- depends_on: {{ ref('active_accounts') }}" in text
    assert "-- depends_on: {{ ref('tickets') }}" in text
    assert "t.account_id" in text and '"accountId"' not in text
    # A view calling a function that cannot be renamed is listed, and so is
    # the view over it; nothing is guessed.
    output = migrated.scaffold_output  # type: ignore[attr-defined]
    assert (
        "not migrated: view rowCounts: calls countRows(p_table text), a "
        "function of the source that needs review"
    ) in output
    assert (
        "not migrated: view rowCountsAgain: reads rowCounts, which is not migrated"
    ) in output
    assert not (models / "row_counts.sql").exists()
    names = json.loads(
        (migrated.project / "models" / "pgshift_name_map.json").read_text("utf-8")
    )
    # A view calling a function the build creates waits for it, and so does
    # the view over it.
    assert names["views"]["ticketEuros"]["calls"] == ["centsToEuros(cents bigint)"]
    assert names["views"]["ticketEuros"]["deferred"] is True
    assert names["views"]["bigEuros"]["deferred"] is True
    assert names["views"]["openTickets"]["deferred"] is False
    assert names["views"]["openTickets"]["name"] == "open_tickets"
    assert names["views"]["openTickets"]["columns"]["accountId"] == "account_id"
    # Lineage: each view is downstream of what it reads.
    manifest = json.loads(
        (migrated.project / "target" / "manifest.json").read_text("utf-8")
    )
    node = manifest["nodes"]["model.pgshift.big_tickets"]
    assert node["depends_on"]["nodes"] == ["model.pgshift.open_tickets"]
    # And scaffold --check finds nothing drifted, until a view model changes.
    code, stdout, stderr = migrated.run("scaffold", "--check")
    assert code == 0, stdout + stderr
    assert "the project matches the source schema (" in stdout, stdout
    model = models / "open_tickets.sql"
    model.write_text(text.replace("<>", "="), encoding="utf-8")
    try:
        code, stdout, stderr = migrated.run("scaffold", "--check")
    finally:
        model.write_text(text, encoding="utf-8")
    assert code == 1, stdout + stderr
    assert "differs from the source schema: models/views/open_tickets.sql" in stdout


def test_views_arrive_with_their_options_comments_and_index(
    migrated: ProjectCopy,
) -> None:
    found = query(
        migrated.target,
        "select c.relname, c.relkind, coalesce(c.reloptions, '{}'), "
        "obj_description(c.oid, 'pg_class') from pg_class as c "
        "where c.relnamespace = 'public'::regnamespace and c.relkind in ('v', 'm') "
        "order by 1",
    )
    assert found == [
        ("account_count", "m", [], None),
        ("account_count_shown", "v", [], None),
        ("account_tickets", "m", [], None),
        ("account_totals", "m", [], "Tickets per account."),
        (
            "active_accounts",
            "v",
            [],
            "Accounts that can log in; it's {{ not }} Jinja.",
        ),
        ("big_euros", "m", [], None),
        ("big_tickets", "v", ["security_barrier=true"], None),
        ("home_accounts", "v", [], None),
        ("my_tickets", "v", ["security_invoker=true"], None),
        ("never_refreshed", "m", [], None),
        ("open_tickets", "v", [], None),
        ("pending_tickets", "v", ["check_option=cascaded"], None),
        ("ticket_ages", "v", [], None),
        ("ticket_euros", "v", [], None),
        ("ticket_owners", "v", [], None),
        ("ticket_ratios", "v", [], None),
        ("ticket_stats", "m", [], None),
        ("ticket_stats_shown", "v", [], None),
        ("ticket_statuses", "v", [], None),
    ]
    assert query(
        migrated.target,
        "select col_description('public.active_accounts'::regclass, 2)",
    ) == [("What the app shows.",)]
    assert query(
        migrated.target,
        "select indexname, indexdef from pg_indexes where tablename = 'account_totals'",
    ) == [
        (
            "account_totals_account_id_idx",
            "CREATE UNIQUE INDEX account_totals_account_id_idx ON "
            "public.account_totals USING btree (account_id)",
        )
    ]
    # A materialized view the source never refreshed is not populated.
    assert query(
        migrated.target,
        "select relispopulated from pg_class "
        "where oid = 'public.never_refreshed'::regclass",
    ) == [(False,)]
    # Nothing is left in the build schema.
    assert query(
        migrated.target,
        "select count(*) from pg_class where relnamespace = "
        "to_regnamespace('public_pgshift_build') and relkind = 'm'",
    ) == [(0,)]


def test_every_view_returns_the_source_rows(migrated: ProjectCopy) -> None:
    names = json.loads(
        (migrated.project / "models" / "pgshift_name_map.json").read_text("utf-8")
    )
    for target, source in VIEWS.items():
        columns = names["views"][source]["columns"]
        source_cols = ", ".join(f'"{c}"' for c in columns)
        target_cols = ", ".join(f'"{c}"' for c in columns.values())
        assert _rows(migrated.source, f'select {source_cols} from "{source}"') == (
            _rows(migrated.target, f"select {target_cols} from {target}")
        ), target
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    assert report["schema_differences"] == []
    assert report["views_differ"] == []
    assert len(report["views"]) == len(ALL_VIEWS)
    assert (
        "materialized view never_refreshed (from neverRefreshed): not populated "
        "on the source, nor on the target" in report["views"]
    )
    assert any("rowCounts:" in line for line in report["not_migrated"])
    md = (migrated.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "## Views" in md and "open_tickets (from openTickets)" in md


def _line(report: dict, view: str) -> str:
    found = [line for line in report["views"] if f" {view} (from " in line]
    assert len(found) == 1, report["views"]
    return found[0]


def test_a_view_read_at_another_moment_is_compared_on_its_other_columns(
    migrated: ProjectCopy,
) -> None:
    # The target's ticket_stats was computed at the build, a plain view's
    # now() at verify: those columns differ, the others are compared.
    assert _rows(migrated.source, 'select "updatedAt" from "ticketStats"') != (
        _rows(migrated.target, "select updated_at from ticket_stats")
    )
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    assert report["views_differ"] == []
    now = "whose values depend on the time it is read (now())"
    assert _line(report, "ticket_stats") == (
        "materialized view ticket_stats (from ticketStats): source 1 rows, "
        f"target 1 rows, checksum match over its columns but updated_at, {now}"
    )
    assert _line(report, "ticket_ages") == (
        "view ticket_ages (from ticketAges): source 6 rows, target 6 rows, "
        f"checksum match over its columns but age, {now}"
    )
    assert _line(report, "ticket_stats_shown") == (
        "view ticket_stats_shown (from ticketStatsShown): source 1 rows, target "
        "1 rows, checksum match over its columns but updated_at, whose values "
        "depend on the time it is read (now(), through ticket_stats)"
    )
    # Rows, not a column, depend on where it is read: named with the true
    # reason, not failed.
    assert _line(report, "home_accounts") == (
        "view home_accounts (from homeAccounts): source 3 rows, target 0 rows, "
        "checksum differs, as its rows depend on the database it is read in "
        "(current_database()); its definition is compared by schema parity and "
        "its tables by their checksums"
    )


def test_a_view_failing_alike_on_both_sides_is_named_not_failed(
    migrated: ProjectCopy,
) -> None:
    # Coder's provisioner_job_stats over an infinite timestamp: the view
    # cannot be read on the source, nor on the target, for the same reason.
    for url, view in (
        (migrated.source, '"ticketRatios"'),
        (migrated.target, FAILING_VIEW),
    ):
        assert _sqlstate(url, f"select * from {view}") == "22012"
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    assert report["passed"], report["views_differ"]
    assert _line(report, FAILING_VIEW) == (
        "view ticket_ratios (from ticketRatios): gives the same error on both "
        "sides: division by zero (22012); its rows could not be compared"
    )


def test_a_materialized_view_stale_on_the_source_is_compared_with_its_definition(
    migrated: ProjectCopy,
) -> None:
    # The source refreshed it before its third account; the target's was
    # computed at migration, from all three.
    assert _rows(migrated.source, 'select accounts from "accountCount"') == [(2,)]
    assert _rows(migrated.target, "select accounts from account_count") == [(3,)]
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    assert report["views_differ"] == []
    assert _line(report, "account_count") == (
        "materialized view account_count (from accountCount): source 1 rows, "
        "target 1 rows, checksum match; stale on the source: its stored rows "
        "differ from its definition; the target's were computed at migration"
    )
    assert _line(report, "account_count_shown") == (
        "view account_count_shown (from accountCountShown): source 1 rows, "
        "target 1 rows, checksum differs, as it reads account_count, stale on "
        "the source; its definition is compared by schema parity and its "
        "tables by their checksums"
    )
    # A materialized view refreshed on the source is not stale.
    assert "stale" not in _line(report, "account_totals")


def test_the_check_option_refuses_the_same_insert(migrated: ProjectCopy) -> None:
    refused = (
        "insert into {} values (7, 1, 'open', 1, '2025-02-01 00:00+00')",
        "insert into {} values (7, 1, 'pending', 1, '2025-02-01 00:00+00')",
    )
    for statement, expected in zip(refused, ("44000", None), strict=True):
        assert _sqlstate(migrated.source, statement.format('"pendingTickets"')) == (
            expected
        )
        assert _sqlstate(migrated.target, statement.format("pending_tickets")) == (
            expected
        )


def test_row_level_security_and_policies_act_alike(migrated: ProjectCopy) -> None:
    assert query(
        migrated.target,
        "select relrowsecurity, relforcerowsecurity from pg_class "
        "where oid = 'public.tickets'::regclass",
    ) == [(True, True)]
    policies = query(
        migrated.target,
        "select policyname, permissive, cmd, roles::text[], qual, with_check "
        "from pg_policies where tablename = 'tickets' order by 1",
    )
    assert [p[:4] for p in policies] == [
        ("ticketsInsert", "PERMISSIVE", "INSERT", [READER]),
        ("ticketsNotNegative", "RESTRICTIVE", "INSERT", [READER]),
        ("ticketsOfOwner", "PERMISSIVE", "SELECT", [READER]),
    ]
    assert "tickets.account_id" in policies[2][4]
    assert "owner_role" in policies[2][4]
    assert policies[1][5] == "(total_cents >= 0)"
    # The reader sees the tickets of its accounts, on both sides.
    source_rows = _rows(migrated.source, 'select id from "Tickets"', READER)
    assert source_rows == [(1,), (2,), (5,), (6,)]
    assert _rows(migrated.target, "select id from tickets", READER) == source_rows
    # And the same inserts are refused (negative, closed) or allowed.
    inserts = [
        ("(8, 1, 'open', -1, now())", "42501"),
        ("(8, 1, 'closed', 1, now())", "42501"),
        ("(8, 1, 'open', 1, now())", None),
    ]
    for values, expected in inserts:
        assert _sqlstate(
            migrated.source, f'insert into "Tickets" values {values}', READER
        ) == (expected)
        assert _sqlstate(
            migrated.target, f"insert into tickets values {values}", READER
        ) == (expected)
    not_migrated = query(
        migrated.target,
        "select kind, object_name from pgshift.not_migrated order by 1, 2",
    )
    assert not any(kind in ("policy", "row-level security") for kind, _ in not_migrated)


def test_a_second_migrate_replaces_views_and_policies(migrated: ProjectCopy) -> None:
    query(migrated.target, "refresh materialized view account_totals")
    code, stdout, stderr = migrated.run("migrate")
    assert code == 0, stdout[-4000:] + stderr[-4000:]
    found = query(
        migrated.target,
        "select relname from pg_class where relkind in ('v', 'm') "
        "and relnamespace = 'public'::regnamespace order by 1",
    )
    assert [name for (name,) in found] == ALL_VIEWS
    assert query(
        migrated.target,
        "select policyname, count(*) from pg_policies where tablename = 'tickets' "
        "group by 1 order by 1",
    ) == [("ticketsInsert", 1), ("ticketsNotNegative", 1), ("ticketsOfOwner", 1)]
    # The views, policies and the source's grants are pgshift's: nothing is
    # kept as the target's own, and the reader keeps its grants.
    assert query(migrated.target, "select kind from pgshift.carried_over") == []
    assert query(
        migrated.target,
        f"select has_table_privilege('{READER}', 'public.tickets', 'insert')",
    ) == [(True,)]
    registered = {
        name
        for (name,) in query(
            migrated.target, "select table_name from pgshift.built_tables"
        )
    }
    assert set(ALL_VIEWS) <= registered
    # A build of one table keeps the views that read it (as the target's
    # objects on it, recreated over the new table) and its policies, once.
    code, stdout, stderr = migrated.run("dbt", "build", "-s", "tickets")
    assert code == 0, stdout[-4000:] + stderr[-4000:]
    assert query(
        migrated.target,
        "select count(*) from pg_class where relkind in ('v', 'm') "
        "and relnamespace = 'public'::regnamespace",
    ) == [(len(ALL_VIEWS),)]
    assert query(
        migrated.target, "select count(*) from pg_policies where tablename = 'tickets'"
    ) == [(3,)]
    assert _rows(migrated.target, "select id from big_tickets") == [(2,), (4,)]


def test_verify_finds_a_view_or_policy_changed_on_the_target(
    migrated: ProjectCopy,
) -> None:
    query(
        migrated.target,
        "create or replace view big_tickets with (security_barrier) as "
        "select id, display_name, total_cents from open_tickets "
        "where total_cents > 2000; "
        "create or replace view ticket_ratios as select id, "
        "10000 / nullif(total_cents, 0) as cents_ratio from tickets; "
        'drop policy "ticketsInsert" on tickets',
    )
    code, stdout, stderr = migrated.run("verify")
    assert code == 1, stdout + stderr
    assert "schema differs: big_tickets: definition differs" in stdout
    assert "schema differs: tickets.ticketsInsert: policy is missing" in stdout
    # Named where the run is read, not only in the report.
    assert (
        "view differs: view big_tickets (from bigTickets): source 2 rows, "
        "target 1 rows, checksum DIFFERS"
    ) in stdout
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    # The target's gives rows where the source's gives an error.
    assert report["views_differ"] == [
        "view big_tickets (from bigTickets): source 2 rows, target 1 rows, "
        "checksum DIFFERS",
        "view ticket_ratios (from ticketRatios): on the source, division by "
        "zero; on the target, 6 rows",
    ]


def test_a_source_that_refuses_temporary_tables_stops_the_scaffold(
    migrated: ProjectCopy, pg_cluster: object
) -> None:
    cluster = pg_cluster
    role = "views_no_temp"
    cluster.execute(f"create role {role} login")  # type: ignore[attr-defined]
    try:
        for statement in (
            "revoke temporary on database views_source from public",
            f"grant select on all tables in schema public to {role}",
        ):
            cluster.execute(statement, dbname="views_source")  # type: ignore[attr-defined]
        reader = cluster.url("views_source", user=role)  # type: ignore[attr-defined]
        done = run_cli(
            ["--include", "Accounts", "scaffold", "--check"],
            reader,
            "",
            migrated.state,
            migrated.project,
        )
    finally:
        for statement in (
            "grant temporary on database views_source to public",
            f"revoke all on all tables in schema public from {role}",
        ):
            cluster.execute(statement, dbname="views_source")  # type: ignore[attr-defined]
        cluster.execute(f"drop role {role}")  # type: ignore[attr-defined]
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused the temporary tables scaffold renames views" in done.stderr
    assert "Grant TEMP on the database to the source role" in done.stderr


def test_a_policy_that_cannot_be_renamed_stops_the_scaffold(
    migrated: ProjectCopy,
) -> None:
    # Left out, a policy would change which rows the table restricts.
    query(
        migrated.source,
        'create policy "accountsCounted" on "Accounts" as restrictive '
        "using (\"countRows\"('Accounts') > 0)",
    )
    try:
        code, stdout, stderr = migrated.run("scaffold", "--check")
    finally:
        query(migrated.source, 'drop policy "accountsCounted" on "Accounts"')
    assert code == 2, stdout + stderr
    assert (
        "policy accountsCounted on accounts: calls countRows(p_table text), "
        "which needs review"
    ) in stderr
    assert "leave the table out" in stderr


def test_policy_roles_missing_on_the_target_are_listed(migrated: ProjectCopy) -> None:
    # Roles belong to the cluster, so the source and target here share
    # them: the map and the macro name a role that exists on neither.
    name_map = migrated.project / "models" / "pgshift_name_map.json"
    macro = migrated.project / "macros" / "scaffolded" / "pgshift_source_views.sql"
    saved = {path: path.read_text(encoding="utf-8") for path in (name_map, macro)}
    ghost = "views_ghost_role"
    try:
        names = json.loads(saved[name_map])
        for policy in names["policies"]:
            if policy["name"] == "ticketsOfOwner":
                policy["roles"].append(ghost)
        names["policies"].append(
            {**names["policies"][0], "name": "ghostsOnly", "roles": [ghost]}
        )
        name_map.write_text(json.dumps(names), encoding="utf-8")
        text = saved[macro].replace(
            f'"roles": ["{READER}"], "table": "tickets", "using": "(EXISTS',
            f'"roles": ["{READER}", "{ghost}"], "table": "tickets", "using": "(EXISTS',
        )
        assert text != saved[macro]
        text = text.replace(
            '"policies": [',
            '"policies": [{"command": "all", "name": "ghostsOnly", '
            f'"permissive": true, "roles": ["{ghost}"], "table": "tickets", '
            '"using": "true", "with_check": null}, ',
        )
        macro.write_text(text, encoding="utf-8")
        # migrate would refuse a map that is not the source's: the steps.
        runs = [
            migrated.run(*step) for step in (["load"], ["dbt", "build"], ["verify"])
        ]
    finally:
        for path, content in saved.items():
            path.write_text(content, encoding="utf-8")
    for code, stdout, stderr in runs:
        assert code == 0, stdout[-3000:] + stderr[-3000:]
    policies = query(
        migrated.target,
        "select policyname, roles::text[] from pg_policies "
        "where tablename = 'tickets' order by 1",
    )
    assert ("ticketsOfOwner", [READER]) in policies
    assert "ghostsOnly" not in {name for name, _ in policies}
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    assert (
        f"policy ticketsOfOwner on tickets: role {ghost} does not exist on the "
        "target, so it applies to the others only; create the role and migrate "
        "again" in report["not_migrated"]
    )
    assert (
        f"policy ghostsOnly on tickets: role {ghost} does not exist on the "
        "target, so it was not created; create the role and migrate again"
        in report["not_migrated"]
    )


def test_a_view_whose_values_follow_the_read_order_is_named_not_failed(
    migrated: ProjectCopy,
) -> None:
    # The same rows in another physical order on the target: string_agg
    # without ORDER BY then joins them in another order.
    for ticket in range(6, 0, -1):
        query(migrated.target, f"update public.tickets set id = id where id = {ticket}")
    statuses = "select statuses from {} order by 1"
    assert _rows(migrated.source, statuses.format('"ticketStatuses"')) != _rows(
        migrated.target, statuses.format("ticket_statuses")
    )
    code, stdout, stderr = migrated.run("verify")
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    assert report["views_differ"] == []
    assert any(
        line.startswith("view ticket_statuses (from ticketStatuses): source 3 rows")
        and "depend on the order rows are read in (aggregate string_agg without "
        "ORDER BY)"
        in line
        for line in report["views"]
    ), report["views"]


NOW = "the time it is read (now())"


@pytest.mark.parametrize(
    ("definition", "columns", "expected"),
    [
        # listmonk's materialized views: one column, named; the rest compared.
        (
            "SELECT now() AS updated_at, count(*) AS n FROM subscribers",
            ["updated_at", "n"],
            Moment(columns={"updated_at": NOW}),
        ),
        (
            "SELECT s.id, (now() - '1 day'::interval) AS since FROM subscribers s",
            ["id", "since"],
            Moment(columns={"since": NOW}),
        ),
        (
            "SELECT CURRENT_TIMESTAMP AS at, CURRENT_USER AS who, t.id FROM t",
            ["at", "who", "id"],
            Moment(
                columns={
                    "at": "the time it is read (CURRENT_TIMESTAMP)",
                    "who": "the session it is read in (CURRENT_USER)",
                }
            ),
        ),
        (
            "SELECT gen_random_uuid() AS u, t.id FROM t",
            ["u", "id"],
            Moment(
                columns={"u": "random values drawn as it is read (gen_random_uuid())"}
            ),
        ),
        (
            "SELECT t.id, current_setting('app.tenant'::text) AS tenant FROM t",
            ["id", "tenant"],
            Moment(columns={"tenant": "the session it is read in (current_setting())"}),
        ),
        # A call outside the output columns: the rows depend on it.
        (
            "SELECT t.id FROM t WHERE (t.created_at > (now() - '1 day'::interval))",
            ["id"],
            Moment(rows=NOW),
        ),
        (
            "SELECT DISTINCT random() AS r, t.id FROM t",
            ["r", "id"],
            Moment(rows="random values drawn as it is read (random())"),
        ),
        (
            "SELECT now() AS at FROM t UNION SELECT now() AS at FROM u",
            ["at"],
            Moment(rows=NOW),
        ),
        (
            "SELECT (random() * 10)::integer AS r, count(*) AS n FROM t GROUP BY 1",
            ["r", "n"],
            Moment(rows="random values drawn as it is read (random())"),
        ),
        (
            "SELECT t.a, string_agg(t.b, ','::text) AS b FROM t GROUP BY t.a",
            ["a", "b"],
            None,
        ),
        ("SELECT t.a FROM t WHERE (t.at > '2025-01-01'::date)", ["a"], None),
    ],
)
def test_what_depends_on_the_moment_a_view_is_read(
    definition: str, columns: list[str], expected: Moment | None
) -> None:
    assert moment_dependence(definition, columns) == expected


def test_a_view_over_one_read_at_another_moment_depends_on_it() -> None:
    stats = {"mat_stats": Moment(columns={"updated_at": NOW})}
    through = "the time it is read (now(), through mat_stats)"
    assert moment_dependence(
        "SELECT s.n, s.updated_at FROM mat_stats s", ["n", "updated_at"], stats
    ) == Moment(columns={"updated_at": through})
    assert moment_dependence("SELECT mat_stats.n FROM mat_stats", ["n"], stats) is None
    assert moment_dependence(
        "SELECT s.n FROM mat_stats s WHERE (s.updated_at > '2025-01-01'::date)",
        ["n"],
        stats,
    ) == Moment(rows=through)
    assert moment_dependence(
        "SELECT v.id FROM v_now v", ["id"], {"v_now": Moment(rows=NOW)}
    ) == Moment(rows="the time it is read (now(), through v_now)")


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        # Lago's shape; a reference without an alias keeps the old name as one.
        (
            "WITH f AS (SELECT f_1.id FROM public.f f_1) SELECT f.id FROM f",
            'WITH "f_2" AS (SELECT f_1.id FROM f f_1) SELECT f.id FROM "f_2" "f"',
        ),
        # RECURSIVE, a subquery, and an inner WITH of the same name.
        (
            "WITH RECURSIVE f AS (SELECT f_1.id FROM ONLY public.f f_1 UNION ALL "
            "SELECT x.id FROM f x) SELECT y.id FROM f y WHERE y.id IN (WITH f AS "
            "(SELECT 1 AS id) SELECT f.id FROM f)",
            'WITH RECURSIVE "f_2" AS (SELECT f_1.id FROM ONLY f f_1 UNION ALL '
            'SELECT x.id FROM "f_2" x) SELECT y.id FROM "f_2" y WHERE y.id IN '
            '(WITH "f_2" AS (SELECT 1 AS id) SELECT f.id FROM "f_2" "f")',
        ),
        # Outside the WITH query's scope the table is read by its plain name.
        (
            "SELECT a.id FROM f a, (WITH f AS (SELECT f.id FROM public.f) "
            "SELECT f.id FROM f) b",
            'SELECT a.id FROM f a, (WITH "f_2" AS (SELECT f.id FROM f) '
            'SELECT f.id FROM "f_2" "f") b',
        ),
        # Nothing hidden, or hidden but not migrated: left as it is.
        ("SELECT f.id FROM public.f", "SELECT f.id FROM public.f"),
        (
            "WITH g AS (SELECT g.id FROM public.g) SELECT g.id FROM g",
            "WITH g AS (SELECT g.id FROM public.g) SELECT g.id FROM g",
        ),
    ],
)
def test_a_with_query_hiding_a_relation_takes_another_name(
    definition: str, expected: str
) -> None:
    assert unhide_relations(definition, "public", {"f"}, {"f_1"}) == expected
