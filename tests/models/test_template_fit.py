"""Template fitting: exact non-negative fits, known redshifts recovered, proper PDFs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from xpz.models import template_fit as tf

GRID = tf.DEFAULT_Z_GRID
STEP = GRID[1] - GRID[0]


def noiseless(z_index: int, amplitudes) -> tuple[np.ndarray, np.ndarray]:
    templates = tf.template_fluxes(GRID)
    flux = np.asarray(amplitudes, float) @ templates[z_index]
    return flux, np.full(flux.shape, 1e-3 * np.abs(flux).max())


@pytest.mark.parametrize("z_index", [10, 47, 100])
def test_a_noiseless_template_mix_is_recovered_within_one_grid_step(z_index):
    flux, error = noiseless(z_index, [2.0, 0.0, 0.5, 0.0, 1.0])
    fit = tf.fit_templates(flux[None], error[None])
    assert abs(fit.z_best[0] - GRID[z_index]) <= STEP + 1e-12
    assert abs(fit.z_pred[0] - GRID[z_index]) <= STEP + 1e-12
    # an exact fit, to the precision of the normal equations (chi2 of no fit at all: ~1e8)
    assert fit.chi2[0, z_index] < 1e-8 * np.sum((flux / error) ** 2)
    assert np.trapezoid(fit.pdf[0], GRID) == pytest.approx(1.0)
    assert (fit.pdf >= 0).all()


@pytest.mark.parametrize("z_index", [10, 47, 100])
def test_a_noiseless_bpz_template_mix_is_recovered_within_one_grid_step(z_index):
    bpz = tf.TemplateSet.BPZ
    templates = tf.template_fluxes(GRID, bpz)
    assert templates.shape == (len(GRID), 6, 186)
    # a BPZ galaxy: a mix of two adjacent types (Sbc and Scd), as the simulator makes them
    flux = np.array([0.0, 0.7, 0.3, 0.0, 0.0, 0.0]) @ templates[z_index] * 50.0
    error = np.full(flux.shape, 1e-3 * np.abs(flux).max())
    fit = tf.fit_templates(flux[None], error[None], template_set=bpz)
    assert abs(fit.z_best[0] - GRID[z_index]) <= STEP + 1e-12
    assert abs(fit.z_pred[0] - GRID[z_index]) <= STEP + 1e-12
    assert fit.chi2[0, z_index] < 1e-8 * np.sum((flux / error) ** 2)
    assert np.trapezoid(fit.pdf[0], GRID) == pytest.approx(1.0)
    assert (fit.pdf >= 0).all()


def test_the_two_template_sets_are_different_seds():
    kcorrect = tf.template_fluxes(GRID)[47]
    bpz = tf.template_fluxes(GRID, tf.TemplateSet.BPZ)[47]
    # no BPZ template is a non-negative combination of kcorrect's (relative residual > 1%)
    for row in bpz:
        amplitude, residual = nnls(kcorrect.T, row)
        assert residual > 0.01 * np.linalg.norm(row)


def test_chi2_is_the_exact_non_negative_least_squares_minimum():
    rng = np.random.default_rng(0)
    templates = tf.template_fluxes(GRID)
    flux, error = noiseless(60, [1.0, 0.3, 0.0, 2.0, 0.0])
    spectra = flux + error * 50 * rng.standard_normal((4, flux.size))
    errors = np.broadcast_to(error * 50, spectra.shape)
    fit = tf.fit_templates(spectra, errors)
    for n in range(4):
        for z_index in (5, 60, 110):
            design = templates[z_index].T / errors[n][:, None]
            _, residual = nnls(design, spectra[n] / errors[n])
            assert fit.chi2[n, z_index] == pytest.approx(residual**2, rel=1e-6, abs=1e-6)


def test_a_missing_band_is_left_out_of_the_fit():
    flux, error = noiseless(40, [1.0, 0.0, 0.0, 0.5, 0.0])
    without_bp = flux.copy()
    without_bp[:80] = np.nan
    fit = tf.fit_templates(np.vstack([flux, without_bp]), np.vstack([error, error]))
    assert np.isfinite(fit.chi2).all() and np.isfinite(fit.z_pred).all()
    assert abs(fit.z_best[1] - GRID[40]) <= STEP + 1e-12


def test_the_prior_multiplies_the_likelihood():
    flux, error = noiseless(40, [1.0, 0.0, 0.0, 0.5, 0.0])
    noisy_error = error * 3000  # a weak likelihood: the prior matters
    flat = tf.fit_templates(flux[None], noisy_error[None])
    prior = np.where(GRID < 0.3, 1.0, 0.0)
    fit = tf.fit_templates(flux[None], noisy_error[None], prior=prior)
    assert (fit.pdf[0, GRID > 0.3 + STEP] == 0).all()
    expected = flat.pdf[0] * prior
    expected /= np.trapezoid(expected, GRID)
    np.testing.assert_allclose(fit.pdf[0], expected, atol=1e-9)
    with pytest.raises(ValueError, match="prior"):
        tf.fit_templates(flux[None], error[None], prior=np.ones(3))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(N, 186\)"):
        tf.fit_templates(np.ones((2, 10)), np.ones((2, 10)))
    with pytest.raises(ValueError, match="increasing"):
        tf.template_fluxes([0.2, 0.1])


def test_batched_spd_solver_agrees_with_lapack():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(50, 4, 4))
    a = m @ m.transpose(0, 2, 1) + 0.1 * np.eye(4)
    b = rng.normal(size=(50, 4))
    np.testing.assert_allclose(
        tf._solve_spd(a, b), np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-8
    )
