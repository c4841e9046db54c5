"""Progress of a long step, as units done out of a total.

On a terminal the step is one line, rewritten in place as units finish;
elsewhere (a log file, a CI job) it is a line each time another tenth of
the units is done, so that the output stays short whatever the count.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO

STEPS = 10
"""Lines a step prints when the output is not a terminal (one per tenth)."""

SHOWN_LINES = 20
"""Items a message lists, one a line, before it says how many more there are."""


def room(count: int, shown: int) -> int:
    """How many of ``count`` items a message shows before "and N more".

    ``shown``, or every item when only one more would be left: "and 1
    more" would hide an item in the room its mention takes.
    """
    return count if count == shown + 1 else shown


def listed(lines: list[str], shown: int = SHOWN_LINES) -> str:
    """Items for a message, one a line: the first few, then how many more.

    Lines after the first are indented by two spaces; the caller writes the
    first line's indent. Past the ``room`` for ``shown`` items, a last line
    says ``... and N more``.
    """
    shown = room(len(lines), shown)
    more = f"\n  ... and {len(lines) - shown} more" if len(lines) > shown else ""
    return "\n  ".join(lines[:shown]) + more


def spilled(statements: list[str], path: Path, shown: int = SHOWN_LINES) -> list[str]:
    """Statements for a message: each one when they fit, else the file holding them.

    Hundreds of statements (a grant per table and role) would bury the
    message they belong to: past ``shown`` they are written to ``path``,
    one a line and ready for ``psql -f``, and the one line returned names
    the file and how many it holds.
    """
    if len(statements) <= shown:
        return statements
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{s.strip()}\n" for s in statements), encoding="utf-8")
    return [f"the {len(statements)} statements written to {path} (psql -f {path})"]


def some(items: list[str], shown: int = SHOWN_LINES) -> str:
    """Items for a sentence, comma-separated: the first few, then how many more.

    "a, b and 3 more (5 in all)" past the ``room`` for ``shown`` items;
    every item when they fit.
    """
    fits = room(len(items), shown)
    if len(items) <= fits:
        return ", ".join(items)
    return (
        f"{', '.join(items[:fits])} and {len(items) - fits} more ({len(items)} in all)"
    )


def counted(number: int, thing: str) -> str:
    """A number of things in words: ``1 table``, ``2 tables``."""
    return f"{number} {thing}{'' if number == 1 else 's'}"


class Progress:
    """Counts the units of one step done and shows how far it is.

    Safe to advance from several threads. Nothing is printed until the
    first unit is done, nor for a step of no units.
    """

    def __init__(
        self, label: str, unit: str, total: int = 0, stream: TextIO | None = None
    ) -> None:
        """Prepare the display of a step.

        Args:
            label: What the step is, e.g. "dbt build".
            unit: What is counted, plural, e.g. "nodes".
            total: How many units the step has (``start`` may give it later).
            stream: Where to write (default: standard output at the time).
        """
        self.label = label
        self.unit = unit
        self.total = total
        self.done = 0
        self._stream = stream
        self._lock = threading.Lock()
        self._shown_steps = 0
        self._open_line = False

    @property
    def stream(self) -> TextIO:
        """Where the progress is written."""
        return self._stream or sys.stdout

    def _terminal(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def start(self, total: int) -> None:
        """Set how many units the step has."""
        with self._lock:
            self.total = total

    def line(self) -> str:
        """The progress as one line, e.g. ``dbt build: 40/197 nodes``."""
        return f"{self.label}: {self.done}/{self.total} {self.unit}"

    def advance(self, units: int = 1) -> None:
        """Count units done and show the progress if it moved far enough."""
        with self._lock:
            self.done += units
            if self.total <= 0:
                return
            if self._terminal():
                self.stream.write(f"\r{self.line()}")
                self.stream.flush()
                self._open_line = True
                return
            step = min(self.done, self.total) * STEPS // self.total
            if step > self._shown_steps:
                self._shown_steps = step
                print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """End the step's line on a terminal; print anything else after it."""
        with self._lock:
            if self._open_line:
                self.stream.write("\n")
                self.stream.flush()
                self._open_line = False
