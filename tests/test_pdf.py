"""Gridded redshift PDFs checked against known distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from xpz import pdf as zpdf
from xpz.errors import InputError

GRID = np.linspace(0.0, 1.0, 2001)  # step 5e-4
STEP = GRID[1] - GRID[0]
MU, SIGMA = np.array([0.3, 0.45, 0.6]), np.array([0.05, 0.02, 0.08])


def gaussians(mu=MU, sigma=SIGMA) -> np.ndarray:
    """Unnormalised Gaussian densities, one row per (mu, sigma)."""
    return np.exp(-0.5 * ((GRID[None, :] - mu[:, None]) / sigma[:, None]) ** 2)


def test_normalise_and_cdf():
    p = zpdf.normalise(3.0 * gaussians(), GRID)
    np.testing.assert_allclose(np.trapezoid(p, GRID, axis=1), 1.0)
    c = zpdf.cdf(gaussians(), GRID)
    assert c.shape == (3, GRID.size)
    assert np.all(np.diff(c, axis=1) >= 0)
    np.testing.assert_allclose(c[:, [0, -1]], [[0, 1]] * 3, atol=1e-12)


@pytest.mark.parametrize("level", [0.025, 0.16, 0.5, 0.84, 0.975])
def test_gaussian_quantiles_to_grid_precision(level):
    got = zpdf.quantiles(gaussians(), GRID, level)
    np.testing.assert_allclose(got, stats.norm.ppf(level, MU, SIGMA), atol=STEP)


def test_median_mean_std_interval_of_gaussians():
    np.testing.assert_allclose(zpdf.median(gaussians(), GRID), MU, atol=STEP)
    np.testing.assert_allclose(zpdf.mean(gaussians(), GRID), MU, atol=STEP)
    np.testing.assert_allclose(zpdf.std(gaussians(), GRID), SIGMA, rtol=1e-3)
    lower, upper = zpdf.interval(gaussians(), GRID, 0.95)
    np.testing.assert_allclose(lower, MU - 1.959964 * SIGMA, atol=STEP)
    np.testing.assert_allclose(upper, MU + 1.959964 * SIGMA, atol=STEP)


def test_quantiles_with_vector_of_levels_and_one_galaxy():
    out = zpdf.quantiles(gaussians()[0], GRID, [0.16, 0.84])
    assert out.shape == (1, 2)
    np.testing.assert_allclose(out[0], [MU[0] - SIGMA[0], MU[0] + SIGMA[0]], atol=STEP)


def test_gaussian_crps_matches_closed_form():
    z_true = np.array([0.31, 0.40, 0.9])
    omega = (z_true - MU) / SIGMA
    closed = SIGMA * (
        omega * (2 * stats.norm.cdf(omega) - 1) + 2 * stats.norm.pdf(omega) - 1 / np.sqrt(np.pi)
    )
    np.testing.assert_allclose(zpdf.crps(gaussians(), GRID, z_true), closed, rtol=1e-3)


def test_crps_outside_grid_adds_the_distance():
    narrow = np.exp(-0.5 * ((GRID - 0.5) / 0.001) ** 2)[None, :]
    inside = zpdf.crps(narrow, GRID, [0.9])[0]
    outside = zpdf.crps(narrow, GRID, [1.3])[0]
    assert inside == pytest.approx(0.4, abs=1e-3)
    assert outside == pytest.approx(0.8, abs=1e-3)


def test_pit_of_draws_from_the_pdf_is_uniform(rng):
    n = 1000
    mu = rng.uniform(0.3, 0.7, n)  # >= 5 sigma inside the grid
    sigma = rng.uniform(0.02, 0.06, n)
    z_true = rng.normal(mu, sigma)
    values = zpdf.pit(gaussians(mu, sigma), GRID, z_true)
    np.testing.assert_allclose(values, stats.norm.cdf(z_true, mu, sigma), atol=1e-4)
    assert stats.kstest(values, "uniform").pvalue > 0.01
    shifted = zpdf.pit(gaussians(mu + 2 * sigma, sigma), GRID, z_true)
    assert stats.kstest(shifted, "uniform").pvalue < 1e-6


def test_qp_dicts_preserve_the_distribution():
    interp = zpdf.to_qp_interp_dict(gaussians(), GRID)
    np.testing.assert_array_equal(interp["xvals"], GRID)
    np.testing.assert_allclose(np.trapezoid(interp["yvals"], GRID, axis=1), 1.0)
    hist = zpdf.to_qp_hist_dict(gaussians(), GRID)
    assert hist["bins"].shape == (GRID.size + 1,) and hist["pdfs"].shape == (3, GRID.size)
    np.testing.assert_allclose(np.sum(hist["pdfs"] * np.diff(hist["bins"]), axis=1), 1.0)
    centres = 0.5 * (hist["bins"][1:] + hist["bins"][:-1])
    np.testing.assert_allclose(
        np.sum(hist["pdfs"] * np.diff(hist["bins"]) * centres, 1), MU, atol=1e-6
    )


def test_from_bin_probabilities_round_trip():
    edges = np.linspace(0, 1, 201)
    probabilities = np.diff(stats.norm.cdf(edges, 0.4, 0.05))[None, :]
    density, centres = zpdf.from_bin_probabilities(probabilities, edges)
    assert zpdf.median(density, centres)[0] == pytest.approx(0.4, abs=1e-3)


def test_bad_densities_name_the_rows():
    bad = gaussians()
    bad[1, 5] = -1.0
    with pytest.raises(InputError, match="rows? 1"):
        zpdf.cdf(bad, GRID)
    with pytest.raises(InputError, match="integrates to zero"):
        zpdf.normalise(np.zeros((2, GRID.size)), GRID)
    with pytest.raises(ValueError, match="shape"):
        zpdf.mean(gaussians()[:, :-1], GRID)
    with pytest.raises(ValueError, match="levels"):
        zpdf.quantiles(gaussians(), GRID, 1.5)


def test_quantiles_of_many_rows_invert_each_cdf(rng):
    """The batched search equals a row-by-row inversion, also with flat (zero-density) stretches."""
    grid = np.linspace(0.0, 0.6, 61)
    pdf = rng.gamma(0.3, size=(500, grid.size))
    pdf[:, 20:30] = 0.0  # a gap: the CDF is flat there
    pdf[7] = 0.0
    pdf[7, 40] = 1.0  # one-point spike
    levels = np.array([0.0, 0.025, 0.16, 0.5, 0.84, 0.975, 1.0])
    got = zpdf.quantiles(pdf, grid, levels)
    c = zpdf.cdf(pdf, grid)
    for i in range(len(pdf)):
        row = c[i]
        for j, level in enumerate(levels):
            hi = min(int(np.sum(row < level)), grid.size - 1)
            lo = max(hi - 1, 0)
            rise = row[hi] - row[lo]
            expected = grid[lo] + (0 if rise <= 0 else (level - row[lo]) / rise) * (
                grid[hi] - grid[lo]
            )
            assert got[i, j] == pytest.approx(expected, abs=1e-12), (i, level)
    assert np.all(np.diff(got, axis=1) >= -1e-15)
