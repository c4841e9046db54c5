"""Schema parity: the source catalog and the target's, through the name mapping.

For every migrated table the target must hold, under the mapped names: the
same columns in the same order with the same types, nullability, defaults,
identity (its sequence under its mapped name) and generation; the same
primary key, unique and check constraints, foreign keys (with their actions
and deferrability) and secondary indexes,
under their mapped names; the same table and column comments; the same
partition key and partitions (names, parents, bounds, their own constraints,
foreign keys, indexes, column defaults and NOT NULL) of a partitioned table; every enum type with the
same labels in the same order; every domain with the same base type, NOT
NULL, default and checks; every composite type with the same attributes;
every table's storage parameters, replica identity, clustering index
and columns' statistics targets, storage and compression; and its extended
statistics objects; and whether each sequence (an identity column's too)
is UNLOGGED.
Each difference is one line,
``table.object: what differs``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.catalog import Catalog, Column, Constraint, Table
from pgshift.connection import connect
from pgshift.expressions import rename_columns
from pgshift.mapping import (
    MAP_FILE,
    IndexMap,
    NameMap,
    TableMap,
    index_using,
    statistics_map,
    table_settings,
)
from pgshift.settings import DatabaseUrl
from pgshift.sqlident import NAME_PATTERN, rename_type, render_ident

logger = logging.getLogger(__name__)

_TYPE = re.compile(
    rf"(?P<base>(?:{NAME_PATTERN}\.)?{NAME_PATTERN})"
    r"(?P<modifier>\([^()]*\))?(?P<array>(?:\[\])*)"
)


class SameType:
    """Whether a source type and a target type are the same type.

    ``format_type`` qualifies a type that the session's search path does
    not find: the source is read under the migrated schema, the target
    under the final schema. An extension's type (cube's ``cube``, installed
    in ``public`` on the source and created in the final schema ``public``
    on the target) prints ``public.cube`` on the source and ``cube`` on the
    target: the same extension's type of the same name, with the same
    modifier and array brackets, is the same type. So is another schema's
    enum or domain that the target has in its final schema (public's
    ``"Name"`` of AdventureWorks, migrated into ``public``): the source
    prints it ``public."Name"``, the target ``"Name"``. Any other type
    compares as printed.
    """

    def __init__(self, source: Catalog, target: Catalog) -> None:
        """Remember each side's extension types, as each side prints them."""
        self.source = source.extension_types
        self.target = target.extension_types
        self.final = render_ident(target.schema) + "."

    @staticmethod
    def _identity(data_type: str, extension_types: dict[str, str]) -> str | None:
        match = _TYPE.fullmatch(data_type)
        if match is None or match.group("base") not in extension_types:
            return None
        return "{}{}{}".format(
            extension_types[match.group("base")],
            match.group("modifier") or "",
            match.group("array"),
        )

    def __call__(self, source_type: object, target_type: object) -> bool:
        """Whether the source's printed type is the target's printed type."""
        if source_type == target_type:
            return True
        if not isinstance(source_type, str) or not isinstance(target_type, str):
            return False
        if source_type.removeprefix(self.final) == target_type:
            return True
        identity = self._identity(source_type, self.source)
        return identity is not None and identity == self._identity(
            target_type, self.target
        )


def _column_shape(
    column: Column, default: str | None, data_type: str | None = None
) -> tuple[object, ...]:
    return (
        data_type or column.data_type,
        column.not_null,
        default,
        (column.identity, *column.identity_options),
        column.generated,
        column.comment,
        column.collation,
    )


def _expected_default(column: Column, mapped: TableMap) -> str | None:
    """The default the map gives a column, as the target catalog shows it."""
    name = mapped.columns[column.name]
    if column.serial_sequence:
        return "serial"
    if name in mapped.generated:
        return mapped.generated[name]
    return mapped.defaults.get(name)


def _target_default(column: Column) -> str | None:
    if column.serial_sequence:
        return "serial"
    return column.default


def _diff_sets(
    where: str,
    what: str,
    expected: Iterable[tuple[object, ...]],
    found: Iterable[tuple[object, ...]],
    kept: Differences | None = None,
    kept_as: Callable[[tuple[object, ...]], str] | None = None,
) -> list[str]:
    """Lines for what one side has and the other lacks.

    Found objects whose name (the first item) ``kept`` explains go to its
    kept lines instead, and so do those it explains under the name
    ``kept_as`` gives (an index of a partition's own: "partition.index").
    """
    expected_set, found_set = set(expected), set(found)
    lines = [f"{where}: {what} {e} is missing" for e in expected_set - found_set]
    for f in sorted(found_set - expected_set, key=str):
        line = f"{where}: {what} {f} is not in the source"
        if kept is not None and (
            kept.explains(f"{where}.{f[0]}", line)
            or (kept_as is not None and kept.explains(kept_as(f), line))
        ):
            continue
        lines.append(line)
    return sorted(lines)


def _on_partition(found: tuple[object, ...]) -> str:
    """The name a publish records an object of a partition's own under."""
    return f"{found[0]}.{found[1]}"


class Differences:
    """Objects of the target's own that the last publish carried over.

    A parity line about one of them (the team's index or constraint on a
    final table, a comment it wrote) is no failure: it is what the team
    has, listed as kept.

    Attributes:
        names: "table.object" (or "table" / "table.column" for comments) of
            every object recreated on a final table.
        kept: The parity lines they explain.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        """Remember the carried-over objects' names."""
        self.names = frozenset(names)
        self.kept: list[str] = []

    def explains(self, name: str, line: str) -> bool:
        """Whether a carried-over object explains a line (and keep it if so)."""
        if name in self.names:
            self.kept.append(line)
            return True
        return False


def _table_differences(
    source: Table,
    mapped: TableMap,
    target: Table,
    kept: Differences,
    same_type: SameType,
) -> list[str]:
    name = mapped.target
    unmapped = [c.name for c in source.columns if c.name not in mapped.columns]
    lines: list[str] = [
        f"{name}: source column {column!r} is not in the name map ({MAP_FILE}); "
        "run `python loader/run.py scaffold`"
        for column in unmapped
    ]
    expected_columns = [
        mapped.columns[c.name] for c in source.columns if c.name in mapped.columns
    ]
    found_columns = [c.name for c in target.columns]
    # A column both sides gained since scaffold, under the same name (the
    # application's own migration run on both), is the line above, not
    # also a target column "not in the source".
    lines += _diff_sets(
        name,
        "column",
        expected_columns,
        [c for c in found_columns if c not in unmapped],
    )
    shared = [c for c in expected_columns if c in found_columns]
    found_order = [c for c in found_columns if c in expected_columns]
    if shared != found_order:
        lines.append(
            f"{name}: columns in the order {found_order}, the source's {shared}"
        )
    found_by_name = {c.name: c for c in target.columns}
    for column in source.columns:
        target_name = mapped.columns.get(column.name, "")
        found = found_by_name.get(target_name)
        if found is None:
            continue
        expected = _column_shape(
            column,
            _expected_default(column, mapped),
            mapped.types.get(target_name),
        )
        actual = _column_shape(found, _target_default(found))
        if target_name in mapped.dropped_defaults and found.default is None:
            lines.append(
                f"{name}.{target_name}: default {mapped.dropped_defaults[target_name]}"
            )
        labels = (
            "type",
            "not null",
            "default",
            "identity",
            "generated",
            "comment",
            "collation",
        )
        for label, want, got in zip(labels, expected, actual, strict=True):
            if want != got and not (label == "type" and same_type(want, got)):
                line = f"{name}.{target_name}: {label} {got!r}, source {want!r}"
                if label != "comment" or not kept.explains(
                    f"{name}.{target_name}", line
                ):
                    lines.append(line)
        wanted = mapped.identity_sequence_names.get(target_name)
        if wanted and found.identity and found.identity_sequence != wanted:
            lines.append(
                f"{name}.{target_name}: identity sequence "
                f"{found.identity_sequence!r}, source {wanted!r}"
            )
        if found.identity and found.identity_unlogged != column.identity_unlogged:
            lines.append(
                f"{name}.{target_name}: identity sequence "
                f"{_persistence(found.identity_unlogged)}, source "
                f"{_persistence(column.identity_unlogged)}"
            )
    if (source.comment or None) != (target.comment or None):
        line = f"{name}: comment {target.comment!r}, source {source.comment!r}"
        if not kept.explains(name, line):
            lines.append(line)

    def key(constraint: Constraint | None) -> tuple[str, str] | None:
        if constraint is None:
            return None
        return (constraint.name, constraint.definition)

    pk = mapped.primary_key
    expected_pk = (pk.name, pk.definition) if pk else None
    if expected_pk != key(target.primary_key):
        lines.append(
            f"{name}: primary key {key(target.primary_key)}, source {expected_pk}"
        )
    lines += _diff_sets(
        name,
        "unique constraint",
        [(u.name, u.definition) for u in mapped.keys if u.type == "unique"],
        [key(u) for u in target.uniques],
        kept,
    )
    lines += _diff_sets(
        name,
        "exclusion constraint",
        [(x.name, x.definition) for x in mapped.keys if x.type == "exclusion"],
        [key(x) for x in target.exclusions],
        kept,
    )
    lines += _diff_sets(
        name,
        "check",
        [(c.name, c.definition) for c in mapped.checks],
        [(c.name, c.definition) for c in target.checks],
        kept,
    )
    lines += _diff_sets(
        name,
        "foreign key",
        [
            (
                fk.name,
                tuple(fk.columns),
                fk.to_schema,
                fk.to,
                tuple(fk.to_columns),
                fk.on_delete,
                fk.on_update,
                fk.deferrable,
                fk.initially_deferred,
                fk.validated,
                fk.match_full,
                tuple(fk.delete_columns),
            )
            for fk in mapped.foreign_keys
        ],
        [
            (
                fk.name,
                tuple(fk.columns),
                fk.ref_schema,
                fk.ref_table,
                tuple(fk.ref_columns),
                fk.on_delete,
                fk.on_update,
                fk.deferrable,
                fk.initially_deferred,
                fk.validated,
                fk.match_full,
                tuple(fk.delete_columns),
            )
            for fk in target.foreign_keys
        ],
    )
    lines += _diff_sets(
        name,
        "index",
        [(i.name, i.unique, i.using) for i in mapped.indexes],
        [(i.name, i.unique, index_using(i.definition)) for i in target.indexes],
        kept,
    )
    # An index of a partitioned table made ON ONLY it: invalid, with the
    # partitions whose index is attached to it (at any depth), as on the
    # source; not valid, built on every partition.
    lines += _diff_sets(
        name,
        "invalid index",
        [
            (i.name, tuple(sorted(a.partition for a in i.attached)))
            for i in mapped.indexes
            if not i.valid
        ],
        [
            (i.name, tuple(sorted(a[0] for a in i.attached)))
            for i in target.indexes
            if not i.valid
        ],
        kept,
    )
    return lines


def _type_differences(
    source: Catalog,
    target: Catalog,
    names: NameMap | None,
    same_type: SameType,
    printed_checks: dict[str, str],
) -> list[str]:
    """Differences of the schema's domains, range and composite types, through the map.

    A domain's base type, NOT NULL, default, named checks and collation, and a composite
    type's attributes, are compared as scaffold renamed them for the target.
    """
    types = names.types if names else {}
    schema = source.schema
    lines: list[str] = []
    for name, domain in source.domains.items():
        renamed = types.get(name, name)
        found = target.domains.get(renamed)
        if found is None:
            lines.append(f"domain {renamed}: missing on the target")
            continue
        base_type = rename_type(domain.base_type, schema, types)
        default = rename_columns(domain.default, {}, types) if domain.default else None
        expected = (
            found.base_type if same_type(base_type, found.base_type) else base_type,
            domain.not_null,
            printed_checks.get(default, default) if default else None,
            sorted(
                (
                    names.domain_constraints.get(name, {}).get(c, c) if names else c,
                    printed_checks.get(
                        rename_columns(d, {}, types), rename_columns(d, {}, types)
                    ),
                )
                for c, d in domain.checks
            ),
            domain.collation,
        )
        got = (
            found.base_type,
            found.not_null,
            found.default,
            sorted(found.checks),
            found.collation,
        )
        if got != expected:
            lines.append(f"domain {renamed}: {got}, source as renamed {expected}")
    for name, range_ in source.ranges.items():
        renamed = types.get(name, name)
        found_range = target.ranges.get(renamed)
        subtype = rename_type(range_.subtype, schema, types)
        if found_range is not None and same_type(subtype, found_range.subtype):
            subtype = found_range.subtype
        expected_range = (
            subtype,
            types.get(range_.multirange or "", range_.multirange),
            range_.opclass,
            range_.collation,
            range_.subtype_diff,
        )
        got_range = (
            (
                found_range.subtype,
                found_range.multirange,
                found_range.opclass,
                found_range.collation,
                found_range.subtype_diff,
            )
            if found_range
            else None
        )
        if got_range != expected_range:
            lines.append(
                f"range type {renamed}: {got_range}, source as renamed {expected_range}"
            )
    for name, composite in source.composites.items():
        renamed = types.get(name, name)
        found_type = target.composites.get(renamed)
        got_attributes = found_type.attributes if found_type else None
        printed = dict(got_attributes or [])
        expected_attributes = [
            (a, printed[a] if same_type(t, printed.get(a)) else t)
            for a, t in (
                (a, rename_type(t, schema, types)) for a, t in composite.attributes
            )
        ]
        if got_attributes != expected_attributes:
            lines.append(
                f"composite type {renamed}: attributes {got_attributes}, source "
                f"as renamed {expected_attributes}"
            )
    return lines


def _setter(item: object, attribute: str, prefix: str) -> Callable[[str], None]:
    """Set an attribute of a map's entry to a print, less a prefix."""
    return lambda text: setattr(item, attribute, text.removeprefix(prefix))


_Reprint = tuple[
    str,
    list[tuple[str, str, Callable[[str], None]]],
    list[IndexMap],
    list[tuple[str, str, str | None, Callable[[str], None]]],
]
"""A final table, its constraints to print back (name, definition to add,
where the print goes), its indexes to print back, and its defaults and
generation expressions to print back (column, expression, the column's
type for a generation expression or None for a default, where the print
goes)."""


def _stale_defaults(
    mapped: TableMap, found: Table
) -> list[tuple[str, str, str | None, Callable[[str], None]]]:
    """The map's defaults and generation expressions the target prints otherwise.

    A default calling a function (``public.cube(array[0, 0, 0])``) is
    printed by the source under its schema's search path and with the casts
    it read, by the target under the final schema's: the same call may
    print otherwise there (``cube(ARRAY[(0)::double precision, ...])``).
    """
    columns = {c.name: c for c in found.columns}
    stale: list[tuple[str, str, str | None, Callable[[str], None]]] = []
    for name, expression in mapped.generated.items():
        column = columns.get(name)
        if column is not None and column.generated and column.default != expression:
            stale.append(
                (
                    name,
                    expression,
                    column.data_type,
                    _item_setter(mapped.generated, name),
                )
            )
    for name, expression in mapped.defaults.items():
        column = columns.get(name)
        if (
            column is not None
            and not column.generated
            and not column.serial_sequence
            and name not in mapped.generated
            and column.default is not None
            and column.default != expression
        ):
            stale.append((name, expression, None, _item_setter(mapped.defaults, name)))
    return stale


def _item_setter(items: dict[str, str], key: str) -> Callable[[str], None]:
    """Set one entry of a map's dictionary to a print."""
    return lambda text: items.__setitem__(key, text)


def _printed_otherwise(names: NameMap, target: Catalog) -> list[_Reprint]:
    """The map's checks, exclusions, indexes and defaults the target prints otherwise."""
    pending = []
    for mapped in names.tables.values():
        found = target.tables.get(mapped.target)
        if found is None:
            continue
        printed = {c.name: c.definition for c in found.checks}
        printed |= {x.name: x.definition for x in found.exclusions}
        indexes = {i.name: index_using(i.definition) for i in found.indexes}
        stale: list[tuple[str, str, Callable[[str], None]]] = [
            (c.name, f"CHECK {c.expression}", _setter(c, "expression", "CHECK "))
            for c in mapped.checks
            if printed.get(c.name, c.definition) != c.definition
        ]
        stale += [
            (k.name, k.definition, _setter(k, "definition", ""))
            for k in mapped.keys
            if k.type == "exclusion"
            and printed.get(k.name, k.definition) != k.definition
        ]
        stale_indexes = [
            i for i in mapped.indexes if indexes.get(i.name, i.using) != i.using
        ]
        stale_defaults = _stale_defaults(mapped, found)
        if stale or stale_indexes or stale_defaults:
            pending.append((mapped.target, stale, stale_indexes, stale_defaults))
    return pending


_PRINTED_DEFAULT = """
select pg_get_expr(d.adbin, d.adrelid)
from pg_attrdef d
join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
where d.adrelid = 'pg_temp.pgshift_reprint'::regclass and a.attname = %s
"""


def _reprint_defaults(
    cursor: Any,
    probe: sql.Composable,
    defaults: list[tuple[str, str, str | None, Callable[[str], None]]],
) -> None:
    """Print each default and generation expression back on the probe table.

    Each in a savepoint of its own: one the target refuses (a function it
    lacks, another type) keeps the source's text, and its difference.
    """
    for column, expression, data_type, take in defaults:
        cursor.execute("savepoint pgshift_reprint_default")
        try:
            if data_type is None:
                cursor.execute(
                    sql.SQL("alter table {} alter column {} set default {}").format(
                        probe, sql.Identifier(column), sql.SQL(expression)
                    )
                )
                cursor.execute(_PRINTED_DEFAULT, (column,))
            else:
                cursor.execute(
                    sql.SQL(
                        "alter table {} add column pgshift_reprint_generated {} "
                        "generated always as ({}) stored"
                    ).format(probe, sql.SQL(data_type), sql.SQL(expression))
                )
                cursor.execute(_PRINTED_DEFAULT, ("pgshift_reprint_generated",))
            printed = cursor.fetchone()[0]
        except psycopg2.Error as error:
            logger.info("default of %s not printed back: %s", column, error)
            cursor.execute("rollback to savepoint pgshift_reprint_default")
            continue
        cursor.execute("rollback to savepoint pgshift_reprint_default")
        take(printed)


def as_the_target_prints(
    target_url: DatabaseUrl, names: NameMap, target: Catalog, final_schema: str
) -> NameMap:
    """The map, its checks and indexes printed back by the target itself.

    PostgreSQL does not always print back what it read the way it printed
    it: ``status IN ('a', 'b')`` on a varchar column prints as ``= ANY
    ((ARRAY[...])::text[])``, which read and printed again gives ``= ANY
    (ARRAY[(...)::text, ...])``. The target's object was made from the
    source's printed text, so its definition differs from that text while
    meaning the same. Each mapped check and index whose text differs from
    the target's object of that name is created once more, on an empty
    temporary copy of its final table in a transaction rolled back, and
    the map takes that print instead: a real difference still differs.
    Exclusion constraints (a WHERE of their own) are printed back alike, and
    so are defaults and generation expressions, each set on the copy in a
    savepoint (one the target refuses keeps the source's text).

    Args:
        target_url: The target, on which a transaction of its own (not
            read-only: temporary tables) is rolled back.
        names: The name map.
        target: The target's catalog.
        final_schema: The schema of the final tables.

    Returns:
        A copy of the map with those definitions printed back, or the map
        itself when none differs or the target refuses the temporary table
        (a role without TEMP).
    """
    if not _printed_otherwise(names, target):
        return names
    reprinted = copy.deepcopy(names)
    pending = _printed_otherwise(reprinted, target)
    probe = sql.Identifier("pg_temp", "pgshift_reprint")
    conn = connect(target_url)
    cursor = conn.cursor()
    try:
        cursor.execute(
            "select set_config('search_path', quote_ident(%s), true)", (final_schema,)
        )
        for table, constraints, indexes, defaults in pending:
            cursor.execute(
                sql.SQL("create temporary table {} (like {})").format(
                    probe, sql.Identifier(final_schema, table)
                )
            )
            for name, definition, take in constraints:
                cursor.execute(
                    sql.SQL("alter table {} add constraint {} {}").format(
                        probe, sql.Identifier(name), sql.SQL(definition)
                    )
                )
                cursor.execute(
                    "select pg_get_constraintdef(oid) from pg_constraint "
                    "where conrelid = 'pg_temp.pgshift_reprint'::regclass "
                    "and conname = %s",
                    (name,),
                )
                take(cursor.fetchone()[0])
            for number, index in enumerate(indexes):
                name = sql.Identifier(f"pgshift_reprint_{number}")
                cursor.execute(
                    sql.SQL("create {}index {} on {} using {}").format(
                        sql.SQL("unique " if index.unique else ""),
                        name,
                        probe,
                        sql.SQL(index.using),
                    )
                )
                cursor.execute(
                    "select pg_get_indexdef(%s::regclass)",
                    (f"pg_temp.pgshift_reprint_{number}",),
                )
                index.using = index_using(cursor.fetchone()[0])
            _reprint_defaults(cursor, probe, defaults)
            cursor.execute(sql.SQL("drop table {}").format(probe))
    except psycopg2.Error as error:
        logger.info("definitions not printed back by the target: %s", error)
        return names
    finally:
        conn.rollback()
        conn.close()
    return reprinted


def domain_checks_as_the_target_prints(
    target_url: DatabaseUrl,
    source: Catalog,
    target: Catalog,
    names: NameMap | None,
    final_schema: str,
) -> dict[str, str]:
    """The source's domain checks and defaults, renamed, as the target prints them.

    As with a table's checks (``as_the_target_prints``): a check calling an
    extension's function prints it qualified on the source when the
    extension is in another schema (``public.cube_dim(VALUE)``), and bare on
    the target when the extension is in the final schema; a default may
    print its casts otherwise once read again. Each renamed check the
    target's domain lacks, and its default when the target's differs, is
    given once more to a temporary domain over the target domain's base
    type, in a savepoint of a transaction rolled back, and read back: a
    real difference still differs.

    Returns:
        Each such check's or default's renamed text to the target's print
        of it (those the target refuses are left out).
    """
    types = names.types if names else {}
    # (renamed text, the target's base type, a default rather than a check)
    pending: list[tuple[str, str, bool]] = []
    for name, domain in source.domains.items():
        found = target.domains.get(types.get(name, name))
        if found is None:
            continue
        printed = {definition for _, definition in found.checks}
        for _, definition in domain.checks:
            wanted = rename_columns(definition, {}, types)
            if wanted not in printed:
                pending.append((wanted, found.base_type, False))
        if domain.default and found.default:
            wanted = rename_columns(domain.default, {}, types)
            if wanted != found.default:
                pending.append((wanted, found.base_type, True))
    if not pending:
        return {}
    reprinted: dict[str, str] = {}
    probe = "pg_temp.pgshift_reprint_domain"
    conn = connect(target_url)
    cursor = conn.cursor()
    try:
        cursor.execute(
            "select set_config('search_path', quote_ident(%s), true)", (final_schema,)
        )
        for wanted, base_type, is_default in pending:
            cursor.execute("savepoint pgshift_reprint_domain")
            try:
                cursor.execute(
                    sql.SQL("create domain {} as {} {}{}").format(
                        sql.SQL(probe),
                        sql.SQL(base_type),
                        sql.SQL("default " if is_default else ""),
                        sql.SQL(wanted),
                    )
                )
                cursor.execute(
                    "select typdefault from pg_type where oid = %s::regtype"
                    if is_default
                    else "select pg_get_constraintdef(oid) from pg_constraint "
                    "where contypid = %s::regtype",
                    (probe,),
                )
                reprinted[wanted] = cursor.fetchone()[0]
            except psycopg2.Error as error:
                logger.info("domain definition not printed back: %s", error)
            cursor.execute("rollback to savepoint pgshift_reprint_domain")
    except psycopg2.Error as error:
        logger.info("domain definitions not printed back by the target: %s", error)
    finally:
        conn.rollback()
        conn.close()
    return reprinted


def compare(
    source: Catalog,
    target: Catalog,
    names: NameMap | None,
    kept: Differences | None = None,
    printed_checks: dict[str, str] | None = None,
) -> list[str]:
    """List every difference between the source schema and the target schema.

    Args:
        source: The source catalog (the migrated tables).
        target: The target catalog (the final schema).
        names: The name map scaffold applied (None: scaffold never ran).
        kept: The target's own objects the last publish carried over; the
            lines they explain are collected there, not returned.
        printed_checks: Domain checks and defaults as renamed for the
            target, to how the target prints them
            (``domain_checks_as_the_target_prints``).

    Returns:
        One line per difference; empty when the schemas are twins.
    """
    kept = kept if kept is not None else Differences()
    same_type = SameType(source, target)
    lines: list[str] = []
    for enum, labels in source.enums.items():
        renamed = names.types.get(enum, enum) if names else enum
        found = target.enums.get(renamed)
        if found != labels:
            lines.append(f"type {renamed}: labels {found}, source {labels}")
    lines += _type_differences(source, target, names, same_type, printed_checks or {})
    lines += _sequence_differences(source, target, names)
    types = names.types if names else {}
    for table in source.tables.values():
        mapped = names.tables.get(table.name) if names else None
        if mapped is None:
            lines.append(
                f"{table.name}: not in the name map ({MAP_FILE}); run "
                "`python loader/run.py scaffold`"
            )
            continue
        found = target.tables.get(mapped.target)
        if found is None:
            lines.append(f"{mapped.target}: missing on the target")
            continue
        waiting = {fk.name for fk in names.waiting_keys.get(table.name, [])}
        if waiting:
            # Added by the run of the schema it references, or not yet:
            # the report lists it either way.
            found = dataclasses.replace(
                found,
                foreign_keys=[k for k in found.foreign_keys if k.name not in waiting],
            )
        lines += _table_differences(table, mapped, found, kept, same_type)
        lines += _partition_differences(mapped, found, kept)
        lines += _settings_differences(table, mapped, found)
        lines += _statistics_differences(table, mapped, found, types)
    return lines


def _persistence(unlogged: bool) -> str:
    return "UNLOGGED" if unlogged else "logged"


def _sequence_differences(
    source: Catalog, target: Catalog, names: NameMap | None
) -> list[str]:
    """A line for each sequence that is UNLOGGED on one side only.

    Each source sequence is looked for under its mapped name; one the
    target lacks is the report's sequence table's to name.
    """
    lines = []
    for name, sequence in source.sequences.items():
        mapped = names.sequences.get(name) if names else None
        if names and mapped is None:
            continue
        found = target.sequences.get(mapped.name if mapped else name)
        if found is not None and found.unlogged != sequence.unlogged:
            lines.append(
                f"sequence {found.name}: {_persistence(found.unlogged)}, "
                f"source {_persistence(sequence.unlogged)}"
            )
    return lines


def _statistics_differences(
    source: Table, mapped: TableMap, target: Table, types: dict[str, str]
) -> list[str]:
    """Lines for an extended statistics object the final table lacks or differs in."""
    names = {x.source: x.name for x in mapped.statistics}

    def shown(table: Table, columns: dict[str, str], rename: bool) -> list[tuple]:
        return sorted(
            (m.name, m.definition, m.target)
            for m in (
                statistics_map(
                    x,
                    columns,
                    names.get(x.name, x.name) if rename else x.name,
                    types if rename else {},
                )
                for x in table.statistics
            )
        )

    expected = shown(source, mapped.columns, True)
    found = shown(target, {c.name: c.name for c in target.columns}, False)
    if found == expected:
        return []
    return [f"{mapped.target}: statistics {found}, source as renamed {expected}"]


def _settings_differences(source: Table, mapped: TableMap, target: Table) -> list[str]:
    """A line when the final table's settings are not the source table's.

    Storage parameters, replica identity, clustering index, and the
    columns' statistics targets, storage and compression, as the ``ALTER
    TABLE`` actions that give them (``mapping.table_settings``).
    """
    expected = table_settings(
        source.settings,
        mapped.columns,
        {o.source: o.name for o in [*mapped.keys, *mapped.indexes]},
    )
    own = [
        c.name
        for c in [target.primary_key, *target.uniques, *target.exclusions]
        if c is not None
    ] + [i.name for i in target.indexes]
    found = table_settings(
        target.settings,
        {c.name: c.name for c in target.columns},
        {name: name for name in own},
    )
    if found == expected:
        return []
    return [f"{mapped.target}: settings {found}, source as renamed {expected}"]


def _partition_differences(
    mapped: TableMap, target: Table, kept: Differences
) -> list[str]:
    """Lines for a partition key or a partition that differs.

    A partition is its name, the table it is a partition of, its bound and,
    when it is partitioned itself, its key; then its comment, its own
    column defaults and NOT NULL (``PartitionMap.defaults``, ``not_null``),
    constraints, indexes and foreign keys. The bounds of both sides are
    printed under the same settings (``catalog.PARTITION_SETTINGS``). A
    partition the team added, which the last publish carried over, is kept,
    and so is what is on it (its own keys and indexes, carried over with it);
    so is what the team made on a partition of the source's (an index, a
    check, a comment of its own), which the last publish carried over too.
    """
    name = mapped.target
    lines = []
    if mapped.partition_key != target.partition_key:
        lines.append(
            f"{name}: partitioned by {target.partition_key!r}, "
            f"source {mapped.partition_key!r}"
        )
    lines += _diff_sets(
        name,
        "partition",
        [(p.name, p.parent, p.bound, p.key) for p in mapped.partitions],
        [(p.name, p.parent, p.bound, p.key) for p in target.partitions],
        kept,
    )
    lines += _diff_sets(
        name,
        "partition comment",
        [(p.name, p.comment) for p in mapped.partitions if p.comment is not None],
        [(p.name, p.comment) for p in target.partitions if p.comment is not None],
        kept,
        lambda found: str(found[0]),
    )
    # The defaults and NOT NULL of a partition alone (not its table's).
    lines += _diff_sets(
        name,
        "partition default",
        [(p.name, c, d) for p in mapped.partitions for c, d in p.defaults.items()],
        [
            (p.name, c.name, c.default)
            for p in target.partitions
            for c in p.columns
            if c.own_default
        ],
        kept,
    )
    lines += _diff_sets(
        name,
        "partition NOT NULL",
        [(p.name, c) for p in mapped.partitions for c in p.not_null],
        [(p.name, c.name) for p in target.partitions for c in p.columns if c.not_null],
        kept,
    )
    # The constraints and indexes of a partition alone.
    lines += _diff_sets(
        name,
        "partition constraint",
        [
            (p.name, c.name, c.definition)
            for p in mapped.partitions
            for c in [*p.keys, *p.checks]
        ],
        [
            (p.name, c.name, c.definition)
            for p in target.partitions
            for c in p.constraints
        ],
        kept,
        _on_partition,
    )
    lines += _diff_sets(
        name,
        "partition index",
        [
            (p.name, i.name, i.unique, i.using)
            for p in mapped.partitions
            for i in p.indexes
        ],
        [
            (p.name, i.name, i.unique, index_using(i.definition))
            for p in target.partitions
            for i in p.indexes
        ],
        kept,
        _on_partition,
    )
    lines += _diff_sets(
        name,
        "partition foreign key",
        [
            (p.name, fk.name, tuple(fk.columns), fk.to_schema, fk.to)
            + (tuple(fk.to_columns),)
            + (fk.on_delete, fk.on_update, fk.deferrable, fk.initially_deferred)
            + (fk.match_full, tuple(fk.delete_columns))
            for p in mapped.partitions
            for fk in p.foreign_keys
        ],
        [
            (p.name, fk.name, tuple(fk.columns), fk.ref_schema, fk.ref_table)
            + (tuple(fk.ref_columns),)
            + (fk.on_delete, fk.on_update, fk.deferrable, fk.initially_deferred)
            + (fk.match_full, tuple(fk.delete_columns))
            for p in target.partitions
            for fk in p.foreign_keys
        ],
        kept,
        _on_partition,
    )
    return lines


def intended(
    lines: Iterable[str], declared: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Split differences into (unexpected, declared as intended).

    Args:
        lines: The differences.
        declared: Prefixes the override file lists under
            ``intended_differences``.

    Returns:
        The differences not declared, and those declared.
    """
    prefixes = tuple(declared)
    unexpected, accepted = [], []
    for line in lines:
        (accepted if prefixes and line.startswith(prefixes) else unexpected).append(
            line
        )
    return unexpected, accepted
