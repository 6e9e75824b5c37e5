"""Gaia DR3 ``XP_CONTINUOUS`` solutions in memory: coefficients, errors, correlations.

The archive stores each BP and RP mean spectrum as 55 basis-function
coefficients (flux = coefficients @ design matrix, in e-/s; see
:mod:`xpz.xp.basis`) with their errors, the upper triangle of their correlation
matrix and the standard deviation of the fit (Gaia DR3 data model,
``xp_continuous_mean_spectrum``).  :class:`XPBand` holds one band of N sources,
:class:`XPContinuous` both bands; :func:`xpz.xp.sampling.xp_to_spectra` samples
them on the 186-pixel layout.  Reading them from files is
:mod:`xpz.io.xp_continuous`'s job; nothing here does file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.layout import Band
from xpz.xp.basis import N_COEFFICIENTS, N_CORRELATIONS, PAIR_COLUMNS, PAIR_ROWS

__all__ = ["N_CORRELATIONS", "XPBand", "XPContinuous", "correlation_matrices"]


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
    coefficient_errors : (N, 55) float32, or None
        1-sigma formal errors of the coefficients (float32, as archived, so
        that every file format gives the same values).  None, with the
        correlations, for solutions read without their errors (fluxes only:
        :attr:`has_errors` is False).
    coefficient_correlations : (N, 1485) float32, or None
        Off-diagonal correlations in the archive's order (see :func:`correlation_matrices`).
    standard_deviation : (N,) float64
        Standard deviation of the least-squares fit.
    n_parameters : (N,) int16
        Number of coefficients (55 in DR3; 0 for a missing band).
    """

    coefficients: NDArray[np.float64]
    coefficient_errors: NDArray[np.float32] | None
    coefficient_correlations: NDArray[np.float32] | None
    standard_deviation: NDArray[np.float64]
    n_parameters: NDArray[np.int16]

    def __post_init__(self) -> None:
        coefficients = np.asarray(self.coefficients, dtype=np.float64)
        if coefficients.ndim != 2 or coefficients.shape[1] != N_COEFFICIENTS:
            raise ValueError(
                f"coefficients must be (N, {N_COEFFICIENTS}), got {coefficients.shape}"
            )
        if (self.coefficient_errors is None) != (self.coefficient_correlations is None):
            raise ValueError("coefficient_errors and coefficient_correlations come together")
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
            if values is None:
                continue
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

    @property
    def has_errors(self) -> bool:
        """False for solutions read without their coefficient errors and correlations."""
        return self.coefficient_errors is not None

    @classmethod
    def missing(cls, n: int, *, errors: bool = True) -> XPBand:
        """N sources without a spectrum in this band (``errors=False``: nor error arrays)."""
        return cls(
            coefficients=np.full((n, N_COEFFICIENTS), np.nan),
            coefficient_errors=np.full((n, N_COEFFICIENTS), np.nan, np.float32) if errors else None,
            coefficient_correlations=(
                np.full((n, N_CORRELATIONS), np.nan, np.float32) if errors else None
            ),
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
