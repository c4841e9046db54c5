"""Narrow a checksum mismatch down to the rows that differ.

Two sides hold what should be the same rows: a relation, its columns (in
order, compared by position) and its key columns. The key space is cut into
segments at quantiles of one side's keys; each segment's row count and
content checksum are compared and only differing segments are cut again,
until a segment is small enough to fetch and compare row by row, as
data-diff does. Tables without a key are compared with EXCEPT ALL.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pgshift.checksum import checksum_expression, column_values, row_expression
from pgshift.sqlident import quote_ident

logger = logging.getLogger(__name__)

SEGMENTS = 16
FETCH_BELOW = 256


@dataclass
class Side:
    """One side of a comparison.

    Attributes:
        label: How reports name it, e.g. "final table users".
        cursor: An open psycopg2 cursor on its database.
        relation: The relation, quoted (``"public"."users"``).
        columns: (column name, data type) in comparison order.
        key: The key column names (a subset of columns), or empty.
    """

    label: str
    cursor: Any
    relation: str
    columns: list[tuple[str, str]]
    key: list[str]

    def key_sql(self) -> str:
        """The key as an SQL row (or single column)."""
        cols = ", ".join(f"t.{quote_ident(k)}" for k in self.key)
        return f"({cols})" if len(self.key) > 1 else cols

    def where(self, low: tuple[Any, ...] | None, high: tuple[Any, ...] | None) -> str:
        """A filter for low < key <= high (open ends when None)."""
        parts = []
        if low is not None:
            parts.append(f"{self.key_sql()} > {self._literal(low)}")
        if high is not None:
            parts.append(f"{self.key_sql()} <= {self._literal(high)}")
        return " and ".join(parts) or "true"

    def _literal(self, value: tuple[Any, ...]) -> str:
        types = dict(self.columns)
        items = [
            self.cursor.mogrify("%s", (v,)).decode() + f"::{types[k]}"
            for k, v in zip(self.key, value, strict=True)
        ]
        return f"({', '.join(items)})" if len(items) > 1 else items[0]

    def figures(self, where: str) -> tuple[int, str]:
        """Row count and content checksum of the rows matching a filter."""
        self.cursor.execute(
            f"select count(*), {checksum_expression(self.columns)} "
            f"from {self.relation} as t where {where}"
        )
        count, checksum = self.cursor.fetchone()
        return int(count), str(checksum)

    def rows(self, where: str) -> list[tuple[Any, ...]]:
        """(key values, row text, each column's text) per matching row."""
        keys = ", ".join(f"t.{quote_ident(k)}::text" for k in self.key) or "null"
        values = ", ".join(
            f"{v}::text"
            # In UTC, as the checksum reads it, and said so: a literal the
            # reader can paste whatever their session's time zone.
            + (
                f" || case when isfinite({v}) then '+00' else '' end"
                if v.endswith(" at time zone 'UTC')")
                else ""
            )
            for v in column_values(self.columns)
        )
        self.cursor.execute(
            f"select {keys}, {row_expression(self.columns)}, "
            f"array[{values or 'null'}]::text[] "
            f"from {self.relation} as t where {where}"
        )
        return [(*row[:-1], tuple(row[-1])) for row in self.cursor.fetchall()]

    def bounds(self, where: str, parts: int) -> list[tuple[Any, ...]]:
        """Upper key bounds cutting the matching rows into about ``parts`` segments.

        Each bound is the last key of its segment in the key's order: no
        aggregate is needed (uuid, boolean and bytea have no ``max``), and a
        key of several columns is bounded as a whole, as rows compare.
        """
        keys = ", ".join(f"t.{quote_ident(k)}" for k in self.key)
        cut = ", ".join(f"k{i}" for i in range(len(self.key)))
        last = ", ".join(f"k{i} desc" for i in range(len(self.key)))
        self.cursor.execute(
            f"select distinct on (part) {cut} from ("
            f"select {', '.join(f'{quote_ident(k)} as k{i}' for i, k in enumerate(self.key))}, "
            f"ntile({parts}) over (order by {keys}) as part "
            f"from {self.relation} as t where {where}) as cut "
            f"order by part, {last}"
        )
        return [tuple(r) for r in self.cursor.fetchall()]


@dataclass
class Difference:
    """One row that differs between the two sides.

    Attributes:
        key: The row's key columns (the checked side's names) to their
            values as text (empty for keyless tables).
        expected: The row as the reference side holds it, or None if missing.
        found: The row as the checked side holds it, or None if missing.
        changed: Column (the checked side's name) to (expected, found) text,
            for the columns that differ in a row both sides hold.
        copies: How many copies of the one expected row the checked side
            holds, for a duplicated row.
        hidden: The columns whose names say they hold credentials
            (``is_secret``): their values are never shown.
        columns: The row's column names (the checked side's), in order,
            when ``expected_values``/``found_values`` are given.
        expected_values: Each column's text in the expected row, if any.
        found_values: Each column's text in the found row, if any.
    """

    key: dict[str, str]
    expected: str | None
    found: str | None
    changed: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    copies: int = 0
    hidden: frozenset[str] = frozenset()
    columns: tuple[str, ...] = ()
    expected_values: tuple[str | None, ...] | None = None
    found_values: tuple[str | None, ...] | None = None

    def describe(self) -> str:
        """One line for the report.

        A row found under its key names only the columns that differ, with
        both values; a row missing or unexpected under its key, only the
        key. Whole rows are shown only for a table without a key, where
        nothing else tells the row. A value of a column named as a
        credential (a password hash, a token, a secret) is never shown: its
        length stands for it, and a key's first characters, by which the
        row can be found.
        """
        key = ", ".join(
            f"{k}={_hidden_key(v) if k in self.hidden else _key_value(v)}"
            for k, v in self.key.items()
        )
        if not key:
            expected = _cut(self._row(self.expected, self.expected_values))
            found = _cut(self._row(self.found, self.found_values))
            if self.found is None:
                return f"(no key): missing (expected {expected})"
            if self.expected is None:
                return f"(no key): unexpected row {found}"
            return f"(no key): expected {expected}, found {found}"
        if self.copies:
            return f"{key}: {self.copies} copies of the one row expected"
        if self.found is None:
            return f"{key}: missing"
        if self.expected is None:
            return f"{key}: unexpected row"
        if not self.changed:
            expected = _cut(self._row(self.expected, self.expected_values))
            found = _cut(self._row(self.found, self.found_values))
            return f"{key}: expected {expected}, found {found}"
        return f"{key}: " + "; ".join(
            f"{column} expected {_hidden(was)}, found {_hidden(now)}"
            if column in self.hidden
            else _change(column, was, now)
            for column, (was, now) in self.changed.items()
        )

    def _row(
        self, text: str | None, values: tuple[str | None, ...] | None
    ) -> str | None:
        """A whole row's text, its credentials' values left out."""
        if text is None or not self.hidden or values is None:
            return text
        return (
            "("
            + ", ".join(
                _hidden(value) if column in self.hidden else _shown(value)
                for column, value in zip(self.columns, values, strict=True)
            )
            + ")"
        )


_SECRET = re.compile(
    r"pass(word|wd|phrase)|secret|token|api_?key|private_?key|access_?key"
    r"|credential|(^|_)(pwd|salt|otp)(_|$)",
    re.IGNORECASE,
)
"""Column names that say the column holds a credential."""


def is_secret(column: str) -> bool:
    """Whether a column's name says it holds a credential.

    ``password``, ``password_hash``, ``encryptedPassword``, ``api_key``,
    ``refresh_token``, ``client_secret``, ``salt``: the report and the
    screen show such a column's values by their length only, as pgshift
    never prints a password.
    """
    return _SECRET.search(column) is not None


def _hidden(value: str | None) -> str:
    """A credential's value: NULL, or its length alone."""
    if value is None:
        return "NULL"
    return f"(hidden, {len(value):,} characters)"


def _hidden_key(value: str | None) -> str:
    """A credential that is a row's key: its first characters and its length."""
    if value is None or len(value) < 16:
        return _hidden(value)
    return f"{_shown(value[:4])[:-1]}…' (hidden, {len(value):,} characters)"


SHOWN_CHARACTERS = 200
"""Longer values are shown in part: around their first difference."""

_AROUND = 40
"""Characters shown on each side of a long value's first difference."""


def _shown(value: str | None) -> str:
    """A column's text as SQL writes a literal, NULL as NULL."""
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


_PLAIN_KEY = re.compile(r"[\w.:@+-]+")
"""A key value shown as it is: no quote, comma, space or backslash in it."""


def _key_value(value: str | None) -> str:
    """A key's value: as it is when plain (``id=7``), else a SQL literal.

    A value holding ``, b=`` or a quote would otherwise read as another
    column of the key.
    """
    if value is not None and _PLAIN_KEY.fullmatch(value):
        return value
    return _shown(value)


def _cut(text: str | None) -> str | None:
    """A whole row's text, its beginning only when it is long."""
    if text is None or len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}… ({len(text):,} characters)"


def _change(column: str, was: str | None, now: str | None) -> str:
    """One changed column: both values, or around where they part when long.

    A changed 60 kB post is not printed twice in full: the report and the
    screen show the characters around the first difference, the lengths
    and where it is.
    """
    longest = max(len(v) for v in (was, now) if v is not None)
    if longest <= SHOWN_CHARACTERS:
        return f"{column} expected {_shown(was)}, found {_shown(now)}"
    if was is None or now is None:
        return f"{column} expected {_part(was, 0)}, found {_part(now, 0)}"
    at = len(os.path.commonprefix([was, now]))
    return (
        f"{column} expected {_part(was, at)}, found {_part(now, at)}, "
        f"first difference at character {at + 1:,}"
    )


def _part(value: str | None, at: int) -> str:
    """The literal of a value's characters around ``at``, and its length."""
    if value is None:
        return "NULL"
    if len(value) <= SHOWN_CHARACTERS:
        return _shown(value)
    start = max(0, at - _AROUND)
    end = min(len(value), at + _AROUND)
    return (
        ("…" if start else "")
        + _shown(value[start:end])
        + ("…" if end < len(value) else "")
        + f" ({len(value):,} characters)"
    )


@dataclass
class DiffResult:
    """The differing rows found, up to a limit.

    Attributes:
        differences: The rows.
        segments_checked: How many key segments were checksummed.
        more: Whether rows beyond the limit differ too.
    """

    differences: list[Difference] = field(default_factory=list)
    segments_checked: int = 0
    more: bool = False

    def lines(self) -> list[str]:
        """One line per differing row, and one saying when more differ."""
        out = [d.describe() for d in self.differences]
        if self.more:
            out.append(
                f"more rows differ: only the first {len(self.differences)} are shown"
            )
        return out


def diff(reference: Side, checked: Side, limit: int = 10) -> DiffResult:
    """Find rows that differ between two sides.

    Args:
        reference: The side holding the expected rows.
        checked: The side being verified.
        limit: Stop after this many differing rows.

    Returns:
        The differing rows (at most ``limit``).
    """
    result = DiffResult()
    if not reference.key:
        _compare_rows(reference, checked, "true", "true", result, limit)
        return result
    _bisect(reference, checked, None, None, result, limit)
    return result


def _bisect(
    reference: Side,
    checked: Side,
    low: tuple[Any, ...] | None,
    high: tuple[Any, ...] | None,
    result: DiffResult,
    limit: int,
) -> None:
    where_ref, where_chk = reference.where(low, high), checked.where(low, high)
    if len(result.differences) >= limit:
        if not result.more:
            result.more = reference.figures(where_ref) != checked.figures(where_chk)
        return
    result.segments_checked += 1
    ref_figures = reference.figures(where_ref)
    chk_figures = checked.figures(where_chk)
    if ref_figures == chk_figures:
        return
    if max(ref_figures[0], chk_figures[0]) <= FETCH_BELOW:
        _compare_rows(reference, checked, where_ref, where_chk, result, limit)
        return
    side = reference if ref_figures[0] >= chk_figures[0] else checked
    cuts = side.bounds(side.where(low, high), SEGMENTS)
    edges = [low, *cuts[:-1], high]
    if len(cuts) <= 1:
        _compare_rows(reference, checked, where_ref, where_chk, result, limit)
        return
    for seg_low, seg_high in zip(edges, edges[1:], strict=False):
        _bisect(reference, checked, seg_low, seg_high, result, limit)


def _compare_rows(
    reference: Side,
    checked: Side,
    where_ref: str,
    where_chk: str,
    result: DiffResult,
    limit: int,
) -> None:
    reference_rows = reference.rows(where_ref)
    checked_rows = checked.rows(where_chk)
    values = {row[:-1]: row[-1] for row in [*reference_rows, *checked_rows]}
    expected = Counter(row[:-1] for row in reference_rows)
    found = Counter(row[:-1] for row in checked_rows)
    missing = expected - found
    extra = found - expected
    by_key_missing = {row[:-1]: row[-1] for row in missing.elements()}
    by_key_extra = {row[:-1]: row[-1] for row in extra.elements()}
    # Keys are named as the changed columns are: by the checked side's
    # (the target's) names, the ones a person looks the row up by there.
    names = checked.key
    columns = tuple(column for column, _ in checked.columns)
    hidden = frozenset(column for column in columns if is_secret(column))
    for key in sorted(set(by_key_missing) | set(by_key_extra), key=str):
        if len(result.differences) >= limit:
            result.more = True
            return
        labels = dict(zip(names, key, strict=False)) if names else {}
        was, now = by_key_missing.get(key), by_key_extra.get(key)
        changed = {}
        if names and was is not None and now is not None:
            changed = {
                column: (before, after)
                for (column, _), before, after in zip(
                    checked.columns,
                    values[(*key, was)],
                    values[(*key, now)],
                    strict=True,
                )
                if before != after
            }
        result.differences.append(
            Difference(
                labels,
                was,
                now,
                changed,
                hidden=hidden,
                columns=columns,
                expected_values=None if was is None else values[(*key, was)],
                found_values=None if now is None else values[(*key, now)],
            )
        )
    if not names:
        return
    # A duplicated row: same key and text on both sides, more copies on one.
    for row, copies in extra.items():
        if row[:-1] in by_key_missing:
            continue
        if row in expected and len(result.differences) >= limit:
            result.more = True
            return
        if row in expected:
            result.differences.append(
                Difference(
                    dict(zip(names, row[:-1], strict=False)),
                    row[-1],
                    row[-1],
                    copies=copies + expected[row],
                    hidden=hidden,
                )
            )
