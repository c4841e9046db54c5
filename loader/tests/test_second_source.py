"""A second source, unlike the marketplace, migrates into an app-ready twin.

The fixture (fixtures/second_source.sql) holds what other teams' schemas
hold: PascalCase tables, acronyms, keywords and non-ASCII names, a domain,
an enum array, identity ALWAYS, serial, a generated column, composite and
deferrable foreign keys with actions, partial and expression indexes, a
table without a key, a partitioned table, a view and a materialized view
(which arrive renamed),
two columns that collide once renamed, one name too long for
PostgreSQL, and a foreign key and an index that scaffold shortens to fit
once renamed. The project is copied, as a team would clone it, and scaffolded
from that source; after the migration the application's own writes behave
on the target exactly as on the source.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from pgshift.mapping import NameMap
from pgshift.settings import OVERRIDES_FILE
from pgshift.verify.reconcile import changed_since_published

from migration import (
    ProjectCopy,
    constraint_backed_tests,
    copy_project,
    make_settings,
    query,
)

FIXTURES = Path(__file__).parent / "fixtures"


LONG_NAMES = {
    "LineNote_supersededByInvoiceNumber_supersededByLineNumber_fkey": (
        "line_note_superseded_by_invoice_number_superseded_13878201_fkey"
    ),
    "LineNote_supersededByInvoiceNumber_supersededByLineNumber_idx": (
        "line_note_superseded_by_invoice_number_superseded_b02b7b95_idx"
    ),
}
LONG_DOMAIN = "InvoiceReferenceNumberWithCheckDigitAndCountryPrefix"
LONG_DOMAIN_CHECK = {
    f"{LONG_DOMAIN}_check": "invoice_reference_number_with_check_digit_and_co_9ec57baf_check"
}
"""The fixture's names past 63 bytes once renamed, and the names they get."""

SecondSource = ProjectCopy
"""The fixture source, its target, and the project copy joining them."""


@pytest.fixture(scope="module")
def second(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecondSource]:
    cluster = pg_cluster
    source = cluster.create_database("second_source")  # type: ignore[attr-defined]
    target = cluster.create_database("second_target")  # type: ignore[attr-defined]
    conn = psycopg2.connect(source)
    with conn, conn.cursor() as cursor:
        cursor.execute((FIXTURES / "second_source.sql").read_text(encoding="utf-8"))
    conn.close()
    project = tmp_path_factory.mktemp("clone") / "pgshift"
    copy_project(project, scaffolded=False)
    yield SecondSource(source, target, project, tmp_path_factory.mktemp("state"))
    for name in ("second_source", "second_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]


def _sqlstate(url: str, *statements: str) -> str | None:
    """Run statements in one transaction; the SQLSTATE it failed with, if any."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    except psycopg2.Error as exc:
        return exc.pgcode
    finally:
        conn.close()
    return None


@pytest.fixture(scope="module")
def migrated(second: SecondSource) -> SecondSource:
    code, _, stderr = second.run("scaffold")
    assert code == 2
    # Both colliding names and the override that separates them.
    assert "'userId' and 'user_id' both map to 'user_id'" in stderr
    assert "columns: eventLog:" in stderr
    assert "longer than PostgreSQL's 63-byte limit" in stderr
    assert "theIdentifierOfTheExternalSystemThatProducedThisEventRow" in stderr
    assert not (second.project / "models").exists()

    shutil.copy(
        FIXTURES / "second_source_overrides.yml", second.project / OVERRIDES_FILE
    )
    code, stdout, stderr = second.run(
        "scaffold", "--overrides", str(second.project / OVERRIDES_FILE)
    )
    assert code == 0, stderr
    # The foreign key and the index past 63 bytes once renamed are
    # shortened, and scaffold names each with the override that would
    # choose another name.
    for source, target in LONG_NAMES.items():
        assert f"shortened: {source} of LineNote becomes {target} " in stdout
    assert "under 'objects: LineNote:'" in stdout
    # So is a domain's check, which the domain's entry would name.
    for source, target in LONG_DOMAIN_CHECK.items():
        assert f"shortened: {source} of {LONG_DOMAIN} becomes {target} " in stdout
    assert f"under 'objects: {LONG_DOMAIN}:'" in stdout
    # The view and the materialized view arrive, renamed (test_views.py).
    assert "not migrated: view" not in stdout
    assert "not migrated: materialized view" not in stdout
    views = sorted(p.name for p in (second.project / "models" / "views").iterdir())
    assert views == ["active_accounts.sql", "daily_totals.sql"]

    code, stdout, stderr = second.run("migrate")
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    return second


def test_migrate_reads_the_parse_scaffold_saved(migrated: SecondSource) -> None:
    # scaffold (with TARGET_DATABASE_URL set) ended with `dbt parse`;
    # migrate's dbt build read what it saved instead of parsing every file.
    log = (migrated.project / "logs" / "dbt.log").read_text()
    assert (migrated.project / "target" / "partial_parse.msgpack").exists()
    full = log.rfind("Starting full parse")
    assert full != -1, "scaffold did not parse the project"
    assert "Partial parsing enabled, no changes found" in log[full:]
    assert log.count("Starting full parse") == 1


def test_every_table_arrives_once_with_matching_checksums(
    migrated: SecondSource,
) -> None:
    tables = query(
        migrated.target,
        "select relname, relkind from pg_class "
        "where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') "
        "order by 1",
    )
    assert tables == [
        ("account", "r"),
        ("event_log", "r"),
        ("invoice_lines", "r"),
        ("line_note", "r"),
        ("measurement", "p"),  # partitioned as on the source
        ("measurement_2025", "r"),
        ("measurement_2026", "r"),
    ]
    assert query(migrated.target, "select count(*) from measurement") == [(3,)]
    # The keyless log keeps its duplicate rows.
    assert query(migrated.target, "select count(*) from event_log") == [(3,)]
    report = (migrated.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "**5 tables, 5 complete**" in report
    assert (
        "- view active_accounts (from ActiveAccounts): source 2 rows, target 2 "
        "rows, checksum match" in report
    )
    assert (
        "- materialized view daily_totals (from DailyTotals): source 2 rows, "
        "target 2 rows, checksum match" in report
    )
    # The partitioned table is not flattened, so the report does not list it.
    assert "partitioned table" not in report


def test_multi_column_keys_are_proved_by_their_constraints(
    migrated: SecondSource,
) -> None:
    # The composite foreign key LineNote -> InvoiceLine, composite keys,
    # and keys whose columns needed quoting: answered from the catalog.
    # Each table's checks, with its checksum: five tables.
    checked = constraint_backed_tests(migrated.project / "target", migrated.target)
    assert checked == {"pgshift_constraints": 5}, checked


def test_names_follow_the_rules_and_the_override_file(
    migrated: SecondSource,
) -> None:
    columns = query(
        migrated.target,
        "select attname from pg_attribute where attrelid = 'public.account'::regclass "
        "and attnum > 0 order by attnum",
    )
    assert [c[0] for c in columns] == [
        "id",
        "user_id",
        "url_slug",
        "html_content",
        "address_line1",
        "address2_line",
        "order",
        "user",
        "créé",
        "moods",
        "balance",
        "raw_bytes",
        "timeout",
        "payload",
        "first_name",
        "last_name",
        "full_name",
    ]
    log_columns = query(
        migrated.target,
        "select attname from pg_attribute "
        "where attrelid = 'public.event_log'::regclass and attnum > 0 order by attnum",
    )
    assert [c[0] for c in log_columns][-3:] == [
        "user_id",
        "legacy_user_id",
        "external_source_id",
    ]


def test_values_that_naive_migrations_change_arrive_unchanged(
    migrated: SecondSource,
) -> None:
    rows = query(
        migrated.target,
        "select url_slug, payload::text, moods::text, balance::text, "
        "raw_bytes::text, timeout::text, full_name from account order by id",
    )
    assert rows == [
        (
            "ada",
            '{"b": 1, "a": 2, "b": 3}',  # json keeps duplicate keys and order
            "{happy,ok}",
            "10.50",
            "\\x00ff10",
            "1 day 02:03:04",
            "Ada Lovelace",
        ),
        ("grace", "null", "{}", None, None, "-3 mons", "Grace Hopper"),
        (
            "émile",
            '[1, "two", {"three": null}]',
            "{sad,NULL}",
            "0.01",
            "\\x",
            None,
            "Émile Zola",
        ),
    ]
    assert query(
        migrated.target,
        "select value::text from measurement order by sensor_id, taken_on",
    ) == [("1.5",), ("NaN",), ("-0",)]


def test_the_application_writes_as_before(migrated: SecondSource) -> None:
    target = migrated.target
    # Insert without ids: identity and serial continue after the max,
    # defaults fill in, the generated column is computed.
    new = query(
        target,
        "insert into account (url_slug, first_name, last_name) "
        "values ('new', 'Kurt', 'Gödel') "
        'returning id, user_id is not null, "order", moods::text, full_name, '
        "\"créé\" > now() - interval '1 minute'",
    )
    assert new == [(4, True, 0, "{}", "Kurt Gödel", True)]
    assert query(
        target,
        "insert into line_note (invoice_no, line_no) values (1, 2) returning id, body",
    ) == [(4, "")]

    # Identity ALWAYS refuses an explicit id, as in the source.
    assert (
        _sqlstate(
            target,
            "insert into account (id, url_slug, first_name, "
            "last_name) values (99, 'x', 'a', 'b')",
        )
        == "428C9"
    )
    # Unique, foreign key, check and domain violations are rejected.
    assert (
        _sqlstate(
            target,
            "insert into account (url_slug, first_name, "
            "last_name) values ('ada', 'a', 'b')",
        )
        == "23505"
    )
    # A key keeps its options: deferred, it is checked at commit, not per row.
    assert query(
        target,
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conname = 'account_user_id_key'",
    ) == [("UNIQUE NULLS NOT DISTINCT (user_id) DEFERRABLE INITIALLY DEFERRED",)]
    duplicate = (
        "insert into account (user_id, url_slug, first_name, last_name) "
        "select user_id, 'dup', 'a', 'b' from account order by id limit 1"
    )
    assert _sqlstate(target, duplicate) == "23505"
    assert (
        _sqlstate(target, duplicate, "delete from account where url_slug = 'dup'")
        is None
    )
    assert (
        _sqlstate(
            target,
            "insert into invoice_lines (invoice_no, line_no, "
            "account_id, amount) values (9, 9, 999, 1)",
        )
        == "23503"
    )
    assert (
        _sqlstate(
            target,
            "insert into invoice_lines (invoice_no, line_no, "
            "account_id, amount) values (9, 9, 1, -1)",
        )
        == "23514"
    )
    assert _sqlstate(target, 'update account set "order" = -1 where id = 1') == (
        "23514"
    )
    assert _sqlstate(target, "update account set balance = 0 where id = 1") == ("23514")
    # The composite foreign key is still deferred to the commit.
    assert (
        _sqlstate(
            target,
            "insert into line_note (invoice_no, line_no) values (7, 7)",
            "insert into invoice_lines (invoice_no, line_no, account_id, amount) "
            "values (7, 7, 1, 1)",
        )
        is None
    )
    assert (
        _sqlstate(target, "insert into line_note (invoice_no, line_no) values (8, 8)")
        == "23503"
    )
    # ON UPDATE CASCADE and ON DELETE CASCADE act as in the source.
    query(target, "update invoice_lines set line_no = 5 where invoice_no = 7")
    assert query(target, "select line_no from line_note where invoice_no = 7") == [(5,)]
    query(target, "delete from line_note where invoice_no = 2")
    query(target, "delete from account where id = 3")
    assert query(target, "select count(*) from invoice_lines where account_id = 3") == [
        (0,)
    ]
    # The exclusion constraint refuses what the source's refuses.
    assert query(
        target,
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conname = 'line_note_no_overlap'",
    ) == [("EXCLUDE USING gist (valid_during WITH &&) WHERE ((body <> ''::text))",)]
    overlapping = "insert into {} values (9, 1, 1, 'x', '[2026-01-15,2026-03-01)')"
    for url, table in ((target, "line_note"), (migrated.source, '"LineNote"')):
        with pytest.raises(psycopg2.errors.ExclusionViolation):
            query(url, overlapping.format(table))
    # The partitioned table takes rows for any of its ranges, each in its
    # partition.
    query(target, "insert into measurement values (3, '2026-03-01', 2.5)")
    assert query(
        target,
        "select tableoid::regclass::text from measurement "
        "where sensor_id = 3 and taken_on = '2026-03-01'",
    ) == [("measurement_2026",)]


def test_comments_types_and_indexes_are_the_sources(migrated: SecondSource) -> None:
    target = migrated.target
    assert query(
        target,
        "select obj_description('public.account'::regclass, 'pg_class'), "
        "col_description('public.account'::regclass, 3)",
    ) == [("People who sign in.", "Public profile path, unique.")]
    assert query(
        target,
        "select format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = 'public.account'::regclass and attname = 'balance'",
    ) == [("positive_amount",)]
    assert query(
        target,
        "select conname, pg_get_constraintdef(oid) from pg_constraint "
        "where contypid = 'positive_amount'::regtype",
    ) == [("positive_amount_check", "CHECK ((VALUE > (0)::numeric))")]
    indexes = dict(
        query(
            target,
            "select indexname, indexdef from pg_indexes "
            "where schemaname = 'public' and tablename = 'account'",
        )
    )
    assert "lower((url_slug)::text)" in indexes["account_lower_slug_idx"]
    assert 'WHERE ("user" IS NOT NULL)' in indexes["account_named_order_idx"]
    assert query(
        target,
        "select pg_get_serial_sequence('public.line_note', 'id')",
    ) == [("public.line_note_id_seq",)]
    # The renamed parent, under its override name, in the child's key too.
    assert query(
        target,
        "select confrelid::regclass::text, pg_get_constraintdef(oid) "
        "from pg_constraint where conname = 'line_note_line_fkey'",
    ) == [
        (
            "invoice_lines",
            "FOREIGN KEY (invoice_no, line_no) REFERENCES "
            "invoice_lines(invoice_no, line_no) ON UPDATE CASCADE "
            "DEFERRABLE INITIALLY DEFERRED",
        )
    ]
    # Constraint and index names follow the table's override name.
    assert query(
        target,
        "select indexdef from pg_indexes "
        "where indexname = 'invoice_lines_account_line_idx'",
    ) == [
        (
            "CREATE UNIQUE INDEX invoice_lines_account_line_idx ON "
            "public.invoice_lines USING btree (account_id, invoice_no, line_no)",
        )
    ]
    assert query(
        target,
        "select conname from pg_constraint "
        "where conrelid = 'public.invoice_lines'::regclass "
        "and contype in ('p', 'u', 'c', 'f') order by 1",
    ) == [
        ("invoice_lines_account_id_fkey",),
        ("invoice_lines_amount_check",),
        ("invoice_lines_pkey",),
    ]


def test_names_past_63_bytes_arrive_shortened(migrated: SecondSource) -> None:
    # The foreign key and the index of the same columns keep their labels,
    # so they stay two names, and each acts on the target as on the source.
    fkey, idx = LONG_NAMES.values()
    assert query(
        migrated.target,
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'public.line_note'::regclass and conname = %s",
        (fkey,),
    ) == [
        (
            "FOREIGN KEY (superseded_by_invoice_number, superseded_by_line_number) "
            "REFERENCES invoice_lines(invoice_no, line_no)",
        )
    ]
    assert query(
        migrated.target,
        "select indexdef from pg_indexes where tablename = 'line_note' "
        "and indexname = %s",
        (idx,),
    ) == [
        (
            f"CREATE INDEX {idx} ON public.line_note USING btree "
            "(superseded_by_invoice_number, superseded_by_line_number)",
        )
    ]
    assert (
        _sqlstate(
            migrated.target,
            "insert into line_note (invoice_no, line_no, "
            "superseded_by_invoice_number, superseded_by_line_number) "
            "values (1, 1, 9, 9)",
        )
        == "23503"
    )
    names = NameMap.read(migrated.project)
    assert names is not None
    assert sorted(names.shortened) == sorted(
        [[LONG_DOMAIN, s, t] for s, t in LONG_DOMAIN_CHECK.items()]
        + [["LineNote", source, target] for source, target in LONG_NAMES.items()]
    )
    # The domain's check arrives under its shortened name, and checks.
    assert query(
        migrated.target,
        "select c.conname from pg_constraint c join pg_type t on t.oid = c.contypid "
        "where t.typname = 'invoice_reference_number_with_check_digit_and_country_prefix'",
    ) == [(name,) for name in LONG_DOMAIN_CHECK.values()]
    assert (
        _sqlstate(
            migrated.target,
            "select 'x1'::invoice_reference_number_with_check_digit_and_country_prefix",
        )
        == "23514"
    )


def test_the_previous_application_casts_to_its_types_through_compat(
    migrated: SecondSource,
) -> None:
    """Prisma casts every enum parameter by its type's name (``"Mood"``)."""
    code, _, stderr = migrated.run("compat")
    assert code == 0, stderr
    inserted = query(
        migrated.target,
        "set search_path = public_compat; "
        'insert into "Account" ("URLSlug", "firstName", "lastName", moods, balance) '
        "values ('compat-cast', 'Old', 'App', "
        "cast(array['happy', 'ok'] as \"Mood\"[]), 12.5::\"PositiveAmount\") "
        "returning moods::text, balance",
    )
    assert inserted == [("{happy,ok}", Decimal("12.50"))]
    assert query(
        migrated.target,
        "select moods::text from public.account where url_slug = 'compat-cast'",
    ) == [("{happy,ok}",)]
    # Comparisons without the old type's name are PostgreSQL's own still.
    assert query(
        migrated.target,
        'set search_path = public_compat; select count(*) from "Account" '
        "where moods[1] = 'happy' and moods[2] in ('ok', 'sad') "
        "and moods[1] > moods[2] and \"URLSlug\" = 'compat-cast'",
    ) == [(1,)]
    # The domain's own check still applies through its alias.
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(migrated.target, 'select (-1)::public_compat."PositiveAmount"')
    query(migrated.target, "delete from public.account where url_slug = 'compat-cast'")
    # compat again replaces its own type aliases; --drop drops them.
    assert migrated.run("compat")[0] == 0
    assert migrated.run("compat", "--drop")[0] == 0
    assert query(
        migrated.target,
        "select count(*) from pg_namespace where nspname = 'public_compat'",
    ) == [(0,)]


def test_an_override_revised_between_runs_migrates_again(
    migrated: SecondSource,
) -> None:
    # A team revising its override file between runs. Each published table
    # is compared over the columns it was published with, not the new
    # names: eventLog, which nothing wrote to, is unchanged (the tables the
    # application's replay above wrote to, when it ran, are not, hence
    # --replace-existing). The publish then takes
    # the renamed columns for pgshift's own, not the team's.
    before = query(
        migrated.target, "select kind, detail from event_log order by occurred_at"
    )
    # Meanwhile the source's enum gained labels (first, between two, last)
    # and a domain whose check names one: the target's type, created by the
    # first migration, gets them in the source's order, committed before
    # the domain is created (PostgreSQL refuses a label its transaction
    # added).
    for statement in (
        """alter type "Mood" add value 'calm' before 'ok'""",
        """alter type "Mood" add value 'gloomy' before 'sad'""",
        """alter type "Mood" add value 'elated'""",
        """create domain "CalmMood" as "Mood" check (value <> 'calm')""",
    ):
        query(migrated.source, statement)
    overrides = migrated.project / OVERRIDES_FILE
    overrides.write_text(
        overrides.read_text(encoding="utf-8").replace(
            "    user_id: legacy_user_id\n",
            "    user_id: legacy_user_id\n    kind: event_kind\n",
        ),
        encoding="utf-8",
    )
    code, _, stderr = migrated.run("scaffold", "--overrides", str(overrides))
    assert code == 0, stderr
    settings = make_settings(
        migrated.source, migrated.target, project_dir=migrated.project
    )
    changed = changed_since_published(settings, NameMap.read(migrated.project))
    assert "event_log" not in [line.split(" ", 1)[0] for line in changed]
    code, stdout, stderr = migrated.run("migrate", "--replace-existing")
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    assert (
        query(
            migrated.target,
            "select event_kind, detail from event_log order by occurred_at",
        )
        == before
    )
    labels = "select enum_range(null::{})::text[]"
    assert query(migrated.target, labels.format("mood")) == [
        (["gloomy", "sad", "calm", "ok", "happy", "elated"],)
    ]
    assert _sqlstate(migrated.target, "select 'calm'::calm_mood") == "23514"

    # A label the target's type has and the source's has not cannot be
    # dropped: the run stops before any model, naming the type and labels
    # (and leaves the label, which the parity test below does not mind).
    query(migrated.target, "alter type mood add value 'bored' after 'ok'")
    code, stdout, stderr = migrated.run("migrate", "--replace-existing")
    assert code == 2, stdout[-3000:] + stderr[-3000:]
    assert (
        'enum type "public"."mood" on the target has labels '
        "'gloomy', 'sad', 'calm', 'ok', 'bored', 'happy', 'elated', the "
        "source's are 'gloomy', 'sad', 'calm', 'ok', 'happy', 'elated' "
        "(the source lacks 'bored')"
    ) in stderr
    assert "DROP TYPE ... CASCADE" in stderr


def test_schema_parity_finds_a_change_made_after_the_migration(
    migrated: SecondSource,
) -> None:
    # Runs last: it changes the target.
    query(migrated.target, 'alter table account alter column "order" drop default')
    code, stdout, _ = migrated.run("verify")
    assert code == 1
    assert "account" in stdout and "order" in stdout and "default" in stdout


def test_fixture_source_is_untouched_by_the_run(migrated: SecondSource) -> None:
    assert query(migrated.source, 'select count(*) from "Account"') == [(3,)]
    assert query(
        migrated.source,
        "select count(*) from pg_namespace where nspname in ('raw', 'staging')",
    ) == [(0,)]
