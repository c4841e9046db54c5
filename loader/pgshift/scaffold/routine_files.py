"""The dbt files scaffold writes for the source's functions and triggers.

* ``macros/scaffolded/routines/<name>.sql``: one file per function,
  procedure or aggregate, its definition renamed (``pgshift.routines``), as
  a macro returning it with the final schema filled in; a routine that
  needs review keeps its candidate rewrite there, with the reasons in its
  header, and is not created by the build;
* ``macros/scaffolded/pgshift_source_routines.sql``: the routines the build
  creates, with the extensions they need, and the triggers it recreates on
  the final tables, with their enabled state;
* ``models/pgshift_routines.json`` (``routines.ROUTINES_FILE``): what became
  of each one, which the report lists.

``pgshift_publish_routines`` (macros/routines/) creates them when the final
tables are published.
"""

from __future__ import annotations

import json
import re

from pgshift.routines import ROUTINES_FILE, SCHEMA, Routine, Routines
from pgshift.scaffold.sql_files import GENERATED_HEADER, jinja_comment, jinja_text

ROUTINES_DIR = "macros/scaffolded/routines"
INDEX_FILE = "macros/scaffolded/pgshift_source_routines.sql"


def _with_schema(text: str) -> str:
    """Jinja text rendering back to ``text``, ``{{ schema }}`` for the schema."""
    return "{{ schema }}".join(jinja_text(part) for part in text.split(SCHEMA))


def _readable(text: str) -> str:
    """A rewritten definition for a comment: ``{{ schema }}`` for the schema."""
    return text.replace(SCHEMA, "{{ schema }}")


def _macro_names(routines: list[Routine]) -> dict[int, str]:
    """A macro name per routine: ``pgshift_routine__<name>``.

    An operator, whose name holds no letter, is ``pgshift_routine__operator``,
    a cast ``pgshift_routine__cast``.

    Overloads, and names that only differ outside ASCII letters and digits,
    are numbered in the order the routines come (by name and arguments).
    """
    taken: set[str] = set()
    names = {}
    for routine in routines:
        slug = re.sub(r"[^a-z0-9_]", "_", routine.name.lower()).strip("_")
        # An operator's name is all symbols; a cast has none.
        slug = slug or (
            routine.kind if routine.kind in ("operator", "cast") else "routine"
        )
        name, number = f"pgshift_routine__{slug}", 1
        while name in taken:
            number += 1
            name = f"pgshift_routine__{slug}__{number}"
        taken.add(name)
        names[routine.oid] = name
    return names


def _routine_file(routine: Routine, macro: str) -> str:
    if routine.problems:
        status = (
            "NEEDS REVIEW: not created by the build. Why:\n"
            + "\n".join(f"    - {p.describe()}" for p in routine.problems)
            + "\n    What follows is pgshift's candidate rewrite: review it, and"
            "\n    create the routine on the target yourself (it is then the"
            "\n    team's own, which pgshift never replaces)."
        )
    else:
        status = "The build creates it in the final schema." + "".join(
            f"\n    Note: {note}." for note in routine.notes
        )
    return (
        f"{{# {GENERATED_HEADER}. #}}\n"
        f"{{#- The source's {routine.kind} {jinja_comment(routine.label)},\n"
        "    tables and columns renamed by the name map; string literals, dollar\n"
        "    quotes and comments as on the source.\n"
        f"    {jinja_comment(status)} #}}\n"
        f"{{% macro {macro}(schema) -%}}\n"
        "{%- set sql -%}\n"
        f"{_with_schema(routine.definition.rstrip())}\n"
        "{%- endset -%}\n"
        "{{ return(sql) }}\n"
        "{%- endmacro %}\n"
    )


def routine_files(
    routines: Routines, extension_schemas: dict[str, str]
) -> dict[str, str]:
    """Every generated file for the routines and triggers, by relative path.

    Args:
        routines: The rewritten routines and triggers.
        extension_schemas: Extension name to its schema on the source.

    Returns:
        Relative path to content.
    """
    header = f"{{# {GENERATED_HEADER}. #}}\n"
    macros = _macro_names(routines.routines)
    files: dict[str, str] = {}
    for routine in routines.routines:
        files[f"{ROUTINES_DIR}/{macros[routine.oid]}.sql"] = _routine_file(
            routine, macros[routine.oid]
        )
    created = [r for r in routines.routines if not r.problems]
    # Operators call functions; an aggregate may name an operator (SORTOP).
    order = {"operator": 1, "cast": 1, "aggregate": 2}
    created.sort(key=lambda r: (order.get(r.kind, 0), r.name, r.arguments))
    lines = [
        header,
        "{#- The source's functions, procedures, operators and aggregates that\n"
        "    the build creates in the final schema (schema), operators and\n"
        "    aggregates after the functions they call; the extensions they need.\n"
        "    Routines needing review are not here (see\n"
        "    macros/scaffolded/routines/). #}\n",
        "{% macro pgshift_source_routines(schema) -%}\n",
        "{%- set routines = [] -%}\n",
    ]
    for routine in created:
        extensions = [
            {"name": name, "schema": extension_schemas.get(name, "public")}
            for name in routine.extensions
        ]
        lines += [
            f"{{%- set signature -%}}{_with_schema(routine.signature)}"
            "{%- endset -%}\n",
            "{%- do routines.append({"
            f'"kind": {json.dumps(routine.kind)}, "signature": signature, '
            f'"sql": {macros[routine.oid]}(schema), '
            f'"extensions": {json.dumps(extensions, ensure_ascii=False)}, '
            f'"before_build": {str(routine.before_build).lower()}'
            "}) -%}\n",
        ]
    lines += ["{{ return(routines) }}\n", "{%- endmacro %}\n\n"]
    lines += [
        "{#- The source's triggers on migrated tables, renamed, recreated on the\n"
        "    final tables with their state (ALTER TABLE ... <state> <name>). #}\n",
        "{% macro pgshift_source_triggers(schema) -%}\n",
        "{%- set triggers = [] -%}\n",
    ]
    for trigger in routines.triggers:
        if trigger.problems:
            reasons = "; ".join(p.describe() for p in trigger.problems)
            lines.append(
                f"{{#- NEEDS REVIEW, not created: {jinja_comment(trigger.label)}: "
                f"{jinja_comment(reasons)}\n"
                f"    {jinja_comment(_readable(trigger.definition or trigger.source))}"
                " #}\n"
            )
            continue
        entry = {
            "table": trigger.target_table,
            "name": trigger.name,
            **({"state": trigger.state_clause} if trigger.state_clause else {}),
        }
        lines += [
            f"{{%- set sql -%}}{_with_schema(trigger.definition)}{{%- endset -%}}\n",
            "{%- do triggers.append("
            f"{json.dumps(entry, ensure_ascii=False)[:-1]}, " + '"sql": sql}) -%}\n',
        ]
    lines += ["{{ return(triggers) }}\n", "{%- endmacro %}\n\n"]
    lines += [
        "{#- Whether the build creates routines before the tables: a default,\n"
        "    generated column, check or index calls one of them (those marked\n"
        "    before_build, and those they call). #}\n",
        "{% macro pgshift_routines_before_build() -%}\n",
        f"{{{{ return({str(routines.before_build).lower()}) }}}}\n",
        "{%- endmacro %}\n",
    ]
    files[INDEX_FILE] = "".join(lines)
    files[ROUTINES_FILE] = routines.to_json()
    return files
