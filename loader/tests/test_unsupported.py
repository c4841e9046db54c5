"""What cannot be migrated as it is stops the scaffold, naming every piece.

The fixture (fixtures/unsupported_source.sql) holds a column of a range
type of the source, values that only mean something on the
source server (regclass, oid, xid, pg_lsn), a default and a check calling
functions of the source, and an inheritance parent migrated with its child.
Scaffold stops with exit code 2, one message naming each, and writes
nothing; with those tables excluded it scaffolds, lists what stays behind
(rule, typed tables, the sequences an excluded table owns and no migrated
default draws from; its functions, operators, text search
configuration, trigger, row-level security, policy, an unlogged table and
an extension nothing uses migrate),
and the migration completes with money, arrays of a domain, regconfig,
ranges, a "C" collation, composite types and extension types (citext,
hstore, uuid-ossp) arriving unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from pgshift.catalog import ROW_SECURITY_REFUSAL, read_not_migrated

from migration import copy_project, query, run_cli, run_steps

FIXTURES = Path(__file__).parent / "fixtures"


UNSUPPORTED_TABLES = ["Hollow", "Shapes", "dog", "server_refs"]
EXCLUDED = sorted([*UNSUPPORTED_TABLES, "serverRefNotes"])
"""The unsupported tables and the one whose foreign key references one."""

EXTENSIONS = ("citext", "hstore", "uuid-ossp")

EXTENSION_TABLE = """
create extension citext;
create extension hstore;
create extension "uuid-ossp";
-- A domain over an extension's type: created before any model.
create domain contact_address as citext check (value ~ '@');
create table tagged (
    id uuid primary key default uuid_generate_v4(),
    email citext not null unique,
    attrs hstore,
    contact contact_address
);
insert into tagged values
    ('00000000-0000-0000-0000-000000000001', 'Ada@Example.com', 'a=>1, "b c"=>NULL',
     'Ada@Example.com'),
    ('00000000-0000-0000-0000-000000000002', 'grace@example.com', '', null);
"""


@dataclass
class Project:
    """A source, its target, and a copy of the project joining them."""

    source: str
    target: str
    project: Path
    state: Path
    extensions: bool

    def run(self, *args: str, source: str | None = None) -> tuple[int, str, str]:
        done = run_cli(
            list(args), source or self.source, self.target, self.state, self.project
        )
        return done.returncode, done.stdout, done.stderr


def _files(project: Path) -> dict[str, str]:
    """Every file the scaffold may write or remove, with its content."""
    return {
        str(path.relative_to(project)): path.read_text(encoding="utf-8")
        for folder in ("models", "macros")
        for path in sorted((project / folder).rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def clone(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    cluster = pg_cluster
    source = cluster.create_database("unsupported_source")  # type: ignore[attr-defined]
    target = cluster.create_database("unsupported_target")  # type: ignore[attr-defined]
    available = {
        row[0]
        for row in cluster.execute(  # type: ignore[attr-defined]
            "select name from pg_available_extensions"
        )
    }
    extensions = set(EXTENSIONS) <= available
    conn = psycopg2.connect(source)
    with conn, conn.cursor() as cursor:
        cursor.execute((FIXTURES / "unsupported_source.sql").read_text("utf-8"))
        if extensions:
            cursor.execute(EXTENSION_TABLE)
    conn.close()
    project = tmp_path_factory.mktemp("clone") / "pgshift"
    copy_project(project)
    # A models folder holding a file, to show a refused scaffold leaves it.
    (project / "models").mkdir()
    (project / "models" / "keep.sql").write_text("select 1 as kept\n", "utf-8")
    yield Project(source, target, project, tmp_path_factory.mktemp("state"), extensions)
    for name in ("unsupported_source", "unsupported_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]


def test_scaffold_names_every_unsupported_column_and_object(clone: Project) -> None:
    before = _files(clone.project)
    code, stdout, stderr = clone.run("scaffold")
    assert code == 2, stdout + stderr
    assert "Traceback" not in stderr
    assert _files(clone.project) == before
    expected = [
        "Shapes.span (float_range): range type float_range, which pgshift "
        "cannot create: its subtype_diff function float_gap is not PostgreSQL's",
        "server_refs.tableRef (regclass): its values name objects of the source",
        "server_refs.blobOid (oid): its values identify objects",
        "server_refs.seenXid (xid): its values identify objects",
        "server_refs.walPos (pg_lsn): its values identify objects",
        "dog inherits animal (not a partition)",
        "Hollow: a table without columns, which a dbt model cannot hold",
    ]
    for line in expected:
        assert f"\n  {line}" in stderr, line
    assert len([line for line in stderr.splitlines() if line.startswith("  ")]) == 7
    assert f"--exclude {','.join(EXCLUDED)} scaffold` (serverRefNotes: their " in (
        stderr
    )
    # The tables that migrate are not named.
    for table in (
        "ledger",
        "notes",
        "typed_notes",
        "scratch",
        "tagged",
        "coded",
        "pairs",
    ):
        assert f"  {table}" not in stderr


def test_a_domain_calling_a_source_function_arrives_after_it(
    clone: Project, new_database: object, tmp_path: Path
) -> None:
    # A function takes the domain as its argument: the domain is created
    # without the check, then the functions, then the check and the default.
    source, target = new_database(), new_database()  # type: ignore[operator]
    query(
        source,
        "create function is_odd(v integer) returns boolean immutable "
        "language sql as $$ select mod(v, 2) = 1 $$; "
        "create domain odd as integer constraint odd_check check (is_odd(value)); "
        "create function odd_label(v odd) returns text language sql "
        "as $$ select 'odd ' || v $$; "
        "create function next_code() returns text language sql "
        "as $$ select 'C' || 7 $$; "
        "create domain code as text default next_code(); "
        "create table plain (id integer primary key, n odd, c code); "
        "insert into plain values (1, 3, 'given')",
    )
    project = copy_project(tmp_path / "project")
    state = tmp_path / "state"
    run_steps(("scaffold", "migrate"), source, target, state, project)
    assert query(target, "select id, n, c from plain") == [(1, 3, "given")]
    assert query(target, "insert into plain (id, n) values (2, 5) returning c") == [
        ("C7",)
    ]
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(target, "insert into plain (id, n) values (3, 4)")
    assert query(target, "select odd_label(n) from plain where id = 1") == [("odd 3",)]
    # One that needs review stops the scaffold, naming the domain (dynamic
    # SQL, in a schema where a name changes).
    query(
        source,
        'create table "renamedTable" (id integer primary key); '
        "create function is_even(v integer) returns boolean language plpgsql "
        "as $$ begin return (select mod(v, 2) = 0); end $$; "
        "create function dynamic(v integer) returns boolean language plpgsql "
        "as $$ declare r boolean; begin execute 'select true' into r; "
        "return r; end $$; "
        "create domain checked as integer check (dynamic(value))",
    )
    done = run_cli(["scaffold"], source, target, state, project)
    assert done.returncode == 2
    assert "domain checked check or default: calls dynamic(v integer)" in done.stderr
    assert "needs review" in done.stderr


def test_a_domain_over_a_row_type_stops_the_scaffold_naming_it(
    new_database: object, tmp_path: Path
) -> None:
    # The build makes the types before the tables: a domain over a table's
    # row type, or over a composite type, cannot be made there.
    source = new_database()  # type: ignore[operator]
    query(
        source,
        "create table parcel (id integer primary key); "
        "create domain parcel_domain as parcel; "
        "create type pair as (a integer, b integer); "
        "create domain pair_domain as pair",
    )
    project = copy_project(tmp_path / "project")
    done = run_cli(["scaffold"], source, "", tmp_path / "state", project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "domain parcel_domain: over the row type of table parcel, which the "
        "target gets after its domains"
    ) in done.stderr
    assert (
        "domain pair_domain: over composite type pair, which the target gets "
        "after its domains"
    ) in done.stderr


def test_a_key_into_another_schema_stops_the_scaffold(
    clone: Project, new_database: object, tmp_path: Path
) -> None:
    # The parent has the same name in both schemas: the key must not be
    # pointed at the migrated schema's table, which is not its parent.
    source = new_database()  # type: ignore[operator]
    query(
        source,
        "create schema billing; "
        "create table billing.accounts (id integer primary key); "
        "create table accounts (id integer primary key); "
        'create table invoices (id integer primary key, "accountId" integer '
        "references billing.accounts)",
    )
    before = _files(clone.project)
    code, _, stderr = clone.run("scaffold", source=source)
    assert code == 2
    assert "invoices.invoices_accountId_fkey references billing.accounts" in stderr
    # The run that would let it be kept is named.
    assert "--schemas billing --final-schema billing" in stderr
    assert "exclude invoices" in stderr
    assert _files(clone.project) == before
    # Without it, the other schema is named as staying behind.
    done = run_cli(
        ["--exclude", "invoices", "scaffold"],
        source,
        clone.target,
        tmp_path / "state",
        copy_project(tmp_path / "pgshift"),
    )
    assert done.returncode == 0, done.stderr
    assert (
        "not migrated: schema billing: pgshift migrates one schema (public, "
        "chosen with --schemas or --source-schema); this one stays behind "
        "(tables: 1, views: 0, functions: 0)"
    ) in done.stdout


def test_row_level_security_applying_to_the_user_stops_the_scaffold(
    clone: Project, pg_cluster: object
) -> None:
    cluster = pg_cluster
    cluster.execute("create role pgshift_reader login")  # type: ignore[attr-defined]
    try:
        cluster.execute(  # type: ignore[attr-defined]
            "grant select on all tables in schema public to pgshift_reader",
            dbname="unsupported_source",
        )
        reader = cluster.url(  # type: ignore[attr-defined]
            "unsupported_source", user="pgshift_reader"
        )
        # A table the role may not read is named with its grant first, and
        # scaffold writes nothing.
        cluster.execute(  # type: ignore[attr-defined]
            "revoke select on ledger from pgshift_reader",
            dbname="unsupported_source",
        )
        before = _files(clone.project)
        code, _, unread = clone.run(
            "--include", "notes,ledger", "scaffold", source=reader
        )
        assert code == 2, unread
        assert (
            "the source role pgshift_reader may not read 1 of the tables to "
            "migrate: ledger; nothing was written. Next: on the source, as their "
            'owner or a superuser, run `GRANT SELECT ON TABLE "public"."ledger" TO '
            '"pgshift_reader";`'
        ) in unread
        assert _files(clone.project) == before
        cluster.execute(  # type: ignore[attr-defined]
            "grant select on ledger to pgshift_reader", dbname="unsupported_source"
        )
        code, _, stderr = clone.run(
            "--include", "notes,ledger", "scaffold", source=reader
        )
    finally:
        cluster.execute(  # type: ignore[attr-defined]
            "revoke all on all tables in schema public from pgshift_reader",
            dbname="unsupported_source",
        )
        cluster.execute("drop role pgshift_reader")  # type: ignore[attr-defined]
    assert code == 2
    # Its policy lets every row through (using (true)), but it applies to
    # the reader, so the load could not read the table (row_security = off).
    assert f"  notes: {ROW_SECURITY_REFUSAL}" in stderr
    assert "BYPASSRLS" in stderr
    assert "ledger" not in stderr


@pytest.fixture(scope="module")
def migrated(clone: Project) -> tuple[Project, str]:
    excluded = ",".join(EXCLUDED)
    code, stdout, stderr = clone.run("--exclude", excluded, "scaffold")
    assert code == 0, stderr
    code, out, err = clone.run("--exclude", excluded, "migrate")
    assert code == 0, out[-3000:] + err[-3000:]
    return clone, stdout


def test_scaffold_names_an_extension_only_while_the_target_lacks_it(
    migrated: tuple[Project, str],
) -> None:
    clone, before = migrated
    assert "extension citext: the build creates it" in before
    code, after, stderr = clone.run("--exclude", ",".join(EXCLUDED), "scaffold")
    assert code == 0, stderr
    assert "extension citext" not in after


def test_what_stays_behind_is_listed(migrated: tuple[Project, str]) -> None:
    clone, stdout = migrated
    expected = [
        "rule notes_keep on notes: rules are not migrated",
        "rule note_bodies_delete on view note_bodies: rules are not migrated: "
        "writes through the view on the target do not apply it; recreate it "
        "there with the target's names: CREATE RULE note_bodies_delete AS",
        "trigger note_bodies_insert on view note_bodies: triggers on views are "
        "not migrated (its function is)",
        "view column default note_bodies.body: a view column's default is not "
        "migrated: an insert through the view on the target leaves it out; set "
        "it there with the target's names: ALTER VIEW note_bodies ALTER COLUMN "
        "body SET DEFAULT 'empty'::text",
        "typed table typed_notes: arrives as a plain table with the same "
        "columns, not OF note_row",
        "inheritance dog inherits animal: the target tables do not inherit",
        "large objects 1 of them: large objects (lo_import, the oid a column "
        "holds) are not migrated",
        "database setting work_mem=8MB: a setting of the source database (ALTER "
        "DATABASE ... SET) is out of scope: set it on the target if the "
        "application relies on it (a search_path naming the migrated schema "
        "names the final schema there)",
        'view shapeIds: reads public."Shapes", excluded by --include/--exclude',
        "view shapeIdsAgain: reads shapeIds, which is not migrated (reads "
        'public."Shapes", excluded by --include/--exclude)',
        'sequence serverRefNotes_noteNo_seq: owned by "serverRefNotes"."noteNo", '
        "excluded by --include/--exclude",
        'sequence stubNumbers OWNED BY "serverRefNotes".id: its table is excluded '
        "by --include/--exclude; the sequence is migrated, owned by nothing, "
        "since stubs.id draws from it",
    ]
    report = (clone.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    for line in expected:
        assert f"not migrated: {line}" in stdout, line
        assert f"- {line}" in report, line
    # An extension's view comes with its extension, and so do its rules.
    assert "fuzzy_view" not in stdout and "fuzzy_view" not in report
    # A grant on an extension's own table beyond the extension's is named,
    # with the statement that gives it on the target.
    assert (
        "privileges: table fuzzy_cache (extension fuzzystrmatch): public's "
        "SELECT is not applied: the target's CREATE EXTENSION gives the "
        "extension's objects its own privileges; if the application needs it, "
        "run on the target: grant select on table <final schema>.fuzzy_cache "
        "to public"
    ) in stdout
    # The target's own record of what stayed behind names the views and
    # sequences too, and the report each once.
    recorded = query(
        clone.target,
        "select kind || ' ' || object_name || ': ' || reason from pgshift.not_migrated",
    )
    for line in expected[-4:]:
        assert (line,) in recorded, recorded
        assert report.count(f"- {line}\n") == 1, line
    # The excluded table's serial sequence is not created; the one a
    # migrated default draws from is, standing where the source's does.
    assert "serverRefNotes_noteNo_seq" not in report.split("## Not migrated")[0]
    assert query(
        clone.target,
        "select to_regclass('public.server_ref_notes_note_no_seq'), "
        "to_regclass('public.\"serverRefNotes_noteNo_seq\"'), "
        "pg_get_serial_sequence('public.stubs', 'id')",
    ) == [(None, None, None)]
    assert query(clone.target, "select last_value, is_called from stub_numbers") == [
        (1, True)
    ]
    # A view whose WITH query hides the table it reads migrates.
    assert "hiddenStamps" not in stdout
    rows = query(clone.source, 'select id from "hiddenStamps" order by id')
    assert query(clone.target, "select id from hidden_stamps order by id") == rows
    assert rows != []
    # The range type's own constructors are part of the type, not functions.
    assert "float_range(" not in stdout
    # UNLOGGED, an expression index's statistics target, every extension
    # (one that nothing in the schema uses too), and the operators arrive.
    left_out = report.split("## Not migrated", 1)[1].split("\n## ", 1)[0]
    assert "unlogged" not in stdout and "operator ===" not in left_out
    assert "- operator ===(integer, integer)\n" in report
    # The text search configuration arrives, mapped as on the source.
    assert "plainText" not in stdout
    mappings = (
        "select t.alias, d.dictname from pg_ts_config c "
        "join pg_ts_config_map m on m.mapcfg = c.oid "
        "join ts_token_type(c.cfgparser) t on t.tokid = m.maptokentype "
        "join pg_ts_dict d on d.oid = m.mapdict "
        "where c.cfgname = 'plainText' order by 1, m.mapseqno"
    )
    assert query(clone.target, mappings) == query(clone.source, mappings) != []
    assert query(
        clone.target,
        "select relpersistence from pg_class where oid = 'public.scratch'::regclass",
    ) == [("u",)]
    assert query(
        clone.target,
        "select a.attstattarget from pg_attribute as a inner join pg_class as i "
        "on i.oid = a.attrelid where i.relname = 'pairs_by_double'",
    ) == [(300,)]
    assert "extension fuzzystrmatch" not in report
    assert query(
        clone.target,
        "select castsource::regtype::text, casttarget::regtype::text, "
        "castfunc::regproc::text, castcontext, castmethod from pg_cast "
        "where castsource = 'mood_kind'::regtype "
        "or casttarget = 'mood_kind'::regtype order by 1",
    ) == [
        ("character varying", "mood_kind", "-", "i", "i"),
        ("mood_kind", "integer", '"moodScore"', "a", "f"),
    ]
    conn = psycopg2.connect(clone.target)
    try:
        with conn.cursor() as cursor:
            # A varchar parameter into the enum column: the implicit cast
            # (the trigger cheers 'sad' up), then the function's cast.
            cursor.execute(
                "insert into pairs (id, last_mood) values (99, %s::varchar) "
                "returning last_mood::text, last_mood::integer",
                ("sad",),
            )
            assert cursor.fetchall() == [("it's ok", 1)]
    finally:
        conn.rollback()
        conn.close()
    options = (
        "select s.seqstart, s.seqincrement, s.seqmax, s.seqcache, s.seqcycle "
        "from pg_sequence as s where s.seqrelid = "
        "pg_get_serial_sequence('{}', 'id')::regclass"
    )
    assert query(clone.target, options.format("public.ticket")) == query(
        clone.source, options.format('public."Ticket"')
    )
    assert query(
        clone.target, "insert into ticket (code) values ('d') returning id"
    ) == [(115,)]
    assert query(
        clone.target,
        "select c.conname, pg_get_constraintdef(c.oid), i.reloptions "
        "from pg_constraint as c inner join pg_class as i on i.oid = c.conindid "
        "where c.conrelid = 'public.ticket'::regclass order by 1",
    ) == [
        ("ticket_code", "UNIQUE (code) DEFERRABLE", ["fillfactor=80"]),
        ("ticket_pkey", "PRIMARY KEY (id)", ["fillfactor=70"]),
    ]
    assert query(
        clone.target,
        "select conname, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'public.held'::regclass and contype <> 'p' order by 1",
    ) == [
        (
            "held_alt",
            "FOREIGN KEY (alt_id, tenant) REFERENCES holder(id, tenant) MATCH FULL",
        ),
        (
            "held_holder",
            "FOREIGN KEY (holder_id, tenant) REFERENCES holder(id, "
            "tenant) ON DELETE SET NULL (holder_id)",
        ),
        ("held_label_check", "CHECK ((label <> ''::text)) NO INHERIT"),
    ]
    # Named only for the grant the team made on it (above).
    assert [line for line in stdout.splitlines() if "fuzzy_" in line] == [
        line
        for line in stdout.splitlines()
        if line.startswith("privileges: table fuzzy_cache")
    ]
    assert "fuzzy_" not in report
    assert query(
        clone.target,
        "select to_regclass('public.fuzzy_cache'), to_regclass('public.fuzzy_view')",
    ) == [(None, None)]
    assert query(clone.target, "select levenshtein('kitten', 'sitting')") == [(3,)]
    assert query(
        clone.target,
        "select 2 === 2, !? 'sad'::mood_kind, 'sad'::mood_kind =~= 'sad', "
        "'sad'::mood_kind !~= 'sad', not ('sad'::mood_kind =~= 'it''s ok')",
    ) == [(True, True, True, False, True)]
    assert query(
        clone.target,
        "select o.oprname, o.oprcom::regoperator::text, "
        "o.oprnegate::regoperator::text, o.oprrest::text from pg_operator as o "
        "where o.oprname = '=~='",
    ) == [("=~=", "=~=(mood_kind,mood_kind)", "!~=(mood_kind,mood_kind)", "eqsel")]
    # The functions and the trigger migrate (test_routines.py), renamed.
    assert "functions are not migrated" not in stdout
    assert "triggers are not migrated" not in stdout
    assert query(
        clone.target,
        "select tgname from pg_trigger where not tgisinternal "
        "and tgrelid = 'public.notes'::regclass",
    ) == [("notes_touch",)]
    assert query(
        clone.target,
        "select proname from pg_proc where pronamespace = 'public'::regnamespace "
        "and proname in ('touch', 'next_code', 'is_even') order by 1",
    ) == [("is_even",), ("next_code",), ("touch",)]
    # A default and a check calling them: the functions came before the table.
    assert query(clone.target, "select id, n from coded") == [(1, 2)]
    assert query(
        clone.target, "insert into coded (id, n) values (2, 4) returning code ~ '^C'"
    ) == [(True,)]
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(clone.target, "insert into coded (id, n) values (3, 5)")
    # Row-level security and its policy migrate (loader/tests/test_views.py).
    assert "row-level security" not in stdout and "policy" not in stdout
    assert query(
        clone.target,
        "select c.relrowsecurity, p.policyname, p.qual from pg_class as c "
        "inner join pg_policies as p on p.tablename = c.relname "
        "where c.oid = 'public.notes'::regclass",
    ) == [(True, "notes_mine", "true")]


def test_unusual_types_arrive_unchanged(migrated: tuple[Project, str]) -> None:
    clone, _ = migrated
    statement = (
        "select id, amount::text, counts::text, config::text, code, "
        "spans::text, multi::text from ledger order by id"
    )
    rows = query(clone.source, statement)
    assert rows[0] == (
        1,
        "$1,234.56",
        "{1,2}",
        "english",
        "b",
        "[1,5)",
        "{[1,3),[5,7)}",
    )
    assert query(clone.target, statement) == rows
    # The column keeps its collation: "C" sorts upper case first.
    assert query(clone.target, "select code from ledger order by code") == [
        ("B",),
        ("b",),
        (None,),
    ]
    assert query(
        clone.target,
        "select attcollation::regcollation::text from pg_attribute "
        "where attrelid = 'public.ledger'::regclass and attname = 'code'",
    ) == [('"C"',)]
    # The domain still checks every array element.
    conn = psycopg2.connect(clone.target)
    try:
        with pytest.raises(psycopg2.errors.CheckViolation), conn.cursor() as cur:
            cur.execute("update ledger set counts = '{0}' where id = 1")
    finally:
        conn.close()
    # The inheritance parent holds its child's row, once.
    assert query(clone.target, "select id, name from animal order by id") == [
        (1, "generic"),
        (2, "rex"),
    ]


def test_composite_types_arrive_renamed_with_the_functions_over_them(
    migrated: tuple[Project, str],
) -> None:
    clone, _ = migrated
    types = (
        "select t.typname::text, array_agg(a.attname::text || ' ' || "
        "format_type(a.atttypid, a.atttypmod) order by a.attnum) "
        "from pg_type t join pg_attribute a on a.attrelid = t.typrelid "
        "join pg_class c on c.oid = t.typrelid and c.relkind = 'c' "
        "where t.typnamespace = 'public'::regnamespace and a.attnum > 0 "
        "group by 1 order by 1"
    )
    assert query(clone.target, types) == [
        ("note_row", ["id integer", "body text"]),
        ("pair", ["a integer", "bValue positive_int", "mood mood_kind"]),
        ("pair_box", ["inner pair", "all pair[]", "note text"]),
    ]
    values = (
        'select id, "{}"::text, "{}"::text, "box"::text, "{}"::text, "{}"::text '
        "from pairs order by id"
    )
    assert query(
        clone.target, values.format("pair", "pair_list", "mood_range", "mood_ranges")
    ) == query(
        clone.source, values.format("pair", "pairList", "moodRange", "moodRanges")
    )
    assert query(
        clone.target,
        "select format_type(atttypid, null) from pg_attribute "
        "where attrelid = 'pairs'::regclass and attname like 'mood_range%%' "
        "order by attnum",
    ) == [("mood_range",), ("mood_range_multirange",)]
    calls = (
        'select "pairMood"(pair)::text, "isSad"("pairMood"(pair)), '
        "\"isSad\"('it''s ok') from pairs order by id"
    )
    assert query(clone.target, calls) == query(clone.source, calls)
    assert query(clone.target, calls)[0] == ("sad", True, False)
    # The trigger's WHEN casts to the renamed enum type.
    for url, column in ((clone.source, '"lastMood"'), (clone.target, "last_mood")):
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    f"insert into pairs (id, {column}) values (10, 'sad') "
                    f"returning {column}::text"
                )
                assert cur.fetchone() == ("it's ok",)
        finally:
            conn.rollback()
            conn.close()


def test_comments_on_other_objects_arrive_on_their_target_names(
    migrated: tuple[Project, str],
) -> None:
    clone, _ = migrated
    described = "select obj_description('{}'::{}, '{}')"
    expected = {
        ("mood_kind", "regtype", "pg_type"): "it's {{ x }} $$ -- \\ a mood",
        ("pair", "regtype", "pg_type"): "a pair",
        ("pairs_by_mood", "regclass", "pg_class"): "by mood",
        ('"isSad"(mood_kind)', "regprocedure", "pg_proc"): "is it sad?",
        ("ticket_numbers", "regclass", "pg_class"): "numbers",
    }
    for (name, cast, catalog), text in expected.items():
        assert query(clone.target, described.format(name, cast, catalog)) == [
            (text,)
        ], name
    owned = "select obj_description(oid, '{}') from {} where {} = '{}' and {} = {}"
    for catalog, name_column, name, owner_column, owner, text in (
        (
            "pg_constraint",
            "conname",
            "pairs_pkey",
            "conrelid",
            "'pairs'::regclass",
            "the key",
        ),
        (
            "pg_trigger",
            "tgname",
            "cheerSad",
            "tgrelid",
            "'pairs'::regclass",
            "cheers {% if %} up",
        ),
        (
            "pg_constraint",
            "conname",
            "positive_int_check",
            "contypid",
            "'positive_int'::regtype",
            "above 0",
        ),
        (
            "pg_policy",
            "polname",
            "notes_mine",
            "polrelid",
            "'notes'::regclass",
            "all rows",
        ),
    ):
        assert query(
            clone.target,
            owned.format(catalog, catalog, name_column, name, owner_column, owner),
        ) == [(text,)], name


def test_table_settings_arrive(migrated: tuple[Project, str]) -> None:
    clone, _ = migrated
    settings = (
        "select c.reloptions, t.reloptions, c.relreplident::text, "
        "(select i.relname::text from pg_index x join pg_class i "
        "on i.oid = x.indexrelid where x.indrelid = c.oid and x.indisclustered), "
        "a.attstattarget, a.attstorage::text "
        "from pg_class c join pg_class t on t.oid = c.reltoastrelid "
        "join pg_attribute a on a.attrelid = c.oid and a.attname = %s "
        "where c.oid = 'pairs'::regclass"
    )
    # Extended statistics, renamed, in the final schema, filled by ANALYZE.
    assert query(
        clone.target,
        "select pg_get_statisticsobjdef(s.oid), d.stxddependencies is not null "
        "from pg_statistic_ext s join pg_statistic_ext_data d on d.stxoid = s.oid "
        "where s.stxrelid = 'pairs'::regclass",
    ) == [
        (
            "CREATE STATISTICS public.mood_stats (dependencies) "
            "ON id, last_mood FROM pairs",
            True,
        )
    ]
    found = query(clone.target, settings, ("pair_list",))
    assert found == [
        (["fillfactor=70"], ["autovacuum_enabled=false"], "f", "pairs_pkey", 500, "e")
    ]
    assert found == query(clone.source, settings, ("pairList",))
    options = (
        "select attoptions from pg_attribute "
        "where attrelid = 'pairs'::regclass and attname = %s"
    )
    assert "n_distinct=-0.5" in query(clone.target, options, ("last_mood",))[0][0]


def test_rails_shapes_arrive(migrated: tuple[Project, str]) -> None:
    clone, stdout = migrated
    # The foreign key references a unique index, which arrives as an index.
    assert query(
        clone.target,
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conname = 'stamp_notes_stamp_fk'",
    ) == [("FOREIGN KEY (stamp_id, org) REFERENCES stamps(id, org)",)]
    assert query(
        clone.target,
        "select indexname from pg_indexes where tablename = 'stamps' order by 1",
    ) == [
        ("stamps_by_id_and_org",),
        ("stamps_json",),
        ("stamps_lookup",),
        ("stamps_pkey",),
    ]
    # The view groups by the primary key alone, as on the source.
    assert "stampCounts" not in stdout
    rows = "select * from {} order by id"
    assert query(clone.target, rows.format("stamp_counts")) == query(
        clone.source, rows.format('"stampCounts"')
    )


def test_long_table_names_arrive(migrated: tuple[Project, str]) -> None:
    clone, _ = migrated
    stem = "recurring_transaction_rules_invoice_custom_sections"
    for suffix in ("a", "b"):
        statement = f"select * from {stem}_{suffix} order by 1"
        assert query(clone.target, statement) == query(clone.source, statement)


def test_extension_types_arrive_with_their_extension(
    migrated: tuple[Project, str],
) -> None:
    clone, _ = migrated
    if not clone.extensions:
        pytest.skip("this PostgreSQL build has no citext, hstore or uuid-ossp")
    assert query(
        clone.target,
        "select extname from pg_extension where extname = any(%s) order by 1",
        (list(EXTENSIONS),),
    ) == [(name,) for name in sorted(EXTENSIONS)]
    statement = (
        "select id::text, email::text, attrs::text, contact::text from tagged "
        "order by id"
    )
    assert query(clone.target, statement) == query(clone.source, statement)
    # The domain over citext keeps its check.
    assert query(
        clone.target,
        "select format_type(typbasetype, typtypmod) from pg_type "
        "where typname = 'contact_address'",
    ) == [("citext",)]
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(clone.target, "update tagged set contact = 'nobody'")
    # citext compares case-insensitively on the target too, and the
    # extension's default fills new rows.
    assert query(
        clone.target, "select count(*) from tagged where email = 'ada@example.com'"
    ) == [(1,)]
    assert query(
        clone.target,
        "insert into tagged (email) values ('new@example.com') "
        "returning id is not null",
    ) == [(True,)]


def test_database_privileges_given_back_to_the_default_are_not_listed(
    new_database: object,
) -> None:
    """A cutover revokes CONNECT on the source database and prints the
    statements that give it back: once run, the database holds what a new
    one has, and nothing is listed; a right of its own is."""
    source = new_database()  # type: ignore[operator]
    name = source.rsplit("/", 1)[1]

    def listed() -> list[str]:
        with psycopg2.connect(source) as conn, conn.cursor() as cursor:
            return [
                entry[1]
                for entry in read_not_migrated(cursor, "public")
                if entry[0] == "database privileges"
            ]

    query(source, f'revoke connect, temporary on database "{name}" from public')
    assert listed() == [name]
    query(source, f'grant connect, temporary on database "{name}" to public')
    assert query(
        source, f"select datacl is not null from pg_database where datname = '{name}'"
    ) == [(True,)]
    assert listed() == []
    query(source, f'grant create on database "{name}" to public')
    assert listed() == [name]


def test_an_extensions_table_is_not_said_to_lack_its_extension() -> None:
    # PostGIS on both sides: its spatial_ref_sys came with it; only the rows
    # the application added to it are the report's concern.
    from pgshift.verify import not_migrated_lines

    table = (
        "extension table spatial_ref_sys: created on the target with extension "
        "postgis; rows the application added to it are not copied"
    )
    recorded = [
        "extension postgis: not created",
        "extension hstore: not created",
        table,
        "schema billing: left out",
    ]
    lines = not_migrated_lines(recorded, {"extension postgis"})
    assert lines[1] == table
    assert lines[0].startswith("extension hstore: not on the target")
    assert len(lines) == 2


def test_an_inheritance_line_follows_what_the_run_leaves_out(
    new_database: object,
) -> None:
    # Leaving the parent out, the child arrives with its own rows alone;
    # leaving the child out, the parent still reads its rows as its own.
    from pgshift.catalog import read_not_migrated

    source = new_database()  # type: ignore[operator]
    query(
        source,
        "create table animal (id int primary key, name text);"
        "create table dog (good boolean) inherits (animal)",
    )
    with psycopg2.connect(source) as conn:
        cursor = conn.cursor()

        def inheritance(*left_out: str) -> list[tuple[str, str, str]]:
            found = read_not_migrated(cursor, "public", lambda t: t not in left_out)
            return [line for line in found if line[0] == "inheritance"]

        assert inheritance() == [
            (
                "inheritance",
                "dog inherits animal",
                "the target tables do not inherit: animal arrives holding the "
                "rows of dog as its own",
            )
        ]
        assert inheritance("animal") == [
            (
                "inheritance",
                "dog inherits animal",
                "the target tables do not inherit: animal is left out, and dog "
                "arrives as a plain table with its own rows",
            )
        ]
        # The child left out, the parent still holds its rows.
        assert inheritance("dog") == inheritance()
        assert inheritance("dog", "animal") == []
