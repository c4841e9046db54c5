"""Privileges and owners of the migrated schema, through the name map.

``read_privileges`` reads, from the source catalog, every privilege granted
on the migrated schema, its tables (and their columns), sequences, views,
materialized views, functions and types (enum, domain, composite and
range types), and the schema's default privileges (``pg_default_acl``),
from their ACLs (``aclexplode``, so grants WITH GRANT
OPTION and grants to PUBLIC are there), with the owner of each object.
``map_privileges`` turns them into the statements the target gets, every
object and column named as the name map names it:

* ``alter table ... owner to`` the source's owner (the build applies it
  when that role exists on the target and the migrating role may assign
  it; otherwise the object stays the migrating role's, and the report says
  so). An object the source role (the one the source URL connects as)
  owns stays the migrating role's: the role that moves the schema owns it
  on both sides;
* ``grant ...`` for each privilege another role than the owner holds,
  one statement per privilege (and per column);
* ``revoke usage`` (``create``) ``on schema ... from public`` where the
  source schema gives PUBLIC no such right: the final schema is the
  target's own, whose ACL may give PUBLIC more;
* ``alter default privileges for role ... in schema ... grant ...``.

Functions, procedures and aggregates that are created on the target
(``pgshift.routines``) get their owner, their grants of EXECUTE, and a
revoke of PUBLIC's EXECUTE where the source revoked it. The types the
build creates (``NameMap.types``) get theirs the same way: their owner,
their grants of USAGE, and a revoke of PUBLIC's USAGE where the source
revoked it. Objects the target
does not get under a name pgshift knows (a view of an older name map, a
routine that needs review) are not guessed at: each is one line of
``Privileges.skipped``.
The statements name the final schema through a placeholder
(``Statement.parts``), which scaffold writes as the macro's argument and the
report as the final schema's name. The build records what it applied and
what it could not (a role missing on the target) in the state table
``PRIVILEGES_TABLE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql

from pgshift.catalog import NOT_EXTENSION_MEMBER
from pgshift.connection import relation_exists
from pgshift.mapping import NameMap
from pgshift.routines import SCHEMA as ROUTINE_SCHEMA
from pgshift.routines import Routines
from pgshift.sqlident import quote_ident, render_ident

PRIVILEGES_MACRO = "macros/scaffolded/pgshift_source_privileges.sql"
"""The generated macro of the statements, in the dbt project (scaffold writes it)."""
PRIVILEGES_TABLE = "privileges"
"""In the state schema: each source privilege and owner the last publish
applied, or why not (a role missing on the target)."""

SCHEMA = None
"""In ``Statement.parts``: where the final schema's name goes."""

_RELKINDS = {
    "r": "table",
    "p": "table",
    "S": "sequence",
    "I": "identity sequence",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}

_DEFAULT_OBJECTS = {
    "r": "tables",
    "S": "sequences",
    "f": "functions",
    "T": "types",
    "n": "schemas",
}
"""pg_default_acl.defaclobjtype to the word ALTER DEFAULT PRIVILEGES takes."""

_SCHEMA_ACL = """
select pg_get_userbyid(n.nspowner),
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_namespace n
cross join lateral aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
where n.nspname = %(schema)s
order by 2, 3
"""
"""Who may use and create in the source schema, its owner included: the
final schema is the target's own, so the rights the source's owner has by
owning it (or, for ``pg_database_owner``, the source database's owner) are
granted to it there: its tables' foreign keys are checked as their owner,
who must reach the schema, and the application's next migrations create
there."""

_RELATION_ACL = f"""
select c.relname,
       -- An identity column's sequence depends internally on its table (a
       -- partitioned table depends so on its partition key's columns).
       case when c.relkind = 'S' and exists (
                select 1 from pg_depend d
                where d.classid = 'pg_class'::regclass
                  and d.objid = c.oid and d.deptype = 'i')
            then 'I' else c.relkind::text end,
       pg_get_userbyid(c.relowner), c.relacl is not null,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join lateral aclexplode(c.relacl) a on a.grantee <> c.relowner
where n.nspname = %(schema)s and c.relkind in ('r', 'p', 'S', 'v', 'm', 'f')
  and not c.relispartition and {NOT_EXTENSION_MEMBER}
order by 1, 5, 6
"""

_EXTENSION_RELATION_ACL = """
select c.relname, c.relkind::text, x.extname,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = c.oid
                and d.deptype = 'e'
join pg_extension x on x.oid = d.refobjid
cross join lateral aclexplode(c.relacl) a
where n.nspname = %(schema)s and c.relkind in ('r', 'p', 'S', 'v', 'm')
  and a.grantee <> c.relowner
  and not exists (
      select 1 from pg_init_privs i
      cross join lateral aclexplode(i.initprivs) ia
      where i.objoid = c.oid and i.classoid = 'pg_class'::regclass
        and i.objsubid = 0 and ia.grantee = a.grantee
        and ia.privilege_type = a.privilege_type)
order by 1, 4, 5
"""
"""Grants on an extension's own relations (PostGIS's ``spatial_ref_sys``)
beyond those the extension gave them (``pg_init_privs``): made by the team
on the source, which ``CREATE EXTENSION`` on the target does not make."""

_COLUMN_ACL = f"""
select c.relname, at.attname,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_attribute at
join pg_class c on c.oid = at.attrelid
join pg_namespace n on n.oid = c.relnamespace
cross join lateral aclexplode(at.attacl) a
where n.nspname = %(schema)s and c.relkind in ('r', 'p', 'v', 'm', 'f')
  and not c.relispartition and at.attnum > 0 and not at.attisdropped
  and {NOT_EXTENSION_MEMBER}
  and a.grantee <> c.relowner
order by 1, at.attnum, 3, 4
"""

_PARTITION_ACL = f"""
select c.relname,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join lateral aclexplode(c.relacl) a
where n.nspname = %(schema)s and c.relkind in ('r', 'p') and c.relispartition
  and a.grantee <> c.relowner and {NOT_EXTENSION_MEMBER}
order by 1, 2, 3
"""
"""The grants of the partitions themselves (an application reading one
partition by its name). A partition's owner is its table's on the target
(``pgshift_align_partition_owners``); its own owner is listed as not
migrated."""

_FUNCTION_ACL = """
select p.oid, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate'
                      else 'function' end,
       pg_get_userbyid(p.proowner), p.proacl is null,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
left join lateral aclexplode(p.proacl) a on a.grantee <> p.proowner
where n.nspname = %(schema)s
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                    and d.deptype in ('e', 'i'))
order by 2, 6, 7
"""

# The schema's enum, domain, composite and range types. A range's
# multirange type gets nothing of its own, as pg_dump gives it nothing (newer
# servers alter it with its range, and refuse to alter it alone).
_TYPE_ACL = """
select t.typname, pg_get_userbyid(t.typowner), t.typacl is null,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
left join lateral aclexplode(t.typacl) a on a.grantee <> t.typowner
where n.nspname = %(schema)s
  and (t.typtype in ('e', 'd', 'r')
       or (t.typtype = 'c'
           and (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c'))
order by 1, 4, 5
"""

_DEFAULT_ACL = """
select pg_get_userbyid(d.defaclrole), d.defaclobjtype,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       lower(a.privilege_type), a.is_grantable
from pg_default_acl d
join pg_namespace n on n.oid = d.defaclnamespace
cross join lateral aclexplode(d.defaclacl) a
where n.nspname = %(schema)s
order by 1, 2, 3, 4
"""


@dataclass(frozen=True)
class SourceGrant:
    """One privilege on a source object, as ``aclexplode`` gives it.

    Attributes:
        kind: "schema", "table", "partition", "sequence", "identity
            sequence" (an identity column's), "view", "materialized view",
            "foreign table", or "default" (a default privilege).
        name: The object's source name ("" for the schema and defaults).
        column: The column's source name, or "".
        grantee: The role, or "public".
        privilege: The privilege, lower case ("select").
        grantable: WITH GRANT OPTION.
        role: For a default privilege: the role whose new objects get it.
        objects: For a default privilege: "tables", "sequences", ...
    """

    kind: str
    name: str
    column: str
    grantee: str
    privilege: str
    grantable: bool
    role: str = ""
    objects: str = ""


@dataclass
class SourceFunction:
    """A function, procedure or aggregate of the source, with its ACL.

    Attributes:
        oid: Its oid on the source.
        signature: ``name(argument types)``, for people.
        kind: "function", "procedure" or "aggregate".
        owner: Its owner.
        default_acl: Whether its ACL is the default one (NULL: its owner and
            PUBLIC may execute it), which a routine created on the target
            gets as well.
        grants: (grantee or "public", privilege, grantable) held by roles
            other than the owner.
    """

    oid: int
    signature: str
    kind: str
    owner: str
    default_acl: bool
    grants: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass
class SourceType:
    """An enum, domain, composite or range type of the source, with its ACL.

    Attributes:
        name: Its source name.
        owner: Its owner.
        default_acl: Whether its ACL is the default one (NULL: its owner and
            PUBLIC may use it), which a type created on the target gets too.
        grants: (grantee or "public", privilege, grantable) held by roles
            other than the owner.
    """

    name: str
    owner: str
    default_acl: bool
    grants: list[tuple[str, str, bool]] = field(default_factory=list)


@dataclass
class SourcePrivileges:
    """What the source grants on the migrated schema, and who owns what.

    Attributes:
        schema: The source schema.
        user: The role the source connection reads as.
        schema_owner: The role owning the migrated schema (its rights on the
            schema are in ``grants`` like any other role's).
        grants: Every privilege held by another role than the object's
            owner, and the schema owner's on the schema.
        owners: (kind, source name) to the owning role, for every relation.
        functions: Every function, procedure and aggregate, with its owner
            and ACL.
        types: Every enum, domain, composite and range type, with its owner
            and ACL.
        extension_grants: One line per grant on an extension's own
            relation beyond the extension's (``_EXTENSION_RELATION_ACL``),
            which the target does not get.
    """

    schema: str
    user: str = ""
    schema_owner: str = ""
    grants: list[SourceGrant] = field(default_factory=list)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    functions: list[SourceFunction] = field(default_factory=list)
    extension_grants: list[str] = field(default_factory=list)
    types: list[SourceType] = field(default_factory=list)


def read_privileges(cursor: Any, schema: str) -> SourcePrivileges:
    """Read the privileges and owners of a source schema and its objects.

    Args:
        cursor: A cursor on the source database.
        schema: The migrated schema.

    Returns:
        The schema's, relations', columns', routines', types' and default
        privileges.
    """
    args = {"schema": schema}
    cursor.execute("select current_user")
    found = SourcePrivileges(schema=schema, user=cursor.fetchone()[0])
    cursor.execute(
        "select pg_get_userbyid(datdba) from pg_database "
        "where datname = current_database()"
    )
    (database_owner,) = cursor.fetchone()
    cursor.execute(_SCHEMA_ACL, args)
    for owner, grantee, privilege, grantable in cursor.fetchall():
        owning = grantee == owner  # a right of owning the schema, not a grant
        if grantee == "pg_database_owner":
            # PostgreSQL 15's public: the role owning the source database
            # holds it, which need not own the target's.
            grantee = database_owner
        if owning:
            found.schema_owner = grantee
        found.grants.append(
            SourceGrant("schema", "", "", grantee, privilege, grantable)
        )
    cursor.execute(_RELATION_ACL, args)
    for name, relkind, owner, _acl, grantee, privilege, grantable in cursor.fetchall():
        kind = _RELKINDS[relkind]
        found.owners[(kind, name)] = owner
        if grantee is not None:
            found.grants.append(
                SourceGrant(kind, name, "", grantee, privilege, grantable)
            )
    cursor.execute(_EXTENSION_RELATION_ACL, args)
    for name, relkind, extension, grantee, privilege, grantable in cursor.fetchall():
        word = _RELKINDS[relkind]
        on = "sequence" if word == "sequence" else "table"  # GRANT's word
        found.extension_grants.append(
            f"{word} {name} (extension {extension}): {grantee}'s "
            f"{privilege.upper()} is not applied: the target's CREATE EXTENSION "
            f"gives the extension's objects its own privileges; if the "
            f"application needs it, run on the target: grant {privilege} on "
            f"{on} <final schema>.{render_ident(name)} to {_role(grantee)}"
            f"{' with grant option' if grantable else ''}"
        )
    cursor.execute(_PARTITION_ACL, args)
    for name, grantee, privilege, grantable in cursor.fetchall():
        found.grants.append(
            SourceGrant("partition", name, "", grantee, privilege, grantable)
        )
    kinds = {name: kind for kind, name in found.owners}
    cursor.execute(_COLUMN_ACL, args)
    for name, column, grantee, privilege, grantable in cursor.fetchall():
        found.grants.append(
            SourceGrant(
                kinds.get(name, "table"), name, column, grantee, privilege, grantable
            )
        )
    cursor.execute(_FUNCTION_ACL, args)
    functions: dict[int, SourceFunction] = {}
    for (
        oid,
        signature,
        kind,
        owner,
        default,
        grantee,
        privilege,
        grantable,
    ) in cursor.fetchall():
        function = functions.setdefault(
            oid, SourceFunction(oid, signature, kind, owner, default)
        )
        if grantee is not None:
            function.grants.append((grantee, privilege, grantable))
    found.functions = list(functions.values())
    cursor.execute(_TYPE_ACL, args)
    types: dict[str, SourceType] = {}
    for name, owner, default, grantee, privilege, grantable in cursor.fetchall():
        source_type = types.setdefault(name, SourceType(name, owner, default))
        if grantee is not None:
            source_type.grants.append((grantee, privilege, grantable))
    found.types = list(types.values())
    cursor.execute(_DEFAULT_ACL, args)
    for role, objtype, grantee, privilege, grantable in cursor.fetchall():
        found.grants.append(
            SourceGrant(
                "default",
                "",
                "",
                grantee,
                privilege,
                grantable,
                role=role,
                objects=_DEFAULT_OBJECTS.get(objtype, objtype),
            )
        )
    return found


@dataclass(frozen=True)
class Statement:
    """One statement the target gets, with what it is about.

    Attributes:
        kind: "owner", "schema", "table", "column", "sequence", "view",
            "materialized view", "default", "routine" (EXECUTE on a
            function, procedure or aggregate), "routine owner", "type"
            (USAGE on a type) or "type owner".
        object: The target object's name ("" for the schema and defaults;
            ``name(argument types)`` for a routine).
        column: The target column, or "".
        grantee: The role granted to ("public"), or the new owner.
        privilege: The privilege ("select"), "owner", or for a default
            privilege "select on tables".
        grantable: WITH GRANT OPTION.
        roles: The roles that must exist on the target for it to run.
        relation: For a statement on a relation: "table" or "sequence";
            on a routine: "routine"; on a type: "type".
        source: The source object it comes from, for people.
        parts: The statement's text, ``SCHEMA`` where the final schema goes.
        revoke_parts: The statement that takes the privilege back, when the
            source no longer grants it (none for an owner).
    """

    kind: str
    object: str
    column: str
    grantee: str
    privilege: str
    grantable: bool
    roles: tuple[str, ...]
    relation: str
    source: str
    parts: tuple[str | None, ...]
    revoke_parts: tuple[str | None, ...] = ()

    def text(self, schema: str) -> str:
        """The statement, in the final schema of that name.

        The schema is always quoted, as the build's ``pgshift_ident`` quotes
        it, so scaffold and the report print the statement the build runs.
        """
        return _joined(self.parts, schema)

    def revoke_text(self, schema: str) -> str:
        """The revoking statement, in the final schema of that name."""
        return _joined(self.revoke_parts, schema)


def _joined(parts: tuple[str | None, ...], schema: str) -> str:
    return "".join(quote_ident(schema) if p is SCHEMA else p for p in parts)


@dataclass
class Privileges:
    """The source's privileges as the target gets them.

    Attributes:
        statements: Owners first, then grants, then default privileges.
        skipped: One line per privilege or owner that cannot be applied
            from what the name map holds, with the reason.
    """

    statements: list[Statement] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def roles(self) -> set[str]:
        """Every role a statement needs."""
        return {role for s in self.statements for role in s.roles}


def _role(name: str) -> str:
    return "public" if name == "public" else render_ident(name)


def _views(names: NameMap) -> dict[str, Any]:
    """The map's views and materialized views (source name to map), if any.

    A map that holds no views (an older one, or a scaffold that migrates
    none) gives none, and their privileges are listed, not guessed.
    """
    return getattr(names, "views", None) or {}


def _left_out(names: NameMap, kind: str, source: str) -> bool:
    """Whether the map lists a relation as not migrated (with the reason)."""
    return [kind, source] in [entry[:2] for entry in names.not_migrated]


def _target_relation(names: NameMap, kind: str, source: str) -> tuple[str, str] | None:
    """The target name and ``ALTER`` word of a source relation, or None.

    Only what the name map holds is named: tables, sequences (an identity
    column's, which the build creates with its table, included), and views
    and materialized views once the map holds them. Another kind is not
    guessed.
    """
    if kind == "table" and source in names.tables:
        return names.tables[source].target, "table"
    if kind == "partition":
        for table in names.tables.values():
            for partition in table.partitions:
                if partition.source == source:
                    return partition.name, "table"
        return None
    if kind == "sequence" and source in names.sequences:
        return names.sequences[source].name, "sequence"
    if kind == "identity sequence":
        identity = names.identity_sequence_names().get(source)
        return (identity, "sequence") if identity else None
    view = _views(names).get(source)
    if kind in ("view", "materialized view") and view is not None and view.kind == kind:
        return view.name, kind
    return None


def _target_column(names: NameMap, kind: str, source: str, column: str) -> str:
    """The target name of a table's or view's column ("" when not mapped)."""
    if kind == "table":
        return names.tables[source].columns.get(column, "")
    columns: dict[str, str] = _views(names)[source].columns
    return columns.get(column, "")


def _owned_with_table(names: NameMap, source: str) -> bool:
    """Whether a sequence's owner follows its table's (OWNED BY a column)."""
    mapped = names.sequences.get(source)
    return mapped is not None and (mapped.serial or mapped.owned_by is not None)


def _grant_parts(
    privilege: str,
    columns: str,
    on: str,
    relation: tuple[str | None, ...],
    grantee: str,
    grantable: bool,
) -> tuple[str | None, ...]:
    option = " with grant option" if grantable else ""
    return (
        f"grant {privilege}{columns} on {on} ",
        *relation,
        f" to {_role(grantee)}{option}",
    )


def _revoke_parts(
    privilege: str,
    columns: str,
    on: str,
    relation: tuple[str | None, ...],
    grantee: str,
) -> tuple[str | None, ...]:
    return (
        f"revoke {privilege}{columns} on {on} ",
        *relation,
        f" from {_role(grantee)}",
    )


def map_privileges(
    found: SourcePrivileges, names: NameMap, routines: Routines | None = None
) -> Privileges:
    """The statements that give the target the source's privileges and owners.

    Args:
        found: What ``read_privileges`` read.
        names: The applied name map.
        routines: The source's routines as the target gets them; the
            privileges of one that is not created are listed, not applied.

    Returns:
        The statements, and what could not be mapped.
    """
    out = Privileges(skipped=list(found.extension_grants))
    for (kind, source), owner in sorted(found.owners.items()):
        target = _target_relation(names, kind, source)
        if target is None:
            if kind in ("table", "sequence", "identity sequence") or _left_out(
                names, kind, source
            ):
                # Left out of the migration, and listed as such; an
                # identity's sequence follows its table.
                continue
            out.skipped.append(
                f"{kind} {source}: owner {owner} and its privileges are not "
                f"applied: the name map holds no {kind} yet"
            )
            continue
        if kind == "identity sequence" or (
            kind == "sequence" and _owned_with_table(names, source)
        ):
            continue  # ALTER TABLE ... OWNER takes its owned sequences along
        name, word = target
        out.statements.append(
            Statement(
                kind="owner",
                object=name,
                column="",
                grantee=owner,
                privilege="owner",
                grantable=False,
                # Owned by the role scaffold read the source as: given to
                # it where the target has it and the publishing role may
                # assign it (the application's role, which owns its
                # tables, read the source, and another migrated the
                # target), else kept by the publishing role. No role is
                # required: a missing one is no role to create.
                roles=() if owner == found.user else (owner,),
                relation=word,
                source=source,
                parts=(
                    f"alter {word} ",
                    SCHEMA,
                    f".{render_ident(name)} owner to {render_ident(owner)}",
                ),
            )
        )
    out.statements += _schema_revokes(found, names)
    for grant in found.grants:
        if grant.kind == "schema" and grant.grantee == found.schema_owner == found.user:
            continue  # the migrating role builds in the final schema
        statement = _grant_statement(grant, names)
        if isinstance(statement, str):
            if statement:
                out.skipped.append(statement)
        else:
            out.statements.append(statement)
    created = {
        r.oid: r for r in (routines.routines if routines else []) if not r.problems
    }
    for function in found.functions:
        routine = created.get(function.oid)
        if routine is None:
            if function.owner != found.user or not function.default_acl:
                out.skipped.append(
                    f"{function.kind} {function.signature}: its owner and "
                    "privileges are not applied: the routine is not created on "
                    "the target (see the routines needing review)"
                )
            continue
        out.statements += _routine_statements(function, routine.signature, found)
    for source_type in found.types:
        # A type the target does not get is listed as such (see
        # ``Catalog.composite_problems`` and ``range_problems``).
        if source_type.name in names.types:
            out.statements += _type_statements(
                source_type, names.types[source_type.name], found
            )
    return out


def _schema_revokes(found: SourcePrivileges, names: NameMap) -> list[Statement]:
    """PUBLIC's USAGE and CREATE on the final schema, as the source's lacks them.

    Each is revoked where the source schema does not give it to PUBLIC.
    The final schema is the target's own, whose ACL may give PUBLIC what the
    source schema does not (``public``'s USAGE; its CREATE before PostgreSQL
    15): a source kept from PUBLIC (``REVOKE ALL ON SCHEMA public FROM
    PUBLIC``, or a schema of its own, whose ACL starts as its owner's alone)
    would otherwise let every role of the target reach the tables that only
    its grantees reach on the source. The target's owner and its roles' own
    grants stay. Each revoke's counterpart grants PUBLIC's right back, once
    the source gives it again.
    """
    given = {
        grant.privilege
        for grant in found.grants
        if grant.kind == "schema" and grant.grantee == "public"
    }
    return [
        Statement(
            kind="schema",
            object="",
            column="",
            grantee="public",
            privilege=f"revoke {privilege}",
            grantable=False,
            roles=(),
            relation="",
            source=names.source_schema,
            parts=_revoke_parts(privilege, "", "schema", (SCHEMA,), "public"),
            revoke_parts=_grant_parts(
                privilege, "", "schema", (SCHEMA,), "public", False
            ),
        )
        for privilege in ("usage", "create")
        if privilege not in given
    ]


def _type_statements(
    source_type: SourceType, name: str, found: SourcePrivileges
) -> list[Statement]:
    """The owner and USAGE privileges of a type the build creates.

    As for a routine: PUBLIC's USAGE is revoked where the source's ACL is
    its own without it, and the owner comes last, after the grants the
    creating role makes.
    """
    return _owned_object_statements(
        "type",
        "usage",
        name,
        (SCHEMA, f".{render_ident(name)}"),
        f"type {source_type.name}",
        source_type,
        found,
    )


def _routine_statements(
    function: SourceFunction, signature: str, found: SourcePrivileges
) -> list[Statement]:
    """The owner and EXECUTE privileges of a routine created on the target.

    A routine's ACL starts as PUBLIC's EXECUTE on the target as on the
    source; where the source's ACL is its own (``proacl`` not NULL) without
    PUBLIC's EXECUTE, the target's is revoked too, so that a function the
    source keeps from PUBLIC (a SECURITY DEFINER one, say) is not callable
    by every role on the target.
    """
    schema, _, name = signature.partition(ROUTINE_SCHEMA + ".")
    if schema:
        raise ValueError(f"unexpected routine signature {signature!r}")
    return _owned_object_statements(
        "routine",
        "execute",
        name,
        (SCHEMA, f".{name}"),
        f"{function.kind} {function.signature}",
        function,
        found,
    )


def _owned_object_statements(
    kind: str,
    default_privilege: str,
    name: str,
    target: tuple[str, str],
    source: str,
    found_object: SourceFunction | SourceType,
    found: SourcePrivileges,
) -> list[Statement]:
    """A routine's or a type's statements, as the publish runs them.

    PUBLIC's default right revoked where the source's ACL is its own
    without it, each grant, and the owner last (the grants are made by the
    role that created the object).

    Args:
        kind: "routine" or "type", as the publish records it.
        default_privilege: What PUBLIC holds by default ("execute", "usage").
        name: The object as the statements' object names it.
        target: The object as SQL, in parts.
        source: The source object, as the report names it.
        found_object: Its grants, default ACL and owner on the source.
        found: The source's privileges (the role scaffold connected as).
    """

    def statement(
        recorded: str, grantee: str, privilege: str, grantable: bool, parts: tuple
    ) -> Statement:
        return Statement(
            kind=recorded,
            object=name,
            column="",
            grantee=grantee,
            privilege=privilege,
            grantable=grantable,
            roles=(grantee,) if grantee != "public" else (),
            relation=kind,
            source=source,
            parts=parts[0],
            revoke_parts=parts[1],
        )

    statements = []
    granted = {grantee for grantee, _, _ in found_object.grants}
    if not found_object.default_acl and "public" not in granted:
        statements.append(
            statement(
                kind,
                "public",
                f"revoke {default_privilege}",
                False,
                (
                    _revoke_parts(default_privilege, "", kind, target, "public"),
                    _grant_parts(default_privilege, "", kind, target, "public", False),
                ),
            )
        )
    for grantee, privilege, grantable in found_object.grants:
        statements.append(
            statement(
                kind,
                grantee,
                privilege,
                grantable,
                (
                    _grant_parts(privilege, "", kind, target, grantee, grantable),
                    _revoke_parts(privilege, "", kind, target, grantee),
                ),
            )
        )
    if found_object.owner != found.user:
        statements.append(
            statement(
                f"{kind} owner",
                found_object.owner,
                "owner",
                False,
                (
                    (
                        f"alter {kind} ",
                        *target,
                        f" owner to {_role(found_object.owner)}",
                    ),
                    (),
                ),
            )
        )
    return statements


def _grant_statement(grant: SourceGrant, names: NameMap) -> Statement | str:
    """The statement for one source privilege, or why there is none.

    An empty reason means the object is not migrated at all (a table left
    out with --exclude), and is listed elsewhere.
    """
    who = (grant.grantee,) if grant.grantee != "public" else ()
    if grant.kind == "schema":
        return Statement(
            kind="schema",
            object="",
            column="",
            grantee=grant.grantee,
            privilege=grant.privilege,
            grantable=grant.grantable,
            roles=who,
            relation="",
            source=names.source_schema,
            parts=_grant_parts(
                grant.privilege, "", "schema", (SCHEMA,), grant.grantee, grant.grantable
            ),
            revoke_parts=_revoke_parts(
                grant.privilege, "", "schema", (SCHEMA,), grant.grantee
            ),
        )
    if grant.kind == "default":
        option = " with grant option" if grant.grantable else ""
        return Statement(
            kind="default",
            object="",
            column="",
            grantee=grant.grantee,
            privilege=f"{grant.privilege} on {grant.objects}",
            grantable=grant.grantable,
            roles=(grant.role, *who),
            relation="",
            source=f"default privileges of {grant.role}",
            parts=(
                f"alter default privileges for role {render_ident(grant.role)} "
                "in schema ",
                SCHEMA,
                f" grant {grant.privilege} on {grant.objects} to "
                f"{_role(grant.grantee)}{option}",
            ),
            revoke_parts=(
                f"alter default privileges for role {render_ident(grant.role)} "
                "in schema ",
                SCHEMA,
                f" revoke {grant.privilege} on {grant.objects} from "
                f"{_role(grant.grantee)}",
            ),
        )
    target = _target_relation(names, grant.kind, grant.name)
    label = grant.name + (f".{grant.column}" if grant.column else "")
    shown = f"{grant.privilege} on {grant.kind} {label} to {grant.grantee}"
    if target is None:
        # An identity column's sequence is left out with its table, a
        # partition with its table.
        if grant.kind in (
            "table",
            "partition",
            "sequence",
            "identity sequence",
        ) or _left_out(names, grant.kind, grant.name):
            return ""
        return f"{shown}: not applied: the name map holds no {grant.kind} yet"
    name, word = target
    on = "sequence" if word == "sequence" else "table"
    relation = (SCHEMA, f".{render_ident(name)}")
    column = ""
    columns = ""
    if grant.column:
        column = _target_column(names, grant.kind, grant.name, grant.column)
        if not column:
            return f"{shown}: not applied: the name map holds no such column"
        columns = f" ({render_ident(column)})"
    return Statement(
        kind="column" if column else word,
        object=name,
        column=column,
        grantee=grant.grantee,
        privilege=grant.privilege,
        grantable=grant.grantable,
        roles=who,
        relation=word,
        source=label,
        parts=_grant_parts(
            grant.privilege, columns, on, relation, grant.grantee, grant.grantable
        ),
        revoke_parts=_revoke_parts(
            grant.privilege, columns, on, relation, grant.grantee
        ),
    )


def missing_roles(cursor: Any, roles: Iterable[str]) -> set[str]:
    """The roles that do not exist on the server a cursor is connected to."""
    wanted = sorted(set(roles))
    if not wanted:
        return set()
    cursor.execute(
        "select r from unnest(%s::text[]) as r "
        "where not exists (select 1 from pg_roles where rolname = r)",
        (wanted,),
    )
    return {row[0] for row in cursor.fetchall()}


@dataclass(frozen=True)
class Outcome:
    """What the last publish did with one source privilege or owner.

    Attributes:
        kind: As ``Statement.kind``.
        object: The target object ("" for the schema and defaults).
        column: The target column, or "".
        grantee: The role granted to, or the owner.
        privilege: As ``Statement.privilege``.
        statement: The statement, in the final schema.
        outcome: "granted", "revoked" (PUBLIC's EXECUTE on a routine, its
            USAGE on a type, its USAGE or CREATE on the schema),
            "owned", "held" (the final schema gives it already), "role
            missing", "owner kept" (the target's own owner stays), "kept by
            the migrating role" (the object the source's connecting role
            owned stays the publishing role's: that role is missing on the
            target, or not one it may give objects to), "failed" or "not
            built".
        detail: The missing roles, the owner kept, or the error.
    """

    kind: str
    object: str
    column: str
    grantee: str
    privilege: str
    statement: str
    outcome: str
    detail: str

    def describe(self) -> str:
        """One line for the report."""
        if self.outcome == "role missing":
            return (
                f"role {self.detail} is missing on the target; once it exists, "
                f"run: {self.statement}"
            )
        if self.outcome == "owner kept":
            return f"{self.statement}: not run, the target's owner {self.detail} stays"
        return f"{self.statement}: {self.outcome} ({self.detail})"


def read_outcomes(cursor: Any, state_schema: str, final_schema: str) -> list[Outcome]:
    """What the last publish into the final schema recorded in ``PRIVILEGES_TABLE``.

    None if nothing; a row of an older pgshift, which recorded no final
    schema, is the last publish's whichever it was.
    """
    relation = sql.Identifier(state_schema, PRIVILEGES_TABLE)
    if not relation_exists(cursor, relation.as_string(cursor)):
        return []
    cursor.execute(
        sql.SQL(
            "select kind, object, column_name, grantee, privilege, statement, "
            "outcome, detail from {} as r "
            "where coalesce(to_jsonb(r) ->> 'final_schema', %s) = %s order by ord"
        ).format(relation),
        (final_schema, final_schema),
    )
    return [Outcome(*row) for row in cursor.fetchall()]
