"""Rewrite the column names inside SQL expressions that the catalog prints.

Check constraints, defaults and index expressions come out of pg_catalog
with source column names (``CHECK (("rating" >= 1))``). The final tables use
the mapped names, so the expressions are rewritten token by token: string
literals are left alone, quoted and bare identifiers that name a column are
replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pgshift.naming import needs_quoting, quote_ident

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
