"""Routine and trigger parity: what the build created is still there, as built.

Scaffold recorded which of the source's functions, procedures, aggregates
and triggers migrate (``models/pgshift_routines.json``, status "migrated").
On the target each must be there: a function or procedure in the final
schema under its target signature, with the body the build gave it (the
source's, renamed by ``routines.rewrite`` as scaffold renamed it) and the
source's volatility, SECURITY DEFINER, STRICT, LEAKPROOF, PARALLEL, COST
and ROWS, an aggregate under its signature; a trigger on its final table under its name,
firing at the same time for the same events and rows, on the same UPDATE OF
columns (renamed), executing the function of the same name, in the same
state (enabled, disabled, replica, always). A trigger the team dropped, a
function body replaced on the target, or a trigger disabled there is a
difference; a routine left out for review is listed as such elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from pgshift.connection import undoable
from pgshift.manifest import OtherBuilds
from pgshift.mapping import NameMap
from pgshift.routines import SCHEMA, Routine, read_routines, recorded, rewrite
from pgshift.sqlident import regprocedure_input

# What a routine's header says besides names: its volatility, SECURITY
# DEFINER, STRICT, LEAKPROOF, PARALLEL, COST and ROWS.
_OPTIONS = """p.provolatile::text, p.prosecdef, p.proisstrict, p.proleakproof,
       p.proparallel::text, p.procost::float8, p.prorows::float8"""

_TARGET_ROUTINE = f"""
select p.prosrc, {_OPTIONS},
       (select x.extname::text from pg_depend d
        join pg_extension x on x.oid = d.refobjid
        where d.classid = 'pg_proc'::regclass and d.objid = p.oid
          and d.deptype = 'e')
from pg_proc p
where p.oid = to_regprocedure(%s)
"""

_SOURCE_ROUTINE = f"""
select {_OPTIONS}
from pg_proc p
where p.oid = %s
"""

_OPTION_LABELS = (
    "volatility",
    "security definer",
    "strict",
    "leakproof",
    "parallel",
    "cost",
    "rows",
)

_TRIGGERS = """
select c.relname::text, t.tgname::text, t.tgtype::int, t.tgenabled::text,
       p.proname::text,
       array(select a.attname::text from unnest(t.tgattr) as k (attnum)
             join pg_attribute a on a.attrelid = t.tgrelid and a.attnum = k.attnum
             order by a.attnum),
       t.tgqual is not null
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_proc p on p.oid = t.tgfoid
where c.relnamespace = to_regnamespace(quote_ident(%s))
  and not t.tgisinternal and t.tgparentid = 0
"""


def _migrated(project_dir: Path) -> dict[str, set[str]]:
    """Kind to the names scaffold recorded as migrated."""
    found: dict[str, set[str]] = {}
    for entry in recorded(project_dir):
        if entry["status"] == "migrated":
            found.setdefault(entry["kind"], set()).add(entry["name"])
    return found


def _body(routine: Routine, schema: str) -> str | None:
    """The body the build gave a function: its rewritten definition's ``AS``."""
    import pglast
    from pglast import ast

    try:
        statement = pglast.parse_sql(routine.definition.replace(SCHEMA, schema))[0].stmt
    except pglast.parser.ParseError:
        return None
    for option in getattr(statement, "options", None) or ():
        if isinstance(option, ast.DefElem) and option.defname == "as":
            values = option.arg if isinstance(option.arg, tuple) else (option.arg,)
            return str(values[0].sval)
    return None


def _target_routine(cursor: Any, signature: str) -> tuple | None:
    """The target's routine of that signature (body and options), or None.

    ``to_regprocedure`` raises on PostgreSQL 15 and older, rather than
    giving NULL, for an argument type the target does not have (a table's
    row type, where the build failed before publishing it): the routine is
    then not there.
    """
    try:
        with undoable(cursor):
            cursor.execute(_TARGET_ROUTINE, (regprocedure_input(signature),))
            found: tuple | None = cursor.fetchone()
    except psycopg2.Error:
        found = None
    return found


def routine_differences(
    source_cursor: Any,
    target_cursor: Any,
    names: NameMap,
    source_schema: str,
    final_schema: str,
    project_dir: Path,
    elsewhere: OtherBuilds | None = None,
) -> list[str]:
    """One line per migrated routine or trigger missing or changed on the target.

    ``elsewhere``: what earlier runs built into other final schemas, whose
    tables and types the bodies were renamed through.
    """
    migrated = _migrated(project_dir)
    if not migrated:
        return []
    done = rewrite(
        read_routines(source_cursor, source_schema),
        names,
        final_schema=final_schema,
        elsewhere=elsewhere.parents if elsewhere else None,
        elsewhere_types=elsewhere.types if elsewhere else None,
    )
    # As the build writes it into the definitions: always quoted.
    schema = sql.Identifier(final_schema).as_string(target_cursor)
    lines = []
    for routine in done.routines:
        # Operators and casts are named otherwise, and hold no body.
        if routine.kind not in ("function", "procedure", "aggregate"):
            continue
        if routine.label not in migrated.get(routine.kind, set()):
            continue
        signature = routine.signature.replace(SCHEMA, schema)
        found = _target_routine(target_cursor, signature)
        if found is None:
            lines.append(f"{routine.kind} {signature}: missing on the target")
            continue
        found, extension = found[:-1], found[-1]
        if extension is not None:
            # The build could not create it there: the extension's own is.
            lines.append(
                f"{routine.kind} {signature}: missing on the target, where "
                f"extension {extension}'s function of that name and argument "
                "types is"
            )
            continue
        body = (
            _body(routine, schema) if routine.language in ("plpgsql", "sql") else None
        )
        if body is not None and routine.body and found[0] != body:
            lines.append(
                f"{routine.kind} {signature}: its body differs from the one the "
                "build gave it (the source's, renamed)"
            )
        source_cursor.execute(_SOURCE_ROUTINE, (routine.oid,))
        options = source_cursor.fetchone()
        if options is not None:
            for label, want, have in zip(
                _OPTION_LABELS, options, found[1:], strict=True
            ):
                if want != have:
                    lines.append(
                        f"{routine.kind} {signature}: {label} {have!r}, source {want!r}"
                    )
    target_cursor.execute(_TRIGGERS, (final_schema,))
    on_target = {(row[0], row[1]): row[2:] for row in target_cursor.fetchall()}
    source_cursor.execute(_TRIGGERS, (source_schema,))
    on_source = {(row[0], row[1]): row[2:] for row in source_cursor.fetchall()}
    for trigger in done.triggers:
        if trigger.label not in migrated.get("trigger", set()):
            continue
        mapped = names.tables.get(trigger.table)
        if mapped is None:
            continue
        where = f"trigger {trigger.name} on {mapped.target}"
        found = on_target.get((mapped.target, trigger.name))
        shape = on_source.get((trigger.table, trigger.name))
        if found is None:
            lines.append(f"{where}: missing on the target")
            continue
        if shape is None:
            continue
        tgtype, enabled, function, columns, has_when = shape
        expected = (
            tgtype,
            enabled,
            function,
            sorted(mapped.columns.get(c, c) for c in columns),
            has_when,
        )
        got = (found[0], found[1], found[2], sorted(found[3]), found[4])
        labels = ("timing and events", "state", "function", "UPDATE OF", "WHEN")
        for label, want, have in zip(labels, expected, got, strict=True):
            if want != have:
                lines.append(f"{where}: {label} {have!r}, source {want!r}")
    return lines
