"""Exceptions that xpz raises for bad input, with the file, row and column at fault."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

__all__ = ["InputError", "XpzError"]


class XpzError(Exception):
    """Base class: an error the user can act on (the CLI prints it without a traceback)."""


class InputError(XpzError, ValueError):
    """Bad input data.

    The message names the file, the row(s) (0-based data rows, not counting a
    header) and the column where the problem is.

    >>> str(InputError("flux is not a number", path="a.csv", rows=[3, 7], column="flux_5"))
    "a.csv: column 'flux_5', rows 3, 7: flux is not a number"
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | PathLike[str] | None = None,
        rows: Sequence[int] | None = None,
        column: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.rows = None if rows is None else [int(r) for r in rows]
        self.column = column
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:10])
            more = f" and {len(self.rows) - 10} more" if len(self.rows) > 10 else ""
            where.append(f"row{'s' if len(self.rows) > 1 else ''} {shown}{more}")
        prefix = f"{self.path}: " if self.path else ""
        return f"{prefix}{', '.join(where)}{': ' if where else ''}{self.problem}"
