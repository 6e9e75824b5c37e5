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


@pytest.mark.parametrize("seed", [0, 1])
def test_cvm_and_ad_agree_with_scipy(seed):
    pit = np.random.default_rng(seed).beta(1.3, 1.0, 300)
    cvm = stats.cramervonmises(pit, "uniform").statistic
    ad = stats.goodness_of_fit(
        stats.uniform,
        pit,
        known_params={"loc": 0, "scale": 1},
        statistic="ad",
        n_mc_samples=9,
        rng=0,
    ).statistic
    assert calibration.pit_cvm_statistic(pit) == pytest.approx(cvm, rel=1e-10)
    assert calibration.pit_ad_statistic(pit) == pytest.approx(ad, rel=1e-10)


def test_cvm_and_ad_with_ties_and_pit_at_the_bounds():
    tied = np.array([0.5, 0.5, 0.5, 0.5])
    # every value 0.5 against expected (2i - 1) / 8: sum of (0.5 - e)^2 = 2 (3/8)^2 + 2 (1/8)^2
    assert calibration.pit_cvm_statistic(tied) == pytest.approx(1 / 48 + 2 * (9 + 1) / 64)
    ad = stats.goodness_of_fit(
        stats.uniform, tied, known_params={"loc": 0, "scale": 1}, statistic="ad", n_mc_samples=9
    ).statistic
    assert calibration.pit_ad_statistic(tied) == pytest.approx(ad, rel=1e-10)
    failed = calibration.pit_ad_statistic([0.0, 0.3, 0.6, 1.0])
    assert np.isfinite(failed) and failed > 5  # clipped logs: large, finite


def test_catastrophic_pit_rate_counts_both_tails():
    pit = np.array([0.0, 0.00009, 0.00011, 0.5, 0.99985, 0.99991, 1.0])
    assert calibration.pit_catastrophic_rate(pit) == pytest.approx(4 / 7)
    assert calibration.pit_catastrophic_rate(pit, threshold=0.01) == pytest.approx(6 / 7)
    assert calibration.pit_catastrophic_rate([0.2, 0.8]) == 0.0


def test_cde_loss_of_gaussians_against_the_closed_form():
    grid = np.linspace(-1.0, 2.0, 30001)
    z_true = np.array([0.2, 0.5, 0.9])
    mu = np.array([0.25, 0.5, 0.6])
    sigma = 0.05
    pdf = stats.norm.pdf(grid[None, :], mu[:, None], sigma)
    # integral of a Gaussian squared is 1 / (2 sigma sqrt(pi))
    expected = np.mean(1 / (2 * sigma * np.sqrt(np.pi)) - 2 * stats.norm.pdf(z_true, mu, sigma))
    assert calibration.cde_loss(pdf, grid, z_true) == pytest.approx(expected, rel=1e-6)
    # a sharper PDF centred on the truth scores lower (better)
    sharp = stats.norm.pdf(grid[None, :], z_true[:, None], 0.01)
    assert calibration.cde_loss(sharp, grid, z_true) < expected


def test_cde_loss_outside_the_grid_reads_zero_density():
    assert calibration.cde_loss([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0], [3.0]) == pytest.approx(1.0)
    with pytest.raises(InputError, match="z_true"):
        calibration.cde_loss([[1.0, 1.0, 1.0]], [0.0, 0.5, 1.0], [0.1, 0.2])
