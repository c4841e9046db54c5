"""SQL identifiers and literals: quoting them, and renaming in expressions.

Every identifier pgshift writes into SQL goes through ``quote_ident`` (always
quoted) or ``render_ident`` (quoted only when PostgreSQL needs it), and
every string value it quotes through ``sql_literal``.

Check constraints, defaults and index expressions come out of pg_catalog
with source column names (``CHECK (("rating" >= 1))``). The final tables use
the mapped names, so the expressions are rewritten token by token: string
literals are left alone, quoted and bare identifiers that name a column are
replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pglast.keywords import (
    COL_NAME_KEYWORDS,
    RESERVED_KEYWORDS,
    TYPE_FUNC_NAME_KEYWORDS,
)


def needs_quoting(name: str) -> bool:
    """Tell whether an identifier must be double-quoted in PostgreSQL SQL.

    Args:
        name: An identifier.

    Returns:
        True unless the name is a lowercase, non-keyword, plain identifier.
    """
    if not name or not (name[0].isalpha() or name[0] == "_"):
        return True
    if any(not (c.isalnum() or c == "_") or c.isupper() for c in name):
        return True
    if not name.isascii():
        return True
    return name in RESERVED_WORDS


def quote_ident(name: str) -> str:
    """Quote an identifier for PostgreSQL, always.

    Args:
        name: An identifier.

    Returns:
        The identifier in double quotes, inner quotes doubled.
    """
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    r"""Quote a string value as an SQL literal, as libpq's PQescapeLiteral does.

    Single quotes are doubled. A value holding a backslash is written as an
    escape string (``E'back\\slash'``) with its backslashes doubled, so that
    it reads the same whatever ``standard_conforming_strings`` is. Dollar
    quotes, ``--`` and the rest need nothing inside a literal.

    Args:
        text: The value.

    Returns:
        The literal.
    """
    body = text.replace("'", "''")
    if "\\" in text:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


_NAME = r'(?:"(?:[^"]|"")*"|[^\W\d]\w*)'
"""An identifier, quoted or bare."""
NAME_PATTERN = _NAME
"""The same, for other modules' patterns."""


def percent_safe(text: str) -> str:
    """Make SQL text safe to join into a query that runs with parameters.

    ``%`` is doubled in names and expressions over them, so that a column
    named ``it's %s`` is not read as a placeholder by the client library.
    """
    return text.replace("%", "%%")


def render_ident(name: str) -> str:
    """Render an identifier, quoted only when PostgreSQL needs it.

    Args:
        name: The identifier.

    Returns:
        The identifier as it should appear in SQL.
    """
    return quote_ident(name) if needs_quoting(name) else name


def unquote_ident(name: str) -> str:
    """The name an identifier token stands for (quotes removed, not folded)."""
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def regprocedure_input(signature: str) -> str:
    """A routine's ``name(argument types)`` as ``to_regprocedure`` reads it.

    PostgreSQL prints an aggregate of no arguments as ``name(*)`` and reads
    it only as ``name()``.
    """
    return signature[:-3] + "()" if signature.endswith("(*)") else signature


def rename_type(data_type: str, schema: str, types: Mapping[str, str]) -> str:
    """Rename a type as format_type prints it, when it is one of the schema's.

    Args:
        data_type: E.g. ``"DocumentStatus"``, ``"DocumentStatus"[]`` or
            ``public."DocumentStatus"``.
        schema: The schema whose types ``types`` renames.
        types: Source type name to target type name.

    Returns:
        The type with its name renamed (qualifier and array brackets kept),
        or unchanged when it is not one of them.
    """
    match = re.fullmatch(
        r"(?:(?P<schema>" + _NAME + r")\.)?(?P<name>" + _NAME + r")(?P<rest>(?:\[\])*)",
        data_type,
    )
    if match is None:
        return data_type
    qualifier = match.group("schema")
    if qualifier is not None and unquote_ident(qualifier) != schema:
        return data_type
    name = unquote_ident(match.group("name"))
    if name not in types:
        return data_type
    prefix = f"{qualifier}." if qualifier else ""
    return prefix + render_ident(types[name]) + match.group("rest")


_QUALIFIED_TYPE = (
    r"(?P<schema>" + _NAME + r")\.(?P<name>" + _NAME + r")(?P<rest>(?:\[\])*)"
)


def qualified_type(data_type: str) -> tuple[str, str] | None:
    """(schema, name) of a qualified type as format_type prints it.

    ``public."Name"[]`` -> ``("public", "Name")``; None for an unqualified one.
    """
    match = re.fullmatch(_QUALIFIED_TYPE, data_type)
    if match is None:
        return None
    return unquote_ident(match.group("schema")), unquote_ident(match.group("name"))


def requalify_type(
    data_type: str, source: tuple[str, str], target: tuple[str, str]
) -> str:
    """Name another schema's type as format_type prints it where it is now.

    Args:
        data_type: E.g. ``public."Name"`` or ``public."Name"[]``.
        source: (schema, name) of the type on the source.
        target: (schema, name) of the type on the target.

    Returns:
        ``public.name_type`` (array brackets kept) when ``data_type`` is the
        source's type qualified by its schema, else unchanged.
    """
    match = re.fullmatch(_QUALIFIED_TYPE, data_type)
    if match is None or (
        unquote_ident(match.group("schema")),
        unquote_ident(match.group("name")),
    ) != tuple(source):
        return data_type
    return f"{render_ident(target[0])}.{render_ident(target[1])}{match.group('rest')}"


def requalify_types(
    expression: str, moved: Mapping[tuple[str, str], tuple[str, str]]
) -> str:
    """Name other schemas' types in an expression where they are now.

    Args:
        expression: As pg_get_expr prints it (``'yes'::public."Flag"``).
        moved: (schema, name) on the source to (schema, name) on the
            target, of the other schemas' types earlier runs built.
    """
    for key, where in moved.items():
        shown = f"{render_ident(key[0])}.{render_ident(key[1])}"
        target = f"{render_ident(where[0])}.{render_ident(where[1])}"
        expression = re.sub(
            r"(?<![\w$\".])" + re.escape(shown) + r"(?![\w$\"])",
            target.replace("\\", "\\\\"),
            expression,
        )
    return expression


# The key words PostgreSQL's own quote_ident() quotes: every one but the
# unreserved (reserved ones, and those that cannot be a column or a function
# name without quotes, such as "timestamp" and "position"), as its parser
# lists them (pglast, libpg_query), less those that PostgreSQL 16 and 17
# added, which PostgreSQL 15 prints bare. pg_get_indexdef and the like print
# them quoted, and so must a renamed definition that parity compares.
NEWER_KEY_WORDS = frozenset(
    {
        "json",
        "json_array",
        "json_arrayagg",
        "json_exists",
        "json_object",
        "json_objectagg",
        "json_query",
        "json_scalar",
        "json_serialize",
        "json_table",
        "json_value",
        "merge_action",
        "system_user",
    }
)
RESERVED_WORDS = (
    frozenset(RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS)
    - NEWER_KEY_WORDS
)
