"""A spectroscopic redshift catalogue (the labels of ``xpz fetch --labels``), read and checked.

:func:`read_survey` reads the user's catalogue (CSV, ECSV, FITS, VOTable or
Parquet, through :mod:`xpz.io.raw_table`) into a :class:`Survey`: positions
(degrees, ICRS), redshifts, a survey id per row and the columns to carry into
the labelled table.  Bad values are refused with an
:class:`~xpz.errors.InputError` naming the file, the rows and the column:
a missing, non-numeric or non-finite ``ra``/``dec``/``z``, ``ra`` outside
[0, 360], ``dec`` outside [-90, 90], a negative ``z``, a missing or repeated
survey id.  A finite redshift above :data:`xpz.layout.Z_RANGE` is a real
measurement, not an error: such rows are kept and reported by the cross-match
(reason ``z_outside_range``), never sent to the archive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.io.raw_table import RawTable, load_table, scalar_column
from xpz.layout import Z_RANGE

__all__ = ["CATALOGUE_ROW", "RESERVED_COLUMNS", "LabelColumns", "Survey", "read_survey"]

#: The survey-id column of the labelled table when the catalogue names none: its row (0-based).
CATALOGUE_ROW = "catalogue_row"

#: Names the labelled table gives its own columns; a carried column may not take them.
RESERVED_COLUMNS = ("source_id", "z", "separation_arcsec", "phot_g_mean_mag", CATALOGUE_ROW)


@dataclasses.dataclass(frozen=True)
class LabelColumns:
    """Which catalogue columns hold the position, the redshift, the survey id and the extras.

    >>> LabelColumns(carry=("z",))
    Traceback (most recent call last):
    ...
    ValueError: column 'z' is named twice (z, ra, dec, id and carried columns must differ)
    """

    z: str = "z"
    ra: str = "ra"
    dec: str = "dec"
    #: The survey's own id (e.g. SDSS specObjID); None: the catalogue row number.
    id: str | None = None
    carry: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [self.z, self.ra, self.dec, *([self.id] if self.id else []), *self.carry]
        for name in names:
            if not name or not name.strip():
                raise ValueError("column names must not be empty")
            if names.count(name) > 1:
                raise ValueError(
                    f"column {name!r} is named twice (z, ra, dec, id and carried columns must differ)"
                )
        if self.id in RESERVED_COLUMNS:
            raise ValueError(f"the survey id column may not be called {self.id!r}")
        taken = [c for c in self.carry if c in RESERVED_COLUMNS]
        if taken:
            raise ValueError(f"carried column(s) {taken} would clash with the labelled table's own")

    @property
    def id_name(self) -> str:
        """The survey-id column of the labelled table."""
        return self.id or CATALOGUE_ROW

    def to_dict(self) -> dict[str, object]:
        return {
            "z": self.z,
            "ra": self.ra,
            "dec": self.dec,
            "id": self.id,
            "carry": list(self.carry),
        }


@dataclasses.dataclass(frozen=True)
class Survey:
    """A checked redshift catalogue: one entry per catalogue row, in file order."""

    path: Path
    ra: NDArray[np.float64]
    dec: NDArray[np.float64]
    z: NDArray[np.float64]
    ids: NDArray
    """The survey id of each row (int64 or str), unique."""
    columns: LabelColumns
    carry: Mapping[str, NDArray]

    def __len__(self) -> int:
        return len(self.z)

    @property
    def in_z_range(self) -> NDArray[np.bool_]:
        """Rows whose redshift lies within :data:`xpz.layout.Z_RANGE` (the rows cross-matched)."""
        lo, hi = Z_RANGE
        return (self.z >= lo) & (self.z <= hi)


def read_survey(path: str | Path, columns: LabelColumns) -> Survey:
    """Read and check the catalogue at ``path`` (any format :mod:`xpz.io.raw_table` reads)."""
    path = Path(path)
    table = load_table(path)
    if table.n_rows == 0:
        raise table.error("the catalogue has no rows")
    wanted = [columns.z, columns.ra, columns.dec, *([columns.id] if columns.id else [])]
    missing = [c for c in [*wanted, *columns.carry] if c not in table.columns]
    if missing:
        known = ", ".join(sorted(table.columns))
        raise table.error(f"no column(s) {', '.join(missing)} (the catalogue has: {known})")
    ra = _bounded(table, columns.ra, 0.0, 360.0, "degrees in [0, 360]")
    dec = _bounded(table, columns.dec, -90.0, 90.0, "degrees in [-90, 90]")
    z = _bounded(table, columns.z, 0.0, np.inf, "a redshift >= 0")
    ids = np.arange(table.n_rows, dtype=np.int64) if columns.id is None else _ids(table, columns.id)
    carry = {name: _carried(table, name) for name in columns.carry}
    return Survey(path, ra, dec, z, ids, columns, carry)


def _bounded(table: RawTable, name: str, low: float, high: float, what: str) -> NDArray[np.float64]:
    values = scalar_column(table, name)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise table.error("missing, NaN or infinite", rows=bad.tolist(), column=name)
    bad = np.flatnonzero((values < low) | (values > high))
    if bad.size:
        raise table.error(
            f"must be {what} (e.g. {float(values[bad[0]])!r})", rows=bad.tolist(), column=name
        )
    return values


def _ids(table: RawTable, name: str) -> NDArray:
    """The survey ids: int64 when every value is an integer that fits, else strings."""
    raw = table.columns[name]
    mask = np.ma.getmaskarray(raw) if isinstance(raw, np.ma.MaskedArray) else None
    arr = np.asarray(np.ma.filled(raw, 0) if mask is not None else raw)
    missing = mask.copy() if mask is not None else np.zeros(len(arr), bool)
    if arr.dtype.kind == "f":
        missing |= ~np.isfinite(arr)
    elif arr.dtype.kind in "OUS":
        missing |= np.array([not _text(c).strip() for c in arr], dtype=bool)
    if missing.any():
        raise table.error("missing survey id", rows=np.flatnonzero(missing).tolist(), column=name)
    ids: NDArray
    if arr.dtype.kind in "iu":
        ids = arr.astype(np.int64)
    elif arr.dtype.kind == "f":
        raise table.error(
            "survey ids are stored as floats; store them as integers or text", column=name
        )
    else:
        ids = _int_or_text(arr)
    _refuse_repeats(table, ids, name)
    return ids


def _int_or_text(values: Sequence[object] | NDArray) -> NDArray:
    """Text ids as int64 when each is a decimal integer within int64, else as text.

    >>> _int_or_text(["12", "-3"]).dtype.kind, _int_or_text(["16000000000000000000"]).dtype.kind
    ('i', 'U')
    """
    text = np.array([_text(v).strip() for v in values])
    try:
        numbers = np.array([int(v) for v in text], dtype=np.int64)
    except (ValueError, OverflowError):
        return text
    return numbers


def _refuse_repeats(table: RawTable, ids: NDArray, name: str) -> None:
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        repeated = ids[first[counts > 1]]
        rows = np.flatnonzero(np.isin(ids, repeated))
        raise table.error(
            f"survey id repeated ({len(repeated)} ids, e.g. {repeated[0]!r}); ids must be unique",
            rows=rows.tolist(),
            column=name,
        )


def _carried(table: RawTable, name: str) -> NDArray:
    """A carried column as numbers when it holds numbers, else as text (missing: NaN / '')."""
    raw = table.columns[name]
    values = np.asarray(raw)
    if values.ndim != 1:
        raise table.error("only scalar columns can be carried", column=name)
    if values.dtype.kind in "iub" and not np.ma.is_masked(raw):
        return values
    try:
        return scalar_column(table, name)
    except InputError:
        filled = np.ma.filled(raw, "") if isinstance(raw, np.ma.MaskedArray) else raw
        return np.array([_text(v) for v in filled])


def _text(value: object) -> str:
    """A cell as text: FITS strings come as bytes, missing ones as None.

    >>> _text(b"A"), _text(None), _text(7)
    ('A', '', '7')
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
