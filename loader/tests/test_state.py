"""pgshift's own state lives where no source table and no team object reaches it.

The load manifest, the list of what stayed behind, the registry of the
tables pgshift built and what it carried over live in the state schema
(``pgshift``); the source's tables land in a schema pgshift created itself.
A team's schema of the landing schema's name is never written to; source
tables named like pgshift's state tables load exactly; names dlt keeps for
itself are refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pgshift.catalog import raw_table_name

from migration import copy_project, query, run_cli, seed_sample

STATE_LOOKALIKES = """
create table "_pgshift_built" (table_name text primary key, built_at timestamptz);
insert into "_pgshift_built" values ('users', now()), ('hand_made', now());
create table "_pgshift_manifest" (table_name text, source_rows bigint);
insert into "_pgshift_manifest" values ('users', 0);
create table "_pgshift_not_migrated" (kind text);
create table "pgshift" (id int);
"""


def _team_raw(url: str) -> list[tuple]:
    """The team's raw.users: its columns, persistence and rows."""
    return query(
        url,
        "select a.attname, a.attnotnull, c.relpersistence "
        "from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "where a.attrelid = 'raw.users'::regclass and a.attnum > 0 order by a.attnum",
    ) + query(url, "select * from raw.users order by 1")


def test_a_teams_landing_schema_is_never_written_to(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source, scale=1)
    query(
        target,
        "create schema raw; "
        "create table raw.users (id int not null, name text not null); "
        "insert into raw.users values (1, 'team row'), (2, 'another')",
    )
    before = _team_raw(target)
    refused = run_cli(["migrate"], source, target, tmp_path / "state")
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert "already has a schema raw that pgshift did not create" in refused.stderr
    assert "--raw-schema" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _team_raw(target) == before
    # Nothing of pgshift's was left behind either.
    assert query(target, "select to_regnamespace('pgshift')") == [(None,)]

    landed = run_cli(
        ["--raw-schema", "landing", "migrate"], source, target, tmp_path / "state"
    )
    assert landed.returncode == 0, landed.stdout[-3000:] + landed.stderr[-3000:]
    assert "26 tables, 26 complete" in landed.stdout
    assert _team_raw(target) == before


def test_source_tables_named_like_the_state_load_exactly(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source, scale=1)
    query(source, STATE_LOOKALIKES)
    # A hand-made table with a final table's name: the guard must see it.
    query(target, "create table public.users (id int primary key, name text)")

    loaded = run_cli(["load"], source, target, tmp_path / "state")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert query(target, 'select table_name from raw."_pgshift_built" order by 1') == [
        ("hand_made",),
        ("users",),
    ]
    assert query(target, 'select * from raw."_pgshift_manifest"') == [("users", "0")]
    # The state is pgshift's own: every source table, once, in the manifest.
    manifest = dict(
        query(target, "select table_name, source_rows from pgshift.manifest")
    )
    assert manifest["_pgshift_built"] == 2
    assert manifest["users"] == 19
    assert query(target, "select to_regclass('pgshift.built_tables')") == [(None,)]

    # The registry of built tables is not the source's copy: the hand-made
    # table is still refused, by `dbt build` and by `migrate` alike (which
    # leaves out the lookalikes the sample's models do not have).
    lookalikes = "_pgshift_built,_pgshift_manifest,_pgshift_not_migrated,pgshift"
    for args in (["dbt", "build"], ["--exclude", lookalikes, "migrate"]):
        refused = run_cli(args, source, target, tmp_path / "state")
        assert refused.returncode == 2, refused.stdout[-2000:]
        assert "public.users" in refused.stderr
        assert "already exist on the target and were not built by pgshift" in (
            refused.stderr
        )
    assert query(target, "select count(*) from public.users") == [(0,)]


def test_a_table_named_like_dlts_own_lands_in_raw_beside_them(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # dlt keeps _dlt_loads in the landing schema: the source's table of that
    # name lands under a name of its own, and dlt's stays dlt's.
    source, target = new_database(), new_database()
    seed_sample(source, scale=1)
    query(
        source,
        'create table "_dlt_loads" (load_id text); '
        "insert into \"_dlt_loads\" values ('theirs')",
    )
    loaded = run_cli(["load"], source, target, tmp_path / "state")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    raw = raw_table_name("_dlt_loads")
    assert raw != "_dlt_loads"
    assert query(target, f'select load_id from raw."{raw}"') == [("theirs",)]
    assert query(
        target, "select count(*) from raw._dlt_loads where load_id = 'theirs'"
    ) == [(0,)]


def test_scaffold_needs_only_the_source(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source = new_database()
    seed_sample(source, scale=1)
    checked = run_cli(["scaffold", "--check"], source, "", tmp_path / "state")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # A column retyped since: named with its table and column, in each file.
    query(source, 'alter table users alter column "firstName" type text')
    checked = run_cli(["scaffold", "--check"], source, "", tmp_path / "state")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == [
        "differs from the source schema: models/final/_final__models.yml: differs "
        "from what scaffold writes now: now users.first_name: data_type: text; no "
        "longer users.first_name: data_type: character varying(100)",
        "differs from the source schema: users: its staging model changed since "
        "scaffold (models/staging/app/stg_app__users.sql: differs from what "
        'scaffold writes now: now cast("firstName" as text) as first_name; no '
        'longer cast("firstName" as character varying(100)) as first_name)',
    ]


def test_the_names_dlt_keeps_are_dlts_own() -> None:
    from dlt.common.schema import utils

    from pgshift.catalog import DLT_TABLES

    assert {
        utils.LOADS_TABLE_NAME,
        utils.VERSION_TABLE_NAME,
        utils.PIPELINE_STATE_TABLE_NAME,
    } == DLT_TABLES


def test_migrate_stops_before_writing_when_the_models_are_not_the_sources(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = new_database(), new_database()
    query(
        source,
        'create table "Tag" (id integer primary key, label text); '
        "insert into \"Tag\" values (1, 'x')",
    )
    project = copy_project(tmp_path / "pgshift")
    state = tmp_path / "state"
    never = run_cli(["migrate"], source, target, state, project)
    assert never.returncode == 2
    assert "run `python loader/run.py scaffold` first" in never.stderr
    assert run_cli(["scaffold"], source, "", state, project).returncode == 0
    # The source moves on after the scaffold: a column and a table appear.
    query(source, 'alter table "Tag" add "colorHex" text; create table later (id int)')
    stale = run_cli(["migrate"], source, target, state, project)
    assert stale.returncode == 2
    assert "Tag: new column colorHex since scaffold" in stale.stderr
    assert "later: a source table the models do not have" in stale.stderr
    assert "run `python loader/run.py scaffold` with the same options" in stale.stderr
    # Nothing was written on the target.
    assert (
        query(
            target,
            "select nspname from pg_namespace where nspname in ('raw', 'pgshift')",
        )
        == []
    )
