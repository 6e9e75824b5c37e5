"""Spectral terms on the dense pseudo-wavelength grid: dust, blur and tilt do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.layout import Band, default_layout
from xpz.simulate.dust import calzetti_k, dust_factor, mw_curve
from xpz.simulate.instrument import BAND_RANGE_NM, ERG_CM2_S_A_TO_W_M2_NM, sed_to_coefficients
from xpz.simulate.noise import noise_bases
from xpz.simulate.systematics import apply_on_grid, blur, grid_wavelength, tilt_factor
from xpz.simulate.templates import galaxies, template_coefficients
from xpz.xp.basis import pixel_design_matrices

BANDS = {Band.BP: (slice(0, 80), 0), Band.RP: (slice(80, 186), 1)}


@pytest.fixture(scope="module")
def galaxy_coefficients():
    """BP and RP coefficients (5, 55) of five real SDSS galaxies' kcorrect SEDs at their z."""
    donors = galaxies()
    rows = np.array([0, 10, 100, 1000, 5000])
    bp, rp = template_coefficients().at(donors.z[rows])
    amplitude = donors.coeffs[rows]
    return {
        Band.BP: np.einsum("nt,ntk->nk", amplitude, bp),
        Band.RP: np.einsum("nt,ntk->nk", amplitude, rp),
    }


def test_no_term_gives_the_coefficients_back(galaxy_coefficients):
    for band, c in galaxy_coefficients.items():
        np.testing.assert_allclose(apply_on_grid(c, band), c, atol=1e-6 * np.abs(c).max())


def test_dust_on_the_grid_is_close_to_dust_on_the_sed():
    from xpz.simulate.templates import kcorrect_templates

    wl, flux = kcorrect_templates()
    z, e_int, e_mw = 0.2, 0.3, 0.1
    observed = wl * (1 + z)
    sed = flux / (1 + z) * ERG_CM2_S_A_TO_W_M2_NM
    attenuation = 10 ** (-0.4 * (e_int * calzetti_k(wl) + e_mw * mw_curve(observed)))
    exact, plain = (
        sed_to_coefficients(observed, sed * attenuation),
        sed_to_coefficients(observed, sed),
    )
    design = pixel_design_matrices()
    for band, (_, i) in BANDS.items():
        factor = dust_factor(
            grid_wavelength(band), np.full(5, z), np.full(5, e_int), np.full(5, e_mw)
        )
        approx = apply_on_grid(plain[i].astype(np.float32), band, factor)
        error = np.abs((approx - exact[i]) @ design[band]).max(axis=1)
        effect = np.abs((plain[i] - exact[i]) @ design[band]).max(axis=1)
        # dust applied after the line spread function instead of before: a few % of its effect
        assert np.all(error < 0.05 * effect), (band, error / effect)


def test_blur_operators_match_the_exact_blur_and_remove_small_scale_structure(galaxy_coefficients):
    design = pixel_design_matrices()
    for band, c in galaxy_coefficients.items():
        for sigma in (0.3, 1.37, 3.9):
            width = np.full(len(c), sigma)
            exact = apply_on_grid(c, band, blur_sigma=width) @ design[band]
            fast = blur(c, band, width) @ design[band]
            assert np.abs(fast - exact).max() < 3e-3 * np.abs(exact).max()
        pixels = c @ design[band]
        blurred = blur(c, band, np.full(len(c), 3.0)) @ design[band]
        rough = [np.sum(np.diff(p, 2, axis=1) ** 2, axis=1) for p in (pixels, blurred)]
        assert np.all(rough[1] < 0.5 * rough[0])
        # the flux over the whole band (the dense grid) is kept
        dense = noise_bases().design[band]
        kept = blur(c, band, np.full(len(c), 3.0)) @ dense
        np.testing.assert_allclose(kept.sum(axis=1), (c @ dense).sum(axis=1), rtol=0.02)
        # no width, no change
        np.testing.assert_allclose(blur(c, band, np.zeros(len(c))), c, atol=1e-6 * np.abs(c).max())


@pytest.mark.parametrize("band", list(Band))
def test_a_tilt_tilts(band, galaxy_coefficients):
    c = galaxy_coefficients[band]
    design = pixel_design_matrices()[band]
    slope = np.array([0.2, -0.1, 0.05, 0.0, 0.3])
    ratio = (apply_on_grid(c, band, tilt_factor(band, slope)) @ design) / (c @ design)
    cols, _ = BANDS[band]
    wavelength = default_layout().wavelength[cols]
    lo, hi = BAND_RANGE_NM[band]
    fitted = np.polyfit(wavelength, ratio.T, 1)[0] * (hi - lo)
    np.testing.assert_allclose(fitted, slope, atol=0.01)
