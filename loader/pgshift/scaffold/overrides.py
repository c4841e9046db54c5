"""Every name the override file gives must name something the source has.

An entry whose source name matches nothing (``InvoiceLines`` for the table
``InvoiceLine``, ``userId`` under a table whose column is ``userID``) would
otherwise be skipped, and the object it meant would get the naming rules'
name instead of the one the application expects: a migration that exits 0
with the wrong names. Scaffold refuses such a file, naming each entry and
the source names closest to it.

Names are looked up in every schema of the source, not only the one
migrated, so that one override file can serve the runs of several schemas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pgshift.naming import NamingError, Overrides, closest_names
from pgshift.schemas import NOT_SYSTEM_SCHEMA

_RELATIONS = f"""
select c.relname::text,
       coalesce(array_agg(a.attname::text) filter (where a.attname is not null), '{{}}')
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a
       on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and {NOT_SYSTEM_SCHEMA}
group by c.relname
"""

# What ``objects: <table>:`` may name: the table's constraints, indexes,
# statistics objects, triggers and policies, and the sequences that depend
# on it (owned by a column, or an identity's); ``objects: <domain>:``, the
# domain's check constraints.
_OBJECTS = f"""
select c.relname::text, o.name
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join lateral (
    select conname::text as name from pg_constraint where conrelid = c.oid
    union all
    select i.relname::text from pg_index x join pg_class i on i.oid = x.indexrelid
    where x.indrelid = c.oid
    union all
    select stxname::text from pg_statistic_ext where stxrelid = c.oid
    union all
    select tgname::text from pg_trigger where tgrelid = c.oid and not tgisinternal
    union all
    select polname::text from pg_policy where polrelid = c.oid
    union all
    select s.relname::text from pg_depend d join pg_class s on s.oid = d.objid
    where d.classid = 'pg_class'::regclass and d.refobjid = c.oid
      and d.deptype in ('a', 'i') and s.relkind = 'S'
) o
where c.relkind in ('r', 'p', 'v', 'm', 'f') and {NOT_SYSTEM_SCHEMA}
union all
select t.typname::text, con.conname::text
from pg_constraint con
join pg_type t on t.oid = con.contypid
join pg_namespace n on n.oid = t.typnamespace
where t.typtype = 'd' and {NOT_SYSTEM_SCHEMA}
"""

# Enums, domains, composite and range types: not arrays or tables' row types.
_TYPES = f"""
select t.typname::text
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
where t.typcategory <> 'A'
  and (t.typrelid = 0
       or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
  and {NOT_SYSTEM_SCHEMA}
"""


@dataclass
class SourceNames:
    """The names an override entry may refer to, from every schema of the source.

    Attributes:
        relations: Table, partition, view, materialized view, foreign table
            and sequence names, each to its columns.
        objects: Relation name to the names of its constraints, indexes,
            statistics objects, triggers, policies and dependent sequences.
        types: Type names.
        schemas: Schema names.
    """

    relations: dict[str, set[str]] = field(default_factory=dict)
    objects: dict[str, set[str]] = field(default_factory=dict)
    types: set[str] = field(default_factory=set)
    schemas: set[str] = field(default_factory=set)


def read_source_names(cursor: Any, schemas: Iterable[str]) -> SourceNames:
    """Read every name an override entry may refer to from the source.

    Args:
        cursor: A cursor on the source.
        schemas: The source's schemas, as the run's plan found them
            (``pgshift.schemas.read_schemas``).
    """
    names = SourceNames(schemas=set(schemas))
    cursor.execute(_RELATIONS)
    for relation, columns in cursor.fetchall():
        names.relations.setdefault(relation, set()).update(columns)
    cursor.execute(_OBJECTS)
    for relation, name in cursor.fetchall():
        names.objects.setdefault(relation, set()).add(name)
    cursor.execute(_TYPES)
    names.types = {name for (name,) in cursor.fetchall()}
    return names


def check_override_names(overrides: Overrides, source: SourceNames, path: str) -> None:
    """Refuse an override file with an entry that names nothing on the source.

    Args:
        overrides: The override file's entries.
        source: What the source holds (``read_source_names``).
        path: The override file, for the message.

    Raises:
        NamingError: One line per entry matching nothing, with the closest
            source names.
    """
    problems: list[str] = []
    problems += _unknown("tables", overrides.tables, source.relations, "a table")
    problems += _unknown("types", overrides.types, source.types, "a type")
    problems += _unknown("schemas", overrides.schemas, source.schemas, "a schema")
    for section, entries, within in (
        ("columns", overrides.columns, source.relations),
        ("objects", overrides.objects, source.objects),
    ):
        problems += _unknown(section, entries, source.relations, "a table")
        for table, names in entries.items():
            if table in source.relations:
                what = "a column of" if section == "columns" else "an object of"
                problems += _unknown(
                    f"{section}: {table}",
                    names,
                    within.get(table, set()),
                    what + " " + table,
                )
    if problems:
        raise NamingError(
            f"{path} names what the source does not have: the entries below "
            "would be skipped and the naming rules' names used instead. Correct "
            "or remove them:\n" + "\n".join(f"  {p}" for p in problems)
        )


def _unknown(
    section: str, entries: Mapping[str, Any], known: Iterable[str], what: str
) -> list[str]:
    """One line for each entry of a section whose key ``known`` lacks."""
    known = set(known)
    lines = []
    for name in entries:
        if name in known:
            continue
        close = closest_names(name, known)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        lines.append(f"{section}: {name!r} is not {what} of the source{hint}")
    return lines
