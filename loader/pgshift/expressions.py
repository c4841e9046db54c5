"""Rename columns and types in a stored expression, by PostgreSQL's parser.

Defaults, generated columns, check and exclusion constraints, index
definitions, partition keys and bounds arrive from the source as
``pg_get_expr``, ``pg_get_constraintdef`` and ``pg_get_indexdef`` print
them. ``rename_columns`` parses such a text with pglast (libpg_query:
PostgreSQL's own parser), finds the column references and type names in
the parse tree, and replaces exactly those tokens: string literals,
function names, field names of a composite value, operators and layout
stay byte for byte, so the result is what PostgreSQL prints for the same
definition in the new names, and schema parity can compare the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pglast.parser import ParseError

from pgshift.sqlident import render_ident
from pgshift.sqltree import Token, dotted_name, parse_tree, scan_tokens, tree_nodes


class ExpressionError(ValueError):
    """A stored definition the parser cannot read in any of its forms."""


_WRAPPERS = (
    "",  # a whole statement: a view's query
    "SELECT ",  # an expression: a default, a check's condition
    "ALTER TABLE x ADD ",  # a constraint: CHECK, EXCLUDE, UNIQUE
    "CREATE INDEX ON x USING ",  # what follows USING in an index
    "CREATE TABLE x () PARTITION BY ",  # a partition key
    "CREATE TABLE x PARTITION OF y ",  # a partition bound
)
"""How each kind of stored text becomes a statement the parser reads."""

_NAME_LISTS = frozenset({"key", "unique", "distinct", "include", "exclude"})
"""Key words after which a parenthesised list starts with column names
(``UNIQUE NULLS NOT DISTINCT (...)`` among them)."""


def rename_columns(
    expression: str,
    mapping: Mapping[str, str],
    types: Mapping[str, str] | None = None,
) -> str:
    """Replace source column and type names with target names in a definition.

    Args:
        expression: A stored definition as PostgreSQL prints it: an
            expression, a constraint, what follows USING in an index, a
            partition key or bound, or a view's query.
        mapping: Source column name to target column name.
        types: Source name to target name of the schema's own types (enums
            and domains).

    Returns:
        The definition with every column reference and type name renamed.

    Raises:
        ExpressionError: The parser reads it in none of its forms.
    """
    if not expression or not (mapping or types):
        return expression
    for prefix in _WRAPPERS:
        text = prefix + expression
        try:
            tree = parse_tree(text)
        except ParseError:
            continue
        edits = _Edits(text, tree)
        edits.rename(mapping, types or {})
        return edits.apply()[len(prefix) :]
    raise ExpressionError(f"PostgreSQL's parser cannot read {expression!r}")


class _Edits:
    """The tokens of one parsed text to replace, by character offset."""

    def __init__(self, text: str, tree: Any) -> None:
        self.text = text
        self.tree = tree
        self.tokens = scan_tokens(text)
        self.at = {token.start: index for index, token in enumerate(self.tokens)}
        self.edits: dict[int, tuple[int, str]] = {}

    def apply(self) -> str:
        """The text with every replacement made."""
        out, position = [], 0
        for start in sorted(self.edits):
            end, replacement = self.edits[start]
            out += [self.text[position:start], replacement]
            position = end
        return "".join([*out, self.text[position:]])

    def _chain(self, location: int, count: int) -> list[Token] | None:
        """The ``count`` tokens of a dotted name at a location."""
        index = self.at.get(location)
        return None if index is None else dotted_name(self.tokens, index, count)

    def _replace(self, token: Token, names: Mapping[str, str]) -> None:
        name = token.value
        # A name the map keeps keeps its token as the server printed it,
        # quoting and all: servers differ in the key words they quote.
        if name is not None and name in names and names[name] != name:
            self.edits[token.start] = (token.end, render_ident(names[name]))

    def rename(self, mapping: Mapping[str, str], types: Mapping[str, str]) -> None:
        """Find every column reference and type name to rename."""
        for _, node in tree_nodes(self.tree, "ColumnRef"):
            fields = node.get("fields") or []
            found = self._chain(node.get("location", -1), len(fields))
            if found and "String" in fields[-1]:
                self._replace(found[-1], mapping)
        for _, node in tree_nodes(self.tree, "PartitionElem"):
            found = self._chain(node.get("location", -1), 1)
            if found and node.get("name"):
                self._replace(found[0], mapping)
        for _, node in tree_nodes(self.tree, "TypeName"):
            found = self._chain(node.get("location", -1), len(node.get("names") or []))
            if found:
                self._replace(found[-1], types)
        self._listed_names(mapping)

    def _listed_names(self, mapping: Mapping[str, str]) -> None:
        """Columns named bare in an index's, key's, INCLUDE's or EXCLUDE's list.

        The parse tree keeps no position for them. Each starts an element
        of the list (right after its opening parenthesis or a comma at its
        depth) and is not a function's name: an element that is an
        expression is parenthesised or a call.
        """
        tokens = self.tokens
        for index, token in enumerate(tokens[1:], start=1):
            if token.text != "(":
                continue
            before = (tokens[index - 1].value or "").lower()
            using = index >= 2 and (tokens[index - 2].value or "") == "using"
            if before not in _NAME_LISTS and not using:
                continue
            depth = 0
            for inner in range(index, len(tokens)):
                mark = tokens[inner].text
                depth += {"(": 1, ")": -1}.get(mark, 0)
                if depth == 0:
                    break
                following = tokens[inner + 1].text if inner + 1 < len(tokens) else ""
                if (
                    depth == 1
                    and tokens[inner - 1].text in ("(", ",")
                    and following not in ("(", ".")
                ):
                    self._replace(tokens[inner], mapping)
