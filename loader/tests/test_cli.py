"""The command line as a user meets it: exit codes, messages, no secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgshift.demo.cluster import Cluster

from migration import query, run_cli, seed_sample

PASSWORD = "Pgshift-Secret-9f3a"


def test_missing_url_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["load"], "", "", tmp_path)
    assert result.returncode == 2
    assert "SOURCE_DATABASE_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            f"postgresql://postgres:{PASSWORD}@localhost:abc/app",
            "SOURCE_DATABASE_URL has a port that is not a number ('abc')",
        ),
        (
            "postgres://postgres@@:xx/app",
            "SOURCE_DATABASE_URL has a port that is not a number ('xx')",
        ),
        (
            f"postgresql+psycopg2://u:{PASSWORD}@localhost/app",
            "names a driver too (SQLAlchemy's form): drop the +... part",
        ),
    ],
)
def test_a_malformed_url_is_a_usage_error(tmp_path: Path, url: str, said: str) -> None:
    result = run_cli(["migrate"], url, "postgresql://u@localhost/t", tmp_path)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr


def test_connection_failure_names_the_side_and_hides_the_password(
    tmp_path: Path, pg_cluster: Cluster, new_database: Callable[[], str]
) -> None:
    target = new_database()
    source = pg_cluster.url("no_such_db", user="app_reader", password=PASSWORD)
    result = run_cli(["load"], source, target, tmp_path)
    assert result.returncode == 2
    assert "source database 'no_such_db'" in result.stderr
    assert "app_reader" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was written to the target.
    assert query(target, "select to_regnamespace('raw')") == [(None,)]


def test_a_table_option_naming_no_table_is_refused_before_anything_runs(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    # A typo in --exclude would migrate the table meant to stay behind; in
    # --include, nothing at all.
    source, target = new_database(), new_database()
    seed_sample(source, scale=1)
    for args, named in (
        (
            ["--exclude", "waitlist_entries,waitlistEntries", "load"],
            "--exclude waitlistEntries (did you mean waitlist_entries?)",
        ),
        (
            ["--include", "user", "scaffold", "--check"],
            "--include user (did you mean users",
        ),
    ):
        result = run_cli(args, source, target, tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert named in result.stderr
        assert "no such table in the source schema public" in result.stderr
        assert "Traceback" not in result.stderr
    assert query(target, "select to_regnamespace('raw')") == [(None,)]


def test_migrate_at_scale_100_and_catch_a_changed_value(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source, scale=100)
    result = run_cli(["migrate"], source, target, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "26 tables, 26 complete" in result.stdout
    assert "**36200**" in result.stdout

    query(target, "update public.messages set content = content || ' ' where id = 7")
    result = run_cli(["verify"], "", target, tmp_path)
    assert result.returncode == 1
    assert "| messages | 2000 | 2000 | DIFFERS |" in result.stdout


@pytest.mark.parametrize(
    "option", ["--exclude", "--include", "--schemas", "--source-schema", "--raw-schema"]
)
def test_an_option_given_twice_is_a_usage_error(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The second --exclude would otherwise replace the first, and the table
    # the first named would migrate.
    from pgshift.cli import build_parser

    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([option, "a", option, "b", "scaffold"])
    assert stopped.value.code == 2
    assert (
        f"{option} is given twice: give it once, with every name in one "
        "comma-separated list"
    ) in capsys.readouterr().err
    assert build_parser().parse_args([option, "a,b", "scaffold"]).command == "scaffold"


def test_a_long_list_in_a_message_shows_the_first_items_and_counts_the_rest() -> None:
    from pgshift.progress import listed

    items = [f"table_{n}" for n in range(30)]
    assert listed(items[:3]) == "table_0\n  table_1\n  table_2"
    shown = listed(items).split("\n  ")
    assert shown[:20] == items[:20] and shown[20:] == ["... and 10 more"]
    # One more than the room is shown whole: "and 1 more" would hide it in
    # the line its mention takes.
    assert listed(items[:21]).split("\n  ") == items[:21]


def test_a_long_generated_line_changed_near_its_end_is_shown_where_it_changed() -> None:
    # A routine's line in the generated routines file is long; an extension
    # its body needs now is near the end, past where a brief line is cut.
    from pgshift.scaffold import _file_change

    head = '{%- do routines.append({"kind": "function", "sql": "' + "x" * 300
    said = _file_change(
        head + '", "extensions": []}) -%}\n',
        head + '", "extensions": [{"name": "unaccent"}]}) -%}\n',
    )
    now, gone = said.removeprefix("differs from what scaffold writes now: ").split("; ")
    assert now.startswith("now ...") and '"extensions": [{"name": "unaccent"}]' in now
    assert gone.startswith("no longer ...") and '"extensions": []' in gone


def test_a_grant_added_to_the_privileges_file_reads_as_one_statement() -> None:
    # The entry that was last gains a comma when one is added after it:
    # that is not a change, and each entry reads as its statement alone.
    from pgshift.scaffold import _file_change

    entry = (
        '        {"kind": "schema", "grantee": "public", "privilege": "usage", '
        "\"statement\": 'grant usage on schema ' ~ schema ~ ' to public', "
        "\"revoke\": 'revoke usage on schema ' ~ schema ~ ' from public'}"
    )
    added = (
        '        {"kind": "table", "grantee": "weblate", "privilege": "select", '
        "\"statement\": 'grant select on table ' ~ schema ~ '.\"it\\'s\" to weblate', "
        "\"revoke\": 'revoke select on table ' ~ schema ~ '.\"it\\'s\" from weblate'}"
    )
    said = _file_change(f"[\n{entry}\n]\n", f"[\n{entry},\n{added}\n]\n")
    assert said == (
        "differs from what scaffold writes now: now grant select on table "
        '<final schema>."it\'s" to weblate'
    )


def test_scaffold_names_the_tables_sync_cannot_follow_as_they_are() -> None:
    from pgshift.cli import keyless_notes
    from pgshift.mapping import KeyMap, NameMap, TableMap

    def table(name: str, **kwargs: object) -> TableMap:
        return TableMap(
            source_schema="public",
            source=name,
            target=name,
            staging_model=f"stg_app__{name}",
            columns={"id": "id"},
            **kwargs,  # type: ignore[arg-type]
        )

    key = KeyMap("h_pkey", "h_pkey", "primary_key", ["id"], "PRIMARY KEY (id)")
    names = NameMap(
        source_name="app",
        source_schema="public",
        tables={
            "history": table("history"),
            "history_uint": table("history_uint"),
            "hosts": table("hosts", keys=[key]),
            "trends": table("trends", settings=["replica identity full"]),
        },
    )
    assert keyless_notes(names) == [
        "note: 2 table(s) have no primary key and no replica identity (history, "
        "history_uint): migrate copies them as they are; sync cannot follow their "
        "UPDATEs and DELETEs until each has one, and names the statements to run "
        "when it starts"
    ]
    assert keyless_notes(NameMap(source_name="app", source_schema="public")) == []


def test_scaffold_says_how_much_the_name_map_renames() -> None:
    from pgshift.cli import renamed_summary
    from pgshift.mapping import NameMap, ViewMap

    from migration import PROJECT_DIR

    # The sample's tables keep their names; its camelCase columns do not.
    sample = NameMap.read(PROJECT_DIR)
    assert sample is not None
    renamed = sum(
        source != target
        for table in sample.tables.values()
        for source, target in table.columns.items()
    )
    assert renamed > 0
    assert renamed_summary(sample) == (
        f"the name map renames {renamed} columns (models/pgshift_name_map.json)"
    )
    # A schema in snake_case already: a verified copy, and no compat.
    kept = NameMap(source_name="app", source_schema="public")
    assert "renames nothing" in renamed_summary(kept)
    assert "needs no `compat`" in renamed_summary(kept)
    # A schema of views alone (AdventureWorks' pe) whose columns the rename
    # of the tables they read renames: the application's queries change.
    kept.views["a"] = ViewMap(
        "a", "a", "view", {"id": "id", "AddressID": "address_id"}, {}, ""
    )
    assert renamed_summary(kept) == (
        "the name map renames 1 view column (models/pgshift_name_map.json)"
    )


def test_a_changed_yaml_file_is_said_entry_by_entry() -> None:
    # Lines such as `quote: true` recur in every model: a diff of lines
    # pinned an added model's lines on whichever model they fell beside
    # (`django_site.name: quote: true`), and a changed enum label on an
    # index's entry. Compared as data, each change names its own entries.
    from pgshift.scaffold import _file_change

    from migration import PROJECT_DIR

    models = (PROJECT_DIR / "models" / "final" / "_final__models.yml").read_text()
    first = "  - name: audit_events\n"
    added = models.replace(
        first,
        "  - name: extras_giftnote\n    columns:\n      - name: id\n"
        "        data_type: bigint\n        quote: true\n" + first,
        1,
    )
    assert _file_change(models, added, yaml=True) == (
        "differs from what scaffold writes now: now extras_giftnote"
    )
    assert _file_change(added, models, yaml=True) == (
        "differs from what scaffold writes now: no longer extras_giftnote"
    )
    # A model added (at the end) comes first, before the values that move
    # with it.
    moved = models.replace(
        "data_type: character varying(100)", "data_type: text", 1
    ) + ("  - name: zz_added\n    columns:\n      - name: id\n")
    assert _file_change(models, moved, yaml=True).startswith(
        "differs from what scaffold writes now: now zz_added; now "
    )
    label = "                      - '''withdrawn'''\n"
    relabelled = models.replace(label, label.replace("withdrawn", "retracted"), 1)
    said = _file_change(models, relabelled, yaml=True)
    assert said.startswith(
        "differs from what scaffold writes now: now audit_events.bids.status: values: "
    )
    assert "retracted" in said.split("; no longer ")[0]
    assert "withdrawn" in said.split("; no longer ")[1]


def test_an_exclude_advice_keeps_the_runs_own_exclusions() -> None:
    # Pasting an advice that named only the new tables brought back the
    # ones the run already left out (booktown: an inheritance child).
    from pgshift.settings import Settings

    settings = Settings(None, None, exclude=("distinguished_authors",))
    assert settings.excluding(["stock", "distinguished_authors"]) == (
        "--exclude distinguished_authors,stock"
    )
    assert Settings(None, None).excluding(["a b"]) == "--exclude 'a b'"
