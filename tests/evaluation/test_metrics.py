"""Photo-z point metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xpz.errors import InputError
from xpz.evaluation import metrics

Z_TRUE = np.array([0.0, 0.1, 0.2, 0.3, 0.5])
Z_PRED = np.array([0.02, 0.1, 0.14, 0.33, 0.2])
ERROR = Z_PRED - Z_TRUE  # [0.02, 0, -0.06, 0.03, -0.3]
DZ = ERROR / (1 + Z_TRUE)  # [0.02, 0, -0.05, 0.023077, -0.2]


def test_delta_z_is_normalised_by_one_plus_z():
    np.testing.assert_allclose(metrics.delta_z(Z_TRUE, Z_PRED), DZ)


def test_unnormalised_metrics_by_hand():
    assert metrics.mae(Z_TRUE, Z_PRED) == pytest.approx(0.41 / 5)
    assert metrics.rmse(Z_TRUE, Z_PRED) == pytest.approx(math.sqrt(0.0949 / 5))
    assert metrics.mean_error(Z_TRUE, Z_PRED) == pytest.approx(-0.31 / 5)


def test_robust_metrics_by_hand():
    assert metrics.bias(Z_TRUE, Z_PRED) == pytest.approx(0.0)  # median of DZ
    # |DZ - 0| sorted: 0, 0.02, 0.023077, 0.05, 0.2 -> median 0.023077
    assert metrics.sigma_nmad(Z_TRUE, Z_PRED) == pytest.approx(1.4826 * 0.03 / 1.3)


def test_outlier_fraction_thresholds():
    assert metrics.outlier_fraction(Z_TRUE, Z_PRED) == pytest.approx(1 / 5)
    assert metrics.outlier_fraction(Z_TRUE, Z_PRED, threshold=0.03) == pytest.approx(2 / 5)
    assert metrics.outlier_fraction(Z_TRUE, Z_PRED, threshold=0.01) == pytest.approx(4 / 5)
    with pytest.raises(ValueError):
        metrics.outlier_fraction(Z_TRUE, Z_PRED, threshold=0.0)


def test_mae_below_uses_true_redshift_strictly():
    assert metrics.mae_below(Z_TRUE, Z_PRED, z_max=0.3) == pytest.approx(0.08 / 3)
    assert metrics.mae_below(Z_TRUE, Z_PRED) == pytest.approx(0.11 / 4)
    assert math.isnan(metrics.mae_below(Z_TRUE, Z_PRED, z_max=0.0))


def test_sigma_nmad_matches_gaussian_scatter(rng):
    z = rng.uniform(0, 0.5, 20_000)
    pred = z + 0.02 * (1 + z) * rng.standard_normal(z.size)
    assert metrics.sigma_nmad(z, pred) == pytest.approx(0.02, rel=0.03)


def test_summary_has_every_metric():
    out = metrics.summary(Z_TRUE, Z_PRED)
    assert set(out) == {
        "mae",
        "rmse",
        "bias",
        "mean_error",
        "sigma_nmad",
        "sigma_iqr",
        "outlier_rate",
        "outlier_frac_015",
        "outlier_frac_005",
        "mae_z_lt_035",
        "n",
    }
    assert out["n"] == 5
    assert out["mae"] == metrics.mae(Z_TRUE, Z_PRED)
    assert all(isinstance(v, float) for v in out.values())


def test_bad_input_names_rows_and_column():
    with pytest.raises(InputError, match=r"column 'z_pred', rows 1, 3"):
        metrics.mae([0.1, 0.2, 0.3, 0.4], [0.1, np.nan, 0.3, np.inf])
    with pytest.raises(InputError, match="equal length"):
        metrics.mae([0.1, 0.2], [0.1])
    with pytest.raises(InputError, match="no galaxies"):
        metrics.summary([], [])


def test_sigma_iqr_by_hand():
    # sorted DZ: [-0.2, -0.05, 0, 0.02, 0.023077]; linear quantiles: q25 = -0.05, q75 = 0.02
    assert metrics.sigma_iqr(Z_TRUE, Z_PRED) == pytest.approx(0.07 / 1.349)


def test_outlier_rate_uses_the_floor_when_the_core_is_tight():
    # sigma_iqr = 0.0519, 3 sigma = 0.156 > 0.06: only |dz| = 0.2 is beyond the cut
    assert metrics.outlier_rate(Z_TRUE, Z_PRED) == pytest.approx(1 / 5)
    tight_true = np.zeros(8)
    tight_pred = np.array([0.0, 0.001, -0.001, 0.002, -0.002, 0.07, -0.065, 0.059])
    # sigma_iqr ~ 0.002, so the 0.06 floor applies: 0.07 and -0.065 are outliers, 0.059 not
    assert metrics.outlier_rate(tight_true, tight_pred) == pytest.approx(2 / 8)


def test_outlier_rate_cut_is_three_sigma_iqr_when_that_is_wider():
    rng = np.random.default_rng(3)
    dz = rng.normal(0.0, 0.1, 4001)  # sigma_iqr ~ 0.1: the cut is ~0.3, not 0.06
    z_true = np.zeros(dz.size)
    cut = 3 * (np.quantile(dz, 0.75) - np.quantile(dz, 0.25)) / 1.349
    assert cut > 0.25
    expected = np.mean(np.abs(dz) > cut)
    assert metrics.outlier_rate(z_true, dz) == pytest.approx(expected)
    assert metrics.outlier_rate(z_true, dz) < metrics.outlier_fraction(z_true, dz, 0.06)


def test_summary_names_both_outlier_definitions():
    s = metrics.summary(Z_TRUE, Z_PRED)
    assert s["outlier_frac_015"] == pytest.approx(1 / 5)
    assert s["outlier_frac_005"] == pytest.approx(1 / 5)  # |-0.05| is not > 0.05
    assert s["outlier_rate"] == pytest.approx(1 / 5)
    assert s["sigma_iqr"] == pytest.approx(0.07 / 1.349)
