"""The dbt files of the source's views, materialized views and policies.

Each view and materialized view becomes a model, ``models/views/<name>.sql``,
materialized by ``pgshift_view`` (macros/views/): its text is the source's
definition as PostgreSQL prints it once renamed (``pgshift.shadow``),
behind a ``depends_on`` on each final table and view it reads, so dbt
builds it after them and ``dbt docs`` shows it downstream of them. Its
options, comments and indexes, and the tables' row-level security and
policies, are returned by the macros of
``macros/scaffolded/pgshift_source_views.sql``, as JSON text parsed by
``fromjson``: the one form that carries any name or expression unchanged.
"""

from __future__ import annotations

import json

from pgshift.mapping import NameMap, ViewMap
from pgshift.scaffold.sql_files import (
    GENERATED_HEADER,
    jinja_comment,
    jinja_string,
    jinja_text,
)

VIEWS_DIR = "models/views"
"""Where the view models are written, relative to the dbt project."""

VIEWS_MACRO = "macros/scaffolded/pgshift_source_views.sql"
COMMENTS_MACRO = "macros/scaffolded/pgshift_source_comments.sql"


def settle_views(names: NameMap, created: set[str]) -> bool:
    """Leave out the views that call a routine the build does not create.

    Each such view, and every view over it, moves from ``names.views`` to
    ``names.not_migrated`` with the reason; each view that calls a routine
    the build creates, or reads a view that does, is marked deferred: the
    publish creates it once the routines are there.

    Args:
        names: The name map; its views are changed in place.
        created: ``name(argument types)`` of each routine the build creates.

    Returns:
        Whether a view was left out (the routines may then need rewriting:
        one that reads such a view is left out too).
    """
    left_out: dict[str, str] = {}
    deferred: set[str] = set()
    for source, view in list(names.views.items()):
        missing = [c for c in view.calls if c not in created]
        reason = None
        if missing:
            reason = (
                f"calls {missing[0]}, a function of the source that needs "
                "review and is not created (see the routines needing review)"
            )
        else:
            parent = next((r for r in view.reads if r in left_out), None)
            if parent is not None:
                reason = f"reads {left_out[parent]}, which is not migrated"
        if reason is not None:
            left_out[view.name] = source
            del names.views[source]
            names.not_migrated.append([view.kind, source, reason])
            continue
        view.deferred = bool(view.calls) or any(r in deferred for r in view.reads)
        if view.deferred:
            deferred.add(view.name)
    return bool(left_out)


def view_sql(view: ViewMap) -> str:
    """The model of one view: its renamed definition, after what it reads."""
    depends = "".join(
        f"-- depends_on: {{{{ ref({jinja_string(r)}) }}}}\n" for r in view.reads
    )
    return (
        f"{{# {GENERATED_HEADER}. #}}\n"
        f"{{#- Source {view.kind} {jinja_comment(view.source)}: PostgreSQL's own "
        "definition,\n"
        "    renamed by PostgreSQL (pgshift.shadow); created by pgshift_view. #}\n"
        "{{ config(materialized='pgshift_view') }}\n"
        f"{depends}"
        f"{jinja_text(view.definition)}\n"
    )


def _json_macro(name: str, value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return (
        f"{{% macro {name}() %}}\n"
        f"    {{{{ return(fromjson({jinja_string(text)})) }}}}\n"
        "{% endmacro %}\n"
    )


def views_macro(names: NameMap) -> str:
    """The macros returning the views' settings and the tables' policies."""
    views = {
        v.name: {
            "source": v.source,
            "kind": v.kind,
            "options": v.options,
            "comment": v.comment,
            "populated": v.populated,
            "deferred": v.deferred,
            "order": order,
            "column_comments": v.column_comments,
            "indexes": [
                {"name": i.name, "unique": i.unique, "using": i.using}
                for i in v.indexes
            ],
        }
        for order, v in enumerate(names.views.values())
    }
    policies = {
        "row_security": names.row_security,
        "policies": [
            {
                "table": p.table,
                "name": p.name,
                "command": p.command,
                "permissive": p.permissive,
                "roles": p.roles,
                "using": p.using,
                "with_check": p.with_check,
            }
            for p in names.policies
        ],
    }
    return (
        f"{{# {GENERATED_HEADER}. #}}\n"
        "{#- The source's views by target name: kind, reloptions, comments,\n"
        "    a materialized view's indexes. #}\n"
        + _json_macro("pgshift_source_views", views)
        + "\n{#- The final tables' row-level security ([enabled, forced]) and\n"
        "    policies, their expressions renamed. #}\n"
        + _json_macro("pgshift_source_policies", policies)
    )


def comments_macro(names: NameMap) -> str:
    """The macro returning the comments the publish sets (``pgshift.comments``)."""
    comments = [
        {"kind": c.kind, "name": c.name, "on": c.on, "text": c.text, "table": c.table}
        for c in names.comments
    ]
    return (
        f"{{# {GENERATED_HEADER}. #}}\n"
        "{#- The source's comments on indexes, constraints, triggers, policies,\n"
        "    routines, types and sequences, on their target names. #}\n"
        + _json_macro("pgshift_source_comments", comments)
    )


def view_files(names: NameMap) -> dict[str, str]:
    """Every view model, and the macros, by path in the dbt project."""
    files = {f"{VIEWS_DIR}/{v.name}.sql": view_sql(v) for v in names.views.values()}
    files[VIEWS_MACRO] = views_macro(names)
    files[COMMENTS_MACRO] = comments_macro(names)
    return files
