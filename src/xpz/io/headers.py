"""Which columns a table file has, from its header alone (no data rows are read).

:mod:`xpz.io.read` uses this to tell the kinds of input apart before reading
one: :class:`HeaderColumns` behaves like the set of a file's column names, so
that a reader's ``identify(columns)`` works the same on a file and on an
in-memory table.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = path.write_text("source_id,flux_0\\n1,2.0\\n")
>>> "flux_0" in HeaderColumns(path), "z" in HeaderColumns(path)
(True, False)
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Container
from pathlib import Path

from xpz.errors import InputError
from xpz.io.formats import PathLike, TableFormat
from xpz.io.raw_table import first_line

__all__ = ["HeaderColumns", "has_column"]


class HeaderColumns(Container[str]):
    """The column names of the file at ``path``; ``name in columns`` reads its header."""

    def __init__(self, path: PathLike, format: TableFormat | str | None = None) -> None:
        self.path = Path(path)
        self.format = TableFormat.resolve(path, format, gzip=True)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and has_column(self.path, name, self.format)


def has_column(path: PathLike, name: str, format: TableFormat | str | None = None) -> bool:
    """Whether the file at ``path`` has a column ``name``, reading only its header.

    A header that cannot be parsed raises :class:`~xpz.errors.InputError` naming the file.
    """
    path = Path(path)
    fmt = TableFormat.resolve(path, format, gzip=True)
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
        if fmt is TableFormat.HDF5:
            return name in _hdf5_names(path)
        text = _header_text(path, fmt)
    except Exception as exc:  # each library has its own exceptions for a corrupt file
        raise InputError(
            f"cannot read its header as {fmt.value}: {first_line(exc)}", path=path
        ) from exc
    if fmt is TableFormat.VOTABLE:
        return re.search(rf'name\s*=\s*["\']{re.escape(name)}["\']', text) is not None
    return re.search(rf"(^|[\s,{{:'\"]){re.escape(name)}($|[\s,}}'\"])", text, re.M) is not None


def _hdf5_names(path: Path) -> list[str]:
    """Dataset names of group ``/spectra`` (or of the root), as the HDF5 reader finds them."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f["spectra"] if isinstance(f.get("spectra"), h5py.Group) else f
        return [str(key) for key in group]


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
