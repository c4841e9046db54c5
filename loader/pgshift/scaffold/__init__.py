"""Generate the dbt project's sources, staging views and final table models.

``python loader/run.py scaffold`` reads the source catalog, settles every
target name once (``pgshift.mapping.build_map``) and writes:

* ``models/pgshift_name_map.json``: the applied name map, which verify,
  schema parity and the report read back;
* ``models/staging/<source>/_<source>__sources.yml``: the raw tables;
* ``models/staging/<source>/stg_<source>__<table>.sql``: one view per table
  that renames every column to snake_case and casts its text form back to the
  exact source type;
* ``models/final/<table>.sql`` and ``models/final/_final__models.yml``: one
  table per source table with an enforced contract (exact types, NOT NULL,
  defaults, identity), check constraints, a ``depends_on`` on each foreign
  key's parent so dbt builds parents first, tests, and ``meta.pgshift``:
  the keys, indexes, foreign keys, identities and serial sequences that the
  post-hook ``pgshift_finish_table`` adds once the rows are in;
* ``macros/scaffolded/pgshift_source_enums.sql``: the enum types and
  domains to create on the target before any model is built;
* ``macros/scaffolded/pgshift_source_sequences.sql``: the sequences that are
  not built with a table (not owned, shared, or only called by the
  application), created in the final schema before any model is built;
* the functions, procedures, aggregates and triggers, renamed
  (``scaffold.routine_files``), and ``models/pgshift_routines.json``: which
  of them need review.
* ``models/views/<view>.sql`` and ``macros/scaffolded/pgshift_source_views.sql``:
  the source's views and materialized views, renamed by PostgreSQL
  (``pgshift.shadow``), and the tables' row-level security and policies
  (``scaffold.views``).
* ``macros/scaffolded/pgshift_source_privileges.sql``: the source's owners,
  grants and default privileges as statements, which the publish runs
  (``pgshift.privileges``).

Nothing is written when a table holds what the target cannot get back as it
was (``scaffold.supported``). Keys that would close a cycle (self
references, and one key of each cycle such as users <-> payment_methods)
cannot be dbt edges and give no ``depends_on``; the on-run-end hook adds them.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from pgshift.catalog import (
    Catalog,
    FunctionSignature,
    function_signatures,
    read_catalog,
    read_not_migrated,
    refuse_unreadable,
    schemas_referencing,
    target_functions,
    target_parents,
    target_relations,
    type_shapes,
    unreadable_tables,
)
from pgshift.comments import map_comments, read_comments
from pgshift.connection import explain, transaction
from pgshift.manifest import PublishedParent, other_builds
from pgshift.mapping import (
    MAP_FILE,
    NEW_TABLE,
    NameMap,
    TableMap,
    build_map,
    rename_view_types,
)
from pgshift.naming import Overrides
from pgshift.privileges import (
    Privileges,
    SourcePrivileges,
    map_privileges,
    missing_roles,
    read_privileges,
)
from pgshift.progress import SHOWN_LINES, counted, listed, spilled
from pgshift.routines import (
    SCHEMA,
    Routines,
    SourceRoutines,
    needed_before_build,
    read_routines,
    reading_tables,
    rewrite,
)
from pgshift.scaffold.overrides import check_override_names, read_source_names
from pgshift.scaffold.privilege_macro import MACRO_FILE, privileges_macro
from pgshift.scaffold.routine_files import routine_files
from pgshift.scaffold.sql_files import (
    GENERATED_HEADER,
    final_sql,
    sequences_macro,
    staging_sql,
    types_macro,
)
from pgshift.scaffold.supported import (
    ScaffoldError,
    check_extension_functions,
    check_references,
    check_supported,
    exclude_advice,
)
from pgshift.scaffold.views import settle_views, view_files
from pgshift.scaffold.yaml_files import (
    dump_yaml,
    final_models_yaml,
    sources_yaml,
    staging_models_yaml,
    yaml_changes,
)
from pgshift.schemas import (
    migrated_by_its_own_run,
    own_run,
    run_order,
    schema_plan,
    schema_uses,
)
from pgshift.settings import ConfigError, Settings, recorded_overrides
from pgshift.shadow import ShadowError, rename_definitions
from pgshift.sqlident import render_ident

__all__ = [
    "GENERATED_DIRS",
    "Project",
    "ScaffoldError",
    "Scaffolded",
    "deferred_foreign_keys",
    "drift",
    "drift_refusal",
    "map_drift",
    "map_project",
    "read_project",
    "render",
    "scaffold",
    "schema_drift",
    "write",
]

logger = logging.getLogger(__name__)

MISSING_ROLES_FILE = "logs/missing-roles.sql"
"""Where scaffold writes the grants for roles the target lacks, when there
are too many to list one a line."""

GENERATED_DIRS = (
    "models/staging",
    "models/final",
    "models/views",
    "macros/scaffolded",
)
"""Folders whose files carrying the generated header scaffold may remove."""


@dataclass
class Project:
    """The source schema and its applied name map, ready to be written.

    Attributes:
        catalog: The source catalog (tables left out already removed).
        names: The applied name map.
        deferred: (source table, source constraint name) of the foreign keys
            that cannot be dbt edges (cycles); added on-run-end.
        routines: The source's functions and triggers, renamed.
        privileges: The source's owners and grants, through the map.
        source_privileges: The owners and grants read from the source.
        run_order: The source's schemas a run may migrate, in the order
            their runs go (``schemas.run_order``).
        migrated_elsewhere: Source schema to the final schema an earlier
            run built it into, on the target.
    """

    catalog: Catalog
    names: NameMap
    deferred: set[tuple[str, str]]
    routines: Routines | None = None
    privileges: Privileges = field(default_factory=Privileges)
    source_privileges: SourcePrivileges | None = None
    run_order: list[tuple[list[str], str]] = field(default_factory=list)
    migrated_elsewhere: dict[str, str] = field(default_factory=dict)


def map_project(
    catalog: Catalog,
    overrides: Overrides,
    source_name: str = "app",
    overrides_path: str | None = None,
) -> Project:
    """Check that the catalog can be migrated and settle its target names.

    Raises:
        ScaffoldError: A foreign key points at a table left out.
        NamingError: Names collide or are too long.
    """
    check_references(catalog)
    names = build_map(catalog, overrides, source_name, overrides_path)
    return Project(catalog, names, deferred_foreign_keys(catalog))


def deferred_foreign_keys(catalog: Catalog) -> set[tuple[str, str]]:
    """Choose the foreign keys that cannot be dbt dependency edges.

    A key is an edge from the referenced table to the referencing one. Keys
    are taken NOT NULL ones first, then by name; a key that would close a
    cycle (or references its own table) is deferred, so nullable keys are
    the ones deferred whenever a cycle allows a choice.

    Args:
        catalog: The source catalog.

    Returns:
        (table name, constraint name) of every deferred key.
    """
    edges: dict[str, set[str]] = {name: set() for name in catalog.tables}
    deferred: set[tuple[str, str]] = set()

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(edges.get(node, ()))
        return False

    keys = [
        (table, fk) for table in catalog.tables.values() for fk in table.foreign_keys
    ]
    keys.sort(
        key=lambda item: (
            not all(item[0].column(c).not_null for c in item[1].columns),
            item[0].name,
            item[1].name,
        )
    )
    for table, fk in keys:
        if fk.ref_schema is not None or fk.ref_table not in catalog.tables:
            continue
        if fk.ref_table == table.name or reaches(table.name, fk.ref_table):
            deferred.add((table.name, fk.name))
        else:
            edges[fk.ref_table].add(table.name)
    return deferred


def render(project: Project) -> dict[str, str]:
    """Render every generated file.

    Args:
        project: The mapped source schema.

    Returns:
        Path relative to the dbt project directory to file content.

    Raises:
        ScaffoldError: A migrated table cannot arrive as it is (see
            ``check_supported``).
    """
    catalog, names = project.catalog, project.names
    check_supported(catalog)
    src = names.source_name
    header = f"# {GENERATED_HEADER}.\n"
    files: dict[str, str] = {MAP_FILE: names.to_json()}
    files[f"models/staging/{src}/_{src}__sources.yml"] = header + dump_yaml(
        sources_yaml(catalog, names)
    )
    files[f"models/staging/{src}/_{src}__models.yml"] = header + dump_yaml(
        staging_models_yaml(catalog, names)
    )
    files["models/final/_final__models.yml"] = header + dump_yaml(
        final_models_yaml(catalog, names)
    )
    for table in catalog.tables.values():
        mapped = names.tables[table.name]
        files[_staging_file(src, mapped)] = staging_sql(table, mapped, src)
        files[f"models/final/{mapped.target}.sql"] = final_sql(
            table, mapped, catalog, project.deferred
        )
    files["macros/scaffolded/pgshift_source_enums.sql"] = types_macro(catalog, names)
    files["macros/scaffolded/pgshift_source_sequences.sql"] = sequences_macro(names)
    files.update(routine_files(project.routines or Routines(), catalog.extensions))
    files.update(view_files(names))
    files[MACRO_FILE] = privileges_macro(project.privileges)
    return files


@dataclass
class Scaffolded:
    """What one scaffold did.

    Attributes:
        project: The mapped source schema.
        files: The rendered files (relative path to content).
        drifted: With ``check``: a line per committed file that differs, and
            what changed in it (``drift_lines``).
        left_behind: (kind, name, reason) of what the source holds besides
            the migrated tables.
        privilege_notes: The source's privileges and owners that the target
            does not get as they are (a role missing there, a kind of object
            the name map does not hold), one line each.
    """

    project: Project
    files: dict[str, str]
    drifted: list[str]
    left_behind: list[tuple[str, str, str]]
    privilege_notes: list[str] = field(default_factory=list)


def read_project(
    settings: Settings, source_name: str, *, names_only: bool = False
) -> tuple[Project, list[tuple[str, str, str]]]:
    """Read the source catalog and map it, as scaffold does, writing nothing.

    Args:
        settings: The run settings (only the source is read).
        source_name: The dbt source name.
        names_only: Settle the name map only: leave out the functions,
            triggers and privileges, which it does not hold.

    Returns:
        The mapped project, and (kind, name, reason) of what the source holds
        besides the migrated tables.
    """
    present: frozenset[str] = frozenset()
    parents: frozenset[tuple[str, str, tuple[str, ...]]] = frozenset()
    relations: dict[str, frozenset[str]] = {}
    published: dict[tuple[str, str], PublishedParent] = {}
    sequences: dict[tuple[str, str], tuple[str, str]] = {}
    # Source schema to the final schema another run built it into.
    elsewhere: dict[str, str] = {}
    types: dict[tuple[str, str], tuple] = {}
    # Other source schemas' types another run built, where it put them.
    published_types: dict[tuple[str, str], tuple[str, str]] = {}
    installed: set[str] | None = None
    # Extensions' functions in the final schema on the target.
    members: list[FunctionSignature] = []
    if settings.target is not None:
        # A call to another schema's function (Supabase's auth.uid() in a
        # policy), or a foreign key or view into its table (auth.users), is
        # kept when the target has that function or table.
        with transaction(settings.target, readonly=True) as cursor:
            present = target_functions(
                cursor, settings.source_schema, settings.final_schema
            )
            parents = target_parents(cursor, settings.final_schema)
            # Another source schema's tables and sequences another run
            # built, renamed.
            built = other_builds(
                cursor,
                settings.state_schema,
                settings.final_schema,
                settings.source_required.dbname,
            )
            published, elsewhere = built.parents, built.schemas
            sequences = built.sequences
            relations = target_relations(cursor, settings.final_schema)
            types = type_shapes(cursor)
            # Such a type stands for the source's under its source name: a
            # column of it is kept where the two have the same shape.
            published_types = {
                key: where for key, where in built.types.items() if where in types
            }
            types.update({key: types[where] for key, where in published_types.items()})
            cursor.execute("select extname::text from pg_extension")
            installed = {name for (name,) in cursor.fetchall()}
            if not names_only:
                members = [
                    f
                    for f in function_signatures(cursor, settings.final_schema)
                    if f.extension is not None
                ]
    with transaction(settings.source_required, readonly=True) as cursor:
        catalog = read_catalog(cursor, settings.source_schema, present, types)
        # Read as the load will read them: a table the role may not read
        # is named now, with its grant, not met midway.
        refuse_unreadable(
            settings,
            *unreadable_tables(
                cursor, [t for t in catalog.tables.values() if settings.selects(t.name)]
            ),
        )
        catalog.target_parents = parents
        catalog.published_parents = published
        catalog.published_sequences = sequences
        catalog.published_types = published_types
        catalog.target_relations = relations
        # An extension the target has already needs no word.
        left_behind = [
            entry
            for entry in read_not_migrated(
                cursor, settings.source_schema, settings.selects
            )
            if not (entry[0] == "extension" and entry[1] in (installed or ()))
        ]
        plan = schema_plan(
            cursor, settings, Overrides.load(settings.overrides_path).schemas
        )
        catalog.later_schemas = plan.others
        # What the schemas use of each other's, read once: for the order
        # of the runs, which scaffold prints, and the keys that wait.
        uses = (
            schema_uses(cursor) if settings.target is not None or not names_only else []
        )
        order = [] if names_only else run_order(uses, plan.migratable)
        if settings.target is not None:
            # A key into one that uses this schema's objects waits for its
            # run, where the target is known not to hold its table.
            catalog.cycle_schemas = plan.others & schemas_referencing(
                uses, settings.source_schema
            )
        left_behind += [
            (
                "schema",
                s,
                migrated_by_its_own_run(elsewhere[s]) if s in elsewhere else why,
            )
            for s, why in plan.left_out.items()
        ]
        source_routines = read_routines(cursor, settings.source_schema)
        # What the override file's entries may name: read only for one.
        source_names = (
            read_source_names(cursor, [*plan.targets, *plan.left_out])
            if settings.overrides_path.exists()
            else None
        )
        if not names_only:
            if settings.final_schema != settings.source_schema:
                # The build creates an extension the target lacks in its
                # source schema: the final schema's namesake on the source.
                members += [
                    f
                    for f in function_signatures(cursor, settings.final_schema)
                    if f.extension is not None
                    and (installed is None or f.extension not in installed)
                ]
            check_extension_functions(
                function_signatures(cursor, settings.source_schema),
                members,
                settings.final_schema,
            )
        if not names_only:
            found = read_privileges(cursor, settings.source_schema)
            comments = read_comments(cursor, settings.source_schema)
    settings.check_selection(catalog.tables)
    excluded = [n for n in catalog.tables if not settings.selects(n)]
    for name in excluded:
        del catalog.tables[name]
    excluded_sequences = _exclude_sequences(catalog, excluded)
    overrides = settings.overrides_path
    recorded = None
    if settings.overrides is not None:
        recorded = str(overrides.resolve())
        if overrides.resolve().is_relative_to(settings.project_dir.resolve()):
            recorded = str(overrides.resolve().relative_to(settings.project_dir))
    loaded = Overrides.load(overrides)
    if source_names is not None:
        check_override_names(loaded, source_names, str(overrides))
    _check_reviewed(loaded.reviewed_routines, source_routines, overrides)
    project = map_project(catalog, loaded, source_name, recorded)
    project.run_order = order
    project.migrated_elsewhere = elsewhere
    project.names.final_schema = settings.final_schema
    _set_aside_waiting_keys(catalog, project.names)
    try:
        rename_definitions(settings.source_required, catalog, project.names, loaded)
    except ShadowError as error:
        raise ScaffoldError(str(error)) from error
    _name_excluded(project.names, catalog.schema, excluded)
    project.names.not_migrated += excluded_sequences
    rename_view_types(project.names)
    if not names_only or _calls_routines(project.names):
        project.routines = _settle_routines(
            source_routines,
            project.names,
            catalog.target_functions,
            settings.final_schema,
            loaded.reviewed_routines,
            catalog.published_parents,
            None if settings.target is None else frozenset(catalog.target_relations),
            catalog.published_types,
        )
    if not names_only:
        assert project.routines is not None
        _routines_before_build(
            catalog,
            project.routines,
            _checks_at_publish(catalog, project.names, project.routines),
        )
    left_behind += [
        (kind, name, reason) for kind, name, reason in project.names.not_migrated
    ]
    if not names_only:
        assert project.routines is not None
        project.source_privileges = found
        project.privileges = map_privileges(found, project.names, project.routines)
        created = [r for r in project.routines.routines if not r.problems]
        project.names.comments = map_comments(
            comments,
            project.names,
            [
                (r.identity, r.kind, r.signature.removeprefix(SCHEMA + "."))
                for r in created
            ],
            [(t.table, t.name) for t in project.routines.triggers if not t.problems],
        )
        left_behind += [
            (kind, label, "needs review, not created by the build: " + reason)
            for kind, label, problems in project.routines.needing_review()
            for reason in [p.describe() for p in problems]
        ]
    return project, left_behind


def _calls_routines(names: NameMap) -> bool:
    """Whether a view or policy calls a function of the migrated schema."""
    return any(v.calls for v in names.views.values()) or any(
        p.calls for p in names.policies
    )


def _checks_at_publish(
    catalog: Catalog, names: NameMap, routines: Routines
) -> set[tuple[str, str]]:
    """Have the publish add the checks calling routines that read tables.

    Such a check (``check (check_role_type(role_id, 'User'))``, whose
    function selects from ``roles``) must read this build's rows: in the
    build its function would read the final schema's tables, published
    before (or not there yet). It is added once the publish has moved
    the tables in (``CheckMap.at_publish``).

    Returns:
        (source table, ``check <name>``) of each such check, as
        ``Table.calls`` names its callers.
    """
    moved: set[tuple[str, str]] = set()
    for table in catalog.tables.values():
        mapped = names.tables.get(table.name)
        if mapped is None:
            continue
        for user, label in table.calls:
            check = next(
                (c for c in mapped.checks if user == f"check {c.source}"), None
            )
            if check is not None and reading_tables(routines.routines, label):
                check.at_publish = True
                moved.add((table.name, user))
    return moved


def _routines_before_build(
    catalog: Catalog,
    routines: Routines,
    at_publish: set[tuple[str, str]],
) -> None:
    """Have the build create the routines first when a table or domain calls one.

    A default, generated column, check or index that calls one of the
    schema's functions needs it on the target before its table is built,
    and so does a domain's check or default (added to the domain once the
    routines are); that function may call others: the build then creates
    those routines, and the ones they call, before the tables
    (``Routines.before_build``, ``Routine.before_build``); the publish
    creates the others once the tables are in, and the checks
    ``at_publish`` names (``_checks_at_publish``) after them.

    Raises:
        ScaffoldError: Such a function is not created (it needs review, or
            is not one pgshift can create), or what it needs is not there
            before the tables are built: a function of a schema pgshift
            does not migrate that the target lacks (it calls it), or a
            table's row type (it takes or returns one).
    """
    created = {r.label for r in routines.routines if not r.problems}
    reasons = {
        r.label: "; ".join(p.describe() for p in r.problems)
        for r in routines.routines
        if r.problems
    }
    callers = [
        (table.name, user, label)
        for table in catalog.tables.values()
        for user, label in table.calls
    ] + [
        (f"domain {domain.name}", "check or default", label)
        for domain in catalog.domains.values()
        for label in domain.calls
    ]
    # (the table or domain, the line saying why)
    refused = [
        (
            who,
            f"  {who} {user}: calls {label}, which "
            + (
                f"needs review and is not created ({reasons[label]})"
                if label in reasons
                else "pgshift cannot create on the target"
            ),
        )
        for who, user, label in callers
        if label not in created
    ]
    # What the routines created before the tables need of the target then.
    present = {name.split("(")[0] for name in catalog.target_functions}
    early = [c for c in callers if (c[0], c[1]) not in at_publish]
    for who, user, label in early:
        if label not in created:
            continue
        for routine in needed_before_build(routines.routines, {label}):
            through = "" if routine.label == label else f" (through {routine.label})"
            refused += [
                (
                    who,
                    f"  {who} {user}: calls {label}{through}, which calls {call}, a "
                    "function of a schema pgshift does not migrate, which the "
                    "target does not have (scaffold looks when TARGET_DATABASE_URL "
                    "is set): create it there, then scaffold again",
                )
                for call in routine.foreign_calls
                if call not in present
            ]
            refused += [
                (
                    who,
                    f"  {who} {user}: calls {label}{through}, which takes or "
                    f"returns the row type of {table}, which is not there before "
                    "the tables are built",
                )
                for table in routine.row_types
            ]
    if refused:
        tables = sorted({who for who, _ in refused} & set(catalog.tables))
        raise ScaffoldError(
            "these tables and domains call functions that the target would not "
            "have:\n"
            + "\n".join(line for _, line in refused)
            + "\nfix the functions on the source"
            + (f", or {exclude_advice(catalog, tables)}" if tables else "")
        )
    # Only those go first; the publish creates the others once the tables
    # are in (one taking a table's row type could not be created before).
    needed_before_build(routines.routines, {label for _, _, label in early})
    routines.before_build = bool(early)


def _set_aside_waiting_keys(catalog: Catalog, names: NameMap) -> None:
    """Move the keys that wait for another schema's run out of the tables' keys.

    The build leaves them out (their parent is not on the target yet); the
    map keeps them in ``waiting_keys``, and each is listed as not migrated
    with the run that adds it.
    """
    for name, table in catalog.tables.items():
        mapped = names.tables[name]
        waiting = {fk.name for fk in table.foreign_keys if catalog.waits(fk)}
        if not waiting:
            continue
        names.waiting_keys[name] = [
            fk for fk in mapped.foreign_keys if fk.source in waiting
        ]
        mapped.foreign_keys = [
            fk for fk in mapped.foreign_keys if fk.source not in waiting
        ]
        for fk in names.waiting_keys[name]:
            schema = fk.to_schema or ""
            names.not_migrated.append(
                [
                    "foreign key",
                    f"{name}.{fk.source}",
                    f"references {render_ident(schema)}.{render_ident(fk.to)}, "
                    f"in schema {render_ident(schema)}, which a run of its own "
                    "migrates: that run adds the key once the table is on the "
                    f"target ({own_run(schema)}, or "
                    "the final schema you choose for it)",
                ]
            )


def _check_reviewed(
    reviewed: list[str], source: SourceRoutines, overrides: Path
) -> None:
    """Refuse a ``reviewed_routines`` entry naming no routine of the schema.

    Raises:
        ScaffoldError: One names none (misspelt, or dropped since).
    """
    known = {r.name for r in source.routines} | {r.label for r in source.routines}
    unknown = [name for name in reviewed if name not in known]
    if unknown:
        raise ScaffoldError(
            f"{overrides}: reviewed_routines lists "
            + ", ".join(repr(n) for n in unknown)
            + f", which names no routine of schema {source.schema}; list each "
            "by name or as scaffold prints it (name(arguments)), or remove it"
        )


def _settle_routines(
    source: SourceRoutines,
    names: NameMap,
    present: frozenset[str] = frozenset(),
    final_schema: str | None = None,
    reviewed: list[str] | None = None,
    elsewhere: dict[tuple[str, str], PublishedParent] | None = None,
    relations: frozenset[str] | None = None,
    elsewhere_types: dict[tuple[str, str], tuple[str, str]] | None = None,
) -> Routines:
    """Rewrite the routines, and settle which views can call them.

    A view that calls a routine left out for review is left out too (and
    the views over it), which may leave out a routine that reads such a
    view: the two are settled together. The views that call a routine, or
    read such a view, are created by the publish (``ViewMap.deferred``).
    ``present``, ``final_schema``, ``reviewed``, ``elsewhere``,
    ``relations``, ``elsewhere_types``: as ``routines.rewrite`` takes them.

    Raises:
        ScaffoldError: A policy calls a routine that is left out for review.
    """
    while True:
        routines = rewrite(
            source,
            names,
            present,
            final_schema,
            reviewed or (),
            elsewhere,
            relations,
            elsewhere_types,
        )
        if not settle_views(
            names, {r.label for r in routines.routines if not r.problems}
        ):
            break
    created = {r.label for r in routines.routines if not r.problems}
    refused = [
        f"  policy {p.name} on {p.table}: calls {call}, "
        "which needs review and is not created; fix the function (see the "
        "routines needing review) or leave the table out"
        for p in names.policies
        for call in p.calls
        if call not in created
    ]
    if refused:
        raise ScaffoldError(
            "these policies cannot be migrated as they are, and a table "
            "without one of its policies would not restrict the same rows:\n"
            + "\n".join(refused)
        )
    return routines


def scaffold(settings: Settings, source_name: str, *, check: bool) -> Scaffolded:
    """Read the source catalog, map it and write (or check) the dbt files.

    Args:
        settings: The run settings (only the source is read).
        source_name: The dbt source name.
        check: Write nothing; report the committed files that differ.

    Returns:
        What was rendered, and what differs or stays behind.
    """
    project, left_behind = read_project(settings, source_name)
    if check:
        _as_scaffold_read(project, settings.project_dir)
    files = render(project)
    drifted = (
        drift_lines(
            project, files, settings.project_dir, NameMap.read(settings.project_dir)
        )
        if check
        else []
    )
    if not check:
        write(files, settings.project_dir)
    notes = project.privileges.skipped + _missing_role_notes(
        settings, project.privileges
    )
    notes += _public_revoke_notes(settings, project.privileges)
    return Scaffolded(project, files, drifted, left_behind, notes)


def _public_revoke_notes(settings: Settings, privileges: Privileges) -> list[str]:
    """What PUBLIC loses on the target's final schema, as it may not on the source's.

    The final schema is the target's own, and may serve other applications'
    roles through PUBLIC: the build's revoke takes the right from each of
    them too, so it is said before it happens.
    """
    revokes = {
        s.privilege.removeprefix("revoke "): s.source
        for s in privileges.statements
        if s.kind == "schema" and s.grantee == "public"
        if s.privilege.startswith("revoke ")
    }
    if not revokes or settings.target is None:
        return []
    with transaction(settings.target, readonly=True) as cursor:
        cursor.execute(
            "select p from unnest(%(revokes)s::text[]) p where case "
            "when to_regnamespace(%(quoted)s) is null then false "
            "else has_schema_privilege('public', %(schema)s, p) end",
            {
                "revokes": list(revokes),
                "quoted": render_ident(settings.final_schema),
                "schema": settings.final_schema,
            },
        )
        held = [p for (p,) in cursor.fetchall()]
    return [
        f"PUBLIC may {privilege.upper()} on the target's schema "
        f"{settings.final_schema}, not on the source's schema "
        f"{revokes[privilege]}: the build revokes it, and every role of the "
        "target database that holds it only through PUBLIC loses it, other "
        "applications' roles included; grant it to those that need it"
        for privilege in held
    ]


def _missing_role_notes(settings: Settings, privileges: Privileges) -> list[str]:
    """The statements for roles the target lacks, to run once they exist.

    Without TARGET_DATABASE_URL the build alone finds out which roles are
    missing; the report lists them with the same statements.
    """
    roles = privileges.roles()
    if not roles:
        return []
    if settings.target is None:
        return [
            "TARGET_DATABASE_URL is not set: the build grants to the roles of "
            f"{', '.join(sorted(roles))} that exist on the target, and the "
            "report lists the statements for the others"
        ]
    try:
        with transaction(settings.target, readonly=True) as cursor:
            missing = missing_roles(cursor, roles)
    except psycopg2.Error as error:
        return [
            "the target's roles could not be read "
            f"({explain(settings.target, str(error))}); the build grants "
            "to the roles that exist there, and the report lists the "
            "statements for the others"
        ]
    needed = [
        (", ".join(sorted(set(s.roles) & missing)), s.text(settings.final_schema))
        for s in privileges.statements
        if set(s.roles) & missing
    ]
    if len(needed) <= SHOWN_LINES:
        return [
            f"role {roles} is missing on the target; once it exists, run: {text}"
            for roles, text in needed
        ]
    # A grant per table and role: the statements go to a file, a line per role.
    path = settings.project_dir / MISSING_ROLES_FILE
    spilled([text for _, text in needed], path)
    counts = Counter(roles for roles, _ in needed)
    return [
        f"role {roles} is missing on the target; once it exists, run its "
        f"{counted(count, 'statement')} in {path} (the file "
        f"holds the {len(needed)} statements of every missing role)"
        for roles, count in counts.items()
    ]


def _exclude_sequences(catalog: Catalog, excluded: list[str]) -> list[list[str]]:
    """Leave out the sequences the tables --include/--exclude left out own.

    A sequence owned by a left-out table's column goes with its table,
    unless a migrated column's default draws from it: then it arrives on
    its own, owned by nothing.

    Returns:
        [kind, name, reason] of each sequence left out, and of each one
        kept without its owner.
    """
    callers: dict[str, list[str]] = {}
    for table in catalog.tables.values():
        for column in table.columns:
            for sequence in column.default_sequences:
                callers.setdefault(sequence, []).append(
                    f"{render_ident(table.name)}.{render_ident(column.name)}"
                )
    entries = []
    for name, sequence in list(catalog.sequences.items()):
        if sequence.owned_by is None or sequence.owned_by[0] not in excluded:
            continue
        owner = ".".join(render_ident(part) for part in sequence.owned_by)
        if name in callers:
            entries.append(
                [
                    "sequence",
                    f"{name} OWNED BY {owner}",
                    "its table is excluded by --include/--exclude; the sequence "
                    f"is migrated, owned by nothing, since {', '.join(callers[name])} "
                    "draws from it",
                ]
            )
        else:
            del catalog.sequences[name]
            entries.append(
                [
                    "sequence",
                    name,
                    f"owned by {owner}, excluded by --include/--exclude",
                ]
            )
    return entries


def _name_excluded(names: NameMap, schema: str, excluded: list[str]) -> None:
    """A view left out for reading a table the selection left out says so.

    The shadow knows such a table only as one it does not migrate; the
    reason names the options, for this view and each view over it.
    """
    for entry in names.not_migrated:
        for table in excluded:
            # As the shadow names it: format('%I.%I').
            read = f"reads {render_ident(schema)}.{render_ident(table)}"
            entry[2] = entry[2].replace(
                f"{read}, which is not migrated",
                f"{read}, excluded by --include/--exclude",
            )


def drift_refusal(settings: Settings) -> str | None:
    """Why a command that builds from the models must not run, or None.

    Models scaffolded from an older shape of the source, or with other
    options (``--include``, ``--exclude``...), would leave a new column or
    table behind, or build one the load does not copy.
    """
    drifted = map_drift(settings)
    if not drifted:
        return None
    shown = listed(drifted)
    return (
        f"the dbt project's models do not match the source ({MAP_FILE}):\n  "
        f"{shown}\nrun `python loader/run.py scaffold` with the same "
        "options (--include, --exclude, --overrides, --schemas, "
        "--final-schema), "
        "review what it changes, then run this command again"
    )


def map_drift(settings: Settings) -> list[str]:
    """Where the committed name map no longer describes the source.

    Args:
        settings: The run settings (only the source is read).

    Returns:
        One line per source table that is new, gone or mapped differently
        (columns, keys, indexes, defaults...), and per other difference of
        the map (sequences, types, overrides); empty when the committed map
        is what scaffold would write now.

    Raises:
        ConfigError: The project has no name map: scaffold never ran.
    """
    committed = _committed_map(settings)
    project, _ = read_project(
        _recorded_overrides(settings, committed),
        committed.source_name,
        names_only=True,
    )
    current = project.names
    # The comments on other objects need the routines settled, which this
    # check does not do; parity compares them with the target.
    current.comments = committed.comments
    path = settings.project_dir / MAP_FILE
    if current.to_json() == path.read_text(encoding="utf-8"):
        return []
    return _map_changes(committed, current)


def schema_drift(settings: Settings) -> list[str]:
    """Where the source no longer matches the committed project, as ``--check`` finds.

    ``scaffold --check`` run from the options the name map records: every
    generated file rendered from the source as it is now and compared with
    the committed one. Unlike ``map_drift`` it sees what the name map does
    not hold (an enum's labels, a function's body, a view's definition,
    privileges, comments).

    Returns:
        One line per source table changed in the name map (as ``map_drift``
        says it), and per other generated file that differs, with the first
        place it does; empty when scaffold would write the same files.

    Raises:
        ConfigError: The project has no name map: scaffold never ran.
        ScaffoldError: The source holds what scaffold refuses now.
    """
    committed = _committed_map(settings)
    project, _ = read_project(
        _recorded_overrides(settings, committed), committed.source_name
    )
    _as_scaffold_read(project, settings.project_dir)
    return drift_lines(project, render(project), settings.project_dir, committed)


def _staging_file(source_name: str, mapped: TableMap) -> str:
    """The path of a table's staging model in the project."""
    return f"models/staging/{source_name}/{mapped.staging_model}.sql"


def drift_lines(
    project: Project,
    files: dict[str, str],
    project_dir: Path,
    committed: NameMap | None,
) -> list[str]:
    """A line per committed file that differs from ``files``, saying how.

    The name map's differences are said per table and part
    (``_map_changes``, against ``committed``); every other file's, as the
    lines it gains and loses (``_file_change``).
    """
    lines = []
    source = project.names.source_name
    staging = {
        _staging_file(source, t): t.source for t in project.names.tables.values()
    }
    for rel in drift(files, project_dir):
        if rel == MAP_FILE and committed is not None:
            lines += _map_changes(committed, project.names)
            continue
        path = project_dir / rel
        before = path.read_text(encoding="utf-8") if path.exists() else None
        change = f"{rel}: {_file_change(before, files[rel], rel.endswith('.yml'))}"
        table = staging.get(rel)
        if table is not None and before is not None:
            # A column's type or cast: named on the table's line, as a
            # change of the name map is.
            change = f"{table}: its staging model changed since scaffold ({change})"
        lines.append(change)
    return lines


def _as_scaffold_read(project: Project, project_dir: Path) -> None:
    """Map the privileges as the role that ran scaffold would have read them.

    An object the connecting role owns keeps no owner statement (it stays
    the migrating role's), so the privileges file depends on who ran
    scaffold. A check run as another role (an operator's, at cutover) is not
    a change of the source: when the committed file is what one of the
    source's owning roles would have read, that mapping is the one compared.
    """
    found = project.source_privileges
    path = project_dir / MACRO_FILE
    if found is None or not path.exists():
        return
    committed = path.read_text(encoding="utf-8")
    if privileges_macro(project.privileges) == committed:
        return
    roles = {found.schema_owner, *found.owners.values()}
    roles |= {f.owner for f in found.functions} | {t.owner for t in found.types}
    for role in sorted(roles - {found.user, ""}):
        mapped = map_privileges(
            dataclasses.replace(found, user=role), project.names, project.routines
        )
        if privileges_macro(mapped) == committed:
            project.privileges = mapped
            return


def _committed_map(settings: Settings) -> NameMap:
    """The project's name map, or why there is none."""
    committed = NameMap.read(settings.project_dir)
    if committed is None:
        raise ConfigError(
            f"{settings.project_dir / MAP_FILE} does not exist: run `python "
            "loader/run.py scaffold` first (it writes the dbt models from the "
            "source; review and commit them), then migrate"
        )
    return committed


def _recorded_overrides(settings: Settings, committed: NameMap) -> Settings:
    """The settings with the override file scaffold was given, which others are not."""
    recorded = recorded_overrides(settings.project_dir, committed.overrides)
    if recorded is None:
        return settings
    return dataclasses.replace(settings, overrides=recorded)


def _map_changes(committed: NameMap, current: NameMap) -> list[str]:
    """One line per table and other part of the name map that differs."""
    lines = []
    for table in sorted(set(committed.tables) | set(current.tables)):
        before, now = committed.tables.get(table), current.tables.get(table)
        if before == now:
            continue
        if before is None:
            lines.append(f"{table}: {NEW_TABLE}")
        elif now is None:
            lines.append(f"{table}: in the models, not in the source (or left out)")
        else:
            lines.append(f"{table}: {_table_change(before, now)}")
    for what in (
        "sequences",
        "types",
        "views",
        "policies",
        "row_security",
        "comments",
        "overrides",
        "source_schema",
    ):
        if getattr(committed, what) != getattr(current, what):
            lines.append(f"{what}: changed since scaffold")
    if committed.final_schema != current.final_schema:
        lines.append(
            f"final schema: the models were scaffolded to land in "
            f"{committed.final_schema!r}, this run's is {current.final_schema!r} "
            "(--final-schema, or the override file's 'schemas:' entry, names "
            "it): drop that, or scaffold again"
        )
    return lines or ["the name map differs from what scaffold writes now"]


def _file_change(before: str | None, now: str, yaml: bool = False) -> str:
    """What changed between a generated file's committed text and ``now``.

    The lines scaffold writes now that the committed file lacks, and the
    other way round (three of each at most, each in brief: a privilege as
    its statement; a YAML file's values with the entries they sit under,
    ``yaml_changes``); lines only in another order are said so.
    """
    if before is None:
        return "a file scaffold writes now, not in the project"
    # A list's entries compare without the comma that follows all but the
    # last: an entry added at the end is one change, not two that read alike.
    old = [line.rstrip().removesuffix(",") for line in before.splitlines()]
    new = [line.rstrip().removesuffix(",") for line in now.splitlines()]
    if sorted(old) == sorted(new):
        return "differs from what scaffold writes now (its lines in another order)"
    # A YAML file compares as data, entry by entry (``yaml_changes``): a
    # line may recur in many entries, and a diff of lines would pin a
    # change on whichever entry its lines happen to fall beside.
    compared = yaml_changes(before, now) if yaml else None
    if compared is not None and any(compared):
        # A model added or gone first: the values it moves elsewhere (the
        # constraints test's groups of tables) follow from it.
        added, gone = (
            sorted(lines, key=lambda line: ": " in line) for lines in compared
        )
        return _said(added, gone)
    new_at: list[int] = []
    old_at: list[int] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            new_at += range(j1, j2)
        if tag in ("replace", "delete"):
            old_at += range(i1, i2)
    return _said([new[j] for j in new_at], [old[i] for i in old_at])


def _said(added: list[str], gone: list[str]) -> str:
    """Lines now written and no longer written, three of each at most, in brief."""
    # A line changed in place is shown from where it starts to differ (a
    # routine's line is long, and the change may be near its end).
    at: list[int | None] = [
        len(os.path.commonprefix([a.strip(), g.strip()]))
        for a, g in zip(added[:3], gone[:3], strict=False)
    ]
    at += [None] * (3 - len(at))
    parts = [f"now {_gist(line, at=at[i])}" for i, line in enumerate(added[:3])]
    parts += [f"no longer {_gist(line, at=at[i])}" for i, line in enumerate(gone[:3])]
    more = len(added) + len(gone) - len(parts)
    return (
        "differs from what scaffold writes now: "
        + "; ".join(parts)
        + (f"; and {more} more changes" if more > 0 else "")
    )


_STATEMENT = re.compile(
    r"""["']statement["']: ((?:'(?:[^'\\]|\\.)*'|\s*~\s*schema\s*~\s*)+)"""
)
"""A privilege entry's statement: its string literals joined by ``~ schema ~``."""


def _gist(line: str, width: int = 120, at: int | None = None) -> str:
    """A generated line in brief: a privilege's statement, else its text.

    ``at``: where the line starts to differ from the one it replaces; a
    line cut short keeps that part in view.
    """
    found = _STATEMENT.search(line)
    text = line.strip()
    if found:
        # 'grant usage on schema ' ~ schema ~ ' to app' -> grant usage on
        # schema <final schema> to app
        text = re.sub(r"'\s*~\s*schema\s*~\s*'", "<final schema>", found.group(1))
        text = re.sub(r"\\(.)", r"\1", text.strip().strip("'"))
        at = None
    if len(text) <= width:
        return text
    if at is None or at < width - 40:
        return text[: width - 3] + "..."
    start = at - 40
    end = start + width - 6
    return "..." + text[start:end] + ("..." if end < len(text) else "")


def drift(files: dict[str, str], project_dir: Path) -> list[str]:
    """The generated files whose committed content differs from ``files``."""
    return [
        rel
        for rel, content in files.items()
        if not (project_dir / rel).exists()
        or (project_dir / rel).read_text(encoding="utf-8") != content
    ]


def _table_change(before: TableMap, now: TableMap) -> str:
    """What differs between a table's committed map and its map now."""
    added = [c for c in now.columns if c not in before.columns]
    gone = [c for c in before.columns if c not in now.columns]
    parts = [f"new column {c}" for c in added] + [f"column {c} gone" for c in gone]
    changed = [
        f.name
        for f in dataclasses.fields(TableMap)
        if f.name != "columns" and getattr(before, f.name) != getattr(now, f.name)
    ]
    if changed:
        parts.append("its " + ", ".join(changed) + " changed")
    if not parts:
        parts.append("its columns changed (names or order)")
    return "; ".join(parts) + " since scaffold"


def _is_generated(path: Path) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")
    return GENERATED_HEADER in text.split("\n", 1)[0]


def write(files: dict[str, str], project_dir: Path) -> list[Path]:
    """Write the generated files, removing generated files no longer wanted.

    Only files carrying the generated header are ever removed.

    Args:
        files: Relative path to content, from ``render``.
        project_dir: The dbt project directory.

    Returns:
        The paths written.
    """
    wanted = {project_dir / rel for rel in files}
    for folder in GENERATED_DIRS:
        for path in (project_dir / folder).rglob("*"):
            if path.is_file() and path not in wanted and _is_generated(path):
                path.unlink()
    written = []
    for rel, content in files.items():
        path = project_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
