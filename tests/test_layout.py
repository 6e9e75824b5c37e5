import numpy as np
import pytest

from xpz import layout as L


def test_pixel_counts():
    lay = L.default_layout()
    assert L.N_PIXELS == 186 and L.N_BP == 80 and L.N_RP == 106
    assert lay.wavelength.shape == (186,)
    assert lay.is_bp.sum() == 80 and (~lay.is_bp).sum() == 106
    assert lay.bp_pwl.shape == lay.rp_pwl.shape == (120,)


def test_wavelengths_monotonic_and_ends():
    wl = L.default_layout().wavelength
    assert np.all(np.diff(wl) > 0)
    assert abs(wl[0] - 366) <= 3 and abs(wl[-1] - 996) <= 3
    assert abs(wl[L.N_BP - 1] - 640) <= 3 and abs(wl[L.N_BP] - 641) <= 3


def test_uniform_in_pseudo_wavelength():
    lay = L.default_layout()
    for pwl in (lay.bp_pwl, lay.rp_pwl):
        step = np.diff(pwl)
        np.testing.assert_allclose(step, step[0], rtol=1e-12)


def test_truncation_keeps_the_right_samples():
    lay = L.default_layout()
    bp = np.arange(120.0)
    rp = 1000 + np.arange(120.0)
    out = lay.truncate(bp, rp)
    assert out.shape == (186,)
    assert out[0] == 34 and out[79] == 113 and out[80] == 1004 and out[-1] == 1109
    np.testing.assert_allclose(
        lay.truncate(lay.bp_wavelength_all, lay.rp_wavelength_all), lay.wavelength
    )
    with pytest.raises(ValueError, match="120 samples"):
        lay.truncate(bp[:100], rp)


def test_dispersion_matches_gaiaxpy():
    from gaiaxpy.core.dispersion_function import pwl_to_wl

    lay = L.default_layout()
    np.testing.assert_allclose(lay.bp_wavelength_all, pwl_to_wl("bp", lay.bp_pwl), rtol=1e-10)
    np.testing.assert_allclose(lay.rp_wavelength_all, pwl_to_wl("rp", lay.rp_pwl), rtol=1e-10)


def test_band_enum():
    lay = L.default_layout()
    assert lay.band[0] is L.Band.BP and lay.band[-1] is L.Band.RP
