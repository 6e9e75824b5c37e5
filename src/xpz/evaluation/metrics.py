"""Point-estimate photo-z metrics, as plain functions of numpy arrays.

Conventions follow RAIL (the LSST-DESC photo-z framework):

* ``dz = (z_pred - z_true) / (1 + z_true)`` is the *normalised* residual;
* ``bias`` is ``median(dz)`` and ``sigma_nmad`` is its robust scatter,
  ``1.4826 * median(|dz - median(dz)|)`` (1.4826 makes it equal to the standard
  deviation for a Gaussian);
* ``sigma_iqr`` is the interquartile range of ``dz`` over 1.349 (another robust
  scatter, the LSST Science Requirements Document's);
* an *outlier* has ``|dz| > 0.15`` (some authors also quote ``> 0.05``); the
  SRD's and RAIL's *catastrophic outlier rate* instead cuts at
  ``|dz| > max(0.06, 3 sigma_iqr)``.

The dissertation's own numbers are *unnormalised*: ``mae`` is
``mean(|z_pred - z_true|)`` (0.021 on its test set) and its per-bin "mean error"
is ``mean(z_pred - z_true)``.  Redshifts are dimensionless, so every metric is too.

>>> z_true = [0.1, 0.2, 0.3, 0.4]
>>> z_pred = [0.11, 0.18, 0.33, 0.40]
>>> round(mae(z_true, z_pred), 4), round(mean_error(z_true, z_pred), 4)
(0.015, 0.005)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError

__all__ = [
    "IQR_GAUSSIAN",
    "LOOSE_OUTLIER_THRESHOLD",
    "LOW_Z_LIMIT",
    "OUTLIER_THRESHOLD",
    "SIGMA_NMAD_FACTOR",
    "SRD_OUTLIER_FLOOR",
    "SRD_OUTLIER_SIGMAS",
    "as_redshift_pair",
    "bias",
    "delta_z",
    "mae",
    "mae_below",
    "mean_error",
    "outlier_fraction",
    "outlier_rate",
    "rmse",
    "sigma_iqr",
    "sigma_nmad",
    "summary",
]

#: Scale turning a median absolute deviation into a Gaussian standard deviation.
SIGMA_NMAD_FACTOR = 1.4826
#: Catastrophic-outlier cut on ``|dz|`` (RAIL's default).
OUTLIER_THRESHOLD = 0.15
#: Stricter outlier cut also reported.
LOOSE_OUTLIER_THRESHOLD = 0.05
#: Interquartile range of a unit Gaussian: sigma_IQR = IQR(dz) / 1.349.
IQR_GAUSSIAN = 1.349
#: The LSST SRD's catastrophic-outlier cut is |dz| > max(SRD_OUTLIER_FLOOR, 3 sigma_IQR).
SRD_OUTLIER_FLOOR = 0.06
SRD_OUTLIER_SIGMAS = 3.0
#: Upper redshift of the dissertation's "low-z" MAE (its first seven 0.05 bins).
LOW_Z_LIMIT = 0.35


def as_redshift_pair(
    z_true: ArrayLike, z_pred: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Check and return ``(z_true, z_pred)`` as equal-length, finite 1-D float arrays.

    Raises :class:`~xpz.errors.InputError` naming the rows at fault.
    """
    t = np.asarray(z_true, dtype=np.float64)
    p = np.asarray(z_pred, dtype=np.float64)
    if t.ndim != 1 or p.shape != t.shape:
        raise InputError(f"z_true and z_pred must be 1-D of equal length, got {t.shape}, {p.shape}")
    if t.size == 0:
        raise InputError("no galaxies to evaluate")
    for name, values in (("z_true", t), ("z_pred", p)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError("redshift is not finite", rows=bad.tolist(), column=name)
    return t, p


def delta_z(z_true: ArrayLike, z_pred: ArrayLike) -> NDArray[np.float64]:
    """Normalised residuals ``dz = (z_pred - z_true) / (1 + z_true)``.

    >>> delta_z([0.0, 1.0], [0.1, 1.2]).round(3).tolist()
    [0.1, 0.1]
    """
    t, p = as_redshift_pair(z_true, z_pred)
    return (p - t) / (1.0 + t)


def mae(z_true: ArrayLike, z_pred: ArrayLike) -> float:
    """Mean absolute error ``mean(|z_pred - z_true|)`` (unnormalised, as the dissertation).

    >>> round(mae([0.1, 0.2], [0.12, 0.17]), 6)
    0.025
    """
    t, p = as_redshift_pair(z_true, z_pred)
    return float(np.mean(np.abs(p - t)))


def rmse(z_true: ArrayLike, z_pred: ArrayLike) -> float:
    """Root-mean-square error ``sqrt(mean((z_pred - z_true)**2))`` (unnormalised).

    >>> round(rmse([0.0, 0.0], [0.3, -0.4]), 6)
    0.353553
    """
    t, p = as_redshift_pair(z_true, z_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def bias(z_true: ArrayLike, z_pred: ArrayLike) -> float:
    """RAIL bias: ``median(dz)``, robust to outliers.

    >>> round(bias([0.0, 0.0, 0.0], [0.01, 0.02, 0.5]), 6)
    0.02
    """
    return float(np.median(delta_z(z_true, z_pred)))


def mean_error(z_true: ArrayLike, z_pred: ArrayLike) -> float:
    """Mean error ``mean(z_pred - z_true)``: the dissertation's (unnormalised) bias.

    Negative means the model predicts too low.

    >>> round(mean_error([0.1, 0.3], [0.1, 0.2]), 6)
    -0.05
    """
    t, p = as_redshift_pair(z_true, z_pred)
    return float(np.mean(p - t))


def sigma_nmad(z_true: ArrayLike, z_pred: ArrayLike) -> float:
    """Normalised median absolute deviation ``1.4826 * median(|dz - median(dz)|)``.

    >>> round(sigma_nmad([0.0] * 4, [0.0, 0.01, 0.02, 0.9]), 6)
    0.014826
    """
    dz = delta_z(z_true, z_pred)
    return float(SIGMA_NMAD_FACTOR * np.median(np.abs(dz - np.median(dz))))


def sigma_iqr(z_true: ArrayLike, z_pred: ArrayLike) -> float:
    """Interquartile range of ``dz`` divided by 1.349 (numpy's linear quantiles).

    >>> round(sigma_iqr([0.0] * 5, [-0.02, -0.01, 0.0, 0.01, 0.9]), 6)
    0.014826
    """
    q25, q75 = np.quantile(delta_z(z_true, z_pred), [0.25, 0.75])
    return float((q75 - q25) / IQR_GAUSSIAN)


def outlier_rate(z_true: ArrayLike, z_pred: ArrayLike) -> float:
    """The SRD/RAIL catastrophic-outlier rate: share with ``|dz| > max(0.06, 3 sigma_iqr)``.

    With a tight core the 0.06 floor applies:

    >>> outlier_rate([0.0] * 5, [-0.02, -0.01, 0.0, 0.01, 0.9])
    0.2
    """
    dz = delta_z(z_true, z_pred)
    cut = max(SRD_OUTLIER_FLOOR, SRD_OUTLIER_SIGMAS * sigma_iqr(z_true, z_pred))
    return float(np.mean(np.abs(dz) > cut))


def outlier_fraction(
    z_true: ArrayLike, z_pred: ArrayLike, threshold: float = OUTLIER_THRESHOLD
) -> float:
    """Share of galaxies with ``|dz| > threshold`` (0.15 by default; 0.05 is also quoted).

    >>> outlier_fraction([0.0] * 4, [0.0, 0.1, 0.2, -0.3])
    0.5
    >>> outlier_fraction([0.0] * 4, [0.0, 0.1, 0.2, -0.3], threshold=0.05)
    0.75
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    return float(np.mean(np.abs(delta_z(z_true, z_pred)) > threshold))


def mae_below(z_true: ArrayLike, z_pred: ArrayLike, z_max: float = LOW_Z_LIMIT) -> float:
    """MAE over the galaxies with ``z_true < z_max``; NaN when there are none.

    Note: the dissertation's "MAE 0.013 over 0 <= z < 0.35" is, by its numbers,
    the mean of ``|mean error|`` over the first seven bins of its Table 3 (see
    :func:`xpz.evaluation.binned.mean_abs_bin_error`), not this per-galaxy MAE.

    >>> round(mae_below([0.1, 0.2, 0.5], [0.11, 0.21, 0.3]), 6)
    0.01
    >>> mae_below([0.5], [0.4])
    nan
    """
    t, p = as_redshift_pair(z_true, z_pred)
    low = t < z_max
    if not low.any():
        return float("nan")
    return float(np.mean(np.abs(p[low] - t[low])))


def summary(z_true: ArrayLike, z_pred: ArrayLike) -> dict[str, float]:
    """Every metric of this module, keyed by name; ``n`` is the number of galaxies.

    >>> sorted(summary([0.1, 0.2], [0.1, 0.25]))  # doctest: +NORMALIZE_WHITESPACE
    ['bias', 'mae', 'mae_z_lt_035', 'mean_error', 'n', 'outlier_frac_005',
     'outlier_frac_015', 'outlier_rate', 'rmse', 'sigma_iqr', 'sigma_nmad']
    """
    t, p = as_redshift_pair(z_true, z_pred)
    return {
        "mae": mae(t, p),
        "rmse": rmse(t, p),
        "bias": bias(t, p),
        "mean_error": mean_error(t, p),
        "sigma_nmad": sigma_nmad(t, p),
        "sigma_iqr": sigma_iqr(t, p),
        "outlier_rate": outlier_rate(t, p),
        "outlier_frac_015": outlier_fraction(t, p, OUTLIER_THRESHOLD),
        "outlier_frac_005": outlier_fraction(t, p, LOOSE_OUTLIER_THRESHOLD),
        "mae_z_lt_035": mae_below(t, p, LOW_Z_LIMIT),
        "n": float(t.size),
    }
