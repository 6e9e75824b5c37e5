"""Each simulator knob, seeded, moves the data in the expected direction; off, it changes nothing.

Mirrors ``xpz.simulate.simulator`` (the orchestration of the knobs); the
modules' own tests check the pieces (test_dust, test_systematics, test_bpz,
test_noise).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from xpz.simulate import (
    SIMULATOR_VERSION,
    SIMULATOR_VERSION_KNOBS,
    Knob,
    RedshiftDistribution,
    SimulationConfig,
    simulate,
)

N = 1000
NOISELESS = SimulationConfig(noise_scale=0.0)


@pytest.fixture(scope="module")
def plain():
    return simulate(N, seed=3, config=NOISELESS)


def _with(**kwargs):
    return simulate(N, seed=3, config=SimulationConfig(noise_scale=0.0, **kwargs))


def _log_bp_over_rp(spectra) -> np.ndarray:
    return np.log(spectra.flux[:, :80].sum(axis=1) / spectra.flux[:, 80:].sum(axis=1))


def test_default_data_set_is_unchanged():
    """Values of simulate(200, seed=0) computed on main at 0513722, before the knobs."""
    s = simulate(200, seed=0)
    assert hashlib.sha256(s.z.tobytes()).hexdigest() == (
        "de96204fbeffbd6b03279fbe9180ce23e806b17e69b8e941d2f79ca5a76d90c0"
    )
    np.testing.assert_allclose(
        s.phot_g_mean_mag[:4],
        [18.95334472325603, 17.443825987018904, 17.788639091951183, 17.217476014219905],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        s.flux.astype(float).reshape(20, 10, 186).sum(axis=(1, 2))[:6],
        [30784.200096720364, 36617.27441481035, 28891.60280250106]
        + [27917.00152507669, 29048.146309425356, 270397.20808728226],
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        s.flux[7, [0, 50, 100, 185]],
        [-0.2924221456050873, 2.8271522521972656, 8.267485618591309, 2.875790596008301],
        rtol=1e-5,
    )
    np.testing.assert_allclose(s.flux_error.astype(float).sum(), 28635.536506474018, rtol=1e-5)
    assert s.meta["simulator"] == SIMULATOR_VERSION


def test_every_knob_excluded_is_the_default_bit_for_bit():
    off = SimulationConfig.randomised(exclude=list(Knob))
    a, b = simulate(300, seed=5, config=off), simulate(300, seed=5)
    for name in ("z", "flux", "flux_error", "phot_g_mean_mag"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_new_knobs_get_the_new_version_and_the_mixture_is_reproducible():
    mixture = SimulationConfig.randomised()
    a, b = simulate(200, seed=1, config=mixture), simulate(200, seed=1, config=mixture)
    np.testing.assert_array_equal(a.flux, b.flux)
    assert a.meta["simulator"] == SIMULATOR_VERSION_KNOBS
    assert a.meta["config"]["bpz_fraction"] == 0.25
    assert np.isfinite(a.flux).all() and np.isfinite(a.flux_error).all()
    assert (a.phot_g_mean_mag < 20.7).all()
    # the aperture knob existed in v1: changing it alone keeps the v1 name
    assert (
        simulate(5, seed=1, config=SimulationConfig.shifted(Knob.APERTURE)).meta["simulator"]
        == SIMULATOR_VERSION
    )


@pytest.mark.parametrize("kwargs", [{"internal_ebv": 0.3}, {"mw_ebv": 0.2}])
def test_dust_reddens_and_dims(plain, kwargs):
    dusty = _with(**kwargs)
    assert np.median(_log_bp_over_rp(dusty)) < np.median(_log_bp_over_rp(plain)) - 0.15
    # G sees the dimming: the cut keeps intrinsically brighter galaxies, so the G
    # distribution stays below the limit, and fewer very bright ones remain
    assert (dusty.phot_g_mean_mag < 20.7).all()
    assert np.median(dusty.phot_g_mean_mag) > np.median(plain.phot_g_mean_mag)


def test_blur_lowers_the_high_frequency_power(plain):
    blurred = _with(blur_width=6.0)

    def roughness(s):
        f = s.flux[:, 80:].astype(float)
        return np.median(np.sum(np.diff(f, 2, axis=1) ** 2, axis=1) / np.sum(f**2, axis=1))

    assert roughness(blurred) < 0.3 * roughness(plain)


def test_calibration_errors_scale_and_tilt_the_same_galaxies(plain):
    # calibration acts after the G cut: same galaxies, same G, only the XP fluxes change
    scaled = _with(bp_rp_scale_error=0.1)
    np.testing.assert_array_equal(scaled.phot_g_mean_mag, plain.phot_g_mean_mag)
    shift = _log_bp_over_rp(scaled) - _log_bp_over_rp(plain)
    np.testing.assert_allclose(shift.std(), 0.1, rtol=0.1)
    tilted = _with(tilt=0.1)
    ratio = tilted.flux[:, 80:] / plain.flux[:, 80:]
    x = np.arange(106) / 105
    slopes = np.polyfit(x, ratio.T.astype(float), 1)[0]
    # RP pixels span 641-996 nm of the tilt's 624-1014 nm: 91% of the end-to-end change
    np.testing.assert_allclose(slopes.std(), 0.1 * 0.91, rtol=0.15)


def test_bpz_seds_differ_from_kcorrect_ones_at_the_same_g(plain):
    bpz = _with(bpz_fraction=1.0)
    np.testing.assert_allclose(
        np.median(bpz.phot_g_mean_mag), np.median(plain.phot_g_mean_mag), atol=0.05
    )
    same_z = bpz.z == plain.z
    a = plain.flux[same_z] / plain.flux[same_z].sum(axis=1, keepdims=True)
    b = bpz.flux[same_z] / bpz.flux[same_z].sum(axis=1, keepdims=True)
    assert np.median(np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)) > 0.1


def _distinct_shapes(flux: np.ndarray, tol: float = 1e-3) -> int:
    unit = flux / np.linalg.norm(flux, axis=1, keepdims=True)
    distance = np.linalg.norm(unit[:, None] - unit[None], axis=2)
    seen = np.zeros(len(unit), dtype=bool)
    count = 0
    for i in range(len(unit)):
        if not seen[i]:
            count += 1
            seen |= distance[i] < tol
    return count


def test_a_wider_high_z_window_gives_more_distinct_seds():
    # all galaxies at z = 0.5, no amplitude perturbation: distinct shapes = distinct donors
    base = dict(
        noise_scale=0.0,
        sed_perturbation=0.0,
        redshift_distribution=RedshiftDistribution.UNIFORM,
        z_range=(0.5, 0.50001),
    )
    counts = [
        _distinct_shapes(simulate(300, seed=3, config=SimulationConfig(**base, **extra)).flux)
        for extra in ({}, {"high_z_donor_neighbours": 400}, {"high_z_amplitude_sigma": 0.3})
    ]
    assert counts[0] <= 40  # today: one of the 40 donors closest in z
    assert counts[1] > 2 * counts[0] and counts[2] > 2 * counts[0]


def test_the_aperture_knob_moves_the_g_distribution(plain):
    faint = _with(aperture_mag=2.5)
    assert np.median(faint.phot_g_mean_mag) > np.median(plain.phot_g_mean_mag) + 0.2


def test_white_noise_and_the_multiplier_reach_the_spectra():
    base = simulate(300, seed=4)
    white = simulate(300, seed=4, config=SimulationConfig(noise_family="white"))
    np.testing.assert_array_equal(white.z, base.z)
    assert not np.allclose(white.flux, base.flux)
    wide = simulate(300, seed=4, config=SimulationConfig(noise_multiplier_sigma=0.5))
    spread = [np.log(np.median(s.flux_error / base.flux_error, axis=1)).std() for s in (base, wide)]
    assert spread[0] == 0 and 0.4 < spread[1] < 0.6
