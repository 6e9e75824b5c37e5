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
