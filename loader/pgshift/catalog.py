"""Read what a PostgreSQL schema holds: tables, columns, keys, enums, indexes.

Everything comes from pg_catalog, so types are exactly what
``format_type()`` prints and expressions exactly what ``pg_get_expr()`` and
``pg_get_constraintdef()`` print: the scaffold writes them back unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

FK_ACTIONS = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}


@dataclass
class Column:
    """One column of a table.

    Attributes:
        name: The column name in the source.
        data_type: The type as ``format_type()`` prints it, e.g. ``numeric(12,2)``.
        not_null: Whether the column is NOT NULL.
        default: The default expression, or None.
        identity: "" (none), "a" (ALWAYS) or "d" (BY DEFAULT).
        generated: "" or "s" (a stored generated column).
        comment: The column comment, or None.
        type_kind: pg_type.typtype of the column's type (element type for
            arrays): "b" base, "e" enum, "d" domain, "c" composite, "r" range.
        type_name: The (element) type's name, unqualified.
        type_schema: The (element) type's schema.
        is_array: Whether the column is an array.
        serial_sequence: The owned sequence behind a serial default (its name,
            unqualified and unquoted), or None.
    """

    name: str
    data_type: str
    not_null: bool
    default: str | None = None
    identity: str = ""
    generated: str = ""
    comment: str | None = None
    type_kind: str = "b"
    type_name: str = ""
    type_schema: str = "pg_catalog"
    is_array: bool = False
    serial_sequence: str | None = None


@dataclass
class ForeignKey:
    """A foreign key constraint.

    Attributes:
        name: The constraint name.
        columns: The referencing columns, in key order.
        ref_table: The referenced table.
        ref_columns: The referenced columns, in key order.
        on_delete: The ON DELETE action, e.g. "cascade".
        on_update: The ON UPDATE action.
        deferrable: Whether the constraint is DEFERRABLE.
        initially_deferred: Whether it is INITIALLY DEFERRED.
    """

    name: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    on_delete: str = "no action"
    on_update: str = "no action"
    deferrable: bool = False
    initially_deferred: bool = False


@dataclass
class Constraint:
    """A primary key, unique or check constraint.

    Attributes:
        name: The constraint name.
        kind: "p", "u" or "c".
        columns: The constrained columns.
        definition: ``pg_get_constraintdef()`` output.
    """

    name: str
    kind: str
    columns: list[str]
    definition: str


@dataclass
class Index:
    """A secondary index (not one backing a constraint).

    Attributes:
        name: The index name.
        definition: ``pg_get_indexdef()`` output.
        columns: The indexed plain columns (empty entries for expressions).
        unique: Whether the index is unique.
    """

    name: str
    definition: str
    columns: list[str]
    unique: bool


@dataclass
class Table:
    """A source table with everything the final table must reproduce.

    Attributes:
        schema: The table's schema.
        name: The table name.
        columns: Columns in attribute order.
        comment: The table comment, or None.
        primary_key: The primary key, or None.
        uniques: Unique constraints.
        checks: Check constraints.
        foreign_keys: Foreign keys.
        indexes: Secondary indexes.
    """

    schema: str
    name: str
    columns: list[Column] = field(default_factory=list)
    comment: str | None = None
    primary_key: Constraint | None = None
    uniques: list[Constraint] = field(default_factory=list)
    checks: list[Constraint] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)

    def column(self, name: str) -> Column:
        """Return the column with this source name."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name}.{name}")


@dataclass
class Domain:
    """A domain type: a base type with constraints of its own.

    Attributes:
        name: The domain's name.
        base_type: The base type as ``format_type()`` prints it.
        not_null: Whether the domain is NOT NULL.
        default: The domain's default expression, or None.
        checks: (constraint name, ``pg_get_constraintdef()``) of each check.
    """

    name: str
    base_type: str
    not_null: bool = False
    default: str | None = None
    checks: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Catalog:
    """The tables, enum types and domains of one source schema.

    Attributes:
        schema: The schema that was read.
        tables: Tables by name, in name order.
        enums: Enum type name to its labels, in sort order.
        domains: Domains by name, in name order.
    """

    schema: str
    tables: dict[str, Table] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)


_TABLES = """
select c.oid, c.relname, obj_description(c.oid, 'pg_class')
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s
  and c.relkind in ('r', 'p')
  and not c.relispartition
order by c.relname
"""

_COLUMNS = """
select a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       col_description(a.attrelid, a.attnum),
       coalesce(et.typtype, t.typtype), coalesce(et.typname, t.typname),
       coalesce(etn.nspname, tn.nspname), t.typcategory = 'A',
       (parse_ident(pg_get_serial_sequence(
           quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname
       )))[2]
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
join pg_namespace tn on tn.oid = t.typnamespace
left join pg_type et on et.oid = t.typelem and t.typcategory = 'A'
left join pg_namespace etn on etn.oid = et.typnamespace
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
  and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""

_CONSTRAINTS = """
select con.conrelid, con.conname, con.contype,
       array(select a.attname::text from unnest(con.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n
             order by k.i),
       pg_get_constraintdef(con.oid),
       fc.relname,
       array(select a.attname::text from unnest(con.confkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n
             order by k.i),
       con.confdeltype, con.confupdtype, con.condeferrable, con.condeferred
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
where n.nspname = %(schema)s and con.contype in ('p', 'u', 'c', 'f')
order by con.conrelid, con.contype, con.conname
"""

_INDEXES = """
select i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique,
       array(select coalesce(a.attname::text, '') from unnest(i.indkey) with ordinality k(n, o)
             left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n
             order by k.o)
from pg_index i
join pg_class ic on ic.oid = i.indexrelid
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s
  and not exists (select 1 from pg_constraint con where con.conindid = i.indexrelid)
order by i.indrelid, ic.relname
"""

_ENUMS = """
select t.typname, array_agg(e.enumlabel::text order by e.enumsortorder)
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
join pg_enum e on e.enumtypid = t.oid
where n.nspname = %(schema)s
group by t.typname
order by t.typname
"""

_DOMAINS = """
select t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
       t.typdefault,
       array(select array[c.conname::text, pg_get_constraintdef(c.oid)]
             from pg_constraint c
             where c.contypid = t.oid and c.contype = 'c'
             order by c.conname)
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
where n.nspname = %(schema)s and t.typtype = 'd'
order by t.typname
"""

_NOT_MIGRATED = """
select case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                      when 'f' then 'foreign table' end,
       c.relname
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('v', 'm', 'f')
order by 1, 2
"""


def read_not_migrated(cursor: Any, schema: str) -> list[tuple[str, str, str]]:
    """List the schema's relations that are not tables, which stay behind.

    Args:
        cursor: An open psycopg2 cursor on the source database.
        schema: The schema to read.

    Returns:
        (kind, name, reason) of each view, materialized view and foreign table.
    """
    cursor.execute(_NOT_MIGRATED, {"schema": schema})
    return [
        (kind, name, "only tables are migrated; recreate it on the target")
        for kind, name in cursor.fetchall()
    ]


def read_catalog(cursor: Any, schema: str = "public") -> Catalog:
    """Read one schema's tables, columns, constraints, indexes and types.

    Args:
        cursor: An open psycopg2 cursor on the source database.
        schema: The schema to read.

    Returns:
        The catalog. Partitions are folded into their parent table.
    """
    args = {"schema": schema}
    catalog = Catalog(schema=schema)
    by_oid: dict[int, Table] = {}

    cursor.execute(_TABLES, args)
    for oid, name, comment in cursor.fetchall():
        table = Table(schema=schema, name=name, comment=comment)
        by_oid[oid] = table
        catalog.tables[name] = table

    cursor.execute(_COLUMNS, args)
    for row in cursor.fetchall():
        table = by_oid.get(row[0])
        if table is None:
            continue
        table.columns.append(
            Column(
                name=row[1],
                data_type=row[2],
                not_null=row[3],
                default=row[4],
                identity=row[5] or "",
                generated=row[6] or "",
                comment=row[7],
                type_kind=row[8],
                type_name=row[9],
                type_schema=row[10],
                is_array=row[11],
                serial_sequence=row[12] if not row[5] else None,
            )
        )

    cursor.execute(_CONSTRAINTS, args)
    for row in cursor.fetchall():
        table = by_oid.get(row[0])
        if table is None:
            continue
        name, kind, columns, definition = row[1], row[2], list(row[3]), row[4]
        if kind == "f":
            table.foreign_keys.append(
                ForeignKey(
                    name=name,
                    columns=columns,
                    ref_table=row[5],
                    ref_columns=list(row[6]),
                    on_delete=FK_ACTIONS[row[7]],
                    on_update=FK_ACTIONS[row[8]],
                    deferrable=row[9],
                    initially_deferred=row[10],
                )
            )
            continue
        constraint = Constraint(name, kind, columns, definition)
        if kind == "p":
            table.primary_key = constraint
        elif kind == "u":
            table.uniques.append(constraint)
        else:
            table.checks.append(constraint)

    cursor.execute(_INDEXES, args)
    for oid, name, definition, unique, columns in cursor.fetchall():
        table = by_oid.get(oid)
        if table is not None:
            table.indexes.append(Index(name, definition, list(columns), unique))

    cursor.execute(_ENUMS, args)
    for name, labels in cursor.fetchall():
        catalog.enums[name] = list(labels)

    cursor.execute(_DOMAINS, args)
    for name, base_type, not_null, default, checks in cursor.fetchall():
        catalog.domains[name] = Domain(
            name=name,
            base_type=base_type,
            not_null=not_null,
            default=default,
            checks=[(check[0], check[1]) for check in checks or []],
        )

    logger.info("read %d tables from schema %s", len(catalog.tables), schema)
    return catalog
