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


_TOKEN = re.compile(
    r"""
    (?P<string>E?'(?:[^']|'')*')        # string literal (E'' too)
    | (?P<quoted>"(?:[^"]|"")*")         # quoted identifier
    | (?P<cast>::\s*[A-Za-z_][\w ]*)     # a type after ::, never a column
    | (?P<word>[^\W\d]\w*)\b(?!\s*\()    # bare word, not a function name
    """,
    re.VERBOSE,
)


def render_ident(name: str) -> str:
    """Render an identifier, quoted only when PostgreSQL needs it.

    Args:
        name: The identifier.

    Returns:
        The identifier as it should appear in SQL.
    """
    return quote_ident(name) if needs_quoting(name) else name


def rename_columns(expression: str, mapping: Mapping[str, str]) -> str:
    """Replace source column names with target names in an SQL expression.

    Args:
        expression: SQL as pg_get_expr / pg_get_constraintdef print it.
        mapping: Source column name to target column name.

    Returns:
        The expression with every column reference renamed.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group("quoted"):
            name = match.group("quoted")[1:-1].replace('""', '"')
            if name in mapping:
                return render_ident(mapping[name])
            return match.group(0)
        word = match.group("word")
        if word is not None and word in mapping:
            # Bare words are folded to lowercase by PostgreSQL, so a bare
            # word can only name a lowercase column.
            return render_ident(mapping[word])
        return match.group(0)

    return _TOKEN.sub(replace, expression)


# PostgreSQL's reserved key words (and the ones that cannot name a column
# without quotes), from the "SQL Key Words" appendix of the manual.
RESERVED_WORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "system_user",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    ]
)
