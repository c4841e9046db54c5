"""PostgreSQL renames its own parse trees: views and policies through the map.

A view is stored as a parse tree that names tables and columns by number,
and so is a policy's USING and WITH CHECK expression. Renaming a table or
a column renames every such reference, and ``pg_get_viewdef`` and
``pg_get_expr`` then print the definition in the new names, with
PostgreSQL's own quoting and parenthesising. ``rename_definitions`` relies
on this instead of rewriting SQL text:

1. an empty shadow of every migrated table and of each partition of one
   (``create temp table ... (like ...)``: the same columns, types and
   collations; a table's primary key too, on which a view's GROUP BY may
   rely for the columns it does not name);
2. the source's view and materialized view definitions (``pg_get_viewdef``)
   created over them as temporary views, views on views in dependency
   order (a materialized view stands in as a plain view of its query; a
   WITH query named like a relation the view reads, which PostgreSQL then
   prints schema-qualified, takes another name first: ``unhide_relations``);
3. the source's policies created on the shadows;
4. the shadows, their columns, the views and their columns renamed as the
   map names them (through unique interim names, so that a rename never
   meets a name that is about to move);
5. every definition read back, then everything rolled back.

**Where the shadows live.** In one transaction on the source, rolled back
at the end, in the session's temporary schema. It needs only the TEMP
privilege that PostgreSQL grants on every database by default; it locks no
real table beyond the ACCESS SHARE that reading its shape takes, and leaves
nothing behind (the rollback removes it all, even if the connection drops).
The source is where every type, function, operator and schema a view
refers to exists as the view knows it, so the definitions are created
exactly as they are there; scaffold keeps reading the source only, and the
target needs nothing before the build. A source that refuses temporary
objects (a hot standby, TEMP revoked) stops scaffold with a message saying
so, when its schema holds views or policies.

**Another schema an earlier run migrated.** A view reading a table of
another source schema that an earlier run of pgshift built into a final
schema of this target (``Catalog.published_parents``, from the target's
``pgshift.name_maps``) reads a shadow of that table too, renamed by that
run's map: the view's query names it by a temporary name (with the
source's name as its alias, so that every column qualified by it still
finds it), and once read back that name becomes the table's final schema
and target name (``sales."orderCities"`` over ``person."Address"`` reads
``person.address "Address"`` and its ``city_name``).

**What cannot be renamed safely is listed, never guessed.** A view or
policy that reads a relation pgshift does not migrate (a table left out,
another schema's table or view), calls a function or operator of another
schema of the source's (an extension's aside), or uses a type the target
does not get from pgshift, is left out and listed with the reason
(``NameMap.not_migrated``), and so is every view that reads it. The
functions of the migrated schema a view or policy calls are recorded
(``ViewMap.calls``, ``PolicyMap.calls``): the publish creates them before
the views and policies, and scaffold leaves out a view that calls one it
cannot create. A
policy that cannot be renamed safely stops the scaffold instead: a table
without one of its policies would not restrict the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg2
from pglast.parser import ParseError

from pgshift.catalog import NOT_EXTENSION_MEMBER, Catalog, range_names
from pgshift.connection import connect, undoable
from pgshift.expressions import rename_columns
from pgshift.mapping import (
    IndexMap,
    NameMap,
    PolicyMap,
    ViewMap,
    index_using,
    relation_name_problems,
    target_object_name,
)
from pgshift.naming import MAX_IDENTIFIER_BYTES, NamingError, Overrides, map_names
from pgshift.settings import DatabaseUrl, names_argument
from pgshift.sqlident import quote_ident, render_ident
from pgshift.sqltree import dotted_name, parse_tree, scan_tokens, tree_nodes

logger = logging.getLogger(__name__)

POLICY_COMMANDS = {
    "*": "all",
    "r": "select",
    "a": "insert",
    "w": "update",
    "d": "delete",
}
"""pg_policy.polcmd to the command CREATE POLICY names."""


class ShadowError(RuntimeError):
    """The source refuses the temporary shadows, or a policy cannot be renamed."""


@dataclass
class _View:
    oid: int
    name: str
    kind: str
    definition: str
    options: list[str]
    comment: str | None
    columns: list[tuple[str, str, str | None]]
    indexes: list[tuple[str, str, bool]]
    parents: list[int]
    populated: bool


_VIEWS = f"""
select c.oid, c.relname::text, c.relkind::text, pg_get_viewdef(c.oid),
       coalesce(c.reloptions, '{{}}')::text[], obj_description(c.oid, 'pg_class'),
       c.relispopulated
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('v', 'm')
  and {NOT_EXTENSION_MEMBER}
order by c.relname
"""

# The tables of other schemas the schema's views and policies read.
_READ_ELSEWHERE = """
select n.nspname::text, c.relname::text
from pg_depend as d
inner join pg_rewrite as r on r.oid = d.objid
inner join pg_class as v on v.oid = r.ev_class
inner join pg_namespace as vn on vn.oid = v.relnamespace
inner join pg_class as c on c.oid = d.refobjid
inner join pg_namespace as n on n.oid = c.relnamespace
where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
  and vn.nspname = %(schema)s and n.nspname <> %(schema)s
  and v.relkind in ('v', 'm') and c.relkind in ('r', 'p')
union
select n.nspname::text, c.relname::text
from pg_depend as d
inner join pg_policy as p on p.oid = d.objid
inner join pg_class as t on t.oid = p.polrelid
inner join pg_namespace as tn on tn.oid = t.relnamespace
inner join pg_class as c on c.oid = d.refobjid
inner join pg_namespace as n on n.oid = c.relnamespace
where d.classid = 'pg_policy'::regclass and d.refclassid = 'pg_class'::regclass
  and tn.nspname = %(schema)s and n.nspname <> %(schema)s
  and c.relkind in ('r', 'p')
"""

_VIEW_PARENTS = """
select distinct d.refobjid
from pg_depend as d
inner join pg_rewrite as r on r.oid = d.objid
where d.classid = 'pg_rewrite'::regclass and r.ev_class = %(oid)s
  and d.refclassid = 'pg_class'::regclass and d.refobjid <> %(oid)s
"""

_COLUMNS = """
select a.attname::text, format_type(a.atttypid, a.atttypmod),
       col_description(a.attrelid, a.attnum)
from pg_attribute as a
where a.attrelid = %(oid)s and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""

_INDEXES = """
select ic.relname::text, pg_get_indexdef(i.indexrelid), i.indisunique
from pg_index as i
inner join pg_class as ic on ic.oid = i.indexrelid
where i.indrelid = %(oid)s
order by ic.relname
"""

_POLICIES = """
select t.relname::text, p.polname::text, p.polcmd::text, p.polpermissive,
       array(select case r when 0 then 'public' else pg_get_userbyid(r)::text end
             from unnest(p.polroles) as r order by 1),
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
from pg_policy as p
inner join pg_class as t on t.oid = p.polrelid
inner join pg_namespace as n on n.oid = t.relnamespace
where n.nspname = %(schema)s
order by t.relname, p.polname
"""

_ROW_SECURITY = """
select c.relname::text, c.relrowsecurity, c.relforcerowsecurity
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('r', 'p')
  and (c.relrowsecurity or c.relforcerowsecurity)
"""

# What a parse tree refers to, that the target would not get from pgshift:
# relations other than the shadows (given as an array), functions and
# operators of the source's own (not PostgreSQL's, not an extension's),
# types other than PostgreSQL's, the shadows' row types and the enum, domain
# and composite types of the migrated schema (a composite type's relation
# too), and collations of the source's own.
_FOREIGN_REFERENCES = """
with refs as (
    select d.refclassid, d.refobjid, d.refobjsubid
    from pg_depend as d
    where d.classid = %(classid)s::regclass and d.objid = any(%(objids)s)
),
-- Per relation of another schema, the columns read that the target's
-- relation of that name lacks (or has with another type).
missing as (
    select c.oid, string_agg(format('%%I %%s', a.attname,
                                    format_type(a.atttypid, a.atttypmod)),
                             ', ' order by a.attnum) as columns
    from refs as r
    inner join pg_class as c on c.oid = r.refobjid
    inner join pg_namespace as n on n.oid = c.relnamespace
    inner join pg_attribute as a
        on a.attrelid = c.oid and a.attnum = r.refobjsubid
    where r.refclassid = 'pg_class'::regclass and r.refobjsubid > 0
      and n.nspname <> %(schema)s
      and not format('%%I.%%I', n.nspname, c.relname) || '.'
              || quote_ident(a.attname) || ' '
              || format_type(a.atttypid, a.atttypmod) = any(%(columns)s::text[])
    group by c.oid
)
select 'reads ' || format('%%I.%%I', n.nspname, c.relname)
       || case when n.nspname = %(schema)s
                    and exists (select 1 from pg_class as s
                                where s.oid = any(%(shadows)s)
                                  and s.relname = c.relname)
               then ' by its schema-qualified name (PostgreSQL prints it so '
                    || 'where a WITH query or alias of the same name hides '
                    || 'it), which pgshift cannot point at the final table: '
                    || 'give the WITH query another name on the source'
               when n.nspname <> %(schema)s
                    and format('%%I.%%I', n.nspname, c.relname)
                        = any(%(relations)s::text[])
               then ', which the target has without '
                    || coalesce(m.columns, 'a column it reads')
                    || ' (a column of that name and type)'
               else ', which is not migrated' end
from refs
inner join pg_class as c on c.oid = refs.refobjid
inner join pg_namespace as n on n.oid = c.relnamespace
left join missing as m on m.oid = c.oid
where refs.refclassid = 'pg_class'::regclass and not c.oid = any(%(shadows)s)
  and not (c.relkind = 'c' and n.nspname = %(schema)s
           and c.relname = any(%(types)s))
  -- A relation of another schema that the target has, with every column
  -- read (of the same type), stays where it is.
  and not (n.nspname <> %(schema)s
           and format('%%I.%%I', n.nspname, c.relname) = any(%(relations)s::text[])
           and m.oid is null)
union
select 'calls ' || p.oid::regprocedure::text || ', a function of schema '
       || quote_ident(n.nspname) || ', which is not migrated'
from refs
inner join pg_proc as p on p.oid = refs.refobjid
inner join pg_namespace as n on n.oid = p.pronamespace
where refs.refclassid = 'pg_proc'::regclass
  and n.nspname not in ('pg_catalog', 'information_schema', %(schema)s)
  and not exists (select 1 from pg_depend as e
                  where e.classid = 'pg_proc'::regclass and e.objid = p.oid
                    and e.deptype = 'e')
  and not p.oid::regprocedure::text = any(%(present)s::text[])
union
select 'uses operator ' || o.oid::regoperator::text || ' of the source'
from refs
inner join pg_operator as o on o.oid = refs.refobjid
inner join pg_namespace as n on n.oid = o.oprnamespace
where refs.refclassid = 'pg_operator'::regclass
  and n.nspname not in ('pg_catalog', 'information_schema')
  and not exists (select 1 from pg_depend as e
                  where e.classid = 'pg_operator'::regclass and e.objid = o.oid
                    and e.deptype = 'e')
union
select 'uses type ' || format('%%I.%%I', n.nspname, t.typname)
       || ', which pgshift does not create on the target'
from refs
inner join pg_type as t on t.oid = refs.refobjid
inner join pg_namespace as n on n.oid = t.typnamespace
where refs.refclassid = 'pg_type'::regclass
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.oid <> pg_my_temp_schema()
  and not (n.nspname = %(schema)s and t.typname = any(%(types)s))
  and not exists (select 1 from pg_depend as e
                  where e.classid = 'pg_type'::regclass and e.objid = t.oid
                    and e.deptype = 'e')
union
select 'uses collation ' || format('%%I.%%I', n.nspname, co.collname)
       || ' of the source'
from refs
inner join pg_collation as co on co.oid = refs.refobjid
inner join pg_namespace as n on n.oid = co.collnamespace
where refs.refclassid = 'pg_collation'::regclass
  and n.nspname not in ('pg_catalog', 'information_schema')
order by 1
"""


# The functions of the migrated schema a parse tree calls (not an
# extension's): the publish creates them before the views and policies.
_CALLS = """
select distinct p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
from pg_depend as d
inner join pg_proc as p on p.oid = d.refobjid
inner join pg_namespace as n on n.oid = p.pronamespace
where d.classid = %(classid)s::regclass and d.objid = any(%(objids)s)
  and d.refclassid = 'pg_proc'::regclass and n.nspname = %(schema)s
  and not exists (select 1 from pg_depend as e
                  where e.classid = 'pg_proc'::regclass and e.objid = p.oid
                    and e.deptype = 'e')
order by 1
"""


def _calls(cursor: Any, classid: str, objids: list[int], schema: str) -> list[str]:
    """The migrated schema's functions that rules or policies call."""
    cursor.execute(_CALLS, {"classid": classid, "objids": objids, "schema": schema})
    return [name for (name,) in cursor.fetchall()]


def has_definitions(cursor: Any, schema: str) -> bool:
    """Whether a schema holds views, policies or row-level security to rename."""
    cursor.execute(
        """
        select exists (
            select 1 from pg_class as c
            inner join pg_namespace as n on n.oid = c.relnamespace
            where n.nspname = %(schema)s and (
                c.relkind in ('v', 'm') or c.relrowsecurity
                or c.relforcerowsecurity
                or exists (select 1 from pg_policy as p where p.polrelid = c.oid)
            )
        )
        """,
        {"schema": schema},
    )
    return bool(cursor.fetchone()[0])


def rename_definitions(
    url: DatabaseUrl, catalog: Catalog, names: NameMap, overrides: Overrides
) -> None:
    """Fill the map's views, policies and row-level security, renamed.

    Args:
        url: The source.
        catalog: The source catalog (tables left out already removed).
        names: The map of the catalog's tables; its ``views``,
            ``policies``, ``row_security`` and ``not_migrated`` are set.
        overrides: The override file: view names under ``tables:``, view
            columns under ``columns:``, matview indexes under ``objects:``.

    Raises:
        ShadowError: The source refuses temporary objects, or a policy
            cannot be migrated as it is.
        NamingError: View names collide with each other or with a table, or
            are too long.
    """
    conn = connect(url, application_name="pgshift scaffold")
    try:
        cursor = conn.cursor()
        cursor.execute(
            "select set_config('search_path', %s, true)", (quote_ident(catalog.schema),)
        )
        if not has_definitions(cursor, catalog.schema):
            return
        try:
            _rename(cursor, catalog, names, overrides)
        except psycopg2.errors.InsufficientPrivilege as error:
            raise ShadowError(_refused(url, error)) from error
        except psycopg2.errors.ReadOnlySqlTransaction as error:
            raise ShadowError(_refused(url, error)) from error
    finally:
        conn.rollback()
        conn.close()


def _refused(url: DatabaseUrl, error: Exception) -> str:
    return (
        f"the source ({url.redacted()}) refused the temporary tables scaffold "
        "renames views and policies with (a transaction it rolls back, in the "
        f"session's temporary schema): {str(error).strip()}. Grant TEMP on the "
        "database to the source role, or scaffold from a primary rather than "
        "a standby"
    )


def _read_views(cursor: Any, schema: str) -> list[_View]:
    cursor.execute(_VIEWS, {"schema": schema})
    views = [
        _View(oid, name, kind, definition, list(options), comment, [], [], [], full)
        for oid, name, kind, definition, options, comment, full in cursor.fetchall()
    ]
    oids = {v.oid for v in views}
    for view in views:
        cursor.execute(_VIEW_PARENTS, {"oid": view.oid})
        view.parents = [oid for (oid,) in cursor.fetchall() if oid in oids]
        cursor.execute(_COLUMNS, {"oid": view.oid})
        view.columns = list(cursor.fetchall())
        if view.kind == "m":
            cursor.execute(_INDEXES, {"oid": view.oid})
            view.indexes = list(cursor.fetchall())
    return _in_dependency_order(views)


def _in_dependency_order(views: list[_View]) -> list[_View]:
    """Views on views after the views they read; otherwise by name."""
    by_oid = {v.oid: v for v in views}
    done: set[int] = set()
    ordered: list[_View] = []

    def visit(view: _View, path: set[int]) -> None:
        if view.oid in done or view.oid in path:
            return
        for parent in view.parents:
            visit(by_oid[parent], path | {view.oid})
        done.add(view.oid)
        ordered.append(view)

    for view in views:
        visit(view, set())
    return ordered


def unhide_relations(
    definition: str, schema: str, relations: set[str], taken: set[str]
) -> str:
    """A view's query naming plainly the relations its WITH queries hide.

    ``pg_get_viewdef`` prints a relation schema-qualified where a WITH
    query of the same name is in scope (``WITH filters AS (... FROM
    public.filters ...) SELECT * FROM filters``). The qualified name would
    read the source's table, not its shadow, and the final view cannot name
    a schema either. Each such WITH query takes a name no relation and no
    other WITH query or alias has (``filters_1``), and so does every
    reference to it (keeping the old name as its alias, which the columns
    are qualified with); the relations it hid are then named without their
    schema. The query is the same; PostgreSQL prints it anew once created.

    Args:
        definition: The query, as ``pg_get_viewdef`` prints it.
        schema: The source schema.
        relations: The relations of the schema that have a shadow (or a
            temporary view) to read instead.
        taken: Other names a WITH query must not take.

    Returns:
        The query, or the definition as it is when no WITH query hides one
        of ``relations`` (or pglast cannot read it).
    """
    try:
        tree = parse_tree(definition)
    except ParseError:
        return definition
    ranges: list[tuple[dict[str, Any], frozenset[str]]] = []

    def visit(item: Any, scope: frozenset[str]) -> None:
        # A WITH query is in scope in the whole statement that holds the
        # WITH, and in the subqueries inside it.
        if isinstance(item, list):
            for value in item:
                visit(value, scope)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key == "SelectStmt" and isinstance(value, dict):
                    ctes = (value.get("withClause") or {}).get("WithClause") or {}
                    inner = {
                        c["CommonTableExpr"]["ctename"] for c in ctes.get("ctes") or []
                    }
                    visit(value, scope | inner)
                elif key == "RangeVar" and isinstance(value, dict):
                    ranges.append((value, scope))
                else:
                    visit(value, scope)

    visit(tree, frozenset())
    hidden = {
        node["relname"]
        for node, scope in ranges
        if node.get("schemaname") == schema
        and not node.get("catalogname")
        and node["relname"] in relations
        and node["relname"] in scope
    }
    if not hidden:
        return definition
    ctes = [node for _, node in tree_nodes(tree, "CommonTableExpr")]
    used = {*taken, *relations, *(node["ctename"] for node in ctes)}
    used |= {node["relname"] for node, _ in ranges}
    used |= {node["aliasname"] for _, node in tree_nodes(tree, "Alias")}
    fresh: dict[str, str] = {}
    for name in sorted(hidden):
        fresh[name] = _fresh_name(name, used)
        used.add(fresh[name])

    tokens = scan_tokens(definition)
    at = {token.start: index for index, token in enumerate(tokens)}
    edits: dict[int, tuple[int, str]] = {}

    def name_at(location: int, count: int) -> list[Any]:
        found = dotted_name(tokens, at[location], count) if location in at else None
        if found is None:
            raise _Unplaced
        return found

    try:
        for node in ctes:
            if node["ctename"] in fresh:
                (token,) = name_at(node.get("location", -1), 1)
                edits[token.start] = (token.end, quote_ident(fresh[node["ctename"]]))
        for node, scope in ranges:
            name = node["relname"]
            if name not in hidden or name not in scope or node.get("catalogname"):
                continue
            if node.get("schemaname") is None:
                # A reference to the WITH query: its columns are qualified
                # with its name, which stays as its alias.
                (token,) = name_at(node.get("location", -1), 1)
                alias = "" if node.get("alias") else " " + quote_ident(name)
                edits[token.start] = (token.end, quote_ident(fresh[name]) + alias)
            elif node["schemaname"] == schema:
                first, last = name_at(node.get("location", -1), 2)
                edits[first.start] = (last.end, last.text)
    except _Unplaced:
        return definition
    out, position = [], 0
    for start in sorted(edits):
        end, replacement = edits[start]
        out += [definition[position:start], replacement]
        position = end
    return "".join([*out, definition[position:]])


class _Unplaced(Exception):
    """A name of the parse tree that is not where its location says."""


def _fresh_name(name: str, used: set[str]) -> str:
    """``name_1`` (``_2``...), shortened to fit PostgreSQL, that is not used."""
    number = 1
    while True:
        suffix = f"_{number}"
        base = name
        while len((base + suffix).encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            base = base[:-1]
        if base + suffix not in used:
            return base + suffix
        number += 1


def _execute_or_reason(cursor: Any, statement: str) -> str | None:
    """Run a statement, undone if it fails; PostgreSQL's message if it does."""
    try:
        with undoable(cursor):
            cursor.execute(statement)
    except psycopg2.errors.InsufficientPrivilege:
        raise
    except psycopg2.Error as error:
        return "PostgreSQL refused its definition over the migrated tables: " + (
            error.diag.message_primary or str(error)
        )
    return None


def _foreign_references(
    cursor: Any, classid: str, objids: list[int], shadows: list[int], catalog: Catalog
) -> list[str]:
    types = [
        *catalog.enums,
        *catalog.domains,
        *catalog.composites,
        *range_names(catalog),
    ]
    types += ["_" + t for t in types]
    cursor.execute(
        _FOREIGN_REFERENCES,
        {
            "classid": classid,
            "objids": objids,
            "shadows": shadows,
            "schema": catalog.schema,
            "types": types,
            "present": sorted(catalog.target_functions),
            "relations": sorted(catalog.target_relations),
            "columns": sorted(
                f"{name}.{column}"
                for name, columns in catalog.target_relations.items()
                for column in columns
            ),
        },
    )
    return [reason for (reason,) in cursor.fetchall()]


def _rename(
    cursor: Any, catalog: Catalog, names: NameMap, overrides: Overrides
) -> None:
    views = _read_views(cursor, catalog.schema)
    cursor.execute(_POLICIES, {"schema": catalog.schema})
    policies = cursor.fetchall()
    cursor.execute(_ROW_SECURITY, {"schema": catalog.schema})
    for table, enabled, forced in cursor.fetchall():
        if table in names.tables:
            names.row_security[names.tables[table].target] = [enabled, forced]

    schema = quote_ident(catalog.schema)
    shadows: dict[str, int] = {}
    for table in names.tables:
        cursor.execute(
            f"create temporary table {quote_ident(table)} "
            f"(like {schema}.{quote_ident(table)})"
        )
        cursor.execute("select %s::regclass::oid", (f"pg_temp.{quote_ident(table)}",))
        shadows[table] = cursor.fetchone()[0]
        key = catalog.tables[table].primary_key
        if key is not None:
            # A view may select columns its GROUP BY does not name, which
            # the primary key decides (functional dependency).
            columns = ", ".join(quote_ident(c) for c in key.columns)
            cursor.execute(
                f"alter table pg_temp.{quote_ident(table)} add primary key ({columns})"
            )
    partitions = _partition_shadows(cursor, schema, names)
    elsewhere = _elsewhere_shadows(cursor, catalog, {*shadows, *partitions})

    left_out: dict[str, str] = {}
    created: dict[str, int] = {}
    calls: dict[str, list[str]] = {}
    # Names a WITH query renamed off a relation's must not take.
    taken = {*shadows, *partitions, *(v.name for v in views), *elsewhere.by_name}
    taken |= {t.target for t in names.tables.values()}
    taken |= {p.name for t in names.tables.values() for p in t.partitions}
    for view in views:
        kind = "view" if view.kind == "v" else "materialized view"
        reason = next(
            (
                f"reads {p.name}, which is not migrated ({left_out[p.name]})"
                for p in views
                if p.oid in view.parents and p.name in left_out
            ),
            None,
        )
        if reason is None:
            definition = unhide_relations(
                elsewhere.read_shadows(view.definition.strip().rstrip(";")),
                catalog.schema,
                {*shadows, *partitions, *created},
                taken,
            )
            reason = _execute_or_reason(
                cursor,
                f"create temporary view {quote_ident(view.name)} as {definition}",
            )
        if reason is None:
            cursor.execute(
                "select %s::regclass::oid", (f"pg_temp.{quote_ident(view.name)}",)
            )
            created[view.name] = cursor.fetchone()[0]
            cursor.execute(
                "select oid from pg_rewrite where ev_class = %s", (created[view.name],)
            )
            rules = [oid for (oid,) in cursor.fetchall()]
            calls[view.name] = _calls(cursor, "pg_rewrite", rules, catalog.schema)
            found = _foreign_references(
                cursor,
                "pg_rewrite",
                rules,
                [
                    *shadows.values(),
                    *partitions.values(),
                    *created.values(),
                    *elsewhere.oids,
                ],
                catalog,
            )
            if found:
                reason = "; ".join(found)
        if reason is not None:
            left_out[view.name] = reason
            names.not_migrated.append([kind, view.name, reason])
            if created.pop(view.name, None) is not None:
                cursor.execute(f"drop view pg_temp.{quote_ident(view.name)}")

    kept_policies = []
    refused: list[str] = []
    for table, name, command, permissive, roles, using, check in policies:
        label = f"{name} on {table}"
        if table not in names.tables:
            continue
        to = ", ".join("public" if r == "public" else quote_ident(r) for r in roles)
        using = _in_expression(elsewhere.read_shadows, using)
        check = _in_expression(elsewhere.read_shadows, check)
        statement = (
            f"create policy {quote_ident(name)} on pg_temp.{quote_ident(table)} "
            f"as {'permissive' if permissive else 'restrictive'} "
            f"for {POLICY_COMMANDS[command]} to {to}"
            + (f" using ({using})" if using is not None else "")
            + (f" with check ({check})" if check is not None else "")
        )
        reason = _execute_or_reason(cursor, statement)
        policy_calls: list[str] = []
        if reason is None:
            cursor.execute(
                "select oid from pg_policy where polrelid = %s and polname = %s",
                (shadows[table], name),
            )
            policy = cursor.fetchone()[0]
            policy_calls = _calls(cursor, "pg_policy", [policy], catalog.schema)
            found = _foreign_references(
                cursor,
                "pg_policy",
                [policy],
                [*shadows.values(), *created.values(), *elsewhere.oids],
                catalog,
            )
            if found:
                reason = "; ".join(found)
        if reason is not None:
            refused.append(
                f"  policy {label}: {reason}; leave the table out (--exclude "
                f"{names_argument([table])}), change the policy on the source, or create what "
                "it needs of another schema on the target (scaffold looks "
                "when TARGET_DATABASE_URL is set)"
            )
        else:
            kept_policies.append(
                (table, name, command, permissive, roles, policy_calls)
            )
    if refused:
        # A policy left out would change who may read or write a table (a
        # restrictive one, widen it): it stops the scaffold instead.
        raise ShadowError(
            "these policies cannot be migrated as they are, and a table "
            "without one of its policies would not restrict the same rows:\n"
            + "\n".join(refused)
        )

    view_targets = _view_names(views, created, names, overrides)
    _rename_shadows(cursor, names, views, created, view_targets, elsewhere)

    for view in views:
        if view.name not in created:
            continue
        target, columns = view_targets[view.name]
        cursor.execute("select pg_get_viewdef(%s)", (created[view.name],))
        definition = elsewhere.read_targets(cursor.fetchone()[0].strip().rstrip(";"))
        if definition is None:
            reason = (
                "its renamed definition reads a table of another schema "
                "where pgshift cannot point it at that table's final name"
            )
            names.not_migrated.append([_kind(view), view.name, reason])
            continue
        if "pg_temp" in definition:
            reason = "its renamed definition names a temporary table"
            names.not_migrated.append([_kind(view), view.name, reason])
            continue
        reads = _reads(
            cursor,
            created[view.name],
            {**shadows, **partitions},
            created,
            names,
            view_targets,
        )
        object_overrides = overrides.objects.get(view.name, {})
        indexes = [
            IndexMap(
                source=index,
                name=target_object_name(
                    index,
                    view.name,
                    target,
                    object_overrides,
                    keep=overrides.keep_object_names,
                    shortened=names.shortened,
                ),
                unique=unique,
                using=rename_columns(index_using(definition_), columns),
            )
            for index, definition_, unique in view.indexes
        ]
        names.views[view.name] = ViewMap(
            source=view.name,
            name=target,
            kind=_kind(view),
            columns=columns,
            types={columns[c]: t for c, t, _ in view.columns},
            definition=definition,
            options=view.options,
            comment=view.comment,
            column_comments={
                columns[c]: comment for c, _, comment in view.columns if comment
            },
            reads=reads,
            indexes=indexes,
            populated=view.populated,
            calls=calls.get(view.name, []),
        )

    _check_index_names(names)

    for table, name, command, permissive, roles, policy_calls in kept_policies:
        cursor.execute(
            "select pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)"
            " from pg_policy where polrelid = %s and polname = %s",
            (shadows[table], name),
        )
        using, check = (
            _in_expression(elsewhere.read_targets, e) for e in cursor.fetchone()
        )
        names.policies.append(
            PolicyMap(
                table=names.tables[table].target,
                name=name,
                command=POLICY_COMMANDS[command],
                permissive=permissive,
                roles=list(roles),
                using=using,
                with_check=check,
                calls=policy_calls,
            )
        )


def _kind(view: _View) -> str:
    return "view" if view.kind == "v" else "materialized view"


def _view_names(
    views: list[_View],
    created: dict[str, int],
    names: NameMap,
    overrides: Overrides,
) -> dict[str, tuple[str, dict[str, str]]]:
    """Each view's target name and column names (naming rules, overrides).

    Raises:
        NamingError: Two views, or a view and a table, share a target name,
            or a name is too long.
    """
    kept = [v for v in views if v.name in created]
    targets = map_names(
        [v.name for v in kept], overrides.tables, what="view", override_path="tables:"
    )
    problems = []
    relations = _relations(names)
    result: dict[str, tuple[str, dict[str, str]]] = {}
    for view in kept:
        target = targets[view.name]
        if target in relations:
            problems.append(
                f"{relations[target]} and view {view.name!r} both map to "
                f"{target!r}; give one of them another name in the override file "
                f"under 'tables:' ({view.name}: <new_name>)"
            )
        try:
            columns = map_names(
                [c for c, _, _ in view.columns],
                overrides.columns.get(view.name, {}),
                what=f"column of view {view.name}",
                override_path=f"columns: {view.name}:",
            )
        except NamingError as error:
            problems.append(str(error))
            continue
        result[view.name] = (target, columns)
    if problems:
        raise NamingError("\n".join(problems))
    return result


def _relations(names: NameMap) -> dict[str, str]:
    """Target relation names already taken, each with what takes it."""
    relations = {t.target: f"table {t.source!r}" for t in names.tables.values()}
    for t in names.tables.values():
        for obj in [*t.keys, *t.indexes, *t.serials]:
            relations.setdefault(obj.name, f"{obj.source!r} of table {t.source!r}")
    for s in names.sequences.values():
        relations.setdefault(s.name, f"sequence {s.source!r}")
    return relations


def _check_index_names(names: NameMap) -> None:
    """Refuse a materialized view's index name that another relation takes.

    Raises:
        NamingError: Two relations would share a target name, or one is
            longer than PostgreSQL allows.
    """
    relations = _relations(names)
    for view in names.views.values():
        relations.setdefault(view.name, f"view {view.source!r}")
    problems = []
    for view in names.views.values():
        for index in view.indexes:
            fix = (
                f"in the override file under 'objects: {view.source}:' "
                f"({index.source}: <new_name>)"
            )
            what = f"index {index.source!r} of {view.source}"
            problems += relation_name_problems(what, index.name, fix, relations)
    if problems:
        raise NamingError("\n".join(problems))


def _partition_shadows(cursor: Any, schema: str, names: NameMap) -> dict[str, int]:
    """An empty shadow of every partition the target gets, by source name.

    A view that reads a partition reads, on the target, the partition of
    the final table under its mapped name.
    """
    shadows: dict[str, int] = {}
    for mapped in names.tables.values():
        for partition in mapped.partitions:
            name = quote_ident(partition.source)
            cursor.execute(f"create temporary table {name} (like {schema}.{name})")
            cursor.execute("select %s::regclass::oid", (f"pg_temp.{name}",))
            shadows[partition.source] = cursor.fetchone()[0]
    return shadows


@dataclass
class _ElsewhereShadow:
    """A shadow of another final schema's table: where it is on the target."""

    name: str
    oid: int
    schema: str
    target: str
    columns: dict[str, str]


@dataclass
class _Elsewhere:
    """The shadows of tables an earlier run built into other final schemas."""

    by_source: dict[tuple[str, str], _ElsewhereShadow]

    @property
    def by_name(self) -> dict[str, _ElsewhereShadow]:
        """Each shadow by its temporary name."""
        return {s.name: s for s in self.by_source.values()}

    @property
    def oids(self) -> list[int]:
        """The shadows' oids."""
        return [s.oid for s in self.by_source.values()]

    def read_shadows(self, definition: str) -> str:
        """A view's query reading the shadows instead of the source's tables.

        Each reference keeps the source's name as its alias (unless it has
        one), which every column qualified by it names. Text pglast cannot
        read is returned as it is (the source's table is then read, and the
        view is listed as reading a relation that is not migrated).
        """
        if not self.by_source:
            return definition

        def shadow(node: dict[str, Any]) -> str | None:
            found = self.by_source.get((node.get("schemaname"), node["relname"]))
            if found is None or node.get("catalogname"):
                return None
            alias = "" if node.get("alias") else " " + quote_ident(node["relname"])
            return quote_ident(found.name) + alias

        return _replace_ranges(definition, shadow, 2) or definition

    def read_targets(self, definition: str) -> str | None:
        """A renamed query reading the final tables the shadows stand for.

        None when a shadow's name cannot be placed in the text.
        """
        by_name = self.by_name
        if not by_name:
            return definition

        def target(node: dict[str, Any]) -> str | None:
            found = by_name.get(node["relname"])
            if found is None or node.get("schemaname"):
                return None
            return f"{render_ident(found.schema)}.{render_ident(found.target)}"

        return _replace_ranges(definition, target, 1)


def _in_expression(edit: Any, expression: str | None) -> str | None:
    """``edit`` (a query's text to its new text) applied to an expression."""
    if expression is None:
        return None
    edited = edit(f"SELECT {expression}")
    return expression if edited is None else edited.removeprefix("SELECT ")


def _replace_ranges(definition: str, replacement: Any, parts: int) -> str | None:
    """The text with each relation reference ``replacement`` gives text for.

    ``replacement`` takes a RangeVar node and returns its new text, or None
    to leave it; ``parts`` is how many dotted names the replaced ones have.
    None when pglast cannot read the text or a name is not where its
    location says.
    """
    try:
        tree = parse_tree(definition)
    except ParseError:
        return None
    tokens = scan_tokens(definition)
    at = {token.start: index for index, token in enumerate(tokens)}
    edits: dict[int, tuple[int, str]] = {}
    for _, node in tree_nodes(tree, "RangeVar"):
        text = replacement(node)
        if text is None:
            continue
        location = node.get("location", -1)
        found = dotted_name(tokens, at[location], parts) if location in at else None
        if found is None:
            return None
        edits[found[0].start] = (found[-1].end, text)
    out, position = [], 0
    for start in sorted(edits):
        end, text = edits[start]
        out += [definition[position:start], text]
        position = end
    return "".join([*out, definition[position:]])


def _elsewhere_shadows(cursor: Any, catalog: Catalog, taken: set[str]) -> _Elsewhere:
    """A shadow of each table of another final schema read by a view or policy.

    Only the tables an earlier run of pgshift built into a final schema of
    the target (``Catalog.published_parents``); each takes a temporary name
    no shadow has, and its columns are renamed with the others' (the table
    keeps that name: the definitions read back name it, and ``read_targets``
    points them at the final table).
    """
    found: dict[tuple[str, str], _ElsewhereShadow] = {}
    if not catalog.published_parents:
        return _Elsewhere(found)
    cursor.execute(_READ_ELSEWHERE, {"schema": catalog.schema})
    used = set(taken)
    for schema, table in sorted(cursor.fetchall()):
        published = catalog.published_parents.get((schema, table))
        if published is None:
            continue
        final_schema, target, columns = published
        name = _fresh_name(f"{table}_elsewhere", used)
        used.add(name)
        cursor.execute(
            f"create temporary table {quote_ident(name)} (like "
            f"{quote_ident(schema)}.{quote_ident(table)} including indexes)"
        )
        cursor.execute("select %s::regclass::oid", (f"pg_temp.{quote_ident(name)}",))
        oid = cursor.fetchone()[0]
        cursor.execute(_COLUMNS, {"oid": oid})
        present = {column for column, _, _ in cursor.fetchall()}
        found[schema, table] = _ElsewhereShadow(
            name,
            oid,
            final_schema,
            target,
            {s: t for s, t in columns.items() if s in present},
        )
    return _Elsewhere(found)


def _rename_shadows(
    cursor: Any,
    names: NameMap,
    views: list[_View],
    created: dict[str, int],
    view_targets: dict[str, tuple[str, dict[str, str]]],
    elsewhere: _Elsewhere,
) -> None:
    """Rename the shadows and the views, through unique interim names."""
    relations: list[tuple[str, str, dict[str, str]]] = [
        (t.source, t.target, t.columns) for t in names.tables.values()
    ]
    # Another final schema's tables keep their temporary names: only their
    # columns take that schema's names.
    relations += [(s.name, s.name, s.columns) for s in elsewhere.by_name.values()]
    relations += [
        (p.source, p.name, t.columns)
        for t in names.tables.values()
        for p in t.partitions
    ]
    relations += [
        (v.name, *view_targets[v.name]) for v in views if v.name in view_targets
    ]
    interim = [f"pgshift shadow {i}" for i in range(len(relations))]
    for (source, _, columns), step in zip(relations, interim, strict=True):
        relation = f"pg_temp.{quote_ident(source)}"
        for i, column in enumerate(columns):
            cursor.execute(
                f"alter table {relation} rename column {quote_ident(column)} "
                f"to {quote_ident(f'pgshift column {i}')}"
            )
        for i, target in enumerate(columns.values()):
            cursor.execute(
                f"alter table {relation} rename column "
                f"{quote_ident(f'pgshift column {i}')} to {quote_ident(target)}"
            )
        cursor.execute(f"alter table {relation} rename to {quote_ident(step)}")
    for (_, target, _), step in zip(relations, interim, strict=True):
        cursor.execute(
            f"alter table pg_temp.{quote_ident(step)} rename to {quote_ident(target)}"
        )


def _reads(
    cursor: Any,
    oid: int,
    shadows: dict[str, int],
    created: dict[str, int],
    names: NameMap,
    view_targets: dict[str, tuple[str, dict[str, str]]],
) -> list[str]:
    """The final tables and views (target names) a view reads directly."""
    cursor.execute(_VIEW_PARENTS, {"oid": oid})
    parents = {p for (p,) in cursor.fetchall()}
    roots = {p.source: t.target for t in names.tables.values() for p in t.partitions}
    reads = [
        names.tables[t].target if t in names.tables else roots[t]
        for t, o in shadows.items()
        if o in parents
    ]
    reads = list(dict.fromkeys(reads))
    reads += [view_targets[v][0] for v, o in created.items() if o in parents]
    return sorted(reads)
