"""Noise in coefficient space: errors are estimated from the noisy data, as in real XP spectra."""

from __future__ import annotations

import numpy as np

from xpz.layout import Band
from xpz.simulate.noise import NoiseModel, add_noise
from xpz.xp.basis import pixel_design_matrices


def _coefficients() -> np.ndarray:
    from xpz.simulate import simulate

    # any realistic spectrum: recover its BP coefficients by least squares from its pixels
    spectrum = simulate(1, seed=5, config=None)
    design = pixel_design_matrices()[Band.BP]
    coef, *_ = np.linalg.lstsq(design.T, spectrum.flux[0, :80].astype(float), rcond=None)
    return np.repeat(coef[None, :], 2, axis=0)


def test_reported_errors_follow_the_noisy_data_not_the_truth():
    coefficients = _coefficients()
    design = pixel_design_matrices()[Band.BP]
    model = NoiseModel()
    noisy_a, err_a = add_noise(coefficients, Band.BP, design, model, 1.0, np.random.default_rng(1))
    noisy_b, err_b = add_noise(coefficients, Band.BP, design, model, 1.0, np.random.default_rng(2))
    # the same true spectrum, two noise draws: different data and so different error estimates
    assert not np.allclose(noisy_a, noisy_b)
    assert not np.allclose(err_a, err_b)
    # but the estimates agree with each other to within the noise (same source, same exposure)
    np.testing.assert_allclose(err_a, err_b, rtol=0.5)


def test_no_noise_gives_zero_error():
    coefficients = _coefficients()
    design = pixel_design_matrices()[Band.BP]
    noisy, err = add_noise(
        coefficients, Band.BP, design, NoiseModel(), 0.0, np.random.default_rng(1)
    )
    np.testing.assert_array_equal(noisy, coefficients)
    assert not err.any()


def _copies(n: int) -> np.ndarray:
    return np.repeat(_coefficients()[:1], n, axis=0).astype(np.float32)


def _coefficient_noise(white: bool, n: int = 4000, seed: int = 3) -> np.ndarray:
    coefficients = _copies(n)
    design = pixel_design_matrices()[Band.BP]
    mask = np.full(n, white)
    noisy, _ = add_noise(
        coefficients, Band.BP, design, NoiseModel(), 1.0, np.random.default_rng(seed), white=mask
    )
    return (noisy - coefficients).astype(float)


def test_white_noise_has_no_coefficient_correlations_and_the_same_total_variance():
    white, correlated = _coefficient_noise(True), _coefficient_noise(False)
    off = ~np.eye(55, dtype=bool)
    white_corr = np.corrcoef(white.T)[off]
    correlated_corr = np.corrcoef(correlated.T)[off]
    # 4000 draws: sampling correlations ~ 1/sqrt(4000) = 0.016; the correlated model's are large
    assert np.abs(white_corr).max() < 0.1
    assert np.abs(correlated_corr).max() > 0.3
    # the same total variance per band (within sampling error), spread evenly over coefficients
    total_white, total_corr = white.var(axis=0).sum(), correlated.var(axis=0).sum()
    assert abs(total_white / total_corr - 1) < 0.05
    per = white.var(axis=0)
    assert per.std() / per.mean() < 0.1


def test_white_noise_reports_the_error_of_its_own_pixels():
    n = 4000
    coefficients = _copies(n)
    design = pixel_design_matrices()[Band.BP].astype(np.float32)
    noisy, error = add_noise(
        coefficients,
        Band.BP,
        design,
        NoiseModel(),
        1.0,
        np.random.default_rng(4),
        white=np.ones(n, dtype=bool),
    )
    pixel_noise = (noisy - coefficients) @ design
    np.testing.assert_allclose(pixel_noise.std(axis=0), np.median(error, axis=0), rtol=0.1)


def test_noise_multiplier_widens_the_spread_of_the_noise():
    n = 2000
    coefficients = _copies(n)
    design = pixel_design_matrices()[Band.BP]
    rng = np.random.default_rng(5)
    multiplier = np.exp(0.5 * rng.standard_normal(n))
    spreads, error_spreads = [], []
    for m in (None, multiplier):
        noisy, error = add_noise(
            coefficients, Band.BP, design, NoiseModel(), 1.0, rng, multiplier=m
        )
        spreads.append(np.log(np.std(noisy - coefficients, axis=1)).std())
        error_spreads.append(np.log(np.median(error, axis=1)).std())
    # one galaxy, many draws: the spread of its noise level grows by the multiplier's
    # (0.5 in ln) in quadrature: sqrt(s0^2 + 0.25)
    np.testing.assert_allclose(spreads[1], np.hypot(spreads[0], 0.5), rtol=0.1)
    # and the reported error follows the multiplier
    assert error_spreads[0] < 0.05
    np.testing.assert_allclose(error_spreads[1], 0.5, atol=0.05)
