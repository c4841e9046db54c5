"""Functions, procedures, aggregates and triggers, renamed through the name map.

The source keeps a function's body as text (``prosrc``): PL/pgSQL and plain
SQL that name tables and columns by their source names. ``read_routines``
reads every function, procedure and aggregate of the migrated schema (those
an extension owns aside) and every trigger on a migrated table, and
``rewrite`` renames, through the one ``NameMap``, the identifiers that name
a migrated table or column, using PostgreSQL's own parser (pglast, through
libpg_query):

* A SQL-language body is parsed as SQL; a PL/pgSQL body with
  ``pglast.parse_plpgsql``, which gives each statement's embedded SQL
  expressions and queries (the text PL/pgSQL hands to the SQL parser), and
  those are parsed as SQL. In them, ``RangeVar`` nodes (a table) and
  ``ColumnRef`` nodes (a column, ``t.col``, ``NEW.col``), plus row types
  (``TypeName``), are renamed.
* Renaming replaces exact token spans of the original text, located by the
  parser's node locations and PostgreSQL's own scanner: the author's
  layout, comments, string literals and dollar-quoted text stay byte for
  byte; only identifier tokens change. (Re-printing from the parse tree
  would lose the comments, and pglast has no PL/pgSQL printer.) Triggers,
  whose definitions ``pg_get_triggerdef`` prints, are renamed in the parse
  tree and printed back with pglast's printer.
* A column is renamed to the one target name it has in the tables the
  statement reads (or, for ``NEW``/``OLD``, in the tables whose triggers call
  the function); where no read table has it, to the one target name it has
  in every migrated table that has it. Two different target names mean the
  target is ambiguous. The columns an INSERT lists or an UPDATE (or ON
  CONFLICT DO UPDATE) sets follow their table.
* A migrated table or view a body names unqualified (a ``RangeVar``, a
  row type, a PL/pgSQL ``%ROWTYPE`` or ``%TYPE`` declaration) is written
  qualified with the final schema: the body then means the final table
  whatever the caller's ``search_path``, one putting the compatibility
  schema's views of the same names first (``pgshift.compat``) included. A
  CTE, a variable or a temporary table the body creates, of that name,
  stays unqualified. A routine's header, bound when it is created, does not.
* A parameter whose name a renamed column takes on the target (parameter
  ``account_id`` beside ``"accountId"``, which becomes ``account_id``) would
  be read as the column there; it is qualified with the function's name
  (``account_total.account_id``), which means on the target what the bare
  name meant on the source. A PL/pgSQL variable in that place is flagged.

What cannot be mapped safely is never guessed: dynamic SQL (``EXECUTE``,
``RETURN QUERY EXECUTE``, ``FOR ... IN EXECUTE``, ``OPEN ... FOR
EXECUTE``) where the map renames anything, unless the override file lists
the routine under ``reviewed_routines``, an ambiguous column, a table that is not migrated, a string
naming a renamed table or sequence (``'"Users"'::regclass``,
``nextval('...')``, ``TG_TABLE_NAME = 'Users'``), a renamed column's name
as the key of a row made JSON (``to_jsonb(NEW) ->> 'fullName'``), a
language other than SQL and PL/pgSQL, a parse
failure, and, as a last net, any identifier token of the body left that
names a migrated table or a column whose name changes, which pgshift could
not place. Each is a ``Problem`` with the line of the body (as PL/pgSQL's
own error messages count them) and the reason. Such a routine is left out
of the build (not created on the target) and listed as needing review, with
its candidate rewrite in the dbt project; so are the triggers calling it.
The application never gets a function that is silently wrong.

``SCHEMA`` stands in every rewritten definition for the final schema, which
the build fills in: names qualified with the source schema are qualified
with it.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgshift.mapping import NameMap, TableMap, keeps_its_names
from pgshift.sqlident import quote_ident, render_ident
from pgshift.sqltree import (
    Token,
    dotted_name,
    older_spelling,
    parse_tree,
    restore_spelling,
    scan_tokens,
    tree_nodes,
)

logger = logging.getLogger(__name__)

SCHEMA = "\x00schema\x00"
"""Stands for the final schema in a rewritten definition."""

_SENTINEL_SCHEMA = "pgshift_final_schema_0a9f"
"""An identifier that stands for the final schema in a printed parse tree."""

_RELATION_FUNCTIONS = frozenset(
    {"nextval", "currval", "setval", "to_regclass", "pg_get_serial_sequence"}
)
"""Functions whose first argument names a relation in a string."""

_DYNAMIC = {
    "PLpgSQL_stmt_dynexecute": "EXECUTE",
    "PLpgSQL_stmt_dynfors": "FOR ... IN EXECUTE",
}


@dataclass(frozen=True)
class Problem:
    """Why a part of a body cannot be mapped safely.

    Attributes:
        line: The line of the body (1 is the line the body starts on), or of
            the definition for a trigger.
        reason: What is wrong there.
    """

    line: int
    reason: str

    def describe(self) -> str:
        """``line N: reason``."""
        return f"line {self.line}: {self.reason}"


@dataclass
class Routine:
    """A function, procedure or aggregate of the migrated schema.

    Attributes:
        oid: Its oid on the source.
        kind: "function", "procedure" or "aggregate".
        name: Its name.
        arguments: ``pg_get_function_identity_arguments``.
        language: Its language (aggregates: "aggregate").
        source: Its definition on the source (``pg_get_functiondef``, or
            CREATE AGGREGATE built from ``pg_aggregate``).
        body: ``prosrc`` (empty for aggregates and SQL-standard bodies).
        argument_names: The names of its parameters.
        identity: DROP-able signature, source names: ``schema.name(types)``.
        extensions: Extensions it needs on the target.
        definition: The rewritten definition (``SCHEMA`` for the schema).
        signature: The rewritten identity (``SCHEMA`` for the schema).
        problems: Why it cannot be mapped safely; empty when it can.
        foreign_trigger: Triggers on tables of other schemas execute it:
            its NEW and OLD are rows of those, whose columns keep their
            names.
        needs: The oids of the functions an operator calls (its own
            function and estimators), which must be created first.
        row_types: The migrated tables and views whose row types its
            arguments or result name (``sanitize(e editor)``): they exist
            once the tables are published, not before.
        foreign_calls: The functions of schemas pgshift does not migrate
            (an extension's aside) that its body calls by qualified name
            (``util.norm``), as ``schema.name``, quoted as SQL quotes them.
        before_build: The build creates it before the tables: a default,
            generated column, check or index (or a domain's check or
            default) calls it, or calls a routine calling it.
        reads: The migrated tables and views its body reads (source
            names): a check calling it must read this build's rows.
        notes: What a reviewer should know of a routine the build creates
            (its dynamic SQL, kept as written).
    """

    oid: int
    kind: str
    name: str
    arguments: str
    language: str
    source: str
    body: str
    argument_names: list[str]
    identity: str
    extensions: list[str] = field(default_factory=list)
    definition: str = ""
    signature: str = ""
    problems: list[Problem] = field(default_factory=list)
    needs: list[int] = field(default_factory=list)
    foreign_trigger: bool = False
    row_types: list[str] = field(default_factory=list)
    foreign_calls: list[str] = field(default_factory=list)
    before_build: bool = False
    reads: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``name(arguments)`` as the source names it."""
        return f"{self.name}({self.arguments})"


@dataclass
class Trigger:
    """A trigger on a migrated table.

    Attributes:
        table: Its table's source name.
        name: Its name.
        function_oid: The function it executes.
        function_schema: That function's schema.
        function_name: That function's name.
        enabled: ``pg_trigger.tgenabled``: O, D, R or A.
        source: ``pg_get_triggerdef``.
        function_identity: The function, as ``pg_identify_object`` names
            it (``r.update_counts()``).
        function_is_builtin: The function is PostgreSQL's or an
            extension's (the target gets it with the extension).
        target_table: Its table's target name.
        definition: The rewritten CREATE TRIGGER (``SCHEMA`` for the schema).
        problems: Why it cannot be created safely.
    """

    table: str
    name: str
    function_oid: int
    function_schema: str
    function_name: str
    enabled: str
    source: str
    function_identity: str = ""
    function_is_builtin: bool = False
    target_table: str = ""
    definition: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``name on table`` as the source names it."""
        return f"{self.name} on {self.table}"

    @property
    def state_clause(self) -> str | None:
        """The ALTER TABLE clause that gives it its state, or None (enabled)."""
        return {
            "D": "disable trigger",
            "R": "enable replica trigger",
            "A": "enable always trigger",
        }.get(self.enabled)


@dataclass
class Routines:
    """What the source schema holds of functions and triggers.

    Attributes:
        routines: Functions, procedures and aggregates, by name and arguments.
        triggers: Triggers on migrated tables, by table and name.
        before_build: Create the routines before the tables are built (a
            default, generated column, check or index calls one), rather
            than at publish.
    """

    routines: list[Routine] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    before_build: bool = False

    def needing_review(self) -> list[tuple[str, str, list[Problem]]]:
        """(kind, label, problems) of everything left out for review."""
        return [(r.kind, r.label, r.problems) for r in self.routines if r.problems] + [
            ("trigger", t.label, t.problems) for t in self.triggers if t.problems
        ]

    def to_json(self) -> str:
        """The review list scaffold writes beside the name map.

        A routine's entry also names it on both sides: ``source``, its
        identity on the source (``public.f(integer)``), and ``target``, its
        ``name(argument types)`` in the final schema, for privilege parity;
        and its ``notes`` (dynamic SQL kept as written).
        """
        entries: list[dict[str, Any]] = [
            {
                "kind": r.kind,
                "name": r.label,
                "status": "needs review" if r.problems else "migrated",
                "problems": [p.describe() for p in r.problems],
                "notes": r.notes,
                "source": r.identity,
                "target": r.signature.removeprefix(SCHEMA + "."),
            }
            for r in self.routines
        ]
        entries += [
            {
                "kind": "trigger",
                "name": t.label,
                "status": "needs review" if t.problems else "migrated",
                "problems": [p.describe() for p in t.problems],
            }
            for t in self.triggers
        ]
        return json.dumps({"routines": entries}, indent=2, ensure_ascii=False) + "\n"


ROUTINES_FILE = "models/pgshift_routines.json"
"""Where scaffold writes what became of each routine and trigger."""


def recorded(project_dir: Path) -> list[dict[str, Any]]:
    """What scaffold recorded of each routine and trigger (``ROUTINES_FILE``).

    Each entry: kind, name, status ("migrated", or why not), problems, and
    for routines their source identity and target ``name(types)``. None
    when the file is missing (the scaffold read no routine or trigger).
    """
    path = project_dir / ROUTINES_FILE
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")).get(
        "routines", []
    )
    return entries


def migrated_lines(project_dir: Path) -> list[str]:
    """``kind name`` of each routine and trigger scaffold recorded as migrated.

    A routine's notes follow (``kind name: line N: dynamic SQL kept as
    written: ...``), for a reviewer.
    """
    return [
        f"{entry['kind']} {entry['name']}"
        + "".join(f": {note}" for note in entry.get("notes") or [])
        for entry in recorded(project_dir)
        if entry["status"] == "migrated"
    ]


def review_lines(project_dir: Path) -> list[str]:
    """The report's lines for what scaffold left out for review.

    Args:
        project_dir: The dbt project, holding ``ROUTINES_FILE`` when the
            scaffold that wrote it read any routine or trigger.

    Returns:
        ``kind name: needs review: line N: reason; ...``, one line each.
    """
    return [
        f"{entry['kind']} {entry['name']}: {entry['status']}: "
        + "; ".join(entry["problems"])
        for entry in recorded(project_dir)
        if entry["status"] != "migrated"
    ]


def created_routines(project_dir: Path) -> list[tuple[str, str]]:
    """(source identity, target ``name(types)``) of each routine the build creates.

    Args:
        project_dir: The dbt project, holding ``ROUTINES_FILE``.

    Returns:
        One pair per migrated function, procedure and aggregate (none when
        the file is missing or older than these fields).
    """
    return [
        (entry["source"], entry["target"])
        for entry in recorded(project_dir)
        if entry["status"] == "migrated"
        and entry.get("source")
        and entry.get("target")
        # Operators and casts hold no privileges of their own.
        and entry["kind"] in ("function", "procedure", "aggregate")
    ]


# --------------------------------------------------------------------------
# Reading the source


_ROUTINES = """
select p.oid, p.proname::text, p.prokind::text,
       pg_get_function_identity_arguments(p.oid),
       l.lanname::text,
       case when p.prokind <> 'a' then pg_get_functiondef(p.oid) end,
       case when p.prosqlbody is null then p.prosrc else '' end,
       coalesce(p.proargnames, '{}'),
       format('%%I.%%I(%%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes))
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
where n.nspname = %(schema)s
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_proc'::regclass
                    and d.objid = p.oid and d.deptype in ('e', 'i'))
order by p.proname, 4
"""

# The schema's operators (an extension's aside): their function, argument
# types, commutator, negator, estimators and options.
_OPERATORS = """
select o.oid, o.oprname::text, o.oprkind::text, o.oprleft, o.oprright,
       o.oprcode::oid, o.oprcom, o.oprnegate,
       o.oprrest::oid, o.oprjoin::oid, o.oprcanhash, o.oprcanmerge,
       format('%%I.%%s(%%s, %%s)', n.nspname, o.oprname,
              case when o.oprleft = 0 then 'NONE'
                   else format_type(o.oprleft, null) end,
              format_type(o.oprright, null))
from pg_operator o
join pg_namespace n on n.oid = o.oprnamespace
where n.nspname = %(schema)s
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_operator'::regclass
                    and d.objid = o.oid and d.deptype = 'e')
order by o.oprname, o.oprleft, o.oprright
"""

# The casts of the schema's types or functions (an extension's aside):
# PostgreSQL keeps casts outside any schema; pg_dump dumps one with the type
# or function it involves.
_CASTS = """
select c.oid, c.castsource, c.casttarget, c.castfunc, c.castcontext::text,
       c.castmethod::text
from pg_cast c
left join pg_type st on st.oid = c.castsource
left join pg_type tt on tt.oid = c.casttarget
left join pg_proc p on p.oid = c.castfunc
where (st.typnamespace = %(schema)s::regnamespace
       or tt.typnamespace = %(schema)s::regnamespace
       or p.pronamespace = %(schema)s::regnamespace)
  -- An extension's, or one a type made itself (range to multirange).
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_cast'::regclass
                    and d.objid = c.oid and d.deptype in ('e', 'i'))
order by c.oid
"""

_TRIGGERS = """
select c.relname::text, tg.tgname::text, tg.tgfoid, fn.nspname::text,
       f.proname::text, tg.tgenabled::text, pg_get_triggerdef(tg.oid),
       (pg_identify_object('pg_proc'::regclass, tg.tgfoid, 0)).identity,
       fn.nspname in ('pg_catalog', 'information_schema') or exists (
           select 1 from pg_depend e
           where e.classid = 'pg_proc'::regclass and e.objid = tg.tgfoid
             and e.deptype = 'e')
from pg_trigger tg
join pg_class c on c.oid = tg.tgrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_proc f on f.oid = tg.tgfoid
join pg_namespace fn on fn.oid = f.pronamespace
where n.nspname = %(schema)s and not tg.tgisinternal and tg.tgparentid = 0
order by c.relname, tg.tgname
"""

# The schema's functions that triggers of other schemas' tables execute.
_FOREIGN_TRIGGER_FUNCTIONS = """
select distinct tg.tgfoid
from pg_trigger tg
join pg_class c on c.oid = tg.tgrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_proc f on f.oid = tg.tgfoid
join pg_namespace fn on fn.oid = f.pronamespace
where fn.nspname = %(schema)s and n.nspname <> %(schema)s and not tg.tgisinternal
"""

_AGGREGATES = """
select a.aggkind::text,
       a.aggtransfn::regproc::oid, a.aggfinalfn::regproc::oid,
       a.aggcombinefn::regproc::oid, a.aggserialfn::regproc::oid,
       a.aggdeserialfn::regproc::oid, a.aggmtransfn::regproc::oid,
       a.aggminvtransfn::regproc::oid, a.aggmfinalfn::regproc::oid,
       a.aggfinalextra, a.aggmfinalextra,
       a.aggfinalmodify::text, a.aggmfinalmodify::text,
       a.aggsortop, a.aggtranstype, a.aggtransspace, a.aggmtranstype,
       a.aggmtransspace, a.agginitval, a.aggminitval, p.proparallel::text
from pg_aggregate a
join pg_proc p on p.oid = a.aggfnoid
where a.aggfnoid = %(oid)s
"""

_FUNCTION_NAME = """
select format('%%I.%%I', n.nspname, p.proname)
from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.oid = %(oid)s
"""

_TYPE_NAME = """
select case when t.typrelid <> 0 or n.nspname not in ('pg_catalog')
            then format('%%I.%%I', n.nspname, t.typname)
            else format_type(t.oid, null) end
from pg_type t join pg_namespace n on n.oid = t.typnamespace where t.oid = %(oid)s
"""

_OPERATOR_NAME = """
select format('OPERATOR(%%I.%%s)', n.nspname, o.oprname)
from pg_operator o join pg_namespace n on n.oid = o.oprnamespace
where o.oid = %(oid)s
"""

_RELATIONS = """
select c.relname::text, c.relkind::text
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %(schema)s and c.relkind in ('r', 'p', 'f', 'v', 'm', 'S')
"""

_EXTENSION_OBJECTS = """
select x.extname::text, p.proname::text
from pg_depend d
join pg_extension x on x.oid = d.refobjid
join pg_proc p on p.oid = d.objid
where d.classid = 'pg_proc'::regclass and d.refclassid = 'pg_extension'::regclass
  and d.deptype = 'e'
"""

# The functions of the source's other schemas, PostgreSQL's and
# extensions' aside: a body calling one needs it on the target.
_FOREIGN_FUNCTIONS = """
select distinct format('%%I.%%I', n.nspname, p.proname)
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
where n.nspname <> %(schema)s
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%%'
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_proc'::regclass
                    and d.objid = p.oid and d.deptype = 'e')
"""

_ROUTINE_EXTENSIONS = """
select distinct x.extname::text
from pg_depend d
join pg_depend e on e.classid = d.refclassid and e.objid = d.refobjid
                and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e'
join pg_extension x on x.oid = e.refobjid
where d.classid = 'pg_proc'::regclass and d.objid = %(oid)s
  and x.extname <> 'plpgsql'
union
select x.extname::text
from pg_proc p
join pg_depend e on e.classid = 'pg_language'::regclass and e.objid = p.prolang
                and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e'
join pg_extension x on x.oid = e.refobjid
where p.oid = %(oid)s and x.extname <> 'plpgsql'
"""


@dataclass
class SourceRoutines:
    """What ``read_routines`` read, before any renaming.

    Attributes:
        schema: The source schema.
        routines: The routines, definitions as on the source.
        triggers: The triggers on the schema's tables.
        relations: Relation name to relkind, of the schema.
        extension_functions: Function name to the extension that owns it.
        foreign_functions: The functions of the source's other schemas
            (PostgreSQL's and extensions' aside), ``schema.name`` quoted as
            SQL quotes them.
        builtin_types: The names of PostgreSQL's own types (``pg_catalog``),
            which an unqualified type name means before any relation's row
            type of the same name (a view named ``xml``, a table ``point``).
    """

    schema: str
    routines: list[Routine]
    triggers: list[Trigger]
    relations: dict[str, str]
    extension_functions: dict[str, str]
    foreign_functions: frozenset[str] = frozenset()
    builtin_types: frozenset[str] = frozenset()


def read_routines(cursor: Any, schema: str) -> SourceRoutines:
    """Read the schema's functions, procedures, aggregates and triggers.

    Args:
        cursor: An open psycopg2 cursor on the source database.
        schema: The schema to read.

    Returns:
        What the source holds, definitions as on the source.
    """
    args = {"schema": schema}
    cursor.execute(_ROUTINES, args)
    routines = []
    for (
        oid,
        name,
        kind,
        arguments,
        language,
        source,
        body,
        names,
        ident,
    ) in cursor.fetchall():
        routine = Routine(
            oid=oid,
            kind={"p": "procedure", "a": "aggregate"}.get(kind, "function"),
            name=name,
            arguments=arguments,
            language="aggregate" if kind == "a" else language,
            source=source or "",
            body=body or "",
            argument_names=[n for n in names if n],
            identity=ident,
        )
        if kind == "a":
            routine.source = _aggregate_definition(cursor, routine, schema)
        cursor.execute(_ROUTINE_EXTENSIONS, {"oid": oid})
        routine.extensions = sorted(r[0] for r in cursor.fetchall())
        routines.append(routine)
    cursor.execute(_OPERATORS, args)
    for row in cursor.fetchall():
        routines.append(_operator(cursor, row))
    cursor.execute(_CASTS, {"schema": quote_ident(schema)})
    for row in cursor.fetchall():
        routines.append(_cast(cursor, row))
    cursor.execute(_TRIGGERS, args)
    triggers = [
        Trigger(
            table=table,
            name=name,
            function_oid=foid,
            function_schema=fschema,
            function_name=fname,
            enabled=enabled,
            source=source,
            function_identity=identity,
            function_is_builtin=builtin,
        )
        for (
            table,
            name,
            foid,
            fschema,
            fname,
            enabled,
            source,
            identity,
            builtin,
        ) in cursor.fetchall()
    ]
    cursor.execute(_FOREIGN_TRIGGER_FUNCTIONS, args)
    foreign = {oid for (oid,) in cursor.fetchall()}
    for routine in routines:
        routine.foreign_trigger = routine.oid in foreign
    cursor.execute(_RELATIONS, args)
    relations = dict(cursor.fetchall())
    cursor.execute(_EXTENSION_OBJECTS)
    extension_functions = {name: ext for ext, name in cursor.fetchall()}
    cursor.execute(_FOREIGN_FUNCTIONS, args)
    foreign_functions = frozenset(name for (name,) in cursor.fetchall())
    cursor.execute(
        "select typname::text from pg_type "
        "where typnamespace = 'pg_catalog'::regnamespace"
    )
    builtin_types = frozenset(name for (name,) in cursor.fetchall())
    return SourceRoutines(
        schema,
        routines,
        triggers,
        relations,
        extension_functions,
        foreign_functions,
        builtin_types,
    )


def _name_of(cursor: Any, query: str, oid: int) -> str:
    """A function's, type's or operator's name as SQL, by one of the queries above."""
    cursor.execute(query, {"oid": oid})
    return str(cursor.fetchone()[0])


def _operator(cursor: Any, row: tuple) -> Routine:
    """An operator of the schema, as a routine whose definition creates it.

    Its function, types, commutator, negator and estimators are named
    schema-qualified (``pg_catalog`` types by their SQL names), so the
    rewrite renames the schema's types and puts the final schema in place
    of the source's, as for an aggregate.
    """
    (oid, name, kind, left, right, code, commutator, negator, restrict, join,
     hashes, merges, identity) = row  # fmt: skip

    def function(oid: int) -> str:
        return _name_of(cursor, _FUNCTION_NAME, oid)

    def type_name(oid: int) -> str:
        return _name_of(cursor, _TYPE_NAME, oid)

    def operator(oid: int) -> str:
        return _name_of(cursor, _OPERATOR_NAME, oid)

    options = [f"FUNCTION = {function(code)}"]
    if kind == "b":
        options.append(f"LEFTARG = {type_name(left)}")
    options.append(f"RIGHTARG = {type_name(right)}")
    for label, other in (("COMMUTATOR", commutator), ("NEGATOR", negator)):
        if other:
            options.append(f"{label} = {operator(other)}")
    for label, estimator in (("RESTRICT", restrict), ("JOIN", join)):
        if estimator:
            options.append(f"{label} = {function(estimator)}")
    options += ["HASHES"] * bool(hashes) + ["MERGES"] * bool(merges)
    schema = identity[: identity.index(".")]
    body = ",\n    ".join(options)
    arguments = identity[identity.index("(") + 1 : -1]
    return Routine(
        oid=oid,
        kind="operator",
        name=name,
        arguments=arguments,
        language="operator",
        source=f"CREATE OPERATOR {schema}.{name} (\n    {body}\n)",
        body="",
        argument_names=[],
        identity=identity,
        needs=[f for f in (code, restrict, join) if f],
    )


def _cast(cursor: Any, row: tuple) -> Routine:
    """A cast of the schema's types or functions, as a routine creating it.

    The types and the function are named schema-qualified, so the rewrite
    renames the schema's types and puts the final schema in place of the
    source's, as for an operator.
    """
    oid, source_type, target_type, function_oid, context, method = row

    def type_name(oid: int) -> str:
        return _name_of(cursor, _TYPE_NAME, oid)

    pair = f"({type_name(source_type)} AS {type_name(target_type)})"
    if method == "f":
        cursor.execute(
            "select format('%%I.%%I', n.nspname, p.proname), p.proargtypes::oid[] "
            "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where p.oid = %(oid)s",
            {"oid": function_oid},
        )
        function, arguments = cursor.fetchone()
        typed = ", ".join(type_name(a) for a in arguments)
        how = f"WITH FUNCTION {function}({typed})"
    else:
        how = "WITH INOUT" if method == "i" else "WITHOUT FUNCTION"
    how += {"a": " AS ASSIGNMENT", "i": " AS IMPLICIT"}.get(context, "")
    return Routine(
        oid=oid,
        kind="cast",
        name="",
        arguments=pair[1:-1],
        language="cast",
        source=f"CREATE CAST {pair} {how}",
        body="",
        argument_names=[],
        identity=pair,
        needs=[function_oid] if function_oid else [],
    )


def _aggregate_definition(cursor: Any, routine: Routine, schema: str) -> str:
    """CREATE AGGREGATE for an aggregate, every name schema-qualified."""
    cursor.execute(_AGGREGATES, {"oid": routine.oid})
    row = cursor.fetchone()
    # Its support functions (state, final, combine, serial, deserial and
    # the moving-aggregate ones): it needs every one of them.
    routine.needs = [f for f in row[1:9] if f]
    (
        aggkind,
        sfunc,
        finalfunc,
        combinefunc,
        serialfunc,
        deserialfunc,
        msfunc,
        minvfunc,
        mfinalfunc,
        finalextra,
        mfinalextra,
        finalmodify,
        mfinalmodify,
        sortop,
        stype,
        sspace,
        mstype,
        msspace,
        initcond,
        minitcond,
        parallel,
    ) = row

    def function(oid: int) -> str:
        return _name_of(cursor, _FUNCTION_NAME, oid)

    def type_name(oid: int) -> str:
        return _name_of(cursor, _TYPE_NAME, oid)

    modify = {"r": "READ_ONLY", "s": "SHAREABLE", "w": "READ_WRITE"}
    options = [f"SFUNC = {function(sfunc)}", f"STYPE = {type_name(stype)}"]
    if sspace:
        options.append(f"SSPACE = {sspace}")
    if finalfunc:
        options.append(f"FINALFUNC = {function(finalfunc)}")
        if finalextra:
            options.append("FINALFUNC_EXTRA")
        options.append(f"FINALFUNC_MODIFY = {modify[finalmodify]}")
    for label, oid in (
        ("COMBINEFUNC", combinefunc),
        ("SERIALFUNC", serialfunc),
        ("DESERIALFUNC", deserialfunc),
    ):
        if oid:
            options.append(f"{label} = {function(oid)}")
    if initcond is not None:
        options.append("INITCOND = " + "'" + initcond.replace("'", "''") + "'")
    if msfunc:
        options.append(f"MSFUNC = {function(msfunc)}")
        options.append(f"MINVFUNC = {function(minvfunc)}")
        options.append(f"MSTYPE = {type_name(mstype)}")
        if msspace:
            options.append(f"MSSPACE = {msspace}")
        if mfinalfunc:
            options.append(f"MFINALFUNC = {function(mfinalfunc)}")
            if mfinalextra:
                options.append("MFINALFUNC_EXTRA")
            options.append(f"MFINALFUNC_MODIFY = {modify[mfinalmodify]}")
        if minitcond is not None:
            options.append("MINITCOND = " + "'" + minitcond.replace("'", "''") + "'")
    if sortop:
        cursor.execute(_OPERATOR_NAME, {"oid": sortop})
        options.append(f"SORTOP = {cursor.fetchone()[0]}")
    options.append(
        "PARALLEL = "
        + {"s": "SAFE", "r": "RESTRICTED", "u": "UNSAFE"}.get(parallel, "UNSAFE")
    )
    if aggkind != "n":
        routine.problems.append(
            Problem(1, "an ordered-set or hypothetical-set aggregate is not migrated")
        )
    name = f"{quote_ident(schema)}.{render_ident(routine.name)}"
    arguments = routine.arguments or "*"
    body = ",\n    ".join(options)
    return f"CREATE OR REPLACE AGGREGATE {name}({arguments}) (\n    {body}\n)"


# --------------------------------------------------------------------------
# Rewriting


def rewrite(
    source: SourceRoutines,
    names: NameMap,
    present: frozenset[str] = frozenset(),
    final_schema: str | None = None,
    reviewed: Collection[str] = (),
    elsewhere: Mapping[tuple[str, str], tuple[str, str, dict[str, str]]] | None = None,
    relations: Collection[str] | None = None,
    elsewhere_types: Mapping[tuple[str, str], tuple[str, str]] | None = None,
) -> Routines:
    """Rename every routine and trigger of the source through the name map.

    Args:
        source: What ``read_routines`` read.
        names: The applied name map (only its tables are migrated).
        present: Functions of other schemas that the target has
            (``catalog.target_functions``): a trigger executing one of them
            is created; one executing another schema's function the target
            lacks needs review.
        final_schema: The schema the routines land in (None: not known,
            taken as another than the source's). Where the map renames
            nothing, dynamic SQL means on the target what it meant on the
            source, when the routines land in the source schema's name or
            the body names neither schema anywhere (``_dynamic_sql``).
        reviewed: The routines the team reviewed (the override file's
            ``reviewed_routines``, each a name or ``name(arguments)`` as
            scaffold prints it): their dynamic SQL is kept as written.
        elsewhere: The tables earlier runs built into other final schemas
            of the target (``Catalog.published_parents``): a body naming
            one by its source schema reads it there, under its target names
            (``person."Address"."cityName"`` becomes
            ``person.address.city_name``).
        relations: The relations of the target's other schemas
            (``schema.relation``, quoted as needed; ``target_relations``),
            or None when the target is not known: a body naming another
            schema's relation the target lacks, and no run built, needs
            review (it would fail there).
        elsewhere_types: The types earlier runs built into other final
            schemas (``Catalog.published_types``): a signature or body
            naming one by its source schema names it there
            (``public."Flag"`` becomes ``public.flag``).

    Returns:
        The routines and triggers, rewritten, each with its problems.
    """
    context = _Context.build(source, names)
    context.final_schema = final_schema
    context.target_relations = None if relations is None else frozenset(relations)
    context.elsewhere = {
        (schema, table): (
            final,
            TableMap(
                source_schema=schema,
                source=table,
                target=target,
                staging_model="",
                columns=dict(columns),
            ),
        )
        for (schema, table), (final, target, columns) in (elsewhere or {}).items()
    }
    context.elsewhere_types = dict(elsewhere_types or {})
    context.changed = changed_names(names)
    context.reviewed = frozenset(reviewed)
    callers: dict[int, list[TableMap]] = {}
    for trigger in source.triggers:
        mapped = names.tables.get(trigger.table)
        if mapped is not None:
            callers.setdefault(trigger.function_oid, []).append(mapped)
        context.transitions.setdefault(trigger.function_oid, set()).update(
            _transition_tables(trigger)
        )
    done = Routines()
    for routine in source.routines:
        try:
            _rewrite_routine(routine, context, callers.get(routine.oid, []))
        except Exception as error:  # noqa: BLE001 - reviewed, never guessed
            routine.problems.append(_unreadable(error))
            routine.definition = routine.definition or routine.source
        done.routines.append(routine)
    _passed_names(done.routines, source.triggers, names, context)
    flagged = _flag_callers(done.routines)
    for trigger in source.triggers:
        mapped = names.tables.get(trigger.table)
        if mapped is None:
            continue
        trigger.target_table = mapped.target
        try:
            _rewrite_trigger(trigger, mapped, context)
        except Exception as error:  # noqa: BLE001 - reviewed, never guessed
            trigger.problems.append(_unreadable(error))
        foreign = not (
            trigger.function_schema == source.schema or trigger.function_is_builtin
        )
        if foreign and trigger.function_identity in present and _renames(mapped):
            trigger.problems.append(
                Problem(
                    1,
                    f"it executes {trigger.function_identity}, a function of "
                    f"schema {render_ident(trigger.function_schema)}, which "
                    "pgshift does not rewrite, on a table whose names change: "
                    "its NEW and OLD may name the source's columns",
                )
            )
        elif foreign and trigger.function_identity not in present:
            trigger.problems.append(
                Problem(
                    1,
                    f"it executes {trigger.function_identity}, a function of "
                    f"schema {render_ident(trigger.function_schema)}, which "
                    "pgshift does not migrate and the target does not have "
                    "(scaffold looks when TARGET_DATABASE_URL is set): create "
                    "it there, then scaffold again",
                )
            )
        if trigger.function_oid in flagged:
            trigger.problems.append(
                Problem(
                    1,
                    f"it executes {flagged[trigger.function_oid].label}, which "
                    "needs review",
                )
            )
        done.triggers.append(trigger)
    return done


def _calling_texts(
    routines: list[Routine], triggers: list[Trigger], names: NameMap
) -> Iterator[tuple[str, str]]:
    """(what, SQL text) of everything of the schema that may call a routine.

    Routines, triggers (their arguments), views, policies, and the
    defaults, generated columns and checks of the tables.
    """
    for routine in routines:
        # A body is one string of the definition: read on its own too.
        yield f"{routine.kind} {routine.label}", routine.source
        yield f"{routine.kind} {routine.label}", routine.body
    for trigger in triggers:
        yield f"trigger {trigger.label}", trigger.source
    for view in (getattr(names, "views", None) or {}).values():
        yield f"view {view.source}", view.definition
    for policy in getattr(names, "policies", None) or []:
        for text in (policy.using, policy.with_check):
            if text:
                yield f"policy {policy.name} on {policy.table}", text
    for table in names.tables.values():
        for column, text in [*table.defaults.items(), *table.generated.items()]:
            yield f"column {table.source}.{column}", text
        for check in table.checks:
            yield f"check {check.source} on {table.source}", check.expression


def _passed_names(
    routines: list[Routine],
    triggers: list[Trigger],
    names: NameMap,
    context: _Context,
) -> None:
    """Flag a routine kept with its dynamic SQL that is passed a renamed name.

    Its dynamic SQL takes names from its arguments (``count_rows('Users')``,
    a trigger's ``EXECUTE FUNCTION f('userId')``): a string constant that a
    call of it in the schema passes, naming an object whose name changes,
    names nothing on the target, where strings are not renamed. The routine
    then needs review (and so does what calls it).
    """
    kept = {r.name for r in routines if r.notes and not r.problems}
    if not kept:
        return
    passed: dict[str, tuple[str, str, str]] = {}  # routine: (who, string, name)
    for who, text in _calling_texts(routines, triggers, names):
        tokens = _scan_safely(text)
        for index, token in enumerate(tokens[:-1]):
            if token.value not in kept or tokens[index + 1].text != "(":
                continue
            depth = 0
            for argument in tokens[index + 1 :]:
                depth += {"(": 1, ")": -1}.get(argument.text, 0)
                if depth == 0:
                    break
                string = _string_text(argument)
                held = _string_names(string or "", context.changed)
                if held and token.value not in passed:
                    passed[token.value] = (who, argument.text, held[0])
    for routine in routines:
        if routine.name in passed and routine.notes:
            who, string, name = passed[routine.name]
            routine.notes = []
            routine.problems.append(
                Problem(
                    1,
                    f"it runs dynamic SQL, and {who} passes it {string}, which "
                    f"names {render_ident(name)}, whose name changes on the "
                    "target; strings are not renamed",
                )
            )


def _flag_callers(routines: list[Routine]) -> dict[int, Routine]:
    """Flag every routine that calls one needing review, to a fixed point.

    A routine that is not created breaks each routine calling it on the
    target (an aggregate over its state function, a trigger function
    calling a helper): those need review too. Calls are an aggregate's or
    operator's support functions (``Routine.needs``) and, in bodies, the
    schema's routines called by name (every overload of that name).

    Returns:
        The routines needing review, by oid.
    """
    calls = _call_graph(routines)
    flagged: dict[int, Routine] = {}
    while True:
        new = {r.oid: r for r in routines if r.problems and r.oid not in flagged}
        if not new:
            return flagged
        flagged.update(new)
        for routine in routines:
            for oid in calls[routine.oid]:
                if oid in new:
                    routine.problems.append(
                        Problem(1, f"it calls {new[oid].label}, which needs review")
                    )


def _call_graph(routines: list[Routine]) -> dict[int, list[int]]:
    """The oids of the routines each routine calls, by its oid.

    An aggregate's or operator's support functions (``Routine.needs``) and,
    in bodies, the schema's routines called by name (every overload of that
    name).
    """
    by_name: dict[str, list[int]] = {}
    for routine in routines:
        by_name.setdefault(routine.name, []).append(routine.oid)
    calls: dict[int, list[int]] = {}
    for routine in routines:
        called = set(routine.needs)
        for text in (routine.source, routine.body):
            tokens = _scan_safely(text or "")
            for token, after in zip(tokens, tokens[1:], strict=False):
                if token.value is not None and after.text == "(":
                    called.update(by_name.get(token.value, ()))
        called.discard(routine.oid)
        calls[routine.oid] = sorted(called)
    return calls


def _reached(routines: list[Routine], labels: set[str]) -> list[Routine]:
    """The routines of those labels and every routine they call, in order."""
    calls = _call_graph(routines)
    wanted = [r.oid for r in routines if r.label in labels]
    needed: set[int] = set()
    while wanted:
        oid = wanted.pop()
        if oid not in needed:
            needed.add(oid)
            wanted += calls.get(oid, [])
    return [r for r in routines if r.oid in needed]


def needed_before_build(routines: list[Routine], labels: set[str]) -> list[Routine]:
    """The routines the tables need before they are built, and what those call.

    Args:
        routines: The schema's routines.
        labels: ``name(arguments)`` of those a default, generated column,
            check, index or domain calls.

    Returns:
        Those routines and every routine they call, to a fixed point, in
        the order given; each is marked ``before_build``. The others are
        created by the publish, once the tables are in (a routine taking a
        table's row type could not be created before).
    """
    found = _reached(routines, labels)
    for routine in found:
        routine.before_build = True
    return found


def reading_tables(routines: list[Routine], label: str) -> list[str]:
    """The migrated tables and views a routine reads, or routines it calls do.

    A check calling such a routine reads those relations: on the target it
    must read the rows of the same build (``CheckMap.at_publish``).

    Args:
        routines: The schema's routines.
        label: ``name(arguments)`` of the routine.

    Returns:
        Their source names, sorted; empty when they read none.
    """
    return sorted({name for r in _reached(routines, {label}) for name in r.reads})


def renames_nothing(names: NameMap) -> bool:
    """Whether every name of the map is the source's.

    Tables, columns, views, types, sequences, keys, checks, indexes,
    foreign keys, statistics and partitions alike.
    """
    return not changed_names(names)


def changed_names(names: NameMap) -> set[str]:
    """The source names of the map that the target spells otherwise.

    Tables, columns, views and their columns, types, sequences, keys,
    checks, indexes, foreign keys, statistics and partitions alike.
    """
    objects: list[tuple[str, str]] = []
    for table in names.tables.values():
        objects.append((table.source, table.target))
        objects += table.columns.items()
        for owner in [table, *table.partitions]:
            objects += [
                (item.source, item.name)
                for item in [*owner.keys, *owner.checks, *owner.indexes]
                + [*owner.foreign_keys]
            ]
        objects += [(p.source, p.name) for p in table.partitions]
        objects += [(x.source, x.name) for x in table.statistics]
    for view in names.views.values():
        objects.append((view.source, view.name))
        objects += view.columns.items()
        objects += [(i.source, i.name) for i in view.indexes]
    objects += names.types.items()
    objects += [(q.source, q.name) for q in names.sequences.values()]
    return {source for source, target in objects if source != target}


def _renames(mapped: TableMap) -> bool:
    """Whether a table or any of its columns has another name on the target."""
    return mapped.target != mapped.source or any(
        source != target for source, target in mapped.columns.items()
    )


def _unreadable(error: Exception) -> Problem:
    return Problem(1, f"pgshift could not read it ({type(error).__name__}: {error})")


@dataclass
class _Context:
    """What renaming needs to know of the whole schema."""

    schema: str
    tables: dict[str, TableMap]
    columns: dict[str, set[str]]
    renamed: set[str]
    relations: set[str]
    not_migrated: set[str]
    extension_functions: dict[str, str]
    views: set[str] = field(default_factory=set)
    kinds: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    foreign_functions: frozenset[str] = frozenset()
    builtin_types: frozenset[str] = frozenset()
    # The source names the target spells otherwise (tables, columns, and
    # every other object of the map): dynamic SQL naming none of them in
    # its strings means on the target what it meant on the source.
    changed: set[str] = field(default_factory=set)
    # The schema the routines land in (None: not known, taken as another
    # schema than the source's).
    final_schema: str | None = None
    # The source names of the relations the compatibility schema gives a
    # view (those whose name or columns the rename changes).
    shadowed: set[str] = field(default_factory=set)
    # The routines the team reviewed, by name or name(arguments): their
    # dynamic SQL is kept as written whatever the map renames.
    reviewed: frozenset[str] = frozenset()
    # A trigger function's transition tables (REFERENCING OLD TABLE AS x),
    # by the function's oid: its body finds them before the schema's tables.
    transitions: dict[int, set[str]] = field(default_factory=dict)
    # The tables of other source schemas that earlier runs built into final
    # schemas of the target, by (source schema, source table): the final
    # schema and the table's map. A body naming one qualified reads it there.
    elsewhere: dict[tuple[str, str], tuple[str, TableMap]] = field(default_factory=dict)
    # Likewise their types, by (source schema, source name): (final schema,
    # name there).
    elsewhere_types: dict[tuple[str, str], tuple[str, str]] = field(
        default_factory=dict
    )
    # The relations of the target's other schemas (``schema.relation``), or
    # None when the target is not known.
    target_relations: frozenset[str] | None = None

    def final_schema_of(self, schema: str | None) -> str | None:
        """The final schema another run built a source schema into, if any."""
        return next(
            (
                final
                for (source, _), (final, _) in self.elsewhere.items()
                if source == schema
            ),
            None,
        )

    @property
    def moves(self) -> bool:
        """Whether the routines land in a schema of another name."""
        return self.final_schema != self.schema

    def qualifies(self, mapped: TableMap) -> bool:
        """Whether a body's unqualified name of a relation gets the final schema.

        Where the compatibility schema, first on a caller's ``search_path``,
        may hold a view of its target name (the relation's own name, with
        other columns), or where the routines land in another schema than
        the source's. A body whose names the rename leaves as they are
        stays as it was.
        """
        return self.moves or mapped.target in self.shadowed

    def kind(self, name: str) -> str:
        """The word for a relation in a message: "table" or "view"."""
        return "view" if self.kinds.get(name) in ("v", "m") else "table"

    @classmethod
    def build(cls, source: SourceRoutines, names: NameMap) -> _Context:
        """What the name map says, views read like the tables they stand for."""
        tables = dict(names.tables)
        views = getattr(names, "views", None) or {}
        for view in views.values():
            tables[view.source] = TableMap(
                source_schema=names.source_schema,
                source=view.source,
                target=view.name,
                staging_model="",
                columns=dict(view.columns),
            )
        columns: dict[str, set[str]] = {}
        renamed: set[str] = set()
        for table in tables.values():
            if table.target != table.source:
                renamed.add(table.source)
            for column, target in table.columns.items():
                columns.setdefault(column, set()).add(target)
                if target != column:
                    renamed.add(column)
        # The sequences the target gets: the schema's, and each migrated
        # identity column's own. One left out (with the table --exclude
        # leaves out) is not there for a nextval() to find.
        sequences = {q.source for q in names.sequences.values()} | {
            sequence
            for table in names.tables.values()
            for sequence in table.identity_sequences.values()
        }
        not_migrated = {
            name
            for name, kind in source.relations.items()
            if (kind in ("r", "p", "f", "v", "m") and name not in tables)
            or (kind == "S" and name not in sequences)
        }
        return cls(
            schema=source.schema,
            tables=tables,
            columns=columns,
            renamed=renamed,
            relations={t.source for t in tables.values() if t.target != t.source}
            | {q.source for q in names.sequences.values() if q.name != q.source},
            not_migrated=not_migrated,
            extension_functions=source.extension_functions,
            views=set(views),
            kinds=dict(source.relations),
            types={s: t for s, t in names.types.items() if s != t},
            foreign_functions=source.foreign_functions,
            builtin_types=source.builtin_types,
            shadowed={
                t.source
                for t in tables.values()
                if not keeps_its_names(t.source, t.target, t.columns)
            },
        )


def _names(fields: list[dict]) -> list[str | None]:
    return [f["String"]["sval"] if "String" in f else None for f in fields or []]


@dataclass(eq=False)
class _Derived:
    """A derived table (a subquery in FROM) or a CTE, as its statement sees it.

    Attributes:
        query: Its query's node (``{"SelectStmt": ...}``, or a data-changing
            statement's for a CTE).
        colnames: The column names its alias gives it (``s(a, b)``).
        escapes: A ``*`` or a whole-row reference takes its columns by
            position, and their names with them.
    """

    query: dict
    colnames: list[str]
    escapes: bool = False


@dataclass
class _Output:
    """One output column of a derived table.

    Attributes:
        name: Its name on the source (None: not known, an expression's).
        target: The select list's entry naming it with ``AS``.
        ref: The column reference it passes through, unaliased.
    """

    name: str | None
    target: dict | None = None
    ref: dict | None = None


@dataclass
class _Scoping:
    """What each qualified column reference of a statement names.

    Attributes:
        refs: A qualified column reference's location, to the derived table
            or CTE its qualifier names where it stands.
        derived: Every derived table and CTE of the statement.
        bare: The names of its unqualified column references.
    """

    refs: dict[int, _Derived] = field(default_factory=dict)
    derived: list[_Derived] = field(default_factory=list)
    bare: set[str] = field(default_factory=set)


def _outputs(derived: _Derived) -> list[_Output] | None:
    """A derived table's output columns, or None where they cannot be listed."""
    select = derived.query.get("SelectStmt")
    if select is None:
        return None
    while select.get("larg"):
        # A set operation's columns are named by its first query.
        select = select["larg"]["SelectStmt"]
    outputs: list[_Output] = []
    if select.get("valuesLists"):
        # The first row's values: a list of them (a List node in older pglast).
        first = select["valuesLists"][0]
        values = first["List"]["items"] if isinstance(first, dict) else first
        outputs = [_Output(None) for _ in values]
    for entry in select.get("targetList") or []:
        target = entry.get("ResTarget") or {}
        if target.get("name"):
            outputs.append(_Output(target["name"], target=target))
            continue
        value = target.get("val") or {}
        while "TypeCast" in value:
            value = value["TypeCast"].get("arg") or {}
        ref = value.get("ColumnRef")
        if ref is None:
            outputs.append(_Output(None))
        elif "A_Star" in ref["fields"][-1]:
            return None
        else:
            outputs.append(_Output(_names(ref["fields"])[-1], ref=ref))
    for position, name in enumerate(derived.colnames[: len(outputs)]):
        outputs[position] = _Output(name)
    return outputs


def _result_refs(statement: dict) -> set[int]:
    """Where the column references naming a statement's result columns stand.

    The unaliased entries (a cast of one too) of its select list (the first
    query's, of a set operation) or of its RETURNING list.
    """
    node = statement.get("stmt")
    if not isinstance(node, dict):
        return set()  # a SQL-standard body's statements: no record reads them
    select = node.get("SelectStmt")
    while select is not None and select.get("larg"):
        select = select["larg"]["SelectStmt"]
    entries = list((select or {}).get("targetList") or [])
    for kind in ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"):
        changing = node.get(kind) or {}
        entries += changing.get("returningList") or []
        entries += (changing.get("returningClause") or {}).get("exprs") or []
    found = set()
    for entry in entries:
        target = entry.get("ResTarget") or {}
        if target.get("name"):
            continue
        value = target.get("val") or {}
        while "TypeCast" in value:
            value = value["TypeCast"].get("arg") or {}
        if "ColumnRef" in value:
            found.add(value["ColumnRef"].get("location", -1))
    return found


def _first_location(node: Any) -> int:
    """The earliest location a parse tree's nodes give (0: none)."""
    found: list[int] = []

    def visit(item: Any) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "location" and isinstance(value, int) and value >= 0:
                    found.append(value)
                else:
                    visit(value)
        elif isinstance(item, list):
            for value in item:
                visit(value)

    visit(node)
    return min(found, default=0)


def _scoping(statement: dict) -> _Scoping:
    """Resolve the qualifiers of a statement's column references, by scope.

    Each query level sees the relations of its FROM list (a table, a view,
    a function, a derived table, a CTE by name), then those of the levels
    around it; a CTE is seen by the statement it heads. The innermost
    relation of a qualifier's name is the one it names: a derived table
    ``s`` around a subquery reading a table aliased ``s`` too (Hatchet's
    shape) is told apart.
    """
    found = _Scoping()
    Frame = dict[str, "_Derived | None"]  # None: not a derived table or CTE

    def lookup(name: str, scope: list[Frame]) -> tuple[bool, _Derived | None]:
        for frame in reversed(scope):
            if name in frame:
                return True, frame[name]
        return False, None

    def column_ref(node: dict, scope: list[Frame]) -> None:
        fields = node.get("fields") or []
        names = _names(fields)
        star = bool(fields) and "A_Star" in fields[-1]
        if len(fields) == 1 and star:
            for through in (scope[-1] if scope else {}).values():
                if through is not None:
                    through.escapes = True
        elif len(fields) == 1 and names[0]:
            found.bare.add(names[0])
            seen, through = lookup(names[0], scope)
            if through is not None:
                through.escapes = True  # perhaps the whole row
        elif len(fields) == 2 and names[0]:
            seen, through = lookup(names[0], scope)
            if through is not None and star:
                through.escapes = True
            elif through is not None:
                found.refs[node.get("location", -1)] = through

    def from_item(
        item: dict, frame: Frame, scope: list[Frame], ctes: list[Frame], later: list
    ) -> None:
        for kind, node in item.items():
            alias = (node.get("alias") or {}).get("Alias") or {}
            if kind == "RangeVar":
                name = alias.get("aliasname") or node["relname"]
                seen, cte = (
                    lookup(node["relname"], ctes)
                    if node.get("schemaname") is None
                    else (False, None)
                )
                frame[name] = cte if seen and not alias.get("colnames") else None
            elif kind == "RangeSubselect":
                through = _Derived(node["subquery"], _names(alias.get("colnames")))
                found.derived.append(through)
                if alias.get("aliasname"):
                    frame[alias["aliasname"]] = through
                inner = scope + [frame] if node.get("lateral") else scope
                visit(node["subquery"], inner, ctes)
            elif kind == "JoinExpr":
                for side in ("larg", "rarg"):
                    if node.get(side):
                        from_item(node[side], frame, scope, ctes, later)
                if alias.get("aliasname"):
                    frame[alias["aliasname"]] = None
                later.append(node.get("quals"))
            else:
                if alias.get("aliasname"):
                    frame[alias["aliasname"]] = None
                later.append(node)

    def query(kind: str, node: dict, scope: list[Frame], ctes: list[Frame]) -> None:
        with_clause = (node.get("withClause") or {}).get("WithClause") or {}
        if with_clause:
            heading: Frame = {}
            for entry in with_clause.get("ctes") or []:
                cte = entry["CommonTableExpr"]
                through = _Derived(cte["ctequery"], _names(cte.get("aliascolnames")))
                found.derived.append(through)
                heading[cte["ctename"]] = through
            ctes = ctes + [heading]
            for entry in with_clause.get("ctes") or []:
                visit(entry["CommonTableExpr"]["ctequery"], scope, ctes)
        frame: Frame = {}
        later: list = []
        relation = (node.get("relation") or {}).get("RangeVar")
        if relation is not None:
            alias = (relation.get("alias") or {}).get("Alias") or {}
            frame[alias.get("aliasname") or relation["relname"]] = None
        if kind == "InsertStmt":
            visit(node.get("selectStmt"), scope, ctes)
        for key in ("fromClause", "usingClause"):
            for item in node.get(key) or []:
                from_item(item, frame, scope, ctes, later)
        inner = scope + [frame]
        visit(later, inner, ctes)
        skip = {"withClause", "fromClause", "usingClause", "selectStmt", "relation"}
        for key, value in node.items():
            if key in ("larg", "rarg"):
                visit(value, scope, ctes)
            elif key not in skip:
                visit(value, inner, ctes)

    def visit(item: Any, scope: list[Frame], ctes: list[Frame]) -> None:
        if isinstance(item, list):
            for value in item:
                visit(value, scope, ctes)
            return
        if not isinstance(item, dict):
            return
        for key, value in item.items():
            if key in ("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt"):
                query(key, value, scope, ctes)
            elif key == "ColumnRef":
                column_ref(value, scope)
            else:
                visit(value, scope, ctes)

    visit(statement, [], [])
    return found


@dataclass
class _Edit:
    start: int
    end: int
    text: str


class _Fragment:
    """One piece of SQL text, parsed, with the edits that rename it."""

    def __init__(
        self,
        text: str,
        context: _Context,
        variables: set[str],
        records: list[TableMap],
        *,
        plpgsql: bool,
        function: str | None = None,
        parameters: frozenset[str] = frozenset(),
        bound: bool = False,
        reviewed: bool = False,
    ) -> None:
        self.function = function
        self.bound = bound
        # The routine is listed under reviewed_routines: a compared string
        # is kept as written, noted (``kept``), not a problem.
        self.reviewed = reviewed
        self.kept: list[tuple[int, str]] = []  # (character offset, what)
        self.parameters = parameters
        self.text = text
        self.context = context
        self.variables = variables
        self.records = records
        self.foreign_records = False  # NEW and OLD of other schemas' tables
        # Where the column references naming the current statement's result
        # columns stand (``_result_refs``).
        self.results: set[int] = set()
        self.foreign: set[str] = set()  # other schemas' relations read
        # PL/pgSQL variables of the row type of a table another run built
        # elsewhere (``r "Production"."Product"%ROWTYPE``): their fields
        # take that table's target names.
        self.row_variables: dict[str, TableMap] = {}
        # Other final schemas' tables read without an alias: their source
        # name, as columns are qualified with it, to their target name.
        self.requalified: dict[str, str] = {}
        self.plpgsql = plpgsql
        self.tokens = scan_tokens(text)
        self.at = {t.start: i for i, t in enumerate(self.tokens)}
        self.edits: list[_Edit] = []
        self.problems: list[tuple[int, str]] = []  # (character offset, reason)
        self.placed: set[int] = set()  # token starts that were understood
        self.row_types: set[str] = set()  # migrated relations named as types
        self.reads: set[str] = set()  # migrated relations read (source names)
        self.foreign_calls: set[str] = set()  # other schemas' functions called
        # A body's unqualified migrated tables and views, and their row types,
        # are qualified with the final schema where a compatibility view
        # could take their name (a routine's header is not); in a
        # SQL-standard body, bound as it is created, always.
        self.qualify = False
        self.qualify_all = False
        self.temporary: set[str] = set()  # temporary tables the body creates

    # The parse tree's locations, as tokens.

    def _token_at(self, location: int) -> int | None:
        return self.at.get(location) if location >= 0 else None

    def _chain(self, location: int, count: int) -> list[Token] | None:
        """The ``count`` identifier tokens of a dotted name starting there."""
        index = self._token_at(location)
        return None if index is None else dotted_name(self.tokens, index, count)

    def _replace(self, token: Token, text: str) -> None:
        self.placed.add(token.start)
        if text != token.text:
            self.edits.append(_Edit(token.start, token.end, text))

    def _schema(self, token: Token, *, always: bool = False) -> None:
        """The source schema's name as the final schema's.

        Where the routines land in a schema of the source schema's name, a
        body's qualifier stays as written (the routine's own name takes the
        placeholder ``always``, which the build fills in).
        """
        if token.value != self.context.schema:
            return
        if always or self.context.moves:
            self._replace(token, SCHEMA)
        else:
            self.placed.add(token.start)

    # Renaming.

    def rename(self, tree: Any) -> None:
        """Rename the identifiers of a parse tree of this text, by statement."""
        statements = tree.get("stmts", []) if isinstance(tree, dict) else []
        for statement in statements:
            self._statement(statement)

    def _statement(self, statement: dict) -> None:
        ctes = {n["ctename"] for _, n in tree_nodes(statement, "CommonTableExpr")}
        aliases: dict[str, TableMap | None] = {}
        read: list[TableMap] = []
        self.foreign = set()
        self.requalified = {}
        for _, node in tree_nodes(statement, "RangeVar"):
            mapped = self._range_var(node, ctes)
            alias = (node.get("alias") or {}).get("Alias", {}).get("aliasname")
            other = node.get("schemaname") not in (None, self.context.schema)
            if mapped is not None:
                read.append(mapped)
                if not other:
                    self.reads.add(mapped.source)
            if alias:
                aliases[alias] = mapped
            if other and mapped is None:
                # A relation of another schema: its columns keep their names.
                self.foreign.add(alias or node["relname"])
            elif other and not alias:
                # Another final schema's table, without an alias: the
                # columns qualified by its name take its target name.
                aliases[node["relname"]] = mapped
                self.requalified[node["relname"]] = mapped.target
        # ON CONFLICT ... DO UPDATE reads the proposed row as EXCLUDED: a row
        # of the INSERT's table (when the statement's upserts share one).
        upserts = {
            (relation.get("schemaname"), relation["relname"])
            for _, n in tree_nodes(statement, "InsertStmt")
            if n.get("onConflictClause")
            for relation in [(n.get("relation") or {}).get("RangeVar") or {}]
            if relation.get("relname")
        }
        if len(upserts) == 1 and "excluded" not in aliases:
            ((schema, relname),) = upserts
            if schema in (None, self.context.schema) and relname not in ctes:
                aliases["excluded"] = self.context.tables.get(relname)
        self._natural_joins(statement, ctes)
        scoping = _scoping(statement)
        self.results = _result_refs(statement)
        derived: list[tuple[dict, _Derived]] = []
        for _, node in tree_nodes(statement, "ColumnRef"):
            through = scoping.refs.get(node.get("location", -1))
            if through is not None:
                derived.append((node, through))
            else:
                self._column_ref(node, read, aliases)
        self._derived_columns(derived, scoping)
        for kind, node in tree_nodes(statement):
            if kind in ("InsertStmt", "UpdateStmt"):
                self._target_columns(node, node.get("cols") or node.get("targetList"))
            if kind == "InsertStmt" and node.get("selectStmt"):
                self._insert_select_aliases(node["selectStmt"])
            if kind == "InsertStmt" and node.get("onConflictClause"):
                conflict = node["onConflictClause"].get("OnConflictClause") or {}
                self._target_columns(node, conflict.get("targetList"))
                self._conflict_constraint(node, conflict)
                self._conflict_columns(node, conflict)
        for _, node in tree_nodes(statement, "TypeName"):
            self._type_name(node)
        for _, node in tree_nodes(statement, "FuncCall"):
            self._func_call(node)
        for _, node in tree_nodes(statement, "TypeCast"):
            self._regclass_literal(node)
        for _, node in tree_nodes(statement, "CollateClause"):
            self._collation(node)
        for _, node in tree_nodes(statement, "A_Expr"):
            self._renamed_string(node)
        for kind, node in tree_nodes(statement):
            if kind == "ExecuteStmt":
                self._problem(node.get("location", 0), "EXECUTE of a prepared query")

    def _natural_joins(self, statement: dict, ctes: set[str]) -> None:
        """Flag a NATURAL JOIN whose columns of the same name may change.

        It joins on every column name its two sides share, which renaming
        changes: a table's renamed column against a derived table's or a
        CTE's column that keeps the name its query chose, or a function's
        result, makes another join (a cross join, where no name is shared
        any more). It stays as written only between relations whose
        columns all keep their names.
        """
        if not self.context.renamed:
            return
        for _, node in tree_nodes(statement, "JoinExpr"):
            if not node.get("isNatural"):
                continue
            sides = [node.get("larg") or {}, node.get("rarg") or {}]
            while any("JoinExpr" in side for side in sides):
                sides = [
                    part
                    for side in sides
                    for part in (
                        [
                            side["JoinExpr"].get("larg") or {},
                            side["JoinExpr"].get("rarg") or {},
                        ]
                        if "JoinExpr" in side
                        else [side]
                    )
                ]
            changing = [
                why for side in sides if (why := self._natural_side(side, ctes))
            ]
            if changing:
                self._problem(
                    _first_location(node),
                    f"NATURAL JOIN over {changing[0]}: it joins on the column "
                    "names its sides share, and names change on the target; "
                    "join ON the columns on the source",
                )

    def _natural_side(self, side: dict, ctes: set[str]) -> str | None:
        """What makes one side of a NATURAL JOIN unsafe to keep, or None."""
        relation = side.get("RangeVar")
        if relation is None:
            return "a subquery or a function"
        if relation.get("schemaname") not in (None, self.context.schema):
            return None  # another schema's: its columns keep their names
        name = relation["relname"]
        if relation.get("schemaname") is None and name in ctes:
            return f"CTE {name}"
        mapped = self.context.tables.get(name)
        if mapped is not None and any(s != t for s, t in mapped.columns.items()):
            return f"{self.context.kind(name)} {name}, whose columns are renamed"
        return None

    def _derived_columns(
        self, references: list[tuple[dict, _Derived]], scoping: _Scoping
    ) -> None:
        """Columns of derived tables and CTEs, named through their output names.

        ``s."workflowId"`` over ``FROM (SELECT ... ) s`` names an output
        column of the subquery, whose name on the target is what the
        subquery makes it, so the rule is one of consistency:

        * An output the subquery passes through unaliased (``st."tenantId"``,
          a cast of it too) is named like its column there: the reference
          takes the very spelling that column reference got (``tenant_id``).
        * An output the query names itself (``wf.id AS "workflowId"``, a
          column list ``s(a, b)``), or an expression's own name, is a name
          the function chose: alias and reference both stay as written.
          The alias is understood only where nothing else can read it by
          name: no ``*`` or whole-row reference takes the derived table's
          columns (into a record whose fields later statements would name
          by target names), and no unqualified reference anywhere in the
          statement spells the alias (one the renamer resolves against the
          tables read, not the subquery). Otherwise the alias is left
          unplaced, and flagged as before.
        * A derived table whose outputs cannot be listed (``SELECT *``, an
          INSERT ... RETURNING): its columns are renamed as any column the
          tables' map names, as before.

        A reference whose column reference is itself one of these waits for
        it (nested derived tables).
        """
        spelled = {e.start: e.text for e in self.edits}
        waiting = {node.get("location", -1) for node, _ in references}
        pending = list(references)
        while pending:
            progress = False
            for item in list(pending):
                node, through = item
                names = _names(node["fields"])
                location = node.get("location", -1)
                chain = self._chain(location, len(names))
                column = names[-1]
                outputs = _outputs(through)
                match = [o for o in outputs or [] if o.name == column]
                if chain is not None and len(match) == 1 and match[0].ref:
                    inner = match[0].ref
                    if inner.get("location", -1) in waiting:
                        continue  # its own column is a derived one, not done yet
                    inner_chain = self._chain(
                        inner.get("location", -1), len(inner["fields"])
                    )
                    inner_names = _names(inner["fields"])
                    text = (
                        spelled.get(inner_chain[-1].start)
                        if inner_chain is not None
                        and not (
                            len(inner_names) == 1 and inner_names[0] in self.parameters
                        )
                        else None
                    )
                    self.placed.add(chain[-2].start)
                    if text is not None:
                        self._replace(chain[-1], text)
                        spelled[chain[-1].start] = text
                    else:
                        self._kept_output(chain[-1], location, names)
                elif chain is not None and outputs is None:
                    self.placed.add(chain[-2].start)
                    if column is not None:
                        self._rename_column(column, chain[-1], None)
                        for edit in self.edits:
                            spelled.setdefault(edit.start, edit.text)
                elif chain is not None:
                    # Chosen by the query, or no (single) such output, which
                    # PostgreSQL refuses on the source as well: as written.
                    self.placed.add(chain[-2].start)
                    self._kept_output(chain[-1], location, names)
                elif column in self.context.renamed:
                    self._problem(
                        location, f"cannot locate {'.'.join(map(str, names))}"
                    )
                pending.remove(item)
                waiting.discard(location)
                progress = True
            if not progress:
                break
        for through in scoping.derived:
            if through.escapes:
                continue
            for output in _outputs(through) or []:
                if (
                    output.target is not None
                    and output.name in self.context.renamed
                    and output.name not in scoping.bare
                ):
                    self._place_alias(output.target, output.name)

    def _kept_output(self, token: Token, location: int, names: list) -> None:
        """Keep a derived table's column as written, unless it names the result.

        In PL/pgSQL, a reference standing unaliased in the statement's own
        select list (or RETURNING list) names a column of its result, which
        ``SELECT ... INTO r`` or ``FOR r IN`` puts in a record, whose fields
        later statements read by name: ``r."totalCents"`` is renamed as a
        column, while the result column keeps the name its subquery chose.
        Such a reference is flagged instead.
        """
        self.placed.add(token.start)
        if (
            self.plpgsql
            and location in self.results
            and token.value in self.context.renamed
        ):
            self._problem(
                location,
                f"{'.'.join(render_ident(str(n)) for n in names)} names a column "
                "of the result, which keeps the name its subquery chose, while "
                "a record's field of that name is renamed: give it another "
                "alias on the source",
            )

    def _place_alias(self, target: dict, name: str) -> None:
        """Mark ``AS name`` of a select list's entry as understood."""
        index = self._token_at(target.get("location", -1))
        if index is None:
            return
        depth = 0
        for before, token in zip(
            self.tokens[index:], self.tokens[index + 1 :], strict=False
        ):
            depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(before.text, 0)
            if depth < 0 or (depth == 0 and before.text == ","):
                return
            if depth == 0 and before.name == "AS" and token.value == name:
                self.placed.add(token.start)
                return

    def _written_table(self, statement: dict) -> TableMap | None:
        """The migrated table an INSERT or UPDATE writes, or None."""
        relation = (statement.get("relation") or {}).get("RangeVar") or {}
        if relation.get("schemaname") not in (None, self.context.schema):
            found = self.context.elsewhere.get(
                (relation["schemaname"], relation.get("relname", ""))
            )
            return None if found is None else found[1]
        return self.context.tables.get(relation.get("relname", ""))

    def _target_columns(self, statement: dict, targets: list | None) -> None:
        """The columns an INSERT lists or an UPDATE sets: its table's."""
        mapped = self._written_table(statement)
        if mapped is None:
            return
        for target in targets or []:
            node = target.get("ResTarget") or {}
            name = node.get("name")
            index = self._token_at(node.get("location", -1))
            if name is None or index is None:
                continue
            token = self.tokens[index]
            if token.value != name:
                continue
            if name in mapped.columns:
                self._replace(token, render_ident(mapped.columns[name]))

    def _insert_select_aliases(self, select: dict) -> None:
        """The output names of an INSERT's SELECT, which mean nothing there.

        INSERT matches the SELECT's columns to its own by position, so an
        alias (``NEW."fooBar" AS "fooBar"``) stays as it is, understood.
        """
        node = select.get("SelectStmt") or {}
        if any(node.get(c) for c in ("sortClause", "groupClause", "distinctClause")):
            # ORDER BY, GROUP BY and DISTINCT ON may name an output column
            # by its alias: there the alias means something.
            return
        for arm in ("larg", "rarg"):
            if node.get(arm):
                self._insert_select_aliases(node[arm])
        for target in node.get("targetList") or []:
            result = target.get("ResTarget") or {}
            name = result.get("name")
            index = self._token_at(result.get("location", -1))
            if name is None or index is None:
                continue
            for before, token in zip(
                self.tokens[index:], self.tokens[index + 1 :], strict=False
            ):
                if before.name == "AS" and token.value == name:
                    self.placed.add(token.start)
                    break

    def _conflict_constraint(self, statement: dict, conflict: dict) -> None:
        """``ON CONFLICT ON CONSTRAINT name``: the constraint's target name."""
        infer = (conflict.get("infer") or {}).get("InferClause") or {}
        name = infer.get("conname")
        mapped = self._written_table(statement)
        if name is None or mapped is None:
            return
        location = infer.get("location", -1)
        index = self._token_at(location)
        token = (
            self.tokens[index + 2]
            if index is not None and index + 2 < len(self.tokens)
            else None
        )
        if token is None or token.value != name:
            self._problem(location, f"ON CONFLICT ON CONSTRAINT {name}: not placed")
            return
        key = next((k for k in mapped.keys if k.source == name), None)
        if key is None:
            self._problem(
                location,
                f"ON CONFLICT ON CONSTRAINT {quote_ident(name)}: no such key on "
                f"{quote_ident(mapped.source)}",
            )
        elif key.name != name:
            self._replace(token, render_ident(key.name))

    def _conflict_columns(self, statement: dict, conflict: dict) -> None:
        """``ON CONFLICT ("imageId", "tagId")``: the columns, its table's.

        An inference column (an ``IndexElem`` of a bare name) carries no
        position of its own; the names follow the clause's ``(`` in order.
        An expression's column references are renamed as any other.
        """
        infer = (conflict.get("infer") or {}).get("InferClause") or {}
        mapped = self._written_table(statement)
        index = self._token_at(infer.get("location", -1))
        if mapped is None or index is None:
            return
        for element in infer.get("indexElems") or []:
            name = (element.get("IndexElem") or {}).get("name")
            if name is None:
                continue
            found = next(
                (
                    i
                    for i in range(index, len(self.tokens))
                    if self.tokens[i].value == name
                ),
                None,
            )
            if found is None or name not in mapped.columns:
                return
            self._replace(self.tokens[found], render_ident(mapped.columns[name]))
            index = found + 1

    def _problem(self, location: int, reason: str) -> None:
        self.problems.append((max(location, 0), reason))

    def _problem_at(self, offset: int, reason: str) -> None:
        self.problems.append((offset, reason))

    def _range_var(self, node: dict, ctes: set[str]) -> TableMap | None:
        schema, relname = node.get("schemaname"), node["relname"]
        parts = [p for p in (node.get("catalogname"), schema, relname) if p]
        chain = self._chain(node.get("location", -1), len(parts))
        if schema not in (None, self.context.schema):
            elsewhere = self.context.elsewhere.get((schema, relname))
            if elsewhere is not None and chain is not None and len(chain) == 2:
                # Built by an earlier run into a final schema of its own.
                final, mapped = elsewhere
                self._replace(chain[0], render_ident(final))
                self._replace(chain[1], render_ident(mapped.target))
                return mapped
            # Another schema's relation: named as it is, understood.
            for token in chain or []:
                self.placed.add(token.start)
            qualified = f"{render_ident(schema)}.{render_ident(relname)}"
            if (
                self.context.target_relations is not None
                and not node.get("catalogname")
                and schema not in ("pg_catalog", "information_schema", "pg_temp")
                and schema != self.context.final_schema
                and qualified not in self.context.target_relations
            ):
                self._problem(
                    node.get("location", 0),
                    f"reads {qualified}, which the target does not have: "
                    "create it there, or migrate its schema first (this "
                    "schema's next scaffold then finds it)",
                )
            return None
        if schema is None and relname in ctes:
            return None
        if relname in self.context.not_migrated:
            kind = self.context.kind(relname)
            self._problem(
                node.get("location", 0),
                f"reads {kind} {relname}, which is not migrated",
            )
            return None
        mapped = self.context.tables.get(relname)
        if mapped is None:
            return None
        self._bound_view(relname, node.get("location", 0))
        if chain is None:
            self._problem(node.get("location", 0), f"cannot locate table {relname}")
            return mapped
        if schema is not None:
            self._schema(chain[-2])
        elif (
            self._qualifies(mapped)
            and node.get("relpersistence") != "t"
            and relname not in self.temporary
        ):
            # Qualified, it is the final table whatever the caller's
            # search_path (the compatibility schema's views come first there).
            self._replace(chain[-1], f"{SCHEMA}.{render_ident(mapped.target)}")
            return mapped
        self._replace(chain[-1], render_ident(mapped.target))
        return mapped

    def _column_ref(
        self, node: dict, read: list[TableMap], aliases: dict[str, TableMap | None]
    ) -> None:
        names = _names(node["fields"])
        location = node.get("location", -1)
        chain = self._chain(location, len(names))
        column = names[-1]
        if chain is None:
            if any(n in self.context.renamed for n in names if n):
                self._problem(location, f"cannot locate {'.'.join(map(str, names))}")
            return
        if len(names) == 1:
            if column is None:  # *
                return
            self._bare_column(column, chain[0], read, aliases, location)
            return
        qualifier = names[-2]
        assert qualifier is not None
        if len(names) >= 3:
            self._schema(chain[-3])
            final = self.context.final_schema_of(names[-3])
            if final is not None and qualifier in self.requalified:
                self._replace(chain[-3], render_ident(final))
        tables: list[TableMap] | None = None
        if qualifier in self.foreign:
            self.placed.add(chain[-2].start)
            self.placed.add(chain[-1].start)
            return
        if qualifier in ("new", "old") and self.plpgsql and self.foreign_records:
            self.placed.add(chain[-2].start)
            self.placed.add(chain[-1].start)
            if self.records and column in self.context.renamed:
                self._problem(
                    location,
                    f"{qualifier}.{column}: the function's triggers are on "
                    "migrated tables and on tables of other schemas, whose "
                    "columns keep their names; it cannot be renamed for both",
                )
            return
        if qualifier in aliases:
            tables = [aliases[qualifier]] if aliases[qualifier] else []
            if qualifier in self.requalified:
                self._replace(chain[-2], render_ident(self.requalified[qualifier]))
            self.placed.add(chain[-2].start)
        elif qualifier in ("new", "old") and self.plpgsql and self.records:
            tables = self.records
            self.placed.add(chain[-2].start)
        elif qualifier in self.variables:
            self.placed.add(chain[-2].start)
            if qualifier in self.row_variables:
                tables = [self.row_variables[qualifier]]
        elif qualifier in self.context.tables:
            mapped = self.context.tables[qualifier]
            tables = [mapped]
            self._replace(chain[-2], render_ident(mapped.target))
        if column is None:  # t.*
            return
        self._rename_column(column, chain[-1], tables)

    def _bare_column(
        self,
        column: str,
        token: Token,
        read: list[TableMap],
        aliases: dict[str, TableMap | None],
        location: int,
    ) -> None:
        in_read = [t for t in read if column in t.columns]
        if column in self.variables:
            if not in_read:
                self._variable(column, token, read, location)
                return
            if self.plpgsql:
                self.placed.add(token.start)
                self._problem(
                    location,
                    f"{column} is both a variable or parameter and a column of "
                    "a table the statement reads",
                )
                return
        if not in_read and column in aliases:
            self.placed.add(token.start)  # a whole-row reference to an alias
            return
        if not in_read and self.foreign and column in self.context.renamed:
            self.placed.add(token.start)
            self._problem(
                location,
                f"{column} is no column of a migrated table the statement "
                "reads, and may be a column of the relation of another schema "
                "it reads, whose columns keep their names: qualify it on the "
                "source",
            )
            return
        if (
            not in_read
            and column in self.context.tables
            and column not in (self.context.columns)
        ):
            target = self.context.tables[column].target
            self._replace(token, render_ident(target))
            return
        self._rename_column(column, token, in_read or None)

    def _variable(
        self, name: str, token: Token, read: list[TableMap], location: int
    ) -> None:
        """A reference to a variable or parameter, which stays one.

        On the target a table the statement reads may have a column of that
        name (``"accountId"`` became ``account_id``, like the parameter),
        which would take the reference (SQL functions) or make it ambiguous
        (PL/pgSQL). A parameter is then qualified with the function's name,
        as PostgreSQL lets it be; another variable cannot be, and is flagged.
        """
        self.placed.add(token.start)
        shadows = [t for t in read if name in t.columns.values()]
        if not shadows:
            return
        if name in self.parameters and self.function:
            self._replace(token, f"{render_ident(self.function)}.{render_ident(name)}")
            return
        self._problem(
            location,
            f"variable {name} has the name column {name} of {shadows[0].target} "
            "gets on the target, which would take its place",
        )

    def _rename_column(
        self,
        column: str,
        token: Token,
        tables: list[TableMap] | None,
    ) -> None:
        if tables:
            targets = {t.columns[column] for t in tables if column in t.columns}
        else:
            targets = set(self.context.columns.get(column, ()))
        if not targets:
            return
        if len(targets) > 1:
            self.placed.add(token.start)
            self._problem_at(
                token.start,
                f"column {column} is renamed differently in different tables "
                f"({', '.join(sorted(targets))}); which one is meant is ambiguous",
            )
            return
        self._replace(token, render_ident(targets.pop()))

    def _type_name(self, node: dict) -> None:
        names = _names(node.get("names", []))
        if not names or names[0] == "pg_catalog" or None in names:
            return
        if len(names) == 1 and names[0] in self.context.builtin_types:
            # PostgreSQL's own type: the catalog comes first on the path.
            return
        index = self._token_at(node.get("location", -1))
        if index is None:
            return
        while index < len(self.tokens) and self.tokens[index].name == "SETOF":
            index += 1
        if index >= len(self.tokens):
            return
        chain = dotted_name(self.tokens, index, len(names))
        if chain is None:
            return
        if len(names) >= 2:
            self._schema(chain[-2])
            elsewhere = self.context.elsewhere.get((names[-2], names[-1]))  # type: ignore[arg-type]
            if elsewhere is not None:
                # The row type of a table an earlier run built elsewhere.
                self._replace(chain[-2], render_ident(elsewhere[0]))
                self._replace(chain[-1], render_ident(elsewhere[1].target))
                return
            moved = self.context.elsewhere_types.get((names[-2], names[-1]))  # type: ignore[arg-type]
            if moved is not None:
                # A type of another schema an earlier run built elsewhere.
                self._replace(chain[-2], render_ident(moved[0]))
                self._replace(chain[-1], render_ident(moved[1]))
                return
            if names[-2] != self.context.schema:
                return
        if names[-1] in self.context.not_migrated and self.context.kinds.get(
            names[-1]  # type: ignore[arg-type]
        ) in ("r", "p", "f", "v", "m"):
            kind = self.context.kind(names[-1])  # type: ignore[arg-type]
            self._problem(
                node.get("location", 0),
                f"names the row type of {kind} {names[-1]}, which is not migrated",
            )
            return
        mapped = self.context.tables.get(names[-1])  # type: ignore[arg-type]
        if mapped is not None:
            self.row_types.add(mapped.source)
            self._bound_view(mapped.source, node.get("location", 0))
            target = render_ident(mapped.target)
            if self._qualifies(mapped) and len(names) == 1:
                # A row type, like its table, is the final schema's.
                target = f"{SCHEMA}.{target}"
            self._replace(chain[-1], target)
        elif names[-1] in self.context.types:
            # One of the schema's enum, domain or composite types.
            self._replace(chain[-1], render_ident(self.context.types[names[-1]]))

    def _qualifies(self, mapped: TableMap) -> bool:
        """Whether this fragment qualifies a name of ``mapped``.

        Every name in a SQL-standard body; else as ``_Context.qualifies``.
        """
        return self.qualify and (self.qualify_all or self.context.qualifies(mapped))

    def _bound_view(self, name: str, location: int) -> None:
        """A view that must exist when the routine is created, which it does not.

        A routine's argument and result types, and a SQL-standard body, are
        bound when the routine is created; the publish creates the routines
        before the views (a view may call a routine).
        """
        if self.bound and name in self.context.views:
            self._problem(
                location,
                f"names view {name}, which must exist when the routine is "
                "created (its type, or a SQL-standard body); the publish "
                "creates the routines before the views",
            )

    def _func_call(self, node: dict) -> None:
        names = _names(node.get("funcname", []))
        if names and names[-1] in _RELATION_FUNCTIONS and node.get("args"):
            self._relation_string(node["args"][0], node.get("location", 0))
        if len(names) >= 2 and names[-2] == self.context.schema:
            chain = self._chain(node.get("location", -1), len(names))
            if chain is not None:
                self._schema(chain[-2])
        elif len(names) >= 2 and None not in names:
            qualified = f"{render_ident(names[-2])}.{render_ident(names[-1])}"  # type: ignore[arg-type]
            if qualified in self.context.foreign_functions:
                self.foreign_calls.add(qualified)

    def _collation(self, node: dict) -> None:
        """``COLLATE app.natural``: the schema's collations are the final schema's."""
        names = _names(node.get("collname", []))
        index = self._token_at(node.get("location", -1))
        if len(names) < 2 or index is None or None in names:
            return
        if self.tokens[index].name == "COLLATE":
            index += 1
        chain = dotted_name(self.tokens, index, len(names))
        if chain is not None:
            self._schema(chain[-2])

    def _regclass_literal(self, node: dict) -> None:
        """Flag ``'name'::regclass`` naming a relation whose name changes."""
        type_name = (node.get("typeName") or {}).get("TypeName") or {}
        names = _names(type_name.get("names"))
        if names and names[-1] == "regclass":
            self._relation_string(node.get("arg"), node.get("location", 0))

    def _renamed_string(self, node: dict) -> None:
        """Flag a string an operator compares that is a renamed name.

        A renamed relation's source name compared with anything
        (``TG_TABLE_NAME = 'Orders'``, which the target's table no longer
        matches), and a renamed column's source name as the key of a row
        made JSON or hstore (``to_jsonb(NEW) ->> 'userId'``, whose key is
        ``user_id`` on the target): strings are not renamed, so the routine
        would behave otherwise there.
        """
        sides = [node.get("lexpr"), node.get("rexpr")]
        constants = []
        for side in sides:
            for item in side if isinstance(side, list) else [side]:
                constant = (item or {}).get("A_Const") or {}
                value = ((constant.get("val") or {}).get("String") or {}).get("sval")
                if value is not None:
                    constants.append(value)
        location = node.get("location", 0)
        for value in constants:
            if value in self.context.relations and self.reviewed:
                self.kept.append((location, f"the string '{value}'"))
            elif value in self.context.relations:
                self._problem(
                    location,
                    f"the string '{value}' is the source name of {value}, "
                    "whose name changes on the target; strings are not "
                    "renamed, so what it is compared with there "
                    "(TG_TABLE_NAME, a name read from the catalog) no "
                    "longer matches it; where it is not a table's name (a "
                    "value of the application's), list the routine under "
                    "reviewed_routines: in the override file to keep the "
                    "string as written",
                )
        operator = _names(node.get("name", []))
        left = (node.get("lexpr") or {}).get("FuncCall") or {}
        made = _names(left.get("funcname", []))
        arguments = left.get("args") or []
        row = (arguments[0].get("ColumnRef") or {}) if arguments else {}
        if (
            operator[-1:] in (["->"], ["->>"])
            and made[-1:] in (["to_jsonb"], ["to_json"], ["row_to_json"], ["hstore"])
            and _names(row.get("fields", []))[-1:] in (["new"], ["old"])
        ):
            for value in constants:
                if value not in self.context.renamed or value in self.context.relations:
                    continue
                if self.reviewed:
                    self.kept.append((location, f"the key '{value}'"))
                else:
                    self._problem(
                        location,
                        f"the key '{value}' of the row made JSON is the source "
                        "name of a column whose name changes on the target; "
                        "strings are not renamed, so the key is not found "
                        "there; where it is not the column's name, list the "
                        "routine under reviewed_routines: in the override "
                        "file to keep the string as written",
                    )

    def _relation_string(self, argument: dict | None, location: int) -> None:
        constant = (argument or {}).get("A_Const", {})
        value = (constant.get("val") or {}).get("String", {}).get("sval")
        if value is None:
            return
        name = value.split(".")[-1].strip('"')
        if name in self.context.relations or name in self.context.not_migrated:
            self._problem(
                location,
                f"the string '{value}' names the relation {name}, whose name "
                "changes or which is not migrated; strings are not renamed",
            )


# --------------------------------------------------------------------------
# One routine


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _apply(text: str, edits: list[_Edit]) -> tuple[str, list[tuple[int, str]]]:
    """Apply non-overlapping edits; (offset, reason) of conflicting ones."""
    conflicts: list[tuple[int, str]] = []
    chosen: dict[tuple[int, int], str] = {}
    for edit in edits:
        key = (edit.start, edit.end)
        if key in chosen and chosen[key] != edit.text:
            conflicts.append((edit.start, "the name is renamed two ways"))
        chosen[key] = edit.text
    out, last = [], 0
    for (start, end), replacement in sorted(chosen.items()):
        if start < last:
            conflicts.append((start, "overlapping renames"))
            continue
        out.append(text[last:start])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return "".join(out), conflicts


def _reviewed(routine: Routine, context: _Context) -> bool:
    """Whether the override file lists the routine under reviewed_routines."""
    return bool(context.reviewed & {routine.name, routine.label})


def _kept_notes(text: str, kept: list[tuple[int, str]], offset: int = 0) -> list[str]:
    """A reviewed routine's notes for the compared strings kept as written."""
    return [
        f"line {_line(text, at + offset)}: reviewed in the override file: "
        f"{what} kept as written"
        for at, what in kept
    ]


def _rewrite_routine(
    routine: Routine, context: _Context, records: list[TableMap]
) -> None:
    """Fill in a routine's rewritten definition, signature and problems."""
    import pglast

    definition = routine.source
    edits: list[_Edit] = []
    problems: list[Problem] = list(routine.problems)
    routine.reads = []
    routine.notes = []

    # The header: the routine's own name, argument and result types, and,
    # for a SQL-standard body, the body itself.
    header = _Fragment(
        definition,
        context,
        set(routine.argument_names),
        [],
        plpgsql=False,
        function=routine.name,
        parameters=frozenset(routine.argument_names),
        bound=True,
        reviewed=_reviewed(routine, context),
    )
    try:
        tree = parse_tree(definition)
    except pglast.parser.ParseError as error:
        routine.problems = [*problems, Problem(1, f"cannot be parsed: {error}")]
        routine.definition = definition
        return
    _own_name(header, context)
    _search_path(header, context)
    statement = tree["stmts"][0]["stmt"]
    create = (
        statement.get("CreateFunctionStmt")
        or statement.get("DefineStmt")
        or statement.get("CreateCastStmt")
        or {}
    )
    sql_body = create.pop("sql_body", None)
    for _, node in tree_nodes(create, "TypeName"):
        header._type_name(node)
    routine.row_types = sorted(header.row_types)
    for _, node in tree_nodes(create, "FuncCall"):
        header._func_call(node)
    foreign_calls = header.foreign_calls
    if sql_body is not None:
        header.qualify = header.qualify_all = True
        header.rename({"stmts": [{"stmt": sql_body}]})
        routine.reads += sorted(header.reads)
        problems += _unplaced(header, 0, len(definition), definition, 0)
    problems += [Problem(_line(definition, o), r) for o, r in header.problems]
    routine.notes += _kept_notes(definition, header.kept)
    edits += header.edits

    if routine.body and routine.language in ("sql", "plpgsql"):
        located = _body_span(definition, routine.body, header.tokens)
        if located is None:
            problems.append(Problem(1, "cannot locate the body in its definition"))
        else:
            start = located
            body_edits, body_problems = _rewrite_body(routine, context, records)
            edits += [_Edit(e.start + start, e.end + start, e.text) for e in body_edits]
            problems += body_problems
    elif routine.language not in ("sql", "plpgsql", "aggregate", "operator", "cast"):
        problems.append(
            Problem(
                1,
                f"pgshift does not read {routine.language} bodies: the target "
                "may lack the language or library, and the body may name "
                "renamed tables or columns",
            )
        )
    for name in _called_functions(routine, header):
        extension = context.extension_functions.get(name)
        if extension and extension not in routine.extensions:
            routine.extensions.append(extension)
    routine.extensions.sort()
    text, conflicts = _apply(definition, edits)
    problems += [Problem(_line(definition, o), r) for o, r in conflicts]
    routine.definition = text
    routine.signature = _signature(routine, context)
    routine.problems = _unique(problems)
    routine.foreign_calls = sorted(foreign_calls | set(routine.foreign_calls))
    routine.reads = sorted(set(routine.reads))


def _scan_safely(text: str) -> list[Token]:
    try:
        return scan_tokens(text)
    except Exception:  # noqa: BLE001 - an unreadable body is reviewed as such
        return []


def _unique(problems: list[Problem]) -> list[Problem]:
    return sorted(set(problems), key=lambda p: (p.line, p.reason))


def _own_name(fragment: _Fragment, context: _Context) -> None:
    """Put the final schema in place of the source schema in the routine's name.

    An aggregate's or operator's definition is pgshift's own text, every name
    in it schema-qualified (its support functions, types and operators): each
    qualifier naming the source schema becomes the final schema.
    """
    tokens = fragment.tokens
    for index, token in enumerate(tokens[:8]):
        if token.name in ("AGGREGATE", "OPERATOR", "CAST"):
            for qualifier, dot in zip(tokens, tokens[1:], strict=False):
                if dot.text == "." and qualifier.name != "SCONST":
                    fragment._schema(qualifier, always=True)
            return
        if token.name in ("FUNCTION", "PROCEDURE"):
            if index + 2 < len(tokens) and tokens[index + 2].text == ".":
                fragment._schema(tokens[index + 1], always=True)
            return


def _search_path(fragment: _Fragment, context: _Context) -> None:
    """Point the routine's ``SET search_path`` at the final schema.

    ``pg_get_functiondef`` prints the list as strings (``SET search_path
    TO 'Billing', 'pg_temp'``): the one naming the source schema becomes
    the final schema, so that the body's unqualified names find the
    migrated tables when the two schemas are named differently. A schema
    the list then names twice (``'musicbrainz', 'public'`` migrated into
    ``public``) is kept where it comes first: the later one, which would
    change nothing in the search but reads like a mistake, is dropped.
    """
    tokens = fragment.tokens
    for index, token in enumerate(tokens[:-3]):
        if not (
            token.name == "SET"
            and tokens[index + 1].value == "search_path"
            and tokens[index + 2].text.upper() in ("TO", "=")
        ):
            continue
        position = index + 3
        # (token, the schema it names on the target, None where not known)
        items: list[tuple[Token, str | None]] = []
        while position < len(tokens):
            item = tokens[position]
            if item.name == "SCONST" and item.text.startswith("'"):
                named: str | None = item.text[1:-1].replace("''", "'")
            else:
                named = item.value
            if named == context.schema:
                items.append((item, context.final_schema))
            else:
                items.append((item, named))
            if position + 1 >= len(tokens) or tokens[position + 1].text != ",":
                break
            position += 2
        seen: set[str] = set()
        previous: Token | None = None
        for item, named in items:
            if named is not None and named in seen and previous is not None:
                # The comma before it and the item itself go.
                fragment.placed.add(item.start)
                fragment.edits.append(_Edit(previous.end, item.end, ""))
                continue
            if named is not None:
                seen.add(named)
            if item.name == "SCONST" and item.text.startswith("'"):
                if item.text[1:-1].replace("''", "'") == context.schema:
                    fragment._replace(item, SCHEMA)
            else:
                fragment._schema(item)
            previous = item


def _parse_plpgsql(definition: str) -> dict:
    """The PL/pgSQL function tree of a definition (``pglast.parse_plpgsql``).

    A definition PostgreSQL 15 reads that pglast's later grammar does not,
    for a word it has made a keyword, is read as ``sqltree.parse_tree``
    reads such text.
    """
    import pglast

    try:
        tree: dict = pglast.parse_plpgsql(definition)[0]["PLpgSQL_function"]
    except Exception:
        respelled, swapped = older_spelling(definition)
        if not swapped:
            raise
        tree = pglast.parse_plpgsql(respelled)[0]["PLpgSQL_function"]
        tree = restore_spelling(tree, swapped)
    return tree


def _parsable(routine: Routine) -> str:
    """The routine's definition as pglast's PL/pgSQL parser can read it.

    That parser has no catalog: it takes a type it does not know for
    ``record``, and an array of one (``hstore[]``, ``"OrderStatus"[]``)
    for ``_record``, which no argument, result or variable may be. Each
    array type declared in the header or the body (not a cast) is spelled
    ``text`` here, padded to the same length, and a parameter's
    ``VARIADIC`` blanked, so that every offset and line stays where it is;
    nothing of this text is written anywhere.
    """
    chars = list(routine.source)

    def patch(text: str, offset: int) -> None:
        tokens = _scan_safely(text)
        for index in range(1, len(tokens) - 1):
            if tokens[index].text != "[" or tokens[index + 1].text != "]":
                continue
            first = index - 1
            while (
                first >= 2
                and tokens[first - 1].text == "."
                and tokens[first - 2].value is not None
            ):
                first -= 2
            before = tokens[first - 1] if first else None
            if (
                tokens[first].value in (None, "array")
                or tokens[index - 1].value is None
                or (
                    before is not None and (before.text == "::" or before.value == "as")
                )
            ):
                continue
            start, end = tokens[first].start, tokens[index - 1].end
            if end - start >= len("text"):
                chars[offset + start : offset + end] = "text".ljust(end - start)

    def unqualify(tokens: list[Token], offset: int) -> None:
        # A declared type of another schema than public or pg_catalog
        # (``v s.t;``, ``returns s.t``) stops that parser (it looks up only
        # those two); unqualified, it is a type it does not know, a record.
        for index in range(2, len(tokens) - 1):
            schema, dot, name = tokens[index - 2 : index + 1]
            before = tokens[index - 3] if index >= 3 else None
            after = tokens[index + 1]
            if (
                dot.text != "."
                or schema.value is None
                or name.value is None
                or schema.value in ("public", "pg_catalog")
                or after.text in (".", "(", "%")
                or before is None
            ):
                continue
            prior = tokens[index - 4] if index >= 4 else None
            declared = before.value in ("returns", "setof", "constant") or (
                before.value is not None
                and prior is not None
                and (
                    prior.text in (";", "(", ",")
                    or prior.value in ("declare", "in", "out", "inout")
                )
            )
            if declared:
                chars[offset + schema.start : offset + dot.end] = " " * (
                    dot.end - schema.start
                )

    patch(routine.source, 0)
    tokens = _scan_safely(routine.source)
    start = _body_span(routine.source, routine.body, tokens)
    for token in tokens:
        if start is not None and token.start >= start:
            break
        if token.value == "variadic":
            # The parser checks that a VARIADIC parameter is an array, and
            # it knows no array type: the keyword goes, the parameter stays.
            chars[token.start : token.end] = " " * (token.end - token.start)
    unqualify(
        [t for t in tokens if start is None or t.start < start],
        0,
    )
    if start is not None:
        patch(routine.body, start)
        body = _scan_safely(routine.body)
        # The outer block's declarations: up to its BEGIN.
        begin = next((i for i, t in enumerate(body) if t.value == "begin"), len(body))
        unqualify(body[: begin + 1], start)
    return "".join(chars)


def _body_span(definition: str, body: str, tokens: list[Token]) -> int | None:
    """Where the body's text starts in ``pg_get_functiondef``'s output."""
    for token in tokens:
        if token.name == "SCONST" and token.text.startswith("$"):
            tag = token.text[: token.text.index("$", 1) + 1]
            start = token.start + len(tag)
            if definition[start : token.end - len(tag)] == body:
                return start
    return None


def _called_functions(routine: Routine, header: _Fragment) -> set[str]:
    """The names the routine calls as functions (a name before ``(``)."""
    found = set()
    for tokens in (_scan_safely(routine.body), header.tokens):
        for token, after in zip(tokens, tokens[1:], strict=False):
            if token.value is not None and after.text == "(":
                found.add(token.value)
    return found


def _signature(routine: Routine, context: _Context) -> str:
    """The routine's identity, as DROP names it, with the target's types."""
    import pglast

    kind = routine.kind.upper()
    text = f"DROP {kind} {routine.identity}"
    if routine.kind == "aggregate" and routine.identity.endswith("()"):
        text = text[:-2] + "(*)"
    fragment = _Fragment(text, context, set(), [], plpgsql=False)
    try:
        tree = parse_tree(text)
    except pglast.parser.ParseError:
        return routine.identity
    _own_name(fragment, context)
    for _, node in tree_nodes(tree, "TypeName"):
        fragment._type_name(node)
    signature, _ = _apply(text, fragment.edits)
    return signature[len(f"DROP {kind} ") :]


def _rewrite_body(
    routine: Routine, context: _Context, records: list[TableMap]
) -> tuple[list[_Edit], list[Problem]]:
    """The edits of a SQL or PL/pgSQL body (offsets in the body)."""
    import pglast

    body = routine.body
    variables = set(routine.argument_names)
    parameters: dict[str, Any] = {
        "function": routine.name,
        "parameters": frozenset(routine.argument_names),
        "reviewed": _reviewed(routine, context),
    }
    if routine.language == "sql":
        fragment = _Fragment(body, context, variables, [], plpgsql=False, **parameters)
        fragment.qualify = True
        fragment.temporary = _temporary_tables(body) | context.transitions.get(
            routine.oid, set()
        )
        try:
            tree = parse_tree(body)
        except pglast.parser.ParseError as error:
            return [], [Problem(_line(body, 0), f"cannot be parsed: {error}")]
        fragment.rename(tree)
        routine.foreign_calls += sorted(fragment.foreign_calls)
        routine.reads += sorted(fragment.reads)
        problems = [Problem(_line(body, o), r) for o, r in fragment.problems]
        routine.notes += _kept_notes(body, fragment.kept)
        problems += _unplaced(fragment, 0, len(body), body, 0)
        problems += _schema_left(
            body,
            fragment.tokens,
            context,
            variables,
            fragment.placed | {e.start for e in fragment.edits},
        )
        return fragment.edits, problems

    try:
        function = _parse_plpgsql(_parsable(routine))
    except Exception as error:  # noqa: BLE001 - libpg_query's errors vary
        return [], [Problem(1, f"cannot be parsed: {error}")]
    for _, datum in tree_nodes(function.get("datums", [])):
        name = datum.get("refname")
        if name and name != "(unnamed row)":
            variables.add(name)
    if records or routine.foreign_trigger:
        variables |= {"new", "old"}
    tokens = scan_tokens(body)
    temporary = _temporary_tables(body) | context.transitions.get(routine.oid, set())
    row_variables = _elsewhere_row_variables(tokens, variables, context)
    line_starts = [0] + [i + 1 for i, c in enumerate(body) if c == "\n"]
    edits: list[_Edit] = []
    problems: list[Problem] = []
    # Body positions of the tokens the statements' queries hold (the INTO
    # targets PL/pgSQL blanked out are not among them).
    covered: set[int] = set()
    # Body positions of the tokens the statements' fragments understood.
    understood: set[int] = set()
    problems += _dynamic_sql(routine, function, tokens, variables, context)
    for kind, node, lineno in _plpgsql_nodes(function):
        if kind != "PLpgSQL_expr":
            continue
        query, mode = node["query"], node.get("parseMode", 0)
        case = re.match(r'"__Case__Variable_\d+__" IN \((.*)\)$', query, re.S)
        if case:
            query, mode = case.group(1), 2
        start_line = line_starts[min(max(lineno, 1), len(line_starts)) - 1]
        where = _locate(query, tokens, start_line)
        if where is None and query.startswith("SELECT "):
            # PERFORM: PL/pgSQL spells it SELECT for the SQL parser.
            query, mode = query[7:], 2
            where = _locate(query, tokens, start_line)
        if where is None:
            problems.append(Problem(lineno, "cannot locate a statement in the body"))
            continue
        text, shift, skip = _parse_text(query, mode)
        fragment = _Fragment(
            text, context, variables, records, plpgsql=True, **parameters
        )
        fragment.foreign_records = routine.foreign_trigger
        fragment.qualify, fragment.temporary = True, temporary
        fragment.row_variables = row_variables
        try:
            tree = parse_tree(text)
        except pglast.parser.ParseError as error:
            problems.append(Problem(lineno, f"cannot be parsed: {error}"))
            continue
        fragment.rename(tree)
        if mode >= 3:
            _assign_target(fragment, query, shift, records, routine.foreign_trigger)
        offset = where - shift
        edits += [
            _Edit(e.start + offset, e.end + offset, e.text) for e in fragment.edits
        ]
        problems += [Problem(_line(body, o + offset), r) for o, r in fragment.problems]
        routine.notes += _kept_notes(body, fragment.kept, offset)
        covered |= {where + t.start for t in _scan_safely(query)}
        understood |= {p + offset for p in fragment.placed}
        routine.foreign_calls += sorted(fragment.foreign_calls)
        routine.reads += sorted(fragment.reads)
        problems += _unplaced(fragment, skip, len(text), body, offset)
    declared = _declared_types(tokens, covered, context, variables)
    edits += declared
    placed_anywhere = {e.start for e in edits}
    for index, token in enumerate(tokens):
        if token.start in covered or token.start in placed_anywhere:
            continue
        value = token.value
        if (
            value == context.schema
            and value not in variables
            and index + 1 < len(tokens)
            and tokens[index + 1].text == "."
        ):
            # A qualified type in DECLARE (``v app.editor;``, ``app.t.c%TYPE``),
            # which no statement holds: the final schema's (as written where
            # that schema has the source schema's name).
            if context.moves:
                edits.append(_Edit(token.start, token.end, SCHEMA))
            continue
        if value in context.types and value not in variables:
            # A variable's type in DECLARE, which no statement holds: one of
            # the schema's enum, domain and composite types, renamed.
            edits.append(
                _Edit(token.start, token.end, render_ident(context.types[value]))
            )
            continue
        if value in context.renamed and value not in variables:
            problems.append(
                Problem(
                    _line(body, token.start),
                    f"{token.text} names a migrated table or a renamed column, "
                    "and pgshift cannot tell what it refers to here",
                )
            )
    problems += _schema_left(
        body, tokens, context, variables, understood | {e.start for e in edits}
    )
    return edits, problems


def _dynamic_statements(function: dict) -> list[tuple[str, dict, int]]:
    """(what, statement, line) of each PL/pgSQL statement running dynamic SQL."""
    found = []
    for kind, node, lineno in _plpgsql_nodes(function):
        if kind in _DYNAMIC:
            found.append((_DYNAMIC[kind], node, lineno))
        elif kind in ("PLpgSQL_stmt_open", "PLpgSQL_stmt_return_query") and (
            "dynquery" in node
        ):
            found.append(("EXECUTE", node, lineno))
    return sorted(found, key=lambda item: item[2])


_QUOTED = re.compile(r'"((?:[^"]|"")+)"')
_WORD = re.compile(r"[\w$]+")


def _string_names(text: str, changed: set[str]) -> list[str]:
    """The names whose spelling changes that a string constant holds.

    The string is read as the SQL it may become: each quoted identifier
    (``"WorkflowRun"``, exactly) and each word between characters no
    identifier holds (``v1_task_`` of ``'v1_task_' || suffix`` is a word of
    its own, not ``v1_task``). A word counts as written (``format('%I',
    'userId')`` quotes it) and folded to lower case, as SQL reads it
    unquoted.
    """
    found = [m.group(1).replace('""', '"') for m in _QUOTED.finditer(text)]
    for word in _WORD.findall(text):
        found += [word, word.lower()]
    return [name for name in dict.fromkeys(found) if name in changed]


def _dynamic_sql(
    routine: Routine,
    function: dict,
    tokens: list[Token],
    variables: set[str],
    context: _Context,
) -> list[Problem]:
    r"""Why the dynamic SQL of a PL/pgSQL body cannot run as written, if it cannot.

    What ``EXECUTE`` runs is built from strings at run time, which pgshift
    does not rename, and which no reading of the body can list: names put
    together (``'total' || 'Cents'``), escaped (``E'\\x43'``), or taken from
    arguments, variables and data. Dynamic SQL runs as written where the
    map renames nothing (``context.changed`` is empty) and the routines
    land in the source schema's name or the body names neither schema.
    Otherwise the routine needs review, unless the team lists it in the
    override file (``context.reviewed``): it is then created with its
    dynamic statements as written (the rest of its body renamed as any
    other), and noted (``Routine.notes``). The problem names what the
    body's string constants (the pieces it is built from, its ``format``
    strings, dollar-quoted text) and the dynamic statements' identifiers
    (``EXECUTE ... USING NEW."userId"``) name of what changes; where they
    name nothing, it says how to list the routine once reviewed.

    Returns:
        One problem per dynamic statement; none when it runs as written.
    """
    dynamic = _dynamic_statements(function)
    if not dynamic:
        return []
    lines = sorted({lineno for _, _, lineno in dynamic})
    where = ("line " if len(lines) == 1 else "lines ") + ", ".join(map(str, lines))
    if _reviewed(routine, context):
        routine.notes.append(
            f"{where}: reviewed in the override file: dynamic SQL kept as written"
        )
        return []
    held: dict[str, int] = {}  # a changed name, and the first line naming it
    for token in tokens:
        text = _string_text(token)
        if text is not None:
            for name in _string_names(text, context.changed):
                held.setdefault(name, _line(routine.body, token.start))
    for _, statement, lineno in dynamic:
        for _, expression in tree_nodes(statement, "PLpgSQL_expr"):
            for token in _scan_safely(expression.get("query", "")):
                value = token.value
                if value in context.changed and value not in variables:
                    held.setdefault(value, lineno)
    if held:
        named = sorted(held.items(), key=lambda item: (item[1], item[0]))
        listed = [f"{render_ident(n)} (line {line})" for n, line in named[:3]]
        if len(named) > 3:
            listed.append(f"{len(named) - 3} more")
        text = (
            ", ".join(listed[:-1]) + " and " + listed[-1]
            if len(listed) > 1
            else listed[0]
        )
        reason = (
            f", and its body names {text}, whose "
            + ("name changes" if len(named) == 1 else "names change")
            + " on the target"
        )
    elif context.moves and _names_schema(
        routine.body, {context.schema, context.final_schema or context.schema}
    ):
        reason = (
            f", and its body names schema {render_ident(context.schema)}"
            + (
                f" or {render_ident(context.final_schema)}"
                if context.final_schema
                else ""
            )
            + ", and the routines land in another schema"
        )
    elif context.changed:
        reason = (
            " (its strings name no table or column whose name changes; once "
            "reviewed, list it under reviewed_routines: in the override file "
            "to create it as written)"
        )
    else:
        routine.notes.append(
            f"{where}: dynamic SQL kept as written: no name changes on the target"
        )
        return []
    return [
        Problem(
            lineno,
            f"{what} of dynamic SQL: the statement is built from strings at run "
            f"time, which pgshift cannot rename{reason}",
        )
        for what, _, lineno in dynamic
    ]


def _temporary_tables(body: str) -> set[str]:
    """The temporary tables and views a body creates, by name.

    ``CREATE TEMP TABLE``, ``CREATE TEMPORARY VIEW``, ``SELECT ... INTO
    TEMP x``: the body's later statements name them unqualified, and
    PostgreSQL looks in ``pg_temp`` first (unless the search_path names it),
    so one named like a migrated table is not the final schema's.
    """
    tokens = _scan_safely(body)
    found = set()
    for index, token in enumerate(tokens):
        if token.name not in ("TEMP", "TEMPORARY"):
            continue
        rest = tokens[index + 1 : index + 8]
        names = [t.name for t in rest]
        position = 1 if names[:1] in (["TABLE"], ["VIEW"]) else 0
        if names[position : position + 3] == ["IF", "NOT", "EXISTS"]:
            position += 3
        chain = dotted_name(rest, position, 1)
        while chain and position + 2 < len(rest) and rest[position + 1].text == ".":
            position += 2
            chain = dotted_name(rest, position, 1)
        if chain and chain[0].value is not None:
            found.add(chain[0].value)
    return found


def _transition_tables(trigger: Trigger) -> set[str]:
    """The names a trigger gives its transition tables (``REFERENCING``)."""
    import pglast

    try:
        tree = parse_tree(trigger.source)
    except pglast.parser.ParseError:
        return set()
    return {
        node["name"]
        for _, node in tree_nodes(tree, "TriggerTransition")
        if node.get("name")
    }


def _elsewhere_row_variables(
    tokens: list[Token], variables: set[str], context: _Context
) -> dict[str, TableMap]:
    """The variables declared of the row type of a table built elsewhere.

    ``r "Production"."Product"%ROWTYPE`` or ``r "Production"."Product";``,
    where an earlier run built that table into a final schema of its own
    (``_Context.elsewhere``): each variable to that table's map.
    """
    found: dict[str, TableMap] = {}
    for index in range(len(tokens) - 4):
        name, schema, dot, table, after = tokens[index : index + 5]
        if (
            name.value not in variables
            or dot.text != "."
            or schema.value is None
            or table.value is None
            or (after.text != "%" and after.text not in (";", ":="))
        ):
            continue
        elsewhere = context.elsewhere.get((schema.value, table.value))
        if elsewhere is not None:
            found[name.value] = elsewhere[1]
    return found


def _declared_types(
    tokens: list[Token], covered: set[int], context: _Context, variables: set[str]
) -> list[_Edit]:
    """The edits of the migrated tables and views a PL/pgSQL DECLARE names.

    ``v "Users"%ROWTYPE``, ``v "Users"."fullName"%TYPE`` and ``v "Users"``
    (the table's row type) name the table through the search_path when the
    function runs: each is written qualified with the final schema
    (``SCHEMA.users%ROWTYPE``, ``SCHEMA.users.full_name%TYPE``), the
    final table's whatever the caller's search_path, where a compatibility
    view could take its name (``_Context.qualifies``), and its column
    takes its target name. One qualified with the source schema keeps its
    qualifier, which the final schema replaces. A variable's ``%TYPE``
    (``v other%TYPE``, ``v rec.field%TYPE``) names the variable and stays.
    """
    edits: list[_Edit] = []

    def table(token: Token, qualified: bool) -> TableMap | None:
        mapped = context.tables.get(token.value or "")
        if mapped is not None:
            target = render_ident(mapped.target)
            edits.append(
                _Edit(
                    token.start,
                    token.end,
                    f"{SCHEMA}.{target}"
                    if not qualified and context.qualifies(mapped)
                    else target,
                )
            )
        return mapped

    def source_schema(token: Token) -> bool:
        return token.value == context.schema

    for index, token in enumerate(tokens):
        if token.start in covered or token.value is None:
            continue
        after = tokens[index + 1 : index + 3]
        if (
            len(after) == 2
            and after[0].text == "%"
            and after[1].value
            in (
                "rowtype",
                "type",
            )
        ):
            # The dotted name ending here: up to schema.table.column.
            first = index
            while (
                first >= 2
                and tokens[first - 1].text == "."
                and (tokens[first - 2].value is not None)
            ):
                first -= 2
            chain = tokens[first : index + 1 : 2]
            elsewhere = (
                context.elsewhere.get((chain[0].value or "", chain[1].value or ""))
                if len(chain) >= 2
                else None
            )
            if elsewhere is not None and (
                (after[1].value == "rowtype" and len(chain) == 2)
                or (after[1].value == "type" and len(chain) == 3)
            ):
                # A table another run built into its own final schema.
                final, mapped = elsewhere
                edits.append(_Edit(chain[0].start, chain[0].end, render_ident(final)))
                edits.append(
                    _Edit(chain[1].start, chain[1].end, render_ident(mapped.target))
                )
                column = chain[2].value if len(chain) == 3 else None
                if column is not None and column in mapped.columns:
                    edits.append(
                        _Edit(
                            chain[2].start,
                            chain[2].end,
                            render_ident(mapped.columns[column]),
                        )
                    )
                continue
            if after[1].value == "rowtype" and len(chain) in (1, 2):
                if len(chain) == 1 or source_schema(chain[0]):
                    table(chain[-1], qualified=len(chain) == 2)
            elif after[1].value == "type" and len(chain) in (2, 3):
                if len(chain) == 3 and not source_schema(chain[0]):
                    continue
                if len(chain) == 2 and chain[0].value in variables:
                    continue
                mapped = table(chain[-2], qualified=len(chain) == 3)
                column = chain[-1].value or ""
                if mapped is not None and column in mapped.columns:
                    edits.append(
                        _Edit(
                            chain[-1].start,
                            chain[-1].end,
                            render_ident(mapped.columns[column]),
                        )
                    )
            continue
        if token.value not in context.tables or (
            index + 1 < len(tokens) and tokens[index + 1].text == "."
        ):
            continue
        # ``v "Users";`` or ``v public."Users";``: a variable of the table's
        # row type, right after the variable's name (or CONSTANT).
        qualified = (
            index >= 3
            and tokens[index - 1].text == "."
            and source_schema(tokens[index - 2])
        )
        if (
            not qualified
            and not token.text.startswith('"')
            and token.value in context.builtin_types
        ):
            # ``v point;``: PostgreSQL's own type, first on the path.
            continue
        previous = tokens[index - 3 if qualified else index - 1] if index else None
        if (
            previous is not None
            and previous.start not in covered
            and (previous.value in variables or previous.value == "constant")
        ):
            table(token, qualified=qualified)
    return edits


def _string_text(token: Token) -> str | None:
    """What a string constant token holds (escapes as written), or None."""
    text = token.text
    if token.name not in ("SCONST", "USCONST"):
        return None
    if text.startswith("$"):
        tag = text[: text.index("$", 1) + 1]
        return text[len(tag) : -len(tag)]
    return text[text.index("'") + 1 : -1].replace("''", "'")


def _word(name: str, *, qualifier: bool = False) -> re.Pattern[str]:
    """``name`` as a whole word of SQL text, any case, quoted or not.

    ``qualifier``: only followed by a ``.`` (``app.simple2``, ``"App".t``).
    """
    pattern = r'(?<![\w$])"?' + re.escape(name) + r'"?(?![\w$])'
    if qualifier:
        pattern += r"\s*\."
    return re.compile(pattern, re.IGNORECASE)


def _names_schema(body: str, schemas: set[str]) -> bool:
    """Whether a body names one of the schemas, anywhere.

    Read with PostgreSQL's scanner: an identifier token naming it (any
    case: an unquoted identifier folds to lower case, and a schema of
    another case is taken as named too), or a string constant holding it
    as a word (dynamic SQL builds statements from strings). Comments do not
    count. A body the scanner cannot read names it.
    """
    try:
        tokens = scan_tokens(body)
    except Exception:  # noqa: BLE001 - unreadable: taken as naming it
        return True
    lowered = {s.lower() for s in schemas}
    words = [_word(s) for s in schemas]
    for token in tokens:
        value = token.value
        if value is not None and value.lower() in lowered:
            return True
        text = _string_text(token)
        if text is not None and any(w.search(text) for w in words):
            return True
    return False


def _schema_left(
    body: str,
    tokens: list[Token],
    context: _Context,
    variables: set[str],
    understood: set[int],
) -> list[Problem]:
    """The body's references to the source schema that stay as they are.

    The routine lands in another schema, where the source schema's objects
    (its tables, types, collations, text search configurations) are found
    under the final schema: an identifier qualifying a name with the
    source schema that pgshift did not put the final schema in place of
    (an operator's ``OPERATOR(app.===)``), and a string holding a name
    qualified with it (the regconfig ``'app.simple2'``, a regclass
    ``'app.t'``, dynamic SQL), which strings are not rewritten, would
    still name the source schema there.
    """
    if not context.moves:
        return []
    problems = []
    qualified = _word(context.schema, qualifier=True)
    for index, token in enumerate(tokens):
        text = _string_text(token)
        if text is not None and qualified.search(text):
            problems.append(
                Problem(
                    _line(body, token.start),
                    f"the string {token.text} names schema "
                    f"{render_ident(context.schema)}, whose objects are in "
                    "the final schema on the target; strings are not rewritten",
                )
            )
        elif (
            token.value == context.schema
            and token.start not in understood
            and token.value not in variables
            and index + 1 < len(tokens)
            and tokens[index + 1].text == "."
        ):
            named = tokens[index + 2].text if index + 2 < len(tokens) else ""
            problems.append(
                Problem(
                    _line(body, token.start),
                    f"{token.text}.{named} names schema "
                    f"{render_ident(context.schema)}, which pgshift cannot point "
                    "at the final schema here",
                )
            )
    return problems


def _unplaced(
    fragment: _Fragment, start: int, end: int, body: str, offset: int
) -> list[Problem]:
    """A problem for each token naming something renamed that was not placed."""
    problems = []
    for token in fragment.tokens:
        if not start <= token.start < end or token.start in fragment.placed:
            continue
        value = token.value
        if value in fragment.context.renamed and value not in fragment.variables:
            problems.append(
                Problem(
                    _line(body, token.start + offset),
                    f"{token.text} names a migrated table or a renamed column, "
                    "and pgshift cannot tell what it refers to here",
                )
            )
    return problems


def _plpgsql_nodes(function: dict) -> Iterator[tuple[str, dict, int]]:
    """Every PL/pgSQL node with the line of the statement or datum holding it."""
    stack: list[tuple[Any, int]] = [(function, 1)]
    while stack:
        item, line = stack.pop()
        if isinstance(item, dict):
            line = item.get("lineno", line)
            for key, value in item.items():
                if isinstance(value, dict) and key.startswith("PLpgSQL_"):
                    yield key, value, value.get("lineno", line)
                stack.append((value, line))
        elif isinstance(item, list):
            stack.extend((v, line) for v in reversed(item))


def _parse_text(query: str, mode: int) -> tuple[str, int, int]:
    """The SQL to parse for a PL/pgSQL expression: text, shift and skip.

    A query position ``q`` is at ``q + shift`` in the text; the first
    ``skip`` characters of the text are not the query's. Modes are
    PostgreSQL's RawParseMode: 0 a statement, 2 an expression, 3 to 5 an
    assignment (``target := expression``).
    """
    if mode == 0:
        return query, 0, 0
    if mode >= 3:
        depth = 0
        for token in scan_tokens(query):
            depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(token.text, 0)
            if depth == 0 and token.text in (":=", "="):
                return "SELECT " + query[token.end :], 7 - token.end, 7
    return "SELECT " + query, 7, 7


def _assign_target(
    fragment: _Fragment,
    query: str,
    shift: int,
    records: list[TableMap],
    foreign: bool = False,
) -> None:
    """Rename ``NEW.col`` / ``OLD.col`` / ``rec.col`` on the left of ``:=``.

    ``foreign``: triggers of other schemas' tables execute the function too,
    and their rows' columns keep their names.
    """
    target: list[Token] = []
    for token in scan_tokens(query):
        if token.text in (":=", "=", "["):
            break
        target.append(
            Token(
                token.start + shift,
                token.end + shift,
                token.name,
                token.kind,
                token.text,
            )
        )
    if len(target) == 3 and target[1].text == ".":
        record, column = target[0].value, target[2].value
        fragment.placed.add(target[0].start)
        if record in ("new", "old") and foreign:
            fragment.placed.add(target[2].start)
            if records and column in fragment.context.renamed:
                fragment._problem_at(
                    target[2].start,
                    f"{record}.{column}: the function's triggers are on migrated "
                    "tables and on tables of other schemas, whose columns keep "
                    "their names; it cannot be renamed for both",
                )
        elif column is not None:
            tables = records if record in ("new", "old") and records else None
            fragment._rename_column(column, target[2], tables)
    elif len(target) == 1:
        fragment.placed.add(target[0].start)
    for token in target:
        if token.start in fragment.placed:
            continue
        if token.value in fragment.context.renamed and (
            token.value not in fragment.variables
        ):
            fragment._problem_at(
                token.start,
                f"{token.text} names a migrated table or a renamed column, and "
                "pgshift cannot tell what it refers to here",
            )


def _locate(query: str, tokens: list[Token], from_offset: int) -> int | None:
    """Where a PL/pgSQL query's text starts in the body.

    PL/pgSQL hands the SQL parser the statement's own text, with the INTO
    clause blanked out; a candidate start must put every token of the query
    on a token of the body with the same text.

    Args:
        query: The query's text.
        tokens: The body's tokens, in order.
        from_offset: Where the statement's line starts in the body.
    """
    query_tokens = _scan_safely(query)
    if not query_tokens:
        return None
    first = query_tokens[0]
    begin = bisect.bisect_left(tokens, from_offset, key=lambda t: t.start)
    for index in range(begin, len(tokens)):
        token = tokens[index]
        if token.text != first.text:
            continue
        offset = token.start - first.start
        if offset < 0:
            continue
        position, matched = index, True
        for wanted in query_tokens[1:]:
            # The body's tokens from here on, skipping a blanked INTO clause.
            while position < len(tokens) and tokens[position].start < (
                wanted.start + offset
            ):
                position += 1
            body = tokens[position] if position < len(tokens) else None
            if (
                body is None
                or body.start != wanted.start + offset
                or (body.text != wanted.text)
            ):
                matched = False
                break
        if matched:
            return offset
    return None


# --------------------------------------------------------------------------
# One trigger


def _rewrite_trigger(trigger: Trigger, mapped: TableMap, context: _Context) -> None:
    """Rename a trigger's table, UPDATE OF columns, WHEN condition and function."""
    import pglast
    from pglast import ast
    from pglast.stream import RawStream

    try:
        statement = pglast.parse_sql(trigger.source)[0].stmt
    except pglast.parser.ParseError as error:
        trigger.problems.append(Problem(1, f"cannot be parsed: {error}"))
        return
    assert isinstance(statement, ast.CreateTrigStmt)
    statement.relation = ast.RangeVar(
        schemaname=_SENTINEL_SCHEMA,
        relname=mapped.target,
        inh=True,
        relpersistence="p",
    )
    if statement.columns:
        renamed = []
        for column in statement.columns:
            if column.sval not in mapped.columns:
                trigger.problems.append(
                    Problem(1, f"UPDATE OF {column.sval}: no such column")
                )
                renamed.append(column)
            else:
                renamed.append(ast.String(sval=mapped.columns[column.sval]))
        statement.columns = tuple(renamed)
    if statement.whenClause is not None:
        _rename_when(statement.whenClause, mapped, trigger, context)
    if statement.constrrel is not None:
        other = context.tables.get(statement.constrrel.relname)
        if other is not None and statement.constrrel.schemaname in (
            None,
            context.schema,
        ):
            statement.constrrel = ast.RangeVar(
                schemaname=_SENTINEL_SCHEMA,
                relname=other.target,
                inh=True,
                relpersistence="p",
            )
        elif statement.constrrel.relname in context.not_migrated:
            trigger.problems.append(
                Problem(1, f"FROM {statement.constrrel.relname}: not migrated")
            )
    if trigger.function_schema == context.schema:
        statement.funcname = (
            ast.String(sval=_SENTINEL_SCHEMA),
            ast.String(sval=trigger.function_name),
        )
    names_columns = (
        _COLUMN_ARGUMENTS.get(trigger.function_name)
        if trigger.function_is_builtin
        else None
    )
    arguments = list(statement.args or ())
    for position, argument in enumerate(arguments):
        value = getattr(argument, "sval", None)
        if (
            value is not None
            and value in mapped.columns
            and names_columns is not None
            and names_columns(position)
        ):
            # PostgreSQL's or an extension's function that takes column
            # names: the argument is renamed with its column.
            arguments[position] = ast.String(sval=mapped.columns[value])
        elif (
            value is not None
            and value in mapped.columns
            and (mapped.columns[value] != value)
        ):
            trigger.problems.append(
                Problem(
                    1,
                    f"its argument '{value}' names a renamed column; arguments "
                    "are strings and are not renamed",
                )
            )
    if arguments:
        statement.args = tuple(arguments)
    printed = RawStream()(statement)
    trigger.definition = printed.replace(_SENTINEL_SCHEMA + ".", SCHEMA + ".")


_COLUMN_ARGUMENTS: dict[str, Callable[[int], bool]] = {
    # tsvector_update_trigger(tsvector column, configuration, text columns...)
    "tsvector_update_trigger": lambda position: position != 1,
    # tsvector_update_trigger_column(tsvector column, configuration column,
    # text columns...)
    "tsvector_update_trigger_column": lambda position: True,
    # The moddatetime, lo, insert_username and autoinc extensions.
    "moddatetime": lambda position: position == 0,
    "lo_manage": lambda position: position == 0,
    "insert_username": lambda position: position == 0,
    "autoinc": lambda position: position == 0,
}
"""PostgreSQL's and its extensions' trigger functions whose arguments name
columns of the trigger's table: which positions do."""


def _rename_when(
    node: Any, mapped: TableMap, trigger: Trigger, context: _Context
) -> None:
    from pglast import ast
    from pglast.visitors import Visitor

    class Renamer(Visitor):  # type: ignore[misc]
        def visit_TypeName(self, ancestors: Any, node: ast.TypeName) -> None:  # noqa: N802
            # A cast to one of the schema's enum, domain or composite types.
            names = [getattr(n, "sval", None) for n in node.names or ()]
            if not names or names[-1] not in context.types:
                return
            if len(names) == 2 and names[0] == context.schema:
                node.names = (
                    ast.String(sval=_SENTINEL_SCHEMA),
                    ast.String(sval=context.types[names[-1]]),
                )
            elif len(names) == 1:
                node.names = (ast.String(sval=context.types[names[-1]]),)

        def visit_ColumnRef(self, ancestors: Any, ref: ast.ColumnRef) -> None:  # noqa: N802
            fields = list(ref.fields)
            if len(fields) == 2 and isinstance(fields[1], ast.String):
                record = fields[0].sval
                column = fields[1].sval
                if record in ("new", "old") and column in mapped.columns:
                    fields[1] = ast.String(sval=mapped.columns[column])
                    ref.fields = tuple(fields)
                    return
            if isinstance(fields[-1], ast.String):
                trigger.problems.append(
                    Problem(1, f"WHEN names {fields[-1].sval}, which is not NEW or OLD")
                )

    Renamer()(node)
