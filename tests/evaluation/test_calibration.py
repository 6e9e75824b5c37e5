"""Coverage and PIT statistics on predictions whose calibration is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from xpz.errors import InputError
from xpz.evaluation import calibration

N = 4000
#: Three binomial standard deviations of a 68% coverage measured on N galaxies.
TOL_68 = 3 * np.sqrt(0.68 * 0.32 / N)


def gaussian_predictions(rng, claimed_sigma: float, true_sigma: float = 0.03):
    """True redshifts scattered by ``true_sigma`` around predictions claiming ``claimed_sigma``."""
    z_pred = rng.uniform(0.05, 0.5, N)
    z_true = z_pred + true_sigma * rng.standard_normal(N)
    levels = (0.025, 0.16, 0.5, 0.84, 0.975)
    quantiles = {
        calibration.quantile_key(q): z_pred + claimed_sigma * stats.norm.ppf(q) for q in levels
    }
    pit = stats.norm.cdf(z_true, z_pred, claimed_sigma)
    return z_true, quantiles, pit


def test_calibrated_gaussians_cover_68_and_95_percent(rng):
    z_true, quantiles, _ = gaussian_predictions(rng, claimed_sigma=0.03)
    got = calibration.interval_coverage_from_quantiles(z_true, quantiles)
    assert list(got) == [0.68, 0.95]
    assert got[0.68] == pytest.approx(0.6827, abs=TOL_68)
    assert got[0.95] == pytest.approx(0.95, abs=3 * np.sqrt(0.95 * 0.05 / N))


def test_over_confident_gaussians_under_cover(rng):
    z_true, quantiles, _ = gaussian_predictions(rng, claimed_sigma=0.015)
    got = calibration.interval_coverage_from_quantiles(z_true, quantiles)
    assert got[0.68] < 0.68 - 5 * TOL_68  # expected 2 * Phi(0.5) - 1 = 0.38
    assert got[0.68] == pytest.approx(0.383, abs=TOL_68)


def test_pit_ks_separates_calibrated_from_over_confident(rng):
    _, _, good = gaussian_predictions(rng, claimed_sigma=0.03)
    _, _, bad = gaussian_predictions(rng, claimed_sigma=0.015)
    critical = 1.63 / np.sqrt(N)  # 1% level of the KS test
    assert calibration.pit_ks_statistic(good) < critical
    assert calibration.pit_ks_statistic(bad) > 3 * critical


def test_pit_histogram_flat_for_calibrated_u_shaped_otherwise(rng):
    _, _, good = gaussian_predictions(rng, claimed_sigma=0.03)
    _, _, bad = gaussian_predictions(rng, claimed_sigma=0.015)
    density, edges = calibration.pit_histogram(good, n_bins=10)
    assert edges.tolist() == pytest.approx(np.linspace(0, 1, 11).tolist())
    np.testing.assert_allclose(density, 1.0, atol=0.2)
    density, _ = calibration.pit_histogram(bad, n_bins=10)
    assert density[0] > 2 and density[-1] > 2 and density[5] < 0.7


def test_coverage_from_pit_matches_quantile_coverage(rng):
    z_true, quantiles, pit = gaussian_predictions(rng, claimed_sigma=0.02)
    from_pit = calibration.coverage_from_pit(pit, [0.68, 0.95])
    from_q = calibration.interval_coverage_from_quantiles(z_true, quantiles)
    np.testing.assert_allclose(from_pit, [from_q[0.68], from_q[0.95]], atol=1e-9)


def test_quantile_names_round_trip():
    for q in (0.025, 0.05, 0.16, 0.5, 0.84, 0.975):
        assert calibration.quantile_level(calibration.quantile_key(q)) == pytest.approx(q)
    with pytest.raises(InputError, match="z_q"):
        calibration.quantile_level("q16")


def test_bad_input_rejected():
    with pytest.raises(InputError, match="row 1"):
        calibration.coverage([0.1, 0.2], [0.0, 0.3], [0.2, 0.25])
    with pytest.raises(InputError, match="outside"):
        calibration.pit_ks_statistic([0.2, 1.2])
