"""Are the predicted uncertainties honest?  Interval coverage and PIT statistics.

A model that predicts a central interval at nominal level ``L`` (e.g. 68%) is
*calibrated* if a fraction ``L`` of true redshifts fall inside it.  Over-confident
models (intervals too narrow) cover less, under-confident ones more.

For full PDFs, the probability integral transform ``PIT = CDF(z_true)`` is uniform
on [0, 1] when calibrated; its Kolmogorov-Smirnov distance from uniform is a
one-number summary (0 is perfect), as are the Cramer-von Mises and
Anderson-Darling statistics (the latter weighs the tails, where catastrophic
failures sit, most); the central-interval coverage at level ``L`` is the share
of PIT values with ``|PIT - 0.5| <= L / 2``.  RAIL also reports the share of
PIT values below 0.0001 or above 0.9999 (true redshifts the PDF all but
excludes) and the CDE loss of the PDFs.

Quantile predictions are passed as a mapping from column names such as
``"z_q16"`` (the 16th percentile) to arrays; see :func:`quantile_level`.

>>> coverage([0.1, 0.2, 0.3, 0.4], [0.0, 0.25, 0.2, 0.0], [0.2, 0.3, 0.4, 0.3])
0.5
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from xpz.errors import InputError

__all__ = [
    "CATASTROPHIC_PIT",
    "DEFAULT_COVERAGE_LEVELS",
    "cde_loss",
    "coverage",
    "coverage_from_pit",
    "interval_coverage_from_quantiles",
    "pit_ad_statistic",
    "pit_catastrophic_rate",
    "pit_cvm_statistic",
    "pit_histogram",
    "pit_ks_statistic",
    "quantile_key",
    "quantile_level",
]

#: Nominal central-interval levels for coverage curves.
DEFAULT_COVERAGE_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.8, 0.9, 0.95)

#: PIT values below this or above 1 minus this are catastrophic PDF failures (RAIL).
CATASTROPHIC_PIT = 0.0001
#: PIT values are kept this far inside (0, 1) in the Anderson-Darling logarithms.
_AD_CLIP = 1e-10

_QUANTILE_KEY = re.compile(r"^z_q(\d+)$")


def coverage(z_true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of galaxies with ``lower <= z_true <= upper``."""
    z, lo, hi = (np.asarray(a, dtype=np.float64) for a in (z_true, lower, upper))
    if not (z.shape == lo.shape == hi.shape) or z.ndim != 1 or z.size == 0:
        raise InputError(f"z_true, lower, upper must be 1-D of equal length, got {z.shape}")
    swapped = np.flatnonzero(lo > hi)
    if swapped.size:
        raise InputError("lower bound above upper bound", rows=swapped.tolist(), column="lower")
    return float(np.mean((lo <= z) & (z <= hi)))


def quantile_level(key: str) -> float:
    """Level of a quantile column name ``z_q<digits>``, the digits read after ``0.``.

    >>> [quantile_level(k) for k in ("z_q025", "z_q16", "z_q50", "z_q84", "z_q975")]
    [0.025, 0.16, 0.5, 0.84, 0.975]
    """
    match = _QUANTILE_KEY.match(key)
    if match is None:
        raise InputError("quantile columns must be named z_q<digits>, e.g. z_q16", column=key)
    return float("0." + match.group(1))


def quantile_key(level: float) -> str:
    """Column name of the quantile at ``level`` (inverse of :func:`quantile_level`).

    >>> [quantile_key(q) for q in (0.025, 0.16, 0.5, 0.975)]
    ['z_q025', 'z_q16', 'z_q50', 'z_q975']
    """
    if not 0 < level < 1:
        raise ValueError(f"quantile level must lie in (0, 1), got {level}")
    digits = f"{level:.6f}".split(".")[1].rstrip("0")
    return "z_q" + digits.ljust(2, "0")


def interval_coverage_from_quantiles(
    z_true: ArrayLike, quantiles: Mapping[str, ArrayLike]
) -> dict[float, float]:
    """Observed coverage of every central interval the quantile columns define.

    Each pair of columns at levels ``q`` and ``1 - q`` (``q < 0.5``) bounds the
    central interval of nominal level ``1 - 2q``.  Returns ``{nominal: observed}``,
    nominal levels rounded to 6 decimals, in increasing order.

    >>> z = [0.1, 0.2, 0.3, 0.4]
    >>> q = {"z_q16": [0.0, 0.0, 0.35, 0.0], "z_q84": [0.2, 0.3, 0.4, 0.3]}
    >>> interval_coverage_from_quantiles(z, q)
    {0.68: 0.5}
    """
    by_level = {round(quantile_level(key), 9): values for key, values in quantiles.items()}
    out = {}
    for q in sorted((level for level in by_level if level < 0.5), reverse=True):
        upper = round(1.0 - q, 9)
        if upper in by_level:
            out[round(1.0 - 2.0 * q, 6)] = coverage(z_true, by_level[q], by_level[upper])
    return out


def _check_pit(pit_values: ArrayLike) -> NDArray[np.float64]:
    values = np.asarray(pit_values, dtype=np.float64).ravel()
    if values.size == 0:
        raise InputError("no PIT values")
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if bad.size:
        raise InputError("PIT value outside [0, 1]", rows=bad.tolist(), column="pit")
    return values


def pit_ks_statistic(pit_values: ArrayLike) -> float:
    """Kolmogorov-Smirnov distance between the PIT values and the uniform distribution.

    >>> pit_ks_statistic([0.125, 0.375, 0.625, 0.875])
    0.125
    """
    return float(stats.kstest(_check_pit(pit_values), "uniform").statistic)


def pit_cvm_statistic(pit_values: ArrayLike) -> float:
    """Cramer-von Mises statistic ``n * integral((F_n - F)^2 dF)`` of the PIT against U(0, 1).

    ``1 / (12 n) + sum_i (u_(i) - (2i - 1) / (2n))^2`` for sorted PIT values
    ``u_(i)``; its minimum, ``1 / (12 n)``, is reached by evenly spread values.

    >>> round(pit_cvm_statistic([0.125, 0.375, 0.625, 0.875]), 6)  # 1 / 48
    0.020833
    """
    u = np.sort(_check_pit(pit_values))
    n = u.size
    expected = (2.0 * np.arange(1, n + 1) - 1.0) / (2.0 * n)
    return float(1.0 / (12.0 * n) + np.sum((u - expected) ** 2))


def pit_ad_statistic(pit_values: ArrayLike) -> float:
    """Anderson-Darling statistic ``A^2`` of the PIT values against U(0, 1).

    ``A^2 = -n - (1/n) sum_i (2i - 1) [ln u_(i) + ln(1 - u_(n+1-i))]`` for sorted
    values, each kept within 1e-10 of (0, 1) so that a PIT of exactly 0 or 1
    (a true redshift outside the PDF's support) gives a large, finite value.

    >>> round(pit_ad_statistic([0.125, 0.375, 0.625, 0.875]), 4)
    0.1533
    """
    u = np.clip(np.sort(_check_pit(pit_values)), _AD_CLIP, 1.0 - _AD_CLIP)
    n = u.size
    weights = 2.0 * np.arange(1, n + 1) - 1.0
    return float(-n - np.sum(weights * (np.log(u) + np.log1p(-u[::-1]))) / n)


def pit_catastrophic_rate(pit_values: ArrayLike, threshold: float = CATASTROPHIC_PIT) -> float:
    """Share of PIT values below ``threshold`` or above ``1 - threshold``.

    >>> pit_catastrophic_rate([0.0, 0.00005, 0.5, 0.99995, 1.0])
    0.8
    """
    u = _check_pit(pit_values)
    return float(np.mean((u < threshold) | (u > 1.0 - threshold)))


def cde_loss(pdf: ArrayLike, grid: ArrayLike, z_true: ArrayLike) -> float:
    """The CDE loss ``mean_i[integral(p_i(z)^2 dz) - 2 p_i(z_true_i)]`` of gridded PDFs.

    Izbicki & Lee (2017)'s conditional density estimation loss, as RAIL
    reports it: lower is better, and it can be negative.  Each PDF is normalised
    on its grid (trapezoid rule) and read at ``z_true`` by linear interpolation
    (0 outside the grid).  Units: 1 / z.

    A uniform PDF on [0, 1] scores ``1 - 2 = -1`` at any z inside it:

    >>> cde_loss([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0], [0.3])
    -1.0
    """
    from xpz import pdf as zpdf

    p = zpdf.normalise(pdf, grid)
    g = np.asarray(grid, dtype=np.float64)
    z = np.asarray(z_true, dtype=np.float64).ravel()
    if z.shape != (p.shape[0],) or not np.isfinite(z).all():
        raise InputError(f"needs one finite z_true per PDF ({p.shape[0]})", column="z_true")
    squared = np.sum(0.5 * (p[:, 1:] ** 2 + p[:, :-1] ** 2) * np.diff(g), axis=1)
    hi = np.clip(np.searchsorted(g, z, side="right"), 1, g.size - 1)
    frac = np.clip((z - g[hi - 1]) / (g[hi] - g[hi - 1]), 0.0, 1.0)
    rows = np.arange(p.shape[0])
    at_truth = p[rows, hi - 1] + frac * (p[rows, hi] - p[rows, hi - 1])
    at_truth[(z < g[0]) | (z > g[-1])] = 0.0
    return float(np.mean(squared - 2.0 * at_truth))


def pit_histogram(
    pit_values: ArrayLike, n_bins: int = 20
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Density histogram of PIT values on [0, 1]: ``(density, edges)``.

    A calibrated model gives density 1 in every bin; a U shape means
    over-confidence, a hump under-confidence, a slope bias.

    >>> density, edges = pit_histogram([0.1, 0.2, 0.7, 0.9], n_bins=2)
    >>> density.tolist(), edges.tolist()
    ([1.0, 1.0], [0.0, 0.5, 1.0])
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    density, edges = np.histogram(
        _check_pit(pit_values), bins=n_bins, range=(0.0, 1.0), density=True
    )
    return density, edges


def coverage_from_pit(
    pit_values: ArrayLike, levels: ArrayLike = DEFAULT_COVERAGE_LEVELS
) -> NDArray[np.float64]:
    """Observed coverage of the central intervals at each nominal ``level``.

    A true redshift lies inside the central ``L`` interval of its PDF exactly when
    ``|PIT - 0.5| <= L / 2``.

    >>> coverage_from_pit([0.1, 0.3, 0.5, 0.7, 0.97], [0.5, 0.9]).tolist()
    [0.6, 0.8]
    """
    values = _check_pit(pit_values)
    nominal = np.asarray(levels, dtype=np.float64)
    return np.array([np.mean(np.abs(values - 0.5) <= level / 2) for level in nominal.ravel()])
