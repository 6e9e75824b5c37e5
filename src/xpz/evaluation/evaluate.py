"""Every number of an evaluation, computed once and returned as a value.

:func:`evaluate` takes point predictions (and, where a model gives them,
quantiles and a gridded PDF) against true redshifts and returns an
:class:`Evaluation`: the headline metrics, the per-bin table beside the
dissertation's Table 3, and the uncertainty metrics with what their figures
need.  Nothing is drawn or written here; :mod:`xpz.evaluation.report` renders
an :class:`Evaluation` into files.

>>> result = evaluate([0.1, 0.2, 0.3, 0.4], [0.11, 0.18, 0.33, 0.40])
>>> round(result.metrics["mae"], 4), int(result.metrics["n"]), len(result.per_bin)
(0.015, 4, 12)
>>> result.uncertainty
{}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError
from xpz.evaluation import calibration
from xpz.evaluation.binned import (
    compare_with_dissertation,
    mean_abs_bin_error,
    per_bin_table,
    per_magnitude_table,
)
from xpz.evaluation.metrics import as_redshift_pair, summary
from xpz.reference import DISSERTATION_TEST_MAE, DISSERTATION_TEST_MAE_Z_LT_035

__all__ = ["COVERAGE_LEVELS", "Evaluation", "evaluate"]

#: Central-interval levels whose coverage is reported (68% and 95%).
COVERAGE_LEVELS = (0.68, 0.95)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The results of :func:`evaluate`.

    Attributes
    ----------
    z_true, z_pred : arrays (N,)
        The checked redshift pair the numbers were computed from.
    metrics : dict
        Headline point metrics (:func:`xpz.evaluation.metrics.summary` plus
        ``mean_abs_bin_error_z_lt_035``).
    per_bin : astropy Table
        The per-0.05-bin table with the dissertation's Table 3 beside it, and
        the robust metrics per bin.
    per_magnitude : astropy Table or None
        The same metrics per G-magnitude bin, when magnitudes were given.
    uncertainty : dict
        Interval coverage (``quantile_coverage``, ``pdf_coverage``), the PIT's
        ``pit_ks``, ``pit_cvm``, ``pit_ad`` and ``pit_catastrophic_rate``,
        ``crps_mean`` and ``cde_loss``, as far as the inputs allow; empty for
        point models.
    coverage_curves : dict
        Source (``"quantiles"``, ``"PDF"``) -> (nominal levels, observed coverage).
    pit : array (N,) or None
        PIT values of the PDF, when one was given.
    """

    z_true: NDArray[np.float64]
    z_pred: NDArray[np.float64]
    metrics: dict[str, float]
    per_bin: Any
    per_magnitude: Any
    uncertainty: dict[str, Any]
    coverage_curves: dict[str, tuple[Any, Any]]
    pit: NDArray[np.float64] | None

    def summary(self) -> dict[str, Any]:
        """The JSON-able numbers: metrics, the dissertation's, and uncertainty metrics."""
        return {
            "metrics": dict(self.metrics),
            "dissertation": {
                "mae": DISSERTATION_TEST_MAE,
                "mean_abs_bin_error_z_lt_035": DISSERTATION_TEST_MAE_Z_LT_035,
            },
            "uncertainty": dict(self.uncertainty),
        }


def evaluate(
    z_true: ArrayLike,
    z_pred: ArrayLike,
    *,
    quantiles: Mapping[str, ArrayLike] | None = None,
    pdf: ArrayLike | None = None,
    pdf_grid: ArrayLike | None = None,
    g_mag: ArrayLike | None = None,
) -> Evaluation:
    """Evaluate ``z_pred`` against ``z_true``.

    Parameters
    ----------
    z_true, z_pred : arrays (N,)
        Spectroscopic and predicted redshifts (finite, equal length).
    quantiles : mapping ``"z_q<digits>"`` -> array (N,), optional
        Predicted quantiles, e.g. ``z_q025, z_q16, z_q84, z_q975``.
    pdf, pdf_grid : arrays (N, K) and (K,), optional
        Predicted densities on a redshift grid (see :mod:`xpz.pdf`); both or neither.
    g_mag : array (N,), optional
        G magnitudes of the galaxies, for the per-magnitude table.

    Raises :class:`~xpz.errors.InputError` for mismatched inputs.
    """
    t, p = as_redshift_pair(z_true, z_pred)
    metrics = summary(t, p)
    table = compare_with_dissertation(per_bin_table(t, p))
    metrics["mean_abs_bin_error_z_lt_035"] = mean_abs_bin_error(table)
    by_magnitude = None if g_mag is None else per_magnitude_table(g_mag, t, p)
    uncertainty: dict[str, Any] = {}
    curves: dict[str, tuple[Any, Any]] = {}
    if quantiles:
        uncertainty |= _quantile_metrics(t, quantiles, curves)
    if (pdf is None) != (pdf_grid is None):
        raise InputError("pdf and pdf_grid must be given together")
    pit_values = None
    if pdf is not None and pdf_grid is not None:
        pdf_metrics, pit_values = _pdf_metrics(t, pdf, pdf_grid, curves)
        uncertainty |= pdf_metrics
    return Evaluation(t, p, metrics, table, by_magnitude, uncertainty, curves, pit_values)


def _quantile_metrics(
    z_true: NDArray[np.float64],
    quantiles: Mapping[str, ArrayLike],
    curves: dict[str, tuple[Any, Any]],
) -> dict[str, Any]:
    """Coverage of the central intervals the quantiles span; adds its curve to ``curves``."""
    for key, values in quantiles.items():
        if np.shape(values) != z_true.shape:
            raise InputError(f"needs one value per galaxy ({z_true.size})", column=key)
    by_level = calibration.interval_coverage_from_quantiles(z_true, quantiles)
    if by_level:
        curves["quantiles"] = (list(by_level), list(by_level.values()))
    return {"quantile_coverage": {f"{k:g}": v for k, v in by_level.items()}}


def _pdf_metrics(
    z_true: NDArray[np.float64],
    pdf: ArrayLike,
    pdf_grid: ArrayLike,
    curves: dict[str, tuple[Any, Any]],
) -> tuple[dict[str, Any], NDArray[np.float64]]:
    """PIT, coverage, PIT statistics, CRPS and CDE loss of a gridded PDF; adds its curve."""
    from xpz import pdf as zpdf

    pit_values = zpdf.pit(pdf, pdf_grid, z_true)
    levels = np.asarray(calibration.DEFAULT_COVERAGE_LEVELS)
    observed = calibration.coverage_from_pit(pit_values, levels)
    curves["PDF"] = (levels, observed)
    metrics = {
        "pdf_coverage": {
            f"{level:g}": float(observed[np.isclose(levels, level)][0]) for level in COVERAGE_LEVELS
        },
        "pit_ks": calibration.pit_ks_statistic(pit_values),
        "pit_cvm": calibration.pit_cvm_statistic(pit_values),
        "pit_ad": calibration.pit_ad_statistic(pit_values),
        "pit_catastrophic_rate": calibration.pit_catastrophic_rate(pit_values),
        "crps_mean": float(np.mean(zpdf.crps(pdf, pdf_grid, z_true))),
        "cde_loss": calibration.cde_loss(pdf, pdf_grid, z_true),
    }
    return metrics, pit_values
