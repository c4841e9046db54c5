"""A compatibility schema: the final tables under the source's names.

After a cutover the new version of the application reads the final tables
in snake_case. The previous version, still running until the new one is
deployed, knows only the source's names. ``create_compat_schema`` gives it
a schema of views on the target, one per final table and migrated view
whose name or columns the rename changes, named as on the source, with each
column under its source name, in the source's column order:

    create view public_compat."Users" with (security_invoker = true) as
    select id as id, full_name as "fullName", ... from public.users;

Each is a plain column list over one relation, so PostgreSQL makes it
updatable: the previous version's INSERT, UPDATE, DELETE and RETURNING
work through it, and an INSERT that leaves a column out gets the final
table's default (its sequence, its identity). ``security_invoker`` makes
the final table's own privileges and row-level security apply to whoever
queries the view, and each view is granted what its table grants, on the
whole view or on the same columns (by their source names), so a role may
do through the view exactly what it may do on the table. A table on which
a role holds a privilege on some columns only gets a view with its owner's
privileges instead (a security_invoker view checks every column it lists),
its grants then deciding alone, unless the table has row-level security
(see ``_runs_as_invoker``). The previous version points its
``search_path`` at the schema, then the final schema; its unqualified names
then resolve to a view, or to the final table itself where the rename
changed nothing of it; an application that names the schema before every
table (Prisma) gets a view for every table instead. Each view is marked
as pgshift's by its comment.
The migrated routines' bodies name the final tables qualified with the
final schema (``pgshift.routines``), so a trigger or function it sets off
reads and writes the final tables, not these views. Each enum (and each
renamed type) has a domain of its source name there, and each enum its
comparison operators, for the casts Prisma qualifies with the schema.

The schema is pgshift's (marked by its comment): creating it again
replaces it in one transaction, and a schema of that name that pgshift did
not create is never touched; nor is pgshift's, once it holds anything else
than its views, domains and comparisons (a table the previous application
created through it).
"""

from __future__ import annotations

import logging
from typing import Any

from psycopg2 import sql

from pgshift.connection import schema_comment, transaction
from pgshift.mapping import NameMap, keeps_its_names
from pgshift.naming import KNEX_LOCK, KNEX_RECORD, PRISMA_RELATION_TABLE, tool_tables
from pgshift.progress import some
from pgshift.settings import ConfigError, Settings

logger = logging.getLogger(__name__)

COMPAT_MARK = "pgshift: the final tables under the source's names (run.py compat)"
"""The comment that marks a compatibility schema as pgshift's."""

VIEW_MARK = "pgshift: a final relation under its source names (run.py compat)"
"""The comment that marks each of pgshift's views in a compatibility schema:
a view the team made there, under any name, is theirs and stops a drop."""

COMPARISON_MARK = "pgshift: compares an enum with its alias (run.py compat)"
"""The comment that marks pgshift's comparison operators, and their functions,
in a compatibility schema."""

_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
"""What a view is granted, as its table grants it (to a role, or a column)."""

_GRANTEES = """
select distinct coalesce(r.rolname, 'public'), a.privilege_type, a.attname
from (
    select (aclexplode(c.relacl)).*, null::name as attname
    from pg_class c where c.oid = %(relation)s
    union all
    select (aclexplode(att.attacl)).*, att.attname from pg_attribute att
    where att.attrelid = %(relation)s and att.attnum > 0 and not att.attisdropped
    union all  -- the owner's privileges are implicit, not in the ACL
    select c.relowner, c.relowner, p.privilege_type, false, null
    from pg_class c, unnest(%(privileges)s::text[]) as p (privilege_type)
    where c.oid = %(relation)s
) as a
left join pg_roles r on r.oid = a.grantee
where a.privilege_type = any(%(privileges)s)
order by 1, 2, 3 nulls first
"""
"""Each role's privileges on a relation: a row per privilege on the whole
relation (no column), and one per column it holds a privilege on."""


def default_compat_schema(settings: Settings) -> str:
    """The compatibility schema's name when none is given: ``<final>_compat``."""
    return f"{settings.final_schema}_compat"


def qualifies_every_table(names: NameMap) -> bool:
    """Whether the source's application names its schema before every table.

    Prisma does (``"public"."_OrderToTag"``): pointed at the compatibility
    schema, it looks for every table there, a table the rename left as it
    is included. A schema Prisma migrates holds ``_prisma_migrations`` or
    its implicit many-to-many tables.
    """
    kept = tool_tables({t.source: list(t.columns) for t in names.tables.values()})
    return "_prisma_migrations" in names.tables or PRISMA_RELATION_TABLE in (
        kept.values()
    )


def first_schema_tables(names: NameMap) -> set[str]:
    """Source tables an application looks for in the first schema of its path.

    knex looks for its record of migrations and its lock in
    ``current_schema()`` alone: the previous version, its search_path at
    the compatibility schema, would take the target for never migrated and
    run every migration again. They get a view whatever the rename does.
    """
    found = set()
    for table in names.tables.values():
        lock = names.tables.get(f"{table.source}_lock")
        if (
            lock is not None
            and set(table.columns) >= KNEX_RECORD
            and set(lock.columns) >= KNEX_LOCK
        ):
            found |= {table.source, lock.source}
    return found


def compat_notes(names: NameMap, every_table: bool = False) -> list[str]:
    """What a person should know of the schema ``compat`` made for this source.

    A schema Prisma migrates got a view for every table (unasked, unless
    ``every_table``); a schema Django migrates has its aggregates over the
    renamed tables fail through the views.
    """
    notes = []
    every = every_table or qualifies_every_table(names)
    if not every_table and every:
        notes.append(
            "every table has a view there, those the rename leaves as they are "
            "included: the source's schema is Prisma's, and Prisma names the "
            "schema before every table"
        )
    knex = sorted(first_schema_tables(names))
    if knex and not every:
        notes.append(
            f"{' and '.join(knex)} have views there, though the rename leaves "
            "them as they are: knex's record of its migrations and its lock, "
            "which knex looks for in the first schema of the search_path"
        )
    viewed = [
        t.source
        for t in names.tables.values()
        if not keeps_its_names(t.source, t.target, t.columns)
    ]
    if "django_migrations" in names.tables and viewed:
        notes.append(
            f"note: the source's schema is Django's, and {len(viewed)} of its "
            "tables are read through views here: Django's aggregates group "
            "a table by its key alone, which PostgreSQL accepts of a table, "
            "not of a view (`must appear in the GROUP BY clause`), so those "
            f"over {some(viewed)} fail through this schema; keep their names "
            "with overrides where the previous version needs them"
        )
    return notes


def create_compat_schema(
    settings: Settings, schema: str, every_table: bool | None = None
) -> int:
    """Create (or replace) the compatibility schema on the target.

    Args:
        settings: The run settings (project, target, final schema).
        schema: The schema to create.
        every_table: A view for every table and view, those the rename
            leaves as they are included; None: when the application
            qualifies every table with its schema (``qualifies_every_table``).

    Returns:
        The number of views created.

    Raises:
        ConfigError: No name map, a target before PostgreSQL 15 (no
            ``security_invoker``), a final table missing, a schema of that
            name pgshift did not create, or one holding objects besides
            pgshift's views (the application's own tables).
    """
    names = NameMap.read(settings.project_dir)
    if names is None:
        raise ConfigError(
            "the project has no name map: run `python loader/run.py migrate` "
            "(or sync) before creating the compatibility schema"
        )
    if every_table is None:
        every_table = qualifies_every_table(names)
    with transaction(settings.target) as cursor:
        cursor.execute("show server_version_num")
        if int(cursor.fetchone()[0]) < 150000:
            raise ConfigError(
                "the compatibility schema needs PostgreSQL 15 or later on the "
                "target: its views run with the privileges and row-level "
                "security of whoever queries them (security_invoker)"
            )
        enums = _enums(cursor, settings.final_schema, names)
        aliases = _type_aliases(names, enums)
        _replace_schema(cursor, schema, _views(names), aliases)
        # The previous application casts to its types by their source names
        # (Prisma, its schema set to this one: CAST($1::text AS
        # "public_compat"."Type"), ::"Kind"[] in raw SQL): a domain of that
        # name over the final type answers them, for each renamed type and
        # each enum (Prisma qualifies even a name that did not change), and
        # a domain's value (or an array of them) goes into the column.
        for source_type in aliases:
            cursor.execute(
                sql.SQL("create domain {} as {}").format(
                    sql.Identifier(schema, source_type),
                    sql.Identifier(settings.final_schema, names.types[source_type]),
                )
            )
        # PostgreSQL's comparisons of enums (anyenum) refuse an enum and a
        # domain over it: each enum gets its own here, which a domain's
        # value reaches by coercion to its base type (the only candidate),
        # so `type = CAST(... AS "Type")`, `IN`, `= ANY(CAST(... AS
        # "Type"[]))` and `<> ALL` resolve to them. They also win over
        # anyenum for two values of the enum itself (an exact match):
        # each is SQL inlined into PostgreSQL's operator, so a plain
        # comparison keeps its index; an array comparison (`IN` with two
        # values or more, `= ANY`) calls the function per element.
        for target_type in enums:
            _create_comparisons(cursor, schema, settings.final_schema, target_type)
        grantees: set[str] = set()
        count = 0
        relations = [(m.source, m.target, m.columns) for m in names.tables.values()] + [
            (v.source, v.name, v.columns) for v in names.views.values()
        ]
        first = first_schema_tables(names)
        for source, target, columns in relations:
            # A relation that keeps its names is found in the final schema,
            # next on the search_path, as the table it is: a view would only
            # stand in the way of what a view cannot do (Django looks for
            # django_migrations among the tables and, finding a view, takes
            # every migration for unapplied; it groups by a table's key
            # alone, which PostgreSQL accepts of a table, not of a view).
            # Prisma, which names the schema before every table, and knex,
            # which looks for its record in the first schema only, would not
            # find it there.
            if (
                not every_table
                and source not in first
                and keeps_its_names(source, target, columns)
            ):
                continue
            final = sql.Identifier(settings.final_schema, target)
            cursor.execute("select to_regclass(%s)::oid", (final.as_string(cursor),))
            relation = cursor.fetchone()[0]
            if relation is None:
                raise ConfigError(
                    f"{settings.final_schema}.{target} is not on the target: "
                    "migrate first; nothing was created"
                )
            view = sql.Identifier(schema, source)
            grants = _view_grants(cursor, relation, columns)
            cursor.execute(
                "select relrowsecurity from pg_class where oid = %s", (relation,)
            )
            invoker = _runs_as_invoker(
                cursor.fetchone()[0], grants, f"{settings.final_schema}.{target}"
            )
            cursor.execute(
                sql.SQL(
                    "create view {} with (security_invoker = {}) as select {} from {}"
                ).format(
                    view,
                    sql.SQL("true" if invoker else "false"),
                    sql.SQL(", ").join(
                        sql.SQL("{} as {}").format(
                            sql.Identifier(new), sql.Identifier(old)
                        )
                        for old, new in columns.items()
                    ),
                    final,
                )
            )
            cursor.execute(
                sql.SQL("comment on view {} is {}").format(view, sql.Literal(VIEW_MARK))
            )
            for (grantee, privilege), granted in grants.items():
                cursor.execute(
                    sql.SQL("grant {}{} on {} to {}").format(
                        sql.SQL(privilege),
                        sql.SQL("")
                        if granted is None
                        else sql.SQL(" ({})").format(
                            sql.SQL(", ").join(map(sql.Identifier, granted))
                        ),
                        view,
                        _role(grantee),
                    )
                )
                grantees.add(grantee)
            count += 1
        for grantee in sorted(grantees):
            cursor.execute(
                sql.SQL("grant usage on schema {} to {}").format(
                    sql.Identifier(schema), _role(grantee)
                )
            )
    logger.info("compatibility schema %s: %d views", schema, count)
    return count


def drop_compat_schema(settings: Settings, schema: str) -> bool:
    """Drop the compatibility schema if pgshift created it; False if absent.

    Raises:
        ConfigError: A schema of that name exists that pgshift did not
            create, or it holds objects besides pgshift's views.
    """
    with transaction(settings.target) as cursor:
        mark = schema_comment(cursor, schema)
        if mark is None:
            return False
        _check_ours(mark, schema)
        names = NameMap.read(settings.project_dir)
        enums = _enums(cursor, settings.final_schema, names)
        _refuse_foreign_objects(
            cursor, schema, _views(names), _type_aliases(names, enums), "compat --drop"
        )
        cursor.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))
    return True


def _view_grants(
    cursor: Any, relation: int, columns: dict[str, str]
) -> dict[tuple[str, str], list[str] | None]:
    """What each role is granted on a relation's view, as on the relation.

    Args:
        cursor: A cursor on the target.
        relation: The final relation's oid.
        columns: Its columns, source name to final name (the view's).

    Returns:
        For each (role, privilege): None when the role holds it on the
        whole relation, else the view's columns (source names) it holds it
        on. A column the view does not show is left out.
    """
    cursor.execute(_GRANTEES, {"relation": relation, "privileges": list(_PRIVILEGES)})
    source_names = {new: old for old, new in columns.items()}
    grants: dict[tuple[str, str], list[str] | None] = {}
    for grantee, privilege, column in cursor.fetchall():
        key = (grantee, privilege)
        if column is None:
            grants[key] = None
        elif column in source_names and grants.get(key, []) is not None:
            grants.setdefault(key, []).append(source_names[column])
    return grants


def _runs_as_invoker(
    row_security: bool, grants: dict[tuple[str, str], list[str] | None], final: str
) -> bool:
    """Whether a view runs with its invoker's privileges (security_invoker).

    A security_invoker view checks its invoker's privilege on every column
    of the relation it lists, whichever columns the query names: a role
    holding a privilege only on some columns (Logto's tenant role: four
    columns of ``tenants``) is refused even those. Such a view then runs
    with its owner's privileges, and its own grants (on the same columns,
    by their source names) decide what each role may do through it, as the
    relation's decide on the relation. A relation with row-level security
    keeps its security_invoker view, so that its policies apply to whoever
    queries it; those roles' reads through it are refused (a warning names
    them), never widened.
    """
    partial = sorted(
        {grantee for (grantee, _), granted in grants.items() if granted is not None}
    )
    if not partial:
        return True
    if row_security:
        logger.warning(
            "%s has row-level security and %s hold(s) privileges on some of its "
            "columns only: through the compatibility view their SELECT, and "
            "their UPDATE or DELETE with a WHERE, are refused (a view that "
            "applies the policies to its invoker checks every column it "
            "lists); they may still query %s itself",
            final,
            ", ".join(partial),
            final,
        )
        return True
    return False


def _role(name: str) -> sql.Composable:
    return sql.SQL("public") if name == "public" else sql.Identifier(name)


def _check_ours(mark: str | None, schema: str) -> None:
    """Refuse a schema of that name (its comment: ``mark``) pgshift did not create."""
    if mark is not None and mark != COMPAT_MARK:
        raise ConfigError(
            f"the target has a schema {schema} that pgshift did not create; "
            "nothing was changed. Choose another name with --schema"
        )


# What a schema holds besides pgshift's views onto the final tables, its
# domains and its comparisons (a view's row type depends on the view, not
# on the schema).
_FOREIGN_OBJECTS = """
select pg_describe_object(d.classid, d.objid, d.objsubid)
from pg_depend d
where d.refclassid = 'pg_namespace'::regclass
  and d.refobjid = to_regnamespace(quote_ident(%(schema)s))
  and d.deptype = 'n'
  and not exists (select 1 from pg_class c
                  where d.classid = 'pg_class'::regclass and c.oid = d.objid
                    and c.relkind = 'v'
                    and (coalesce(obj_description(c.oid, 'pg_class')
                                  = %(view_mark)s, false)
                         -- a schema made before views were marked: by name
                         or (c.relname = any(%(views)s) and not exists (
                             select 1 from pg_class m
                             where m.relnamespace = c.relnamespace
                               and obj_description(m.oid, 'pg_class')
                                   = %(view_mark)s))))
  and not exists (select 1 from pg_type t
                  where d.classid = 'pg_type'::regclass and t.oid = d.objid
                    and t.typtype = 'd' and t.typname = any(%(types)s))
  and not (d.classid in ('pg_proc'::regclass, 'pg_operator'::regclass)
           and coalesce(obj_description(d.objid, d.classid::regclass::name)
                        = %(mark)s, false))
order by 1
"""


def _refuse_foreign_objects(
    cursor: Any,
    schema: str,
    views: list[str],
    types: list[str] | None = None,
    command: str = "compat",
) -> None:
    """Refuse to drop a schema holding objects pgshift did not create there.

    The previous application, its search_path at the schema, creates its
    new tables there (n8n's data tables): dropping the schema would drop
    them and their rows. ``command`` is the one to run again once they are
    moved (``compat`` or ``compat --drop``).
    """
    cursor.execute(
        _FOREIGN_OBJECTS,
        {
            "schema": schema,
            "views": views,
            "types": types or [],
            "mark": COMPARISON_MARK,
            "view_mark": VIEW_MARK,
        },
    )
    foreign = [row[0] for row in cursor.fetchall()]
    if foreign:
        raise ConfigError(
            f"the compatibility schema {schema} holds what pgshift did not "
            f"create there: {', '.join(foreign)} (the application, its "
            "search_path at the schema, made them); nothing was changed. "
            "Next: drop them, or move to the final schema (ALTER ... SET "
            "SCHEMA) those it has none of the same name of, then run `python "
            f"loader/run.py {command}` again"
        )


def _views(names: NameMap | None) -> list[str]:
    """The names of the compatibility schema's views: the source's."""
    if names is None:
        return []
    return [m.source for m in names.tables.values()] + [
        v.source for v in names.views.values()
    ]


def _enums(cursor: Any, final_schema: str, names: NameMap | None) -> list[str]:
    """The final names of the name map's types that are enums on the target."""
    if names is None or not names.types:
        return []
    cursor.execute(
        "select t.typname from pg_type t "
        "join pg_namespace n on n.oid = t.typnamespace "
        "where n.nspname = %s and t.typtype = 'e' and t.typname = any(%s) "
        "order by 1",
        (final_schema, sorted(set(names.types.values()))),
    )
    return [row[0] for row in cursor.fetchall()]


def _type_aliases(names: NameMap | None, enums: list[str]) -> list[str]:
    """The source names of the schema's domains over the final types.

    Each renamed type has one, and each enum (``enums``: their final names).
    """
    if names is None:
        return []
    return sorted(
        source
        for source, target in names.types.items()
        if source != target or target in enums
    )


_COMPARISONS = {
    "=": ("eq", "=", "<>", "eqsel", "eqjoinsel"),
    "<>": ("ne", "<>", "=", "neqsel", "neqjoinsel"),
    "<": ("lt", ">", ">=", "scalarltsel", "scalarltjoinsel"),
    "<=": ("le", ">=", ">", "scalarlesel", "scalarlejoinsel"),
    ">": ("gt", "<", "<=", "scalargtsel", "scalargtjoinsel"),
    ">=": ("ge", "<=", "<", "scalargesel", "scalargejoinsel"),
}
"""Each comparison: its function's suffix, commutator, negator, estimators."""


def _create_comparisons(cursor: Any, schema: str, final_schema: str, enum: str) -> None:
    """Create the schema's comparison operators of two values of ``enum``.

    Each calls a SQL function whose body is PostgreSQL's own operator, so
    the planner inlines it into a plain comparison. Both carry
    ``COMPARISON_MARK``: what pgshift created in the schema besides its
    views and domains.
    """
    final = sql.Identifier(final_schema, enum)
    for operator, (suffix, commutator, negator, restrict, join) in _COMPARISONS.items():
        function = sql.Identifier(schema, f"pgshift_enum_{suffix}")
        cursor.execute(
            sql.SQL(
                "create function {function}({final}, {final}) returns boolean "
                "language sql immutable strict parallel safe "
                "as {body}"
            ).format(
                function=function,
                final=final,
                body=sql.Literal(f"select $1 operator(pg_catalog.{operator}) $2"),
            )
        )
        cursor.execute(
            sql.SQL("comment on function {}({}, {}) is {}").format(
                function, final, final, sql.Literal(COMPARISON_MARK)
            )
        )
        cursor.execute(
            sql.SQL(
                "create operator {schema}.{operator} (leftarg = {final}, "
                "rightarg = {final}, function = {function}, "
                "commutator = operator({schema}.{commutator}), "
                "negator = operator({schema}.{negator}), "
                "restrict = {restrict}, join = {join})"
            ).format(
                schema=sql.Identifier(schema),
                operator=sql.SQL(operator),
                final=final,
                function=function,
                commutator=sql.SQL(commutator),
                negator=sql.SQL(negator),
                restrict=sql.SQL(restrict),
                join=sql.SQL(join),
            )
        )
        cursor.execute(
            sql.SQL("comment on operator {}.{} ({}, {}) is {}").format(
                sql.Identifier(schema),
                sql.SQL(operator),
                final,
                final,
                sql.Literal(COMPARISON_MARK),
            )
        )


def _replace_schema(
    cursor: Any, schema: str, views: list[str], types: list[str] | None = None
) -> None:
    """Drop pgshift's schema of that name if there, and create it empty."""
    _check_ours(schema_comment(cursor, schema), schema)
    _refuse_foreign_objects(cursor, schema, views, types)
    name = sql.Identifier(schema)
    cursor.execute(sql.SQL("drop schema if exists {} cascade").format(name))
    cursor.execute(sql.SQL("create schema {}").format(name))
    cursor.execute(
        sql.SQL("comment on schema {} is {}").format(name, sql.Literal(COMPAT_MARK))
    )
