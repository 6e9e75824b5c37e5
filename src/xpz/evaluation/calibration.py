"""Are the predicted uncertainties honest?  Interval coverage and PIT statistics.

A model that predicts a central interval at nominal level ``L`` (e.g. 68%) is
*calibrated* if a fraction ``L`` of true redshifts fall inside it.  Over-confident
models (intervals too narrow) cover less, under-confident ones more.

For full PDFs, the probability integral transform ``PIT = CDF(z_true)`` is uniform
on [0, 1] when calibrated; its Kolmogorov-Smirnov distance from uniform is a
one-number summary (0 is perfect), and the central-interval coverage at level
``L`` is the share of PIT values with ``|PIT - 0.5| <= L / 2``.

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
    "DEFAULT_COVERAGE_LEVELS",
    "coverage",
    "coverage_from_pit",
    "interval_coverage_from_quantiles",
    "pit_histogram",
    "pit_ks_statistic",
    "quantile_key",
    "quantile_level",
]

#: Nominal central-interval levels for coverage curves.
DEFAULT_COVERAGE_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.8, 0.9, 0.95)

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
