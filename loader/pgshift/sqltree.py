"""PostgreSQL's parser and scanner, as plain data: trees, nodes and tokens.

pglast (libpg_query) gives PostgreSQL's own parse tree and token stream.
The renamers of routine bodies (``pgshift.routines``) and of stored
expressions (``pgshift.expressions``), and verify's reading of view
definitions, walk these instead of matching SQL text with patterns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pgshift.sqlident import NEWER_KEY_WORDS


@dataclass(frozen=True)
class Token:
    """One token of SQL text as PostgreSQL's scanner reads it (character offsets)."""

    start: int
    end: int  # exclusive
    name: str
    kind: str
    text: str

    @property
    def value(self) -> str | None:
        """The identifier this token spells, or None if it spells none."""
        if self.name == "IDENT" or (
            self.kind != "NO_KEYWORD" and self.text[:1].isalpha()
        ):
            if self.text.startswith('"'):
                return self.text[1:-1].replace('""', '"')
            if self.text[:2].lower() == "u&":
                return None
            return self.text.lower()
        return None


def scan_tokens(text: str) -> list[Token]:
    """The tokens of SQL text, by PostgreSQL's scanner."""
    from pglast import parser

    return [
        Token(t.start, t.end + 1, t.name, t.kind, text[t.start : t.end + 1])
        for t in parser.scan(text)
    ]


def tree_nodes(tree: Any, kind: str | None = None) -> Iterator[tuple[str, dict]]:
    """Every (node type, node) of a JSON parse tree, depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if (
                    isinstance(value, dict)
                    and key[:1].isupper()
                    and kind in (None, key)
                ):
                    yield key, value
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(reversed(item))


def older_spelling(text: str) -> tuple[str, dict[str, str]]:
    """The text with each bare ``NEWER_KEY_WORDS`` word spelled as a plain name.

    Those are the words later PostgreSQL grammars (16, 17) keep from
    function, type and parameter names, which PostgreSQL 15 reads as plain
    names and prints bare (``CREATE FUNCTION f(json jsonb)``); pglast's
    grammar is the later one.

    Each becomes a name of the same length that no grammar reserves, its
    second character a ``$`` (``json`` -> ``j$on``, ``json_value`` ->
    ``j$on_value``: each word its own), so that every offset stays where
    it is.

    Returns:
        (the text, each stand-in as the parser folds it -> the word it
        stands for), the mapping empty when there was nothing to respell.
    """
    chars = list(text)
    swapped: dict[str, str] = {}
    for token in scan_tokens(text):
        word = token.text.lower()
        if word in NEWER_KEY_WORDS:
            stand_in = word[0] + "$" + word[2:]
            chars[token.start : token.end] = stand_in
            swapped[stand_in] = word
    return "".join(chars), swapped


def restore_spelling(value: Any, swapped: dict[str, str]) -> Any:
    """A tree read from ``older_spelling``'s text, with its words put back.

    Names equal to a stand-in, and stand-ins inside SQL text a tree holds
    (a PL/pgSQL statement's query), become the words again.
    """
    if not swapped:
        return value
    if isinstance(value, dict):
        return {k: restore_spelling(v, swapped) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_spelling(v, swapped) for v in value]
    if isinstance(value, str):
        if value in swapped:
            return swapped[value]
        for stand_in, word in swapped.items():
            value = value.replace(stand_in, word)
    return value


def parse_tree(text: str) -> dict[str, Any]:
    """A parse tree of SQL text as plain data.

    ``{"stmts": [{"stmt": node}]}``, each node ``{"NodeType": {field: value}}``
    (its ``location`` a character offset, as pglast counts it, like the
    scanner's tokens). Text that PostgreSQL 15 reads but pglast's later
    grammar does not for a word it has made a keyword (``NEWER_KEY_WORDS``)
    is read with that word spelled as a plain name, and given back.

    Raises:
        pglast.parser.ParseError: The text is not valid SQL.
    """
    import pglast

    try:
        return _parse_tree(text)
    except pglast.parser.ParseError:
        respelled, swapped = older_spelling(text)
        if not swapped:
            raise
        tree: dict[str, Any] = restore_spelling(_parse_tree(respelled), swapped)
        return tree


def _parse_tree(text: str) -> dict[str, Any]:
    import pglast

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            if "@" in value:
                fields = {k: plain(v) for k, v in value.items() if k != "@"}
                return {value["@"]: fields}
            return value
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    statements = [plain(raw())["RawStmt"] for raw in pglast.parse_sql(text)]
    return {"stmts": [{"stmt": raw["stmt"]} for raw in statements]}


def dotted_name(tokens: list[Token], index: int, count: int) -> list[Token] | None:
    """The ``count`` tokens of a dotted name starting at ``tokens[index]``.

    Each is an identifier (or ``*``), the next one after a ``.``; None when
    the tokens there are not such a name.
    """
    found: list[Token] = []
    while len(found) < count and index < len(tokens):
        token = tokens[index]
        if token.value is None and token.text != "*":
            return None
        found.append(token)
        if len(found) < count:
            if index + 1 >= len(tokens) or tokens[index + 1].text != ".":
                return None
            index += 2
    return found if len(found) == count else None
