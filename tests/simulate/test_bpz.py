"""The BPZ template set: shipped coefficients, two-type mixes."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.simulate.bpz import BPZ_TEMPLATES, bpz_coefficients, compute_bpz_coefficients, mix_bpz
from xpz.simulate.templates import template_coefficients


def test_shipped_coefficients_cover_kcorrects_grid_with_six_templates():
    bpz, kcorrect = bpz_coefficients(), template_coefficients()
    np.testing.assert_array_equal(bpz.z, kcorrect.z)
    assert bpz.bp.shape == (len(kcorrect.z), len(BPZ_TEMPLATES), 55)
    assert np.isfinite(bpz.bp).all() and np.isfinite(bpz.rp).all()


def test_shipped_coefficients_match_a_fresh_slice():
    pytest.importorskip("desc_bpz")
    pytest.importorskip("gaiaxpy")
    from xpz.simulate.instrument import compute_instrument_model

    shipped = bpz_coefficients()
    rows, templates = np.array([0, 120, 300]), np.array([0, 5])
    fresh = compute_bpz_coefficients(shipped.z[rows], compute_instrument_model(), templates)
    for new, old in ((fresh.bp, shipped.bp), (fresh.rp, shipped.rp)):
        expected = old[rows][:, templates]
        np.testing.assert_allclose(new, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_a_mix_lies_between_its_two_adjacent_types():
    z = np.full(3, 0.3)
    bp, rp = mix_bpz(z, np.array([2.0, 2.5, 3.0]))
    np.testing.assert_allclose(bp[1], (bp[0] + bp[2]) / 2, rtol=1e-5, atol=1e-6 * np.abs(bp).max())
    np.testing.assert_allclose(rp[1], (rp[0] + rp[2]) / 2, rtol=1e-5, atol=1e-6 * np.abs(rp).max())
    # the last type is reachable and the ends are the pure templates
    last_bp, _ = mix_bpz(np.array([0.3]), np.array([5.0]))
    np.testing.assert_allclose(last_bp[0], bpz_coefficients().at(np.array([0.3]))[0][0, 5])


def test_the_elliptical_is_redder_than_the_starburst():
    from xpz.simulate.photometry import gaia_photometry

    bp, rp = mix_bpz(np.full(2, 0.1), np.array([0.0, 5.0]))
    mags = gaia_photometry().magnitudes(bp.astype(float), rp.astype(float))
    bp_rp = mags[:, 1] - mags[:, 2]
    assert bp_rp[0] > bp_rp[1] + 0.3
