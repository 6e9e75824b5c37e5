"""Read and write spectrum tables: CSV, Parquet, FITS, ECSV, HDF5 and VOTable.

The column conventions are described in :mod:`xpz.io.columns` (the
dissertation's Table 1: ``z``, ``flux_0`` .. ``flux_185``, plus optional
``source_id``, ``phot_g_mean_mag``, ``flag`` and ``flux_error_<i>``).  Every
reader goes through :func:`xpz.io.columns.spectra_from_columns`, so a bad file
gives an :class:`~xpz.errors.InputError` naming the file, row(s) and column.

The file's metadata (``layout_version``, provenance) is stored where the format
allows it: FITS header keyword ``XPZMETA``, ECSV meta, Parquet schema metadata,
HDF5 attributes and a VOTable ``INFO`` element; plain CSV has none.  HDF5 files
hold one dataset per column in the group ``/spectra``, with 2-D ``flux`` and
``flux_error`` datasets.

>>> import tempfile, pathlib, numpy as np
>>> from xpz.spectra import Spectra, concatenate
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.ecsv"
>>> spectra = Spectra(flux=np.ones((2, 186)), source_id=[2**60, 7], z=[0.1, 0.2])
>>> write_spectra(spectra, path).name
'tiny.ecsv'
>>> back = read_spectra(path, training=True)
>>> back.source_id.tolist(), back.meta["source_file"] == str(path)
([1152921504606846976, 7], True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from xpz.errors import InputError
from xpz.io import table_readers as readers
from xpz.io import table_writers as writers
from xpz.io.atomic import atomic_path
from xpz.io.columns import known_column, spectra_from_columns
from xpz.io.formats import PathLike, TableFormat
from xpz.io.source_ids import SeenIds
from xpz.io.table_readers import table_columns
from xpz.io.table_writers import ParquetLayout, spectra_to_table
from xpz.layout import LAYOUT_VERSION
from xpz.spectra import Spectra, concatenate

__all__ = [
    "ParquetLayout",
    "SpectraWriter",
    "iter_spectra",
    "read_spectra",
    "spectra_from_table",
    "spectra_to_table",
    "write_spectra",
]

_READERS = {
    TableFormat.CSV: readers.read_csv_chunks,
    TableFormat.PARQUET: readers.read_parquet_chunks,
    TableFormat.FITS: readers.read_fits_chunks,
    TableFormat.ECSV: readers.read_ecsv_chunks,
    TableFormat.HDF5: readers.read_hdf5_chunks,
    TableFormat.VOTABLE: readers.read_votable_chunks,
}

# ---------------------------------------------------------------- reading


def read_spectra(
    path: PathLike,
    format: TableFormat | str | None = None,
    *,
    require_z: bool = False,
    training: bool = False,
    flux_error: bool = True,
) -> Spectra:
    """Read a whole spectrum table.

    Parameters
    ----------
    path : path
        The file; its suffix gives the format unless ``format`` is given.
    format : TableFormat or str, optional
        Overrides the suffix.
    require_z : bool
        Fail if the table has no ``z`` column.
    training : bool
        Training data: implies ``require_z``; every ``z`` must be finite and in
        :data:`xpz.layout.Z_RANGE` and every flux finite.  Otherwise rows with NaN/inf fluxes are
        kept and flagged :attr:`xpz.spectra.Flag.NONFINITE_FLUX`.
    flux_error : bool
        False: the ``flux_error`` columns are not read (``flux_error`` is
        None), for models that read fluxes only.

    Returns
    -------
    Spectra
        ``meta`` holds the file's metadata, ``source_file`` and, when the table
        has no ``source_id``, ``source_id_generated`` (ids are then 0..N-1).
    """
    fmt = TableFormat.resolve(path, format)
    parts = list(_spectra_chunks(Path(path), fmt, None, require_z, training, flux_error))
    return parts[0] if len(parts) == 1 else concatenate(parts)


def iter_spectra(
    path: PathLike,
    chunk_rows: int = 100_000,
    format: TableFormat | str | None = None,
    *,
    require_z: bool = False,
    training: bool = False,
    flux_error: bool = True,
) -> Iterator[Spectra]:
    """Read a spectrum table in chunks of ``chunk_rows`` rows (the last may be shorter).

    CSV, Parquet and HDF5 are streamed, so memory stays bounded by the chunk
    size; FITS, ECSV and VOTable are read whole and then sliced.  Checks and
    ``flux_error`` are those of :func:`read_spectra`; errors name rows of the
    whole file, and a ``source_id`` repeated in different chunks is found too.
    Generated ids (no ``source_id`` column) are the file's row numbers.
    """
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    fmt = TableFormat.resolve(path, format)
    return _spectra_chunks(Path(path), fmt, int(chunk_rows), require_z, training, flux_error)


def _spectra_chunks(
    path: Path,
    fmt: TableFormat,
    chunk_rows: int | None,
    require_z: bool,
    training: bool,
    flux_error: bool = True,
) -> Iterator[Spectra]:
    if not path.is_file():
        raise InputError("no such file", path=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path=path)
    keep = known_column if flux_error else functools.partial(known_column, flux_error=False)
    chunks = _READERS[fmt](path, chunk_rows, keep)
    seen, row = SeenIds(), 0
    while True:
        try:
            file_meta, columns = next(chunks)
        except StopIteration:
            break
        except InputError:
            raise
        except Exception as exc:  # any library failure on a bad file becomes an InputError
            first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
            raise InputError(
                f"cannot read as {fmt.value} (corrupt, truncated or another format?): {first_line}",
                path=path,
            ) from exc
        meta = {**_checked_meta(file_meta, path), "source_file": str(path)}
        part = spectra_from_columns(
            columns,
            source=str(path),
            first_row=row,
            require_z=require_z,
            training=training,
            meta=meta,
        )
        if "source_id_generated" not in part.meta and part.source_id is not None:
            seen.add(part.source_id, first_row=row, source=str(path))
        row += len(part)
        yield part
    if row == 0:
        raise InputError("the table has no data rows", path=path)


def _checked_meta(meta: Mapping[str, Any], source: PathLike) -> dict[str, Any]:
    """File metadata, refusing data made for another pixel layout."""
    version = meta.get("layout_version", LAYOUT_VERSION)
    if version != LAYOUT_VERSION:
        raise InputError(
            f"written for pixel layout {version!r}, but this xpz uses {LAYOUT_VERSION!r}",
            path=source,
        )
    return dict(meta)


# ------------------------------------------------------- astropy and pandas


def spectra_from_table(
    table: Any,
    *,
    source: str = "<table>",
    require_z: bool = False,
    training: bool = False,
) -> Spectra:
    """Spectra from an astropy Table or a pandas DataFrame (checks as :func:`read_spectra`).

    ``source`` names the table in error messages.  An astropy Table's ``meta``
    (a DataFrame's ``attrs``) becomes the spectra's metadata.
    """
    if hasattr(table, "colnames"):  # astropy Table
        columns, meta = table_columns(table), dict(table.meta)
    elif hasattr(table, "columns") and hasattr(table, "to_numpy"):  # pandas DataFrame
        columns = {str(name): table[name].to_numpy() for name in table.columns}
        meta = dict(getattr(table, "attrs", {}))
    else:
        raise TypeError(f"expected an astropy Table or a pandas DataFrame, got {type(table)}")
    return spectra_from_columns(
        columns,
        source=source,
        require_z=require_z,
        training=training,
        meta=_checked_meta(meta, source),
    )


# ---------------------------------------------------------------- writing


def write_spectra(
    spectra: Spectra,
    path: PathLike,
    format: TableFormat | str | None = None,
    *,
    parquet_layout: ParquetLayout | str = ParquetLayout.COLUMNS,
) -> Path:
    """Write ``spectra`` atomically (nothing appears under ``path`` if writing fails).

    ``format`` overrides the suffix; ``parquet_layout`` picks 186 flux columns or
    one list column for Parquet.  Returns ``path``.
    """
    with SpectraWriter(path, format, parquet_layout=parquet_layout) as writer:
        writer.write(spectra)
    return Path(path)


class SpectraWriter:
    """Write spectra to one file chunk by chunk; use as a context manager.

    The file appears under ``path``, complete, when the ``with`` block ends
    without error (and not at all otherwise).  CSV, Parquet and HDF5 are written
    as the chunks come; FITS, ECSV and VOTable are written at the end.  All
    chunks must have the same optional columns; the first chunk's ``meta`` is
    stored as the file's metadata.

    >>> import tempfile, pathlib, numpy as np
    >>> from xpz.spectra import Spectra
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "two.parquet"
    >>> with SpectraWriter(path) as writer:
    ...     writer.write(Spectra(flux=np.ones((2, 186)), source_id=[1, 2]))
    ...     writer.write(Spectra(flux=np.ones((1, 186)), source_id=[3]))
    >>> read_spectra(path).source_id.tolist(), writer.rows_written
    ([1, 2, 3], 3)
    """

    def __init__(
        self,
        path: PathLike,
        format: TableFormat | str | None = None,
        *,
        parquet_layout: ParquetLayout | str = ParquetLayout.COLUMNS,
    ) -> None:
        self.path = Path(path)
        self.format = TableFormat.resolve(path, format)
        self.parquet_layout = ParquetLayout(parquet_layout)
        self.rows_written = 0

    def __enter__(self) -> SpectraWriter:
        self._atomic = atomic_path(self.path)
        self._sink = _SINKS[self.format](self._atomic.__enter__(), self.parquet_layout)
        return self

    def write(self, spectra: Spectra) -> None:
        """Append the rows of ``spectra``."""
        self._sink.write(spectra)
        self.rows_written += len(spectra)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        try:
            self._sink.close(complete=exc_type is None)
        except BaseException as error:
            self._atomic.__exit__(type(error), error, error.__traceback__)
            raise
        return self._atomic.__exit__(exc_type, exc, tb)


_SINKS: dict[TableFormat, Callable[[Path, ParquetLayout], writers.Sink]] = {
    TableFormat.CSV: writers.CsvSink,
    TableFormat.PARQUET: writers.ParquetSink,
    TableFormat.FITS: writers.FitsSink,
    TableFormat.ECSV: writers.EcsvSink,
    TableFormat.HDF5: writers.Hdf5Sink,
    TableFormat.VOTABLE: writers.VotableSink,
}
