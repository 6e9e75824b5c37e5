"""Read Gaia DR3 ``XP_CONTINUOUS`` mean spectra as the archive delivers them.

The archive stores each BP and RP mean spectrum as 55 basis-function
coefficients with their errors, the upper triangle of their correlation matrix
and the standard deviation of the fit (Gaia DR3 data model,
``xp_continuous_mean_spectrum``).  :func:`read_xp_continuous` reads such a table
from CSV, ECSV, FITS, VOTable or Parquet files, or from a pandas DataFrame or an
astropy Table with the archive's column names, into an
:class:`~xpz.xp.arrays.XPContinuous`; :func:`xpz.xp.sampling.xp_to_spectra`
samples it on the 186-pixel xpz layout.  :func:`identify` tells such a table
from a sampled spectrum table (:mod:`xpz.io.read` asks it).

A source without a BP (or RP) spectrum is kept: its pixels of that band are
NaN and it carries :attr:`Flag.MISSING_BP` (``MISSING_RP``).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xpz.io.formats import TableFormat
from xpz.io.raw_table import (
    RawTable,
    array_column,
    integer_column,
    iter_tables,
    scalar_column,
)
from xpz.io.source_ids import SeenIds
from xpz.layout import Band
from xpz.xp.arrays import XPBand, XPContinuous
from xpz.xp.basis import N_COEFFICIENTS, N_CORRELATIONS

__all__ = [
    "ARCHIVE_BAND_COLUMNS",
    "FORMATS",
    "identify",
    "iter_xp_continuous",
    "read_columns",
    "read_xp_continuous",
]

#: The file formats XP_CONTINUOUS tables are read from (the archive's, and Parquet).
FORMATS = (
    TableFormat.CSV,
    TableFormat.ECSV,
    TableFormat.FITS,
    TableFormat.VOTABLE,
    TableFormat.PARQUET,
)

#: Per-band columns of the archive table, in the archive's order (prefix ``bp_`` / ``rp_``).
ARCHIVE_BAND_COLUMNS = (
    "basis_function_id",
    "degrees_of_freedom",
    "n_parameters",
    "n_measurements",
    "n_rejected_measurements",
    "standard_deviation",
    "chi_squared",
    "coefficients",
    "coefficient_errors",
    "coefficient_correlations",
    "n_relevant_bases",
    "relative_shrinking",
)
_FLUX_BAND_COLUMNS = ("n_parameters", "standard_deviation", "coefficients")
_ERROR_BAND_COLUMNS = ("coefficient_errors", "coefficient_correlations")
#: Other columns xpz reads from an XP_CONTINUOUS table, if it has them.
_OTHER_COLUMNS = ("source_id", "z", "phot_g_mean_mag")


def read_columns(errors: bool = True) -> list[str]:
    """The columns xpz reads from an XP_CONTINUOUS table, with or without the errors.

    >>> read_columns(errors=False)[:4]
    ['source_id', 'z', 'phot_g_mean_mag', 'bp_n_parameters']
    >>> len(read_columns()) - len(read_columns(errors=False))  # errors, correlations per band
    4
    """
    return [*_OTHER_COLUMNS, *_band_columns(errors)]


def _band_columns(errors: bool) -> list[str]:
    """The per-band columns read, with or without the coefficient errors and correlations."""
    names = _FLUX_BAND_COLUMNS + (_ERROR_BAND_COLUMNS if errors else ())
    return [f"{band.value}_{name}" for band in Band for name in names]


def identify(columns: Container[str]) -> bool:
    """Whether a table with these column names holds XP_CONTINUOUS coefficients.

    ``columns`` is any container of names: a table's column list, or
    :class:`xpz.io.headers.HeaderColumns` for a file.

    >>> identify(["source_id", "bp_coefficients"]), identify(["source_id", "flux_0"])
    (True, False)
    """
    return "bp_coefficients" in columns or "rp_coefficients" in columns


def read_xp_continuous(
    source: Any, format: str | TableFormat | None = None, *, errors: bool = True
) -> XPContinuous:
    """Read Gaia DR3 ``XP_CONTINUOUS`` mean spectra from a file or an in-memory table.

    Parameters
    ----------
    source : path, pandas.DataFrame or astropy.table.Table
        A table with the archive's column names (``source_id``, ``bp_coefficients``, ...),
        as delivered by the archive's DataLink service (``INDIVIDUAL`` or ``COMBINED``).
    format : {"csv", "ecsv", "fits", "votable", "parquet"}, optional
        File format; guessed from the suffix when omitted.
    errors : bool
        Read the coefficient errors and correlations (needed for flux errors).
        False leaves them out (:attr:`~xpz.xp.arrays.XPBand.has_errors` is
        False), for fluxes only: from CSV and Parquet files those columns,
        most of the file, are then not read at all.

    Raises
    ------
    InputError
        Missing columns, malformed arrays, a coefficient count other than
        ``n_parameters`` or 55, a repeated ``source_id``, or a file that cannot
        be parsed; the message names the file, rows and column.
    """
    return next(iter_xp_continuous(source, format, None, errors=errors))


def iter_xp_continuous(
    source: Any,
    format: str | TableFormat | None = None,
    chunk_rows: int | None = 20_000,
    *,
    errors: bool = True,
) -> Iterator[XPContinuous]:
    """:func:`read_xp_continuous` in chunks of at most ``chunk_rows`` sources (None: one).

    CSV and Parquet files are streamed (memory bounded by the chunk size); other
    formats are read whole and come as one chunk.  Errors name rows of the whole
    file, and a ``source_id`` repeated anywhere in the file is refused, as
    :func:`read_xp_continuous` refuses one repeated in its table.  ``errors`` is
    as for :func:`read_xp_continuous`.
    """
    seen = SeenIds()
    for table in iter_tables(source, format, chunk_rows, columns=read_columns(errors)):
        xp = _xp_continuous(table, errors)
        seen.add(xp.source_id, first_row=table.first_row, source=table.origin)
        yield xp


def _xp_continuous(table: RawTable, errors: bool) -> XPContinuous:
    """The XP_CONTINUOUS solutions of one loaded table (or chunk), checked.

    A file (or table) without data rows is refused, as a sampled table without rows is.
    """
    if table.n_rows == 0 and table.first_row == 0:
        raise table.error("the table has no data rows")
    required = ["source_id", *_band_columns(errors)]
    absent = [name for name in required if name not in table.columns]
    if absent:
        raise table.error(f"not a Gaia XP_CONTINUOUS table: missing column(s) {', '.join(absent)}")
    optional = {
        name: scalar_column(table, name)
        for name in ("z", "phot_g_mean_mag")
        if name in table.columns
    }
    source_id = integer_column(table, "source_id")
    SeenIds().add(source_id, first_row=table.first_row, source=table.origin)  # no repeats
    return XPContinuous(
        source_id=source_id,
        bp=_read_band(table, Band.BP, errors),
        rp=_read_band(table, Band.RP, errors),
        origin=table.origin,
        **optional,
    )


def _read_band(table: RawTable, band: Band, with_errors: bool) -> XPBand:
    """Validate and stack one band's columns; rows without coefficients are a missing band."""
    prefix = f"{band.value}_"
    coefficients = array_column(table, prefix + "coefficients")
    n_parameters = scalar_column(table, prefix + "n_parameters")
    deviation = scalar_column(table, prefix + "standard_deviation")
    n_coefficients = _lengths(coefficients)
    present = n_coefficients >= 0

    def check(column: str, bad: NDArray[np.bool_], problem: str) -> None:
        rows = np.flatnonzero(present & bad)
        if rows.size:
            raise table.error(problem, rows=rows.tolist(), column=prefix + column)

    check(
        "coefficients",
        n_coefficients != n_parameters,
        f"number of coefficients differs from {prefix}n_parameters",
    )
    check(
        "coefficients",
        n_coefficients != N_COEFFICIENTS,
        f"expected {N_COEFFICIENTS} coefficients (Gaia DR3 basis), got another number",
    )
    stacked: dict[str, NDArray | None] = dict.fromkeys(_ERROR_BAND_COLUMNS)
    error_columns = zip(_ERROR_BAND_COLUMNS, (N_COEFFICIENTS, N_CORRELATIONS), strict=True)
    for column, size in error_columns if with_errors else ():
        values = array_column(table, prefix + column)
        check(
            column,
            _lengths(values) != size,
            f"missing, or not {size} values, for a source that has {band.name} coefficients",
        )
        stacked[column] = _stack(values, present, size, np.float32)
    check(
        "standard_deviation",
        ~np.isfinite(deviation),
        f"missing for a source that has {band.name} coefficients",
    )
    return XPBand(
        coefficients=_stack(coefficients, present, N_COEFFICIENTS, np.float64),
        coefficient_errors=stacked["coefficient_errors"],
        coefficient_correlations=stacked["coefficient_correlations"],
        standard_deviation=np.where(present, deviation, np.nan),
        n_parameters=np.where(present, N_COEFFICIENTS, 0).astype(np.int16),
    )


def _lengths(cells: list[NDArray[np.float64] | None]) -> NDArray[np.int64]:
    """Number of values in each cell, -1 for a missing one."""
    return np.array([-1 if cell is None else len(cell) for cell in cells], dtype=np.int64)


def _stack(
    cells: list[NDArray[np.float64] | None], present: NDArray[np.bool_], width: int, dtype: type
) -> NDArray:
    """The cells as one (N, ``width``) array of ``dtype``, NaN rows where ``present`` is False.

    All present cells have ``width`` values (checked before).
    """
    rows = [cell for cell, ok in zip(cells, present, strict=True) if ok and cell is not None]
    if not rows:
        return np.full((len(cells), width), np.nan, dtype=dtype)
    # one concatenate and a reshape: faster than np.stack's per-cell views
    stacked: NDArray = np.concatenate(rows, dtype=dtype, casting="same_kind").reshape(
        len(rows), width
    )
    if len(rows) == len(cells):
        return stacked
    out: NDArray = np.full((len(cells), width), np.nan, dtype=dtype)
    out[present] = stacked
    return out
