"""Privilege parity: what each role may do, on both sides, through the name map.

For every role that exists on both servers (superusers on either side
aside, as PostgreSQL lets them do everything whatever an object's ACL says,
and the roles the two connections use, which own what they moved),
PostgreSQL's own checks (``has_table_privilege``, ``has_column_privilege``,
``has_sequence_privilege``, ``has_schema_privilege``,
``has_function_privilege``, ``has_type_privilege``) are asked on each side
for every migrated table, each of its columns, each partition of a
partitioned one (an application may read one by its name), every sequence,
every routine and every type created, under their source names on the
source and their mapped names on the target, for every privilege type; the
answers must agree. Each table's, partition's (one whose owner is not its
table's on the source is listed as not migrated, and left out), view's,
materialized view's, sequence's (one linked to its table has its table's),
routine's and type's owner must be the source's too (the migrating role
where the source URL's role owns it), where either is such a role: an
application's next release runs ``ALTER TABLE`` (``ALTER TYPE ... ADD
VALUE``) as the role that owns the object; one the last publish could not
give is listed in the report instead. A column is compared only where its
table's answer agrees (a table grant answers for every column). On the
schema, each shared role and PUBLIC may do what they may on the source
schema, no less and no more (the final schema is the target's own: its
owner, and what owning it gives, stay); its default privileges must hold
on the target, which may have more. Each difference is one line; one that
a grant the last publish carried over from the target explains (the
team's own grant on a final table) is listed as kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import psycopg2

from pgshift.connection import undoable
from pgshift.mapping import NameMap
from pgshift.sqlident import quote_ident, regprocedure_input
from pgshift.verify.parity import Differences

TABLE_PRIVILEGES = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
)
COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "REFERENCES")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")
SCHEMA_PRIVILEGES = ("USAGE", "CREATE")
ROUTINE_PRIVILEGES = ("EXECUTE", "EXECUTE WITH GRANT OPTION")
TYPE_PRIVILEGES = ("USAGE", "USAGE WITH GRANT OPTION")

_GRANTABLE = " WITH GRANT OPTION"
TABLE_PRIVILEGES += tuple(p + _GRANTABLE for p in TABLE_PRIVILEGES)
COLUMN_PRIVILEGES += tuple(p + _GRANTABLE for p in COLUMN_PRIVILEGES)
SEQUENCE_PRIVILEGES += tuple(p + _GRANTABLE for p in SEQUENCE_PRIVILEGES)
"""Each privilege type, and the right to grant it on (WITH GRANT OPTION)."""

_ROLES = "select rolname, rolsuper or rolname = current_user from pg_roles"

_EXISTING = """
select c.relname from pg_class c
where c.relnamespace = (select oid from pg_namespace where nspname = %(schema)s)
  and c.relname = any(%(names)s::text[])
"""

# What each role may do on each relation (only the privileges it has).
_RELATIONS = """
select c.relname, r.rolname, p.priv
from pg_class c
cross join pg_roles r
cross join unnest(case when c.relkind = 'S' then %(sequence_privileges)s::text[]
                       else %(table_privileges)s::text[] end) as p (priv)
where c.relnamespace = (select oid from pg_namespace where nspname = %(schema)s)
  and c.relname = any(%(names)s::text[]) and r.rolname = any(%(roles)s::text[])
  and case when c.relkind = 'S' then has_sequence_privilege(r.oid, c.oid, p.priv)
           else has_table_privilege(r.oid, c.oid, p.priv) end
"""

# What each role may do on a column beyond what it may on the whole table.
_COLUMNS = """
select c.relname, a.attname, r.rolname, p.priv
from pg_class c
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
cross join pg_roles r
cross join unnest(%(column_privileges)s::text[]) as p (priv)
where c.relnamespace = (select oid from pg_namespace where nspname = %(schema)s)
  and c.relkind <> 'S'
  and c.relname = any(%(names)s::text[]) and r.rolname = any(%(roles)s::text[])
  and has_column_privilege(r.oid, c.oid, a.attnum, p.priv)
  and not has_table_privilege(r.oid, c.oid, p.priv)
"""

# What each role, and PUBLIC, may do on a schema; whether the role has it
# by owning the database (PostgreSQL 15's public belongs to
# pg_database_owner), by owning the schema, and through a grant of the
# schema's ACL other than PUBLIC's (or its owner's implicit one).
_SCHEMA = """
select r.rolname, p.priv, has_schema_privilege(r.oid, n.oid, p.priv),
       n.nspowner = 'pg_database_owner'::regrole
       and pg_has_role(r.oid, n.nspowner, 'USAGE'),
       pg_has_role(r.oid, n.nspowner, 'USAGE'),
       exists (
           select 1
           from aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
           where a.grantee <> 0 and a.privilege_type = p.priv
             and pg_has_role(r.oid, a.grantee, 'USAGE'))
from pg_namespace n
cross join pg_roles r
cross join unnest(%(schema_privileges)s::text[]) as p (priv)
where n.nspname = %(schema)s and r.rolname = any(%(roles)s::text[])
union all
select 'public', p.priv, has_schema_privilege('public', n.oid, p.priv),
       false, false, false
from pg_namespace n
cross join unnest(%(schema_privileges)s::text[]) as p (priv)
where n.nspname = %(schema)s
"""

_DEFAULTS = """
select pg_get_userbyid(d.defaclrole), d.defaclobjtype::text,
       case a.grantee when 0 then 'public' else pg_get_userbyid(a.grantee) end,
       a.privilege_type, a.is_grantable
from pg_default_acl d
join pg_namespace n on n.oid = d.defaclnamespace
cross join lateral aclexplode(d.defaclacl) a
where n.nspname = %(schema)s
"""

_OBJECTS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types"}


def _roles(cursor: Any) -> dict[str, bool]:
    cursor.execute(_ROLES)
    return dict(cursor.fetchall())


def _answers(
    cursor: Any, schema: str, names: list[str], roles: list[str]
) -> tuple[set[str], set[tuple[str, ...]], set[tuple[str, ...]]]:
    """What each role may do on a side's relations and columns.

    Returns:
        The relations that are there; (relation, role, privilege) of each
        privilege a role has; (relation, column, role, privilege) of each
        it has on a column and not on its table.
    """
    args = {
        "schema": schema,
        "names": names,
        "roles": roles,
        "table_privileges": list(TABLE_PRIVILEGES),
        "sequence_privileges": list(SEQUENCE_PRIVILEGES),
        "column_privileges": list(COLUMN_PRIVILEGES),
    }
    cursor.execute(_EXISTING, args)
    existing = {row[0] for row in cursor.fetchall()}
    cursor.execute(_RELATIONS, args)
    relations = {tuple(row) for row in cursor.fetchall()}
    cursor.execute(_COLUMNS, args)
    columns = {tuple(row) for row in cursor.fetchall()}
    return existing, relations, columns


def _line(where: str, role: str, privilege: str, on_source: bool) -> str:
    side, other = ("source", "target") if on_source else ("target", "source")
    return f"{where}: role {role} may {privilege} on the {side}, not on the {other}"


def compare_privileges(
    source: Any,
    target: Any,
    names: NameMap,
    source_schema: str,
    final_schema: str,
    kept: Differences,
    routines: list[tuple[str, str]] | None = None,
    fixes: dict[str, str] | None = None,
    owners_listed: Collection[tuple[str, str]] = (),
) -> list[str]:
    """List every privilege a shared role has on one side and not the other.

    Args:
        source: A cursor on the source database.
        target: A cursor on the target database.
        names: The applied name map.
        source_schema: The migrated schema.
        final_schema: The target schema the application reads.
        kept: The target's objects the last publish carried over; a grant
            among them ("table to role") explains what the role may do more
            on the target, and the line goes to its kept lines.
        routines: (source identity, target ``name(types)``) of each
            function, procedure and aggregate the build created.
        fixes: Filled, when given, with each line's statement that makes
            the target as the source (a GRANT, a REVOKE, an ALTER DEFAULT
            PRIVILEGES, an ALTER ... OWNER), to run on the target.
        owners_listed: (kind, target object) as the last publish records
            them (``pgshift.privileges.Outcome``: "owner" for a relation,
            "routine owner", "type owner") of each object whose source
            owner it did not give (a role missing, an owner kept or
            refused), which the report lists.

    Returns:
        One line per difference.
    """
    source_roles, target_roles = _roles(source), _roles(target)
    roles = sorted(
        role
        for role in source_roles.keys() & target_roles.keys()
        if not source_roles[role] and not target_roles[role]
    )
    relations = {t.source: t.target for t in names.tables.values()}
    # Each partition, at any depth, under its target name: an application
    # may read one by its name, through a grant of its own.
    tops = {p.name: t.target for t in names.tables.values() for p in t.partitions}
    relations.update(
        {p.source: p.name for t in names.tables.values() for p in t.partitions}
    )
    sequences = {s.source: s.name for s in names.sequences.values()}
    sequences.update(names.identity_sequence_names())
    columns = {
        (t.source, column): (t.target, target)
        for t in names.tables.values()
        for column, target in t.columns.items()
    }
    # Views and materialized views, once the map holds them.
    views = getattr(names, "views", None) or {}
    relations.update({v.source: v.name for v in views.values()})
    columns.update(
        {
            (v.source, column): (v.name, target)
            for v in views.values()
            for column, target in v.columns.items()
        }
    )
    objects = {**relations, **sequences}
    kinds = {
        **{t.target: "table" for t in names.tables.values()},
        **dict.fromkeys(tops, "partition"),
        **{v.name: v.kind for v in views.values()},
        **{s.name: "sequence" for s in names.sequences.values()},
    }
    fixes = {} if fixes is None else fixes
    users = (_current_user(source), _current_user(target))
    target_sequences = set(sequences.values())
    found_source = _answers(source, source_schema, sorted(objects), roles)
    found_target = _answers(target, final_schema, sorted(objects.values()), roles)
    lines: list[str] = []

    def differs(
        table: str, where: str, role: str, privilege: str, was: bool, column: str = ""
    ) -> None:
        line = _line(where, role, privilege, was)
        if not was and kept.explains(f"{table} to {role}", line):
            return
        lines.append(line)
        kind = "SEQUENCE" if table in target_sequences else "TABLE"
        fixes[line] = _fix(
            f"{kind} {quote_ident(final_schema)}.{quote_ident(table)}",
            role,
            privilege,
            grant=was,
            column=column,
        )

    # Both sides in the target's names; objects missing on either side are
    # schema parity's to report.
    there, source_may, source_column_may = found_source
    here, target_may, target_column_may = found_target
    shared = {objects[name] for name in there} & here
    renamed = {(objects[name], role, priv) for name, role, priv in source_may}
    was_owned = {
        objects[name]: owner
        for name, owner in _owners(source, source_schema, sorted(objects)).items()
    }
    owned = _owners(target, final_schema, sorted(objects.values()))
    # A sequence linked to a table (OWNED BY, serial, identity) has its
    # table's owner on either side, as PostgreSQL keeps it: its table's
    # line is its own, and ALTER TABLE carries it along.
    follows = _linked(target, final_schema, sorted(target_sequences))
    # A partition gets its table's owner on the target, as the publish gives
    # (or does not give) its table's: one whose own owner differs from its
    # table's on the source is listed as not migrated, not compared.
    owners_listed = {
        *owners_listed,
        *(
            (kind, name)
            for kind, top in owners_listed
            for name in tops
            if tops[name] == top
        ),
    }
    lines += _owner_lines(
        [
            (kinds[name], name, quote_ident(name), was_owned[name], owned[name])
            for name in sorted(was_owned.keys() & owned.keys() & kinds.keys())
            if follows.get(name) not in kinds
            and (name not in tops or was_owned[name] == was_owned.get(tops[name]))
        ],
        final_schema,
        users,
        roles,
        owners_listed,
        fixes,
    )
    # An owner holds every privilege without a grant. Where the object has
    # another owner on the target (the source's could not, or was not to,
    # be given it: the report lists it; or it was changed there: a line
    # above), neither owner's implicit privileges are grants that differ.
    moved = {
        (name, owner)
        for name in was_owned.keys() & owned.keys()
        if was_owned[name] != owned[name]
        for owner in (was_owned[name], owned[name])
    }
    renamed = {(t, r, p) for t, r, p in renamed if (t, r) not in moved}
    target_may = {(t, r, p) for t, r, p in target_may if (t, r) not in moved}
    for table, role, privilege in sorted(renamed ^ target_may):
        if table in shared:
            was = (table, role, privilege) in renamed
            differs(table, table, role, privilege, was)
    table_differs = {(t, r, p) for t, r, p in renamed ^ target_may}
    renamed_columns = {
        (*columns[(name, column)], role, priv)
        for name, column, role, priv in source_column_may
        if (name, column) in columns
    }
    mapped_columns = set(columns.values())
    for table, column, role, privilege in sorted(renamed_columns ^ target_column_may):
        if (
            table in shared
            and (table, column) in mapped_columns
            and (table, role, privilege) not in table_differs
        ):
            was = (table, column, role, privilege) in renamed_columns
            differs(table, f"{table}.{column}", role, privilege, was, column)
    lines += _routine_lines(
        source,
        target,
        routines or [],
        final_schema,
        (users, roles),
        fixes,
        owners_listed,
    )
    lines += _type_lines(
        source,
        target,
        names,
        (source_schema, final_schema),
        (users, roles),
        fixes,
        owners_listed,
    )
    everyone = sorted(source_roles.keys() & target_roles.keys())
    lines += _schema_lines(source, target, source_schema, final_schema, roles, fixes)
    lines += _default_lines(
        source, target, source_schema, final_schema, everyone, fixes
    )
    return lines


def _fix(on: str, role: str, privilege: str, *, grant: bool, column: str = "") -> str:
    """The statement that gives (or takes) a role's privilege on the target."""
    base = privilege.removesuffix(_GRANTABLE)
    option = privilege.endswith(_GRANTABLE)
    columns = f" ({quote_ident(column)})" if column else ""
    grantee = "PUBLIC" if role == "public" else quote_ident(role)
    if grant:
        return (
            f"GRANT {base}{columns} ON {on} TO {grantee}"
            + (" WITH GRANT OPTION" if option else "")
            + ";"
        )
    return (
        f"REVOKE {'GRANT OPTION FOR ' if option else ''}{base}{columns} ON {on} "
        f"FROM {grantee};"
    )


def roles_missing_on_target(
    source: Any,
    target: Any,
    names: NameMap,
    source_schema: str,
    known: set[str],
) -> list[str]:
    """Source roles with privileges on migrated relations that the target lacks.

    ``compare_privileges`` compares the roles both servers have; a role
    made on the source since the last publish, and not on the target, would
    slip between them. Superusers, the role the source connection uses and
    the roles in ``known`` (those the last publish found missing and
    recorded) are left out.

    Returns:
        One line per such role.
    """
    source_roles, target_roles = _roles(source), _roles(target)
    roles = sorted(
        role
        for role, mighty in source_roles.items()
        if not mighty and role not in target_roles and role not in known
    )
    if not roles:
        return []
    objects = sorted(
        [t.source for t in names.tables.values()]
        + [p.source for t in names.tables.values() for p in t.partitions]
        + [s.source for s in names.sequences.values()]
        + list(names.identity_sequence_names())
    )
    _, may, on_columns = _answers(source, source_schema, objects, roles)
    held: dict[str, set[str]] = {}
    for name, role, _ in may:
        held.setdefault(role, set()).add(name)
    for name, _, role, _ in on_columns:
        held.setdefault(role, set()).add(name)
    return [
        f"role {role} may use {', '.join(sorted(held[role])[:5])}"
        + (" ..." if len(held[role]) > 5 else "")
        + f" on the source, and the target has no role {role}: create it on "
        "the target, then run cutover again (it lists the grants still to make)"
        for role in sorted(held)
    ]


# Each routine's owner, then who may execute it, by oid.
_ROUTINE_OWNERS = """
select f.ord, pg_get_userbyid(x.proowner)
from unnest(%(routines)s::oid[]) with ordinality as f (oid, ord)
join pg_proc x on x.oid = f.oid
"""
_ROUTINES = """
select f.ord, r.rolname, p.priv
from unnest(%(routines)s::oid[]) with ordinality as f (oid, ord)
join pg_proc x on x.oid = f.oid
cross join pg_roles r
cross join unnest(%(routine_privileges)s::text[]) as p (priv)
where r.rolname = any(%(roles)s::text[])
  and has_function_privilege(r.oid, x.oid, p.priv)
"""


def _routine_oids(cursor: Any, signatures: list[str]) -> list[int | None]:
    """Each signature's routine, or None where it is not there.

    ``to_regprocedure`` raises, rather than giving NULL, for an argument
    type the server does not have (an extension's, missing on the target).
    """
    oids: list[int | None] = []
    for signature in signatures:
        try:
            with undoable(cursor):
                cursor.execute(
                    "select to_regprocedure(%s)::oid", (regprocedure_input(signature),)
                )
                oids.append(cursor.fetchone()[0])
        except psycopg2.Error:
            oids.append(None)
    return oids


def _routine_lines(
    source: Any,
    target: Any,
    routines: list[tuple[str, str]],
    final_schema: str,
    compared: tuple[tuple[str, str], list[str]],
    fixes: dict[str, str],
    owners_listed: Collection[tuple[str, str]],
) -> list[str]:
    """Each migrated routine's owner, and who may execute it, where they differ.

    A routine missing on either side is left to schema parity; its owner is
    compared as ``_owner_lines`` says; an owner's implicit right is left out
    where the routine has another owner on the target, as for relations.
    ``compared`` is (the two connections' roles, the roles compared).
    """
    if not routines:
        return []
    users, roles = compared
    schema = quote_ident(final_schema) + "."
    owners, answers = [], []
    for cursor, signatures in (
        (source, [s for s, _ in routines]),
        (target, [schema + t for _, t in routines]),
    ):
        args = {
            "routines": _routine_oids(cursor, signatures),
            "roles": roles,
            "routine_privileges": list(ROUTINE_PRIVILEGES),
        }
        cursor.execute(_ROUTINE_OWNERS, args)
        owners.append(dict(cursor.fetchall()))
        cursor.execute(_ROUTINES, args)
        answers.append({tuple(row) for row in cursor.fetchall()})
    lines = _owner_lines(
        [
            (
                "routine",
                routines[ordinal - 1][1],
                routines[ordinal - 1][1],
                owners[0][ordinal],
                owners[1][ordinal],
            )
            for ordinal in sorted(owners[0].keys() & owners[1].keys())
        ],
        final_schema,
        users,
        roles,
        owners_listed,
        fixes,
    )
    return lines + _right_lines(
        (answers[0], answers[1]),
        (owners[0], owners[1]),
        lambda ordinal: routines[ordinal - 1][1],
        lambda ordinal: f"ROUTINE {schema}{routines[ordinal - 1][1]}",
        fixes,
    )


# Each type's owner, then who may use it (a range's multirange type aside:
# the build gives it nothing of its own, as pg_dump does not).
_TYPE_OWNERS = """
select t.typname, pg_get_userbyid(t.typowner) from pg_type t
where t.typnamespace = (select oid from pg_namespace where nspname = %(schema)s)
  and t.typname = any(%(names)s::text[]) and t.typtype <> 'm'
"""
_TYPES = """
select t.typname, r.rolname, p.priv
from pg_type t
cross join pg_roles r
cross join unnest(%(type_privileges)s::text[]) as p (priv)
where t.typnamespace = (select oid from pg_namespace where nspname = %(schema)s)
  and t.typname = any(%(names)s::text[]) and t.typtype <> 'm'
  and r.rolname = any(%(roles)s::text[])
  and has_type_privilege(r.oid, t.oid, p.priv)
"""


def _type_lines(
    source: Any,
    target: Any,
    names: NameMap,
    schemas: tuple[str, str],
    compared: tuple[tuple[str, str], list[str]],
    fixes: dict[str, str],
    owners_listed: Collection[tuple[str, str]],
) -> list[str]:
    """Each type's owner, and who may use it, where the sides differ.

    A type missing on either side is left to schema parity; its owner is
    compared as ``_owner_lines`` says. An owner's implicit USAGE is left
    out where the owners differ, as for relations. ``compared`` is (the two
    connections' roles, the roles compared).
    """
    mapped = dict(getattr(names, "types", None) or {})
    if not mapped:
        return []
    users, roles = compared
    schema = quote_ident(schemas[1]) + "."
    owners, answers = [], []
    for cursor, side, wanted in (
        (source, schemas[0], sorted(mapped)),
        (target, schemas[1], sorted(mapped.values())),
    ):
        args = {
            "schema": side,
            "names": wanted,
            "roles": roles,
            "type_privileges": list(TYPE_PRIVILEGES),
        }
        cursor.execute(_TYPE_OWNERS, args)
        owners.append(dict(cursor.fetchall()))
        cursor.execute(_TYPES, args)
        answers.append({tuple(row) for row in cursor.fetchall()})
    # Both sides in the target's names.
    was_owned = {mapped[name]: owner for name, owner in owners[0].items()}
    may = {(mapped[name], role, priv) for name, role, priv in answers[0]}
    lines = _owner_lines(
        [
            ("type", name, quote_ident(name), was_owned[name], owners[1][name])
            for name in sorted(was_owned.keys() & owners[1].keys())
        ],
        schemas[1],
        users,
        roles,
        owners_listed,
        fixes,
    )
    return lines + _right_lines(
        (may, answers[1]),
        (was_owned, owners[1]),
        lambda name: f"type {name}",
        lambda name: f"TYPE {schema}{quote_ident(name)}",
        fixes,
    )


def _right_lines(
    rights: tuple[set[tuple[Any, str, str]], set[tuple[Any, str, str]]],
    owners: tuple[dict[Any, str], dict[Any, str]],
    label: Callable[[Any], str],
    on: Callable[[Any], str],
    fixes: dict[str, str],
) -> list[str]:
    """Who may do what on one side and not the other, for routines or types.

    ``rights`` are (object, role, privilege) on the source and the target,
    ``owners`` each object's owner there. An object missing on either side
    is left to schema parity, and an owner's implicit right is left out
    where the owners differ, as for relations. ``label`` names an object in
    a line, ``on`` in its fix.
    """
    lines = []
    for thing, role, privilege in sorted(rights[0] ^ rights[1]):
        was_owner, owner = owners[0].get(thing), owners[1].get(thing)
        if was_owner is None or owner is None:
            continue
        if was_owner != owner and role in (was_owner, owner):
            continue
        was = (thing, role, privilege) in rights[0]
        line = _line(label(thing), role, privilege, was)
        lines.append(line)
        fixes[line] = _fix(on(thing), role, privilege, grant=was)
    return lines


_OWNERS = """
select c.relname, pg_get_userbyid(c.relowner) from pg_class c
where c.relnamespace = (select oid from pg_namespace where nspname = %(schema)s)
  and c.relname = any(%(names)s::text[])
"""

# Each sequence linked to a table of its schema (OWNED BY, serial, identity).
_LINKED = """
select s.relname, t.relname from pg_class s
join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.oid
  and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
join pg_class t on t.oid = d.refobjid and t.relnamespace = s.relnamespace
where s.relnamespace = (select oid from pg_namespace where nspname = %(schema)s)
  and s.relkind = 'S' and s.relname = any(%(names)s::text[])
"""

_LISTED_AS = {"routine": "routine owner", "type": "type owner"}
"""The kind the publish records an owner under (a relation's: "owner")."""


def _owners(cursor: Any, schema: str, names: list[str]) -> dict[str, str]:
    """Relation name to its owner, in one schema."""
    cursor.execute(_OWNERS, {"schema": schema, "names": names})
    return dict(cursor.fetchall())


def _linked(cursor: Any, schema: str, names: list[str]) -> dict[str, str]:
    """Sequence name to the table it is linked to, in one schema."""
    cursor.execute(_LINKED, {"schema": schema, "names": names})
    return dict(cursor.fetchall())


def _current_user(cursor: Any) -> str:
    cursor.execute("select current_user")
    return str(cursor.fetchone()[0])


def _owner_lines(
    owned: list[tuple[str, str, str, str, str]],
    final_schema: str,
    users: tuple[str, str],
    roles: Collection[str],
    owners_listed: Collection[tuple[str, str]],
    fixes: dict[str, str],
) -> list[str]:
    """Each object's owner, where the sides differ.

    The owner an object should have is the source's, or the migrating role
    where the source URL's role owns it (or the publish gave it no owner:
    the role scaffold connected as owns it). A difference is a line where
    either owner is a role compared (a shared one, neither a superuser nor
    a connecting role), and the object is not in ``owners_listed``; its fix
    is ``ALTER <kind> ... OWNER TO`` the owner it should have.

    Args:
        owned: (kind as ALTER names it: "table", "view", "materialized
            view", "sequence", "routine" or "type", or "partition", which
            ALTER TABLE changes; target name; that name as SQL; source
            owner; target owner) of each object on both sides.
        final_schema: The target schema the application reads.
        users: The roles the source and the target connections use.
        roles: The roles compared.
        owners_listed: As ``compare_privileges`` takes it.
        fixes: Filled with each line's statement.

    Returns:
        One line per difference.
    """
    schema = quote_ident(final_schema) + "."
    lines = []
    for kind, name, on, was, now in owned:
        wanted = users[1] if was == users[0] else was
        listed = _LISTED_AS.get(kind, "owner")
        if wanted == now or (listed, name) in owners_listed:
            continue
        if now == users[1] and (f"{listed} given", name) not in owners_listed:
            # The publish gave it no owner: the role scaffold connected as
            # owns it on the source (verify may connect as another).
            continue
        if wanted in roles or now in roles:
            line = (
                f"{kind} {name}: owned by {was} on the source, by {now} on the target"
            )
            lines.append(line)
            word = "TABLE" if kind == "partition" else kind.upper()
            fixes[line] = f"ALTER {word} {schema}{on} OWNER TO {quote_ident(wanted)};"
    return lines


def _schema_lines(
    source: Any,
    target: Any,
    source_schema: str,
    final_schema: str,
    roles: list[str],
    fixes: dict[str, str],
) -> list[str]:
    """What one schema allows a role, or PUBLIC, that the other does not.

    The final schema is the target's own: its owner (the target database's,
    for PostgreSQL 15's ``public``) stays, and what it may do there is no
    difference. A role that may do more on the target only through PUBLIC
    is not named again beside PUBLIC.
    """
    answers = []
    for cursor, schema in ((source, source_schema), (target, final_schema)):
        cursor.execute(
            _SCHEMA,
            {
                "schema": schema,
                "roles": roles,
                "schema_privileges": list(SCHEMA_PRIVILEGES),
            },
        )
        answers.append({(row[0], row[1]): row[2:] for row in cursor.fetchall()})
    on = f"SCHEMA {quote_ident(final_schema)}"
    lines = []
    for (role, privilege), (ok, owns_database, _, _) in sorted(answers[0].items()):
        if ok and not answers[1].get((role, privilege), (False,))[0]:
            line = (
                f"schema {final_schema}: {_who(role)} may {privilege} on the "
                f"source's schema {source_schema}, not on the target's"
            )
            fix = _fix(on, role, privilege, grant=True)
            if role == "pg_database_owner":
                # The source's schema is PostgreSQL 15's default, owned by
                # whoever owns the database; the target's was given to a
                # role (ALTER SCHEMA ... OWNER TO), which the pseudo-role
                # cannot be made.
                line += (
                    f" (the source's schema {source_schema} belongs to "
                    "pg_database_owner, as PostgreSQL 15 makes it; the "
                    "target's to a role: give it back to pg_database_owner "
                    "on the target)"
                )
                fix = f"ALTER {on} OWNER TO pg_database_owner;"
            elif owns_database:
                # PostgreSQL 15's public schema belongs to pg_database_owner:
                # the right comes with owning the database, not with a grant.
                line += (
                    f" (it owns the source database, and with it schema "
                    f"{source_schema}: make it the target database's owner too, "
                    "or grant it)"
                )
            lines.append(line)
            fixes[line] = fix
    more = {
        (role, privilege)
        for (role, privilege), (ok, _, owns, _) in answers[1].items()
        if ok and not owns and not answers[0].get((role, privilege), (False,))[0]
    }
    for role, privilege in sorted(more):
        granted = answers[1][(role, privilege)][3]
        if role != "public" and not granted and ("public", privilege) in more:
            continue
        line = (
            f"schema {final_schema}: {_who(role)} may {privilege} on the "
            f"target's schema {final_schema}, not on the source's schema "
            f"{source_schema}"
        )
        lines.append(line)
        fixes[line] = _fix(on, role, privilege, grant=False)
    return lines


def _who(role: str) -> str:
    """A role as a line names it: PUBLIC is every role, not one."""
    return "PUBLIC" if role == "public" else f"role {role}"


def _default_lines(
    source: Any,
    target: Any,
    source_schema: str,
    final_schema: str,
    roles: list[str],
    fixes: dict[str, str],
) -> list[str]:
    """The source schema's default privileges the final schema lacks."""
    lines = []
    shared = set(roles) | {"public"}
    defaults = []
    for cursor, schema in ((source, source_schema), (target, final_schema)):
        cursor.execute(_DEFAULTS, {"schema": schema})
        defaults.append(
            {row for row in cursor.fetchall() if row[0] in shared and row[2] in shared}
        )
    for role, objtype, grantee, privilege, grantable in sorted(
        defaults[0] - defaults[1]
    ):
        option = " with grant option" if grantable else ""
        objects = _OBJECTS.get(objtype, objtype)
        line = (
            f"schema {final_schema}: default privilege {privilege}{option} on "
            f"{objects} of role {role} to {grantee} is missing"
        )
        lines.append(line)
        to = "PUBLIC" if grantee == "public" else quote_ident(grantee)
        fixes[line] = (
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(role)} IN SCHEMA "
            f"{quote_ident(final_schema)} GRANT {privilege} ON {objects.upper()} "
            f"TO {to}{option.upper()};"
        )
    return lines
