"""The sample marketplace, end to end: load, dbt build, verify, rerun.

The session's migrated sample (``migrated_sample``: seeded at scale 1 and
migrated once by ``run.py migrate``) is compared table by table, value by
value: source, raw and final.
"""

from __future__ import annotations

import json
from datetime import datetime

import psycopg2
import pytest

from pgshift.catalog import Catalog, read_catalog
from pgshift.load import load
from pgshift.mapping import NameMap
from pgshift.naming import Overrides, to_snake
from pgshift.privileges import map_privileges, read_privileges
from pgshift.scaffold import drift, map_project, render
from pgshift.settings import PROJECT_DIR
from pgshift.transform import run_dbt
from pgshift.verify import verify

from migration import MigratedSample, Migration, fetch_text_rows, query, run_cli

SAMPLE_TABLES = 26


@pytest.fixture(scope="module")
def migrated(migrated_sample: MigratedSample) -> Migration:
    return Migration(
        migrated_sample.source_url, migrated_sample.target_url, migrated_sample.settings
    )


@pytest.fixture(scope="module")
def names() -> NameMap:
    """The name map scaffold wrote for the sample (committed with the models)."""
    found = NameMap.read(PROJECT_DIR)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def catalog(migrated: Migration) -> Catalog:
    conn = psycopg2.connect(migrated.source_url)
    try:
        return read_catalog(conn.cursor(), "public")
    finally:
        conn.close()


def test_every_table_arrives_with_its_count(migrated: Migration) -> None:
    report = verify(migrated.settings)
    assert len(report.tables) == SAMPLE_TABLES
    failed = [
        (t.final_table, t.detail) for t in report.tables if t.status != "complete"
    ]
    assert failed == []
    # Schema parity: the target is a renamed twin of the source.
    assert report.schema_differences == []
    assert report.passed
    counts = {t.source_table: t.migrated_rows for t in report.tables}
    assert counts["users"] == 19
    assert counts["chat_rooms"] == 6
    assert counts["chat_participants"] == 12
    assert counts["messages"] == 20
    assert counts["landlord_profiles"] == 5
    assert counts["waitlist_entries"] == 0


def test_raw_keeps_names_and_values_exactly(
    migrated: Migration, catalog: Catalog
) -> None:
    for table in catalog.tables.values():
        names = [c.name for c in table.columns]
        raw_columns = [
            r[0]
            for r in query(
                migrated.target_url,
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = %s "
                "order by ordinal_position",
                (table.name,),
            )
        ]
        assert raw_columns == names, table.name
        # Raw holds each value's text form: cast back, it is the source value.
        source_rows = fetch_text_rows(migrated.source_url, "public", table.name, names)
        typed = ", ".join(
            f'cast("{c.name}" as {c.data_type}) as "{c.name}"' for c in table.columns
        )
        query(
            migrated.target_url,
            f'create or replace view raw."_typed_{table.name}" as '
            f'select {typed} from raw."{table.name}"',
        )
        try:
            raw_rows = fetch_text_rows(
                migrated.target_url, "raw", f"_typed_{table.name}", names
            )
        finally:
            query(migrated.target_url, f'drop view raw."_typed_{table.name}"')
        assert raw_rows == source_rows, table.name


def test_final_tables_hold_every_value_byte_exact(
    migrated: Migration, catalog: Catalog, names: NameMap
) -> None:
    for table in catalog.tables.values():
        mapped = names.tables[table.name]
        columns = [c.name for c in table.columns]
        source_rows = fetch_text_rows(
            migrated.source_url, "public", table.name, columns
        )
        final_rows = fetch_text_rows(
            migrated.target_url,
            "public",
            mapped.target,
            [mapped.columns[n] for n in columns],
        )
        assert final_rows == source_rows, table.name
        assert len(final_rows) == len(source_rows)


def test_hostile_values_survive(migrated: Migration) -> None:
    from pgshift.demo.sample.seed import HOSTILE_TEXTS

    found = set()
    for text in HOSTILE_TEXTS:
        rows = query(
            migrated.target_url,
            "select 1 from public.jobs j where position(%s in j::text) > 0 "
            "union all select 1 from public.messages m "
            "where position(%s in m::text) > 0 limit 1",
            (text, text),
        )
        if rows:
            found.add(text)
    # Every hostile text is compared value by value above; this guards the
    # fixture: most of them live in jobs and messages.
    assert found


def test_final_columns_are_snake_case_with_source_types(
    migrated: Migration, catalog: Catalog, names: NameMap
) -> None:
    for table in catalog.tables.values():
        mapped = names.tables[table.name]
        rows = query(
            migrated.target_url,
            "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
            "from pg_attribute a where a.attrelid = %s::regclass "
            "and a.attnum > 0 and not a.attisdropped order by a.attnum",
            (f'public."{mapped.target}"',),
        )
        expected = [
            (mapped.columns[c.name], c.data_type, c.not_null) for c in table.columns
        ]
        assert rows == expected, table.name


def _target_foreign_keys(url: str) -> set[tuple[str, tuple[str, ...], str]]:
    rows = query(
        url,
        """
        select c.relname, array(select a.attname::text from unnest(con.conkey) k(n)
               join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n),
               f.relname
        from pg_constraint con
        join pg_class c on c.oid = con.conrelid
        join pg_class f on f.oid = con.confrelid
        join pg_namespace n on n.oid = c.relnamespace
        where con.contype = 'f' and n.nspname = 'public'
        """,
    )
    return {(r[0], tuple(r[1]), r[2]) for r in rows}


def test_every_foreign_key_exists_after_the_build(
    migrated: Migration, catalog: Catalog, names: NameMap
) -> None:
    expected = {
        (
            names.tables[t.name].target,
            tuple(names.tables[t.name].columns[c] for c in fk.columns),
            names.tables[fk.ref_table].target,
        )
        for t in catalog.tables.values()
        for fk in t.foreign_keys
    }
    present = _target_foreign_keys(migrated.target_url)
    assert expected - present == set()
    # Self references and the users <-> payment_methods cycle are among them.
    assert ("messages", ("reply_to_id",), "messages") in present
    assert ("service_categories", ("parent_category_id",), "service_categories") in (
        present
    )
    assert ("users", ("default_payment_method_id",), "payment_methods") in present
    assert ("payment_methods", ("user_id",), "users") in present


def test_build_follows_the_foreign_key_graph(
    migrated_sample: MigratedSample, catalog: Catalog
) -> None:
    artifacts = migrated_sample.artifacts
    manifest = json.loads((artifacts / "manifest.json").read_text())
    results = json.loads((artifacts / "run_results.json").read_text())
    timing = {}
    for result in results["results"]:
        spans = [t for t in result["timing"] if t["name"] == "execute"]
        if spans and spans[0].get("started_at"):
            timing[result["unique_id"]] = (
                datetime.fromisoformat(spans[0]["started_at"].rstrip("Z")),
                datetime.fromisoformat(spans[0]["completed_at"].rstrip("Z")),
            )
    project = map_project(catalog, Overrides())
    checked = 0
    for table in catalog.tables.values():
        child = f"model.pgshift.{project.names.tables[table.name].target}"
        for fk in table.foreign_keys:
            if (table.name, fk.name) in project.deferred:
                continue
            parent = f"model.pgshift.{project.names.tables[fk.ref_table].target}"
            assert parent in manifest["parent_map"][child], (child, parent)
            assert timing[parent][1] <= timing[child][0], (child, parent)
            checked += 1
    assert checked > 20


def test_final_tables_have_planner_statistics(migrated: Migration) -> None:
    # Analyzed in the build schema; the statistics moved with the tables.
    unanalyzed = query(
        migrated.target_url,
        "select c.relname from pg_class c "
        "where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' "
        "and exists (select 1 from pg_stat_user_tables s "
        "where s.relid = c.oid and s.n_live_tup > 0) "
        "and not exists (select 1 from pg_statistic st where st.starelid = c.oid)",
    )
    assert unanalyzed == []
    analyzed = query(
        migrated.target_url,
        "select count(distinct starelid) from pg_statistic st join pg_class c "
        "on c.oid = st.starelid where c.relnamespace = 'public'::regnamespace "
        "and c.relkind = 'r'",
    )
    assert analyzed[0][0] >= 20


def test_keys_continue_after_max_id(
    migrated: Migration, catalog: Catalog, names: NameMap
) -> None:
    checked = 0
    for table in catalog.tables.values():
        mapped = names.tables[table.name]
        for col in table.columns:
            if not (col.identity or col.serial_sequence):
                continue
            target_col = mapped.columns[col.name]
            seq = query(
                migrated.target_url,
                "select pg_get_serial_sequence(%s, %s)",
                (f'public."{mapped.target}"', target_col),
            )[0][0]
            assert seq, (mapped.target, target_col)
            # Named as PostgreSQL names them, not after dbt's intermediate table.
            assert "__dbt_tmp" not in seq, seq
            if col.identity:
                assert seq == f"public.{mapped.target}_{target_col}_seq", seq
            last, called = query(
                migrated.target_url, f"select last_value, is_called from {seq}"
            )[0]
            top = query(
                migrated.target_url,
                f'select coalesce(max("{target_col}"), 0) from public."{mapped.target}"',
            )[0][0]
            assert (last + 1 if called else last) == top + 1, mapped.target
            checked += 1
    assert checked >= 20
    # And a real insert without an id gets max(id) + 1.
    conn = psycopg2.connect(migrated.target_url)
    try:
        cur = conn.cursor()
        cur.execute("select max(id) from public.users")
        top = cur.fetchone()[0]
        cur.execute(
            "insert into public.users (email, password_hash, first_name) "
            "values ('new@example.com', 'x', 'New') returning id"
        )
        assert cur.fetchone()[0] == top + 1
    finally:
        conn.rollback()
        conn.close()


def test_verify_with_other_table_options_is_refused(migrated: Migration) -> None:
    # The sample was scaffolded and migrated with every table: a verify
    # leaving one out would compare schemas a table's keys apart.
    done = run_cli(
        ["--exclude", "waitlist_entries", "verify"],
        migrated.source_url,
        migrated.target_url,
        migrated.settings.state_dir,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "verify refused: its --include/--exclude select other tables than the "
        "migration's: waitlist_entries (migrated; this verify leaves it out)"
    ) in done.stderr, done.stderr


def test_scaffolded_files_match_the_sample_schema(
    catalog: Catalog, migrated: Migration
) -> None:
    project = map_project(catalog, Overrides())
    conn = psycopg2.connect(migrated.source_url)
    try:
        found = read_privileges(conn.cursor(), "public")
    finally:
        conn.close()
    project.privileges = map_privileges(found, project.names)
    files = render(project)
    assert drift(files, PROJECT_DIR) == [], (
        "run `python loader/run.py scaffold` on the sample source"
    )


def test_rerun_gives_identical_results(migrated: Migration) -> None:
    def fingerprint() -> dict[str, tuple[int, str]]:
        rows = query(
            migrated.target_url,
            "select table_name from information_schema.tables "
            "where table_schema = 'public' order by 1",
        )
        out = {}
        for (name,) in rows:
            out[name] = query(
                migrated.target_url,
                f"select count(*), md5(coalesce(string_agg(t::text, '|' "
                f"order by t::text), '')) from public.\"{name}\" t",
            )[0]
        return out

    before = fingerprint()
    load(migrated.settings)
    outcome = run_dbt(migrated.settings, ["build"])
    assert outcome.success, outcome.failures
    assert fingerprint() == before
    leftovers = query(
        migrated.target_url,
        "select table_schema, table_name from information_schema.tables "
        "where table_name like '%%dbt_tmp' or table_name like '%%dbt_backup' "
        "or table_schema = 'raw_staging'",
    )
    assert leftovers == []


def test_docs_generate(migrated: Migration) -> None:
    outcome = run_dbt(migrated.settings, ["docs", "generate"])
    assert outcome.success, outcome.failures
    catalog = json.loads((PROJECT_DIR / "target" / "catalog.json").read_text())
    assert "model.pgshift.users" in catalog["nodes"]
    # Each final table is shown where the application reads it: a table in
    # public, with its columns, not the build schema's view onto it.
    users = catalog["nodes"]["model.pgshift.users"]
    assert users["metadata"]["schema"] == "public"
    assert users["metadata"]["type"] == "BASE TABLE"
    assert "email" in users["columns"]
    # Its details say where it came from and what keys it has, one line per
    # fact, not pgshift's nested metadata as one line of JSON.
    manifest = json.loads((PROJECT_DIR / "target" / "manifest.json").read_text())
    meta = manifest["nodes"]["model.pgshift.invoices"]["meta"]
    assert meta["source table"] == "public.invoices"
    assert meta["primary key"] == "id (invoices_pkey)"
    assert "job_id → jobs (id)" in meta["foreign keys"]
    assert all(isinstance(value, str) for value in meta.values())


def test_keys_and_indexes_carry_their_source_names(migrated: Migration) -> None:
    statement = (
        "select c.relname, i.relname, ix.indisunique, ix.indisprimary "
        "from pg_index ix join pg_class i on i.oid = ix.indexrelid "
        "join pg_class c on c.oid = ix.indrelid "
        "where c.relnamespace = 'public'::regnamespace order by 1, 2"
    )
    source = {
        (to_snake(t), to_snake(i), u, p)
        for t, i, u, p in query(migrated.source_url, statement)
    }
    target = set(query(migrated.target_url, statement))
    assert target == source
    assert ("messages", "messages_chat_room_id_created_at_idx", False, False) in target
    assert ("users", "users_pkey", True, True) in target
