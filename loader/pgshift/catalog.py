"""Read what a PostgreSQL schema holds: tables, columns, keys, enums, indexes.

Everything comes from pg_catalog, so types are exactly what
``format_type()`` prints and expressions exactly what ``pg_get_expr()`` and
``pg_get_constraintdef()`` print: the scaffold writes them back unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from pgshift.progress import SHOWN_LINES, some
from pgshift.schemas import own_run, reachable
from pgshift.settings import ConfigError, Settings
from pgshift.sqlident import (
    qualified_type,
    quote_ident,
    render_ident,
    sql_literal,
    unquote_ident,
)

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
        collation: The column's collation as SQL (``"C"``) when it is not its
            type's default, or None.
        default_sequences: The sequences of the schema the default calls
            (``nextval``), unqualified and unquoted.
        other_sequences: (schema, name) of each sequence of another schema
            the default calls.
        identity_options: An identity column's sequence options, as the
            clauses of ``ALTER COLUMN ... SET`` (``increment by 5``, ...,
            ``no cycle``).
        identity_sequence: An identity column's sequence (its name,
            unqualified and unquoted), or None.
        identity_unlogged: Whether an identity column's sequence is
            UNLOGGED (PostgreSQL 15+; it follows its table's persistence
            unless set otherwise).
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
    collation: str | None = None
    default_sequences: list[str] = field(default_factory=list)
    other_sequences: list[tuple[str, str]] = field(default_factory=list)
    identity_options: list[str] = field(default_factory=list)
    identity_sequence: str | None = None
    identity_unlogged: bool = False


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
        ref_schema: The referenced table's schema, when it is not the schema
            being read (None when it is).
        validated: False for a key added NOT VALID and never validated:
            rows older than it may have no parent.
        match_full: MATCH FULL (a row with some key columns null and others
            not is refused).
        delete_columns: The columns ON DELETE SET NULL or SET DEFAULT sets,
            when it names them; empty for all the key's columns.
    """

    name: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    on_delete: str = "no action"
    on_update: str = "no action"
    deferrable: bool = False
    initially_deferred: bool = False
    ref_schema: str | None = None
    validated: bool = True
    match_full: bool = False
    delete_columns: list[str] = field(default_factory=list)


def _fk_extras(alias: str, version: int) -> str:
    """A foreign key's MATCH FULL and the columns its ON DELETE sets, as SQL.

    ON DELETE SET NULL or SET DEFAULT may name the columns it sets from
    PostgreSQL 15 on; before, it sets all of the key's.
    """
    columns = "'{}'::text[]"
    if version >= 150000:
        columns = (
            f"array(select a.attname::text from unnest({alias}.confdelsetcols) "
            "with ordinality u(n, o) join pg_attribute a "
            f"on a.attrelid = {alias}.conrelid and a.attnum = u.n order by u.o)"
        )
    return f"{alias}.confmatchtype = 'f', {columns}"


@dataclass
class Constraint:
    """A primary key, unique, check or exclusion constraint.

    Attributes:
        name: The constraint name.
        kind: "p", "u", "c" or "x".
        columns: The constrained columns.
        definition: ``pg_get_constraintdef()`` output.
    """

    name: str
    kind: str
    columns: list[str]
    definition: str

    @property
    def validated(self) -> bool:
        """False for one added NOT VALID and never validated."""
        return is_validated(self.definition)


def sequence_end_sql(alias: str, ascending: bool) -> str:
    """SQL of where a sequence's end begins: the last thousandth of its range.

    A row holding a value there (a sentinel with the type's largest id, or
    one just short of it) is no position for the sequence to move past: it
    would be used up at once, where the source's still hands out the values
    below. ``alias`` names a ``pg_catalog.pg_sequence`` row. The build
    applies the same rule (macro ``pgshift_sequence_position``).
    """
    if ascending:
        return f"{alias}.seqmax - ({alias}.seqmax::numeric - {alias}.seqstart) / 1000"
    return f"{alias}.seqmin + ({alias}.seqstart::numeric - {alias}.seqmin) / 1000"


def is_validated(definition: str) -> bool:
    """Whether a constraint as ``pg_get_constraintdef()`` prints it is validated.

    One added NOT VALID and never validated ends with ``NOT_VALID``.
    """
    return not definition.endswith(NOT_VALID)


_TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


def _identity_options(settings: list[Any], type_name: str) -> list[str]:
    """An identity sequence's options, or none where they are the defaults.

    Args:
        settings: Increment, min, max, start, cache and cycle, as
            ``pg_sequence`` holds them.
        type_name: The sequence's type.

    Returns:
        The clauses ``ALTER COLUMN ... SET`` takes, every one, when any
        differs from what ``GENERATED ... AS IDENTITY`` alone gives.
    """
    increment, least, most, start, cache, cycle = settings
    top = _TYPE_MAX.get(type_name, 2**63 - 1)
    defaults = (1, 1, top, 1, 1, False)
    if tuple(settings) == defaults:
        return []
    return [
        f"increment by {increment}",
        f"minvalue {least}",
        f"maxvalue {most}",
        f"start with {start}",
        f"cache {cache}",
        "cycle" if cycle else "no cycle",
    ]


def with_storage(definition: str, options: list[str]) -> str:
    """A key's definition with its index's storage parameters, as pg_dump adds them.

    ``PRIMARY KEY (id) WITH (fillfactor='70')``: before DEFERRABLE, which
    ``pg_get_constraintdef()`` prints last.
    """
    pairs = []
    for option in options:
        key, _, value = option.partition("=")
        pairs.append(f"{key}=" + "'" + value.replace("'", "''") + "'")
    head, deferrable, tail = definition.partition(" DEFERRABLE")
    return f"{head} WITH ({', '.join(pairs)}){deferrable}{tail}"


NOT_VALID = " NOT VALID"
"""How ``pg_get_constraintdef()`` ends a constraint never validated."""


@dataclass
class Index:
    """A secondary index (not one backing a constraint).

    Attributes:
        name: The index name.
        definition: ``pg_get_indexdef()`` output.
        columns: The indexed plain columns (empty entries for expressions).
        unique: Whether the index is unique.
        valid: False for an index of a partitioned table made ``ON ONLY``
            the table and not attached to an index of every partition
            (``pg_index.indisvalid``): the application left partitions
            without it. An invalid index of any other table is not read
            (``read_not_migrated`` lists it).
        attached: Of an invalid one, the partitions' indexes attached to
            it, at any depth, each after the index it is attached to:
            (partition, index, the index it is attached to).
    """

    name: str
    definition: str
    columns: list[str]
    unique: bool
    valid: bool = True
    attached: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Statistics:
    """An extended statistics object on a table (``CREATE STATISTICS``).

    Attributes:
        name: Its name.
        kinds: "ndistinct", "dependencies", "mcv", as CREATE STATISTICS
            names them; empty for one expression's statistics alone.
        columns: Its plain columns, in order.
        expressions: Its expressions, as PostgreSQL prints them.
        target: Its statistics target, when one was set.
    """

    name: str
    kinds: list[str]
    columns: list[str]
    expressions: list[str]
    target: int | None = None


@dataclass
class PartitionColumn:
    """A column whose default or NOT NULL in one partition is not its table's.

    A partition made ``LIKE`` its table and attached has no defaults of its
    own; ``PARTITION OF`` gives one its table's. Read on both sides: on the
    target, against the final table.

    Attributes:
        name: The column's name.
        own_default: Whether the partition's default is its own, not its
            table's (and one pgshift carries).
        default: The partition's own default, or None (it has none, or
            its default is its table's).
        not_null: NOT NULL in the partition, not in its table.
        default_sequences: The sequences of the schema its default calls.
    """

    name: str
    own_default: bool
    default: str | None
    not_null: bool
    default_sequences: list[str] = field(default_factory=list)


@dataclass
class Partition:
    """One partition of a partitioned table, at any depth.

    Attributes:
        name: The partition's name.
        parent: The table it is a partition of (the root or a partition
            that is itself partitioned).
        bound: Its bound as ``pg_get_expr(relpartbound)`` prints it:
            ``FOR VALUES FROM (...) TO (...)``, ``FOR VALUES IN (...)``,
            ``FOR VALUES WITH (modulus m, remainder r)`` or ``DEFAULT``.
        key: ``pg_get_partkeydef()`` of a partition that is itself
            partitioned (``LIST (region)``), or None for a leaf.
        constraints: Its own primary key, unique, check and exclusion
            constraints: not its parent's, which PostgreSQL gives every
            partition.
        indexes: Its own secondary indexes (not attached to an index of
            its parent).
        foreign_keys: Its own foreign keys.
        comment: Its comment, or None.
        columns: Its columns whose default or NOT NULL is not its table's
            (the root's, which every partition gets on the target); a
            default ``_PARTITION_DEFAULT_PROBLEM`` refuses is not among
            them (``read_not_migrated`` lists it).
    """

    name: str
    parent: str
    bound: str
    key: str | None = None
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    comment: str | None = None
    columns: list[PartitionColumn] = field(default_factory=list)


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
        exclusions: Exclusion constraints.
        foreign_keys: Foreign keys.
        indexes: Secondary indexes.
        unsupported: What stops this table from being migrated faithfully,
            one line each: "<table>.<column> (<type>): <why>; <what to do>".
        extensions: Extensions the target needs for this table's types,
            defaults, checks and indexes.
        inherits: Parent tables (inheritance that is not partitioning).
        partition_key: ``pg_get_partkeydef()`` of a partitioned table
            (``RANGE ("paidAt")``), or None: a plain table, or a
            partitioned one pgshift cannot reproduce (a partition that is
            a foreign table or in another schema), which arrives as one
            plain table holding every partition's rows.
        partitions: Its partitions at every depth, each after its parent.
        calls: (what, routine) of each function of the migrated schema that
            a default, generated column, check or index calls
            (``("default of code", "next_code()")``): the build creates the
            schema's functions before the tables then.
        settings: What the table is set to beyond its columns and
            constraints (``read_table_settings``): storage parameters,
            replica identity, CLUSTER ON index, and columns' statistics
            targets, storage and compression.
        statistics: Its extended statistics objects.
    """

    schema: str
    name: str
    columns: list[Column] = field(default_factory=list)
    comment: str | None = None
    primary_key: Constraint | None = None
    uniques: list[Constraint] = field(default_factory=list)
    checks: list[Constraint] = field(default_factory=list)
    exclusions: list[Constraint] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    inherits: list[str] = field(default_factory=list)
    partition_key: str | None = None
    partitions: list[Partition] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    settings: list[tuple[str, ...]] = field(default_factory=list)
    statistics: list[Statistics] = field(default_factory=list)

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
        extensions: The extensions it needs (its base type's, its checks'
            functions'), created on the target before it.
        calls: The schema's own functions its default or checks call, as
            ``name(argument types)``: the build creates them before the
            tables, and only then adds what calls them.
        late_checks: The checks that call them.
        late_default: Whether its default calls one.
        collation: Its collation as SQL (``"caseInsensitive"``) when it is
            not its base type's, else None.
    """

    name: str
    base_type: str
    not_null: bool = False
    default: str | None = None
    checks: list[tuple[str, str]] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    late_checks: list[str] = field(default_factory=list)
    late_default: bool = False
    collation: str | None = None


@dataclass
class Composite:
    """A composite type of the schema (``create type ... as (...)``).

    Attributes:
        name: The type's name.
        attributes: (attribute name, type as ``format_type()`` prints it,
            with ``collate <collation>`` after it when the attribute's
            collation is not its type's),
            in order. Attribute names are a value's field names and are
            kept as they are: a composite's text form does not hold them.
        extensions: The extensions its attributes' types need.
    """

    name: str
    attributes: list[tuple[str, str]] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)


@dataclass
class RangeType:
    """A range type of the schema (``create type ... as range``).

    Attributes:
        name: The range type's name.
        subtype: Its subtype as ``format_type()`` prints it.
        multirange: The name of its multirange type (PostgreSQL 14).
        opclass: Its subtype operator class, when not the subtype's default.
        collation: Its collation, when it has one other than the subtype's.
        subtype_diff: Its subtype difference function (PostgreSQL's own).
    """

    name: str
    subtype: str
    multirange: str | None = None
    opclass: str | None = None
    collation: str | None = None
    subtype_diff: str | None = None


@dataclass
class Sequence:
    """A sequence of the schema (identity columns' own ones aside).

    Attributes:
        name: The sequence's name.
        data_type: Its type (``bigint``, ``integer``, ``smallint``).
        start: START WITH.
        increment: INCREMENT BY.
        minimum: MINVALUE.
        maximum: MAXVALUE.
        cache: CACHE.
        cycle: CYCLE.
        owned_by: (table, column) of the column that owns it, or None.
        unlogged: Whether it is UNLOGGED (PostgreSQL 15+).
    """

    name: str
    data_type: str
    start: int
    increment: int
    minimum: int
    maximum: int
    cache: int
    cycle: bool
    owned_by: tuple[str, str] | None = None
    unlogged: bool = False


@dataclass
class Catalog:
    """The tables and types of one source schema.

    Attributes:
        schema: The schema that was read.
        tables: Tables by name, in name order.
        enums: Enum type name to its labels, in sort order.
        collations: The schema's own collations (not an extension's), name
            to the options of its ``CREATE COLLATION`` (``provider = icu,
            locale = 'und-u-kn-true', deterministic = true``), read from
            pg_collation as pg_dump reads them.
        text_search_dictionaries: The schema's own text search dictionaries,
            name to [template, its init options] (the template as
            [schema, name], schema "" for the migrated schema's own).
        text_search_configurations: The schema's own text search
            configurations whose parser is PostgreSQL's, name to [parser,
            [[token type, [[schema, dictionary], ...]], ...]], as pg_dump
            makes them again (schema "" for the migrated schema's own).
        domains: Domains by name, in name order, each after the domain it
            is over (the order they are created in).
        composites: Composite types by name, each after the composites its
            attributes use (the order they are created in).
        composite_problems: Composite type name to why the target cannot
            get it, for the others.
        ranges: Range types by name whose subtype, operator class and
            functions the target has (PostgreSQL's own, or an enum of the
            schema's); ``range_problems`` says why of the others.
        unsupported: Problems of the schema's domains and composite types,
            which are created on the target whichever tables are migrated;
            one line each.
        extensions: Extension name to its schema, for every extension of
            the source database.
        domain_extensions: Extensions the schema's domains and composite
            types need on the target before any model is built.
        sequences: The schema's sequences by name (not those of identity
            columns).
        target_functions: Functions of other schemas that the target has
            (``target_functions``): calls to them are kept, not refused.
        target_parents: (schema, table, sorted columns) of the unique keys
            of the target's other schemas (``target_parents``): a foreign
            key into one of them is kept, not refused.
        published_parents: The tables another run of pgshift built into
            another final schema of the target, by their source schema and
            name, to (final schema, table, source column to final column)
            (``manifest.OtherBuilds.parents``): a foreign key into one
            references it under the names it has there.
        target_relations: The tables and views of the target's other
            schemas (``target_relations``), each to its columns: a view
            reading one of them is kept, not refused.
        later_schemas: The source's other schemas that a run of their own
            may migrate (readable, holding tables): a key into one whose
            table the target lacks names that run.
        published_sequences: The sequences another run of pgshift built
            into another final schema, by (source schema, source name), to
            (final schema, name) there: a default calling one calls it there.
        published_types: Likewise the enums, domains and other types
            another run built, which the target has as the source has them
            (``target_types`` counts them under their source names): a
            column of one is of that type there.
        cycle_schemas: Those of them that use this schema's objects (keys
            into its tables, columns of its types, ...), directly or through
            other schemas (``schemas_referencing``): neither can be migrated
            first, so a key into one whose table the target does not hold
            yet waits for its run (``waits``).
        target_types: (schema, name) of the enums and domains of other
            schemas that the target has, each to whether it has the
            source's shape (``type_shapes``): a column of one that has it
            is kept, not refused.
        extension_types: Every extension's type as ``format_type`` prints
            it in this read (``public.cube`` from another schema, ``cube``
            from the schema read), to ``extension/type``: schema parity
            takes the same extension's type for the same type whatever
            schema it prints in on either side.
    """

    schema: str
    tables: dict[str, Table] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)
    collations: dict[str, str] = field(default_factory=dict)
    text_search_dictionaries: dict[str, list[Any]] = field(default_factory=dict)
    text_search_configurations: dict[str, list[Any]] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)
    composites: dict[str, Composite] = field(default_factory=dict)
    composite_problems: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, RangeType] = field(default_factory=dict)
    range_problems: dict[str, str] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)
    domain_extensions: list[str] = field(default_factory=list)
    sequences: dict[str, Sequence] = field(default_factory=dict)
    target_functions: frozenset[str] = frozenset()
    target_parents: frozenset[tuple[str, str, tuple[str, ...]]] = frozenset()
    published_parents: dict[tuple[str, str], tuple[str, str, dict[str, str]]] = field(
        default_factory=dict
    )
    target_relations: dict[str, frozenset[str]] = field(default_factory=dict)
    target_types: dict[tuple[str, str], bool] = field(default_factory=dict)
    later_schemas: frozenset[str] = frozenset()
    cycle_schemas: frozenset[str] = frozenset()
    published_sequences: dict[tuple[str, str], tuple[str, str]] = field(
        default_factory=dict
    )
    published_types: dict[tuple[str, str], tuple[str, str]] = field(
        default_factory=dict
    )
    extension_types: dict[str, str] = field(default_factory=dict)

    def waits(self, fk: ForeignKey) -> bool:
        """Whether a key into another schema waits for that schema's own run.

        Its parent is in a schema of the source that a run of its own may
        migrate, and the target holds no table it could reference now.
        """
        if fk.ref_schema not in self.cycle_schemas:
            return False
        schema, table, columns = self.outside_parent(fk)
        return (schema, table, tuple(sorted(columns))) not in self.target_parents

    def outside_parent(self, fk: ForeignKey) -> tuple[str, str, list[str]]:
        """Where a foreign key into another schema points on the target.

        (schema, table, columns): under the names another run of pgshift
        gave the table (``published_parents``), else the source's.
        """
        assert fk.ref_schema is not None
        schema, table, columns = self.published_parents.get(
            (fk.ref_schema, fk.ref_table), (fk.ref_schema, fk.ref_table, {})
        )
        return schema, table, [columns.get(c, c) for c in fk.ref_columns]


NOT_EXTENSION_MEMBER = """not exists (
    select 1 from pg_depend as member
    where member.classid = 'pg_class'::regclass and member.objid = c.oid
      and member.deptype = 'e')"""
"""A relation ``c`` that no extension owns (PostGIS's ``spatial_ref_sys``
and its views are created with the extension, not migrated)."""

_SEQUENCES = f"""
select c.relname, format_type(s.seqtypid, null), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcache, s.seqcycle, ot.relname, oa.attname,
       c.relpersistence = 'u'
from pg_sequence s
join pg_class c on c.oid = s.seqrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = c.oid
  and d.refclassid = 'pg_class'::regclass and d.deptype = 'a'
left join pg_class ot on ot.oid = d.refobjid
left join pg_attribute oa on oa.attrelid = d.refobjid and oa.attnum = d.refobjsubid
where n.nspname = %(schema)s
  and not exists (select 1 from pg_depend i
                  where i.classid = 'pg_class'::regclass and i.objid = c.oid
                    and i.deptype = 'i')
  and {NOT_EXTENSION_MEMBER}
order by c.relname
"""

# Each identity column's sequence options.
_IDENTITY_OPTIONS = """
select a.attrelid, a.attname::text, s.seqincrement, s.seqmin, s.seqmax,
       s.seqstart, s.seqcache, s.seqcycle, s.seqtypid::regtype::text,
       sc.relpersistence = 'u'
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_depend d on d.refclassid = 'pg_class'::regclass
  and d.refobjid = a.attrelid and d.refobjsubid = a.attnum
  and d.classid = 'pg_class'::regclass and d.deptype = 'i'
join pg_sequence s on s.seqrelid = d.objid
join pg_class sc on sc.oid = s.seqrelid
where n.nspname = %(schema)s and c.relkind in ('r', 'p') and a.attidentity <> ''
"""

# The sequences each column default of the schema calls, with their schema.
_DEFAULT_SEQUENCES = """
select ad.adrelid, a.attname, sc.relname, sn.nspname::text
from pg_attrdef ad
join pg_attribute a on a.attrelid = ad.adrelid and a.attnum = ad.adnum
join pg_class c on c.oid = ad.adrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_depend d on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid
  and d.refclassid = 'pg_class'::regclass
join pg_class sc on sc.oid = d.refobjid and sc.relkind = 'S'
join pg_namespace sn on sn.oid = sc.relnamespace
where n.nspname = %(schema)s
order by 1, 2, 3
"""


_TABLES = f"""
select c.oid, c.relname, obj_description(c.oid, 'pg_class')
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s
  and c.relkind in ('r', 'p')
  and not c.relispartition
  and {NOT_EXTENSION_MEMBER}
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
       con.confdeltype, con.confupdtype, con.condeferrable, con.condeferred,
       fn.nspname, {fk_extras},
       -- The storage parameters of a key's index, which the definition
       -- leaves out (pg_dump adds them as WITH (...)).
       (select i.reloptions from pg_class i
        where i.oid = con.conindid and con.contype in ('p', 'u'))
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where n.nspname = %(schema)s and con.contype in ('p', 'u', 'c', 'f', 'x')
  -- Not the copies PostgreSQL makes of a key into a partitioned table, one
  -- per partition: the key itself stands for them.
  and con.conparentid = 0
order by con.conrelid, con.contype, con.conname
"""

# An invalid index of a plain table (a CREATE INDEX CONCURRENTLY that
# failed or was cancelled) is not read: PostgreSQL does not use it, and
# read_not_migrated lists it. One of a partitioned table is read, with
# its validity (made ON ONLY the table: _ATTACHED_INDEXES).
_INDEXES = """
select i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique,
       array(select coalesce(a.attname::text, '') from unnest(i.indkey) with ordinality k(n, o)
             left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n
             order by k.o),
       i.indisvalid
from pg_index i
join pg_class ic on ic.oid = i.indexrelid
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and (i.indisvalid or c.relkind = 'p')
  -- Not one behind a key of the table: a foreign key's conindid names the
  -- unique index it references, which is the table's index all the same.
  and not exists (select 1 from pg_constraint con
                  where con.conindid = i.indexrelid and con.contype in ('p', 'u', 'x'))
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

# A collation ``co`` (of namespace ``cn``) as SQL names it: unqualified when
# it is PostgreSQL's or the schema's own (created with it on the target).
_COLLATION_NAME = """case when cn.nspname in ('pg_catalog', %(schema)s)
           then quote_ident(co.collname)
           else quote_ident(cn.nspname) || '.' || quote_ident(co.collname) end"""

# A domain's collation, when it is not its base type's: as SQL, qualified
# unless it is PostgreSQL's own or the schema's (created with it).
_DOMAINS = f"""
select t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
       t.typdefault,
       array(select array[c.conname::text, pg_get_constraintdef(c.oid)]
             from pg_constraint c
             where c.contypid = t.oid and c.contype = 'c'
             order by c.conname),
       case when t.typcollation <> bt.typcollation then {_COLLATION_NAME} end,
       (select e.typname::text from pg_type e
        where e.oid = case when bt.typcategory = 'A' then bt.typelem else bt.oid end
          and e.typtype = 'd' and e.typnamespace = t.typnamespace)
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
join pg_type bt on bt.oid = t.typbasetype
left join pg_collation co on co.oid = t.typcollation
left join pg_namespace cn on cn.oid = co.collnamespace
where n.nspname = %(schema)s and t.typtype = 'd'
order by t.typname
"""

# The composite types of the schema (not the row types of its tables), each
# attribute with its (element) type.
_COMPOSITES = f"""
select t.typname, a.attname,
       format_type(a.atttypid, a.atttypmod)
       || case when a.attcollation <> at.typcollation
               then ' collate ' || {_COLLATION_NAME} else '' end,
       e.typname, en.nspname, e.typtype,
       (select x.extname from pg_depend d
        join pg_extension x on x.oid = d.refobjid
        where d.classid = 'pg_type'::regclass and d.objid = e.oid
          and d.deptype = 'e')
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
join pg_class c on c.oid = t.typrelid and c.relkind = 'c'
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
join pg_type at on at.oid = a.atttypid
join pg_type e on e.oid = case when at.typcategory = 'A' and at.typelem <> 0
                               then at.typelem else at.oid end
join pg_namespace en on en.oid = e.typnamespace
left join pg_collation co on co.oid = a.attcollation
left join pg_namespace cn on cn.oid = co.collnamespace
where n.nspname = %(schema)s and t.typtype = 'c'
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_type'::regclass and d.objid = t.oid
                    and d.deptype = 'e')
order by t.typname, a.attnum
"""

_COLUMN_TYPES = """
with recursive chain as (
    select a.attrelid, a.attnum, a.atttypid as typid, 0 as depth
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = %(schema)s and c.relkind in ('r', 'p')
      and a.attnum > 0 and not a.attisdropped
    union all
    select ch.attrelid, ch.attnum,
           case when t.typtype = 'd' then t.typbasetype else t.typelem end,
           ch.depth + 1
    from chain ch
    join pg_type t on t.oid = ch.typid
    where t.typtype = 'd' or (t.typcategory = 'A' and t.typelem <> 0)
)
select ch.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
       t.typname, tn.nspname, t.typtype, t.typcategory = 'A' and t.typelem <> 0,
       (select x.extname from pg_depend d
        join pg_extension x on x.oid = d.refobjid
        where d.classid = 'pg_type'::regclass and d.objid = t.oid
          and d.deptype = 'e')
from chain ch
join pg_attribute a on a.attrelid = ch.attrelid and a.attnum = ch.attnum
join pg_type t on t.oid = ch.typid
join pg_namespace tn on tn.oid = t.typnamespace
order by ch.attrelid, ch.attnum, ch.depth
"""

# The schema's own collations, whatever the server's version calls the
# columns of their locale (colliculocale in 15, colllocale from 17).
_SCHEMA_COLLATIONS = """
select co.collname::text, co.collprovider::text, co.collisdeterministic,
       j ->> 'collcollate', j ->> 'collctype',
       coalesce(j ->> 'colllocale', j ->> 'colliculocale'), j ->> 'collicurules'
from pg_collation co
join pg_namespace n on n.oid = co.collnamespace
cross join lateral to_jsonb(co) as j
where n.nspname = %(schema)s
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_collation'::regclass
                    and d.objid = co.oid and d.deptype = 'e')
order by 1
"""

# A name of the migrated schema is "" (the target's schema stands in for it).
_TS_NAME = """json_build_array(
    case when {ns}.nspname = %(schema)s then '' else {ns}.nspname::text end,
    {name}::text)"""

_TEXT_SEARCH_DICTIONARIES = f"""
select d.dictname::text,
       {_TS_NAME.format(ns="tn", name="t.tmplname")},
       d.dictinitoption
from pg_ts_dict d
join pg_namespace n on n.oid = d.dictnamespace
join pg_ts_template t on t.oid = d.dicttemplate
join pg_namespace tn on tn.oid = t.tmplnamespace
where n.nspname = %(schema)s
  and not exists (select 1 from pg_depend e
                  where e.classid = 'pg_ts_dict'::regclass
                    and e.objid = d.oid and e.deptype = 'e')
order by 1
"""

_TEXT_SEARCH_CONFIGURATIONS = f"""
select c.cfgname::text, p.prsname::text,
       coalesce((
           select json_agg(json_build_array(tt.alias, (
               select json_agg({_TS_NAME.format(ns="dn", name="d.dictname")}
                               order by m.mapseqno)
               from pg_ts_config_map m
               join pg_ts_dict d on d.oid = m.mapdict
               join pg_namespace dn on dn.oid = d.dictnamespace
               where m.mapcfg = c.oid and m.maptokentype = tt.tokid))
               order by tt.tokid)
           from ts_token_type(c.cfgparser) tt
           where exists (select 1 from pg_ts_config_map m
                         where m.mapcfg = c.oid and m.maptokentype = tt.tokid)
       ), '[]'::json)
from pg_ts_config c
join pg_namespace n on n.oid = c.cfgnamespace
join pg_ts_parser p on p.oid = c.cfgparser
where n.nspname = %(schema)s
  and p.prsnamespace = 'pg_catalog'::regnamespace
  and not exists (select 1 from pg_depend e
                  where e.classid = 'pg_ts_config'::regclass
                    and e.objid = c.oid and e.deptype = 'e')
order by 1
"""

_COLLATIONS = """
select a.attrelid, a.attname, quote_ident(co.collname), cn.nspname, co.collname
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
join pg_collation co on co.oid = a.attcollation
join pg_namespace cn on cn.oid = co.collnamespace
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
  and a.attnum > 0 and not a.attisdropped
  and a.attcollation <> t.typcollation
order by a.attrelid, a.attnum
"""

# Functions, operators, types, collations and operator classes that the
# defaults, generated columns, check constraints and indexes of the schema's
# tables call, outside pg_catalog.
_REFERENCED = """coalesce(et.typtype, rt.typtype),
       (select x.extname from pg_depend e
        join pg_extension x on x.oid = e.refobjid
        where e.classid = d.refclassid
          and e.objid = coalesce(et.oid, d.refobjid)
          and e.deptype = 'e')"""
"""Of an object a pg_depend row ``d`` references: its type kind (the
element's for an array type) and the extension it belongs to."""

_REFERENCED_JOINS = """left join pg_type rt on d.refclassid = 'pg_type'::regclass and rt.oid = d.refobjid
left join pg_type et on et.oid = rt.typelem and rt.typcategory = 'A'
cross join lateral pg_identify_object(d.refclassid, d.refobjid, 0) ref"""

_EXPRESSION_DEPENDENCIES = f"""
select c.oid,
       case when ad.oid is not null and att.attgenerated = 's'
                 then 'generated column ' || att.attname
            when ad.oid is not null then 'default of ' || att.attname
            when con.oid is not null then 'check ' || con.conname
            else 'index ' || ic.relname end,
       ref.type, (parse_ident(ref.schema))[1], ref.identity,
       {_REFERENCED},
       (select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
        from pg_proc p
        where d.refclassid = 'pg_proc'::regclass and p.oid = d.refobjid)
from pg_depend d
left join pg_attrdef ad on d.classid = 'pg_attrdef'::regclass and ad.oid = d.objid
left join pg_attribute att on att.attrelid = ad.adrelid and att.attnum = ad.adnum
left join pg_constraint con
  on d.classid = 'pg_constraint'::regclass and con.oid = d.objid
left join pg_index ix on d.classid = 'pg_class'::regclass and ix.indexrelid = d.objid
left join pg_class ic on ic.oid = ix.indexrelid
{_REFERENCED_JOINS}
join pg_class c on c.oid = coalesce(ad.adrelid, con.conrelid, ix.indrelid)
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
  and d.deptype = 'n'
  -- Not an invalid index of a plain table, which is not migrated.
  and (ix.indexrelid is null or ix.indisvalid or c.relkind = 'p')
  and d.refclassid in ('pg_proc'::regclass, 'pg_operator'::regclass,
                       'pg_type'::regclass, 'pg_collation'::regclass,
                       'pg_opclass'::regclass)
  and ref.schema not in ('pg_catalog', 'information_schema')
order by 1, 2, 5
"""

_DOMAIN_DEPENDENCIES = f"""
select t.typname, ref.type, (parse_ident(ref.schema))[1], ref.identity,
       {_REFERENCED},
       (select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
        from pg_proc p
        where d.refclassid = 'pg_proc'::regclass and p.oid = d.refobjid),
       (select c.conname::text from pg_constraint c
        where d.classid = 'pg_constraint'::regclass and c.oid = d.objid)
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
join pg_depend d
  on (d.classid = 'pg_type'::regclass and d.objid = t.oid)
  or (d.classid = 'pg_constraint'::regclass
      and d.objid in (select oid from pg_constraint where contypid = t.oid))
{_REFERENCED_JOINS}
where n.nspname = %(schema)s and t.typtype = 'd' and d.deptype = 'n'
  and d.refclassid in ('pg_proc'::regclass, 'pg_operator'::regclass,
                       'pg_type'::regclass, 'pg_collation'::regclass)
  and ref.schema not in ('pg_catalog', 'information_schema')
order by 1, 4
"""

ROW_SECURITY_REFUSAL = (
    "row-level security applies to the source user, so the table's policies "
    "decide which rows a read returns, whatever they let through; the load "
    "reads with row_security = off (as pg_dump does), under which PostgreSQL "
    "refuses such a read rather than leave rows out. Connect as a role with "
    "BYPASSRLS, or as the table's owner if the table does not FORCE ROW LEVEL "
    "SECURITY"
)
"""Why a table cannot be read in full by the source user.

PostgreSQL applies a table's policies to a query of the current user
(``check_enable_rls`` in its source) when the table has row-level security
enabled and the user is not a superuser, does not have BYPASSRLS, and is
not its owner, or is its owner but the table is set to FORCE ROW LEVEL
SECURITY. Owner means having the owning role's privileges: a member of the
owning role that inherits them counts, a NOINHERIT member does not. What
the policies say plays no part: a ``using (true)`` policy applies as much
as one that hides rows, and so does having no policy at all (which hides
every row). Under ``row_security = off``, which the load sets on each of
its source transactions, a query of a table whose policies apply fails
with "query would be affected by row-level security policy" instead of
returning the rows they let through. ``row_security_active(table)``
answers exactly that question for the current user, whatever
``row_security`` is set to: scaffold refuses the tables for which it is
true, so it refuses what the load could not read, and nothing else. Only
the table a query names counts: reading a partitioned table or an
inheritance parent does not apply its partitions' or children's own
policies, and the load reads the parent."""

# Storage parameters (the table's and its TOAST table's), replica identity
# and clustering index of each table; a column's statistics target, storage
# other than its type's, compression, and the options ALTER COLUMN ... SET
# takes (a server may keep others of its own in attoptions, not settable).
_TABLE_SETTINGS = """
select c.oid, coalesce(c.reloptions, '{}'), coalesce(tc.reloptions, '{}'),
       c.relreplident::text,
       (select i.relname::text from pg_index x
        join pg_class i on i.oid = x.indexrelid
        where x.indrelid = c.oid and x.indisreplident),
       (select i.relname::text from pg_index x
        join pg_class i on i.oid = x.indexrelid
        where x.indrelid = c.oid and x.indisclustered),
       c.relpersistence = 'u'
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_class tc on tc.oid = c.reltoastrelid
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
"""

# An index column's statistics target (ALTER INDEX ... ALTER COLUMN n SET
# STATISTICS), which only an expression's column may have.
_INDEX_COLUMN_SETTINGS = """
select x.indrelid, i.relname::text, a.attnum::int, a.attstattarget::int
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_class c on c.oid = x.indrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = i.oid
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
  and (x.indisvalid or c.relkind = 'p')
  and a.attnum > 0 and coalesce(a.attstattarget, -1) >= 0
order by x.indrelid, i.relname, a.attnum
"""

_COLUMN_SETTINGS = """
select a.attrelid, a.attname::text,
       case when coalesce(a.attstattarget, -1) >= 0 then a.attstattarget end,
       case when a.attstorage <> t.typstorage then a.attstorage::text end,
       nullif(a.attcompression::text, ''),
       array(select o from unnest(a.attoptions) as o
             where split_part(o, '=', 1) in ('n_distinct', 'n_distinct_inherited'))
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
  and a.attnum > 0 and not a.attisdropped
  and (coalesce(a.attstattarget, -1) >= 0 or a.attstorage <> t.typstorage
       or a.attcompression <> ''
       or exists (select 1 from unnest(a.attoptions) as o
                  where split_part(o, '=', 1)
                        in ('n_distinct', 'n_distinct_inherited')))
order by a.attrelid, a.attnum
"""

# Extended statistics objects; the expressions (PostgreSQL 14) and the
# statistics target (13) where the server has them.
_STATISTICS = """
select s.stxrelid, s.stxname::text,
       array(select case k when 'd' then 'ndistinct'
                           when 'f' then 'dependencies' else 'mcv' end
             from unnest(s.stxkind) as k where k in ('d', 'f', 'm')),
       array(select a.attname::text
             from unnest(s.stxkeys) with ordinality as u (n, o)
             join pg_attribute a on a.attrelid = s.stxrelid and a.attnum = u.n
             order by u.o),
       {expressions}, {target}
from pg_statistic_ext s
join pg_class c on c.oid = s.stxrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
order by 1, 2
"""


def read_statistics(cursor: Any, schema: str, by_oid: dict[int, Table]) -> None:
    """Record each table's extended statistics objects (``Table.statistics``)."""
    version = cursor.connection.server_version  # known since connecting
    query = _STATISTICS.format(
        expressions="coalesce(pg_get_statisticsobjdef_expressions(s.oid), '{}')"
        if version >= 140000
        else "'{}'::text[]",
        target="case when coalesce(s.stxstattarget, -1) >= 0 then s.stxstattarget end"
        if version >= 130000
        else "null::int",
    )
    cursor.execute(query, {"schema": schema})
    for oid, name, kinds, columns, expressions, target in cursor.fetchall():
        table = by_oid.get(oid)
        if table is not None:
            table.statistics.append(
                Statistics(name, list(kinds), list(columns), list(expressions), target)
            )


_STORAGE = {"p": "plain", "e": "external", "m": "main", "x": "extended"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}


def read_table_settings(cursor: Any, schema: str, by_oid: dict[int, Table]) -> None:
    """Record each table's settings (``Table.settings``), as tuples.

    ``("option", "fillfactor", "70")`` and ``("toast option", ...)`` for a
    storage parameter, ``("replica identity", "full" | "nothing" | "index",
    index)``, ``("cluster", index)``, ``("unlogged",)``, ``("statistics" |
    "storage" | "compression", column, value)``, ``("column option",
    column, key, value)`` (``n_distinct``) and ``("index statistics",
    index, column number, value)``; a table at PostgreSQL's defaults has
    none.
    """
    identities = {"f": "full", "n": "nothing", "i": "index"}
    cursor.execute(_TABLE_SETTINGS, {"schema": schema})
    for oid, options, toast, identity, replica, cluster, unlogged in cursor.fetchall():
        table = by_oid.get(oid)
        if table is None:
            continue
        if unlogged:
            table.settings.append(("unlogged",))
        for kind, values in (("option", options), ("toast option", toast)):
            for option in values:
                key, _, value = option.partition("=")
                table.settings.append((kind, key, value))
        if identity in identities:
            table.settings.append(
                ("replica identity", identities[identity], replica or "")
            )
        if cluster:
            table.settings.append(("cluster", cluster))
    cursor.execute(_COLUMN_SETTINGS, {"schema": schema})
    for oid, column, statistics, storage, compression, options in cursor.fetchall():
        table = by_oid.get(oid)
        if table is None:
            continue
        if statistics is not None:
            table.settings.append(("statistics", column, str(statistics)))
        if storage is not None:
            table.settings.append(("storage", column, _STORAGE[storage]))
        if compression is not None:
            table.settings.append(
                ("compression", column, _COMPRESSION.get(compression, compression))
            )
        for option in options:
            key, _, value = option.partition("=")
            table.settings.append(("column option", column, key, value))
    cursor.execute(_INDEX_COLUMN_SETTINGS, {"schema": schema})
    for oid, index, number, statistics in cursor.fetchall():
        table = by_oid.get(oid)
        if table is not None:
            table.settings.append(
                ("index statistics", index, str(number), str(statistics))
            )


_TABLE_TRAITS = """
select c.oid, row_security_active(c.oid),
       array(select p.relname::text from pg_inherits i
             join pg_class p on p.oid = i.inhparent
             where i.inhrelid = c.oid and p.relkind = 'r'
               and p.relnamespace = c.relnamespace
             order by p.relname)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('r', 'p') and not c.relispartition
"""

_PARTITION_PROBLEM = """case
    when c.relkind = 'f' then 'partition ' || c.relname
        || ' is a foreign table, which pgshift does not create'
    when c.relnamespace <> t.relnamespace then 'partition ' || c.relname
        || ' is in schema ' || cn.nspname || ', and pgshift migrates one schema'
end"""
"""Why pgshift cannot recreate a partition ``c`` of the partitioned table
``t`` (``cn`` its schema), or NULL when it can."""

_PARTITIONS = f"""
select t.oid, c.relname::text, pc.relname::text,
       case when tree.level > 0 then pg_get_expr(c.relpartbound, c.oid) end,
       case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end,
       {_PARTITION_PROBLEM},
       obj_description(c.oid, 'pg_class')
from pg_class t
join pg_namespace n on n.oid = t.relnamespace
cross join lateral pg_partition_tree(t.oid) tree
join pg_class c on c.oid = tree.relid
join pg_namespace cn on cn.oid = c.relnamespace
left join pg_class pc on pc.oid = tree.parentrelid
where n.nspname = %(schema)s and t.relkind = 'p' and not t.relispartition
order by t.oid, tree.level, c.relname
"""

# Each partition's own constraints and indexes: not the copies of its
# parent's (conparentid, coninhcount; an index attached to its parent's
# index), nor an invalid index (read_not_migrated lists it). Foreign keys:
# _PARTITION_FOREIGN_KEYS.
_PARTITION_OBJECTS = """
select t.oid, c.relname::text, 'constraint', k.conname::text, k.contype::text,
       array(select a.attname::text from unnest(k.conkey) with ordinality u(n, o)
             join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n
             order by u.o),
       pg_get_constraintdef(k.oid)
from pg_class t
join pg_namespace n on n.oid = t.relnamespace
cross join lateral pg_partition_tree(t.oid) tree
join pg_class c on c.oid = tree.relid
join pg_constraint k on k.conrelid = c.oid
where n.nspname = %(schema)s and t.relkind = 'p' and not t.relispartition
  and tree.level > 0 and k.conparentid = 0 and k.coninhcount = 0
  and k.contype in ('p', 'u', 'c', 'x')
union all
select t.oid, c.relname::text, 'index', ic.relname::text,
       case when i.indisunique then 'u' else '' end,
       array(select coalesce(a.attname::text, '') from unnest(i.indkey) with ordinality u(n, o)
             left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = u.n
             order by u.o),
       pg_get_indexdef(i.indexrelid)
from pg_class t
join pg_namespace n on n.oid = t.relnamespace
cross join lateral pg_partition_tree(t.oid) tree
join pg_class c on c.oid = tree.relid
join pg_index i on i.indrelid = c.oid
join pg_class ic on ic.oid = i.indexrelid
where n.nspname = %(schema)s and t.relkind = 'p' and not t.relispartition
  and tree.level > 0 and i.indisvalid
  and not exists (select 1 from pg_inherits h where h.inhrelid = i.indexrelid)
  and not exists (select 1 from pg_constraint k
                  where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x'))
order by 1, 2, 3, 4
"""

# The partitions' indexes attached to each invalid index of a partitioned
# table, at any depth, each after the index it is attached to.
_ATTACHED_INDEXES = """
with recursive family (root, index, parent, depth) as (
    select i.indexrelid, i.indexrelid, 0::oid, 0
    from pg_index i
    join pg_class c on c.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = %(schema)s and c.relkind = 'p' and not c.relispartition
      and not i.indisvalid
    union all
    select f.root, h.inhrelid, f.index, f.depth + 1
    from family f
    join pg_inherits h on h.inhparent = f.index
)
select r.indrelid, rc.relname::text, c.relname::text, ic.relname::text,
       pc.relname::text
from family f
join pg_index r on r.indexrelid = f.root
join pg_class rc on rc.oid = f.root
join pg_index i on i.indexrelid = f.index
join pg_class c on c.oid = i.indrelid
join pg_class ic on ic.oid = f.index
join pg_class pc on pc.oid = f.parent
where f.depth > 0
order by r.indrelid, rc.relname, f.depth, c.relname
"""

_PARTITION_FOREIGN_KEYS = """
select t.oid, c.relname::text, k.conname::text,
       array(select a.attname::text from unnest(k.conkey) with ordinality u(n, o)
             join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n
             order by u.o),
       fc.relname::text,
       array(select a.attname::text from unnest(k.confkey) with ordinality u(n, o)
             join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n
             order by u.o),
       k.confdeltype, k.confupdtype, k.condeferrable, k.condeferred, fn.nspname,
       {fk_extras}
from pg_class t
join pg_namespace n on n.oid = t.relnamespace
cross join lateral pg_partition_tree(t.oid) tree
join pg_class c on c.oid = tree.relid
join pg_constraint k on k.conrelid = c.oid
join pg_class fc on fc.oid = k.confrelid
join pg_namespace fn on fn.oid = fc.relnamespace
where n.nspname = %(schema)s and t.relkind = 'p' and not t.relispartition
  and tree.level > 0 and k.conparentid = 0 and k.contype = 'f'
order by 1, 2, 3
"""

_PARTITION_DEFAULT_PROBLEM = """case
    when a.attgenerated <> '' or r.attgenerated <> '' then 'a generated column'
    when a.attidentity <> '' or r.attidentity <> '' then 'an identity column'
    when exists (
        select 1 from pg_depend x
        where x.classid = 'pg_attrdef'::regclass and x.objid = d.oid
          and not (
              (x.refclassid = 'pg_class'::regclass
               and (x.refobjid = c.oid
                    or exists (select 1 from pg_class s
                               where s.oid = x.refobjid and s.relkind = 'S'
                                 and s.relnamespace = t.relnamespace)))
              or (x.refclassid = 'pg_proc'::regclass
                  and exists (select 1 from pg_proc f where f.oid = x.refobjid
                                and f.pronamespace = 'pg_catalog'::regnamespace))
              or (x.refclassid = 'pg_operator'::regclass
                  and exists (select 1 from pg_operator o where o.oid = x.refobjid
                                and o.oprnamespace = 'pg_catalog'::regnamespace))
              or (x.refclassid = 'pg_type'::regclass
                  and exists (select 1 from pg_type y where y.oid = x.refobjid
                                and y.typnamespace in ('pg_catalog'::regnamespace,
                                                       t.relnamespace)))
              or (x.refclassid = 'pg_collation'::regclass
                  and exists (select 1 from pg_collation l where l.oid = x.refobjid
                                and l.collnamespace = 'pg_catalog'::regnamespace))))
    then 'it calls a function or uses an object that is not PostgreSQL''s own, '
         || 'a sequence or a type of the schema'
end"""
"""Why pgshift does not carry the default ``d`` of column ``a`` of partition
``c`` (``r`` the column of its partitioned table ``t``), or NULL when it
does: its default may call PostgreSQL's own functions and operators and
use the schema's sequences and types, which the map renames."""

# Each partition's columns whose default (one pgshift carries) or NOT NULL
# is not its partitioned table's: the root's, which the target's
# partitions all get (PARTITION OF copies their parent's as created).
_PARTITION_COLUMNS = f"""
select t.oid, c.relname::text, a.attname::text,
       own.differs and {_PARTITION_DEFAULT_PROBLEM} is null,
       pg_get_expr(d.adbin, d.adrelid), a.attnotnull and not r.attnotnull,
       array(select s.relname::text from pg_depend x
             join pg_class s on s.oid = x.refobjid and s.relkind = 'S'
               and s.relnamespace = t.relnamespace
             where x.classid = 'pg_attrdef'::regclass and x.objid = d.oid
               and x.refclassid = 'pg_class'::regclass
             order by 1)
from pg_class t
join pg_namespace n on n.oid = t.relnamespace
cross join lateral pg_partition_tree(t.oid) tree
join pg_class c on c.oid = tree.relid
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
join pg_attribute r on r.attrelid = t.oid and r.attname = a.attname
left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
left join pg_attrdef rd on rd.adrelid = t.oid and rd.adnum = r.attnum
cross join lateral (
    select pg_get_expr(d.adbin, d.adrelid)
           is distinct from pg_get_expr(rd.adbin, rd.adrelid) as differs
) own
where n.nspname = %(schema)s and t.relkind = 'p' and not t.relispartition
  and tree.level > 0
  and ((a.attnotnull and not r.attnotnull)
       or (own.differs and {_PARTITION_DEFAULT_PROBLEM} is null))
order by 1, 2, a.attnum
"""

PARTITION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
}
"""The settings the bounds are printed under: a timestamptz bound prints in
the session's time zone, a date in its DateStyle. The same on the source
and the target, so that schema parity compares like with like, and
unambiguous, so that the target reads them back as the same values."""


def _read_partitions(cursor: Any, schema: str, by_oid: dict[int, Table]) -> None:
    """Give each partitioned table its partition key and partitions.

    The bounds are printed under ``PARTITION_SETTINGS``; the session's own
    settings are put back afterwards. A table with a partition pgshift
    cannot recreate (``_PARTITION_PROBLEM``) keeps no partitioning: it
    arrives as one plain table, and ``read_not_migrated`` says why.
    """
    names = list(PARTITION_SETTINGS)
    cursor.execute("select " + ", ".join("current_setting(%s)" for _ in names), names)
    saved = dict(zip(names, cursor.fetchone(), strict=True))
    setting = "select " + ", ".join("set_config(%s, %s, false)" for _ in names)
    cursor.execute(setting, [v for n in names for v in (n, PARTITION_SETTINGS[n])])
    # On an error the transaction's rollback puts them back.
    cursor.execute(_PARTITIONS, {"schema": schema})
    rows = cursor.fetchall()
    cursor.execute(_PARTITION_OBJECTS, {"schema": schema})
    objects = cursor.fetchall()
    cursor.execute(
        _PARTITION_FOREIGN_KEYS.replace(
            "{fk_extras}", _fk_extras("k", cursor.connection.server_version)
        ),
        {"schema": schema},
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(_ATTACHED_INDEXES, {"schema": schema})
    attached = cursor.fetchall()
    cursor.execute(_PARTITION_COLUMNS, {"schema": schema})
    own_columns = cursor.fetchall()
    cursor.execute(setting, [v for n in names for v in (n, saved[n])])
    refused: set[int] = set()
    for oid, name, parent, bound, key, problem, comment in rows:
        table = by_oid.get(oid)
        if table is None or oid in refused:
            continue
        if problem:
            refused.add(oid)
            table.partition_key, table.partitions = None, []
            # One plain table: an invalid index stays behind, as a plain
            # table's does.
            table.indexes = [i for i in table.indexes if i.valid]
        elif parent is None:
            table.partition_key = key
        else:
            table.partitions.append(
                Partition(name, parent, bound, key, comment=comment)
            )
    for oid, index, partition_name, name, parent in attached:
        table = by_oid.get(oid)
        if table is None or oid in refused:
            continue
        root = next((i for i in table.indexes if i.name == index), None)
        if root is not None:  # not one behind a key
            root.attached.append((partition_name, name, parent))
    partitions = {(oid, p.name): p for oid, t in by_oid.items() for p in t.partitions}
    for oid, name, what, object_name, kind, columns, definition in objects:
        partition = partitions.get((oid, name))
        if partition is None:
            continue
        if what == "index":
            partition.indexes.append(
                Index(object_name, definition, list(columns), kind == "u")
            )
        else:
            partition.constraints.append(
                Constraint(object_name, kind, list(columns), definition)
            )
    for oid, name, column, own_default, default, not_null, sequences in own_columns:
        partition = partitions.get((oid, name))
        if partition is not None:
            partition.columns.append(
                PartitionColumn(
                    column,
                    own_default,
                    default if own_default else None,
                    not_null,
                    list(sequences) if own_default else [],
                )
            )
    for oid, name, key, columns, ref, ref_columns, *options in foreign_keys:
        partition = partitions.get((oid, name))
        if partition is not None:
            partition.foreign_keys.append(
                ForeignKey(
                    name=key,
                    columns=list(columns),
                    ref_table=ref,
                    ref_columns=list(ref_columns),
                    on_delete=FK_ACTIONS[options[0]],
                    on_update=FK_ACTIONS[options[1]],
                    deferrable=options[2],
                    initially_deferred=options[3],
                    ref_schema=options[4] if options[4] != schema else None,
                    match_full=options[5],
                    delete_columns=list(options[6]),
                )
            )


_EXTENSION_TYPES = """
select format_type(t.oid, null), x.extname || '/' || t.typname
from pg_type t
join pg_depend d on d.classid = 'pg_type'::regclass and d.objid = t.oid
                and d.deptype = 'e'
join pg_extension x on x.oid = d.refobjid
"""

_EXTENSIONS = """
select x.extname, n.nspname
from pg_extension x
join pg_namespace n on n.oid = x.extnamespace
order by x.extname
"""

_NOT_MIGRATED_TEMPLATE = """
with extension_members as (
    -- Relations an extension owns (PostGIS's spatial_ref_sys and its views):
    -- they come with their extension, their rules and triggers too.
    select objid as oid from pg_depend
    where classid = 'pg_class'::regclass and deptype = 'e'
), tables as (
    select c.oid, c.relname, c.relpersistence, c.relrowsecurity, c.reloftype,
           c.relkind, c.relnamespace, c.relowner
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = %(schema)s and c.relkind in ('r', 'p')
      and not c.relispartition
      and c.oid not in (select oid from extension_members)
)
select kind, name, reason from (
    select 'extension table' as kind, c.relname::text as name,
           'created on the target with extension ' || x.extname || '; rows '
           'the application added to it are not copied (pg_dump copies '
           'those the extension marks): copy them if it holds any' as reason
    from pg_extension x
    cross join unnest(x.extconfig) as config (oid)
    join pg_class c on c.oid = config.oid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = %(schema)s and c.relkind in ('r', 'p')
    union all
    select 'foreign table',
           c.relname::text,
           'only tables are migrated; recreate it on the target'
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = %(schema)s and c.relkind = 'f'
    union all
    select 'trigger', format('%%I on %%I.%%I', g.tgname, tn.nspname, c.relname),
           'calls ' || f.oid::regprocedure::text || ' of the migrated schema '
           || 'from a table of schema ' || quote_ident(tn.nspname)
           || ': the run that migrates that schema creates it with its '
           || 'table, once this function is on the target; if pgshift does '
           || 'not migrate that schema, create it on the target '
           || '(with the function''s target name): '
           -- The function qualified, whatever the search_path printed it by.
           || case when position(' EXECUTE FUNCTION ' || quote_ident(fn.nspname)
                                 || '.' in pg_get_triggerdef(g.oid)) > 0
                   then pg_get_triggerdef(g.oid)
                   else replace(pg_get_triggerdef(g.oid), ' EXECUTE FUNCTION ',
                                ' EXECUTE FUNCTION ' || quote_ident(fn.nspname)
                                || '.') end
    from pg_trigger g
    join pg_class c on c.oid = g.tgrelid
    join pg_namespace tn on tn.oid = c.relnamespace
    join pg_proc f on f.oid = g.tgfoid
    join pg_namespace fn on fn.oid = f.pronamespace
    where fn.nspname = %(schema)s and tn.nspname <> %(schema)s
      and not g.tgisinternal and g.tgparentid = 0
    union all
    select 'event trigger', e.evtname::text,
           'event triggers are not migrated; recreate it on the target'
    from pg_event_trigger e
    union all
    select 'rule', r.rulename || ' on ' || t.relname,
           'rules are not migrated: writes on the target do not apply it; '
           'recreate it there'
    from pg_rewrite r
    join tables t on t.oid = r.ev_class
    where r.rulename <> '_RETURN'
    union all
    -- What makes a view writable or fills its columns, beside its query:
    -- the view arrives without it, and writes through it act otherwise.
    select 'rule', r.rulename || ' on view ' || v.relname,
           'rules are not migrated: writes through the view on the target '
           'do not apply it; recreate it there with the target''s names: '
           || pg_get_ruledef(r.oid)
    from pg_rewrite r
    join pg_class v on v.oid = r.ev_class
    join pg_namespace vn on vn.oid = v.relnamespace
    where vn.nspname = %(schema)s and v.relkind in ('v', 'm')
      and r.rulename <> '_RETURN'
      and v.oid not in (select oid from extension_members)
    union all
    select 'trigger', g.tgname || ' on view ' || v.relname,
           'triggers on views are not migrated (its function is): writes '
           'through the view on the target do not run it; recreate it there '
           'with the target''s names: ' || pg_get_triggerdef(g.oid)
    from pg_trigger g
    join pg_class v on v.oid = g.tgrelid
    join pg_namespace vn on vn.oid = v.relnamespace
    where vn.nspname = %(schema)s and v.relkind = 'v' and not g.tgisinternal
      and v.oid not in (select oid from extension_members)
    union all
    select 'view column default', v.relname || '.' || a.attname,
           'a view column''s default is not migrated: an insert through the '
           'view on the target leaves it out; set it there with the target''s '
           'names: ALTER VIEW ' || quote_ident(v.relname) || ' ALTER COLUMN '
           || quote_ident(a.attname) || ' SET DEFAULT '
           || pg_get_expr(d.adbin, d.adrelid)
    from pg_attrdef d
    join pg_class v on v.oid = d.adrelid
    join pg_namespace vn on vn.oid = v.relnamespace
    join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
    where vn.nspname = %(schema)s and v.relkind = 'v'
      and v.oid not in (select oid from extension_members)
    union all
    select 'typed table', t.relname::text,
           'arrives as a plain table with the same columns, not OF '
           || format_type(t.reloftype, null)
    from tables t
    where t.reloftype <> 0
    union all
    select 'partitioned table', t.relname::text,
           'arrives as one plain table holding the rows of its partitions ('
           || (select string_agg(p.relid::regclass::text, ', '
                                 order by p.relid::regclass::text)
               from pg_partition_tree(t.oid) p where p.isleaf)
           || '): ' || problems.why || '; the partitioning, its bounds and '
           || 'the partitions'' own tables are not recreated'
    from tables t
    cross join lateral (
        select string_agg(problem, '; ' order by problem) as why
        from (select {problem} as problem
              from pg_partition_tree(t.oid) tree
              join pg_class c on c.oid = tree.relid
              join pg_namespace cn on cn.oid = c.relnamespace) found
    ) problems
    where t.relkind = 'p' and problems.why is not null
    union all
    -- An invalid index, except one made ON ONLY a partitioned table that
    -- arrives partitioned (it arrives invalid too) and one attached to
    -- another index (part of that one).
    select 'invalid index', ic.relname || ' on ' || t.relname,
           'invalid on the source (a CREATE INDEX CONCURRENTLY that failed '
           || 'or was cancelled leaves one): PostgreSQL does not use it and '
           || 'pgshift does not create it; if the application needs it, '
           || 'create it on the target with the target''s names: '
           || pg_get_indexdef(x.indexrelid)
    from pg_index x
    join pg_class ic on ic.oid = x.indexrelid
    join pg_class t on t.oid = x.indrelid
    join pg_namespace tn on tn.oid = t.relnamespace
    where tn.nspname = %(schema)s and t.relkind in ('r', 'p')
      and not x.indisvalid
      and not exists (select 1 from pg_inherits h where h.inhrelid = x.indexrelid)
      and not exists (select 1 from pg_constraint k
                      where k.conindid = x.indexrelid
                        and k.contype in ('p', 'u', 'x'))
      and not exists (select 1 from pg_depend as member
                      where member.classid = 'pg_class'::regclass
                        and member.objid = t.oid and member.deptype = 'e')
      and not (t.relkind = 'p' and not t.relispartition
               and not exists (select 1
                               from pg_partition_tree(t.oid) tree
                               join pg_class c on c.oid = tree.relid
                               join pg_namespace cn on cn.oid = c.relnamespace
                               where {problem} is not null))
    union all
    select 'partition trigger', g.tgname || ' on ' || c.relname,
           'a trigger of the partition alone, not of ' || t.relname
           || ': only the triggers of migrated tables are created; create it '
           || 'on the target'
    from tables t
    cross join lateral pg_partition_tree(t.oid) tree
    join pg_class c on c.oid = tree.relid
    join pg_trigger g on g.tgrelid = c.oid
    where t.relkind = 'p' and tree.level > 0
      and not g.tgisinternal and g.tgparentid = 0
    union all
    -- The defaults of a partition alone that the catalog does not read
    -- (Partition.columns: the others are recreated).
    select 'partition column', c.relname || '.' || a.attname,
           'the partition''s own default ('
           || coalesce(pg_get_expr(d.adbin, d.adrelid), 'none')
           || ') is not recreated (' || {default_problem}
           || '): the partition gets that of ' || t.relname
           || '; set it on the target'
    from tables t
    cross join lateral pg_partition_tree(t.oid) tree
    join pg_class c on c.oid = tree.relid
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0
      and not a.attisdropped
    join pg_attribute r on r.attrelid = t.oid and r.attname = a.attname
    left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
    left join pg_attrdef rd on rd.adrelid = t.oid and rd.adnum = r.attnum
    where t.relkind = 'p' and tree.level > 0
      and pg_get_expr(d.adbin, d.adrelid)
          is distinct from pg_get_expr(rd.adbin, rd.adrelid)
      and {default_problem} is not null
    union all
    select 'partition statistics', s.stxname || ' on ' || c.relname,
           'extended statistics of a partition alone are not migrated: '
           || 'create it on the target, then ANALYZE ' || c.relname
    from tables t
    cross join lateral pg_partition_tree(t.oid) tree
    join pg_class c on c.oid = tree.relid
    join pg_statistic_ext s on s.stxrelid = c.oid
    where t.relkind = 'p' and tree.level > 0
    union all
    select 'partition comment', o.name || ' on ' || c.relname,
           'comments on the indexes and constraints of a partition alone '
           || 'are not migrated: set it on the target'
    from tables t
    cross join lateral pg_partition_tree(t.oid) tree
    join pg_class c on c.oid = tree.relid
    cross join lateral (
        select i.relname::text as name, d.description
        from pg_index x
        join pg_class i on i.oid = x.indexrelid
        join pg_description d on d.objoid = i.oid
                             and d.classoid = 'pg_class'::regclass
        where x.indrelid = c.oid
        union all
        select k.conname::text, d.description
        from pg_constraint k
        join pg_description d on d.objoid = k.oid
                             and d.classoid = 'pg_constraint'::regclass
        where k.conrelid = c.oid
    ) o
    where t.relkind = 'p' and tree.level > 0
    union all
    select 'materialized view index comment', i.relname || ' on ' || m.relname,
           'comments on the indexes of a materialized view are not migrated: '
           || 'set it on the target'
    from pg_class m
    join pg_namespace n on n.oid = m.relnamespace
    join pg_index x on x.indrelid = m.oid
    join pg_class i on i.oid = x.indexrelid
    join pg_description d on d.objoid = i.oid and d.classoid = 'pg_class'::regclass
    where n.nspname = %(schema)s and m.relkind = 'm'
    union all
    select 'partition owner', c.relname::text,
           'the partition''s own owner (' || pg_get_userbyid(c.relowner)
           || ') is not carried over: on the target it is owned by the owner '
           || 'of ' || t.relname || ' (its grants are carried over)'
    from tables t
    cross join lateral pg_partition_tree(t.oid) tree
    join pg_class c on c.oid = tree.relid
    where t.relkind = 'p' and tree.level > 0 and c.relowner <> t.relowner
    union all
    select 'inheritance', t.relname || ' inherits ' || p.relname,
           'the target tables do not inherit: ' || p.relname || ' arrives '
           'holding the rows of ' || t.relname || ' as its own'
    from pg_inherits i
    join tables t on t.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent and p.relkind = 'r'
    union all
    select 'database privileges', d.datname::text,
           'privileges on the database itself (CONNECT, CREATE, TEMPORARY) are '
           'out of scope: grant them on the target'
    from pg_database d
    where d.datname = current_database() and d.datacl is not null
      -- Granted back to what a new database has (a cutover's reopening
      -- statements), the privileges are the default ones again.
      and not (d.datacl @> acldefault('d', d.datdba)
               and acldefault('d', d.datdba) @> d.datacl)
    union all
    select 'database setting',
           coalesce('role ' || r.rolname::text || ': ', '') || setting,
           'a setting of the source database'
           || case when r.rolname is null then ''
                   else ' for role ' || r.rolname::text end
           || ' (ALTER ' || case when r.rolname is null then 'DATABASE'
                                 else 'ROLE ... IN DATABASE' end
           || ' ... SET) is out of scope: set it on the target if the '
           'application relies on it (a search_path naming the migrated '
           'schema names the final schema there)'
    from pg_db_role_setting s
    cross join unnest(s.setconfig) as setting
    left join pg_roles r on r.oid = s.setrole
    where s.setdatabase = (select oid from pg_database
                           where datname = current_database())
    union all
    select 'default privileges',
           pg_get_userbyid(d.defaclrole) || ' on ' || case d.defaclobjtype
               when 'r' then 'tables' when 'S' then 'sequences'
               when 'f' then 'functions' when 'T' then 'types'
               else 'schemas' end,
           'default privileges for the whole database are not migrated (those '
           'of the migrated schema are); set them on the target'
    from pg_default_acl d
    where d.defaclnamespace = 0
    union all
{schema_objects}
    select 'large objects', count(*)::text || ' of them',
           'large objects (lo_import, the oid a column holds) are not '
           'migrated: copy them with pg_dump -b and pg_restore'
    from pg_largeobject_metadata
    having count(*) > 0
    union all
    select 'publication', p.pubname::text,
           'publications are not migrated: create it on the target if '
           'something subscribes to it'
    from pg_publication p
    where left(p.pubname, 8) <> 'pgshift_'
    union all
    select 'extension', x.extname::text,
           'the build creates it where the target offers it and the migrating '
           'role may create it; otherwise install it there if the application '
           'uses it'
    from pg_extension x
    where x.extname <> 'plpgsql'
) objects
order by 1, 2
"""
# Objects of the schema pgshift does not create (extension members aside):
# kind, catalog, the name as SQL shows it, the namespace column, why, and
# optionally which of them.
_SCHEMA_OBJECTS = (
    ("operator class", "pg_opclass",
     "x.opcname || ' using ' || (select amname from pg_am where oid = x.opcmethod)",
     "opcnamespace", "operator classes are not migrated: create it on the target"),
    ("text search configuration", "pg_ts_config", "x.cfgname::text", "cfgnamespace",
     "its parser is not PostgreSQL's, and a parser is C code: create it on the "
     "target (a regconfig value naming it fails there until then)",
     "x.cfgparser not in (select oid from pg_ts_parser "
     "where prsnamespace = 'pg_catalog'::regnamespace)"),
)  # fmt: skip


def _schema_object_clauses() -> str:
    """The not-migrated query's clauses for ``_SCHEMA_OBJECTS``."""
    return "".join(
        f"""    select '{kind}', {name}, {sql_literal(why)}
    from {catalog} x
    join pg_namespace n on n.oid = x.{namespace}
    where n.nspname = %(schema)s
      and not exists (select 1 from pg_depend d
                      where d.classid = '{catalog}'::regclass
                        and d.objid = x.oid and d.deptype = 'e')
      and {(which or ["true"])[0]}
    union all
"""
        for kind, catalog, name, namespace, why, *which in _SCHEMA_OBJECTS
    )


_NOT_MIGRATED = (
    _NOT_MIGRATED_TEMPLATE.replace("{problem}", _PARTITION_PROBLEM)
    .replace("{default_problem}", _PARTITION_DEFAULT_PROBLEM)
    .replace("{schema_objects}\n", _schema_object_clauses())
)

SERVER_TYPES = frozenset(
    {
        "oid",
        "xid",
        "xid8",
        "cid",
        "tid",
        "pg_lsn",
        "txid_snapshot",
        "pg_snapshot",
        "aclitem",
        "int2vector",
        "oidvector",
        "refcursor",
        "pg_node_tree",
        "pg_ndistinct",
        "pg_dependencies",
        "pg_mcv_list",
    }
)
"""Built-in types whose values identify objects, transactions, row or WAL
positions, privileges or cursors of the source server."""

PORTABLE_REG_TYPES = frozenset({"regconfig", "regdictionary"})
"""Object identifier types that name text search objects, whose built-in
ones every target has: their text form resolves to the same objects there."""


def read_not_migrated(
    cursor: Any, schema: str, selects: Callable[[str], bool] | None = None
) -> list[tuple[str, str, str]]:
    """List what the schema holds besides tables, which stays behind.

    Args:
        cursor: An open psycopg2 cursor on the source database.
        schema: The schema to read.
        selects: Whether a table migrates (``Settings.selects``): a table
            inheriting one left out arrives with its own rows alone (both
            left out: no line); a parent whose child is left out still
            arrives holding the child's rows.

    Returns:
        (kind, name, reason) of each view, materialized view, foreign table,
        event trigger, rule, row-level security setting and policy, invalid
        index (but one of a partitioned table made ``ON ONLY`` it),
        partitioned table pgshift cannot recreate as such (a partition
        that is a foreign table or in another schema), trigger, owner,
        grants, default pgshift does not carry (``Partition.columns``),
        statistics object or index and constraint comments of a partition
        alone, comment on a materialized view's
        index, typed or inheriting table,
        privilege on the database itself, setting of the database (and of a
        role in it), database-wide default privilege,
        operator, operator class, text search configuration and dictionary,
        collation, publication, large objects, and extension. (Functions and
        triggers are
        migrated:
        ``pgshift.routines``; the schemas left out are
        ``pgshift.schemas.SchemaPlan.left_out``.)
    """
    cursor.execute(_NOT_MIGRATED, {"schema": schema})
    found = []
    for kind, name, reason in cursor.fetchall():
        if kind == "inheritance" and selects is not None:
            child, parent = name.split(" inherits ", 1)
            if not selects(parent):
                if not selects(child):
                    continue
                reason = (
                    f"the target tables do not inherit: {parent} is left out, "
                    f"and {child} arrives as a plain table with its own rows"
                )
        found.append((kind, name, reason))
    return found


_LOAD_FILE_NAME = re.compile(r"[.%{}]")
"""Characters dlt refuses in a table name, which names its load files."""

DLT_TABLES = frozenset({"_dlt_loads", "_dlt_version", "_dlt_pipeline_state"})
"""The tables dlt keeps beside the tables it loads, in the landing schema."""


def table_name_problem(name: str) -> str | None:
    """Why dlt cannot load a table of this name, or None when it can.

    dlt names each load file after its table and refuses a name that is
    not a portable file name (a slash or backslash, ``:*?"<>|``, control
    characters, a space at either end, names such as ``CON`` and ``aux``)
    or that holds ``.``, ``%``, ``{`` or ``}``; and it keeps tables of its
    own beside the ones it loads (``DLT_TABLES``).
    """
    import pathvalidate

    if name in DLT_TABLES:
        return (
            "the name of a table dlt keeps in the landing schema for its own "
            "bookkeeping"
        )
    refused = _LOAD_FILE_NAME.search(name) is not None
    try:
        pathvalidate.validate_filename(name, platform="universal")
    except pathvalidate.ValidationError as error:
        # dlt's own check lets a name pass whatever its length.
        refused |= error.reason != pathvalidate.ErrorReason.INVALID_LENGTH
    return "a table name dlt cannot use for its load files" if refused else None


def raw_table_name(name: str) -> str:
    """The raw table a source table lands in: its own name, where dlt can use it.

    A name dlt cannot give its load files (``table_name_problem``: Parse
    Server's ``_Join:roles:_Role``, a ``v1.2``, a source table named like
    dlt's own) lands under one of ASCII letters, digits and underscores: as
    much of its own as fits, then ``__`` and eight hex digits of its MD5, so
    that two such names never meet. The dbt source reads it by that name
    (its ``identifier``) and verify likewise; everything after raw keeps
    the source's name.
    """
    if table_name_problem(name) is None:
        return name
    digest = hashlib.md5(name.encode("utf-8")).hexdigest()[:8]
    return f"{re.sub(r'[^0-9A-Za-z_]', '_', name)[:50]}__{digest}"


def _type_problem(
    name: str,
    schema: str,
    kind: str,
    source_schema: str,
    composites: Collection[str] = (),
    ranges: Collection[str] = (),
    present: dict[tuple[str, str], bool] | None = None,
) -> str | None:
    """Why a column's (element or base) type cannot be used on the target.

    Args:
        name: The type's name.
        schema: The type's schema.
        kind: Its pg_type.typtype.
        source_schema: The schema being migrated, whose enums and domains
            the target gets.
        composites: The schema's composite types the target gets.
        ranges: The schema's range and multirange types the target gets.
        present: (schema, name) of other schemas' enums and domains that
            the target has, each to whether it has the source's shape
            (``type_shapes``).

    Returns:
        The reason, or None when the target has (or gets) the type and its
        text form means the same there.
    """
    if schema in ("pg_catalog", "information_schema"):
        if name in SERVER_TYPES:
            return (
                "its values identify objects, transactions or row and WAL "
                "positions of the source server, which mean nothing on the target"
            )
        if name.startswith("reg") and name not in PORTABLE_REG_TYPES:
            return (
                "its values name objects of the source database, which the "
                "target looks up again by name (and fails to when they are not "
                "there, or not built yet)"
            )
        return None
    if kind in ("e", "d") and schema == source_schema:
        return None
    same = (present or {}).get((schema, name))
    if kind in ("e", "d") and same:
        return None
    if kind in ("e", "d") and same is False:
        return (
            f"a type of schema {schema}, which the target has, but not as the "
            "source has it (its base type, NOT NULL, default, collation, checks "
            "or labels differ)"
        )
    if kind in ("e", "d"):
        return (
            f"a type of schema {schema}, which the target does not have: "
            f"migrate that schema first, in a run of its own ({own_run(schema)}), "
            "or create the type on the target, the "
            "same as the source's; then scaffold this one again with "
            "TARGET_DATABASE_URL set"
        )
    if kind == "c" and schema == source_schema and name in composites:
        return None
    if kind == "c" and schema == source_schema:
        return "a table's row type, which pgshift does not create as a type"
    if kind == "c":
        return f"a composite type of schema {schema}, which pgshift does not create"
    if kind in ("r", "m") and schema == source_schema and name in ranges:
        return None
    if kind in ("r", "m"):
        return "a range type of the source, which pgshift does not create"
    return "a base type defined in C outside any extension, which pgshift cannot create"


_TYPE_SHAPES = """
select n.nspname::text, t.typname::text, t.typtype::text,
       format_type(t.typbasetype, t.typtypmod), t.typnotnull,
       pg_get_expr(t.typdefaultbin, 0),
       (select format('%%I.%%I', cn.nspname, c.collname) from pg_collation c
        join pg_namespace cn on cn.oid = c.collnamespace where c.oid = t.typcollation),
       array(select pg_get_constraintdef(c.oid) from pg_constraint c
             where c.contypid = t.oid order by 1),
       array(select e.enumlabel::text from pg_enum e
             where e.enumtypid = t.oid order by e.enumsortorder)
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
where t.typtype in ('d', 'e') and n.nspname <> all(%(skip)s)
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%%'
"""


def type_shapes(
    cursor: Any, skip: Collection[str] = ()
) -> dict[tuple[str, str], tuple]:
    """Every enum and domain of a database's schemas, by (schema, name), with its shape.

    The shape is what a value of the type is and becomes: an enum's labels
    in order; a domain's base type, NOT NULL, default, collation and checks
    (whatever their names). Names print qualified
    (an empty search path), so the shapes of two databases compare. A
    column of another schema's type is kept where the target's type has
    the source's shape.

    Args:
        cursor: An open psycopg2 cursor.
        skip: Schemas whose types are not wanted (the migrated one).
    """
    cursor.execute("select set_config('search_path', '', true)")
    cursor.execute(_TYPE_SHAPES, {"skip": list(skip)})
    return {(row[0], row[1]): tuple(row[2:]) for row in cursor.fetchall()}


_TARGET_FUNCTIONS = """
select p.oid::regprocedure::text,
       (pg_identify_object('pg_proc'::regclass, p.oid, 0)).identity
from pg_proc as p
join pg_namespace as n on n.oid = p.pronamespace
where n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%%'
  and (n.nspname <> %(final)s or %(final)s <> %(schema)s)
"""


def target_functions(cursor: Any, schema: str, final_schema: str) -> frozenset[str]:
    """The functions of the target's other schemas, as the source would name them.

    A policy, view, default, check or index of the source that calls a
    function of a schema pgshift does not migrate (Supabase's
    ``auth.uid()``) can keep calling it on a target that has a function of
    that schema, name and argument types: each is given both as
    ``regprocedure`` prints it under the source schema's search path and as
    ``pg_identify_object`` names it.

    Args:
        cursor: An open psycopg2 cursor on the target database.
        schema: The migrated source schema (the search path names print in).
        final_schema: The target schema the migrated tables land in. Where
            it is the source schema's own name, its functions are the
            migrated ones; where not, it is another schema of the source
            too (a workspace schema migrated into ``public`` calling
            ``public.unaccent_immutable``), whose functions the target may
            hold there.
    """
    cursor.execute("select set_config('search_path', quote_ident(%s), true)", (schema,))
    cursor.execute(_TARGET_FUNCTIONS, {"final": final_schema, "schema": schema})
    return frozenset(name for row in cursor.fetchall() for name in row)


_TARGET_PARENTS = """
select n.nspname, c.relname,
       array(select a.attname::text
             from unnest(i.indkey) as k (attnum)
             join pg_attribute as a on a.attrelid = c.oid and a.attnum = k.attnum
             order by 1)
from pg_index as i
join pg_class as c on c.oid = i.indrelid
join pg_namespace as n on n.oid = c.relnamespace
where i.indisunique and i.indisvalid and i.indimmediate
  and i.indpred is null and i.indexprs is null and c.relkind in ('r', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%%' and n.nspname <> %(final)s
"""


def target_parents(
    cursor: Any, final_schema: str
) -> frozenset[tuple[str, str, tuple[str, ...]]]:
    """The tables of the target's other schemas that a foreign key may reference.

    A migrated table whose foreign key references a table of a schema
    pgshift does not migrate (Supabase's ``profiles.id`` into
    ``auth.users``) keeps that key when the target has a table of that
    schema and name with a unique key on exactly those columns (any
    order, no predicate or expression, not deferrable: what PostgreSQL
    requires of a referenced key).

    Args:
        cursor: An open psycopg2 cursor on the target database.
        final_schema: The schema the migrated tables land in, whose tables
            are the migration's own.

    Returns:
        (schema, table, sorted column names) of every such key.
    """
    cursor.execute(_TARGET_PARENTS, {"final": final_schema})
    return frozenset(
        (schema, table, tuple(columns)) for schema, table, columns in cursor.fetchall()
    )


_TARGET_RELATIONS = """
select format('%%I.%%I', n.nspname, c.relname),
       array(select quote_ident(a.attname) || ' '
                    || format_type(a.atttypid, a.atttypmod)
             from pg_attribute as a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)
from pg_class as c
join pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%%' and n.nspname <> %(final)s
"""


_FUNCTION_SIGNATURES = """
select p.proname::text,
       array(select quote_ident(tn.nspname) || '.' || quote_ident(t.typname)
             from unnest(p.proargtypes::oid[]) with ordinality as a (type, n)
             join pg_type t on t.oid = a.type
             join pg_namespace tn on tn.oid = t.typnamespace
             order by a.n),
       quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '('
           || pg_get_function_identity_arguments(p.oid) || ')',
       (select x.extname::text from pg_depend d
        join pg_extension x on x.oid = d.refobjid
        where d.classid = 'pg_proc'::regclass and d.objid = p.oid
          and d.deptype = 'e')
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
where n.nspname = %(schema)s
order by 3
"""


@dataclass(frozen=True)
class FunctionSignature:
    """A function, procedure or aggregate of a schema, by what names it.

    Attributes:
        name: Its name.
        arguments: Its argument types, each ``schema.type`` whatever the
            search path (``pg_catalog.float8``, ``public.earth``), so that
            two databases' signatures compare.
        shown: Its schema, name and argument types as SQL writes them.
        extension: The extension it belongs to, or None.
    """

    name: str
    arguments: tuple[str, ...]
    shown: str
    extension: str | None

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """What two functions of one schema may not share."""
        return (self.name, self.arguments)


def function_signatures(cursor: Any, schema: str) -> list[FunctionSignature]:
    """Every function, procedure and aggregate of one schema, an extension's too.

    Args:
        cursor: An open psycopg2 cursor (source or target).
        schema: The schema to read.
    """
    cursor.execute(_FUNCTION_SIGNATURES, {"schema": schema})
    return [
        FunctionSignature(name, tuple(arguments), shown, extension)
        for name, arguments, shown, extension in cursor.fetchall()
    ]


def schemas_referencing(
    uses_found: list[tuple[str, str, bool]], schema: str
) -> frozenset[str]:
    """The source's schemas that use a schema's objects, at any remove.

    ``sales`` uses ``person`` when one of its tables has a foreign key into
    one of ``person``'s, a column of one of its types, a default calling
    one of its sequences, or a view reading one of its tables
    (``schemas.schema_uses``), or uses a schema that does: such a schema
    cannot be migrated before ``person``, so ``person``'s keys into it
    wait for its run.
    """
    referencing: dict[str, set[str]] = {}
    for user, used, _ in uses_found:
        referencing.setdefault(used, set()).add(user)
    return frozenset(reachable(schema, referencing))


def target_relations(cursor: Any, final_schema: str) -> dict[str, frozenset[str]]:
    """The relations of the target's other schemas, each to its columns.

    A view of the source reading a table of a schema pgshift does not
    migrate (Supabase's ``auth.users``) is kept when the target has a
    relation of that schema and name with every column the view reads,
    of the same type (``shadow``).

    Args:
        cursor: An open psycopg2 cursor on the target database, its search
            path the source schema's (``target_functions`` sets it), so
            that types print as the source's do.
        final_schema: The schema the migrated tables land in.

    Returns:
        ``schema.relation`` (quoted as needed) to its columns, each as
        ``column type``.
    """
    cursor.execute(_TARGET_RELATIONS, {"final": final_schema})
    return {name: frozenset(columns) for name, columns in cursor.fetchall()}


def _collation_options(
    provider: str,
    deterministic: bool,
    lc_collate: str | None,
    lc_ctype: str | None,
    locale: str | None,
    rules: str | None,
) -> str:
    """The options of ``CREATE COLLATION`` that make a collation again.

    Args:
        provider: pg_collation.collprovider: "i" (ICU), "c" (libc) or "b"
            (builtin, PostgreSQL 17).
        deterministic: Whether equal means byte-equal.
        lc_collate: A libc collation's LC_COLLATE.
        lc_ctype: A libc collation's LC_CTYPE.
        locale: An ICU or builtin collation's locale.
        rules: An ICU collation's tailoring rules (PostgreSQL 16).

    Returns:
        The options, in the order pg_dump writes them.
    """
    options = [
        "provider = "
        + {"i": "icu", "c": "libc", "b": "builtin"}.get(provider, provider)
    ]
    if not deterministic:
        options.append("deterministic = false")
    if provider == "c":
        options.append(f"lc_collate = {sql_literal(lc_collate or '')}")
        options.append(f"lc_ctype = {sql_literal(lc_ctype or '')}")
    else:
        options.append(f"locale = {sql_literal(locale or '')}")
    if rules:
        options.append(f"rules = {sql_literal(rules)}")
    return ", ".join(options)


def _reference_problem(
    ref_type: str, identity: str, ref_schema: str, type_kind: str | None, schema: str
) -> str | None:
    """Why an expression's reference to an object outside pg_catalog breaks.

    Args:
        ref_type: The referenced object's kind, as pg_identify_object names it.
        identity: Its qualified name.
        ref_schema: Its schema.
        type_kind: pg_type.typtype when it is a type.
        schema: The schema being migrated.

    Returns:
        The reason, or None for the schema's own types and collations.
    """
    if type_kind in ("e", "d", "c", "r", "m") and ref_schema == schema:
        return None
    if ref_type == "collation" and ref_schema == schema:
        return None  # created on the target before the tables
    if ref_type == "function":
        # Kept once the target has it (``target_functions``), which
        # scaffold looks for when TARGET_DATABASE_URL is set.
        return (
            f"uses {ref_type} {identity}, which this run does not migrate and "
            "the target does not have (scaffold looks when TARGET_DATABASE_URL "
            f"is set): migrate schema {render_ident(ref_schema)} first, in a "
            f"run of its own ({own_run(ref_schema)}), or "
            "create the function there, then scaffold again"
        )
    return f"uses {ref_type} {identity}, which pgshift does not migrate"


def read_catalog(
    cursor: Any,
    schema: str = "public",
    present: frozenset[str] = frozenset(),
    target_types: dict[tuple[str, str], tuple] | None = None,
) -> Catalog:
    """Read one schema's tables, columns, constraints, indexes and types.

    Args:
        cursor: An open psycopg2 cursor on the source database.
        schema: The schema to read.
        present: Functions of other schemas that the target has
            (``pg_identify_object`` identities, ``auth.uid()``): a default,
            check or index may keep calling one (``target_functions``).
        target_types: The enums and domains of the target's schemas, with
            their shapes (``type_shapes``): a column of another schema's
            type is kept where the target's has the source's shape.

    Returns:
        The catalog. Partitions are not tables of it: each partitioned
        table lists its own (``Table.partitions``).
    """
    args = {"schema": schema}
    catalog = Catalog(schema=schema, target_functions=present)
    if target_types:
        source_types = type_shapes(cursor, [schema])
        catalog.target_types = {
            key: target_types[key] == shape
            for key, shape in source_types.items()
            if key in target_types
        }
    by_oid: dict[int, Table] = {}

    # The schema's own names print unqualified (format_type, pg_get_expr),
    # as public's do under the default search path: they land beside the
    # migrated tables, under the target's schema name.
    cursor.execute(
        "select set_config('search_path', quote_ident(%(schema)s), true) "
        "where (current_schemas(false))[1] is distinct from %(schema)s",
        args,
    )
    cursor.execute(_TABLES, args)
    for oid, name, comment in cursor.fetchall():
        table = Table(schema=schema, name=name, comment=comment)
        by_oid[oid] = table
        catalog.tables[name] = table
    for name, table in catalog.tables.items():
        raw = raw_table_name(name)
        if raw != name and raw in catalog.tables:
            table.unsupported.append(
                f"{name}: lands in raw as {raw} (dlt cannot name its load files "
                "after it), which is another source table's name"
            )

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
                identity_sequence=row[12] if row[5] else None,
            )
        )
    for table in by_oid.values():
        if not table.columns:
            table.unsupported.append(
                f"{table.name}: a table without columns, which a dbt model "
                "cannot hold; create it on the target (CREATE TABLE ... ()) "
                "with its rows (INSERT ... DEFAULT VALUES, once a row)"
            )

    cursor.execute(
        _CONSTRAINTS.replace(
            "{fk_extras}", _fk_extras("con", cursor.connection.server_version)
        ),
        args,
    )
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
                    ref_schema=row[11] if row[11] != schema else None,
                    validated=is_validated(definition),
                    match_full=row[12],
                    delete_columns=list(row[13]),
                )
            )
            continue
        if row[14]:
            definition = with_storage(definition, row[14])
        constraint = Constraint(name, kind, columns, definition)
        if kind == "p":
            table.primary_key = constraint
        elif kind == "u":
            table.uniques.append(constraint)
        elif kind == "x":
            table.exclusions.append(constraint)
        else:
            table.checks.append(constraint)

    cursor.execute(_INDEXES, args)
    for oid, name, definition, unique, columns, valid in cursor.fetchall():
        table = by_oid.get(oid)
        if table is not None:
            table.indexes.append(
                Index(name, definition, list(columns), unique, valid=valid)
            )

    cursor.execute(_SEQUENCES, args)
    for row in cursor.fetchall():
        owner = (row[8], row[9]) if row[8] else None
        catalog.sequences[row[0]] = Sequence(*row[:8], owned_by=owner, unlogged=row[10])
    cursor.execute(_DEFAULT_SEQUENCES, args)
    for oid, column, sequence, sequence_schema in cursor.fetchall():
        if oid not in by_oid:
            continue
        if sequence_schema == schema:
            by_oid[oid].column(column).default_sequences.append(sequence)
        else:
            by_oid[oid].column(column).other_sequences.append(
                (sequence_schema, sequence)
            )
    cursor.execute(_IDENTITY_OPTIONS, args)
    for oid, column, *settings, type_name, unlogged in cursor.fetchall():
        if oid in by_oid:
            by_oid[oid].column(column).identity_options = _identity_options(
                settings, type_name
            )
            by_oid[oid].column(column).identity_unlogged = unlogged

    cursor.execute(_ENUMS, args)
    for name, labels in cursor.fetchall():
        catalog.enums[name] = list(labels)

    cursor.execute(_SCHEMA_COLLATIONS, args)
    for name, *definition in cursor.fetchall():
        catalog.collations[name] = _collation_options(*definition)

    cursor.execute(_TEXT_SEARCH_DICTIONARIES, args)
    for name, template, options in cursor.fetchall():
        catalog.text_search_dictionaries[name] = [template, options]
    cursor.execute(_TEXT_SEARCH_CONFIGURATIONS, args)
    for name, parser, mappings in cursor.fetchall():
        catalog.text_search_configurations[name] = [parser, mappings]

    cursor.execute(_DOMAINS, args)
    over: dict[str, str] = {}  # a domain over another of the schema's
    for row in cursor.fetchall():
        name, base_type, not_null, default, checks, collation, base = row
        catalog.domains[name] = Domain(
            name=name,
            base_type=base_type,
            not_null=not_null,
            default=default,
            checks=[(check[0], check[1]) for check in checks or []],
            collation=collation,
        )
        if base is not None:
            over[name] = base
    # Created in this order: a domain after the one it is over.
    ordered: dict[str, Domain] = {}

    def place(name: str) -> None:
        if name not in ordered:
            if over.get(name) in catalog.domains:
                place(over[name])
            ordered[name] = catalog.domains[name]

    for name in list(catalog.domains):
        place(name)
    catalog.domains = ordered

    _read_ranges(cursor, catalog)
    _read_composites(cursor, catalog)
    read_table_settings(cursor, schema, by_oid)
    read_statistics(cursor, schema, by_oid)
    _read_portability(cursor, catalog, by_oid)
    _read_partitions(cursor, schema, by_oid)
    logger.info("read %d tables from schema %s", len(catalog.tables), schema)
    return catalog


_RANGES = """
select t.typname::text, format_type(r.rngsubtype, null),
       {multirange},
       case when not opc.opcdefault
            then format('%%I.%%I', opn.nspname, opc.opcname) end,
       case when r.rngcollation <> 0 and r.rngcollation <> st.typcollation
            then (select format('%%I.%%I', cn.nspname, c.collname)
                  from pg_collation c join pg_namespace cn on cn.oid = c.collnamespace
                  where c.oid = r.rngcollation) end,
       case when r.rngsubdiff <> 0 then r.rngsubdiff::regproc::text end,
       r.rngcanonical <> 0,
       (select pn.nspname from pg_proc p join pg_namespace pn on pn.oid = p.pronamespace
        where p.oid = r.rngsubdiff),
       opn.nspname, st.typtype, stn.nspname
from pg_range r
join pg_type t on t.oid = r.rngtypid
join pg_namespace n on n.oid = t.typnamespace
join pg_type st on st.oid = r.rngsubtype
join pg_namespace stn on stn.oid = st.typnamespace
join pg_opclass opc on opc.oid = r.rngsubopc
join pg_namespace opn on opn.oid = opc.opcnamespace
where n.nspname = %(schema)s
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_type'::regclass and d.objid = t.oid
                    and d.deptype = 'e')
order by 1
"""


def range_names(catalog: Catalog) -> set[str]:
    """The schema's range types the target gets, with their multirange types."""
    return set(catalog.ranges) | {
        r.multirange for r in catalog.ranges.values() if r.multirange
    }


def _read_ranges(cursor: Any, catalog: Catalog) -> None:
    """Read the schema's range types the target can get as they are.

    The subtype must be PostgreSQL's own or an enum of the schema; the
    operator class and the subtype difference function PostgreSQL's own;
    no canonical function (one is written in C). The others are
    ``Catalog.range_problems``.
    """
    multirange = (
        "(select m.typname::text from pg_type m where m.oid = r.rngmultitypid)"
        if cursor.connection.server_version >= 140000
        else "null::text"
    )
    cursor.execute(_RANGES.format(multirange=multirange), {"schema": catalog.schema})
    for row in cursor.fetchall():
        name, subtype, multi, opclass, collation, diff, canonical = row[:7]
        diff_schema, opclass_schema, subtype_kind, subtype_schema = row[7:]
        if canonical:
            problem = "it has a canonical function, which is written in C"
        elif diff is not None and diff_schema != "pg_catalog":
            problem = f"its subtype_diff function {diff} is not PostgreSQL's own"
        elif opclass_schema != "pg_catalog":
            problem = f"its operator class {opclass} is not PostgreSQL's own"
        elif subtype_schema != "pg_catalog" and not (
            subtype_kind == "e" and subtype_schema == catalog.schema
        ):
            problem = f"its subtype {subtype} is not PostgreSQL's own or an enum"
        else:
            catalog.ranges[name] = RangeType(
                name, subtype, multi, opclass, collation, diff
            )
            continue
        catalog.range_problems[name] = problem


def _read_composites(cursor: Any, catalog: Catalog) -> None:
    """Read the schema's composite types, in the order they can be created.

    An attribute's (element) type must be PostgreSQL's own, an extension's,
    or one of the schema's enums, domains and composite types the target
    gets; a composite type with another attribute is not created
    (``Catalog.composite_problems``), and a column of its type stops
    scaffold naming the attribute.
    """
    cursor.execute(_COMPOSITES, {"schema": catalog.schema})
    found: dict[str, Composite] = {}
    uses: dict[str, set[str]] = {}
    problems: dict[str, str] = {}
    for (
        name,
        attribute,
        shown,
        type_name,
        type_schema,
        kind,
        extension,
    ) in cursor.fetchall():
        composite = found.setdefault(name, Composite(name))
        composite.attributes.append((attribute, shown))
        uses.setdefault(name, set())
        if extension:
            if extension not in composite.extensions:
                composite.extensions.append(extension)
            continue
        if kind == "c" and type_schema == catalog.schema:
            uses[name].add(type_name)
            continue
        problem = _type_problem(
            type_name,
            type_schema,
            kind,
            catalog.schema,
            (),
            range_names(catalog),
            catalog.target_types,
        )
        if problem and name not in problems:
            problems[name] = f"attribute {attribute} ({shown}): {problem}"
    # Created in dependency order; a composite over a refused one (or in a
    # cycle, which PostgreSQL does not allow) is refused too.
    while True:
        ready = [
            n
            for n in found
            if n not in problems
            and n not in catalog.composites
            and all(u in catalog.composites for u in uses[n])
        ]
        if not ready:
            break
        for name in ready:
            catalog.composites[name] = found[name]
    for name in found:
        if name not in catalog.composites:
            catalog.composite_problems[name] = problems.get(
                name, "an attribute's composite type cannot be created"
            )
    # Domains are created before composite types (an attribute may be of a
    # domain), so a domain cannot be over one.
    for domain in catalog.domains.values():
        base = unquote_ident(domain.base_type.removesuffix("[]"))
        if base in found:
            catalog.unsupported.append(
                f"domain {domain.name}: over composite type {base}, which the "
                "target gets after its domains"
            )
        elif base in catalog.tables:
            catalog.unsupported.append(
                f"domain {domain.name}: over the row type of table {base}, "
                "which the target gets after its domains (the build makes the "
                "tables after the types their columns use)"
            )
    for composite in catalog.composites.values():
        for extension in composite.extensions:
            if extension not in catalog.domain_extensions:
                catalog.domain_extensions.append(extension)


def _needs(table: Table, extension: str) -> None:
    if extension not in table.extensions:
        table.extensions.append(extension)


def _read_portability(cursor: Any, catalog: Catalog, by_oid: dict[int, Table]) -> None:
    """Record what each table needs on the target, and what it cannot have.

    Column types are followed through arrays and domains: a type from an
    extension needs that extension; other types must be built in (and mean
    the same on another server) or be the schema's own enums and domains.
    Defaults, generated columns, checks and indexes must call nothing outside
    pg_catalog but extensions and the schema's own functions (recorded in
    ``Table.calls``). Collations that are not the type's default
    are kept on the column. A table whose row-level security applies to the
    reading user cannot be read in full (``ROW_SECURITY_REFUSAL``).
    """
    schema = catalog.schema
    args = {"schema": schema}
    cursor.execute(_EXTENSIONS)
    catalog.extensions = dict(cursor.fetchall())
    cursor.execute(_EXTENSION_TYPES)
    catalog.extension_types = dict(cursor.fetchall())

    cursor.execute(_COLUMN_TYPES, args)
    settled: set[tuple[int, str]] = set()
    for (
        oid,
        column,
        shown,
        type_name,
        type_schema,
        kind,
        array,
        extension,
    ) in cursor.fetchall():
        table = by_oid.get(oid)
        if table is None or (oid, column) in settled or array:
            continue
        if extension:
            _needs(table, extension)
            settled.add((oid, column))
            continue
        problem = _type_problem(
            type_name,
            type_schema,
            kind,
            schema,
            catalog.composites,
            range_names(catalog),
            catalog.target_types,
        )
        if type_schema == schema and type_name in catalog.range_problems:
            problem = (
                f"range type {type_name}, which pgshift cannot create: "
                + catalog.range_problems[type_name]
            )
        if type_schema == schema and type_name in catalog.composite_problems:
            problem = (
                f"composite type {type_name}, which pgshift cannot create: "
                + catalog.composite_problems[type_name]
            )
        if problem:
            table.unsupported.append(f"{table.name}.{column} ({shown}): {problem}")
            settled.add((oid, column))

    cursor.execute(_COLLATIONS, args)
    for oid, column, collation, collation_schema, name in cursor.fetchall():
        table = by_oid.get(oid)
        if table is None:
            continue
        if collation_schema == "pg_catalog" or (
            collation_schema == schema and name in catalog.collations
        ):
            table.column(column).collation = collation
        else:
            table.unsupported.append(
                f"{table.name}.{column} (collate {collation_schema}.{collation}): "
                "a collation of the source, which pgshift does not create"
            )

    cursor.execute(_EXPRESSION_DEPENDENCIES, args)
    for row in cursor.fetchall():
        oid, user, ref_type, ref_schema, identity, kind, extension, routine = row
        table = by_oid.get(oid)
        if table is None:
            continue
        if extension:
            _needs(table, extension)
            continue
        if routine is not None and ref_schema == schema:
            # One of the schema's own functions: migrated with the schema,
            # and created before the tables (pgshift.routines).
            table.calls.append((user, routine))
            continue
        if routine is not None and identity in catalog.target_functions:
            # Another schema's function that the target has too: the
            # expression keeps calling it by its qualified name.
            continue
        used = qualified_type(identity) if ref_type in ("type", "domain") else None
        if used is not None and catalog.target_types.get(used):
            # A default, check or index cast to another schema's enum or
            # domain that the target has as the source has it (where
            # another run put it, the map names it there).
            continue
        problem = _reference_problem(ref_type, identity, ref_schema, kind, schema)
        if problem:
            table.unsupported.append(f"{table.name} {user}: {problem}")

    cursor.execute(_DOMAIN_DEPENDENCIES, args)
    for row in cursor.fetchall():
        domain, ref_type, ref_schema, identity, kind, extension = row[:6]
        routine, check = row[6:]
        if (
            routine is not None
            and not extension
            and ref_schema == schema
            and domain in catalog.domains
        ):
            # One of the schema's own functions: the domain is created
            # without what calls it, which is added once the routines are.
            found = catalog.domains[domain]
            found.calls.append(routine)
            if check is None:
                found.late_default = True
            elif check not in found.late_checks:
                found.late_checks.append(check)
            continue
        if extension:
            if extension not in catalog.domain_extensions:
                catalog.domain_extensions.append(extension)
            needs = (
                catalog.domains[domain].extensions if domain in catalog.domains else []
            )
            if extension not in needs:
                needs.append(extension)
            continue
        problem = _reference_problem(ref_type, identity, ref_schema, kind, schema)
        if problem:
            catalog.unsupported.append(f"domain {domain}: {problem}")

    cursor.execute(_TABLE_TRAITS, args)
    for oid, row_security, parents in cursor.fetchall():
        table = by_oid.get(oid)
        if table is None:
            continue
        table.inherits = list(parents)
        if row_security:
            table.unsupported.append(f"{table.name}: {ROW_SECURITY_REFUSAL}")


_ROW_KEYS = """
select c.relname, ic.relname, i.indimmediate,
       array(select a.attname::text
             from unnest(i.indkey) with ordinality as k (attnum, position)
             join pg_attribute as a
               on a.attrelid = i.indrelid and a.attnum = k.attnum
             where k.position <= i.indnkeyatts
             order by k.position)
from pg_index as i
join pg_class as c on c.oid = i.indrelid
join pg_namespace as n on n.oid = c.relnamespace
join pg_class as ic on ic.oid = i.indexrelid
where n.nspname = %(schema)s and c.relname = any(%(tables)s)
  and i.indisunique and i.indisvalid and i.indpred is null
  and i.indexprs is null
  and not exists (
    select from unnest(i.indkey[0:i.indnkeyatts - 1]) as k (attnum)
    join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum
    where not a.attnotnull)
order by c.relname, i.indisprimary desc, i.indimmediate desc, i.indnkeyatts,
         ic.relname
"""


@dataclass(frozen=True)
class RowKey:
    """The columns that name one row of a table, and the index enforcing them.

    Attributes:
        index: The unique index's name.
        columns: Its key columns, in index order (INCLUDE columns left out).
        immediate: Whether it is checked at once (not DEFERRABLE): what
            ``REPLICA IDENTITY USING INDEX`` requires.
    """

    index: str
    columns: tuple[str, ...]
    immediate: bool


def row_keys(cursor: Any, schema: str, tables: Collection[str]) -> dict[str, RowKey]:
    """Each table's key: its primary key, else a unique index over NOT NULL columns.

    The index must be valid, without a predicate or expression, and every
    key column NOT NULL: then no two rows share its values. Of several,
    the primary key, then a non-deferrable one, then the fewest columns,
    then the name. Tables with none are left out of the result: only a
    whole row names one of their rows.
    """
    cursor.execute(_ROW_KEYS, {"schema": schema, "tables": list(tables)})
    keys: dict[str, RowKey] = {}
    for table, index, immediate, columns in cursor.fetchall():
        keys.setdefault(table, RowKey(index, tuple(columns), immediate))
    return keys


def unreadable_tables(cursor: Any, tables: Collection[Table]) -> tuple[str, list[str]]:
    """The connected role, and the tables it may not read every column of."""
    cursor.execute(
        "select current_user, coalesce(array_agg(t.name order by t.n) "
        "filter (where not has_table_privilege(t.oid, 'SELECT') and "
        "exists (select 1 from pg_attribute a where a.attrelid = t.oid "
        "and a.attnum > 0 and not a.attisdropped and not "
        "has_column_privilege(t.oid, a.attnum, 'SELECT'))), '{}') "
        "from unnest(%s::text[], %s::regclass[]) with ordinality "
        "as t (name, oid, n)",
        (
            [t.name for t in tables],
            [f"{quote_ident(t.schema)}.{quote_ident(t.name)}" for t in tables],
        ),
    )
    role, names = cursor.fetchone()
    return role, list(names)


def refuse_unreadable(settings: Settings, role: str, names: list[str]) -> None:
    """Stop before anything is written when the source role may not read a table.

    Every such table is named at once, with the grant that lets pgshift
    read them, rather than the first one PostgreSQL refuses midway.

    Raises:
        ConfigError: The role may not read ``names``.
    """
    if not names:
        return
    schema = quote_ident(settings.source_schema)
    grantee = quote_ident(role)
    if len(names) > SHOWN_LINES:
        grant = f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {grantee};"
    else:
        tables = ", ".join(f"{schema}.{quote_ident(name)}" for name in names)
        grant = f"GRANT SELECT ON TABLE {tables} TO {grantee};"
    raise ConfigError(
        f"the source role {role} may not read {len(names)} of the tables to "
        f"migrate: {some(names)}; nothing was written. Next: on the source, as "
        f"their owner or a superuser, run `{grant}`, or leave them out: "
        f"{settings.excluding(names)}"
    )
