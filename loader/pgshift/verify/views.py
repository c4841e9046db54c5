"""Views, materialized views and policies: the target's against the source's.

Rows: every view returns the same rows on the target as on the source, as
a multiset: the count and the order-independent checksum
(``pgshift.checksum``) over its columns in the source's order, under their
target names. A view is read now on both sides (a view holds no rows of
its own to record in the snapshot), so a source written to since the load
shows as a difference. While the application writes to the source (sync's
start), the views are named as compared at cutover, not compared; cutover
compares them inside its snapshots of both sides at one source position,
before the downtime (``sync.proof``). A materialized view on the target, populated by the
build (or refreshed by cutover at B: the stream applies rows to the tables
only), is compared with what its definition gives on the source (what a
REFRESH there would store), not with the rows the source stored at its last
REFRESH; when those differ, the report says it is stale on the source, as
information. A view whose values depend on the moment, session or server
it is read in (``now()``, ``random()``, ``current_user``...) is compared on
its other columns, or named with the reason when its rows depend on it
(``moment_dependence``); one whose values depend on the order rows are read
in is named when only its checksum differs (``order_dependence``). A view
that gives an error on the source's rows (``timestamp - 'infinity'``, a
division by zero) is run on the target too: the same error there (SQLSTATE
and message) is named as information, its rows not compared; an error on
one side only, or another error, is a difference.

Definitions (schema parity): the kind, the options and ``pg_get_viewdef``
on the target must equal what the shadow gave for the source
(``pgshift.shadow``, recorded in the name map), and each table's
row-level security and policies must be the source's, renamed. A policy's
role that the target does not have is listed, not a difference: the
target has no such role for the policy to apply to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from pglast.parser import ParseError
from psycopg2 import sql

from pgshift.checksum import checksum_expression, checksum_sql
from pgshift.connection import transaction, undoable
from pgshift.manifest import CarriedOver
from pgshift.mapping import NameMap, ViewMap
from pgshift.settings import Settings
from pgshift.sqlident import quote_ident
from pgshift.sqltree import parse_tree, tree_nodes

logger = logging.getLogger(__name__)

_COLUMN_TYPES = """
select a.attname::text, format_type(a.atttypid, a.atttypmod)
from pg_attribute as a
where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""


@dataclass(frozen=True)
class Unread:
    """Why a view could not be read: its error, or what it lacks.

    Attributes:
        why: PostgreSQL's message, or what the view lacks ("it is missing").
        sqlstate: The error's SQLSTATE, None when no query failed.
    """

    why: str
    sqlstate: str | None = None

    def __str__(self) -> str:
        """The message alone, as the report writes it."""
        return self.why

    def coded(self) -> str:
        """The message with its SQLSTATE, when it has one."""
        return self.why if self.sqlstate is None else f"{self.why} ({self.sqlstate})"


def _figures(
    cursor: Any, schema: str, name: str, columns: list[str], evaluated: bool = False
) -> tuple[int, str] | Unread:
    """(rows, checksum) of a view over columns, or why it could not be read.

    ``evaluated``: the rows its definition gives now (what a REFRESH of a
    materialized view would store), not the rows it stores.
    """
    relation = f"{quote_ident(schema)}.{quote_ident(name)}"
    try:
        with undoable(cursor):
            cursor.execute(_COLUMN_TYPES, (relation,))
            types = dict(cursor.fetchall())
            if not types:
                return Unread("it is missing")
            missing = [c for c in columns if c not in types]
            if missing:
                return Unread("it has no column " + ", ".join(missing))
            typed = [(c, types[c]) for c in columns]
            if not evaluated:
                cursor.execute(checksum_sql(relation, typed))
            else:
                # pg_get_viewdef qualifies what the session's search_path does
                # not show, so the query reads what the view reads.
                cursor.execute("select pg_get_viewdef(to_regclass(%s))", (relation,))
                query = cursor.fetchone()[0].strip().rstrip(";")
                aliases = ", ".join(quote_ident(c) for c in types)
                cursor.execute(
                    f"select count(*), {checksum_expression(typed)} "
                    f"from ({query}) as t({aliases})"
                )
            count, checksum = cursor.fetchone()
            return int(count), str(checksum)
    except psycopg2.Error as error:
        return Unread((error.diag.message_primary or str(error)).strip(), error.pgcode)


ORDER_FREE_AGGREGATES = frozenset(
    {
        "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every",
        "bit_and", "bit_or", "bit_xor", "stddev", "stddev_pop", "stddev_samp",
        "variance", "var_pop", "var_samp", "corr", "covar_pop", "covar_samp",
        "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2",
        "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "range_agg",
        "range_intersect_agg",
    }
)  # fmt: skip
"""Aggregates whose result does not depend on the order of their input."""

_AGGREGATES = """
select distinct p.proname::text from pg_proc as p
where p.prokind = 'a' and p.proname = any(%s)
"""


def order_dependence(definition: str, aggregates: set[str]) -> str | None:
    """Why a view's rows may depend on the order rows are read in, if they may.

    PostgreSQL reads a table's rows in no defined order, and two servers
    holding the same rows read them in different orders (other plans,
    another physical order). A view whose output depends on that order,
    with the same rows in its tables, returns other values on the target:
    an aggregate such as ``string_agg`` or ``array_agg`` without ORDER BY,
    a window function over no ORDER BY, LIMIT or DISTINCT ON without
    ORDER BY.

    Args:
        definition: The view's definition.
        aggregates: The aggregates among the functions it calls (on the
            target); any not known to be order-free counts.

    Returns:
        The first such construct, described, or None.
    """
    try:
        tree = parse_tree(definition)
    except ParseError:  # a definition pglast cannot read: compared as it is
        return None
    return _order_construct(tree, aggregates)


def _order_construct(tree: Any, aggregates: set[str]) -> str | None:
    """``order_dependence`` of a definition pglast has parsed."""
    ordered_windows = {
        node.get("name")
        for _, node in tree_nodes(tree, "WindowDef")
        if node.get("name") and node.get("orderClause")
    }
    for _, node in tree_nodes(tree, "FuncCall"):
        name = node["funcname"][-1]["String"]["sval"]
        window = (node.get("over") or {}).get("WindowDef")
        if window is not None:
            ordered = (
                bool(window.get("orderClause"))
                or (window.get("refname") or window.get("name")) in ordered_windows
            )
            if not ordered and name not in ORDER_FREE_AGGREGATES:
                return f"window function {name} over no ORDER BY"
            continue
        if (
            name in aggregates
            and name not in ORDER_FREE_AGGREGATES
            and not node.get("agg_order")
            and not node.get("agg_within_group")
        ):
            return f"aggregate {name} without ORDER BY"
    for _, node in tree_nodes(tree, "SelectStmt"):
        if node.get("sortClause"):
            continue
        if node.get("limitCount") is not None or node.get("limitOffset") is not None:
            return "LIMIT or OFFSET without ORDER BY"
        if any(node.get("distinctClause") or ()):  # [None] is plain DISTINCT
            return "DISTINCT ON without ORDER BY"
    return None


def _order_dependent(target: Any, names: NameMap) -> dict[str, str]:
    """Source view name to why its rows depend on read order (views over it too)."""
    called: dict[str, set[str]] = {}
    trees: dict[str, Any] = {}
    for view in names.views.values():
        try:
            tree = trees[view.source] = parse_tree(view.definition)
        except ParseError:  # a definition pglast cannot read: compared as it is
            continue
        called[view.source] = {
            n["funcname"][-1]["String"]["sval"] for _, n in tree_nodes(tree, "FuncCall")
        }
    every = sorted(set().union(*called.values())) if called else []
    target.execute(_AGGREGATES, (every,))
    aggregates = {name for (name,) in target.fetchall()}
    found: dict[str, str] = {}
    by_target = {v.name: v for v in names.views.values()}
    for view in names.views.values():  # in creation order: views on views last
        tree = trees.get(view.source)
        reason = (
            None
            if tree is None
            else _order_construct(tree, aggregates & called[view.source])
        )
        if reason is None:
            parent = next(
                (
                    by_target[r]
                    for r in view.reads
                    if r in by_target and by_target[r].source in found
                ),
                None,
            )
            if parent is not None:
                reason = f"it reads {parent.name}, whose rows do"
        if reason is not None:
            found[view.source] = reason
    return found


_TIME = "the time it is read"
_RANDOM = "random values drawn as it is read"
_SESSION = "the session it is read in"
_DATABASE = "the database it is read in"
_SERVER = "the server it is read on"

MOMENT_FUNCTIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "now", "transaction_timestamp", "statement_timestamp",
            "clock_timestamp", "timeofday",
        ),
        _TIME,
    ),
    **dict.fromkeys(
        (
            "random", "random_normal", "gen_random_uuid", "uuid_generate_v1",
            "uuid_generate_v1mc", "uuid_generate_v4", "gen_random_bytes",
            "uuidv4", "uuidv7",
        ),
        _RANDOM,
    ),
    **dict.fromkeys(
        (
            "txid_current", "txid_current_if_assigned", "txid_current_snapshot",
            "pg_current_xact_id", "pg_current_xact_id_if_assigned",
            "pg_current_snapshot", "pg_backend_pid", "inet_client_addr",
            "inet_client_port", "current_setting", "current_user",
            "session_user", "current_role", "system_user", "current_schema",
            "current_schemas", "pg_my_temp_schema",
        ),
        _SESSION,
    ),
    "current_database": _DATABASE,
    "current_catalog": _DATABASE,
    **dict.fromkeys(
        (
            "version", "inet_server_addr", "inet_server_port",
            "pg_postmaster_start_time", "pg_conf_load_time",
        ),
        _SERVER,
    ),
}  # fmt: skip
"""Functions whose result depends on when, where or by whom they are called."""

SQL_VALUE_FUNCTIONS: dict[str, tuple[str, str]] = {
    "SVFOP_CURRENT_DATE": ("CURRENT_DATE", _TIME),
    "SVFOP_CURRENT_TIME": ("CURRENT_TIME", _TIME),
    "SVFOP_CURRENT_TIME_N": ("CURRENT_TIME", _TIME),
    "SVFOP_CURRENT_TIMESTAMP": ("CURRENT_TIMESTAMP", _TIME),
    "SVFOP_CURRENT_TIMESTAMP_N": ("CURRENT_TIMESTAMP", _TIME),
    "SVFOP_LOCALTIME": ("LOCALTIME", _TIME),
    "SVFOP_LOCALTIME_N": ("LOCALTIME", _TIME),
    "SVFOP_LOCALTIMESTAMP": ("LOCALTIMESTAMP", _TIME),
    "SVFOP_LOCALTIMESTAMP_N": ("LOCALTIMESTAMP", _TIME),
    "SVFOP_CURRENT_ROLE": ("CURRENT_ROLE", _SESSION),
    "SVFOP_CURRENT_USER": ("CURRENT_USER", _SESSION),
    "SVFOP_USER": ("USER", _SESSION),
    "SVFOP_SESSION_USER": ("SESSION_USER", _SESSION),
    "SVFOP_CURRENT_CATALOG": ("CURRENT_CATALOG", _DATABASE),
    "SVFOP_CURRENT_SCHEMA": ("CURRENT_SCHEMA", _SESSION),
}
"""SQL's keyword functions (``SQLValueFunction`` nodes): keyword, what it reads."""


@dataclass(frozen=True)
class Moment:
    """What of a view depends on the moment, session or server it is read in.

    Attributes:
        columns: Output column (target name) to what its values depend on,
            e.g. ``the time it is read (now())``: the other columns can be
            compared.
        rows: What its rows depend on, when it cannot be told which
            columns do (a call in WHERE, a join, GROUP BY, DISTINCT, a set
            operation...): nothing of the view can be compared apart.
    """

    columns: dict[str, str] = field(default_factory=dict)
    rows: str | None = None


def moment_dependence(
    definition: str,
    columns: Sequence[str],
    read: Mapping[str, Moment] | None = None,
) -> Moment | None:
    """What of a view's output depends on when, where or by whom it is read.

    ``now()``, ``CURRENT_TIMESTAMP``, ``random()``, ``current_user``,
    ``current_database()``... give another value on the target, read at
    another moment by another session, with the same rows in its tables.
    Where every such call stands in an output column's expression (a
    target-list entry of the view's one SELECT), those columns are named
    and the others can be compared; otherwise the rows are. A view that
    reads such a view's column, or reads a view whose rows depend on it,
    depends on it too.

    Args:
        definition: The view's definition (``pg_get_viewdef``, target names).
        columns: Its output columns (target names), in order.
        read: Views it may read (target name) that depend on the moment.

    Returns:
        What depends on the moment, or None when nothing does (or pglast
        cannot read the definition: it is compared as it is).
    """
    try:
        tree = parse_tree(definition)
    except ParseError:
        return None
    return _moment(tree, list(columns), read or {})


def _moment_calls(tree: Any, parents: dict[str, tuple[str, Moment]]) -> list[str]:
    """What each moment-dependent node of a tree reads ("the time ... (now())").

    ``parents`` maps an alias (or name) in the tree to the view it reads and
    that view's ``Moment``.
    """
    found: list[str] = []
    for kind, node in tree_nodes(tree):
        if kind == "FuncCall":
            name = node["funcname"][-1]["String"]["sval"]
            if name in MOMENT_FUNCTIONS:
                found.append(f"{MOMENT_FUNCTIONS[name]} ({name}())")
        elif kind == "SQLValueFunction":
            op = node["op"]
            known = SQL_VALUE_FUNCTIONS.get(
                op.get("name") if isinstance(op, dict) else op
            )
            if known is not None:
                found.append(f"{known[1]} ({known[0]})")
        elif kind == "ColumnRef" and parents:
            fields = [
                f["String"]["sval"] if "String" in f else "*" for f in node["fields"]
            ]
            if len(fields) >= 2 and fields[-2] in parents:
                candidates = [parents[fields[-2]]]
            elif len(fields) == 1 and fields[0] in parents:  # a whole-row reference
                candidates = [parents[fields[0]]]
                fields = ["*"]
            elif len(fields) == 1:  # unqualified: any view it reads may hold it
                candidates = list(parents.values())
            else:
                continue
            for parent, moment in candidates:
                whys = (
                    list(moment.columns.values())
                    if fields[-1] == "*"
                    else [moment.columns[fields[-1]]]
                    if fields[-1] in moment.columns
                    else []
                )
                found += [_through(why, parent) for why in whys]
    return found


def _through(why: str, parent: str) -> str:
    """``why`` (ending in its call in brackets) as read through a view."""
    return f"{why[:-1]}, through {parent})" if why.endswith(")") else why


def _moment(tree: Any, columns: list[str], read: Mapping[str, Moment]) -> Moment | None:
    """``moment_dependence`` of a definition pglast has parsed."""
    parents: dict[str, tuple[str, Moment]] = {}
    for _, node in tree_nodes(tree, "RangeVar"):
        moment = read.get(node["relname"])
        if moment is None:
            continue
        if moment.rows is not None:
            return Moment(rows=_through(moment.rows, node["relname"]))
        alias = (node.get("alias") or {}).get("Alias", {}).get("aliasname")
        parents[alias or node["relname"]] = (node["relname"], moment)
    every = _moment_calls(tree, parents)
    if not every:
        return None
    whole = Moment(rows=every[0])
    statements = tree["stmts"]
    select = statements[0]["stmt"].get("SelectStmt") if len(statements) == 1 else None
    if (
        select is None
        or select.get("larg") is not None
        or any(select.get("distinctClause") or ())
        or select.get("distinctClause") == [None]
        or len(select.get("targetList") or ()) != len(columns)
    ):
        return whole
    by_column: dict[str, str] = {}
    placed = 0
    for column, entry in zip(columns, select["targetList"], strict=True):
        calls = _moment_calls(entry, parents)
        placed += len(calls)
        if calls:
            by_column[column] = ", ".join(dict.fromkeys(calls))
    if placed != len(every):  # a call outside the output columns: the rows
        return whole
    # GROUP BY, or ORDER BY with LIMIT, naming an output column by its
    # position or name groups or picks rows by its values.
    named = set(by_column) | {
        str(i) for i, c in enumerate(columns, start=1) if c in by_column
    }
    clauses = [select.get("groupClause") or []]
    if select.get("limitCount") is not None or select.get("limitOffset") is not None:
        clauses.append(select.get("sortClause") or [])
    for kind, node in tree_nodes(clauses):
        if kind == "Integer" and str(node.get("ival", 0)) in named:
            return whole
        fields = node.get("fields") or [] if kind == "ColumnRef" else []
        if len(fields) == 1 and fields[0].get("String", {}).get("sval") in named:
            return whole
    return Moment(columns=by_column)


def _moment_dependent(names: NameMap) -> dict[str, Moment]:
    """Source view name to what of it depends on the moment (views over it too)."""
    found: dict[str, Moment] = {}
    by_target: dict[str, Moment] = {}
    for view in names.views.values():  # in creation order: views on views last
        read = {r: by_target[r] for r in view.reads if r in by_target}
        moment = moment_dependence(view.definition, list(view.columns.values()), read)
        if moment is not None:
            found[view.source] = by_target[view.name] = moment
    return found


def _label(view: ViewMap) -> str:
    if view.name == view.source:
        return view.name
    return f"{view.name} (from {view.source})"


AT_CUTOVER = (
    "rows compared at cutover: the application writes to the source while "
    "sync starts, and a view holds no rows of its own for the copy's snapshot "
    "to record"
)
"""A view's line when its source moves (``check_views``, ``source_moves``)."""


def check_views(
    settings: Settings,
    names: NameMap,
    target: Any,
    *,
    source: Any = None,
    source_moves: bool = False,
    refreshed: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Compare every view's rows on the target with the source's.

    Args:
        settings: The run settings (the source is read when it is set).
        names: The name map, with its views.
        target: A cursor on the target.
        source: A cursor on the source (in the snapshot to compare in);
            by default each side is read as it stands now.
        source_moves: The application writes to the source (sync's
            start): the rows are not compared, as the source's move on
            from the copy's snapshot; each view is named (``AT_CUTOVER``),
            not a difference. Cutover compares them (``sync.proof``).
        refreshed: The target's materialized views (target names) whose
            rows cutover computed, to when ("by cutover's REFRESH at B");
            the others' were computed at migration.

    Returns:
        One line per view, and the lines of the views that differ.
    """
    lines: list[str] = []
    differ: list[str] = []
    if not names.views:
        return lines, differ
    if settings.source is None:
        return [
            f"{_label(v)}: not compared: SOURCE_DATABASE_URL was not set"
            for v in names.views.values()
        ], differ
    if source_moves:
        for view in names.views.values():
            label = f"{view.kind} {_label(view)}"
            if not view.populated:
                lines.append(_unpopulated(target, settings, view, label, differ))
            else:
                lines.append(f"{label}: {AT_CUTOVER}")
        return lines, differ
    order_dependent = _order_dependent(target, names)
    moments = _moment_dependent(names)
    stale: set[str] = set()  # target names: stale on the source, or reading one
    with (
        nullcontext(source)
        if source is not None
        else transaction(settings.source, readonly=True)
    ) as source:
        for view in names.views.values():
            label = f"{view.kind} {_label(view)}"
            if not view.populated:
                lines.append(_unpopulated(target, settings, view, label, differ))
                continue
            moment = moments.get(view.source)
            left = {} if moment is None else moment.columns
            pairs = [(s, t) for s, t in view.columns.items() if t not in left]
            stored = _figures(
                source, settings.source_schema, view.source, [s for s, _ in pairs]
            )
            found = stored
            note = ""
            if view.kind == "materialized view":
                # The target's was computed at migration, or by cutover's
                # REFRESH: compared with what the source's definition gives,
                # not with rows the source stored at its last REFRESH.
                evaluated = _figures(
                    source,
                    settings.source_schema,
                    view.source,
                    [s for s, _ in pairs],
                    evaluated=True,
                )
                if isinstance(evaluated, Unread) and not isinstance(stored, Unread):
                    note = (
                        "; compared with its rows stored on the source, as its "
                        f"definition could not be evaluated there ({evaluated})"
                    )
                else:
                    found = evaluated
                    if (
                        not isinstance(stored, Unread)
                        and stored != evaluated
                        and (moment is None or moment.rows is None)
                    ):
                        stale.add(view.name)
                        computed = (refreshed or {}).get(view.name, "at migration")
                        note = (
                            "; stale on the source: its stored rows differ from "
                            f"its definition; the target's were computed {computed}"
                        )
            built = _figures(
                target, settings.final_schema, view.name, [t for _, t in pairs]
            )
            if isinstance(found, Unread) or isinstance(built, Unread):
                if (
                    isinstance(found, Unread)
                    and found.sqlstate is not None
                    and found == built
                ):
                    # Same definition (schema parity) over the same rows:
                    # the target fails as the source does.
                    lines.append(
                        f"{label}: gives the same error on both sides: "
                        f"{found.coded()}; its rows could not be compared{note}"
                    )
                    continue
                line = f"{label}: on the source, {_outcome(found, built)}; "
                line += f"on the target, {_outcome(built, found)}"
                lines.append(line)
                differ.append(line)
                continue
            figures = f"{label}: source {found[0]} rows, target {built[0]} rows"
            but = ""
            if left:
                but = (
                    f" over its columns but {', '.join(left)}, whose values "
                    f"depend on {', '.join(dict.fromkeys(left.values()))}"
                )
            if found == built:
                lines.append(f"{figures}, checksum match{but}{note}")
                continue
            proven = (
                "; its definition is compared by schema parity and its tables "
                "by their checksums"
            )
            reader = next((r for r in view.reads if r in stale), None)
            why = order_dependent.get(view.source)
            if moment is not None and moment.rows is not None:
                # Same definition, same tables: the rows differ by when,
                # where or by whom the view is read.
                lines.append(
                    f"{figures}, checksum differs{but}, as its rows depend on "
                    f"{moment.rows}{proven}{note}"
                )
            elif reader is not None:
                stale.add(view.name)
                lines.append(
                    f"{figures}, checksum differs{but}, as it reads {reader}, "
                    f"stale on the source{proven}{note}"
                )
            elif found[0] == built[0] and why is not None:
                # Same definition (schema parity), same tables (their
                # checksums): the values differ by the order rows are read.
                lines.append(
                    f"{figures}, checksum differs{but}, as its rows depend on the "
                    f"order rows are read in ({why}), which differs between "
                    f"servers; its definition is compared by schema parity{note}"
                )
            else:
                line = f"{figures}, checksum DIFFERS{but}{note}"
                lines.append(line)
                differ.append(line)
    return lines, differ


def _outcome(side: tuple[int, str] | Unread, other: tuple[int, str] | Unread) -> str:
    """What one side of a view gave, beside the other's error."""
    if not isinstance(side, Unread):
        return f"{side[0]} rows"
    if isinstance(other, Unread) and str(other) == str(side):
        return side.coded()  # the same message: the SQLSTATE tells them apart
    return str(side)


def _unpopulated(
    target: Any, settings: Settings, view: ViewMap, label: str, differ: list[str]
) -> str:
    """The line of a materialized view the source never populated."""
    target.execute(
        "select relispopulated from pg_class where oid = to_regclass(%s)",
        (sql.Identifier(settings.final_schema, view.name).as_string(target),),
    )
    row = target.fetchone()
    if row is not None and not row[0]:
        return f"{label}: not populated on the source, nor on the target"
    line = f"{label}: not populated on the source; the target's is"
    differ.append(line)
    return line


def _normal(text: str | None) -> str | None:
    return None if text is None else " ".join(text.split()).rstrip(";")


def definition_differences(
    cursor: Any,
    names: NameMap,
    final_schema: str,
    carried: Sequence[CarriedOver] = (),
) -> tuple[list[str], list[str], list[str]]:
    """Parity lines for views and policies, and the roles the target lacks.

    Args:
        cursor: A cursor on the target.
        names: The name map.
        final_schema: The schema the application reads.
        carried: What the last publish carried over of the target's own
            objects: the team's policies and row-level security on a final
            table are kept, not differences.

    Returns:
        The differences ("view.what: ..."), the lines the team's own
        objects explain, and one line per policy that names a role the
        target does not have.
    """
    ours = {
        (c.kind, c.object.removeprefix(final_schema + "."))
        for c in carried
        if c.outcome == "recreated"
    }
    cursor.execute("select current_setting('search_path')")
    (path,) = cursor.fetchone()
    cursor.execute(
        "select set_config('search_path', %s, true)", (quote_ident(final_schema),)
    )
    lines: list[str] = []
    try:
        for view in names.views.values():
            relation = sql.Identifier(final_schema, view.name).as_string(cursor)
            cursor.execute(
                "select c.relkind, coalesce(c.reloptions, '{}'), pg_get_viewdef(c.oid) "
                "from pg_class as c where c.oid = to_regclass(%s)",
                (relation,),
            )
            row = cursor.fetchone()
            kind = {"v": "view", "m": "materialized view"}
            if row is None or row[0] not in kind:
                lines.append(f"{view.name}: {view.kind} is missing")
                continue
            if kind[row[0]] != view.kind:
                lines.append(f"{view.name}: is a {kind[row[0]]}, not a {view.kind}")
            if sorted(row[1]) != sorted(view.options):
                lines.append(
                    f"{view.name}: options {sorted(row[1])} are not the source's "
                    f"{sorted(view.options)}"
                )
            if _normal(row[2]) != _normal(view.definition):
                lines.append(
                    f"{view.name}: definition differs: the source's, renamed, is "
                    f"{_normal(view.definition)!r}; the target's is {_normal(row[2])!r}"
                )
        missing_roles, policy_lines = _policy_differences(cursor, names, final_schema)
    finally:
        cursor.execute("select set_config('search_path', %s, true)", (path,))
    kept = [line for kind, name, line in policy_lines if (kind, name) in ours]
    lines += [line for kind, name, line in policy_lines if (kind, name) not in ours]
    return lines, kept, missing_roles


def _policy_differences(
    cursor: Any, names: NameMap, final_schema: str
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Roles the target lacks, and (kind, object, line) of each difference."""
    cursor.execute("select rolname::text from pg_roles")
    roles = {r for (r,) in cursor.fetchall()} | {"public"}
    missing: list[str] = []
    lines: list[tuple[str, str, str]] = []
    tables = {t.target for t in names.tables.values()}
    for table in sorted(tables):
        relation = sql.Identifier(final_schema, table).as_string(cursor)
        cursor.execute(
            "select relrowsecurity, relforcerowsecurity from pg_class "
            "where oid = to_regclass(%s)",
            (relation,),
        )
        row = cursor.fetchone()
        if row is None:
            continue
        expected = names.row_security.get(table, [False, False])
        if list(row) != list(expected):
            lines.append(
                (
                    "row-level security",
                    table,
                    f"{table}: row-level security (enabled, forced) is "
                    f"{tuple(row)}, the source's is {tuple(expected)}",
                )
            )
        cursor.execute(
            "select p.polname::text, p.polpermissive, p.polcmd::text, "
            "array(select case r when 0 then 'public' else pg_get_userbyid(r)::text "
            "end from unnest(p.polroles) as r order by 1), "
            "pg_get_expr(p.polqual, p.polrelid), "
            "pg_get_expr(p.polwithcheck, p.polrelid) "
            "from pg_policy as p where p.polrelid = to_regclass(%s)",
            (relation,),
        )
        found = {r[0]: r[1:] for r in cursor.fetchall()}
        commands = {"*": "all", "r": "select", "a": "insert", "w": "update"}
        commands["d"] = "delete"
        for policy in names.policies:
            if policy.table != table:
                continue
            absent = [r for r in policy.roles if r not in roles]
            kept_roles = sorted(r for r in policy.roles if r in roles)
            if absent:
                outcome = (
                    "it applies to the others only"
                    if kept_roles
                    else "it was not created"
                )
                missing.append(
                    f"policy {policy.name} on {table}: role "
                    f"{', '.join(absent)} does not exist on the target, so "
                    f"{outcome}; create the role and migrate again"
                )
            if not kept_roles:
                continue
            got = found.pop(policy.name, None)
            label = f"{table}.{policy.name}"
            if got is None:
                lines.append(("policy", label, f"{label}: policy is missing"))
                continue
            permissive, cmd, got_roles, using, check = got
            want = (
                policy.permissive,
                policy.command,
                kept_roles,
                _normal(policy.using),
                _normal(policy.with_check),
            )
            have = (permissive, commands[cmd], list(got_roles), _normal(using))
            have += (_normal(check),)
            if have != want:
                line = f"{label}: policy is {have}, the source's renamed is {want}"
                lines.append(("policy", label, line))
        for name in sorted(found):
            label = f"{table}.{name}"
            lines.append(("policy", label, f"{label}: policy is not in the source"))
    return missing, lines
