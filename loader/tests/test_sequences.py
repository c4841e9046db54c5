"""Every sequence of the source arrives, where the source's stands.

The fixture (fixtures/dump_shaped_source.sql) holds sequences the way
pg_dump and hand-written DDL leave them: not OWNED BY the column whose
default calls them, one that two tables draw from (owned by one of them),
one only the application calls, a descending one, and sequences that stand
past the rows holding their values. After ``migrate``, the application's
next inserts and nextval() calls get on the target exactly what they would
have got on the source, and a second ``migrate`` keeps it so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

from migration import copy_project, query, run_cli

FIXTURES = Path(__file__).parent / "fixtures"

NEXT = [
    (
        'insert into invoices ("amountCents") values (1) returning id, "invoiceNumber"',
        "insert into invoices (amount_cents) values (1) returning id, invoice_number",
    ),
    (
        """insert into customers ("fullName") values ('Hedy') returning id""",
        "insert into customers (full_name) values ('Hedy') returning id",
    ),
    (
        """insert into suppliers ("companyName") values ('Initech') returning id""",
        "insert into suppliers (company_name) values ('Initech') returning id",
    ),
    (
        "insert into launches (label) values ('three') returning \"launchNo\"",
        "insert into launches (label) values ('three') returning launch_no",
    ),
    ("select nextval('order_number_seq')", "select nextval('order_number_seq')"),
]
"""What the application does next, on the source and on the target."""


def _next_values(url: str, on_source: bool) -> list[tuple]:
    """Run the application's next statements, each rolled back after."""
    return [_once(url, pair[0] if on_source else pair[1]) for pair in NEXT]


def _once(url: str, statement: str) -> tuple:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
            row = cursor.fetchone()
        conn.rollback()
    finally:
        conn.close()
    return row


@pytest.fixture
def dump_shaped(
    new_database: Callable[[], str], tmp_path: Path
) -> tuple[str, str, Path, Path]:
    source, target = new_database(), new_database()
    query(source, (FIXTURES / "dump_shaped_source.sql").read_text(encoding="utf-8"))
    project = copy_project(tmp_path / "pgshift")
    shutil.rmtree(project / "macros" / "scaffolded")
    return source, target, project, tmp_path / "state"


def test_every_sequence_arrives_where_the_source_stands(
    dump_shaped: tuple[str, str, Path, Path],
) -> None:
    source, target, project, state = dump_shaped
    scaffolded = run_cli(["scaffold"], source, "", state, project)
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    migrated = run_cli(["migrate"], source, target, state, project)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    assert "schema differs" not in migrated.stdout

    # Sequences are not transactional: a rollback keeps what nextval took,
    # so the two sides are compared statement by statement, in one order.
    assert _next_values(target, on_source=False) == _next_values(source, True)

    # The defaults call the target's sequences; OWNED BY is as on the source.
    assert query(
        target,
        "select column_default from information_schema.columns "
        "where table_schema = 'public' and table_name = 'invoices' "
        "and column_name = 'id'",
    ) == [("nextval('invoices_id_seq'::regclass)",)]
    assert query(target, "select pg_get_serial_sequence('customers', 'id')") == [
        ("public.global_id_seq",)
    ]
    assert query(target, "select pg_get_serial_sequence('suppliers', 'id')") == [
        (None,)
    ]
    settings = (
        "select sequencename, data_type::text, start_value, min_value, max_value, "
        "increment_by, cycle, cache_size from pg_sequences "
        "where schemaname = 'public' order by 1"
    )
    assert query(target, settings) == query(source, settings)

    report = (project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "- order_number_seq: source next" in report
    assert "- countdown_seq: source next" in report

    # A second migration keeps every sequence where the source's stands.
    again = run_cli(["migrate"], source, target, state, project)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert _next_values(target, on_source=False) == _next_values(source, True)
