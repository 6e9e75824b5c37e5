"""Dust curves: Calzetti (2000) by formula, F99 from the shipped table (= dust_extinction)."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.simulate.dust import calzetti_k, compute_mw_curve, dust_factor, mw_curve


def test_calzetti_matches_its_published_form_by_hand():
    # eq. 4 of Calzetti et al. 2000 at 0.3 um (blue branch) and 0.8 um (red branch)
    blue = 2.659 * (-2.156 + 1.509 / 0.3 - 0.198 / 0.09 + 0.011 / 0.027) + 4.05
    red = 2.659 * (-1.857 + 1.040 / 0.8) + 4.05
    np.testing.assert_allclose(calzetti_k([300.0, 800.0]), [blue, red])
    # steeper in the blue: attenuation falls with wavelength
    assert np.all(np.diff(calzetti_k(np.linspace(150.0, 1100.0, 50))) < 0)


def test_shipped_mw_curve_equals_dust_extinction():
    pytest.importorskip("dust_extinction")
    wavelength, curve = compute_mw_curve()
    np.testing.assert_allclose(mw_curve(wavelength), curve, rtol=1e-6)


def test_internal_dust_acts_in_the_rest_frame():
    wl = np.array([400.0, 800.0])
    at_z0 = dust_factor(wl / 1.5, np.array([0.0]), np.array([0.2]), None)
    at_z05 = dust_factor(wl, np.array([0.5]), np.array([0.2]), None)
    np.testing.assert_allclose(at_z05, at_z0, rtol=1e-3)  # same rest wavelengths, same dimming
    np.testing.assert_allclose(
        at_z05[0], 10 ** (-0.4 * 0.2 * calzetti_k(wl / 1.5)), rtol=2e-3
    )  # the tabulated z (0.001 grid) is the exact one here


def test_dust_dims_blue_more_than_red():
    factor = dust_factor(
        np.array([350.0, 950.0]), np.array([0.1, 0.1]), np.array([0.3, 0.0]), np.array([0.0, 0.3])
    )
    assert np.all(factor < 1) and np.all(factor[:, 0] < factor[:, 1])
