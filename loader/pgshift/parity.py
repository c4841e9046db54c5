"""Schema parity: the source catalog and the target's, through the name mapping.

For every migrated table the target must hold, under the mapped names: the
same columns in the same order with the same types, nullability, defaults,
identity and generation; the same primary key, unique and check constraints,
foreign keys (with their actions and deferrability) and secondary indexes,
under their mapped names; the same table and column comments; and every enum
type with the same labels in the same order. Each difference is one line,
``table.object: what differs``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pgshift.catalog import Catalog, Column, Constraint, Table
from pgshift.naming import to_snake
from pgshift.scaffold import Project, TableMapping, key_definition
from pgshift.sqlnames import rename_columns

logger = logging.getLogger(__name__)


def _column_shape(column: Column, default: str | None) -> tuple[object, ...]:
    return (
        column.data_type,
        column.not_null,
        default,
        column.identity,
        column.generated,
        column.comment,
    )


def _expected_default(column: Column, mapped: TableMapping) -> str | None:
    if column.default is None:
        return None
    if column.serial_sequence:
        return "serial"
    return rename_columns(column.default, mapped.columns)


def _target_default(column: Column) -> str | None:
    if column.serial_sequence:
        return "serial"
    return column.default


def _diff_sets(
    where: str, what: str, expected: Iterable[object], found: Iterable[object]
) -> list[str]:
    expected_set, found_set = set(expected), set(found)
    lines = [f"{where}: {what} {e} is missing" for e in expected_set - found_set]
    lines += [
        f"{where}: {what} {f} is not in the source" for f in found_set - expected_set
    ]
    return sorted(lines)


def _table_differences(
    mapped: TableMapping, target: Table, project: Project
) -> list[str]:
    source = mapped.table
    name = mapped.target
    lines: list[str] = []
    expected_columns = [mapped.columns[c.name] for c in source.columns]
    found_columns = [c.name for c in target.columns]
    if expected_columns != found_columns:
        lines.append(
            f"{name}: columns {found_columns} differ from the source's "
            f"{expected_columns} (names or order)"
        )
    found_by_name = {c.name: c for c in target.columns}
    for column in source.columns:
        target_name = mapped.columns[column.name]
        found = found_by_name.get(target_name)
        if found is None:
            continue
        expected = _column_shape(column, _expected_default(column, mapped))
        actual = _column_shape(found, _target_default(found))
        labels = ("type", "not null", "default", "identity", "generated", "comment")
        for label, want, got in zip(labels, expected, actual, strict=True):
            if want != got:
                lines.append(f"{name}.{target_name}: {label} {got!r}, source {want!r}")
    if (source.comment or None) != (target.comment or None):
        lines.append(f"{name}: comment {target.comment!r}, source {source.comment!r}")

    def key(constraint: Constraint | None) -> tuple[str, str] | None:
        if constraint is None:
            return None
        return (constraint.name, constraint.definition)

    pk = source.primary_key
    expected_pk = (to_snake(pk.name), key_definition(pk, mapped)) if pk else None
    if expected_pk != key(target.primary_key):
        lines.append(
            f"{name}: primary key {key(target.primary_key)}, source {expected_pk}"
        )
    lines += _diff_sets(
        name,
        "unique constraint",
        [(to_snake(u.name), key_definition(u, mapped)) for u in source.uniques],
        [key(u) for u in target.uniques],
    )
    lines += _diff_sets(
        name,
        "check",
        [
            (to_snake(c.name), rename_columns(c.definition, mapped.columns))
            for c in source.checks
        ],
        [(c.name, c.definition) for c in target.checks],
    )
    lines += _diff_sets(
        name,
        "foreign key",
        [
            (
                to_snake(fk.name),
                tuple(mapped.columns[c] for c in fk.columns),
                project.tables[fk.ref_table].target,
                tuple(project.tables[fk.ref_table].columns[c] for c in fk.ref_columns),
                fk.on_delete,
                fk.on_update,
                fk.deferrable,
                fk.initially_deferred,
            )
            for fk in source.foreign_keys
            if fk.ref_table in project.tables
        ],
        [
            (
                fk.name,
                tuple(fk.columns),
                fk.ref_table,
                tuple(fk.ref_columns),
                fk.on_delete,
                fk.on_update,
                fk.deferrable,
                fk.initially_deferred,
            )
            for fk in target.foreign_keys
        ],
    )
    lines += _diff_sets(
        name,
        "index",
        [
            (
                to_snake(i.name),
                i.unique,
                rename_columns(i.definition.partition(" USING ")[2], mapped.columns),
            )
            for i in source.indexes
        ],
        [
            (i.name, i.unique, i.definition.partition(" USING ")[2])
            for i in target.indexes
        ],
    )
    return lines


def compare(source: Catalog, target: Catalog, project: Project) -> list[str]:
    """List every difference between the source schema and the target schema.

    Args:
        source: The source catalog.
        target: The target catalog (the final schema).
        project: The name mapping the scaffold applied.

    Returns:
        One line per difference; empty when the schemas are twins.
    """
    lines: list[str] = []
    for enum, labels in source.enums.items():
        found = target.enums.get(enum)
        if found != labels:
            lines.append(f"type {enum}: labels {found}, source {labels}")
    for mapped in project.tables.values():
        found = target.tables.get(mapped.target)
        if found is None:
            lines.append(f"{mapped.target}: missing on the target")
            continue
        lines += _table_differences(mapped, found, project)
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
