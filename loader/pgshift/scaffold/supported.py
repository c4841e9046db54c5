"""What stops a source table from arriving on the target as it is."""

from __future__ import annotations

import shlex

from pgshift.catalog import Catalog, ForeignKey, FunctionSignature
from pgshift.schemas import own_run
from pgshift.settings import names_argument
from pgshift.sqlident import render_ident


class ScaffoldError(ValueError):
    """The source schema cannot be scaffolded as it is."""


def _inheritance_problems(catalog: Catalog) -> list[tuple[str, str]]:
    """(child, line) for each migrated table whose rows a migrated ancestor holds.

    Reading an inheritance parent returns its children's rows too: with both
    tables migrated, those rows would arrive twice, once in each.
    """
    tables = catalog.tables
    problems = []
    for name, table in tables.items():
        ancestors, stack = [], list(table.inherits)
        while stack:
            parent = stack.pop()
            if parent in tables and parent not in ancestors:
                ancestors.append(parent)
                stack.extend(tables[parent].inherits)
        for parent in sorted(ancestors):
            problems.append(
                (
                    name,
                    f"{name} inherits {parent} (not a partition): reading "
                    f"{parent} returns the rows of {name} too, so both target "
                    f"tables would hold them; exclude {name} (its rows arrive "
                    f"in {parent}, with {parent}'s columns) or {parent}",
                )
            )
    return problems


def _with_children(catalog: Catalog, tables: list[str]) -> list[str]:
    """The tables, and every migrated table whose foreign keys lead to one.

    Leaving a table out leaves out whatever references it, or the next
    scaffold stops on those keys (``check_references``).
    """
    left_out = set(tables)
    added = True
    while added:
        added = False
        for name, table in catalog.tables.items():
            keys = [*table.foreign_keys]
            keys += [fk for p in table.partitions for fk in p.foreign_keys]
            if name not in left_out and any(
                fk.ref_schema is None and fk.ref_table in left_out for fk in keys
            ):
                left_out.add(name)
                added = True
    return sorted(left_out)


def exclude_advice(catalog: Catalog, tables: list[str]) -> str:
    """How to leave the tables out: one ``--exclude``, ready to paste.

    It names the tables whose foreign keys reference them too, or the next
    scaffold would stop on those keys.
    """
    excluded = _with_children(catalog, tables)
    children = [name for name in excluded if name not in tables]
    schema = (
        ""
        if catalog.schema == "public"
        else f"--schemas {shlex.quote(catalog.schema)} "
    )
    return (
        f"leave these tables out with `python loader/run.py {schema}--exclude "
        f"{names_argument(excluded)} scaffold`"
        + (
            f" ({', '.join(children)}: their foreign keys reference them)"
            if children
            else ""
        )
        + " (add any tables you already exclude and this run's other options, "
        "--final-schema among them, and pass the same --exclude to migrate)"
    )


def check_supported(catalog: Catalog) -> None:
    """Stop when a migrated table cannot arrive on the target as it is.

    Args:
        catalog: The source catalog, excluded tables already left out.

    Raises:
        ScaffoldError: One line per offending column, expression, table or
            domain, then what to do.
    """
    lines: list[str] = []
    offending: list[str] = []
    for name, table in catalog.tables.items():
        lines += table.unsupported
        if table.unsupported:
            offending.append(name)
    for child, line in _inheritance_problems(catalog):
        lines.append(line)
        if child not in offending:
            offending.append(child)
    lines += catalog.unsupported
    # One problem found through several columns (a multi-column index) is
    # one line.
    lines = list(dict.fromkeys(lines))
    if not lines:
        return
    advice = []
    if offending:
        advice.append(
            exclude_advice(catalog, offending) + ", or change them on the source"
        )
    if catalog.unsupported:
        advice.append(
            "domains are created on the target whichever tables migrate: "
            "change those on the source"
        )
    raise ScaffoldError(
        "these source columns and objects cannot be migrated as they are:\n"
        + "\n".join(f"  {line}" for line in lines)
        + "\n"
        + "; ".join(advice)
    )


def check_references(catalog: Catalog) -> None:
    """Stop when migrated tables' foreign keys point at tables left out.

    A key into another schema is kept when the target holds its parent
    (``Catalog.target_parents``), as Supabase's ``auth.users`` is there; a
    table's key into a schema of the source that a run of its own may
    migrate waits for that run (``Catalog.waits``).
    Every such key is named at once.

    Raises:
        ScaffoldError: Naming each key and the table to include or exclude.
    """
    lines = []
    for name, table in catalog.tables.items():
        owners = [(name, "", table.foreign_keys)] + [
            (p.name, f" (a foreign key of a partition of {name})", p.foreign_keys)
            for p in table.partitions
        ]
        for owner, which, keys in owners:
            for fk in keys:
                if fk.ref_schema is not None and not which and catalog.waits(fk):
                    # The run that migrates its schema adds it (waiting_keys).
                    line = None
                elif fk.ref_schema is not None:
                    line = _outside(catalog, name, owner, which, fk)
                elif fk.ref_table not in catalog.tables:
                    line = (
                        f"{owner}.{fk.name}{which} references {fk.ref_table}, "
                        "which is not part of the migration: include it or "
                        f"exclude {name} as well"
                    )
                else:
                    line = None
                if line is not None:
                    lines.append(line)
    if len(lines) == 1:
        raise ScaffoldError(lines[0])
    if lines:
        raise ScaffoldError(
            "these foreign keys reference tables outside the migration:\n"
            + "\n".join(f"  {line}" for line in lines)
        )


def _outside(
    catalog: Catalog, name: str, owner: str, which: str, fk: ForeignKey
) -> str | None:
    """Why a key into another schema cannot be kept, or None when it can."""
    schema, table, columns = catalog.outside_parent(fk)
    if (schema, table, tuple(sorted(columns))) in catalog.target_parents:
        return None
    assert fk.ref_schema is not None
    columns = ", ".join(render_ident(c) for c in fk.ref_columns)
    line = (
        f"{owner}.{fk.name}{which} references "
        f"{render_ident(fk.ref_schema)}.{render_ident(fk.ref_table)} ({columns}), "
        f"in another schema than {catalog.schema}"
    )
    kept = (
        "the key is kept when the target has that table with a unique key on "
        "those columns (scaffold looks when TARGET_DATABASE_URL is set): "
        "create it there"
    )
    if fk.ref_schema in catalog.later_schemas:
        return (
            f"{line}, which this run does not migrate; {kept}, or migrate that "
            f"schema first, in a run of its own ({own_run(fk.ref_schema)}), "
            "which puts it there under its names "
            "(where the two schemas' keys point at each other, the key waits "
            "for that run once scaffold reads the target); or exclude "
            f"{name}"
        )
    return f"{line}, which pgshift does not migrate; {kept}, or exclude {name}"


def check_extension_functions(
    own: list[FunctionSignature],
    members: list[FunctionSignature],
    final_schema: str,
) -> None:
    """Refuse a routine of the schema that an extension's function would displace.

    MusicBrainz defines its own ``ll_to_earth(float8, float8)`` in its
    schema, with earthdistance's name and argument types, while earthdistance
    is in ``public``. The build creates each extension in its source schema,
    and the schema's routines in the final schema: where those are the same
    schema (``public``), or the target has the extension there already, the
    two functions cannot both be created, and the publish would stop.

    Args:
        own: The migrated schema's functions, procedures and aggregates
            (not an extension's).
        members: The extensions' functions that are, or will be, in the
            final schema on the target (the source's, in a schema of the
            final schema's name, of extensions the build creates; the
            target's, in the final schema).
        final_schema: The schema the migrated routines are created in.

    Raises:
        ScaffoldError: One line per such routine.
    """
    by_key = {m.key: m for m in members}
    clashes = [
        (f, by_key[f.key]) for f in own if f.extension is None and f.key in by_key
    ]
    if not clashes:
        return
    final = render_ident(final_schema)
    lines = [
        f"{function.shown} has the name and argument types of "
        f"{member.shown} of extension {member.extension}, which is in schema "
        f"{final} on the target (the build creates an extension in its source "
        f"schema; the target may have it there already), where the schema's "
        f"routines are created: both cannot be there, and nothing would be "
        f"published. Rename {function.shown} on the source (and what calls "
        "it), or drop it there if the extension's does what it does; or have "
        f"{member.extension} in another schema than {final} (on the source, "
        f"ALTER EXTENSION {render_ident(member.extension or '')} SET SCHEMA "
        "<schema> where the extension allows it and the application's "
        "search_path reaches that schema: the build then creates it there; "
        "on the target, where it is already)"
        for function, member in clashes
    ]
    raise ScaffoldError(
        "the migrated schema's routines collide with extensions' functions:\n  "
        + "\n  ".join(lines)
    )
