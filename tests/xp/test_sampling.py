"""Sampling XP_CONTINUOUS solutions on the layout: fluxes and full-covariance errors."""

import numpy as np
import pytest

from xpz.layout import N_PIXELS, Band, default_layout
from xpz.simulate.xp_archive import random_correlations
from xpz.spectra import Flag
from xpz.xp import XPBand, XPContinuous, correlation_matrices, xp_to_spectra
from xpz.xp.basis import N_CORRELATIONS, pixel_design_matrices


def random_band(rng, n, scale):
    """``n`` realistic-looking solutions: decaying coefficients, errors, correlations."""
    coefficients = rng.normal(0, 1, (n, 55)) * np.geomspace(scale, 0.05, 55)
    errors = np.abs(coefficients) * 0.02 + rng.uniform(0.05, 0.2, (n, 55))
    return XPBand(
        coefficients=coefficients,
        coefficient_errors=errors,
        coefficient_correlations=random_correlations(rng, n),
        standard_deviation=np.full(n, 1.03),
        n_parameters=np.full(n, 55),
    )


@pytest.fixture
def xp(rng):
    return XPContinuous(
        source_id=np.array([4_295_806_720, 7]),
        bp=random_band(rng, 2, 60),
        rp=random_band(rng, 2, 40),
    )


def test_flux_error_uses_the_correlations(xp):
    uncorrelated = XPContinuous(
        source_id=xp.source_id,
        bp=XPBand(
            xp.bp.coefficients,
            xp.bp.coefficient_errors,
            np.zeros_like(xp.bp.coefficient_correlations),
            xp.bp.standard_deviation,
            xp.bp.n_parameters,
        ),
        rp=xp.rp,
    )
    correlated, plain = xp_to_spectra(xp), xp_to_spectra(uncorrelated)
    assert not np.allclose(correlated.flux_error[:, :80], plain.flux_error[:, :80], rtol=1e-3)
    np.testing.assert_array_equal(correlated.flux_error[:, 80:], plain.flux_error[:, 80:])
    # Independent check of one pixel against the explicit covariance sandwich.
    d = pixel_design_matrices()[Band.BP][:, 10]
    e = xp.bp.coefficient_errors[1]
    cov = e[:, None] * correlation_matrices(xp.bp.coefficient_correlations[1]) * e[None, :]
    assert correlated.flux_error[1, 10] == pytest.approx(np.sqrt(d @ cov @ d), rel=1e-6)


def test_flux_is_the_design_matrix_product(xp):
    matrices = pixel_design_matrices()
    flux = xp_to_spectra(xp).flux
    expected = np.concatenate(
        [xp.bp.coefficients @ matrices[Band.BP], xp.rp.coefficients @ matrices[Band.RP]], axis=1
    )
    np.testing.assert_allclose(flux, expected.astype(np.float32), rtol=1e-6)
    assert flux.shape == (2, N_PIXELS)


def test_a_missing_band_gives_nan_pixels_and_flags(xp):
    partial = XPContinuous(source_id=xp.source_id, bp=XPBand.missing(2), rp=xp.rp)
    spectra = xp_to_spectra(partial)
    assert np.isnan(spectra.flux[:, default_layout().bp_pixels]).all()
    assert (spectra.flag == Flag.MISSING_BP | Flag.NONFINITE_FLUX).all()


def test_fluxes_beyond_float32_are_flagged(rng):
    bp = random_band(rng, 2, 60)
    huge = bp.coefficients.copy()
    huge[1, 0] = 1e300  # finite in float64, not in the float32 fluxes
    bp = XPBand(
        huge,
        bp.coefficient_errors,
        bp.coefficient_correlations,
        bp.standard_deviation,
        bp.n_parameters,
    )
    spectra = xp_to_spectra(XPContinuous(np.array([1, 2]), bp, random_band(rng, 2, 40)))
    assert spectra.flux.dtype == np.float32
    assert spectra.flag.tolist() == [0, int(Flag.NONFINITE_FLUX)]


def test_correlation_order_matches_gaiaxpy(rng):
    from gaiaxpy.core.generic_functions import array_to_symmetric_matrix

    r = rng.uniform(-1, 1, N_CORRELATIONS)
    np.testing.assert_array_equal(correlation_matrices(r), array_to_symmetric_matrix(r, 55))


def test_without_errors_fluxes_and_flags_are_bit_identical(xp, rng):
    huge = xp.bp.coefficients.copy()
    huge[1, 0] = 1e300  # a NONFINITE_FLUX row
    bp = XPBand(
        huge,
        xp.bp.coefficient_errors,
        xp.bp.coefficient_correlations,
        xp.bp.standard_deviation,
        xp.bp.n_parameters,
    )
    for case in (
        xp,
        XPContinuous(xp.source_id, XPBand.missing(2), xp.rp),
        XPContinuous(xp.source_id, bp, xp.rp),
    ):
        full, fast = xp_to_spectra(case), xp_to_spectra(case, errors=False)
        assert fast.flux_error is None
        assert full.flux_error is not None and full.flux_error.dtype == np.float32
        assert fast.flux.tobytes() == full.flux.tobytes()
        np.testing.assert_array_equal(fast.flag, full.flag)
        np.testing.assert_array_equal(fast.source_id, full.source_id)
        assert dict(fast.meta) == dict(full.meta)


def test_without_errors_skips_the_error_propagation(xp, monkeypatch):
    import xpz.xp.sampling as sampling

    def refuse(*args, **kwargs):
        raise AssertionError("errors computed")

    monkeypatch.setattr(sampling, "_pixel_errors", refuse)
    assert xp_to_spectra(xp, errors=False).flux_error is None
    with pytest.raises(AssertionError, match="errors computed"):
        xp_to_spectra(xp)


def test_solutions_without_errors_give_fluxes_and_refuse_errors(xp) -> None:
    bands = {
        name: XPBand(
            coefficients=band.coefficients,
            coefficient_errors=None,
            coefficient_correlations=None,
            standard_deviation=band.standard_deviation,
            n_parameters=band.n_parameters,
        )
        for name, band in (("bp", xp.bp), ("rp", xp.rp))
    }
    fluxes_only = XPContinuous(source_id=xp.source_id, **bands)
    assert not fluxes_only.bp.has_errors and xp.bp.has_errors
    np.testing.assert_array_equal(
        xp_to_spectra(fluxes_only, errors=False).flux, xp_to_spectra(xp).flux
    )
    with pytest.raises(ValueError, match="without their coefficient errors"):
        xp_to_spectra(fluxes_only)
    assert not XPBand.missing(3, errors=False).has_errors
    with pytest.raises(ValueError, match="come together"):
        XPBand(
            coefficients=xp.bp.coefficients,
            coefficient_errors=xp.bp.coefficient_errors,
            coefficient_correlations=None,
            standard_deviation=xp.bp.standard_deviation,
            n_parameters=xp.bp.n_parameters,
        )
