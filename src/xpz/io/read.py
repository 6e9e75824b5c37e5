"""Read spectra of either kind, sampled 186-pixel tables or Gaia XP_CONTINUOUS, in one place.

xpz reads two kinds of input (:class:`InputKind`):

* **sampled** spectrum tables, ``flux_0`` .. ``flux_185`` in e-/s (:mod:`xpz.io.tables`);
* Gaia DR3 **XP_CONTINUOUS** tables of basis-function coefficients
  (:mod:`xpz.io.xp_continuous`), sampled on the 186-pixel layout with
  :func:`xpz.xp.sampling.xp_to_spectra`.

In the style of :mod:`astropy.io.registry`, :func:`identify_kind` asks each
reader's ``identify(columns)`` whether it recognises the table's column names
(a file's names come from its header only, :class:`~xpz.io.headers.HeaderColumns`);
a table no reader claims is a sampled table, whose reader then says which
columns are missing.  :func:`read_input` and :func:`iter_input` dispatch on
the kind and apply the *same* checks on labelled input to both kinds
(:func:`xpz.io.labels.check_labels`: ``z`` present; for training, ``z``
within :data:`xpz.layout.Z_RANGE` and every flux finite).

>>> import tempfile, pathlib, numpy as np
>>> from xpz.io.tables import write_spectra
>>> from xpz.spectra import Spectra
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.parquet"
>>> _ = write_spectra(Spectra(flux=np.ones((3, 186)), z=[0.1, 0.2, 0.3]), path)
>>> identify_kind(path), len(read_input(path, training=True))
(<InputKind.SAMPLED: 'sampled'>, 3)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Container, Iterator
from pathlib import Path
from typing import Any

from xpz.io import tables, xp_continuous, xp_sampled
from xpz.io.formats import PathLike, TableFormat
from xpz.io.headers import HeaderColumns
from xpz.io.labels import check_labels
from xpz.spectra import Spectra
from xpz.xp.sampling import xp_to_spectra

__all__ = ["XP_CHUNK_DIVISOR", "InputKind", "identify_kind", "iter_input", "read_input"]

#: An XP_CONTINUOUS row holds 3,080 numbers (a sampled row about 190) and its
#: conversion with errors needs float64 work arrays, so XP files read with their
#: errors are read this many times fewer rows at a time: ``xpz predict`` then peaks
#: at 0.71 GiB on XP Parquet at the default 20,000 rows
#: (``benchmarks/predict_memory.py --xp``).  Without errors a row holds 110 numbers,
#: and XP files are read ``chunk_rows`` at a time.
XP_CHUNK_DIVISOR = 8


class InputKind(enum.Enum):
    """The kinds of spectrum input xpz reads."""

    #: Sampled 186-pixel spectra, ``flux_0`` .. ``flux_185`` (:mod:`xpz.io.tables`).
    SAMPLED = "sampled"
    #: Gaia DR3 XP_CONTINUOUS coefficients (:mod:`xpz.io.xp_continuous`).
    XP_CONTINUOUS = "xp_continuous"


#: Each non-default kind, its reader's ``identify`` and the file formats it reads.
_IDENTIFIERS: tuple[
    tuple[InputKind, Callable[[Container[str]], bool], Collection[TableFormat]], ...
] = ((InputKind.XP_CONTINUOUS, xp_continuous.identify, xp_continuous.FORMATS),)


def identify_kind(
    source: Any, format: TableFormat | str | None = None, *, name: str | None = None
) -> InputKind:
    """The kind of ``source``: a path (only its header is read), an astropy Table or a DataFrame.

    ``format`` overrides a file's suffix, as for the readers; ``name`` names an
    in-memory table in errors.

    Raises
    ------
    InputError
        For a product of the Gaia archive that xpz does not read (the sampled
        ``XP_SAMPLED`` spectra, :mod:`xpz.io.xp_sampled`), naming the file and
        what xpz reads instead.
    """
    if _is_path(source):
        fmt = TableFormat.resolve(source, format, gzip=True)
        columns: Container[str] = HeaderColumns(source, fmt)
    else:
        fmt = None
        columns = set(map(str, getattr(source, "colnames", None) or getattr(source, "columns", [])))
    if xp_sampled.identify(columns):
        raise xp_sampled.refusal(str(source) if fmt is not None else name or _table_name(source))
    for kind, identify, formats in _IDENTIFIERS:
        if (fmt is None or fmt in formats) and identify(columns):
            return kind
    return InputKind.SAMPLED


def read_input(
    source: Any,
    format: TableFormat | str | None = None,
    *,
    require_z: bool = False,
    training: bool = False,
    name: str = "<table>",
    flux_error: bool = True,
) -> Spectra:
    """Spectra from a file or an in-memory table of either :class:`InputKind`.

    Parameters
    ----------
    source : path, astropy.table.Table or pandas.DataFrame
        Sampled spectra (e-/s) or Gaia XP_CONTINUOUS rows.
    format : TableFormat or str, optional
        A file's format, when its suffix does not tell.
    require_z : bool
        Fail if there is no redshift column ``z`` (evaluation).
    training : bool
        Training data: implies ``require_z``; every ``z`` finite and within
        :data:`xpz.layout.Z_RANGE`, every flux finite.  Otherwise rows with
        NaN/inf fluxes are kept and flagged :attr:`xpz.spectra.Flag.NONFINITE_FLUX`.
    name : str
        Names an in-memory sampled table in error messages.
    flux_error : bool
        Propagate XP_CONTINUOUS coefficient errors to flux errors; False skips
        that step (most of the conversion time) and leaves ``flux_error`` None,
        for models that read fluxes only.  Sampled files are then read without
        their ``flux_error`` columns; in-memory sampled tables keep them.

    Raises
    ------
    InputError
        Bad input, naming the file (or table), rows and column.
    """
    kind = identify_kind(source, format, name=name)
    if kind is InputKind.XP_CONTINUOUS:
        xp = xp_continuous.read_xp_continuous(source, format, errors=flux_error)
        spectra, where = xp_to_spectra(xp, errors=flux_error), xp.origin
    elif _is_path(source):
        spectra = tables.read_spectra(source, format, flux_error=flux_error)
        where = str(source)
    else:
        spectra, where = tables.spectra_from_table(source, source=name), name
    check_labels(spectra.z, spectra.flux, source=where, require_z=require_z, training=training)
    return spectra


def iter_input(
    path: PathLike,
    chunk_rows: int = 100_000,
    format: TableFormat | str | None = None,
    *,
    require_z: bool = False,
    training: bool = False,
    flux_error: bool = True,
) -> Iterator[Spectra]:
    """:func:`read_input` of a file in chunks of at most ``chunk_rows`` rows.

    CSV and Parquet files stream, sampled or XP_CONTINUOUS, with memory bounded
    by the chunk size; FITS, ECSV and VOTable files are read whole and then cut
    into chunks.  XP_CONTINUOUS files read with flux errors are read
    :data:`XP_CHUNK_DIVISOR` times fewer rows at a time.  Errors name rows of the whole file.  ``flux_error``
    is as for :func:`read_input`.
    """
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    parts: Iterator[Spectra]
    if identify_kind(path, format) is InputKind.XP_CONTINUOUS:
        xp_rows = max(1, chunk_rows // XP_CHUNK_DIVISOR) if flux_error else chunk_rows
        chunks = xp_continuous.iter_xp_continuous(path, format, xp_rows, errors=flux_error)
        parts = (xp_to_spectra(x, errors=flux_error) for x in chunks)
    else:
        parts = tables.iter_spectra(path, chunk_rows, format, flux_error=flux_error)
    first_row = 0
    for part in parts:
        check_labels(
            part.z,
            part.flux,
            source=str(path),
            first_row=first_row,
            require_z=require_z,
            training=training,
        )
        first_row += len(part)
        if 0 < len(part) <= chunk_rows:
            yield part
            continue
        for start in range(0, len(part), chunk_rows):  # a file read whole
            yield part[start : start + chunk_rows]


def _table_name(source: Any) -> str:
    return f"<{type(source).__name__}>"


def _is_path(source: Any) -> bool:
    return isinstance(source, (str, Path)) or hasattr(source, "__fspath__")
