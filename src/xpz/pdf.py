"""Redshift probability densities sampled on a fixed grid.

A distributional model outputs, for each of N galaxies, a density ``pdf[i, k]``
(units 1/z) at ``K`` increasing redshifts ``grid[k]`` -- for example a softmax over
fine redshift bins divided by the bin width (:func:`from_bin_probabilities`).
All functions here take ``pdf`` of shape (N, K) (or (K,) for one galaxy, treated
as N = 1) and ``grid`` of shape (K,), and are vectorised over galaxies.

Conventions (those of qp's ``interp`` parameterisation):

* the density is linear between grid points and zero outside the grid;
* the cumulative distribution ``cdf`` is its trapezoidal integral, normalised to
  end at 1, evaluated at the grid points and interpolated *linearly* in between
  (so quantiles are exact to grid precision);
* PDFs need not be normalised on input; every function normalises them.

>>> import numpy as np
>>> grid = np.linspace(0.0, 1.0, 101)
>>> flat = np.ones((1, grid.size))
>>> median(flat, grid).round(6).tolist(), interval(flat, grid, 0.5)[1].round(6).tolist()
([0.5], [0.75])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError

__all__ = [
    "cdf",
    "crps",
    "from_bin_probabilities",
    "interval",
    "mean",
    "median",
    "normalise",
    "pit",
    "quantiles",
    "std",
    "to_qp_hist_dict",
    "to_qp_interp_dict",
]

Array = NDArray[np.float64]


def _check(pdf: ArrayLike, grid: ArrayLike) -> tuple[Array, Array]:
    """``pdf`` as (N, K) float and ``grid`` as (K,) float, both validated."""
    g = np.asarray(grid, dtype=np.float64)
    p = np.atleast_2d(np.asarray(pdf, dtype=np.float64))
    if g.ndim != 1 or g.size < 2 or not np.all(np.diff(g) > 0):
        raise ValueError("grid must be 1-D with at least two increasing values")
    if p.ndim != 2 or p.shape[1] != g.size:
        raise ValueError(f"pdf must have shape (N, {g.size}), got {p.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(p) & (p >= 0), axis=1))
    if bad.size:
        raise InputError("density is negative or not finite", rows=bad.tolist(), column="pdf")
    return p, g


def _integral(p: Array, g: Array) -> Array:
    """Trapezoidal integral of each row over the grid, shape (N,)."""
    return np.sum(0.5 * (p[:, 1:] + p[:, :-1]) * np.diff(g), axis=1)


def normalise(pdf: ArrayLike, grid: ArrayLike) -> Array:
    """Rescale each row to unit integral over the grid (trapezoid rule).

    Raises :class:`~xpz.errors.InputError` for rows that integrate to zero.

    >>> normalise([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0]).tolist()
    [[1.0, 1.0, 1.0]]
    >>> normalise([[2.0, 2.0]], [0.0, 0.5]).tolist()
    [[2.0, 2.0]]
    """
    p, g = _check(pdf, grid)
    total = _integral(p, g)
    empty = np.flatnonzero(total <= 0)
    if empty.size:
        raise InputError("density integrates to zero", rows=empty.tolist(), column="pdf")
    return p / total[:, None]


def _cdf(p: Array, g: Array) -> Array:
    """CDF at the grid points of already checked densities (normalised here).

    Raises :class:`~xpz.errors.InputError` for rows that integrate to zero.
    """
    c = np.empty_like(p)
    c[:, 0] = 0.0
    np.cumsum(0.5 * (p[:, 1:] + p[:, :-1]) * np.diff(g), axis=1, out=c[:, 1:])
    total = c[:, -1:]
    empty = np.flatnonzero(total <= 0)
    if empty.size:
        raise InputError("density integrates to zero", rows=empty.tolist(), column="pdf")
    c /= total
    return c


def cdf(pdf: ArrayLike, grid: ArrayLike) -> Array:
    """Cumulative distribution at the grid points, shape (N, K): 0 at the first, 1 at the last.

    >>> cdf([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0]).tolist()
    [[0.0, 0.5, 1.0]]
    """
    p, g = _check(pdf, grid)
    return _cdf(p, g)


def quantiles(pdf: ArrayLike, grid: ArrayLike, q: ArrayLike) -> Array:
    """Redshifts below which lies a fraction ``q`` of each PDF.

    Inverts the piecewise-linear CDF.  ``q`` is a scalar (result (N,)) or a
    1-D array of levels in [0, 1] (result (N, len(q))).

    >>> quantiles([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0], [0.1, 0.9]).round(6).tolist()
    [[0.1, 0.9]]
    """
    p, g = _check(pdf, grid)
    levels = np.asarray(q, dtype=np.float64)
    if np.any((levels < 0) | (levels > 1)) or not np.all(np.isfinite(levels)):
        raise ValueError(f"quantile levels must lie in [0, 1], got {levels!r}")
    c = _cdf(p, g)
    n, k = c.shape
    # One search for every row and level: rows shifted apart by 2 (> the range
    # of a CDF) are a single sorted array; the position of ``level`` in row i is
    # the number of its grid points with cdf < level (CDF values within ~1e-11 of
    # a level, i.e. flat stretches, may resolve to the neighbouring grid point).
    shift = 2.0 * np.arange(n)[:, None]
    targets = levels.reshape(1, -1) + shift
    found = np.searchsorted((c + shift).ravel(), targets.ravel()).reshape(n, -1)
    hi = np.minimum(found - k * np.arange(n)[:, None], k - 1)  # first point with cdf >= level
    lo = np.maximum(hi - 1, 0)
    c_lo, c_hi = np.take_along_axis(c, lo, axis=1), np.take_along_axis(c, hi, axis=1)
    rise = c_hi - c_lo
    frac = np.divide(levels.reshape(1, -1) - c_lo, rise, out=np.zeros_like(rise), where=rise > 0)
    out = g[lo] + frac * (g[hi] - g[lo])
    return out[:, 0] if levels.ndim == 0 else out


def median(pdf: ArrayLike, grid: ArrayLike) -> Array:
    """Median redshift of each PDF, shape (N,)."""
    return quantiles(pdf, grid, 0.5)


def mean(pdf: ArrayLike, grid: ArrayLike) -> Array:
    """Mean redshift ``integral(z p(z) dz)`` of each PDF, shape (N,).

    >>> mean([[0.0, 1.0, 0.0]], [0.1, 0.2, 0.3]).round(6).tolist()
    [0.2]
    """
    p, g = _check(pdf, grid)
    p = normalise(p, g)
    return _integral(p * g, g)


def std(pdf: ArrayLike, grid: ArrayLike) -> Array:
    """Standard deviation ``sqrt(integral((z - mean)^2 p(z) dz))`` of each PDF, shape (N,).

    Evaluated with the trapezoid rule on the grid, so a PDF narrower than a few
    grid steps gets a standard deviation of order the step.
    """
    p, g = _check(pdf, grid)
    p = normalise(p, g)
    mu = _integral(p * g, g)
    return np.sqrt(_integral(p * (g[None, :] - mu[:, None]) ** 2, g))


def interval(pdf: ArrayLike, grid: ArrayLike, level: float) -> tuple[Array, Array]:
    """Central interval holding a fraction ``level`` of each PDF: ``(lower, upper)``.

    The bounds are the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles; e.g.
    ``level=0.68`` gives the 16th and 84th percentiles.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    bounds = quantiles(pdf, grid, [(1 - level) / 2, (1 + level) / 2])
    return bounds[:, 0], bounds[:, 1]


def _cdf_at(c: Array, g: Array, z: Array) -> Array:
    """Piecewise-linear CDF ``c`` (N, K) on grid ``g`` evaluated at one ``z`` per row."""
    rows = np.arange(c.shape[0])
    hi = np.clip(np.searchsorted(g, z, side="right"), 1, g.size - 1)
    lo = hi - 1
    frac = np.clip((z - g[lo]) / (g[hi] - g[lo]), 0.0, 1.0)
    return c[rows, lo] + frac * (c[rows, hi] - c[rows, lo])


def _true_redshifts(z_true: ArrayLike, n: int) -> Array:
    z = np.asarray(z_true, dtype=np.float64).ravel()
    if z.size != n:
        raise ValueError(f"need one z_true per PDF ({n}), got {z.size}")
    bad = np.flatnonzero(~np.isfinite(z))
    if bad.size:
        raise InputError("redshift is not finite", rows=bad.tolist(), column="z_true")
    return z


def pit(pdf: ArrayLike, grid: ArrayLike, z_true: ArrayLike) -> Array:
    """Probability integral transform ``CDF_i(z_true_i)`` of each galaxy, shape (N,).

    For calibrated PDFs the PIT values are uniform on [0, 1].  A true redshift
    below (above) the grid gives 0 (1).

    >>> pit([[1.0, 1.0, 1.0]] * 2, [0.0, 0.5, 1.0], [0.25, 2.0]).tolist()
    [0.25, 1.0]
    """
    p, g = _check(pdf, grid)
    z = _true_redshifts(z_true, p.shape[0])
    return _cdf_at(_cdf(p, g), g, z)


def _mean_square_linear(a: Array, b: Array) -> Array:
    """Mean of ``f**2`` over an interval where ``f`` runs linearly from ``a`` to ``b``."""
    return (a * a + a * b + b * b) / 3.0


def crps(pdf: ArrayLike, grid: ArrayLike, z_true: ArrayLike) -> Array:
    """Continuous ranked probability score of each galaxy, shape (N,), in units of z.

    ``CRPS = integral((F(z) - H(z - z_true))^2 dz)`` with ``F`` the CDF and ``H``
    the unit step.  Integrated exactly for the piecewise-linear CDF, including the
    stretch between ``z_true`` and the grid when ``z_true`` lies outside it.
    Lower is better; for a perfect delta function it is 0.

    >>> crps([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0], [0.5]).round(6).tolist()  # 2 * (1/2)^3 / 3
    [0.083333]
    """
    p, g = _check(pdf, grid)
    z = _true_redshifts(z_true, p.shape[0])
    c = _cdf(p, g)
    width = np.diff(g)
    below = width * _mean_square_linear(c[:, :-1], c[:, 1:])  # integral of F^2 per segment
    above = width * _mean_square_linear(1 - c[:, :-1], 1 - c[:, 1:])  # of (1 - F)^2
    rows = np.arange(c.shape[0])
    zc = np.clip(z, g[0], g[-1])
    seg = np.clip(np.searchsorted(g, zc, side="right") - 1, 0, g.size - 2)
    f_z = _cdf_at(c, g, zc)
    left = np.cumsum(below, axis=1) - below  # full segments before `seg`
    right = np.cumsum(above[:, ::-1], axis=1)[:, ::-1] - above  # full segments after `seg`
    split_below = (zc - g[seg]) * _mean_square_linear(c[rows, seg], f_z)
    split_above = (g[seg + 1] - zc) * _mean_square_linear(1 - f_z, 1 - c[rows, seg + 1])
    outside = np.abs(z - zc)  # (F - H)^2 = 1 between z_true and the grid
    return left[rows, seg] + split_below + split_above + right[rows, seg] + outside


def from_bin_probabilities(probabilities: ArrayLike, edges: ArrayLike) -> tuple[Array, Array]:
    """Densities at bin centres from per-bin probabilities (e.g. a softmax over z bins).

    ``probabilities`` is (N, K) and ``edges`` (K + 1,); returns ``(pdf, grid)``
    with ``pdf = probabilities / bin width`` at ``grid`` = the bin centres.

    >>> pdf, grid = from_bin_probabilities([[0.25, 0.75]], [0.0, 0.1, 0.2])
    >>> pdf.round(6).tolist(), grid.round(6).tolist()
    ([[2.5, 7.5]], [0.05, 0.15])
    """
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 3 or not np.all(np.diff(e) > 0):
        raise ValueError("edges must be 1-D with at least three increasing values")
    centres = 0.5 * (e[1:] + e[:-1])
    p, _ = _check(probabilities, centres)
    return p / np.diff(e), centres


def _grid_edges(g: Array) -> Array:
    """Bin edges around grid points: midpoints, extended by half a step at each end."""
    mid = 0.5 * (g[1:] + g[:-1])
    return np.concatenate([[g[0] - (mid[0] - g[0])], mid, [g[-1] + (g[-1] - mid[-1])]])


def to_qp_interp_dict(pdf: ArrayLike, grid: ArrayLike) -> dict[str, Array]:
    """Data for ``qp.Ensemble(qp.interp, data=...)``: ``{"xvals": (K,), "yvals": (N, K)}``.

    qp's ``interp`` parameterisation is exactly this module's: densities at
    shared x values, linear in between.  Rows are normalised.
    """
    p, g = _check(pdf, grid)
    return {"xvals": g.copy(), "yvals": normalise(p, g)}


def to_qp_hist_dict(pdf: ArrayLike, grid: ArrayLike) -> dict[str, Array]:
    """Data for ``qp.Ensemble(qp.hist, data=...)``: ``{"bins": (K+1,), "pdfs": (N, K)}``.

    qp's ``hist`` parameterisation stores a piecewise-constant density: ``bins``
    are K + 1 shared edges and ``pdfs`` the density in each bin.  Each grid point
    becomes one bin bounded by the midpoints to its neighbours (the end bins
    extend half a step beyond the grid); densities are rescaled so that each row
    integrates to 1 over the bins.

    >>> d = to_qp_hist_dict([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0])
    >>> d["bins"].tolist(), d["pdfs"].round(4).tolist()
    ([-0.25, 0.25, 0.75, 1.25], [[0.6667, 0.6667, 0.6667]])
    """
    p, g = _check(pdf, grid)
    edges = _grid_edges(g)
    mass = p * np.diff(edges)
    total = mass.sum(axis=1)
    empty = np.flatnonzero(total <= 0)
    if empty.size:
        raise InputError("density integrates to zero", rows=empty.tolist(), column="pdf")
    return {"bins": edges, "pdfs": p / total[:, None]}
