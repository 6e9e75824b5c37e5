"""Gaia ``source_id`` values must be unique within a file; every reader checks it the same way.

A file read in chunks is checked across chunks too: :class:`SeenIds` keeps the
ids seen so far.

>>> import numpy as np
>>> seen = SeenIds()
>>> seen.add(np.array([5, 7]), first_row=0, source="a.csv")
>>> seen.add(np.array([9, 5]), first_row=2, source="a.csv")
Traceback (most recent call last):
...
xpz.errors.InputError: a.csv: column 'source_id', rows 0, 3: duplicate source_id 5 (rows share one id)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError

__all__ = ["SeenIds"]


class SeenIds:
    """``source_id`` values seen in the chunks of one file so far, to find duplicates.

    Kept as a sorted int64 array with the row of each id (16 bytes per row).
    """

    def __init__(self) -> None:
        self._ids = np.empty(0, np.int64)
        self._rows = np.empty(0, np.int64)

    def add(self, source_id: NDArray[np.int64], *, first_row: int, source: str) -> None:
        """Record one chunk's ids; raise InputError if one repeats in it or an earlier chunk."""
        ids = np.concatenate([self._ids, source_id])
        rows = np.concatenate([self._rows, first_row + np.arange(len(source_id))])
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
        repeated = np.flatnonzero(ids[1:] == ids[:-1])
        if repeated.size:
            value = ids[repeated[0]]
            raise InputError(
                f"duplicate source_id {value} (rows share one id)",
                path=source,
                rows=rows[ids == value].tolist(),
                column="source_id",
            )
        self._ids, self._rows = ids, rows
