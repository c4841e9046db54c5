"""Comments on the schema's objects that are not tables, columns or views.

Tables', columns' and views' comments travel with them (dbt's
``persist_docs``, the views' own settings). The comments on everything else
the target gets are read here: indexes, primary key, unique, check, exclusion
and foreign key constraints, a domain's checks, triggers, policies,
functions, procedures and aggregates, enum, domain and composite types,
sequences, and the schema itself where it lands in a final schema of its own
(``--final-schema``; PostgREST shows it as its API's description). Each is
mapped through the name map to the object's target name
(``map_comments``), written by scaffold into the name map, set by the
publish once every object is there (``pgshift_publish_comments``), and
compared by schema parity (``comment_differences``).

A comment on an object the target does not get (a table left out, a
function needing review) is not carried: the object itself is listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pgshift.mapping import CommentMap, NameMap
from pgshift.sqlident import regprocedure_input, render_ident, unquote_ident

_COMMENTS = """
select 'index', t.relname::text, i.relname::text, d.description
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_class t on t.oid = x.indrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_description d on d.objoid = i.oid and d.classoid = 'pg_class'::regclass
                     and d.objsubid = 0
where n.nspname = %(schema)s and t.relkind in ('r', 'p')
union all
select 'constraint', t.relname::text, c.conname::text, d.description
from pg_constraint c
join pg_class t on t.oid = c.conrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_description d on d.objoid = c.oid
                     and d.classoid = 'pg_constraint'::regclass
where n.nspname = %(schema)s and t.relkind in ('r', 'p')
union all
select 'domain constraint', ty.typname::text, c.conname::text, d.description
from pg_constraint c
join pg_type ty on ty.oid = c.contypid
join pg_namespace n on n.oid = ty.typnamespace
join pg_description d on d.objoid = c.oid
                     and d.classoid = 'pg_constraint'::regclass
where n.nspname = %(schema)s
union all
select 'trigger', t.relname::text, g.tgname::text, d.description
from pg_trigger g
join pg_class t on t.oid = g.tgrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_description d on d.objoid = g.oid and d.classoid = 'pg_trigger'::regclass
where n.nspname = %(schema)s and not g.tgisinternal
union all
select 'policy', t.relname::text, p.polname::text, d.description
from pg_policy p
join pg_class t on t.oid = p.polrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_description d on d.objoid = p.oid and d.classoid = 'pg_policy'::regclass
where n.nspname = %(schema)s
union all
select 'routine', null,
       format('%%I.%%I(%%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
       d.description
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_description d on d.objoid = p.oid and d.classoid = 'pg_proc'::regclass
where n.nspname = %(schema)s
union all
select 'type', null, ty.typname::text, d.description
from pg_type ty
join pg_namespace n on n.oid = ty.typnamespace
join pg_description d on d.objoid = ty.oid and d.classoid = 'pg_type'::regclass
where n.nspname = %(schema)s
union all
select 'sequence', null, s.relname::text, d.description
from pg_class s
join pg_namespace n on n.oid = s.relnamespace
join pg_description d on d.objoid = s.oid and d.classoid = 'pg_class'::regclass
                     and d.objsubid = 0
where n.nspname = %(schema)s and s.relkind = 'S'
union all
select 'schema', null, n.nspname::text, d.description
from pg_namespace n
join pg_description d on d.objoid = n.oid and d.classoid = 'pg_namespace'::regclass
where n.nspname = %(schema)s
order by 1, 2, 3
"""


PUBLIC_COMMENT = "standard public schema"
"""The comment PostgreSQL gives the schema public of a new database."""


@dataclass(frozen=True)
class SourceComment:
    """A comment on one of the source schema's objects.

    Attributes:
        kind: "index", "constraint", "domain constraint", "trigger",
            "policy", "routine", "type", "sequence" or "schema".
        owner: The table (or, for a domain constraint, the domain) the object
            belongs to; None for objects of the schema itself.
        name: The object's name; a routine's identity on the source
            (``public.f(integer)``).
        text: The comment.
    """

    kind: str
    owner: str | None
    name: str
    text: str


def read_comments(cursor: Any, schema: str) -> list[SourceComment]:
    """Read the comments of the schema's objects (tables, columns, views aside).

    Args:
        cursor: An open psycopg2 cursor on the source database.
        schema: The schema to read.

    Returns:
        One entry per comment, by kind, owner and name.
    """
    cursor.execute(_COMMENTS, {"schema": schema})
    return [SourceComment(*row) for row in cursor.fetchall()]


def map_comments(
    found: Iterable[SourceComment],
    names: NameMap,
    routines: Iterable[tuple[str, str, str]] = (),
    created_triggers: Iterable[tuple[str, str]] = (),
) -> list[CommentMap]:
    """The comments the target gets, on the objects' target names.

    Args:
        found: What ``read_comments`` read.
        names: The applied name map.
        routines: (source identity, kind, target ``name(types)``) of each
            function, procedure and aggregate the build creates.
        created_triggers: (source table, trigger name) of each trigger the
            build creates.

    Returns:
        One entry per comment whose object the target gets.
    """
    created = {source: (kind, target) for source, kind, target in routines}
    triggers = set(created_triggers)
    out: list[CommentMap] = []
    for comment in found:
        mapped = _target(comment, names, created, triggers)
        if mapped is not None:
            kind, name, on = mapped
            table = names.tables.get(comment.owner or "")
            out.append(
                CommentMap(
                    kind=kind,
                    name=name,
                    on=on,
                    text=comment.text,
                    table=table.target if table and kind != "domain constraint" else "",
                )
            )
    return out


def _target(
    comment: SourceComment,
    names: NameMap,
    routines: dict[str, tuple[str, str]],
    triggers: set[tuple[str, str]],
) -> tuple[str, str, str] | None:
    """(kind, target name as SQL, owner's target name) or None if not carried."""
    if comment.kind == "schema":
        # Onto a final schema of its own: `public` is the target's, whose
        # comment stays its own (and which the migrating role may not own);
        # PostgreSQL's own comment on public is no comment of the source's.
        if names.final_schema == "public" or comment.text == PUBLIC_COMMENT:
            return None
        return ("schema", "", "")
    if comment.kind == "routine":
        created = routines.get(comment.name)
        return (created[0], created[1], "") if created else None
    if comment.kind == "type":
        target = names.types.get(comment.name)
        return ("type", render_ident(target), "") if target else None
    if comment.kind == "sequence":
        sequence = names.sequences.get(comment.name)
        return ("sequence", render_ident(sequence.name), "") if sequence else None
    if comment.kind == "domain constraint":
        domain = names.types.get(comment.owner or "")
        if domain is None:
            return None
        name = names.domain_constraints.get(comment.owner or "", {}).get(
            comment.name, comment.name
        )
        return ("domain constraint", render_ident(name), render_ident(domain))
    table = names.tables.get(comment.owner or "")
    if table is None:
        return None
    on = render_ident(table.target)
    if comment.kind == "index":
        objects = [*table.indexes, *table.keys]
        target = next((o.name for o in objects if o.source == comment.name), None)
        return ("index", render_ident(target), "") if target else None
    if comment.kind == "constraint":
        objects = [*table.keys, *table.checks, *table.foreign_keys]
        target = next((o.name for o in objects if o.source == comment.name), None)
        return ("constraint", render_ident(target), on) if target else None
    if comment.kind == "trigger":
        if (table.source, comment.name) not in triggers:
            return None
        return ("trigger", render_ident(comment.name), on)
    if comment.kind == "policy":
        if not any(
            p.table == table.target and p.name == comment.name for p in names.policies
        ):
            return None
        return ("policy", render_ident(comment.name), on)
    return None


def _address(comment: CommentMap, schema: str) -> str:
    """What ``COMMENT ON`` names, in the given schema."""
    qualified = f"{render_ident(schema)}."
    if comment.kind == "schema":
        return f"schema {render_ident(schema)}"
    if comment.kind == "domain constraint":
        return f"constraint {comment.name} on domain {qualified}{comment.on}"
    if comment.on:
        return f"{comment.kind} {comment.name} on {qualified}{comment.on}"
    return f"{comment.kind} {qualified}{comment.name}"


_TARGET_COMMENT = """
select coalesce(
    obj_description(case when %(kind)s = 'schema'
                         then to_regnamespace(%(schema)s)::oid end, 'pg_namespace'),
    obj_description(case when %(kind)s in ('index', 'sequence')
                         then to_regclass(%(object)s)::oid end, 'pg_class'),
    obj_description(case when %(kind)s = 'type'
                         then to_regtype(%(object)s)::oid end, 'pg_type'),
    obj_description(case when %(kind)s in ('function', 'procedure', 'aggregate')
                         then to_regprocedure(%(object)s)::oid end, 'pg_proc'),
    (select obj_description(c.oid, 'pg_constraint') from pg_constraint c
     where %(kind)s = 'constraint' and c.conname = %(name)s
       and c.conrelid = to_regclass(%(on)s)),
    (select obj_description(c.oid, 'pg_constraint') from pg_constraint c
     where %(kind)s = 'domain constraint' and c.conname = %(name)s
       and c.contypid = to_regtype(%(on)s)),
    (select obj_description(g.oid, 'pg_trigger') from pg_trigger g
     where %(kind)s = 'trigger' and g.tgname = %(name)s
       and g.tgrelid = to_regclass(%(on)s)),
    (select obj_description(p.oid, 'pg_policy') from pg_policy p
     where %(kind)s = 'policy' and p.polname = %(name)s
       and p.polrelid = to_regclass(%(on)s)))
"""


def comment_differences(
    cursor: Any,
    names: NameMap,
    schema: str,
    selects: Callable[[str], bool] = lambda _: True,
) -> list[str]:
    """Each carried comment the target does not hold as the source's.

    Args:
        cursor: An open cursor on the target database.
        names: The applied name map, holding the comments.
        schema: The final schema.
        selects: Whether the run migrates a source table: the comments on
            the objects of the others are not compared.

    Returns:
        One line per difference: ``comment on <object>: <found>, source <text>``.
    """
    lines = []
    qualified = f"{render_ident(schema)}."
    for comment in names.comments:
        table = names.table_for_target(comment.table) if comment.table else None
        if table is not None and not selects(table.source):
            continue
        cursor.execute(
            _TARGET_COMMENT,
            {
                "kind": comment.kind,
                "object": qualified + regprocedure_input(comment.name),
                "name": unquote_ident(comment.name),
                "on": qualified + comment.on,
                "schema": render_ident(schema),
            },
        )
        found = cursor.fetchone()[0]
        if found != comment.text:
            lines.append(
                f"comment on {_address(comment, schema)}: {found!r}, "
                f"source {comment.text!r}"
                + (
                    " (the build sets it where the migrating role owns the "
                    "schema: set it as the schema's owner)"
                    if comment.kind == "schema"
                    else ""
                )
            )
    return lines
