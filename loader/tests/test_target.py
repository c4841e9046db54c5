"""The target is protected: tables pgshift did not build, or that were
written to since it published them, are never replaced without consent, and
a partial rebuild keeps every foreign key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pgshift.settings import OVERRIDES_FILE

from migration import copy_project, query, run_cli, seed_sample


def _foreign_keys(url: str) -> set[tuple[str, str]]:
    rows = query(
        url,
        "select conrelid::regclass::text, conname from pg_constraint "
        "where contype = 'f' and connamespace = 'public'::regnamespace",
    )
    return {(r[0], r[1]) for r in rows}


def test_existing_tables_are_kept_then_replaced_on_request(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, target = new_database(), new_database()
    seed_sample(source, scale=1)
    # The report's "initial state: 4 tables", made by hand.
    query(target, "create table public.users (id int primary key, name text)")
    query(target, "insert into public.users values (1, 'hand-made')")

    refused = run_cli(["migrate"], source, target, tmp_path)
    assert refused.returncode == 2
    assert "already exist on the target and were not built by pgshift" in (
        refused.stderr
    )
    assert "public.users" in refused.stderr
    assert "--replace-existing" in refused.stderr
    assert query(target, "select * from public.users") == [(1, "hand-made")]
    assert query(target, "select to_regclass('public.jobs')") == [(None,)]

    replaced = run_cli(["migrate", "--replace-existing"], source, target, tmp_path)
    assert replaced.returncode == 0, replaced.stdout[-2000:] + replaced.stderr[-2000:]
    assert query(target, "select count(*) from public.users") == [(19,)]

    # From now on the tables are pgshift's: a plain rerun replaces them.
    keys = _foreign_keys(target)
    assert len(keys) == 46

    # A partial rebuild swaps users; the children's keys come back at the end.
    partial = run_cli(["dbt", "build", "-s", "users"], "", target, tmp_path)
    assert partial.returncode == 0, partial.stdout[-2000:]
    assert _foreign_keys(target) == keys
    rerun = run_cli(["migrate"], source, target, tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert _foreign_keys(target) == keys

    # Once something writes to a final table (the application, switched
    # over), a migrate would lose that write to the source's rows: refused
    # before anything is written, naming the table.
    query(target, "update public.users set email = 'app@example.com' where id = 1")
    written = run_cli(["migrate"], source, target, tmp_path)
    assert written.returncode == 2, written.stdout[-2000:] + written.stderr[-2000:]
    assert "these final tables changed since pgshift published them: users" in (
        written.stderr
    )
    assert "with 19 rows, 19 now, content changed" in written.stderr
    assert "--replace-existing" in written.stderr
    assert query(target, "select email from public.users where id = 1") == [
        ("app@example.com",)
    ]
    # Many tables written to are named by the first few and a count.
    tables = [
        t
        for (t,) in query(
            target, "select tablename::text from pg_tables where schemaname = 'public'"
        )
    ]

    def counts() -> dict[str, int]:
        return {
            t: query(target, f"select count(*) from public.{t}")[0][0] for t in tables
        }

    before = counts()
    query(target, "truncate public.users cascade")
    emptied = sum(1 for t, n in counts().items() if n == 0 and before[t] > 0)
    assert emptied > 6
    refused = run_cli(["migrate"], source, target, tmp_path)
    assert refused.returncode == 2
    message = refused.stderr.split("published them: ", 1)[1]
    named = message.split(". Something has written", 1)[0].split("; ")
    assert named[5:] == [f"and {emptied - 5} more ({emptied} tables in all)"], named


def test_a_table_given_another_name_replaces_the_one_published_under_the_old(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # A `tables:` override added after a migration (keeping an
    # application's own names, as scaffold's notes advise): the tables
    # published under the rules' names are replaced by the new ones, not
    # left beside them, and an index named apart from its table does not
    # collide with itself.
    source, target = new_database(), new_database()
    query(
        source,
        'create table "fooBar" (id serial primary key, "userId" int); '
        'create index ix_user on "fooBar" ("userId"); '
        'insert into "fooBar" ("userId") values (1), (2); '
        'create table "bazQux" (id serial primary key); '
        'insert into "bazQux" default values',
    )
    project = copy_project(tmp_path / "pgshift", scaffolded=False)
    state = tmp_path / "state"

    def run(*args: str) -> str:
        done = run_cli(list(args), source, target, state, project)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    run("scaffold")
    run("migrate")
    listed = "select relname::text from pg_class where relnamespace = "
    listed += "'public'::regnamespace and relkind = 'r' order by 1"
    assert query(target, listed) == [("baz_qux",), ("foo_bar",)]
    overrides = project / OVERRIDES_FILE
    overrides.write_text(
        "tables:\n  fooBar: fooBar\n  bazQux: bazQux\n"
        "columns:\n  fooBar:\n    userId: userId\n",
        encoding="utf-8",
    )
    scaffolded = run("scaffold", "--overrides", str(overrides))
    assert (
        "note: the next migrate drops public.foo_bar (published from fooBar), "
        "since the project now names that table fooBar"
    ) in scaffolded
    said = run("migrate")
    assert "on the target: table public.foo_bar: dropped (an earlier run" in said
    assert query(target, listed) == [("bazQux",), ("fooBar",)]
    assert query(target, 'select "userId" from "fooBar" order by id') == [(1,), (2,)]
    assert query(target, "select to_regclass('ix_user')::text") == [("ix_user",)]
    assert query(target, "select table_name from pgshift.built_tables order by 1") == [
        ("bazQux",),
        ("fooBar",),
    ]
    report = json.loads((project / "MIGRATION_REPORT.json").read_text())
    assert any(
        line.startswith("table public.foo_bar: dropped (an earlier run published")
        for line in report["carried_over"]
    ), report["carried_over"]
