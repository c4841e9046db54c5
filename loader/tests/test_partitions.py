"""Partitioned tables arrive partitioned, as pg_dump | pg_restore gives them.

The fixture (fixtures/partitioned_source.sql) holds a range-partitioned
camelCase table with monthly partitions and a default one, a
list-partitioned table with a hash-partitioned partition, a
hash-partitioned table with an identity column, foreign keys from and
into a partitioned parent, objects of single partitions, an index made ON
ONLY a parent (invalid), invalid indexes a cancelled CREATE INDEX
CONCURRENTLY left, partitions whose defaults and NOT NULL are not their
table's (one made LIKE its table and attached), and a view over one
partition. After ``migrate`` each
final table is partitioned by the renamed key, every partition is there
under its mapped name (one through the override file) with the source's
bounds, its own constraints, indexes, column defaults and NOT NULL, and
holds the rows the source's holds; the ON ONLY index is invalid on the same partitions, the invalid
ones of a table or partition are listed, not created; the application's
partition maintenance works on the target, schema parity sees a partition
the source lacks, privilege parity a partition's grant or owner changed
there, and a second ``migrate`` replaces it all but the partition the team
added. Shapes pgshift cannot recreate stay listed.
Sync's preflight names each partition without a replica identity of its
own, and the statements it offers let the application's writes through.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest

from pgshift.catalog import PartitionColumn, read_catalog, read_not_migrated
from pgshift.mapping import NameMap
from pgshift.naming import to_snake
from pgshift.settings import OVERRIDES_FILE
from pgshift.sync import pgoutput
from pgshift.sync.apply import Applier, Batch
from pgshift.sync.source import PreflightError, preflight
from pgshift.verify import privilege_drift

from migration import ProjectCopy, copy_project, make_settings, query

FIXTURES = Path(__file__).parent / "fixtures"

OVERRIDES = "tables:\n  StoreRegion_other: store_region_rest\n"

PARENTS = {
    "PaymentEvent": "payment_event",
    "StoreRegion": "store_region",
    "AuditEntry": "audit_entry",
}

# Every partition under a parent, at any depth: name, parent, bound, key;
# bounds printed in UTC, as the catalog reads them.
TREE = """
select c.relname::text, p.relname::text,
       pg_get_expr(c.relpartbound, c.oid),
       case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end
from pg_partition_tree(%s::regclass) t
join pg_class c on c.oid = t.relid
join pg_class p on p.oid = t.parentrelid
order by 1
"""


def _tree(url: str, table: str) -> list[tuple]:
    conn = psycopg2.connect(url, options="-c TimeZone=UTC")
    try:
        cursor = conn.cursor()
        cursor.execute(TREE, (table,))
        return cursor.fetchall()
    finally:
        conn.close()


def _cancel_index_builds(url: str) -> None:
    """Leave the invalid indexes a cancelled CREATE INDEX CONCURRENTLY leaves.

    One on a plain table, one on a partition: each waits for a transaction
    that writes to its table until its statement times out.
    """
    writer = psycopg2.connect(url)
    builder = psycopg2.connect(url)
    builder.autocommit = True
    try:
        writer.cursor().execute(
            'lock table "Customer", "PaymentEvent_2022_02" in row exclusive mode'
        )
        cursor = builder.cursor()
        cursor.execute("set statement_timeout = '200ms'")
        for table, column in (
            ("Customer", "fullName"),
            ("PaymentEvent_2022_02", "paidAt"),
        ):
            with pytest.raises(psycopg2.errors.QueryCanceled):
                cursor.execute(
                    f'create index concurrently "{table}_{column}_idx" '
                    f'on "{table}" ("{column}")'
                )
    finally:
        writer.close()
        builder.close()


def _target_name(source: str) -> str:
    """The naming rules for this fixture's names, and its one override."""
    if source == "StoreRegion_other":
        return "store_region_rest"
    parent = next(p for p in PARENTS if source.startswith(p))
    return PARENTS[parent] + source[len(parent) :]


@pytest.fixture(scope="module")
def migrated(
    pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProjectCopy]:
    cluster = pg_cluster
    source = cluster.create_database("partitioned_source")  # type: ignore[attr-defined]
    target = cluster.create_database("partitioned_target")  # type: ignore[attr-defined]
    conn = psycopg2.connect(source)
    with conn, conn.cursor() as cursor:
        cursor.execute((FIXTURES / "partitioned_source.sql").read_text("utf-8"))
    conn.close()
    _cancel_index_builds(source)
    project = tmp_path_factory.mktemp("clone") / "pgshift"
    copy_project(project, scaffolded=False)
    (project / OVERRIDES_FILE).write_text(OVERRIDES, encoding="utf-8")
    copy = ProjectCopy(source, target, project, tmp_path_factory.mktemp("state"))
    code, _, stderr = copy.run("scaffold", "--overrides", str(project / OVERRIDES_FILE))
    assert code == 0, stderr
    code, stdout, stderr = copy.run("migrate")
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    yield copy
    for name in ("partitioned_source", "partitioned_target"):
        cluster.drop_database(name)  # type: ignore[attr-defined]


def test_each_table_arrives_partitioned_with_every_partition(
    migrated: ProjectCopy,
) -> None:
    for source, target in PARENTS.items():
        assert query(
            migrated.target,
            "select relkind::text from pg_class where oid = %s::regclass",
            (target,),
        ) == [("p",)]
        expected = [
            (
                _target_name(name),
                _target_name(parent),
                bound,
                key and key.replace('"regionId"', "region_id"),
            )
            for name, parent, bound, key in _tree(migrated.source, f'"{source}"')
        ]
        assert sorted(_tree(migrated.target, target)) == sorted(expected)
    assert query(
        migrated.target,
        "select pg_get_partkeydef(oid) from pg_class where relname in "
        "('payment_event', 'store_region', 'audit_entry') "
        "and relnamespace = 'public'::regnamespace order by relname",
    ) == [("HASH (entry_id)",), ("RANGE (paid_at)",), ("LIST (country_code)",)]
    # The default partition and the sub-partitioned one, as on the source.
    tree = {n: (p, b, k) for n, p, b, k in _tree(migrated.target, "store_region")}
    assert tree["store_region_rest"] == ("store_region", "DEFAULT", None)
    assert tree["store_region_eu"][2] == "HASH (region_id)"
    report = (migrated.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "**5 tables, 5 complete**" in report
    assert "keys, indexes, partitions, comments and enums match" in report
    assert "partitioned table" not in report
    for line in (
        "partition comment PaymentEvent_2022_01_amountCents_idx on "
        "PaymentEvent_2022_01: comments on the indexes and constraints of a "
        "partition alone are not migrated",
        "partition statistics PaymentEvent_2022_01_stats on PaymentEvent_2022_01: "
        "extended statistics of a partition alone are not migrated",
    ):
        assert line in report, line
    # Every partition has its table's owner, as on the source.
    assert query(
        migrated.target,
        "select distinct pg_get_userbyid(c.relowner) from "
        "pg_partition_tree('payment_event') t join pg_class c on c.oid = t.relid",
    ) == [("ledger_owner",)]
    # And the grant a partition has of its own, under its target name.
    assert query(
        migrated.target,
        "select has_table_privilege('payment_auditor', 'payment_event_2022_01', "
        "'select'), has_table_privilege('payment_auditor', 'payment_event', 'select')",
    ) == [(True, False)]
    # A view over one partition reads the partition under its new name.
    assert query(migrated.target, "select * from january_payments order by 1") == query(
        migrated.source, 'select * from "JanuaryPayments" order by 1'
    )
    assert "view january_payments (from JanuaryPayments): source 2 rows" in report
    # Nothing of the build is left behind.
    assert query(
        migrated.target,
        "select count(*) from pg_class where relnamespace = "
        "to_regnamespace('public_pgshift_build')",
    ) == [(0,)]


def test_privilege_parity_compares_each_partitions_grants_and_owner(
    migrated: ProjectCopy,
) -> None:
    # An application that reads a partition by its name needs the grant the
    # partition has of its own, and its owner, on the target too.
    query(
        migrated.target,
        "revoke select on payment_event_2022_01 from payment_auditor; "
        "grant delete on payment_event_2022_03 to payment_auditor; "
        "alter table payment_event_2022_02 owner to payment_auditor",
    )
    code, stdout, stderr = migrated.run("verify")
    assert code == 1, stdout[-3000:] + stderr[-3000:]
    for line in (
        "payment_event_2022_01: role payment_auditor may SELECT on the source, "
        "not on the target",
        "payment_event_2022_03: role payment_auditor may DELETE on the target, "
        "not on the source",
        "partition payment_event_2022_02: owned by ledger_owner on the source, "
        "by payment_auditor on the target",
    ):
        assert f"schema differs: {line}" in stdout, stdout[-3000:]
    # Cutover's check offers the statements that undo it, under the target
    # names; once they ran, verify passes again.
    settings = make_settings(
        migrated.source,
        migrated.target,
        project_dir=migrated.project,
        state_dir=migrated.state,
    )
    names = NameMap.read(migrated.project)
    with (
        psycopg2.connect(migrated.source) as s,
        psycopg2.connect(migrated.target) as t,
    ):
        lines, statements = privilege_drift(settings, names, s.cursor(), t.cursor())
    assert len(lines) == 3, lines
    assert sorted(statements) == [
        'ALTER TABLE "public"."payment_event_2022_02" OWNER TO "ledger_owner";',
        'GRANT SELECT ON TABLE "public"."payment_event_2022_01" TO "payment_auditor";',
        'REVOKE DELETE ON TABLE "public"."payment_event_2022_03" FROM '
        '"payment_auditor";',
    ], statements
    query(migrated.target, " ".join(statements))
    code, stdout, stderr = migrated.run("verify")
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    # A partition's own owner, where it is not its table's on the source, is
    # listed as not migrated (the partition has its table's on the target),
    # and is no difference.
    query(
        migrated.source,
        'alter table "PaymentEvent_2022_03" owner to payment_auditor',
    )
    try:
        code, stdout, stderr = migrated.run("verify")
    finally:
        query(
            migrated.source,
            'alter table "PaymentEvent_2022_03" owner to ledger_owner',
        )
    assert code == 0, stdout[-3000:] + stderr[-3000:]


def test_rows_sit_in_the_partitions_the_source_put_them_in(
    migrated: ProjectCopy,
) -> None:
    for source, target in PARENTS.items():
        on_source = query(
            migrated.source,
            f'select tableoid::regclass::text, count(*) from "{source}" group by 1',
        )
        on_target = query(
            migrated.target,
            f"select tableoid::regclass::text, count(*) from {target} group by 1",
        )
        mapped = {(_target_name(name.strip('"')), n) for name, n in on_source}
        assert set(on_target) == mapped
        assert len(on_target) > 1
    assert query(
        migrated.target,
        "select count(*) from only payment_event_default",
    ) == [(2,)]


def test_keys_and_foreign_keys_hold_on_the_parents(migrated: ProjectCopy) -> None:
    target = migrated.target
    # The primary key and the index are the parent's, propagated to every
    # partition; the foreign keys go from and into a partitioned table.
    assert query(
        target,
        "select conname::text, contype::text, conrelid::regclass::text "
        "from pg_constraint where conrelid in "
        "('payment_event'::regclass, 'refund'::regclass) and conparentid = 0 "
        "order by 1",
    ) == [
        ("payment_event_amount_cents_check", "c", "payment_event"),
        ("payment_event_customer_id_fkey", "f", "payment_event"),
        ("payment_event_pkey", "p", "payment_event"),
        ("refund_payment_fkey", "f", "refund"),
        ("refund_pkey", "p", "refund"),
    ]
    assert query(
        target,
        "select count(*) from pg_index where indrelid in (select relid from "
        "pg_partition_tree('payment_event') where isleaf)",
    ) == [(12,)]  # each leaf: the key and the customer index; two of their own
    # The constraints and indexes of single partitions, under mapped names.
    assert query(
        target,
        "select conname::text, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid in ('payment_event_2022_02'::regclass, "
        "'payment_event_default'::regclass, 'payment_event_2022_03'::regclass) "
        "and conparentid = 0 and coninhcount = 0 and contype <> 'f' order by 1",
    ) == [
        ("payment_event_2022_02_small", "CHECK ((amount_cents < 5000))"),
        # Added NOT VALID on the source, over a row that breaks it: the same.
        (
            "payment_event_2022_03_not1300",
            "CHECK ((amount_cents <> 1300)) NOT VALID",
        ),
        ("payment_event_default_once", "UNIQUE (payment_id)"),
    ]
    assert query(
        target,
        "select indexdef from pg_indexes "
        "where indexname = 'payment_event_2022_01_amount_cents_idx'",
    ) == [
        (
            "CREATE INDEX payment_event_2022_01_amount_cents_idx ON "
            "public.payment_event_2022_01 USING btree (amount_cents)",
        )
    ]
    with pytest.raises(psycopg2.errors.CheckViolation):
        query(
            target,
            "insert into payment_event (customer_id, paid_at, amount_cents) "
            "values (1, '2022-02-02 00:00:00+00', 6000)",
        )
    # A partition's comment, Jinja-looking text and all.
    assert query(
        target, "select obj_description('payment_event_2022_01'::regclass, 'pg_class')"
    ) == [("January 2022: closed {{ books }}",)]
    # And a foreign key of one partition alone.
    assert query(
        target,
        "select conname::text, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'payment_event_2022_03'::regclass and contype = 'f' "
        "and conparentid = 0",
    ) == [
        (
            "payment_event_2022_03_customer",
            "FOREIGN KEY (customer_id) REFERENCES customer(customer_id)",
        )
    ]
    with pytest.raises(psycopg2.errors.UniqueViolation):
        query(
            target,
            "insert into payment_event select * from payment_event limit 1",
        )
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        query(target, "insert into refund values (9, 1, '2001-01-01')")
    # ON DELETE CASCADE into the partitioned parent acts as on the source.
    query(target, "delete from payment_event where payment_id = 4")
    assert query(target, "select count(*) from refund") == [(0,)]
    # The identity column is ALWAYS again, as on the source, and continues.
    with pytest.raises(psycopg2.errors.GeneratedAlways):
        query(target, "insert into audit_entry (entry_id, action_name) values (1, 'x')")
    assert query(
        target, "insert into audit_entry (action_name) values ('y') returning entry_id"
    ) == [(21,)]


# Each column of each partition of a tree, at any depth: its default and
# NOT NULL.
PARTITION_COLUMNS = """
select c.relname::text, a.attname::text, pg_get_expr(d.adbin, d.adrelid),
       a.attnotnull
from pg_partition_tree(%s::regclass) t
join pg_class c on c.oid = t.relid
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
where t.level > 0
order by 1, a.attnum
"""

# The source's sequences as the target names them, in a default.
SEQUENCE_NAMES = {
    "'\"PaymentEvent_paymentId_seq\"'": "'payment_event_payment_id_seq'",
    "'\"LegacyPaymentId\"'": "'legacy_payment_id'",
}


def _as_on_the_target(default: str | None) -> str | None:
    for source, target in SEQUENCE_NAMES.items():
        default = default and default.replace(source, target)
    return default


def _insert(url: str, statement: str) -> object:
    """What a direct INSERT gives, rolled back: its row, or its error's class."""
    conn = psycopg2.connect(url)
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(statement)
        except psycopg2.Error as error:
            return type(error)
        return cursor.fetchall()
    finally:
        conn.rollback()
        conn.close()


def test_a_partition_keeps_its_own_defaults_and_not_null(
    migrated: ProjectCopy,
) -> None:
    """Not its table's: one made LIKE its table and attached has none of them.

    PARTITION OF gives each partition its table's defaults; the source's
    PaymentEvent_2020 has none (not the serial's), PaymentEvent_2022_02
    draws from a sequence of its own, StoreRegion_us has a default and a
    NOT NULL of its own, StoreRegion_eu a default its partitions lack.
    """
    for source, target in PARENTS.items():
        expected = [
            (_target_name(name), to_snake(column), _as_on_the_target(default), nn)
            for name, column, default, nn in query(
                migrated.source, PARTITION_COLUMNS, (f'"{source}"',)
            )
        ]
        assert query(migrated.target, PARTITION_COLUMNS, (target,)) == expected
    columns = {
        (name, column): (default, nn)
        for name, column, default, nn in query(
            migrated.target, PARTITION_COLUMNS, ("store_region",)
        )
    } | {
        (name, column): (default, nn)
        for name, column, default, nn in query(
            migrated.target, PARTITION_COLUMNS, ("payment_event",)
        )
    }
    assert columns["payment_event_2020", "payment_id"] == (None, True)
    assert columns["payment_event_2022_02", "payment_id"] == (
        "nextval('legacy_payment_id'::regclass)",
        True,
    )
    assert columns["store_region_us", "region_name"] == ("'unnamed'::text", True)
    assert columns["store_region_eu", "region_name"] == ("'EU'::text", False)
    assert columns["store_region_eu_0", "region_name"] == (None, False)
    # A direct INSERT into a partition does on the target what it does on
    # the source.
    for on_source, on_target in (
        (
            'insert into "PaymentEvent_2020" ("customerId", "paidAt", '
            "\"amountCents\") values (1, '2020-07-01 00:00:00+00', 5) "
            'returning "paymentId"',
            "insert into payment_event_2020 (customer_id, paid_at, amount_cents) "
            "values (1, '2020-07-01 00:00:00+00', 5) returning payment_id",
        ),
        (
            'insert into "PaymentEvent_2022_02" ("customerId", "paidAt", '
            "\"amountCents\") values (1, '2022-02-20 00:00:00+00', 5) "
            'returning "paymentId"',
            "insert into payment_event_2022_02 (customer_id, paid_at, amount_cents) "
            "values (1, '2022-02-20 00:00:00+00', 5) returning payment_id",
        ),
        (
            'insert into "StoreRegion_us" ("regionId", "countryCode") '
            "values (7, 'us') returning \"regionName\"",
            "insert into store_region_us (region_id, country_code) "
            "values (7, 'us') returning region_name",
        ),
        (
            "insert into \"StoreRegion_us\" values (8, 'us', null) "
            'returning "regionName"',
            "insert into store_region_us values (8, 'us', null) returning region_name",
        ),
        (
            'insert into "StoreRegion_eu" ("regionId", "countryCode") '
            "values (9, 'de') returning \"regionName\"",
            "insert into store_region_eu (region_id, country_code) "
            "values (9, 'de') returning region_name",
        ),
    ):
        assert _insert(migrated.target, on_target) == _insert(
            migrated.source, on_source
        ), on_target
    assert (
        _insert(
            migrated.target,
            "insert into payment_event_2020 (customer_id, paid_at, amount_cents) "
            "values (1, '2020-07-01 00:00:00+00', 5) returning payment_id",
        )
        is psycopg2.errors.NotNullViolation
    )
    assert _insert(
        migrated.target,
        "insert into store_region_eu (region_id, country_code) "
        "values (9, 'de') returning region_name",
    ) == [("EU",)]
    # Carried, not listed.
    report = (migrated.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "partition column" not in report


# Each index of store_region's tree on a column: its table, the index it is
# attached to, and whether it is valid.
REGION_NAME_INDEXES = """
select c.relname::text, i.relname::text, p.relname::text, x.indisvalid
from pg_partition_tree(%s::regclass) t
join pg_class c on c.oid = t.relid
join pg_index x on x.indrelid = c.oid
join pg_class i on i.oid = x.indexrelid
left join pg_inherits h on h.inhrelid = i.oid
left join pg_class p on p.oid = h.inhparent
where pg_get_indexdef(x.indexrelid) like %s
order by c.relname::text collate "C"
"""


def test_an_index_made_on_only_its_table_stays_invalid(migrated: ProjectCopy) -> None:
    """Made ON ONLY the parent, attached where the source attached it: invalid."""
    source = query(
        migrated.source, REGION_NAME_INDEXES, ('"StoreRegion"', '%"regionName"%')
    )
    assert [(table, valid) for table, _, _, valid in source] == [
        ("StoreRegion", False),
        ("StoreRegion_eu", False),
        ("StoreRegion_eu_0", True),
        ("StoreRegion_us", True),
    ]
    assert query(
        migrated.target, REGION_NAME_INDEXES, ("store_region", "%region_name%")
    ) == [
        ("store_region", "store_region_region_name_idx", None, False),
        ("store_region_eu", "store_region_eu_region_name_idx",
         "store_region_region_name_idx", False),
        ("store_region_eu_0", "store_region_eu_0_region_name_idx",
         "store_region_eu_region_name_idx", True),
        ("store_region_us", "store_region_us_region_name_idx",
         "store_region_region_name_idx", True),
    ]  # fmt: skip
    assert query(
        migrated.target,
        "select pg_get_indexdef('store_region_region_name_idx'::regclass)",
    ) == [
        (
            "CREATE INDEX store_region_region_name_idx ON ONLY public.store_region "
            "USING btree (region_name text_pattern_ops)",
        )
    ]
    # A partition the application adds gets it, as on the source.
    query(
        migrated.target,
        "create table store_region_it partition of store_region for values in ('it')",
    )
    try:
        assert query(
            migrated.target,
            "select count(*) from pg_index x join pg_inherits h on h.inhrelid = "
            "x.indexrelid where x.indrelid = 'store_region_it'::regclass "
            "and h.inhparent = 'store_region_region_name_idx'::regclass",
        ) == [(1,)]
    finally:
        query(migrated.target, "drop table store_region_it")
    # An invalid index of a table or of a partition alone stays behind, listed.
    assert query(
        migrated.target,
        "select to_regclass('customer_full_name_idx'), "
        "to_regclass('payment_event_2022_02_paid_at_idx')",
    ) == [(None, None)]
    report = (migrated.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    for line in (
        "invalid index Customer_fullName_idx on Customer: invalid on the source",
        "invalid index PaymentEvent_2022_02_paidAt_idx on PaymentEvent_2022_02: "
        "invalid on the source",
    ):
        assert line in report, line


def test_sync_applies_changes_through_the_parent(migrated: ProjectCopy) -> None:
    """The sync's apply routes inserts and moving updates, and truncates."""
    settings = make_settings(migrated.source, migrated.target, state_dir=migrated.state)
    names = NameMap.read(migrated.project)
    assert names is not None
    applier = Applier(settings, names, "partitions", {})
    try:
        columns = (
            pgoutput.Column("paymentId", 23, -1, True),
            pgoutput.Column("customerId", 23, -1, False),
            pgoutput.Column("paidAt", 1184, -1, True),
            pgoutput.Column("amountCents", 23, -1, False),
        )
        applier.relation(pgoutput.Relation(1, "public", "PaymentEvent", "d", columns))
        commit = pgoutput.Commit(1, 2, datetime.now(UTC))
        batch = Batch()
        applier.add(
            batch,
            [pgoutput.Insert(1, ("100", "2", "2022-01-15 00:00:00+00", "5"))],
            commit,
        )
        applier.add(
            batch,
            [
                pgoutput.Update(
                    1,
                    ("100", "2", "2022-03-15 00:00:00+00", "5"),
                    ("100", None, "2022-01-15 00:00:00+00", None),
                    "K",
                )
            ],
            commit,
        )
        statements, rows = applier.build(batch)
        assert rows == 2
        for statement in statements:
            applier.conn.cursor().execute(statement)
        assert query(
            migrated.target,
            "select tableoid::regclass::text from payment_event where payment_id = 100",
        ) == [("payment_event_2022_03",)]
        # A truncate of the source's parent empties every partition (not
        # TRUNCATE ONLY, which PostgreSQL refuses on a partitioned table).
        region = (
            pgoutput.Column("regionId", 23, -1, True),
            pgoutput.Column("countryCode", 25, -1, True),
            pgoutput.Column("regionName", 25, -1, False),
        )
        applier.relation(pgoutput.Relation(2, "public", "StoreRegion", "d", region))
        truncate = applier.statement(pgoutput.Truncate((2,), False, False))
        assert truncate is not None
        applier.conn.cursor().execute(truncate[0].as_string(applier.conn))
        assert query(migrated.target, "select count(*) from store_region") == [(0,)]
        # ONLY stays on each plain table truncated with it.
        customer = (
            pgoutput.Column("customerId", 23, -1, True),
            pgoutput.Column("fullName", 25, -1, False),
        )
        applier.relation(pgoutput.Relation(3, "public", "Customer", "d", customer))
        both = applier.statement(pgoutput.Truncate((2, 3), False, False))
        assert both is not None
        assert both[0].as_string(applier.conn) == (
            'truncate "public"."store_region", only "public"."customer"'
        )
    finally:
        applier.close()


def test_a_new_month_routes_and_a_second_migrate_replaces_it(
    migrated: ProjectCopy,
) -> None:
    target = migrated.target
    # The application's partition maintenance works on the target.
    query(
        target,
        "create table payment_event_2022_04 partition of payment_event "
        "for values from ('2022-04-01 00:00:00+00') to ('2022-05-01 00:00:00+00')",
    )
    query(
        target,
        "insert into payment_event (customer_id, paid_at, amount_cents) "
        "values (1, '2022-04-10 09:00:00+00', 10)",
    )
    assert query(
        target,
        "select tableoid::regclass::text from payment_event "
        "where paid_at = '2022-04-10 09:00:00+00'",
    ) == [("payment_event_2022_04",)]
    # A key of that partition's own into another final table (pg-boss gives
    # each queue's partition its own keys into its queue table).
    query(
        target,
        "alter table payment_event_2022_04 add constraint team_2022_04_customer "
        "foreign key (customer_id) references customer (customer_id)",
    )
    # What else the team made on a partition of its own, and on one of the
    # source's: the drop of the replaced table takes each with it.
    query(
        target,
        "alter table payment_event_2022_04 add constraint team_2022_04_amount "
        "check (amount_cents > 0);"
        "create index team_2022_04_paid on payment_event_2022_04 (paid_at desc);"
        "comment on table payment_event_2022_04 is 'April, the team''s';"
        "create view team_april as "
        "select customer_id, amount_cents from payment_event_2022_04;"
        "create index team_2020_large on payment_event_2020 (amount_cents) "
        "where amount_cents > 100;"
        "create function team_april_noop() returns trigger language plpgsql "
        "as $$begin return new; end$$;"
        "create trigger team_april_noop before insert on payment_event_2022_04 "
        "for each row execute function team_april_noop();"
        "grant select on payment_event_2022_04 to public",
    )
    query(target, "alter table store_region detach partition store_region_us")
    # What a partition made LIKE its table gets on the target when it is
    # recreated PARTITION OF it, and a default its partitions lack.
    query(
        target,
        "alter table payment_event_2020 alter column payment_id "
        "set default nextval('payment_event_payment_id_seq');"
        "alter table store_region_eu alter column region_name drop default",
    )
    query(target, "drop index payment_event_2022_01_amount_cents_idx")
    # The ON ONLY index, built on its other partitions: valid, as it is not
    # on the source.
    query(
        target,
        "create index region_eu_1 on store_region_eu_1 (region_name text_pattern_ops);"
        "alter index store_region_eu_region_name_idx attach partition region_eu_1;"
        "create index region_rest on store_region_rest (region_name text_pattern_ops);"
        "alter index store_region_region_name_idx attach partition region_rest",
    )
    # Schema parity sees the partition the source lacks, and the one gone.
    code, stdout, stderr = migrated.run("verify")
    assert code == 1
    said = stdout + stderr
    assert (
        "payment_event: partition ('payment_event_2022_04', 'payment_event', "
        "\"FOR VALUES FROM ('2022-04-01 00:00:00+00') TO "
        "('2022-05-01 00:00:00+00')\", None) is not in the source"
    ) in said
    assert (
        "store_region: partition ('store_region_us', 'store_region', "
        "\"FOR VALUES IN ('us')\", None) is missing"
    ) in said
    assert (
        "payment_event: partition default ('payment_event_2020', 'payment_id', "
        "None) is missing"
    ) in said
    assert (
        "store_region: partition default ('store_region_eu', 'region_name', "
        "\"'EU'::text\") is missing"
    ) in said
    assert (
        "store_region: partition NOT NULL ('store_region_us', 'region_name') is missing"
    ) in said
    assert (
        "payment_event: partition index ('payment_event_2022_01', "
        "'payment_event_2022_01_amount_cents_idx', False, 'btree (amount_cents)') "
        "is missing"
    ) in said
    assert (
        "store_region: invalid index ('store_region_region_name_idx', "
        "('store_region_eu', 'store_region_eu_0', 'store_region_us')) is missing"
    ) in said
    # The application wrote to the final tables: a migrate would lose it.
    code, stdout, stderr = migrated.run("migrate")
    assert code == 2
    assert "changed since pgshift published them" in stderr
    assert "payment_event (published" in stderr
    # The detached partition is the team's table now: it stays, so its name
    # is taken, and the publish says so and changes nothing.
    code, stdout, stderr = migrated.run("migrate", "--replace-existing")
    assert code != 0
    assert "store_region_us already exists and is not a partition" in (stdout + stderr)
    assert query(target, "select count(*) from payment_event_2022_04") == [(1,)]
    query(target, "drop table store_region_us")
    code, stdout, stderr = migrated.run("migrate", "--replace-existing")
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    # The month the application added is the team's: it is recreated on the
    # new table, empty (the table holds the source's rows), and reported.
    assert query(target, "select count(*) from payment_event_2022_04") == [(0,)]
    report = (migrated.project / "MIGRATION_REPORT.md").read_text(encoding="utf-8")
    assert "- partition public.payment_event.payment_event_2022_04: recreated" in report
    # Its own key too, once the partition is there again.
    assert ("team_2022_04_customer",) in query(
        target,
        "select conname::text from pg_constraint "
        "where conrelid = 'payment_event_2022_04'::regclass and contype = 'f'",
    )
    # And the rest of what the team made on the partitions, each reported.
    assert query(
        target,
        "select conname::text, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'payment_event_2022_04'::regclass and contype = 'c' "
        "and conislocal",
    ) == [("team_2022_04_amount", "CHECK ((amount_cents > 0))")]
    assert query(
        target,
        "select indexrelid::regclass::text from pg_index "
        "where indexrelid::regclass::text in ('team_2022_04_paid', 'team_2020_large') "
        "order by 1",
    ) == [("team_2020_large",), ("team_2022_04_paid",)]
    assert query(
        target, "select obj_description('payment_event_2022_04'::regclass, 'pg_class')"
    ) == [("April, the team's",)]
    assert query(target, "select count(*) from team_april") == [(0,)]
    assert query(
        target,
        "select tgname::text from pg_trigger "
        "where tgrelid = 'payment_event_2022_04'::regclass and not tgisinternal",
    ) == [("team_april_noop",)]
    assert query(
        target,
        "select has_table_privilege('public', 'payment_event_2022_04', 'select')",
    ) == [(True,)]
    for line in (
        "- constraint public.payment_event_2022_04.team_2022_04_amount: recreated",
        "- index public.payment_event_2022_04.team_2022_04_paid: recreated",
        "- index public.payment_event_2020.team_2020_large: recreated",
        "- comment public.payment_event_2022_04: recreated",
        "- view public.team_april: recreated",
        "- trigger public.payment_event_2022_04.team_april_noop: recreated",
        "- grant public.payment_event_2022_04 to public: recreated",
    ):
        assert line in report
    assert "partitions, comments and enums match the source's" in report
    for source, parent in PARENTS.items():
        assert query(migrated.source, f'select count(*) from "{source}"') == query(
            target, f"select count(*) from {parent}"
        )
    assert query(
        target, "select tableoid::regclass::text from store_region where region_id = 5"
    ) == [("store_region_us",)]
    assert query(
        target,
        "select count(*) from pg_class where relnamespace = "
        "to_regnamespace('public_pgshift_build')",
    ) == [(0,)]


def test_a_partition_added_on_the_source_asks_for_scaffold(
    migrated: ProjectCopy,
) -> None:
    """The models must know every partition: migrate stops before the load."""
    query(
        migrated.source,
        'create table "PaymentEvent_2022_04" partition of "PaymentEvent" '
        "for values from ('2022-04-01 00:00:00+00') to ('2022-05-01 00:00:00+00')",
    )
    try:
        code, _, stderr = migrated.run("migrate")
    finally:
        query(
            migrated.source,
            'alter table "PaymentEvent" detach partition "PaymentEvent_2022_04"',
        )
        query(migrated.source, 'drop table "PaymentEvent_2022_04"')
    assert code == 2
    assert "PaymentEvent: its partitions changed since scaffold" in stderr
    assert "run `python loader/run.py scaffold`" in stderr


def test_a_partition_without_a_replica_identity_is_named(
    pg_cluster: object, migrated: ProjectCopy
) -> None:
    """A partition's UPDATEs need its own replica identity, not its parent's."""
    cluster = pg_cluster
    source = cluster.create_database(  # type: ignore[attr-defined]
        "partition_identity", template="partitioned_source"
    )
    try:
        # Lago's shape: no primary key, a unique index over NOT NULL
        # columns; StoreRegion_eu's partitions sit a level further down.
        query(
            source,
            'alter table "StoreRegion" drop constraint "StoreRegion_pkey"; '
            'create unique index "StoreRegion_key" '
            'on "StoreRegion" ("regionId", "countryCode")',
        )
        settings = make_settings(source, migrated.target, state_dir=migrated.state)
        names = NameMap.read(migrated.project)

        def refusal() -> str:
            # The session's server has wal_level = replica: refused anyway.
            with pytest.raises(PreflightError) as refused:
                preflight(settings, names)
            return str(refused.value)

        def fixes(message: str) -> list[str]:
            return [
                line.strip()
                for line in message.splitlines()
                if line.startswith("  ALTER TABLE")
            ]

        leaves = ["other", "us", "eu_0", "eu_1"]
        assert fixes(refusal()) == [
            'ALTER TABLE "public"."StoreRegion" REPLICA IDENTITY USING INDEX '
            '"StoreRegion_key";',
            *(
                f'ALTER TABLE "public"."StoreRegion_{leaf}" REPLICA IDENTITY '
                f'USING INDEX "StoreRegion_{leaf}_regionId_countryCode_idx";'
                for leaf in leaves
            ),
        ]
        # The parent's statement alone leaves every partition without one.
        query(
            source,
            'alter table "StoreRegion" replica identity using index "StoreRegion_key"',
        )
        message = refusal()
        assert (
            "these partitions of migrated tables have no replica identity that "
            "gives their table's key (a partition's UPDATEs and DELETEs need "
            "its own; it does not have its parent's): "
            + ", ".join(f"StoreRegion_{leaf} (of StoreRegion)" for leaf in leaves)
            + ". Published"
        ) in message
        assert "--exclude StoreRegion scaffold" in message
        assert len(fixes(message)) == len(leaves)
        assert query(source, "select pubname from pg_publication") == []
        query(source, ";".join(fixes(message)))
        assert "StoreRegion" not in refusal()
        # Published through the parent, the application's writes still work.
        query(
            source,
            'create publication partition_identity for table "StoreRegion" '
            "with (publish_via_partition_root = true)",
        )
        query(source, 'update "StoreRegion" set "regionName" = "regionName"')
        query(source, 'delete from "StoreRegion" where "regionId" = 6')
    finally:
        cluster.drop_database("partition_identity")  # type: ignore[attr-defined]


def test_shapes_that_cannot_be_recreated_are_listed(pg_cluster: object) -> None:
    cluster = pg_cluster
    url = cluster.create_database("partition_shapes")  # type: ignore[attr-defined]
    try:
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cursor:
            cursor.execute(
                """
                create extension postgres_fdw;
                create server elsewhere foreign data wrapper postgres_fdw;
                create table "Reading" (id int, site int) partition by list (site);
                create table "Reading_1" partition of "Reading" for values in (1);
                create foreign table "Reading_2" partition of "Reading"
                    for values in (2) server elsewhere;
                create index "Reading_id_idx" on only "Reading" (id);
                create table "Visit" (id int, day date) partition by range (day);
                create table "Visit_2024" partition of "Visit"
                    for values from ('2024-01-01') to ('2025-01-01');
                create index "Visit_2024_id_idx" on "Visit_2024" (id);
                alter table "Visit_2024" add constraint "Visit_2024_id_check"
                    check (id > 0);
                create function stamp() returns trigger language plpgsql
                    as $$ begin return new; end $$;
                create trigger "Visit_2024_stamp" before insert on "Visit_2024"
                    for each row execute function stamp();
                alter table "Visit_2024" alter column day set not null;
                alter table "Visit_2024" alter column id set default 7;
                create function "firstDay"() returns date language sql
                    as $$ select date '2024-01-01' $$;
                alter table "Visit_2024" alter column day set default "firstDay"();
                create role partition_reader;
                grant select on "Visit_2024" to partition_reader;
                create table "Site" (id int primary key);
                alter table "Visit_2024" add constraint "Visit_2024_site_fkey"
                    foreign key (id) references "Site" (id);
                """
            )
            catalog = read_catalog(cursor, "public")
            listed = read_not_migrated(cursor, "public")
        conn.close()
    finally:
        cluster.drop_database("partition_shapes")  # type: ignore[attr-defined]
        query(cluster.url(), "drop role if exists partition_reader")  # type: ignore[attr-defined]
    # The foreign partition: one plain table, and the reason.
    assert catalog.tables["Reading"].partition_key is None
    assert catalog.tables["Reading"].partitions == []
    assert catalog.tables["Visit"].partition_key == "RANGE (day)"
    assert (
        "partitioned table",
        "Reading",
        'arrives as one plain table holding the rows of its partitions ("Reading_1", '
        '"Reading_2"): partition Reading_2 is a foreign table, which pgshift does '
        "not create; the partitioning, its bounds and the partitions' own tables "
        "are not recreated",
    ) in listed
    # Its invalid index made ON ONLY it would be valid on one plain table:
    # left out, and listed.
    assert catalog.tables["Reading"].indexes == []
    assert any(
        kind == "invalid index" and name == "Reading_id_idx on Reading"
        for kind, name, _ in listed
    )
    # A partition's own index, check and foreign key are read, to be
    # recreated.
    visit = catalog.tables["Visit"].partitions[0]
    assert [i.name for i in visit.indexes] == ["Visit_2024_id_idx"]
    assert [(c.name, c.kind) for c in visit.constraints] == [
        ("Visit_2024_id_check", "c")
    ]
    assert [(f.name, f.ref_table) for f in visit.foreign_keys] == [
        ("Visit_2024_site_fkey", "Site")
    ]
    # So are its own NOT NULL and a default that calls nothing of the
    # schema's but its sequences and types.
    assert visit.columns == [
        PartitionColumn("id", True, "7", False),
        PartitionColumn("day", False, None, True),
    ]
    # A trigger of the partition alone is not created: listed.
    kinds = {(kind, name) for kind, name, _ in listed}
    # Nor are its own grants, nor a default that calls a function.
    assert sorted(k for k, n in kinds if "Visit" in n) == [
        "partition column",
        "partition trigger",
    ]
    reasons = {n: r for k, n, r in listed if k == "partition column"}
    assert reasons["Visit_2024.day"].startswith(
        'the partition\'s own default ("firstDay"()) is not recreated'
    )
    assert ("partition trigger", "Visit_2024_stamp on Visit_2024") in kinds
    assert not any(k.startswith("partition ") and "Reading" in n for k, n in kinds)
