"""Which source schemas a migration reads, and the target schema of each.

A source database holds schemas of its own (``public``, ``Billing``,
``audit``), the system's (``pg_catalog``, ``information_schema``,
``pg_toast``, the temporary ones) and, sometimes, schemas an extension
created that hold nothing but its members. ``read_schemas`` lists the first
kind with what the source user may do there; ``plan_schemas`` says which of
them this run migrates (``--schemas`` or ``--source-schema``), where each one
lands, and why each of the others is left out.

Names: the schema migrated into the final schema is the one named like it
(``public``) or the only one chosen; any other follows the naming rules of
tables (``Billing`` -> ``billing``) unless the override file names it under
``schemas:``. Two schemas mapped to one target schema, or a schema mapped onto
one pgshift keeps for itself, are refused.

A run migrates one schema today: several chosen schemas are refused with a
clear message (``SEVERAL_SCHEMAS``), and every other schema is listed in the
report as left out, with the reason. Scaffold records the schema it read and
the final schema in the project's name map; every later command takes both
from there unless its options name them (``run_schemas``).
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pgshift.naming import map_names, to_snake
from pgshift.settings import ConfigError, Settings
from pgshift.sqlident import render_ident

NOT_SYSTEM_SCHEMA = """n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
  and n.nspname not like 'pg\\_temp\\_%'
  and n.nspname not like 'pg\\_toast\\_temp\\_%'"""
"""A condition on ``pg_namespace n``: the schema is not the system's (the
catalog, the information schema, TOAST, a session's temporary ones)."""

_SCHEMAS = f"""
select n.nspname::text,
       has_schema_privilege(n.oid, 'USAGE'),
       exists (select 1 from pg_depend d
               where d.classid = 'pg_namespace'::regclass and d.objid = n.oid
                 and d.deptype = 'e')
       or (exists (select 1 from pg_depend d
                   join pg_class c on c.oid = d.objid
                   where d.classid = 'pg_class'::regclass and d.deptype = 'e'
                     and c.relnamespace = n.oid
                   union all
                   select 1 from pg_depend d
                   join pg_proc p on p.oid = d.objid
                   where d.classid = 'pg_proc'::regclass and d.deptype = 'e'
                     and p.pronamespace = n.oid
                   union all
                   select 1 from pg_depend d
                   join pg_type t on t.oid = d.objid
                   where d.classid = 'pg_type'::regclass and d.deptype = 'e'
                     and t.typnamespace = n.oid)
           and not exists (
               select 1 from pg_class c
               where c.relnamespace = n.oid
                 and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S', 'c')
                 and not exists (select 1 from pg_depend d
                                 where d.classid = 'pg_class'::regclass
                                   and d.objid = c.oid and d.deptype = 'e'))
           and not exists (
               select 1 from pg_proc p
               where p.pronamespace = n.oid
                 and not exists (select 1 from pg_depend d
                                 where d.classid = 'pg_proc'::regclass
                                   and d.objid = p.oid and d.deptype = 'e'))
           and not exists (
               select 1 from pg_type t
               where t.typnamespace = n.oid and t.typtype in ('e', 'd', 'r', 'm')
                 and not exists (select 1 from pg_depend d
                                 where d.classid = 'pg_type'::regclass
                                   and d.objid = t.oid and d.deptype = 'e'))),
       (select count(*) from pg_class c
        where c.relnamespace = n.oid and c.relkind in ('r', 'p')
          and not c.relispartition)::int,
       (select count(*) from pg_class c
        where c.relnamespace = n.oid and c.relkind in ('v', 'm'))::int,
       (select count(*) from pg_proc p
        where p.pronamespace = n.oid
          and not exists (select 1 from pg_depend d
                          where d.classid = 'pg_proc'::regclass
                            and d.objid = p.oid and d.deptype = 'e'))::int,
       (select count(*) from pg_type t
        left join pg_class c on c.oid = t.typrelid
        where t.typnamespace = n.oid and t.typtype in ('e', 'd', 'c', 'r', 'm')
          and (t.typtype <> 'c' or c.relkind = 'c')
          and not exists (select 1 from pg_depend d
                          where d.classid = 'pg_type'::regclass
                            and d.objid = t.oid and d.deptype = 'e'))::int,
       not exists (select 1 from pg_class c where c.relnamespace = n.oid)
       and not exists (select 1 from pg_proc p where p.pronamespace = n.oid)
       and not exists (select 1 from pg_type t where t.typnamespace = n.oid)
       and not exists (select 1 from pg_collation c
                       where c.collnamespace = n.oid)
       and not exists (select 1 from pg_operator o where o.oprnamespace = n.oid)
       and not exists (select 1 from pg_opfamily f where f.opfnamespace = n.oid)
       and not exists (select 1 from pg_conversion c
                       where c.connamespace = n.oid)
       and not exists (select 1 from pg_ts_config c where c.cfgnamespace = n.oid)
       and not exists (select 1 from pg_ts_dict c where c.dictnamespace = n.oid)
       and not exists (select 1 from pg_ts_parser c where c.prsnamespace = n.oid)
       and not exists (select 1 from pg_ts_template c
                       where c.tmplnamespace = n.oid)
       and not exists (select 1 from pg_statistic_ext x
                       where x.stxnamespace = n.oid)
from pg_namespace n
where {NOT_SYSTEM_SCHEMA}
order by n.nspname
"""

# What one schema's objects use of another's: each (user, used, whether it
# is a foreign key). A relation (a column's type, a view's query), a
# default, a check or key, a type or a routine of one schema depending on a
# relation, type or routine of another, an extension's members aside.
_SCHEMA_USES = f"""
with objects (classid, objid, schema) as (
    select 'pg_class'::regclass, oid, relnamespace from pg_class
    union all
    select 'pg_type'::regclass, oid, typnamespace from pg_type
    union all
    select 'pg_proc'::regclass, oid, pronamespace from pg_proc
    union all
    select 'pg_attrdef'::regclass, ad.oid, c.relnamespace
    from pg_attrdef as ad join pg_class as c on c.oid = ad.adrelid
    union all
    select 'pg_constraint'::regclass, oid, connamespace from pg_constraint
    union all
    select 'pg_rewrite'::regclass, r.oid, c.relnamespace
    from pg_rewrite as r join pg_class as c on c.oid = r.ev_class
)
select distinct f.nspname::text, n.nspname::text,
       d.classid = 'pg_constraint'::regclass
       and exists (select 1 from pg_constraint as k
                   where k.oid = d.objid and k.contype = 'f')
from pg_depend as d
join objects as fo on fo.classid = d.classid and fo.objid = d.objid
join objects as o on o.classid = d.refclassid and o.objid = d.refobjid
join pg_namespace as f on f.oid = fo.schema
join pg_namespace as n on n.oid = o.schema
where f.oid <> n.oid and d.deptype in ('n', 'a') and {NOT_SYSTEM_SCHEMA}
  and not exists (select 1 from pg_depend as e
                  where e.classid = d.refclassid and e.objid = d.refobjid
                    and e.deptype = 'e')
"""


def schema_uses(cursor: Any) -> list[tuple[str, str, bool]]:
    """What each schema of the source uses of another's (``_SCHEMA_USES``).

    Returns:
        (user, used, whether by a foreign key) for each pair of schemas.
    """
    cursor.execute(_SCHEMA_USES)
    return list(cursor.fetchall())


IN_ORDER, KEYS_WAIT, ANY_ORDER = "in order", "keys wait", "any order"
"""How the runs of a step of ``run_order`` go: one after the other; in
either order, tied by keys that wait for the later; in any order, none
using another."""


def run_order(
    uses_found: Sequence[tuple[str, str, bool]], schemas: Collection[str]
) -> list[tuple[list[str], str]]:
    """The schemas in the order their runs go, each after those it uses.

    A schema uses another when a table, column, default, key, view, type or
    routine of its depends on one of the other's (its foreign keys, its
    columns of the other's domains, its defaults calling the other's
    sequences, its views reading the other's tables). Schemas that use
    each other, directly or not, form one group: where only foreign keys
    tie them (AdventureWorks' ``person`` and ``sales``, whose keys point
    both ways), its runs go in either order, the keys waiting for the later
    one; else its members go in the order their other uses give.

    Args:
        uses_found: What the source's schemas use of each other's
            (``schema_uses``).
        schemas: The schemas to order.

    Returns:
        Steps of schemas, each after those it uses, each with how its runs
        go (``IN_ORDER``, ``KEYS_WAIT``, ``ANY_ORDER``: schemas that use
        none of each other, a tenant's schema each, share a step).
    """
    wanted = set(schemas)
    uses: dict[str, set[str]] = {s: set() for s in wanted}
    other_uses: dict[str, set[str]] = {s: set() for s in wanted}
    for user, used, key in uses_found:
        if user in wanted and used in wanted:
            uses[user].add(used)
            if not key:
                other_uses[user].add(used)
    steps: list[tuple[list[str], str]] = []
    for ready in _ordered_rounds(wanted, uses):
        alone = [g[0] for g in ready if len(g) == 1]
        if alone:
            steps.append((alone, ANY_ORDER if len(alone) > 1 else IN_ORDER))
        for group in (g for g in ready if len(g) > 1):
            if not any(other_uses[s] & set(group) for s in group):
                steps.append((group, KEYS_WAIT))
            else:
                steps.append((_order_members(group, uses, other_uses), IN_ORDER))
    return steps


def _order_members(
    group: Sequence[str],
    uses: Mapping[str, set[str]],
    other_uses: Mapping[str, set[str]],
) -> list[str]:
    """A group's schemas in run order, so that the fewest keys wait.

    Each goes after the types, sequences and views it uses; where that
    leaves a choice, the one whose keys reference the fewest schemas still
    to run goes first. Where other uses tie schemas both ways, the one
    using the fewest goes first, and is listed again after the others: its
    second run brings what its first left waiting for them.
    """
    rest = set(group)
    order: list[str] = []
    again: list[str] = []
    while rest:
        ready = [s for s in rest if not other_uses[s] & rest]
        chosen = min(
            ready or rest,
            key=lambda s: (len(other_uses[s] & rest), len(uses[s] & rest), s),
        )
        if not ready:
            again.append(chosen)
        order.append(chosen)
        rest.remove(chosen)
    return order + again


def _ordered_rounds(
    nodes: set[str], uses: Mapping[str, set[str]]
) -> list[list[list[str]]]:
    """The nodes' strongly connected groups, in rounds after those they use.

    The groups of one round use none of each other's.
    """
    reach = {s: reachable(s, uses) & nodes for s in nodes}
    rounds: list[list[list[str]]] = []
    placed: set[str] = set()
    while len(placed) < len(nodes):
        ready = sorted(
            s
            for s in nodes - placed
            if all(u in placed or s in reach[u] for u in reach[s])
        )
        groups: list[list[str]] = []
        for schema in ready:
            if not any(schema in g for g in groups):
                groups.append(
                    sorted({schema} | {u for u in reach[schema] if schema in reach[u]})
                )
        rounds.append(groups)
        placed.update(s for g in groups for s in g)
    return rounds


def reachable(schema: str, uses: Mapping[str, set[str]]) -> set[str]:
    """The schemas ``schema`` leads to through ``uses``, at any remove."""
    found: set[str] = set()
    todo = [schema]
    while todo:
        for used in uses.get(todo.pop(), set()) - found:
            found.add(used)
            todo.append(used)
    found.discard(schema)
    return found


def run_order_line(
    order: Sequence[tuple[list[str], str]], this: str, migrated: Mapping[str, str]
) -> str | None:
    """The order of the runs, as scaffold prints it; None for one schema.

    Args:
        order: ``run_order``'s groups.
        this: The schema this run migrates.
        migrated: Source schema to the final schema an earlier run built it
            into.
    """
    if sum(len(g) for g, _ in order) < 2:
        return None

    seen: set[str] = set()

    def shown(schema: str) -> str:
        if schema in seen:
            return f"{schema} (again)"
        seen.add(schema)
        if schema == this:
            return f"{schema} (this run)"
        if schema in migrated:
            return f"{schema} (migrated into {render_ident(migrated[schema])})"
        return schema

    def step(group: list[str], how: str) -> str:
        names = [shown(s) for s in group]
        if how == IN_ORDER:
            return ", then ".join(names)
        both = " and ".join([", ".join(names[:-1]), names[-1]])
        if how == KEYS_WAIT:
            return f"{both} in either order (their keys wait for the later)"
        return f"{both} in any order (none uses another)"

    steps = [step(g, how) for g, how in order]
    return (
        "schemas: a run each, each after the schemas it uses (their types, "
        "sequences, tables, functions): " + "; then ".join(steps)
    )


SEVERAL_SCHEMAS = (
    "several schemas were chosen ({chosen}), and pgshift migrates one schema "
    "per run: choose one with --schemas or --source-schema; the others are "
    "listed in the report as left out"
)
"""The refusal of a run that chose more than one schema."""

HOLDS_NOTHING = "holds nothing to migrate (no object at all)"
"""What the report says of a schema that is neither migrated nor left out."""

MIGRATED_BY_ITS_OWN_RUN = "migrated by a run of its own into final schema "
"""How a schema another run of pgshift migrated into the target is named:
the phrase, then the final schema that holds its tables."""


def own_run(schema: str, final_schema: str | None = None) -> str:
    """The options of a run migrating ``schema`` into a final schema of its own.

    That schema is named by the naming rules (``Sales`` -> ``sales``, whose
    tables the application then names unquoted) unless ``final_schema``.
    """
    final = final_schema or to_snake(schema)
    return f"--schemas {shlex.quote(schema)} --final-schema {shlex.quote(final)}"


def migrated_by_its_own_run(final_schema: str) -> str:
    """Why a schema another run migrated is not this run's, for the report."""
    return (
        f"{MIGRATED_BY_ITS_OWN_RUN}{render_ident(final_schema)} of this target; "
        "the foreign keys, views and functions of this run that read its "
        "tables, and the columns and defaults of its types, name them as that "
        "run named them"
    )


@dataclass(frozen=True)
class SourceSchema:
    """One non-system schema of the source.

    Attributes:
        name: Its name, exactly as in the catalog.
        readable: Whether the source user has USAGE on it.
        extension_only: Whether it is an extension's own, or holds nothing
            but extension members.
        tables: Its tables (partitions aside).
        views: Its views and materialized views.
        functions: Its functions, procedures and aggregates, an
            extension's members aside.
        types: Its enums, domains, composite, range and multirange
            types, an extension's members aside.
        empty: Whether it holds no object at all (no relation, sequence,
            routine, type, collation, operator, text search object or
            statistics object).
    """

    name: str
    readable: bool
    extension_only: bool = False
    tables: int = 0
    views: int = 0
    functions: int = 0
    types: int = 0
    empty: bool = False

    @property
    def migratable(self) -> bool:
        """Whether a run may migrate it: readable, its own, holding objects."""
        return (
            self.readable
            and not self.extension_only
            and bool(self.tables or self.views or self.functions or self.types)
        )

    def holds(self) -> str:
        """What it holds, for the report."""
        return (
            f"tables: {self.tables}, views: {self.views}, functions: {self.functions}"
        )


@dataclass(frozen=True)
class SchemaPlan:
    """The schemas a run migrates and the ones it leaves out.

    Attributes:
        targets: Source schema to its target schema, for each migrated one.
        left_out: Source schema to why it is not migrated, for every other
            non-system schema.
        others: The schemas left out that a run of their own may migrate
            (readable, holding tables).
        migratable: Every schema a run may migrate, this one's included
            (``SourceSchema.migratable``).
        empty: The readable schemas holding no object at all (an empty
            ``public`` beside schemas of tables): named in the report, not
            left out.
    """

    targets: dict[str, str]
    left_out: dict[str, str] = field(default_factory=dict)
    others: frozenset[str] = frozenset()
    migratable: frozenset[str] = frozenset()
    empty: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """One line per source schema: its target, or why it is left out."""
        lines = [f"{s} -> {t}" for s, t in self.targets.items()]
        lines += [f"{s}: left out: {why}" for s, why in self.left_out.items()]
        return lines + [f"{s}: {HOLDS_NOTHING}" for s in self.empty]


def read_schemas(cursor: Any) -> list[SourceSchema]:
    """List the source's non-system schemas.

    Args:
        cursor: An open psycopg2 cursor on the source database.

    Returns:
        Each schema but ``pg_catalog``, ``information_schema``, ``pg_toast``
        and the temporary ones, by name.
    """
    cursor.execute(_SCHEMAS)
    return [SourceSchema(*row) for row in cursor.fetchall()]


class RecordedSchemas(NamedTuple):
    """What a project's name map records of the schemas scaffold used.

    Attributes:
        source_schema: The source schema its models were made from.
        final_schema: The target schema they land in.
        overrides: The override file scaffold was given, as given (None:
            the project's own).
        tables: How many tables its models hold.
    """

    source_schema: str
    final_schema: str
    overrides: str | None
    tables: int = 0


class RunSchemas(NamedTuple):
    """The schemas a command runs on (``run_schemas``).

    Attributes:
        source_schema: The source schema it migrates.
        schemas: The schemas named for it, by ``--schemas`` or by the
            project (empty: ``source_schema`` by default).
        final_schema: The target schema the migrated schema lands in.
    """

    source_schema: str
    schemas: tuple[str, ...]
    final_schema: str


def run_schemas(
    chosen: Sequence[str],
    final_schema: str | None,
    project: RecordedSchemas | None,
    mapped: Mapping[str, str],
) -> RunSchemas:
    """Which schema a command migrates and where it lands.

    Each fact has one home: the option when given; else, for the final
    schema, the override file's ``schemas:`` entry of the source schema;
    else what scaffold recorded in the project for that schema (so that
    ``migrate``, ``verify``, ``sync`` and ``cutover`` after ``scaffold
    --schemas sales --final-schema sales`` need neither option); else
    ``public``.

    Args:
        chosen: The schemas ``--schemas`` or ``--source-schema`` named
            (empty: neither was given).
        final_schema: ``--final-schema``, None when not given.
        project: What the project's name map records, None before scaffold.
        mapped: The override file's ``schemas:`` (source -> target schema).

    Returns:
        The schemas.

    Raises:
        ConfigError: ``--final-schema`` and the override file's entry for
            the schema name different final schemas.
    """
    if chosen:
        schemas, source = tuple(chosen), chosen[0]
    elif project is not None:
        # Models of no tables were scaffolded from a schema named with
        # --schemas (one of types or views alone, refused unnamed); models
        # of tables (the sample's, in a new clone) name no choice.
        source = project.source_schema
        schemas = () if project.tables else (source,)
    else:
        schemas, source = (), "public"
    entry = mapped.get(source)
    if final_schema is not None and entry not in (None, final_schema):
        raise ConfigError(
            f"the override file maps schema {source!r} to {entry!r} under "
            f"'schemas:', and --final-schema names {final_schema!r}: give the "
            "final schema in one place (the entry, which every command reads, "
            "or the option, on every command)"
        )
    recorded = (
        project.final_schema
        if project is not None and project.source_schema == source
        else None
    )
    return RunSchemas(source, schemas, final_schema or entry or recorded or "public")


def chosen_schemas(settings: Settings) -> tuple[str, ...]:
    """The schemas the run chose: ``--schemas``, else ``--source-schema``."""
    return settings.schemas or (settings.source_schema,)


def plan_schemas(
    found: Sequence[SourceSchema],
    chosen: Sequence[str],
    final_schema: str,
    overrides: Mapping[str, str] | None = None,
    *,
    reserved: Sequence[str] = (),
    named: bool = False,
) -> SchemaPlan:
    """Say where each chosen schema lands and why each other one stays.

    Args:
        found: The source's non-system schemas (``read_schemas``).
        chosen: The schemas to migrate, in the order given.
        final_schema: The target schema the application reads.
        overrides: Source schema to target schema, from the override file's
            ``schemas:``.
        reserved: Target schemas pgshift keeps for itself (raw, staging,
            state), which no migrated schema may map onto.
        named: Whether ``--schemas`` named the chosen schema: one holding
            no tables but the types or functions other schemas' tables use
            is then migrated (``_refuse_a_schema_without_tables``).

    Returns:
        The plan.

    Raises:
        ConfigError: A chosen schema is missing, unreadable or an
            extension's own; two schemas map to one target schema; or one
            maps onto a schema pgshift keeps for itself.
    """
    by_name = {s.name: s for s in found}
    problems: list[str] = []
    for name in chosen:
        schema = by_name.get(name)
        if schema is None:
            known = ", ".join(s.name for s in found if s.readable) or "none"
            problems.append(f"the source has no schema {name!r} (its schemas: {known})")
        elif not schema.readable:
            problems.append(
                f"the source user may not read schema {name!r} (no USAGE): grant "
                "it, or leave the schema out"
            )
        elif schema.extension_only:
            problems.append(
                f"schema {name!r} holds only extension members, which are "
                "created with their extension, not migrated"
            )
    if problems:
        raise ConfigError("\n".join(problems))
    _refuse_a_schema_without_tables(found, chosen, named)
    targets = _map_targets(list(chosen), final_schema, dict(overrides or {}))
    clash = sorted(set(targets.values()) & set(reserved))
    if clash:
        raise ConfigError(
            f"schema {clash[0]!r} is one pgshift keeps for itself (landing, "
            "staging or state); map the source schema to another name in the "
            "override file under 'schemas:'"
        )
    single = ", ".join(chosen)
    empty = tuple(
        s.name for s in found if s.name not in targets and s.readable and s.empty
    )
    left_out: dict[str, str] = {}
    for schema in found:
        if schema.name in targets or schema.name in empty:
            continue
        if schema.extension_only:
            left_out[schema.name] = (
                "holds only extension members, created with their extension"
            )
        elif not schema.readable:
            left_out[schema.name] = "the source user may not read it (no USAGE)"
        else:
            left_out[schema.name] = (
                f"pgshift migrates one schema ({single}, chosen with --schemas "
                f"or --source-schema); this one stays behind ({schema.holds()})"
            )
            if schema.migratable:
                # Into the schema the override file names, else the one of
                # its name, unless this run's tables land there.
                entry = (overrides or {}).get(schema.name)
                landing = "NAME" if to_snake(schema.name) == final_schema else None
                left_out[schema.name] += (
                    "; a run of its own moves it into a final schema of its "
                    "own on the same target: "
                    + (
                        f"--schemas {shlex.quote(schema.name)} (the override "
                        f"file names its final schema, {entry})"
                        if entry
                        else own_run(schema.name, landing)
                    )
                )
    others = frozenset(
        s.name
        for s in found
        if s.name not in targets and s.readable and not s.extension_only and s.tables
    )
    return SchemaPlan(
        targets=targets,
        left_out=left_out,
        others=others,
        migratable=frozenset(s.name for s in found if s.migratable),
        empty=empty,
    )


class WithoutTablesError(ConfigError):
    """A run of a schema holding no tables, while others hold some."""


def _refuse_a_schema_without_tables(
    found: Sequence[SourceSchema], chosen: Sequence[str], named: bool = False
) -> None:
    """Stop a run of one schema holding no tables while others hold some.

    A database whose tables are all in schemas of their own (pg_dump's
    AdventureWorks: ``person``, ``sales``, ...) would otherwise migrate
    nothing from its empty ``public`` and report success. Named with
    ``--schemas``, a schema holding views, types or functions is migrated:
    it gives the other schemas' runs the domains and enums their columns
    use (AdventureWorks' ``public."Name"``), under the names its map gives
    them, or reads the tables of the schemas migrated before it
    (AdventureWorks' ``pe`` and ``sa``, a view over each table of
    ``person`` and ``sales``).

    Raises:
        WithoutTablesError: Naming the schemas that hold tables, and how
            many.
    """
    if len(chosen) != 1:
        return
    by_name = {s.name: s for s in found}
    schema = by_name[chosen[0]]
    others = [
        s
        for s in found
        if s.name != schema.name and s.readable and not s.extension_only and s.tables
    ]
    if schema.tables or not others:
        return
    held = [
        what
        for what, count in (
            ("views", schema.views),
            ("types", schema.types),
            ("functions", schema.functions),
        )
        if count
    ]
    if named and held:
        return
    holding = ", ".join(f"{s.name} ({s.tables})" for s in others)
    own = ""
    if held:
        own = (
            f"; its own {' and '.join(held)} move in a run naming it: "
            f"--schemas {shlex.quote(schema.name)}"
        )
    raise WithoutTablesError(
        f"schema {schema.name!r} holds no tables; the source's tables are in "
        f"{holding}. pgshift migrates one schema per run: choose it with "
        f"--schemas NAME on scaffold (the later commands take it from the "
        f"project){own}"
    )


def _map_targets(
    chosen: list[str], final_schema: str, overrides: dict[str, str]
) -> dict[str, str]:
    """Target schema of each chosen schema (see the module's naming rules)."""
    if len(chosen) == 1:
        # Its final schema: the option, the override file's entry or the
        # project's (``run_schemas``).
        return {chosen[0]: final_schema}
    others = [s for s in chosen if s != final_schema]
    mapped = map_names(others, overrides, what="schema", override_path="schemas:")
    for source, target in mapped.items():
        if target == final_schema:
            raise ConfigError(
                f"schema {source!r} maps to {target!r}, the final schema that "
                f"{final_schema!r} lands in; give it another name in the "
                f"override file under 'schemas:' ({source}: <new_name>)"
            )
    targets = {final_schema: final_schema} if final_schema in chosen else {}
    return {s: targets.get(s) or mapped[s] for s in chosen}


def schema_plan(
    cursor: Any, settings: Settings, overrides: Mapping[str, str]
) -> SchemaPlan:
    """Read the source's schemas and plan this run (``plan_schemas``).

    Raises:
        ConfigError: Several schemas were chosen, or ``plan_schemas`` refused.
    """
    chosen = chosen_schemas(settings)
    found = read_schemas(cursor)
    try:
        plan = plan_schemas(
            found,
            chosen,
            settings.final_schema,
            overrides,
            reserved=(
                settings.raw_schema,
                settings.staging_schema,
                settings.state_schema,
            ),
            named=bool(settings.schemas),
        )
    except WithoutTablesError as refused:
        # Which run goes first, and which next.
        order = run_order(schema_uses(cursor), [s.name for s in found if s.migratable])
        line = run_order_line(order, "", {})
        raise ConfigError(f"{refused}\n{line}" if line else str(refused)) from None
    if len(chosen) > 1:
        raise ConfigError(SEVERAL_SCHEMAS.format(chosen=", ".join(chosen)))
    return plan
