"""Gaia DR3 ``XP_CONTINUOUS`` solutions sampled on the 186-pixel layout, with full-covariance errors.

:func:`xp_to_spectra` turns the coefficients of :func:`xpz.io.xp_continuous.read_xp_continuous`
into :class:`~xpz.spectra.Spectra`: flux ``= coefficients @ D`` for the design
matrix ``D`` of :mod:`xpz.xp.basis`, and flux errors from the full coefficient
covariance, as ``gaiaxpy.convert`` computes them.

Covariance (as GaiaXPy builds it): with ``e`` the coefficient errors, ``R``
the correlation matrix and ``s`` the standard deviation of the fit, the
coefficient covariance is ``C = diag(e/s) R diag(e/s)`` and the sampled flux
error is ``s * sqrt(diag(D^T C D))`` -- the ``s`` cancel, so the pixel variance
is ``diag(D^T diag(e) R diag(e) D)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from xpz.layout import Band, XPLayout, default_layout
from xpz.spectra import Flag, Spectra
from xpz.xp.arrays import XPBand, XPContinuous
from xpz.xp.basis import (
    N_COEFFICIENTS,
    N_CORRELATIONS,
    PAIR_COLUMNS,
    PAIR_ROWS,
    pixel_design_matrices,
)

__all__ = ["xp_to_spectra"]


def xp_to_spectra(
    xp: XPContinuous,
    layout: XPLayout | None = None,
    *,
    chunk_size: int = 256,
    errors: bool = True,
) -> Spectra:
    """Sample XP_CONTINUOUS spectra on the 186-pixel layout: flux and flux error in e-/s.

    Equivalent to ``gaiaxpy.convert(..., sampling=<layout pwl>, truncation=False)``
    followed by the layout's truncation, but vectorised: per band, the fluxes are
    one matrix product and the variances one more (``chunk_size`` sources at a
    time to bound memory).  Missing bands give NaN pixels and
    ``Flag.MISSING_BP`` / ``MISSING_RP``; any non-finite flux sets
    ``Flag.NONFINITE_FLUX``.

    ``errors=False`` skips the error propagation (most of the time), for
    models that read fluxes only: ``flux_error`` is then None, and the fluxes
    and flags are the same as with errors.  Computed errors are propagated in
    float64 and stored as float32.
    """
    if errors and not (xp.bp.has_errors and xp.rp.has_errors):
        raise ValueError(
            "these XP solutions were read without their coefficient errors; "
            "read them with errors to propagate flux errors, or pass errors=False"
        )
    layout = default_layout() if layout is None else layout
    matrices = pixel_design_matrices(layout)
    fluxes, pixel_errors = [], []
    for band in Band:
        solution = xp.band(band)
        fluxes.append(solution.coefficients @ matrices[band])
        if errors:
            pixel_errors.append(_pixel_errors(solution, matrices[band], chunk_size))
    with np.errstate(over="ignore"):  # huge finite coefficients overflow float32: flagged below
        flux = np.concatenate(fluxes, axis=1).astype(np.float32)
    flag = np.zeros(len(xp), np.uint32)
    flag[~xp.bp.present] |= np.uint32(Flag.MISSING_BP)
    flag[~xp.rp.present] |= np.uint32(Flag.MISSING_RP)
    flag[~np.isfinite(flux).all(axis=1)] |= np.uint32(Flag.NONFINITE_FLUX)
    return Spectra(
        flux=flux,
        flux_error=np.concatenate(pixel_errors, axis=1).astype(np.float32) if errors else None,
        source_id=xp.source_id,
        z=xp.z,
        phot_g_mean_mag=xp.phot_g_mean_mag,
        flag=flag,
        meta={"source": "Gaia DR3 XP_CONTINUOUS", "origin": xp.origin},
    )


def _pixel_errors(solution: XPBand, design: NDArray[np.float64], chunk_size: int) -> NDArray:
    """Flux errors (N, P) from the full coefficient covariance (NaN for a missing band).

    ``var_p = sum_ij e_i R_ij e_j D_ip D_jp`` is split into the diagonal and the
    1485 stored pairs (each counted twice), so the correlation vectors enter a
    single matrix product with the fixed pair table ``2 D_ip D_jp``.  A missing
    band has NaN errors, hence NaN variances, without special handling.  Work
    arrays hold one source per column and ``chunk_size`` sources at a time, which
    keeps them in cache.
    """
    pair_design = np.ascontiguousarray(
        (2.0 * design[PAIR_ROWS] * design[PAIR_COLUMNS]).T
    )  # (P, 1485)
    squared_design = design**2  # (55, P)
    n = len(solution)
    variance = np.empty((n, design.shape[1]))
    work = np.empty((N_CORRELATIONS, min(chunk_size, n)))
    for start in range(0, n, chunk_size):
        rows = slice(start, min(start + chunk_size, n))
        assert solution.coefficient_errors is not None  # checked by xp_to_spectra
        assert solution.coefficient_correlations is not None
        errors = np.ascontiguousarray(solution.coefficient_errors[rows].T, dtype=np.float64)
        pairs = _pair_covariances(errors, solution.coefficient_correlations[rows].T, work)
        variance[rows] = (pair_design @ pairs).T + (errors**2).T @ squared_design
    return np.sqrt(variance)


def _pair_covariances(
    errors: NDArray, correlations: NDArray, work: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``e_i e_j r_ij`` (1485, M) for the stored pairs (archive order), one source per column.

    ``errors`` is (55, M), ``correlations`` (1485, M); the result is written into
    the first M columns of ``work``.  The pairs of coefficient ``i`` with
    ``j = 0 .. i-1`` are contiguous rows, so one slice per coefficient replaces
    a much slower fancy-indexed gather.

    >>> import numpy as np
    >>> e, r = np.arange(1.0, 56.0)[:, None], np.ones((1485, 1))
    >>> _pair_covariances(e, r, np.empty((1485, 1)))[:3, 0].tolist()  # pairs (1,0), (2,0), (2,1)
    [2.0, 3.0, 6.0]
    """
    out: NDArray[np.float64] = work[:, : errors.shape[1]]
    np.copyto(out, correlations)
    for i in range(1, N_COEFFICIENTS):
        pairs = slice(i * (i - 1) // 2, i * (i + 1) // 2)
        out[pairs] *= errors[:i]
        out[pairs] *= errors[i]
    return out
