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
>>> from xpz.spectra import Spectra
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.ecsv"
>>> spectra = Spectra(flux=np.ones((2, 186)), source_id=[2**60, 7], z=[0.1, 0.2])
>>> write_spectra(spectra, path).name
'tiny.ecsv'
>>> back = read_spectra(path, training=True)
>>> back.source_id.tolist(), back.meta["source_file"] == str(path)
([1152921504606846976, 7], True)
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xpz.errors import InputError
from xpz.io import table_readers as readers
from xpz.io.atomic import atomic_path
from xpz.io.columns import SeenIds, columns_from_spectra, spectra_from_columns
from xpz.io.table_readers import FITS_META_KEYWORD, META_KEY, table_columns
from xpz.layout import LAYOUT_VERSION, default_layout
from xpz.spectra import Spectra

__all__ = [
    "ParquetLayout",
    "TableFormat",
    "iter_spectra",
    "read_spectra",
    "spectra_from_table",
    "spectra_to_table",
    "write_spectra",
]

PathLike = str | os.PathLike[str]


class TableFormat(enum.Enum):
    """File formats xpz reads and writes; the value is the name used on the command line."""

    CSV = "csv"
    PARQUET = "parquet"
    FITS = "fits"
    ECSV = "ecsv"
    HDF5 = "hdf5"
    VOTABLE = "votable"

    @property
    def suffixes(self) -> tuple[str, ...]:
        """File name endings recognised for this format (lower case)."""
        return _SUFFIXES[self]

    @classmethod
    def from_path(cls, path: PathLike) -> TableFormat:
        """The format given by the file name's suffix.

        >>> TableFormat.from_path("cat.fits.gz"), TableFormat.from_path("x.PQ")
        (<TableFormat.FITS: 'fits'>, <TableFormat.PARQUET: 'parquet'>)
        """
        name = Path(path).name.lower()
        for fmt in cls:
            if name.endswith(fmt.suffixes):
                return fmt
        known = ", ".join(s for fmt in cls for s in fmt.suffixes)
        raise InputError(
            f"cannot tell the table format from the suffix (known: {known})", path=path
        )

    @classmethod
    def resolve(cls, path: PathLike, format: TableFormat | str | None = None) -> TableFormat:
        """``format`` if given (enum or its value, e.g. ``"csv"``), else :meth:`from_path`."""
        if format is None:
            return cls.from_path(path)
        if isinstance(format, cls):
            return format
        try:
            return cls(str(format).lower())
        except ValueError:
            known = ", ".join(fmt.value for fmt in cls)
            raise InputError(
                f"unknown table format {format!r} (known: {known})", path=path
            ) from None


_SUFFIXES = {
    TableFormat.CSV: (".csv",),
    TableFormat.PARQUET: (".parquet", ".pq"),
    TableFormat.FITS: (".fits", ".fit", ".fits.gz"),
    TableFormat.ECSV: (".ecsv",),
    TableFormat.HDF5: (".h5", ".hdf5"),
    TableFormat.VOTABLE: (".vot", ".votable", ".xml"),
}


class ParquetLayout(enum.Enum):
    """How Parquet files hold the 186 fluxes."""

    #: 186 float32 columns ``flux_0`` .. ``flux_185`` (as in CSV).
    COLUMNS = "columns"
    #: One fixed-size-list column ``flux`` (and ``flux_error``) of 186 float32.
    LIST = "list"


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
        [0, 0.6] and every flux finite.  Otherwise rows with NaN/inf fluxes are
        kept and flagged :attr:`xpz.spectra.Flag.NONFINITE_FLUX`.

    Returns
    -------
    Spectra
        ``meta`` holds the file's metadata, ``source_file`` and, when the table
        has no ``source_id``, ``source_id_generated`` (ids are then 0..N-1).
    """
    from xpz.spectra import concatenate

    parts = list(
        _spectra_chunks(Path(path), TableFormat.resolve(path, format), None, require_z, training)
    )
    return parts[0] if len(parts) == 1 else concatenate(parts)


def iter_spectra(
    path: PathLike,
    chunk_rows: int = 100_000,
    format: TableFormat | str | None = None,
    *,
    require_z: bool = False,
    training: bool = False,
) -> Iterator[Spectra]:
    """Read a spectrum table in chunks of ``chunk_rows`` rows (the last may be shorter).

    CSV, Parquet and HDF5 are streamed, so memory stays bounded by the chunk
    size; FITS, ECSV and VOTable are read whole and then sliced.  Checks are
    those of :func:`read_spectra`; errors name rows of the whole file, and a
    ``source_id`` repeated in different chunks is found too.  Generated ids
    (no ``source_id`` column) are the file's row numbers.
    """
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    fmt = TableFormat.resolve(path, format)
    return _spectra_chunks(Path(path), fmt, int(chunk_rows), require_z, training)


def _spectra_chunks(
    path: Path, fmt: TableFormat, chunk_rows: int | None, require_z: bool, training: bool
) -> Iterator[Spectra]:
    if not path.is_file():
        raise InputError("no such file", path=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path=path)
    chunks = _READERS[fmt](path, chunk_rows)
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


def spectra_to_table(spectra: Spectra):  # -> astropy.table.Table
    """``spectra`` as an astropy Table with units (e-/s, mag) and column descriptions.

    Columns follow :func:`xpz.io.columns.column_order`; ``meta`` is the spectra's.
    """
    import astropy.units as u
    from astropy.table import Table

    wavelength = default_layout().wavelength
    bands = np.where(default_layout().is_bp, "BP", "RP")
    table = Table(meta=_jsonable(spectra.meta))
    for name, values in columns_from_spectra(spectra).items():
        table[name] = values
        if name.startswith("flux_error_"):
            table[name].unit = u.electron / u.s
            table[name].description = f"1-sigma error of flux_{name.rsplit('_', 1)[1]}, e-/s"
        elif name.startswith("flux_"):
            i = int(name.rsplit("_", 1)[1])
            table[name].unit = u.electron / u.s
            table[name].description = f"{bands[i]} flux at {wavelength[i]:.1f} nm, e-/s"
        else:
            table[name].unit = u.mag if name == "phot_g_mean_mag" else None
            table[name].description = _SCALAR_DESCRIPTIONS[name]
    return table


_SCALAR_DESCRIPTIONS = {
    "z": "spectroscopic redshift",
    "source_id": "Gaia DR3 source_id",
    "phot_g_mean_mag": "Gaia G-band mean magnitude",
    "flag": "xpz quality bits (xpz.spectra.Flag)",
}


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


def _jsonable(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` as plain JSON types (anything else becomes its ``str``)."""
    return json.loads(json.dumps(dict(meta), default=str))


# ---------------------------------------------------------------- writing


def write_spectra(
    spectra: Spectra,
    path: PathLike,
    format: TableFormat | str | None = None,
    *,
    parquet_layout: ParquetLayout = ParquetLayout.COLUMNS,
) -> Path:
    """Write ``spectra`` atomically (nothing appears under ``path`` if writing fails).

    ``format`` overrides the suffix; ``parquet_layout`` picks 186 flux columns or
    one list column for Parquet.  Returns ``path``.
    """
    fmt = TableFormat.resolve(path, format)
    writer = _WRITERS[fmt]
    with atomic_path(path) as tmp:
        writer(spectra, tmp, ParquetLayout(parquet_layout))
    return Path(path)


def _write_csv(spectra: Spectra, path: Path, _: ParquetLayout) -> None:
    import pyarrow.csv as pacsv

    pacsv.write_csv(_arrow_table(spectra, ParquetLayout.COLUMNS), path)


def _write_parquet(spectra: Spectra, path: Path, layout: ParquetLayout) -> None:
    import pyarrow.parquet as pq

    table = _arrow_table(spectra, layout)
    meta = {META_KEY.encode(): json.dumps(_jsonable(spectra.meta)).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)


def _arrow_table(spectra: Spectra, layout: ParquetLayout):  # -> pyarrow.Table
    import pyarrow as pa

    columns = columns_from_spectra(spectra)
    if layout is ParquetLayout.COLUMNS:
        return pa.table({name: np.ascontiguousarray(v) for name, v in columns.items()})

    def as_list(block: np.ndarray) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), block.shape[1])

    out = {}
    for name, values in columns.items():
        if name in ("flux_0", "flux_error_0"):
            prefix = name[: -len("_0")]
            out[prefix] = as_list(getattr(spectra, prefix))
        elif not name.startswith("flux"):
            out[name] = values
    return pa.table(out)


def _write_hdf5(spectra: Spectra, path: Path, _: ParquetLayout) -> None:
    import h5py

    fields = ("z", "flux", "source_id", "phot_g_mean_mag", "flag", "flux_error")
    with h5py.File(path, "w") as f:
        group = f.create_group("spectra")
        group.attrs[META_KEY] = json.dumps(_jsonable(spectra.meta))
        for name in fields:
            values = getattr(spectra, name)
            if values is not None:
                group.create_dataset(name, data=values, chunks=values.ndim == 2 or None)
                if name.startswith("flux"):
                    group[name].attrs["unit"] = "e-/s"


def _table_without_electron_units(spectra: Spectra):
    """:func:`spectra_to_table` for FITS and VOTable, whose unit standards lack electrons.

    The unit stays in each flux column's description.
    """
    table = spectra_to_table(spectra)
    for column in table.itercols():
        if column.name.startswith("flux"):
            column.unit = None
    return table


def _write_fits(spectra: Spectra, path: Path, _: ParquetLayout) -> None:
    table = _table_without_electron_units(spectra)
    table.meta = {FITS_META_KEYWORD: json.dumps(_jsonable(spectra.meta))}
    table.write(path, format="fits")


def _write_ecsv(spectra: Spectra, path: Path, _: ParquetLayout) -> None:
    spectra_to_table(spectra).write(path, format="ascii.ecsv")


def _write_votable(spectra: Spectra, path: Path, _: ParquetLayout) -> None:
    from astropy.io.votable import from_table, writeto
    from astropy.io.votable.tree import Info

    table = _table_without_electron_units(spectra)
    table["flag"] = table["flag"].astype(np.int64)  # VOTable has no unsigned 32-bit type
    votable = from_table(table)
    votable.get_first_table().infos.append(
        Info(name=META_KEY, value=json.dumps(_jsonable(spectra.meta)))
    )
    writeto(votable, str(path))


_WRITERS = {
    TableFormat.CSV: _write_csv,
    TableFormat.PARQUET: _write_parquet,
    TableFormat.FITS: _write_fits,
    TableFormat.ECSV: _write_ecsv,
    TableFormat.HDF5: _write_hdf5,
    TableFormat.VOTABLE: _write_votable,
}
