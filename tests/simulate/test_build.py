"""The shipped simulator data equal what scripts/build_simulator_data.py makes (on a slice)."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.layout import Band
from xpz.simulate.instrument import INSTRUMENT_FILE, compute_instrument_model, instrument_model
from xpz.simulate.noise import noise_bases
from xpz.simulate.photometry import (
    compute_distance_modulus_table,
    compute_gaia_photometry,
    gaia_photometry,
)
from xpz.simulate.templates import compute_template_coefficients, galaxies, template_coefficients

pytest.importorskip("gaiaxpy")


@pytest.fixture(scope="module")
def fresh_model():
    return compute_instrument_model()


def test_instrument_projection_matches_shipped(fresh_model):
    shipped = instrument_model()
    np.testing.assert_allclose(fresh_model.wavelength, shipped.wavelength)
    for band in Band:
        scale = np.abs(fresh_model.projection[band]).max()
        np.testing.assert_allclose(
            shipped.projection[band], fresh_model.projection[band], atol=1e-6 * scale
        )


def test_template_coefficients_slice_matches_shipped(fresh_model):
    shipped = template_coefficients()
    rows = np.array([0, 100, 250])
    templates = np.array([0, 3])
    fresh = compute_template_coefficients(shipped.z[rows], fresh_model, templates)
    for new, old in ((fresh.bp, shipped.bp), (fresh.rp, shipped.rp)):
        expected = old[rows][:, templates]
        np.testing.assert_allclose(new, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_photometry_and_distance_table_match_shipped():
    fresh = compute_gaia_photometry()
    shipped = gaia_photometry()
    np.testing.assert_allclose(shipped.bp_filters, fresh.bp_filters)
    np.testing.assert_allclose(shipped.zero_points, fresh.zero_points)
    _, distmod = compute_distance_modulus_table()
    with np.load(INSTRUMENT_FILE, allow_pickle=False) as npz:
        np.testing.assert_allclose(npz["distmod"][::50], distmod[::50])


def test_noise_bases_reproduce_samples():
    bases = noise_bases()
    for band in Band:
        coefficients = np.random.default_rng(0).standard_normal((3, 55))
        samples = coefficients @ bases.design[band]
        np.testing.assert_allclose(samples @ bases.fit[band].T, coefficients, atol=1e-3)


@pytest.mark.slow
def test_galaxy_fits_match_shipped():
    from xpz.simulate.templates import fit_galaxies

    fresh, shipped = fit_galaxies(), galaxies()
    np.testing.assert_allclose(fresh.z, shipped.z)
    np.testing.assert_allclose(
        fresh.coeffs, shipped.coeffs, rtol=1e-3, atol=1e-6 * shipped.coeffs.max()
    )
