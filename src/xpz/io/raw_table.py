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

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.io.formats import TableFormat

__all__ = [
    "RawTable",
    "array_column",
    "first_line",
    "integer_column",
    "iter_tables",
    "load_table",
    "scalar_column",
]


@dataclass(frozen=True)
class RawTable:
    """A table as loaded: column name -> per-row values, plus where it came from.

    A chunk of a longer file has ``first_row`` > 0: its row 0 is that row of
    the file, and :meth:`error` reports rows of the file.
    """

    columns: Mapping[str, Sequence[Any] | NDArray]
    n_rows: int
    origin: str
    first_row: int = 0

    def error(
        self, problem: str, *, rows: Sequence[int] | None = None, column: str | None = None
    ) -> InputError:
        """An :class:`~xpz.errors.InputError` naming this table's file, its rows and ``column``.

        >>> str(RawTable({}, 5, "xp.csv", first_row=100).error("bad", rows=[2], column="c"))
        "xp.csv: column 'c', row 102: bad"
        """
        file_rows = None if rows is None else [self.first_row + int(r) for r in rows]
        return InputError(problem, path=self.origin, rows=file_rows, column=column)


def load_table(source: Any, format: str | TableFormat | None = None) -> RawTable:
    """Load ``source`` (a path, a pandas DataFrame or an astropy Table) into a :class:`RawTable`.

    A file that the format's reader cannot parse (corrupt, truncated, another
    format) raises :class:`~xpz.errors.InputError` naming the file.
    """
    return next(iter_tables(source, format))


def iter_tables(
    source: Any,
    format: str | TableFormat | None = None,
    chunk_rows: int | None = None,
    columns: Collection[str] | None = None,
) -> Iterator[RawTable]:
    """:func:`load_table` in chunks of at most ``chunk_rows`` rows (``None``: one chunk).

    CSV and Parquet files are streamed, so memory is bounded by the chunk size;
    other formats and in-memory tables come whole, as one chunk.  At least one
    chunk is yielded, with no rows for an empty table.  ``columns`` (None: all)
    are the only columns loaded, of those the table has; the others are not
    read at all from CSV and Parquet files.
    """
    if chunk_rows is not None and int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    keep = _keep(columns)
    if _is_dataframe(source):
        yield _from_pandas(source, "<DataFrame>", keep=keep)
        return
    if _is_astropy_table(source):
        yield _from_astropy(source, "<Table>", keep=keep)
        return
    path = Path(source)
    fmt = TableFormat.resolve(path, format, gzip=True)
    if not path.is_file():
        raise InputError("no such file", path=path)
    chunks, first_row = _read_file(path, fmt, chunk_rows, keep), 0
    while True:
        try:
            loaded = next(chunks)
        except StopIteration:
            return
        except InputError:
            raise
        except Exception as exc:  # each library has its own exceptions for a corrupt file
            raise InputError(
                f"cannot read it as {fmt.value} (corrupt, truncated or another format?):"
                f" {first_line(exc)}",
                path=path,
            ) from exc
        convert = _from_pandas if _is_dataframe(loaded) else _from_astropy
        table = convert(loaded, str(path), first_row, keep=keep)
        first_row += table.n_rows
        yield table


def _keep(columns: Collection[str] | None) -> Callable[[str], bool]:
    """Whether to load a column of that name: all of them, or those in ``columns``."""
    if columns is None:
        return lambda name: True
    wanted = frozenset(columns)
    return lambda name: name in wanted


def first_line(exc: BaseException, limit: int = 200) -> str:
    """A library's exception in one short line (some put whole table rows in the message).

    >>> first_line(ValueError("bad header\\nHeader values: [...]"))
    'bad header'
    """
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_file(
    path: Path, fmt: TableFormat, chunk_rows: int | None, keep: Callable[[str], bool]
) -> Iterator[Any]:
    """The file as pandas DataFrames (CSV, Parquet; streamed) or one astropy Table (the others).

    CSV and Parquet columns that ``keep`` refuses are not read.
    """
    if fmt is TableFormat.CSV:
        import pandas as pd

        options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_filter": False}
        options["usecols"] = keep
        if chunk_rows is None:
            yield pd.read_csv(path, **options)
            return
        empty = True
        with pd.read_csv(path, chunksize=chunk_rows, **options) as reader:
            for frame in reader:
                empty = False
                yield frame
        if empty:  # a header without rows
            yield pd.read_csv(path, nrows=0, **options)
        return
    if fmt is TableFormat.PARQUET:
        import pyarrow.parquet as pq

        # Without pre-buffering, pyarrow keeps only the pages being decoded, not the whole file.
        with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as parquet:
            names = [name for name in parquet.schema_arrow.names if keep(name)]
            if chunk_rows is None:
                yield parquet.read(columns=names).to_pandas()
                return
            empty = True
            for batch in parquet.iter_batches(batch_size=chunk_rows, columns=names):
                empty = False
                yield batch.to_pandas()
            if empty:
                yield parquet.schema_arrow.empty_table().to_pandas()
        return
    from astropy.table import Table

    astropy_format = {
        TableFormat.ECSV: "ascii.ecsv",
        TableFormat.FITS: "fits",
        TableFormat.VOTABLE: "votable",
    }
    if fmt not in astropy_format:
        raise InputError(f"XP_CONTINUOUS tables are not read from {fmt.value} files", path=path)
    yield Table.read(path, format=astropy_format[fmt])


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _is_astropy_table(obj: Any) -> bool:
    return type(obj).__module__.startswith("astropy") and hasattr(obj, "colnames")


def _from_pandas(
    frame: Any, origin: str, first_row: int = 0, *, keep: Callable[[str], bool]
) -> RawTable:
    columns = {}
    for name in frame.columns:
        if not keep(str(name)):
            continue
        series = frame[name]
        if series.dtype.kind in "iufb":
            columns[str(name)] = series.to_numpy()
        else:  # strings, arrays, nullable integers: one Python object per row, NA as None
            values = np.array(series.astype(object).to_numpy(), dtype=object)
            values[series.isna().to_numpy()] = None
            columns[str(name)] = values
    return RawTable(columns, len(frame), origin, first_row)


def _from_astropy(
    table: Any, origin: str, first_row: int = 0, *, keep: Callable[[str], bool]
) -> RawTable:
    columns: dict[str, Any] = {}
    for name in table.colnames:
        if not keep(name):
            continue
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
    return RawTable(columns, len(table), origin, first_row)


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
        raise table.error("not a number", rows=bad, column=name)
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
        raise table.error("missing or not an integer", rows=bad, column=name)
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
        raise table.error("not an array of numbers like '(1.0, 2.0, ...)'", rows=bad, column=name)
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
