"""The checksum macro and the loader's checksum give one figure, type by type.

The loader records each source table's checksum with ``pgshift.checksum``;
the final table's dbt test ``pgshift_constraints`` computes its own with
the macro ``pgshift_table_checksum`` over ``pgshift_checksum_columns``. One
database holds the sample's tables, the second source's, and a table of the
values most likely to tell two rules apart (timestamptz of every kind, NaN,
-0, infinities, hostile text, NULLs). For every table, the macro is rendered
through dbt and run, the Python expression is run, and the figures must be
equal. No migration runs: both checksum the same relations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from pgshift.checksum import checksum_sql
from pgshift.load.extract import SESSION_SETTINGS
from pgshift.settings import PROJECT_DIR

from migration import make_settings, seed_sample

FIXTURES = Path(__file__).parent / "fixtures"
DBT = Path(sys.executable).parent / "dbt"

EDGE_SCHEMA = r"""
create schema edge;
create domain edge.utc_stamp as timestamptz;
create table edge."Edge Values" (
    "at" timestamptz,
    at_ms timestamptz(3),
    at_list timestamptz[],
    at_domain edge.utc_stamp,
    "local" timestamp,
    local_ms timestamp(0),
    span interval,
    ratio double precision,
    small_ratio real,
    amount numeric,
    price numeric(12, 2),
    body text,
    "a""b" text,
    "Mixed Case" varchar(20),
    blob bytea,
    doc json,
    docb jsonb,
    tags text[],
    flag boolean,
    day date,
    clock time,
    clock_tz timetz,
    ip inet,
    uid uuid,
    page xml,
    pages xml[]
);
insert into edge."Edge Values"
    ("at", at_ms, at_list, at_domain, "local", local_ms, span)
values
    ('2024-03-31 01:30:00+02', '2024-06-30 23:59:59.123+02',
     '{"2024-01-01 00:00:00+00", null}', '2024-01-01 12:00:00+05:45',
     '2024-01-01 12:00:00', '2024-01-01 12:00:01', '1 day 02:03:04.5'),
    ('infinity', '-infinity', '{}', 'infinity', '-infinity', 'infinity',
     '-3 mons'),
    ('1999-12-31 23:59:59.999999-08', '2000-01-01 00:00:00.5+14', null, null,
     null, null, null),
    (null, null, null, null, null, null, null);
insert into edge."Edge Values" (ratio, small_ratio, amount, price) values
    ('NaN', '-0', 99999999999999.999999, 12.5),
    ('-0', 'NaN', 'NaN', -0.01),
    ('infinity', '-infinity', 'Infinity', 0),
    ('-infinity', 'infinity', '-Infinity', null),
    (1e-300, 3.4e38, 0.000000000000000000001, null);
insert into edge."Edge Values" (body, "a""b", "Mixed Case", blob, doc, docb, tags)
values
    (E'it''s "quoted", \\back\nline\ttab\rcr (paren) $pgshift$',
     '\N', 'NULL', '\x00ff10', '{"b": 1, "a": [null, "x"]}', 'null',
     '{"", null, "a,b", "c\"d"}'),
    ('', '', '', '\x', '[]', '{}', '{}'),
    (E'zo\u00eb \U0001F642 \u05e2\u05d1\u05e8\u05d9\u05ea', ' ',
     '{{ x }}', null, '"null"', '[null]', '{NULL}'),
    ('-- not a comment; select 1', '/* */', ')(', null, null, null, null);
insert into edge."Edge Values" (flag, day, clock, clock_tz, ip, uid) values
    (true, '2024-02-29', '23:59:59.999999', '10:00:00+02', '192.168.0.1/24',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
    (false, '-infinity', '00:00', '00:00:00-12', '::1',
     '00000000-0000-0000-0000-000000000000'),
    (null, 'infinity', null, null, null, null);
insert into edge."Edge Values" (page, pages) values
    ('<?xml version="1.0"?><r a="1"/>', '{"<?xml version=\"1.0\"?><r/>", "<s/>"}'),
    ('text only', null);
create table edge.no_columns ();
insert into edge.no_columns default values;
insert into edge.no_columns default values;
create table edge.no_rows (at timestamptz, body text);
"""
"""Beyond the two sources: every timestamptz form (precision, array, domain),
the float and numeric specials, and text that quotes, escapes or looks like
SQL, next to NULLs, in a table whose name needs quoting."""


def _session(url: str) -> Any:
    """A connection with the loader's session settings (as for its checksums)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cursor = conn.cursor()
    for name, value in SESSION_SETTINGS.items():
        cursor.execute("select set_config(%s, %s, false)", (name, value))
    return conn


def _relations(cursor: Any) -> list[tuple[str, str]]:
    cursor.execute(
        "select n.nspname, c.relname from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname in ('public', 'second', 'edge')"
        " and c.relkind in ('r', 'p') order by 1, 2"
    )
    return cursor.fetchall()


def _columns(cursor: Any, relation: str) -> list[tuple[str, str]]:
    """(name, format_type) in table order, as the loader reads them."""
    cursor.execute(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = %s::regclass and attnum > 0 and not attisdropped"
        " order by attnum",
        (relation,),
    )
    return cursor.fetchall()


def _python_checksum(
    cursor: Any, relation: str, columns: Sequence[tuple[str, str]]
) -> tuple[int, str]:
    cursor.execute(checksum_sql(relation, columns))
    return cursor.fetchone()  # type: ignore[no-any-return]


def _macro_queries(
    url: str, relations: Sequence[tuple[str, str]], tmp: Path
) -> list[str]:
    """pgshift_table_checksum over each relation, compiled by dbt.

    ``dbt compile --inline`` renders the macro as the generic test does,
    reading each relation's columns from the database; it runs no hook and
    writes only under ``tmp``.
    """
    marker = "-- pgshift-test-relation"
    template = "".join(
        "{%- set relation = api.Relation.create(database=target.database, "
        f"schema={json.dumps(schema)}, identifier={json.dumps(name)}) %}}\n"
        f"{marker}\n"
        "{{ pgshift_table_checksum(relation, pgshift_checksum_columns(relation)) }}\n"
        for schema, name in relations
    )
    settings = make_settings(url, url)
    profiles = tmp / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        (PROJECT_DIR / "profiles.example.yml").read_text()
    )
    done = subprocess.run(
        [
            str(DBT),
            "compile",
            "--quiet",
            "--output",
            "json",
            "--inline",
            template,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(profiles),
            "--target-path",
            str(tmp / "target"),
            "--log-path",
            str(tmp / "logs"),
            "--vars",
            json.dumps(settings.dbt_vars()),
        ],
        cwd=tmp,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **settings.target.dbt_env(),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    compiled = json.loads(done.stdout)["compiled"]
    queries = compiled.split(marker)[1:]
    assert len(queries) == len(relations)
    return queries


@pytest.fixture
def every_type(new_database: Callable[[], str]) -> str:
    """A database holding the sample, the second source and the edge table."""
    url = new_database()
    seed_sample(url)
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute("create schema second; set search_path = second")
        cursor.execute((FIXTURES / "second_source.sql").read_text(encoding="utf-8"))
        cursor.execute("reset search_path")
        cursor.execute(EDGE_SCHEMA)
    conn.close()
    return url


def test_macro_and_python_checksums_agree_for_every_type(
    every_type: str, tmp_path: Path
) -> None:
    conn = _session(every_type)
    try:
        cursor = conn.cursor()
        relations = _relations(cursor)
        # 26 sample tables, the second source's 5 and its 2 partitions, 3 edge.
        assert len(relations) == 36
        queries = _macro_queries(every_type, relations, tmp_path)
        types: set[str] = set()
        for (schema, name), query in zip(relations, queries, strict=True):
            relation = sql.Identifier(schema, name).as_string(cursor)
            columns = _columns(cursor, relation)
            types.update(data_type for _, data_type in columns)
            cursor.execute(query)
            assert cursor.fetchone() == _python_checksum(cursor, relation, columns), (
                relation
            )
    finally:
        conn.close()
    assert {
        "timestamp with time zone",
        "timestamp(3) with time zone",
        "timestamp with time zone[]",
        "edge.utc_stamp",
        'second."Mood"[]',
        'second."PositiveAmount"',
        "user_role",
        "double precision",
        "numeric",
        "interval",
        "bytea",
        "json",
        "jsonb",
        "xml",
        "xml[]",
    } <= types


def test_the_comparison_would_see_the_timestamptz_rule_differ(
    every_type: str,
) -> None:
    # The edge table's figure changes when its timestamptz columns are not
    # shifted to UTC: a macro and a loader whose rules differ on any of them
    # cannot give the same figure.
    conn = _session(every_type)
    try:
        cursor = conn.cursor()
        relation = '"edge"."Edge Values"'
        columns = _columns(cursor, relation)
        shifted = [
            n
            for n, t in columns
            if t.startswith("timestamp") and t.endswith("with time zone")
        ]
        assert shifted == ["at", "at_ms"]
        figure = _python_checksum(cursor, relation, columns)
        for name in shifted:
            unshifted = [(n, "text" if n == name else t) for n, t in columns]
            assert _python_checksum(cursor, relation, unshifted) != figure, name
        # xml is hashed as stored: its output function drops a declaration.
        for name in ("page", "pages"):
            printed = [(n, "text" if n == name else t) for n, t in columns]
            assert _python_checksum(cursor, relation, printed) != figure, name
    finally:
        conn.close()
