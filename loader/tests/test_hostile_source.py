"""Names and values that break naive quoting migrate exactly.

The fixture (fixtures/hostile_source.sql) holds single quotes, backslashes,
``$$``, ``--`` and Jinja's ``{{``, ``{%`` and ``{#`` in enum labels, table
and column comments, defaults, check constraints, a domain, an index
predicate and source names, and columns named with plural acronyms. dbt
renders every model and YAML string as Jinja and scaffold writes SQL
literals into them: the project is copied, scaffolded from that source and
migrated, and every value arrives byte for byte. Constraint, index and
sequence names that would collide stop scaffold with the override that
separates them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from dbt.clients.jinja import get_rendered
from dbt_extractor import ExtractionError
from dbt_extractor import py_extract_from_source as extract
from hypothesis import given, settings
from hypothesis import strategies as st

from pgshift.mapping import MAP_FILE
from pgshift.scaffold.sql_files import jinja_string, jinja_text
from pgshift.settings import OVERRIDES_FILE
from pgshift.sqlident import sql_literal

from migration import ProjectCopy, copy_project, query

FIXTURES = Path(__file__).parent / "fixtures"
READER = "Reader's $$ -- notes"
"""The source table whose name holds a quote, ``$$`` and ``--``."""


@dataclass
class Project(ProjectCopy):
    """The fixture source, its target, the project copy, and what scaffold said."""

    scaffold_output: str = ""


def _project(tmp: pytest.TempPathFactory, source: str, target: str) -> Project:
    project = tmp.mktemp("clone") / "pgshift"
    copy_project(project, scaffolded=False)
    return Project(source, target, project, tmp.mktemp("state"))


def _execute(url: str, statements: str) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute(statements)
    conn.close()


@pytest.fixture(scope="module")
def migrated(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    cluster = pg_cluster
    source = cluster.create_database("hostile_source")  # type: ignore[attr-defined]
    target = cluster.create_database("hostile_target")  # type: ignore[attr-defined]
    _execute(source, (FIXTURES / "hostile_source.sql").read_text(encoding="utf-8"))
    hostile = _project(tmp_path_factory, source, target)
    overrides = hostile.project / OVERRIDES_FILE
    shutil.copy(FIXTURES / "hostile_source_overrides.yml", overrides)

    code, scaffolded, stderr = hostile.run("scaffold", "--overrides", str(overrides))
    assert code == 0, stderr
    hostile.scaffold_output = scaffolded
    code, stdout, stderr = hostile.run("migrate")
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    yield hostile
    for name in ("hostile_source", "hostile_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]


def _rolled_back(url: str, statement: str) -> list[tuple]:
    """The rows of one statement run in a transaction that is rolled back."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall()
    finally:
        conn.rollback()
        conn.close()


def _sqlstate(url: str, statement: str) -> str | None:
    try:
        _rolled_back(url, statement)
    except psycopg2.Error as exc:
        return exc.pgcode
    return None


def test_every_table_is_complete_and_the_schemas_are_twins(
    migrated: Project,
) -> None:
    report = json.loads(
        (migrated.project / "MIGRATION_REPORT.json").read_text(encoding="utf-8")
    )
    assert report["passed"] is True
    assert report["schema_differences"] == []
    assert report["intended_differences"] == []
    assert {(t["final_table"], t["status"]) for t in report["tables"]} == {
        ("hostile_note", "complete"),
        ("reader_notes", "complete"),
        ("_join_readers_hostile_note", "complete"),
        ("v1_2", "complete"),
        ("res_user-res_group", "complete"),
    }
    # The name the override keeps, hyphen and all, as Tryton reads it.
    assert query(
        migrated.target, 'select "user", "group" from "res_user-res_group" order by id'
    ) == [(1, 2), (3, 4)]


def test_scaffold_names_the_tables_whose_characters_the_rules_replace(
    migrated: Project,
) -> None:
    (line,) = [
        line
        for line in migrated.scaffold_output.splitlines()
        if "hold characters the naming rules replace with _" in line
    ]
    assert "_Join:readers:HostileNote becomes _join_readers_hostile_note" in line
    assert "v1.2 becomes v1_2" in line
    # Kept by the override file, and a quote or a space renamed by one: not named.
    assert "res_user-res_group" not in line
    assert "Reader's" not in line


def test_tables_dlt_cannot_name_land_under_a_raw_name_and_arrive_exact(
    migrated: Project,
) -> None:
    # dlt names its load files after the table: these land in raw under a
    # name of their own, and keep theirs everywhere else.
    assert query(
        migrated.target,
        "select relname::text from pg_class where relnamespace = 'raw'::regnamespace "
        "and relname::text ~ '^(_Join|v1)' order by 1",
    ) == [("_Join_readers_HostileNote__3925a1f1",), ("v1_2__cb0c2ee7",)]
    assert query(
        migrated.target,
        "select related_id, owning_id from _join_readers_hostile_note order by 1",
    ) == [(1, "it's"), (2, "{{ x }}")]
    assert query(migrated.target, "select * from v1_2 order by 1") == [
        (1, "back\\slash"),
        (2, None),
    ]


def test_names_follow_the_rules_and_the_override_file(migrated: Project) -> None:
    def columns(table: str) -> list[str]:
        return [
            row[0]
            for row in query(
                migrated.target,
                "select attname from pg_attribute where attrelid = %s::regclass "
                "and attnum > 0 order by attnum",
                (f"public.{table}",),
            )
        ]

    assert columns("hostile_note") == [
        "id",
        "user_ids",
        "image_urls",
        "faqs",
        "tone",
        "body",
        "remark",
    ]
    assert columns("reader_notes") == ["id", "note_id", "its_if"]
    # The overridden table's key, foreign key and sequence follow its name.
    assert query(
        migrated.target,
        "select conname from pg_constraint "
        "where conrelid = 'public.reader_notes'::regclass "
        "and contype in ('p', 'u', 'c', 'f') order by 1",
    ) == [("reader_notes_note_id_fkey",), ("reader_notes_pkey",)]
    assert query(
        migrated.target, "select pg_get_serial_sequence('public.reader_notes', 'id')"
    ) == [("public.reader_notes_id_seq",)]
    names = json.loads((migrated.project / MAP_FILE).read_text(encoding="utf-8"))
    assert names["tables"][READER]["target"] == "reader_notes"


def _comments(url: str, table: str) -> list[tuple[str | None, ...]]:
    """The table's comment, then each column's, in column order."""
    return query(
        url,
        "select obj_description(%s::regclass, 'pg_class'), "
        "array(select col_description(attrelid, attnum) from pg_attribute "
        "where attrelid = %s::regclass and attnum > 0 order by attnum)",
        (table, table),
    )


def test_comments_arrive_byte_for_byte(migrated: Project) -> None:
    note = _comments(migrated.target, "public.hostile_note")
    assert note == _comments(migrated.source, 'public."HostileNote"')
    table_comment = note[0][0]
    assert table_comment is not None
    assert table_comment.endswith("{{{ and a trailing newline\n")
    assert "\r\n" in table_comment
    assert _comments(migrated.target, "public.reader_notes") == _comments(
        migrated.source, 'public."Reader\'s $$ -- notes"'
    )


def test_enum_labels_and_domains_are_the_sources(migrated: Project) -> None:
    # The types follow the naming rules, like the tables.
    labels = "select enum_range(null::{})::text[]"
    assert query(migrated.target, labels.format("tone")) == query(
        migrated.source, labels.format('"Tone"')
    )
    assert query(migrated.target, labels.format("tone"))[0][0][1:] == [
        "it's",
        "back\\slash",
        "$$",
        "-- not a comment",
        "{{ x }}",
        "{% if %}",
        "{# c #}",
    ]
    domain = (
        "select typdefault, pg_get_constraintdef(c.oid) from pg_type t "
        "join pg_constraint c on c.contypid = t.oid where t.typname = %s"
    )
    assert query(migrated.target, domain, ["remark"]) == query(
        migrated.source, domain, ["Remark"]
    )


def test_defaults_give_the_same_values_on_insert(migrated: Project) -> None:
    # Identity, array, enum, text and domain defaults; the identity goes on
    # after the source's last id.
    assert _rolled_back(
        migrated.target,
        "insert into hostile_note default values returning id, user_ids::text, "
        "image_urls::text, faqs, tone::text, body, remark",
    ) == _rolled_back(
        migrated.source,
        'insert into "HostileNote" default values returning id, "userIDs"::text, '
        '"imageURLs"::text, "FAQs", tone::text, body, remark',
    )
    assert _rolled_back(
        migrated.target, "insert into hostile_note default values returning body"
    ) == [("it's back\\slash $$ -- not a comment {{ x }} {% if %} {# c #}",)]
    # The serial column's sequence and the text default of a renamed column.
    assert (
        _rolled_back(
            migrated.target,
            "insert into reader_notes (note_id) values (1) returning id, its_if",
        )
        == _rolled_back(
            migrated.source,
            f'insert into "{READER}" ("noteId") values (1) '
            'returning id, "it\'s {% if %}"',
        )
        == [(3, "{# c #} $$")]
    )


@pytest.mark.parametrize(
    ("values", "sqlstate"),
    [
        # The check constraint's string, with its quote, $$, -- and Jinja.
        (
            "(body) values ('it''s {{ x }} {% if %} {# c #} $$ -- back\\slash')",
            "23514",
        ),
        ("(tone) values ('{% if %}')", "23514"),
        # The domain's check.
        ("(remark) values ('{% if %} it''s $$ -- {{ x }}')", "23514"),
        ("(body) values ('fine')", None),
    ],
)
def test_checks_refuse_what_the_source_refuses(
    migrated: Project, values: str, sqlstate: str | None
) -> None:
    assert _sqlstate(migrated.target, f"insert into hostile_note {values}") == (
        sqlstate
    )
    assert _sqlstate(migrated.source, f'insert into "HostileNote" {values}') == (
        sqlstate
    )


def test_the_enum_test_compiles_to_the_labels_as_literals(migrated: Project) -> None:
    results = json.loads(
        (migrated.project / "target" / "run_results.json").read_text(encoding="utf-8")
    )
    # The fixture's few tables are checked by one test.
    enum_tests = [
        r for r in results["results"] if ".pgshift_constraints_" in r["unique_id"]
    ]
    assert [r["status"] for r in enum_tests] == ["pass"]
    # The enum type enforces the labels: the test asked the catalog with
    # them as literals (dbt's log holds the question), and left the scan out.
    labels = (
        "'plain', 'it''s', E'back\\\\slash', '$$', '-- not a comment', "
        "'{{ x }}', '{% if %}', '{# c #}'"
    )
    logged = (migrated.project / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert labels in logged
    assert "accepted values" not in enum_tests[0]["compiled_code"]


def test_fixture_source_is_untouched_by_the_run(migrated: Project) -> None:
    assert query(migrated.source, 'select count(*) from "HostileNote"') == [(4,)]
    assert query(
        migrated.source,
        "select count(*) from pg_namespace where nspname in ('raw', 'staging')",
    ) == [(0,)]


HOSTILE = [
    "it's",
    "back\\slash",
    "$$",
    "$pgshift$",
    "-- not a comment",
    "/* not a comment */",
    "{{ x }}",
    "{% if %}",
    "{# c #}",
    "{%- raw %}{% endraw %}",
    "{{{",
    "}} %} #}",
    "{{ '{' }}",
    "a\r\nb\rc\n",
    "\n",
    "",
    "123",
    "None",
    "'quoted'",
    "\"double\" and 'single'",
    "Größe ✓ 🐘",
]
"""Texts that break naive SQL or Jinja quoting."""

text = st.text(
    alphabet=st.sampled_from(list("'\"\\$-{}%#\r\n xé🐘"))
    | st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=30,
)
"""Any text PostgreSQL can hold (no NUL, no lone surrogate), hostile often."""


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("value", HOSTILE)
def test_jinja_text_renders_back_to_itself(value: str, native: bool) -> None:
    # dbt renders descriptions with its text renderer and names, meta,
    # constraints and test arguments with its native one.
    assert get_rendered(jinja_text(value), {}, native=native) == value
    assert get_rendered("{{ " + jinja_string(value) + " }}", {}) == value


@given(text)
def test_jinja_helpers_hold_any_text(value: str) -> None:
    assert get_rendered(jinja_text(value), {}, native=True) == value
    assert get_rendered(jinja_text(value), {}) == value
    assert get_rendered("{{ " + jinja_string(value) + " }}", {}) == value


def test_jinja_string_is_read_by_jinja_not_by_dbts_static_parser() -> None:
    # The static parser takes a literal as it is written: a text that needs
    # an escape is an expression it leaves to Jinja.
    for value in HOSTILE:
        written = "{{ ref(" + jinja_string(value) + ") }}"
        try:
            refs = extract(written)["refs"]
        except ExtractionError:
            continue
        assert refs == [{"name": value}], written


@pytest.fixture(scope="module")
def literal_cursor(pg_cluster: object) -> Iterator[object]:
    url = pg_cluster.create_database("hostile_literals")  # type: ignore[attr-defined]
    conn = psycopg2.connect(url)
    conn.autocommit = True
    yield conn.cursor()
    conn.close()
    pg_cluster.drop_database("hostile_literals")  # type: ignore[attr-defined]


@pytest.mark.parametrize("conforming", ["on", "off"])
def test_sql_literal_reads_back_exactly(literal_cursor: Any, conforming: str) -> None:
    literal_cursor.execute(f"set standard_conforming_strings = {conforming}")
    for value in HOSTILE:
        literal_cursor.execute(f"select {sql_literal(value)}")
        assert literal_cursor.fetchone() == (value,)


@settings(max_examples=50)
@given(text)
def test_sql_literal_holds_any_text(literal_cursor: Any, value: str) -> None:
    literal_cursor.execute(f"select {sql_literal(value)}")
    assert literal_cursor.fetchone() == (value,)


_COLLIDING = """
create table "Account" ("id" bigint primary key, "slug" text);
create index "Account_lowerSlug_idx" on "Account" (lower("slug"));
create index "Account_lower_slug_idx" on "Account" (lower("slug"), "id");
create index "Account_{long}_idx" on "Account" ("id");
create table "WorkflowVersion" ("id" int primary key, "order" bigserial not null);
create sequence workflow_version_order_seq owned by "WorkflowVersion"."order";
alter table "WorkflowVersion"
    alter "order" set default nextval('workflow_version_order_seq');
create sequence "OrderNumber";
create sequence order_number;
"""


def test_object_names_that_collide_stop_scaffold(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    long_name = "aB" * 23
    source = new_database()
    _execute(source, _COLLIDING.format(long=long_name))
    colliding = _project(tmp_path_factory, source, new_database())

    code, _, stderr = colliding.run("scaffold")
    assert code == 2
    # Both names, what they map to, and the override entry that separates them.
    assert (
        "index 'Account_lowerSlug_idx' of Account and index "
        "'Account_lower_slug_idx' of Account both map to 'account_lower_slug_idx'"
    ) in stderr
    assert "'objects: Account:' (Account_lower_slug_idx: <new_name>)" in stderr
    # Two sequences of a column (an ORM's and the one its default calls),
    # and two no table owns, never become one.
    assert (
        "sequence 'WorkflowVersion_order_seq' of WorkflowVersion and sequence "
        "'workflow_version_order_seq' of WorkflowVersion both map to "
        "'workflow_version_order_seq'"
    ) in stderr, stderr
    assert (
        "sequence 'OrderNumber' and sequence 'order_number' both map to "
        "'order_number'; give one of them another name in the override file "
        "under 'tables:' (order_number: <new_name>)"
    ) in stderr, stderr
    # An index name past 63 bytes once renamed does not stop it: it is
    # shortened, keeping its label.
    assert "63-byte limit" not in stderr
    assert not (colliding.project / "models").exists()

    (colliding.project / OVERRIDES_FILE).write_text(
        "objects:\n  Account:\n    Account_lower_slug_idx: account_lower_slug_plain_idx\n"
        "  WorkflowVersion:\n    workflow_version_order_seq: workflow_version_order\n"
        "tables:\n  order_number: order_number_plain\n",
        encoding="utf-8",
    )
    code, stdout, stderr = colliding.run("scaffold")
    assert code == 0, stderr
    short = "account_" + "a_b" * 14 + "_22df1bc4_idx"
    assert len(short.encode()) == 63
    assert (f"shortened: Account_{long_name}_idx of Account becomes {short} ") in stdout
    names = json.loads((colliding.project / MAP_FILE).read_text(encoding="utf-8"))
    assert {i["source"]: i["name"] for i in names["tables"]["Account"]["indexes"]} == {
        f"Account_{long_name}_idx": short,
        "Account_lowerSlug_idx": "account_lower_slug_idx",
        "Account_lower_slug_idx": "account_lower_slug_plain_idx",
    }
    assert names["shortened"] == [["Account", f"Account_{long_name}_idx", short]]
    assert {k: v["name"] for k, v in names["sequences"].items()} == {
        "WorkflowVersion_order_seq": "workflow_version_order_seq",
        "workflow_version_order_seq": "workflow_version_order",
        "OrderNumber": "order_number",
        "order_number": "order_number_plain",
    }
