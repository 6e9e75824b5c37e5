"""Gaia DR3 ``XP_CONTINUOUS`` mean spectra: read them as the archive delivers them.

The archive stores each BP and RP mean spectrum as 55 basis-function
coefficients with their errors, the upper triangle of their correlation matrix
and the standard deviation of the fit (Gaia DR3 data model,
``xp_continuous_mean_spectrum``).  :func:`read_xp_continuous` reads such a table
from CSV, ECSV, FITS, VOTable or Parquet files, or from a pandas DataFrame or an
astropy Table with the archive's column names, into an :class:`XPContinuous`;
:func:`xp_to_spectra` samples it on the 186-pixel xpz layout, with flux errors
from the full coefficient covariance, exactly as ``gaiaxpy.convert`` does.

A source without a BP (or RP) spectrum is kept: its pixels of that band are
NaN and it carries :attr:`Flag.MISSING_BP` (``MISSING_RP``).

The sampling itself, :func:`xp_to_spectra`, lives in :mod:`xpz.xpsampling`
(with how the errors follow from the covariance) and is importable from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError
from xpz.io.columns import SeenIds
from xpz.io.gaia_xp_table import (
    RawTable,
    TableFormat,
    array_column,
    has_column,
    integer_column,
    iter_tables,
    load_table,
    scalar_column,
)
from xpz.layout import Band
from xpz.spectra import Spectra
from xpz.xpbasis import N_COEFFICIENTS, N_CORRELATIONS, PAIR_COLUMNS, PAIR_ROWS
from xpz.xpsampling import xp_to_spectra

__all__ = [
    "ARCHIVE_BAND_COLUMNS",
    "N_CORRELATIONS",
    "XPBand",
    "XPContinuous",
    "correlation_matrices",
    "iter_xp_continuous",
    "read_gaia_spectra",
    "read_xp_continuous",
    "xp_to_spectra",
]

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
_REQUIRED_BAND_COLUMNS = (
    "n_parameters",
    "standard_deviation",
    "coefficients",
    "coefficient_errors",
    "coefficient_correlations",
)


def correlation_matrices(correlations: ArrayLike) -> NDArray[np.float64]:
    """Full (..., 55, 55) correlation matrices from archive vectors (..., 1485).

    >>> import numpy as np
    >>> r = np.zeros(1485); r[0] = 0.5  # the first value pairs coefficients 0 and 1
    >>> m = correlation_matrices(r)
    >>> float(m[0, 1]), float(m[1, 0]), float(m[1, 1]), float(m[2, 0])
    (0.5, 0.5, 1.0, 0.0)
    """
    r = np.asarray(correlations, dtype=float)
    out = np.zeros((*r.shape[:-1], N_COEFFICIENTS, N_COEFFICIENTS))
    out[..., PAIR_ROWS, PAIR_COLUMNS] = r
    out[..., PAIR_COLUMNS, PAIR_ROWS] = r
    out[..., np.arange(N_COEFFICIENTS), np.arange(N_COEFFICIENTS)] = 1.0
    return out


@dataclass(frozen=True, eq=False)
class XPBand:
    """The ``XP_CONTINUOUS`` solutions of N sources in one band.

    A source without a spectrum in this band has a row of NaN coefficients.

    Attributes
    ----------
    coefficients : (N, 55) float64
        Basis-function coefficients (flux = coefficients @ design matrix, e-/s).
    coefficient_errors : (N, 55) float32
        1-sigma formal errors of the coefficients (float32, as archived, so
        that every file format gives the same values).
    coefficient_correlations : (N, 1485) float32
        Off-diagonal correlations in the archive's order (see :func:`correlation_matrices`).
    standard_deviation : (N,) float64
        Standard deviation of the least-squares fit.
    n_parameters : (N,) int16
        Number of coefficients (55 in DR3; 0 for a missing band).
    """

    coefficients: NDArray[np.float64]
    coefficient_errors: NDArray[np.float32]
    coefficient_correlations: NDArray[np.float32]
    standard_deviation: NDArray[np.float64]
    n_parameters: NDArray[np.int16]

    def __post_init__(self) -> None:
        coefficients = np.asarray(self.coefficients, dtype=np.float64)
        if coefficients.ndim != 2 or coefficients.shape[1] != N_COEFFICIENTS:
            raise ValueError(
                f"coefficients must be (N, {N_COEFFICIENTS}), got {coefficients.shape}"
            )
        n = coefficients.shape[0]
        shapes = {
            "coefficients": (coefficients, np.float64, (n, N_COEFFICIENTS)),
            "coefficient_errors": (self.coefficient_errors, np.float32, (n, N_COEFFICIENTS)),
            "coefficient_correlations": (
                self.coefficient_correlations,
                np.float32,
                (n, N_CORRELATIONS),
            ),
            "standard_deviation": (self.standard_deviation, np.float64, (n,)),
            "n_parameters": (self.n_parameters, np.int16, (n,)),
        }
        for name, (values, dtype, shape) in shapes.items():
            arr = np.asarray(values).astype(dtype, copy=False)
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.coefficients.shape[0])

    @property
    def present(self) -> NDArray[np.bool_]:
        """True for the sources that have a spectrum in this band."""
        return np.asarray(~np.isnan(self.coefficients).all(axis=1))

    @classmethod
    def missing(cls, n: int) -> XPBand:
        """N sources without a spectrum in this band."""
        return cls(
            coefficients=np.full((n, N_COEFFICIENTS), np.nan),
            coefficient_errors=np.full((n, N_COEFFICIENTS), np.nan, np.float32),
            coefficient_correlations=np.full((n, N_CORRELATIONS), np.nan, np.float32),
            standard_deviation=np.full(n, np.nan),
            n_parameters=np.zeros(n, np.int16),
        )


@dataclass(frozen=True, eq=False)
class XPContinuous:
    """N Gaia DR3 ``XP_CONTINUOUS`` mean spectra (BP and RP solutions).

    ``z`` and ``phot_g_mean_mag`` are filled when the table has such columns
    (for instance after a cross-match with a redshift catalogue).
    """

    source_id: NDArray[np.int64]
    bp: XPBand
    rp: XPBand
    z: NDArray[np.float64] | None = None
    phot_g_mean_mag: NDArray[np.float64] | None = None
    origin: str = ""

    def __post_init__(self) -> None:
        sid = np.asarray(self.source_id)
        if sid.dtype.kind not in "iu" or sid.ndim != 1:
            raise TypeError(f"source_id must be a 1-D integer array, got {sid.dtype} {sid.shape}")
        object.__setattr__(self, "source_id", sid.astype(np.int64, copy=False))
        for name in ("bp", "rp", "z", "phot_g_mean_mag"):
            value = getattr(self, name)
            if value is not None and len(value) != len(sid):
                raise ValueError(f"{name} has {len(value)} rows, source_id has {len(sid)}")

    def __len__(self) -> int:
        return int(self.source_id.shape[0])

    def band(self, band: Band) -> XPBand:
        """The solutions of ``band``."""
        return self.bp if band is Band.BP else self.rp


def read_xp_continuous(source: Any, format: str | TableFormat | None = None) -> XPContinuous:
    """Read Gaia DR3 ``XP_CONTINUOUS`` mean spectra from a file or an in-memory table.

    Parameters
    ----------
    source : path, pandas.DataFrame or astropy.table.Table
        A table with the archive's column names (``source_id``, ``bp_coefficients``, ...),
        as delivered by the archive's DataLink service (``INDIVIDUAL`` or ``COMBINED``).
    format : {"csv", "ecsv", "fits", "votable", "parquet"}, optional
        File format; guessed from the suffix when omitted.

    Raises
    ------
    InputError
        Missing columns, malformed arrays, a coefficient count other than
        ``n_parameters`` or 55, a repeated ``source_id``, or a file that cannot
        be parsed; the message names the file, rows and column.
    """
    return _xp_continuous(load_table(source, format))


def iter_xp_continuous(
    source: Any, format: str | TableFormat | None = None, chunk_rows: int = 20_000
) -> Iterator[XPContinuous]:
    """:func:`read_xp_continuous` in chunks of at most ``chunk_rows`` sources.

    CSV and Parquet files are streamed (memory bounded by the chunk size); other
    formats are read whole and come as one chunk.  Errors name rows of the whole
    file, and a ``source_id`` repeated anywhere in the file is refused, as
    :func:`read_xp_continuous` refuses one repeated in its table.
    """
    seen = SeenIds()
    for table in iter_tables(source, format, chunk_rows):
        xp = _xp_continuous(table)
        seen.add(xp.source_id, first_row=table.first_row, source=table.origin)
        yield xp


def _xp_continuous(table: RawTable) -> XPContinuous:
    """The XP_CONTINUOUS solutions of one loaded table (or chunk), checked."""
    required = ["source_id"] + [f"{b.value}_{c}" for b in Band for c in _REQUIRED_BAND_COLUMNS]
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
        bp=_read_band(table, Band.BP),
        rp=_read_band(table, Band.RP),
        origin=table.origin,
        **optional,
    )


def _read_band(table: RawTable, band: Band) -> XPBand:
    """Validate and stack one band's columns; rows without coefficients are a missing band."""
    prefix = f"{band.value}_"
    coefficients = array_column(table, prefix + "coefficients")
    errors = array_column(table, prefix + "coefficient_errors")
    correlations = array_column(table, prefix + "coefficient_correlations")
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
    for column, values, size in (
        ("coefficient_errors", errors, N_COEFFICIENTS),
        ("coefficient_correlations", correlations, N_CORRELATIONS),
    ):
        check(
            column,
            _lengths(values) != size,
            f"missing, or not {size} values, for a source that has {band.name} coefficients",
        )
    check(
        "standard_deviation",
        ~np.isfinite(deviation),
        f"missing for a source that has {band.name} coefficients",
    )
    return XPBand(
        coefficients=_stack(coefficients, present, N_COEFFICIENTS, np.float64),
        coefficient_errors=_stack(errors, present, N_COEFFICIENTS, np.float32),
        coefficient_correlations=_stack(correlations, present, N_CORRELATIONS, np.float32),
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


def read_gaia_spectra(
    path: str | Path,
    format: str | None = None,
    *,
    require_z: bool = False,
    training: bool = False,
) -> Spectra:
    """Read Gaia spectra of either kind: XP_CONTINUOUS coefficients or sampled 186-pixel tables.

    A file with ``bp_coefficients`` / ``rp_coefficients`` columns is read with
    :func:`read_xp_continuous` and sampled with :func:`xp_to_spectra`; any other
    file goes to :func:`xpz.io.tables.read_spectra` with the same arguments.
    ``require_z`` or ``training`` demand a redshift column ``z``.
    """
    if has_column(path, "bp_coefficients", format) or has_column(path, "rp_coefficients", format):
        spectra = xp_to_spectra(read_xp_continuous(path, format))
        if (require_z or training) and spectra.z is None:
            raise InputError("has no redshift column 'z', which is required here", path=path)
        return spectra
    from xpz.io.tables import read_spectra

    return read_spectra(path, format, require_z=require_z, training=training)
