"""The generated macro holding the source's privileges and owners.

``macros/scaffolded/pgshift_source_privileges.sql`` returns one entry per
statement of ``pgshift.privileges.map_privileges``, owners first: what it
is about, the roles it needs, and the statement itself, written out so that
a reviewer reads exactly what the build runs (the final schema is the
macro's argument). The publish runs them (``pgshift_apply_privileges``).
"""

from __future__ import annotations

import json

from pgshift.privileges import PRIVILEGES_MACRO, SCHEMA, Privileges, Statement
from pgshift.scaffold.sql_files import GENERATED_HEADER, jinja_comment, jinja_string

MACRO_FILE = PRIVILEGES_MACRO


def _expression(parts: tuple[str | None, ...]) -> str:
    """A Jinja expression giving a statement, ``schema`` where the schema goes."""
    if not parts:
        return "''"
    merged: list[str | None] = []
    for part in parts:
        if part is not SCHEMA and merged and merged[-1] is not SCHEMA:
            merged[-1] += part
        else:
            merged.append(part)
    return " ~ ".join(
        "schema" if part is SCHEMA else jinja_string(part) for part in merged
    )


def _entry(statement: Statement) -> str:
    fields = {
        "kind": statement.kind,
        "object": statement.object,
        "column": statement.column,
        "grantee": statement.grantee,
        "privilege": statement.privilege,
        "grantable": statement.grantable,
        "roles": list(statement.roles),
        "relation": statement.relation,
    }
    pairs = [
        f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in fields.items()
    ]
    pairs.append(f'"statement": {_expression(statement.parts)}')
    pairs.append(f'"revoke": {_expression(statement.revoke_parts)}')
    return "        {" + ", ".join(pairs) + "}"


def privileges_macro(privileges: Privileges) -> str:
    """The macro returning the source's privileges and owners as statements."""
    skipped = "".join(f"\n    - {jinja_comment(line)}" for line in privileges.skipped)
    entries = ",\n".join(_entry(s) for s in privileges.statements)
    body = f"[\n{entries}\n    ]" if entries else "[]"
    return (
        f"{{# {GENERATED_HEADER}. #}}\n"
        "{#- The source's owners and privileges on the migrated schema, its\n"
        "    tables, columns and sequences, and its default privileges, through\n"
        "    the name map: one statement each, run by the publish for the roles\n"
        "    that exist on the target (pgshift_apply_privileges). Argument: the\n"
        "    final schema, quoted."
        + (f"\n    Not applied:{skipped}" if skipped else "")
        + " #}\n"
        "{% macro pgshift_source_privileges(schema) %}\n"
        f"    {{{{ return({body}) }}}}\n"
        "{% endmacro %}\n"
    )
