"""The simulator's acceptance criteria (issue #3), on small simulated sets."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.layout import Band, default_layout
from xpz.reference import dissertation_per_bin
from xpz.simulate import RedshiftDistribution, SimulationConfig, simulate
from xpz.simulate.instrument import sed_to_coefficients
from xpz.simulate.photometry import GAIA_ZERO_POINTS, gaia_photometry
from xpz.xp.basis import design_matrices, sample_coefficients


@pytest.fixture(scope="module")
def default_set():
    return simulate(4000, seed=0)


def test_same_seed_same_data_different_seed_differs():
    a, b, c = simulate(300, seed=7), simulate(300, seed=7), simulate(300, seed=8)
    np.testing.assert_array_equal(a.flux, b.flux)
    np.testing.assert_array_equal(a.z, b.z)
    assert not np.allclose(a.z, c.z)
    assert a.meta["seed"] == 7 and a.meta["config"]["noise_scale"] == 1.0


def test_returns_exactly_n_detectable_galaxies(default_set):
    s = default_set
    assert len(s) == 4000 and s.flux_error is not None
    assert (s.phot_g_mean_mag < 20.7).all()
    assert (s.flag == 0).all() and np.isfinite(s.flux).all()
    assert (s.flux_error > 0).all()


def test_per_bin_shares_match_the_dissertation(default_set):
    table = dissertation_per_bin()
    edges = np.append(table["z_lo"], table["z_hi"][-1])
    counts, _ = np.histogram(default_set.z, edges)
    expected = table["percent_of_data"] / 100 * len(default_set)
    sigma = np.sqrt(expected * (1 - expected / len(default_set)))
    assert np.all(np.abs(counts - expected) < 4 * sigma + 1)


def test_snr_decreases_with_g(default_set):
    snr = np.median(default_set.flux / default_set.flux_error, axis=1)
    g = default_set.phot_g_mean_mag
    medians = [np.median(snr[(g >= lo) & (g < lo + 1)]) for lo in (17, 18, 19, 20)]
    assert all(a > b for a, b in zip(medians, medians[1:], strict=False))


def test_spectra_look_like_the_dissertations_table_1(default_set):
    """Median of the first 3 pixels within 0.05..0.5 e-/s, last 3 within 2.4..13 e-/s."""
    z = default_set.z
    rows = default_set.flux[(z > 0.13) & (z < 0.26)]
    assert np.all((np.median(rows[:, :3], 0) > 0.05) & (np.median(rows[:, :3], 0) < 0.5))
    assert np.all((np.median(rows[:, -3:], 0) > 2.4) & (np.median(rows[:, -3:], 0) < 13))
    assert (rows[:, 0] < 0).mean() > 0.1  # the blue end is noise-dominated


def test_noise_scale_zero_is_noiseless_and_larger_scale_is_noisier():
    quiet = simulate(200, seed=3, config=SimulationConfig(noise_scale=0.0))
    base = simulate(200, seed=3)
    loud = simulate(200, seed=3, config=SimulationConfig(noise_scale=3.0))
    np.testing.assert_array_equal(quiet.z, base.z)
    assert (quiet.flux_error == 0).all()
    assert np.std(loud.flux - quiet.flux) > 2.5 * np.std(base.flux - quiet.flux)


@pytest.mark.parametrize("z", [0.05, 0.2, 0.35, 0.5])
def test_an_emission_line_lands_at_its_redshifted_wavelength(z):
    rest_nm = 500.0
    wavelength = np.arange(300.0, 1100.0, 0.1)
    line = np.exp(-0.5 * ((wavelength - rest_nm * (1 + z)) / 1.0) ** 2) * 1e-17
    bp, rp = sed_to_coefficients(wavelength, line)
    flux = sample_coefficients(bp[None], rp[None])[0]
    expected = np.argmin(np.abs(default_layout().wavelength - rest_nm * (1 + z)))
    assert abs(int(np.argmax(flux)) - int(expected)) <= 1


def test_bp_flux_integral_matches_gaia_photometry():
    """Sum of BP samples x pwl step = phot_bp_mean_flux (DR3 zero point), for a flat f_nu SED."""
    wavelength = np.arange(300.0, 1100.0)
    sed = 10 ** (-0.4 * (20 + 48.6)) * 2.998e17 / wavelength**2 * 1e-3  # AB 20, W m^-2 nm^-1
    bp, rp = sed_to_coefficients(wavelength, sed)
    layout = default_layout()
    samples = bp @ design_matrices()[Band.BP]
    integral = samples.sum() * abs(layout.bp_pwl[1] - layout.bp_pwl[0])
    bp_mag = gaia_photometry().magnitudes(bp[None], rp[None])[0, 1]
    expected = 10 ** (0.4 * (GAIA_ZERO_POINTS["BP"] - bp_mag))
    assert integral == pytest.approx(expected, rel=0.1)


def test_uniform_and_custom_redshift_distributions():
    uniform = SimulationConfig(
        redshift_distribution=RedshiftDistribution.UNIFORM, z_range=(0.1, 0.3)
    )
    z = simulate(500, seed=1, config=uniform).z
    assert z.min() >= 0.1 and z.max() <= 0.3 and abs(np.median(z) - 0.2) < 0.03
    custom = SimulationConfig(
        redshift_distribution="custom", bin_shares=(0, 1), z_range=(0.0005, 0.2)
    )
    assert simulate(200, seed=1, config=custom).z.min() >= 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"noise_scale": -1},
        {"z_range": (0.3, 0.1)},
        {"redshift_distribution": "custom"},
        {"bin_shares": (1.0,)},
        {"donor_neighbours": 0},
    ],
)
def test_bad_config_is_rejected(kwargs):
    with pytest.raises(ValueError):
        SimulationConfig(**kwargs)


def test_a_cut_no_galaxy_passes_ends_in_a_clear_error():
    from xpz.errors import InputError

    config = SimulationConfig(g_limit=5.0)
    with pytest.raises(InputError, match=r"only 0 of 10,000 .* G < 5"):
        simulate(20, seed=1, config=config)
