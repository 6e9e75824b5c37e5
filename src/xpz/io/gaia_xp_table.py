"""Load Gaia archive tables into plain per-row values, whatever the file format.

The Gaia archive (DataLink, ``astroquery.gaia``) delivers ``XP_CONTINUOUS``
mean spectra as CSV, ECSV, FITS or VOTable, and users keep them as Parquet or
in memory as pandas DataFrames or astropy Tables.  Each format spells arrays
and missing values differently:

========== ================================= ============================
format     an array cell                     a missing band
========== ================================= ============================
CSV        ``"(1.2, 3.4, ...)"`` string      empty field
ECSV       ``"[1.2,3.4,...]"`` JSON string   empty field / ``[]``
FITS       variable-length array (``PD``)    zero-length array, TNULL
VOTable    ``arraysize="*"`` array           empty array, empty ``<TD>``
Parquet    list column                       null
========== ================================= ============================

This module hides those differences: :func:`load_table` returns a
:class:`RawTable` whose cells are plain Python/NumPy values, and
:func:`scalar_column` / :func:`array_column` turn one column into float values
or 1-D arrays, with ``None`` / NaN for a missing value and an
:class:`~xpz.errors.InputError` naming the rows of any malformed cell.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.io.tables import TableFormat

__all__ = [
    "RawTable",
    "TableFormat",
    "array_column",
    "guess_format",
    "has_column",
    "integer_column",
    "load_table",
    "scalar_column",
]


def guess_format(path: str | Path, format: str | TableFormat | None = None) -> TableFormat:
    """The table format of ``path``: ``format`` if given, else from the suffix (``.gz`` ignored).

    >>> guess_format("spectra.csv.gz").value, guess_format("x.dat", "fits").value
    ('csv', 'fits')
    """
    name = Path(path).name
    if format is None and name.lower().endswith(".gz") and not name.lower().endswith(".fits.gz"):
        return TableFormat.from_path(name[:-3])
    return TableFormat.resolve(path, format)


@dataclass(frozen=True)
class RawTable:
    """A table as loaded: column name -> per-row values, plus where it came from."""

    columns: Mapping[str, Sequence[Any] | NDArray]
    n_rows: int
    origin: str


def load_table(source: Any, format: str | TableFormat | None = None) -> RawTable:
    """Load ``source`` (a path, a pandas DataFrame or an astropy Table) into a :class:`RawTable`.

    A file that the format's reader cannot parse (corrupt, truncated, another
    format) raises :class:`~xpz.errors.InputError` naming the file.
    """
    if _is_dataframe(source):
        return _from_pandas(source, "<DataFrame>")
    if _is_astropy_table(source):
        return _from_astropy(source, "<Table>")
    path = Path(source)
    fmt = guess_format(path, format)
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        loaded = _read_file(path, fmt)
    except Exception as exc:  # each library has its own exceptions for a corrupt file
        raise InputError(f"cannot read it as {fmt.value}: {exc}", path=path) from exc
    if _is_dataframe(loaded):
        return _from_pandas(loaded, str(path))
    return _from_astropy(loaded, str(path))


def _read_file(path: Path, fmt: TableFormat) -> Any:
    """The file as a pandas DataFrame (CSV, Parquet) or an astropy Table (the others)."""
    if fmt is TableFormat.CSV:
        import pandas as pd

        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    if fmt is TableFormat.PARQUET:
        import pandas as pd

        return pd.read_parquet(path)
    from astropy.table import Table

    astropy_format = {
        TableFormat.ECSV: "ascii.ecsv",
        TableFormat.FITS: "fits",
        TableFormat.VOTABLE: "votable",
    }
    if fmt not in astropy_format:
        raise InputError(f"XP_CONTINUOUS tables are not read from {fmt.value} files", path=path)
    return Table.read(path, format=astropy_format[fmt])


def has_column(path: str | Path, name: str, format: str | TableFormat | None = None) -> bool:
    """Whether the file at ``path`` has a column ``name``, reading only its header."""
    path = Path(path)
    fmt = guess_format(path, format)
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        if fmt is TableFormat.FITS:
            from astropy.io import fits

            header = fits.getheader(path, 1)
            return name in [header.get(f"TTYPE{i + 1}") for i in range(header.get("TFIELDS", 0))]
        if fmt is TableFormat.PARQUET:
            import pyarrow.parquet as pq

            return name in pq.read_schema(path).names
        text = _header_text(path, fmt)
    except Exception as exc:  # each library has its own exceptions for a corrupt file
        raise InputError(f"cannot read its header as {fmt.value}: {exc}", path=path) from exc
    if fmt is TableFormat.VOTABLE:
        return re.search(rf'name\s*=\s*["\']{re.escape(name)}["\']', text) is not None
    return re.search(rf"(^|[\s,{{:'\"]){re.escape(name)}($|[\s,}}'\"])", text, re.M) is not None


def _header_text(path: Path, fmt: TableFormat) -> str:
    """The text that names the columns: CSV's first line, ECSV's YAML header, VOTable's FIELDs."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    lines = []
    with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
        for line in stream:
            lines.append(line)
            if fmt is TableFormat.VOTABLE and ("<DATA" in line or len(lines) > 10_000):
                break
            if fmt is not TableFormat.VOTABLE and not line.startswith("#"):
                break
    return "".join(lines)


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _is_astropy_table(obj: Any) -> bool:
    return type(obj).__module__.startswith("astropy") and hasattr(obj, "colnames")


def _from_pandas(frame: Any, origin: str) -> RawTable:
    columns = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind in "iufb":
            columns[str(name)] = series.to_numpy()
        else:  # strings, arrays, nullable integers: one Python object per row, NA as None
            values = np.array(series.astype(object).to_numpy(), dtype=object)
            values[series.isna().to_numpy()] = None
            columns[str(name)] = values
    return RawTable(columns, len(frame), origin)


def _from_astropy(table: Any, origin: str) -> RawTable:
    columns: dict[str, Any] = {}
    for name in table.colnames:
        column = table[name]
        if column.dtype.kind == "O" or column.ndim > 1:  # array cells, one object per row
            cells = np.empty(len(column), dtype=object)
            for i, cell in enumerate(column):
                cells[i] = cell
            columns[name] = cells
        elif getattr(column, "mask", None) is not None:
            columns[name] = np.ma.asarray(column)
        else:
            columns[name] = np.asarray(column)
    return RawTable(columns, len(table), origin)


def scalar_column(table: RawTable, name: str) -> NDArray[np.float64]:
    """Column ``name`` as floats; missing values (masked, null, empty, ``nan``) become NaN."""
    values = table.columns[name]
    if isinstance(values, np.ma.MaskedArray):
        if values.dtype.kind in "iufb":
            return np.ma.filled(values.astype(float), np.nan)
        values = np.ma.filled(values.astype(object), None)
    arr = np.asarray(values)
    if arr.dtype.kind in "iufb":
        return arr.astype(float)
    out = np.full(len(arr), np.nan)
    bad = []
    for i, cell in enumerate(arr):
        if _is_missing(cell):
            continue
        try:
            out[i] = float(cell)
        except (TypeError, ValueError):
            bad.append(i)
    if bad:
        raise InputError("not a number", path=table.origin, rows=bad, column=name)
    return out


def integer_column(table: RawTable, name: str) -> NDArray[np.int64]:
    """Column ``name`` as exact 64-bit integers (Gaia ids exceed float precision); no missing values."""
    values = table.columns[name]
    arr = np.asarray(values)
    if arr.dtype.kind in "iu" and not np.ma.is_masked(values):
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        raise InputError(
            "must be integers, but the file stores floats (ids above 2**53 would be wrong)",
            path=table.origin,
            column=name,
        )
    out = np.zeros(len(arr), dtype=np.int64)
    mask = np.ma.getmaskarray(values) if isinstance(values, np.ma.MaskedArray) else None
    bad = []
    for i, cell in enumerate(arr):
        try:
            if (mask is not None and mask[i]) or _is_missing(cell):
                raise ValueError("missing")
            out[i] = int(cell)
        except (TypeError, ValueError, OverflowError):
            bad.append(i)
    if bad:
        raise InputError("missing or not an integer", path=table.origin, rows=bad, column=name)
    return out


def array_column(table: RawTable, name: str) -> list[NDArray[np.float64] | None]:
    """Column ``name`` as one 1-D float array per row, ``None`` where the value is missing.

    Understands ``"(v1, v2, ...)"`` / ``"[v1,v2,...]"`` strings (CSV, ECSV),
    array cells (FITS, VOTable, Parquet, DataFrames) and the formats' ways of
    writing a missing value (empty string or array, null, NaN, mask).
    """
    out: list[NDArray[np.float64] | None] = []
    bad = []
    for i, cell in enumerate(table.columns[name]):
        try:
            out.append(_parse_array_cell(cell))
        except (TypeError, ValueError):
            out.append(None)
            bad.append(i)
    if bad:
        raise InputError(
            "not an array of numbers like '(1.0, 2.0, ...)'",
            path=table.origin,
            rows=bad,
            column=name,
        )
    return out


def _parse_array_cell(cell: Any) -> NDArray[np.float64] | None:
    if type(cell) is np.ndarray and cell.ndim == 1 and cell.dtype.kind in "fiu":
        return cell if cell.size else None  # the common case, kept in its own dtype (fast)
    if _is_missing(cell):
        return None
    if isinstance(cell, str):
        text = cell.strip()
        if len(text) < 2 or text[0] + text[-1] not in ("()", "[]"):
            raise ValueError(f"not an array: {text[:30]!r}")
        inner = text[1:-1].strip()
        return np.array(inner.split(","), dtype=float) if inner else None
    if isinstance(cell, np.ma.MaskedArray):
        if cell.size and np.ma.getmaskarray(cell).all():
            return None
        cell = np.ma.filled(cell.astype(float), np.nan)
    arr = np.asarray(cell, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {arr.shape}")
    return arr if arr.size else None


def _is_missing(cell: Any) -> bool:
    """None, a masked or NA value, an empty string, or a scalar NaN (how pandas spells null)."""
    if cell is None or cell is np.ma.masked:
        return True
    if isinstance(cell, str):
        return not cell.strip()
    if isinstance(cell, (float, np.floating)):
        return bool(np.isnan(cell))
    return type(cell).__name__ in ("NAType", "NaTType")
