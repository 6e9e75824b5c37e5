"""The table file formats xpz reads and writes, and the file name suffixes that name them.

One enum, :class:`TableFormat`, serves every reader and writer: spectrum tables
(:mod:`xpz.io.tables`), Gaia ``XP_CONTINUOUS`` tables (:mod:`xpz.io.xp_continuous`),
the redshift catalogue (:mod:`xpz.io.catalog`) and the archive downloads
(:mod:`xpz.io.archive.fetch`).  A writer that supports only some formats keeps a tuple
of the members it accepts (e.g. :data:`xpz.io.catalog.CATALOG_FORMATS`).

>>> TableFormat.from_path("cat.fits.gz"), TableFormat.resolve("x.dat", "csv")
(<TableFormat.FITS: 'fits'>, <TableFormat.CSV: 'csv'>)
>>> TableFormat.VOTABLE.suffix
'.xml'
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

from xpz.errors import InputError

__all__ = ["PathLike", "TableFormat"]

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

    @property
    def suffix(self) -> str:
        """The ending xpz gives files it writes (``.xml`` for VOTable, as GaiaXPy expects)."""
        return _WRITE_SUFFIX.get(self, self.suffixes[0])

    @classmethod
    def from_path(cls, path: PathLike, *, gzip: bool = False) -> TableFormat:
        """The format given by the file name's suffix.

        With ``gzip``, a gzip-compressed text file ``name.<suffix>.gz`` is
        recognised too (the Gaia archive delivers such files).

        >>> TableFormat.from_path("x.PQ"), TableFormat.from_path("xp.csv.gz", gzip=True)
        (<TableFormat.PARQUET: 'parquet'>, <TableFormat.CSV: 'csv'>)
        """
        name = Path(path).name.lower()
        if gzip and name.endswith(".gz") and not name.endswith(".fits.gz"):
            name = name[:-3]
        for fmt in cls:
            if name.endswith(fmt.suffixes):
                return fmt
        known = ", ".join(s for fmt in cls for s in fmt.suffixes)
        raise InputError(
            f"cannot tell the table format from the suffix (known: {known})", path=path
        )

    @classmethod
    def resolve(
        cls, path: PathLike, format: TableFormat | str | None = None, *, gzip: bool = False
    ) -> TableFormat:
        """``format`` if given (enum or its value, e.g. ``"csv"``), else :meth:`from_path`."""
        if format is None:
            return cls.from_path(path, gzip=gzip)
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
_WRITE_SUFFIX = {TableFormat.VOTABLE: ".xml"}
