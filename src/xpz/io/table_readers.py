"""Format-specific readers behind :func:`xpz.io.tables.iter_spectra`.

Each reader takes a path, a chunk size (``None``: the whole file at once) and
which columns to read (``keep``, a test of the name: by default
:func:`xpz.io.columns.known_column`, the columns xpz knows), and yields
``(file_metadata, columns)`` pairs, ``columns`` mapping column names to numpy
arrays for the next rows.  CSV, Parquet and HDF5 columns that ``keep`` refuses
are not read at all.  Validation happens later, in
:func:`xpz.io.columns.spectra_from_columns`; readers only turn parser failures
they can pin down (a CSV cell that is not a number, a line with too few fields)
into :class:`~xpz.errors.InputError` with row and column.

CSV and Parquet are streamed with pyarrow (CSV numbers are parsed straight to
float32 / int64, so ``source_id`` never passes through a float); HDF5 is read
slice by slice; FITS, ECSV and VOTable are read whole and sliced.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from xpz.errors import InputError
from xpz.io.columns import SCALAR_COLUMNS, known_column
from xpz.layout import N_PIXELS

#: Whether to read a column, by its name.
ColumnTest = Callable[[str], bool]

__all__ = [
    "FITS_META_KEYWORD",
    "META_KEY",
    "read_csv_chunks",
    "read_ecsv_chunks",
    "read_fits_chunks",
    "read_hdf5_chunks",
    "read_parquet_chunks",
    "read_votable_chunks",
    "table_columns",
]

#: Metadata key (Parquet, HDF5, VOTable INFO, ECSV) holding xpz metadata as JSON.
META_KEY = "xpz_meta"
#: FITS header keyword holding xpz metadata as JSON.
FITS_META_KEYWORD = "XPZMETA"

Chunks = Iterator[tuple[dict[str, Any], dict[str, Any]]]

_CSV_BLOCK_BYTES = 1 << 20  # pyarrow parses CSV in blocks of this size (rows are ~4-8 kB)


def _decode_meta(text: str | bytes | None) -> dict[str, Any]:
    return {} if text is None else dict(json.loads(text))


def _arrow_type(name: str):
    import pyarrow as pa

    if name in SCALAR_COLUMNS:
        return pa.float64() if SCALAR_COLUMNS[name] is np.float64 else pa.int64()
    return pa.float32()


# --------------------------------------------------------------------- CSV


def read_csv_chunks(path: Path, chunk_rows: int | None, keep: ColumnTest = known_column) -> Chunks:
    """Stream a CSV file whose first line is the header."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = _csv_header(path)
    wanted = [name for name in names if keep(name)]
    convert = pacsv.ConvertOptions(
        column_types={name: _arrow_type(name) for name in wanted},
        include_columns=wanted or names[:1],
    )
    row = 0
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
            convert_options=convert,
        )
        for table in _rebatch(reader, chunk_rows):
            yield {}, arrow_columns(table, path, row)
            row += table.num_rows
    except pa.ArrowInvalid as exc:
        raise _locate_csv_problem(path, names, str(exc), keep) from exc


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            names = next(csv.reader(f), [])
    except UnicodeDecodeError:
        raise InputError("is not a text (CSV) file", path=path) from None
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"column names appear more than once: {', '.join(repeated)}", path=path)
    return names


def _locate_csv_problem(
    path: Path, names: list[str], message: str, keep: ColumnTest = known_column
) -> InputError:
    """Find the rows behind a pyarrow CSV error by re-reading the file (error path only)."""
    import pyarrow.csv as pacsv

    nulls = set(pacsv.ConvertOptions().null_values)
    hint = re.search(r"column #(\d+)", message)
    read = [i for i, n in enumerate(names) if keep(n)]
    suspects = [int(hint.group(1))] if hint else read
    wrong_length: list[int] = []
    bad_values: dict[str, list[int]] = {}
    # errors="replace": a byte that is not UTF-8 (latin-1 text) is then a bad value of its row
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        records = csv.reader(f)
        next(records, None)
        for row, record in enumerate(records):
            if len(record) != len(names):
                wrong_length.append(row)
                continue
            for i in suspects:
                if not _cell_ok(record[i], names[i], nulls):
                    bad_values.setdefault(names[i], []).append(row)
    if wrong_length:
        return InputError(
            f"line has a different number of fields than the header's {len(names)}"
            " (file truncated or malformed)",
            path=path,
            rows=wrong_length,
        )
    for name, rows in bad_values.items():
        kind = "an integer" if name in ("source_id", "flag") else "a number"
        return InputError(f"value is not {kind}", path=path, rows=rows, column=name)
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")
    return InputError(f"cannot read as CSV: {one_line}", path=path)


def _cell_ok(raw: str, name: str, nulls: set[str]) -> bool:
    """Whether pyarrow reads the field ``raw`` of column ``name``: a number, or a null.

    A line break in a field (an unclosed quote) is never a number.
    """
    if "\n" in raw or "\r" in raw:
        return False
    text = raw.strip()
    if text in nulls:
        return True
    kind = int if name in ("source_id", "flag") else float
    try:
        kind(text)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------- Parquet


def read_parquet_chunks(
    path: Path, chunk_rows: int | None, keep: ColumnTest = known_column
) -> Chunks:
    """Stream a Parquet file by record batches (flux as 186 columns or one list column)."""
    import pyarrow.parquet as pq

    # Without pre-buffering, pyarrow keeps only the pages being decoded, not whole row groups.
    with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as parquet:
        schema = parquet.schema_arrow
        meta = _decode_meta((schema.metadata or {}).get(META_KEY.encode()))
        wanted = [name for name in schema.names if keep(name)]
        batches = parquet.iter_batches(batch_size=chunk_rows or 65_536, columns=wanted)
        row = 0
        for table in _rebatch(batches, chunk_rows):
            yield meta, arrow_columns(table, path, row)
            row += table.num_rows


def _rebatch(batches: Iterator, chunk_rows: int | None) -> Iterator:
    """Regroup pyarrow record batches into tables of exactly ``chunk_rows`` rows (last: fewer)."""
    import pyarrow as pa

    pending, count = [], 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while chunk_rows and count >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def arrow_columns(table: Any, path: Path, first_row: int) -> dict[str, Any]:
    """Columns of a pyarrow Table as numpy arrays; list columns become (N, 186) blocks.

    Integer columns with nulls become masked arrays (never floats).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        column = column.combine_chunks()
        if (
            pa.types.is_list(column.type)
            or pa.types.is_large_list(column.type)
            or (pa.types.is_fixed_size_list(column.type))
        ):
            out[name] = _list_block(column, name, path, first_row)
        elif pa.types.is_integer(column.type) and column.null_count:
            mask = column.is_null().to_numpy(zero_copy_only=False)
            out[name] = np.ma.MaskedArray(pc.fill_null(column, 0).to_numpy(), mask=mask)
        else:
            out[name] = column.to_numpy(zero_copy_only=False)
    return out


def _list_block(column: Any, name: str, path: Path, first_row: int) -> np.ndarray:
    """A list column as an (N, 186) float32 array; null lists become rows of NaN."""
    import pyarrow.compute as pc

    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    valid = ~np.isnan(lengths.astype(float))
    wrong = np.flatnonzero(valid & (np.nan_to_num(lengths) != N_PIXELS))
    if wrong.size:
        raise InputError(
            f"list must hold {N_PIXELS} values, found {int(lengths[wrong[0]])}",
            path=path,
            rows=(wrong + first_row).tolist(),
            column=name,
        )
    block = np.full((len(column), N_PIXELS), np.nan, np.float32)
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    block[valid] = values.astype(np.float32).reshape(-1, N_PIXELS)
    return block


# -------------------------------------------------------------------- HDF5


def read_hdf5_chunks(path: Path, chunk_rows: int | None, keep: ColumnTest = known_column) -> Chunks:
    """Read an HDF5 file slice by slice.

    Columns are the datasets of group ``/spectra`` (else of the root group), or
    the fields of a single compound (table) dataset there.
    """
    import h5py

    with h5py.File(path, "r") as f:
        group = f["spectra"] if isinstance(f.get("spectra"), h5py.Group) else f
        meta = _decode_meta(group.attrs.get(META_KEY))
        datasets = {k: v for k, v in group.items() if isinstance(v, h5py.Dataset)}
        columns = {k: v for k, v in datasets.items() if keep(k)}
        tables = [v for v in datasets.values() if v.dtype.names]
        if not columns and len(tables) == 1:
            n = len(tables[0])

            def read(rows: slice) -> dict[str, Any]:
                values = tables[0][rows]
                return {k: values[k] for k in values.dtype.names if keep(k)}

        else:
            n = min((len(v) for v in columns.values()), default=0)

            def read(rows: slice) -> dict[str, Any]:
                return {k: v[rows] for k, v in columns.items()}

        if n == 0:
            yield meta, read(slice(0, 0))
        step = chunk_rows or n
        for start in range(0, n, step):
            yield meta, read(slice(start, start + step))


# ------------------------------------------------- FITS, ECSV, VOTable (astropy)


def table_columns(table: Any) -> dict[str, np.ndarray]:
    """Columns of an astropy Table as numpy arrays (masked where the table masks)."""
    return {
        name: np.ma.MaskedArray(col) if getattr(col, "mask", None) is not None else np.asarray(col)
        for name, col in zip(table.colnames, table.itercols(), strict=True)
    }


def _sliced(table: Any, meta: dict[str, Any], chunk_rows: int | None, keep: ColumnTest) -> Chunks:
    columns = {k: v for k, v in table_columns(table).items() if keep(k)}
    n = len(table)
    if n == 0:
        yield meta, columns
    step = chunk_rows or n
    for start in range(0, n, step):
        yield meta, {k: v[start : start + step] for k, v in columns.items()}


def read_fits_chunks(path: Path, chunk_rows: int | None, keep: ColumnTest = known_column) -> Chunks:
    """Read the first table extension of a FITS file (``.fits.gz`` too)."""
    from astropy.table import Table

    table = Table.read(path, format="fits", mask_invalid=False)
    meta = _decode_meta(table.meta.get(FITS_META_KEYWORD))
    yield from _sliced(table, meta, chunk_rows, keep)


def read_ecsv_chunks(path: Path, chunk_rows: int | None, keep: ColumnTest = known_column) -> Chunks:
    """Read an ECSV file; its ``meta`` is the file metadata."""
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    yield from _sliced(table, dict(table.meta), chunk_rows, keep)


def read_votable_chunks(
    path: Path, chunk_rows: int | None, keep: ColumnTest = known_column
) -> Chunks:
    """Read the first table of a VOTable; xpz metadata is in an ``INFO`` element."""
    from astropy.io.votable import parse_single_table

    votable = parse_single_table(str(path))
    infos = {info.name: info.value for info in votable.infos}
    meta = _decode_meta(infos.get(META_KEY))
    yield from _sliced(votable.to_table(), meta, chunk_rows, keep)
