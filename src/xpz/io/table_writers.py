"""Format-specific writers behind :func:`xpz.io.tables.write_spectra`.

Each format has a *sink* that receives :class:`~xpz.spectra.Spectra` chunk by
chunk and writes them to a (temporary) path.  CSV and Parquet are written by
pyarrow's streaming writers and HDF5 by growing its datasets, so converting a
large file needs memory for one chunk only; FITS, ECSV and VOTable collect the
chunks and write once at the end.  The first chunk fixes which optional columns
exist; its ``meta`` becomes the file's metadata.
"""

from __future__ import annotations

import abc
import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xpz.io.columns import columns_from_spectra
from xpz.io.table_readers import FITS_META_KEYWORD, META_KEY
from xpz.layout import default_layout
from xpz.spectra import Spectra, concatenate

__all__ = [
    "CsvSink",
    "Sink",
    "EcsvSink",
    "FitsSink",
    "Hdf5Sink",
    "ParquetLayout",
    "ParquetSink",
    "VotableSink",
    "spectra_to_table",
]


class ParquetLayout(enum.Enum):
    """How Parquet files hold the 186 fluxes."""

    #: 186 float32 columns ``flux_0`` .. ``flux_185`` (as in CSV).
    COLUMNS = "columns"
    #: One fixed-size-list column ``flux`` (and ``flux_error``) of 186 float32.
    LIST = "list"


def jsonable(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` as plain JSON types (anything else becomes its ``str``)."""
    return json.loads(json.dumps(dict(meta), default=str))


_SCALAR_DESCRIPTIONS = {
    "z": "spectroscopic redshift",
    "source_id": "Gaia DR3 source_id",
    "phot_g_mean_mag": "Gaia G-band mean magnitude",
    "flag": "xpz quality bits (xpz.spectra.Flag)",
}


def spectra_to_table(spectra: Spectra):  # -> astropy.table.Table
    """``spectra`` as an astropy Table with units (e-/s, mag) and column descriptions.

    Columns follow :func:`xpz.io.columns.column_order`; ``meta`` is the spectra's.
    """
    import astropy.units as u
    from astropy.table import Table

    wavelength = default_layout().wavelength
    bands = np.where(default_layout().is_bp, "BP", "RP")
    table = Table(meta=jsonable(spectra.meta))
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


def _columns_signature(spectra: Spectra) -> tuple[bool, ...]:
    return tuple(
        getattr(spectra, name) is not None for name in ("z", "phot_g_mean_mag", "flux_error")
    )


class Sink(abc.ABC):
    """Base: remembers the first chunk's columns and refuses chunks with other columns."""

    def __init__(self, path: Path, parquet_layout: ParquetLayout) -> None:
        self.path = path
        self.parquet_layout = parquet_layout
        self.started = False
        self._signature: tuple[bool, ...] = ()

    def write(self, spectra: Spectra) -> None:
        signature = _columns_signature(spectra)
        if not self.started:
            self.start(spectra)
            self.started, self._signature = True, signature
        elif signature != self._signature:
            raise ValueError("every chunk must have the same optional columns as the first")
        self.append(spectra)

    @abc.abstractmethod
    def start(self, spectra: Spectra) -> None:
        """Prepare the file for chunks like ``spectra`` (first chunk only)."""

    @abc.abstractmethod
    def append(self, spectra: Spectra) -> None:
        """Add one chunk."""

    @abc.abstractmethod
    def close(self, *, complete: bool) -> None:
        """Finish the file (``complete=False``: only release it, it will be deleted)."""


def _arrow_table(spectra: Spectra, layout: ParquetLayout):  # -> pyarrow.Table
    import pyarrow as pa

    columns = columns_from_spectra(spectra)
    if layout is ParquetLayout.COLUMNS:
        return pa.table({name: np.ascontiguousarray(v) for name, v in columns.items()})
    out = {}
    for name, values in columns.items():
        if name in ("flux_0", "flux_error_0"):
            prefix = name[: -len("_0")]
            block = getattr(spectra, prefix)
            out[prefix] = pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), block.shape[1])
        elif not name.startswith("flux"):
            out[name] = values
    return pa.table(out)


class CsvSink(Sink):
    """Plain CSV in Table 1 column order (no metadata)."""

    def start(self, spectra: Spectra) -> None:
        import pyarrow.csv as pacsv

        schema = _arrow_table(spectra[:0], ParquetLayout.COLUMNS).schema
        self._writer = pacsv.CSVWriter(self.path, schema)

    def append(self, spectra: Spectra) -> None:
        self._writer.write_table(_arrow_table(spectra, ParquetLayout.COLUMNS))

    def close(self, *, complete: bool) -> None:
        if self.started:
            self._writer.close()


class ParquetSink(Sink):
    """Parquet with metadata in the schema.

    Row groups hold at most :attr:`ROW_GROUP_ROWS` rows (about 12 MB of float32
    flux), so that streaming readers need little memory.
    """

    ROW_GROUP_ROWS = 16_384

    def start(self, spectra: Spectra) -> None:
        import pyarrow.parquet as pq

        schema = _arrow_table(spectra[:0], self.parquet_layout).schema
        meta = {META_KEY.encode(): json.dumps(jsonable(spectra.meta)).encode()}
        self._schema = schema.with_metadata(meta)
        self._writer = pq.ParquetWriter(self.path, self._schema)

    def append(self, spectra: Spectra) -> None:
        table = _arrow_table(spectra, self.parquet_layout)
        self._writer.write_table(
            table.replace_schema_metadata(self._schema.metadata), row_group_size=self.ROW_GROUP_ROWS
        )

    def close(self, *, complete: bool) -> None:
        if self.started:
            self._writer.close()


class Hdf5Sink(Sink):
    """HDF5 group ``/spectra`` with one growing dataset per column; metadata as attribute."""

    FIELDS = ("z", "flux", "source_id", "phot_g_mean_mag", "flag", "flux_error")

    def start(self, spectra: Spectra) -> None:
        import h5py

        self._file = h5py.File(self.path, "w")
        group = self._file.create_group("spectra")
        group.attrs[META_KEY] = json.dumps(jsonable(spectra.meta))
        self._datasets = {}
        for name in self.FIELDS:
            values = getattr(spectra, name)
            if values is not None:
                shape = (0, *values.shape[1:])
                chunks = (min(max(len(spectra), 1), 4096), *values.shape[1:])
                dataset = group.create_dataset(
                    name,
                    shape=shape,
                    maxshape=(None, *values.shape[1:]),
                    dtype=values.dtype,
                    chunks=chunks,
                )
                if name.startswith("flux"):
                    dataset.attrs["unit"] = "e-/s"
                self._datasets[name] = dataset

    def append(self, spectra: Spectra) -> None:
        for name, dataset in self._datasets.items():
            start = dataset.shape[0]
            dataset.resize(start + len(spectra), axis=0)
            dataset[start:] = getattr(spectra, name)

    def close(self, *, complete: bool) -> None:
        if self.started:
            self._file.close()


class _WholeTableSink(Sink):
    """Formats written in one go (astropy): collect the chunks, write on close."""

    def start(self, spectra: Spectra) -> None:
        self._parts: list[Spectra] = []

    def append(self, spectra: Spectra) -> None:
        self._parts.append(spectra)

    def close(self, *, complete: bool) -> None:
        if self.started and complete:
            self.write_whole(concatenate(self._parts))

    @abc.abstractmethod
    def write_whole(self, spectra: Spectra) -> None:
        """Write all rows at once."""


def _table_without_electron_units(spectra: Spectra):
    """:func:`spectra_to_table` for FITS and VOTable, whose unit standards lack electrons.

    The unit stays in each flux column's description.
    """
    table = spectra_to_table(spectra)
    for column in table.itercols():
        if column.name.startswith("flux"):
            column.unit = None
    return table


class FitsSink(_WholeTableSink):
    """FITS binary table; metadata as JSON in header keyword ``XPZMETA``."""

    def write_whole(self, spectra: Spectra) -> None:
        table = _table_without_electron_units(spectra)
        table.meta = {FITS_META_KEYWORD: json.dumps(jsonable(spectra.meta))}
        table.write(self.path, format="fits")


class EcsvSink(_WholeTableSink):
    """ECSV with units, descriptions and metadata in its YAML header."""

    def write_whole(self, spectra: Spectra) -> None:
        spectra_to_table(spectra).write(self.path, format="ascii.ecsv")


class VotableSink(_WholeTableSink):
    """VOTable (TABLEDATA); metadata as JSON in an ``INFO`` element."""

    def write_whole(self, spectra: Spectra) -> None:
        from astropy.io.votable import from_table, writeto
        from astropy.io.votable.tree import Info

        table = _table_without_electron_units(spectra)
        table["flag"] = table["flag"].astype(np.int64)  # VOTable has no unsigned 32-bit type
        votable = from_table(table)
        votable.get_first_table().infos.append(
            Info(name=META_KEY, value=json.dumps(jsonable(spectra.meta)))
        )
        writeto(votable, str(self.path))
