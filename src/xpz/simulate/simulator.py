"""The forward model: redshift -> real galaxy SED -> Gaia XP spectrum with noise.

For each simulated galaxy (docs/simulator.md explains every step and its source):

1. draw z from n(z) (:mod:`xpz.simulate.redshift`);
2. take the SED of a real SDSS galaxy observed at a similar redshift ``z0``
   (one of the ``donor_neighbours`` closest in z), multiply each of its five
   template amplitudes by ``exp(N(0, sed_perturbation))``;
3. move it to z: dim by the distance-modulus difference ``DM(z) - DM(z0)`` and
   by the aperture term (Gaia's window sees the core); the redshifted templates'
   DR3 coefficients come precomputed (:mod:`xpz.simulate.templates`);
4. compute G from the coefficients; a galaxy fainter than ``g_limit`` gets
   another donor at the same z (up to ``_MAX_REDRAWS`` times, then the z is
   dropped), so n(z) is kept while only Gaia-detectable galaxies survive;
   batches are drawn until ``n`` galaxies are kept, at most
   ``max(_MIN_DRAWS, _MAX_DRAWS_PER_GALAXY * n)`` redshifts in all: a cut that
   (almost) no galaxy passes ends in a clear error instead of a loop;
5. add photon + background noise in coefficient space (:mod:`xpz.simulate.noise`)
   and sample the coefficients on the 186 pixels of the layout.

The knobs of :class:`~xpz.simulate.config.SimulationConfig` (all off by
default; then no extra random number is drawn and the data are those of
``xpz-sim-v1``) slot in as follows: in step 2-3 a share ``bpz_fraction`` of
galaxies swap their SED for a BPZ template mix and galaxies above z = 0.45 may
take their SED shape from a wider donor window (both rescaled to the G of the
donor they replace); then internal and Milky Way dust and the blur act on the
spectrum (:mod:`xpz.simulate.systematics`) *before* G is computed, so the cut
sees the dimming; after the cut come the calibration errors (BP/RP scale, tilt:
XP-only errors, which Gaia's G does not share), and the noise (family and
per-galaxy multiplier) last.

Everything is numpy on shipped data: no GaiaXPy, kcorrect or astropy import.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.layout import Band
from xpz.simulate.bpz import BPZ_TEMPLATES, mix_bpz
from xpz.simulate.config import SimulationConfig
from xpz.simulate.dust import MW_EBV_LOG_SIGMA, dust_factor
from xpz.simulate.knobs import HIGH_Z
from xpz.simulate.noise import NoiseFamily, add_noise
from xpz.simulate.photometry import distance_modulus, gaia_photometry
from xpz.simulate.redshift import draw_redshifts
from xpz.simulate.systematics import apply_on_grid, blur, grid_wavelength, tilt_factor
from xpz.simulate.templates import galaxies, template_coefficients
from xpz.spectra import Spectra
from xpz.xp.basis import pixel_design_matrices

__all__ = ["SIMULATOR_VERSION", "SIMULATOR_VERSION_KNOBS", "simulate"]

#: ``meta["simulator"]`` of data made with every new knob off (the data set of v1).
SIMULATOR_VERSION = "xpz-sim-v1"
#: ``meta["simulator"]`` of data made with any knob added in v2 on.
SIMULATOR_VERSION_KNOBS = "xpz-sim-v2"
_MAX_REDRAWS = 20
_BATCH = 65_536
#: The redshifts drawn before :func:`simulate` gives up are at most
#: ``max(_MIN_DRAWS, _MAX_DRAWS_PER_GALAXY * n)``: the default cut keeps ~95%.
_MIN_DRAWS = 10_000
_MAX_DRAWS_PER_GALAXY = 50


def simulate(n: int, *, seed: int, config: SimulationConfig | None = None) -> Spectra:
    """``n`` simulated Gaia XP galaxy spectra with true redshifts.

    The same ``seed`` and ``config`` give identical spectra.  Raises
    :class:`~xpz.errors.InputError` when so few galaxies pass the magnitude cut
    that ``n`` of them cannot be had from ``max(10,000, 50 n)`` draws.

    >>> s = simulate(5, seed=1)
    >>> len(s), s.flux.shape, bool((s.phot_g_mean_mag < 20.7).all())
    (5, (5, 186), True)
    """
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    config = SimulationConfig() if config is None else config
    rng = np.random.default_rng(seed)
    parts: list[tuple[NDArray, ...]] = []
    kept = drawn = 0
    budget = max(_MIN_DRAWS, _MAX_DRAWS_PER_GALAXY * int(n))
    while kept < n:
        if drawn >= budget:
            raise InputError(
                f"only {kept} of {drawn:,} simulated galaxies pass the magnitude cut "
                f"G < {config.g_limit:g}, too few for {n:,} spectra; raise the G limit "
                "or lower the redshift range"
            )
        size = min(_BATCH, int((n - kept) * 1.05) + 64, budget - drawn)
        part = _simulate_batch(size, config, rng)
        parts.append(part)
        kept += len(part[0])
        drawn += size
    z, flux, error, g = (np.concatenate(cols)[:n] for cols in zip(*parts, strict=True))
    version = SIMULATOR_VERSION_KNOBS if config.uses_new_knobs() else SIMULATOR_VERSION
    return Spectra(
        flux=flux,
        flux_error=error,
        z=z,
        phot_g_mean_mag=g,
        meta={"simulator": version, "seed": int(seed), "config": config.to_dict()},
    )


def _simulate_batch(
    size: int, config: SimulationConfig, rng: np.random.Generator
) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Up to ``size`` spectra (fewer if some redshifts find no detectable galaxy)."""
    z = draw_redshifts(size, config, rng)
    bp, rp, g = _noiseless(z, config, rng)
    for _ in range(_MAX_REDRAWS):
        faint = ~(g < config.g_limit)
        if not faint.any():
            break
        bp[faint], rp[faint], g[faint] = _noiseless(z[faint], config, rng)
    ok = g < config.g_limit
    z, bp, rp, g = z[ok], bp[ok], rp[ok], g[ok]
    bp, rp = _calibration(bp, rp, config, rng)
    white, multiplier = _noise_draws(len(z), config, rng)
    pixels = pixel_design_matrices()
    fluxes, errors = [], []
    for band, coefficients in ((Band.BP, bp), (Band.RP, rp)):
        design = pixels[band].astype(np.float32)
        noisy, error = add_noise(
            coefficients,
            band,
            design,
            config.noise,
            config.noise_scale,
            rng,
            white=white,
            multiplier=multiplier,
        )
        fluxes.append(noisy @ design)
        errors.append(error)
    return z, np.hstack(fluxes), np.hstack(errors), g


def _noiseless(
    z: NDArray, config: SimulationConfig, rng: np.random.Generator
) -> tuple[NDArray, NDArray, NDArray]:
    """Noise-free (N, 55) BP and RP coefficients and G magnitude of galaxies at ``z``."""
    donors = galaxies()
    donor = _pick_donors(z, donors.z, config.donor_neighbours, rng)
    amplitude = donors.coeffs[donor] * np.exp(
        config.sed_perturbation * rng.standard_normal((len(z), donors.coeffs.shape[1]))
    )
    aperture = config.aperture_mag + config.aperture_scatter * rng.standard_normal(len(z))
    dimming = distance_modulus(z) - distance_modulus(donors.z[donor]) + aperture
    amplitude = (amplitude * 10.0 ** (-0.4 * dimming)[:, None]).astype(np.float32)
    template_bp, template_rp = template_coefficients().at(z)
    bp = np.einsum("nt,ntk->nk", amplitude, template_bp)
    rp = np.einsum("nt,ntk->nk", amplitude, template_rp)
    g = gaia_photometry().magnitudes(bp.astype(float), rp.astype(float))[:, 0]
    changed = False
    if config.high_z_donor_neighbours > 0 or config.high_z_amplitude_sigma > 0:
        changed = _high_z_seds(z, donor, amplitude, bp, rp, g, config, rng)
    if config.bpz_fraction > 0:
        changed = _bpz_seds(z, bp, rp, g, config.bpz_fraction, rng) or changed
    if config.internal_ebv > 0 or config.mw_ebv > 0 or config.blur_width > 0:
        bp, rp = _dust_and_blur(z, bp, rp, g < config.g_limit, config, rng)
        changed = True
    if changed:
        g = gaia_photometry().magnitudes(bp.astype(float), rp.astype(float))[:, 0]
    return bp, rp, g


def _rescaled(bp: NDArray, rp: NDArray, g: NDArray) -> tuple[NDArray, NDArray]:
    """``bp``, ``rp`` (n, 55) scaled so that their G is ``g`` (n,) (unchanged where G is NaN)."""
    own = gaia_photometry().magnitudes(bp.astype(float), rp.astype(float))[:, 0]
    factor = np.where(np.isfinite(own) & np.isfinite(g), 10.0 ** (-0.4 * (g - own)), 1.0)
    factor = factor[:, None].astype(bp.dtype)
    return bp * factor, rp * factor


def _high_z_seds(
    z: NDArray,
    donor: NDArray,
    amplitude: NDArray,
    bp: NDArray,
    rp: NDArray,
    g: NDArray,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> bool:
    """Above HIGH_Z: SED shapes from a wider donor window / resampled amplitudes, at the same G."""
    rows = np.flatnonzero(z > HIGH_Z)
    if not len(rows):
        return False
    donors = galaxies()
    shape = amplitude[rows].astype(np.float64)
    if config.high_z_donor_neighbours > 0:
        window = min(int(config.high_z_donor_neighbours), len(donors.z))
        wide = _pick_donors(z[rows], donors.z, window, rng)
        noise = rng.standard_normal((len(rows), donors.coeffs.shape[1]))
        shape = donors.coeffs[wide] * np.exp(config.sed_perturbation * noise)
    if config.high_z_amplitude_sigma > 0:
        noise = rng.standard_normal(shape.shape)
        shape = shape * np.exp(config.high_z_amplitude_sigma * noise)
    template_bp, template_rp = template_coefficients().at(z[rows])
    shape = shape.astype(np.float32)
    new_bp = np.einsum("nt,ntk->nk", shape, template_bp)
    new_rp = np.einsum("nt,ntk->nk", shape, template_rp)
    bp[rows], rp[rows] = _rescaled(new_bp, new_rp, g[rows])
    return True


def _bpz_seds(
    z: NDArray, bp: NDArray, rp: NDArray, g: NDArray, fraction: float, rng: np.random.Generator
) -> bool:
    """A share ``fraction`` of galaxies get a BPZ two-type mix at their donor's G (in place)."""
    rows = np.flatnonzero(rng.random(len(z)) < fraction)
    if not len(rows):
        return False
    kind = rng.uniform(0.0, len(BPZ_TEMPLATES) - 1, size=len(rows))
    new_bp, new_rp = mix_bpz(z[rows], kind)
    bp[rows], rp[rows] = _rescaled(new_bp, new_rp, g[rows])
    return True


def _dust_and_blur(
    z: NDArray,
    bp: NDArray,
    rp: NDArray,
    bright: NDArray,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> tuple[NDArray, NDArray]:
    """Internal + Milky Way dust and the extent blur, on the dense pseudo-wavelength grid.

    Parameters are drawn for every galaxy, but applied only to the ``bright`` ones
    (G < g_limit before them): dust only dims and the blur keeps the flux, so a
    galaxy already too faint stays too faint and is redrawn anyway.
    """
    n = len(z)
    internal = rng.exponential(config.internal_ebv, n) if config.internal_ebv > 0 else None
    mw = None
    if config.mw_ebv > 0:
        mw = config.mw_ebv * np.exp(MW_EBV_LOG_SIGMA * rng.standard_normal(n))
    width = rng.uniform(0.0, config.blur_width, n) if config.blur_width > 0 else None
    rows = np.flatnonzero(bright)
    out = []
    for band, coefficients in ((Band.BP, bp), (Band.RP, rp)):
        part = coefficients[rows]
        if internal is not None or mw is not None:
            factor = dust_factor(
                grid_wavelength(band),
                z[rows],
                None if internal is None else internal[rows],
                None if mw is None else mw[rows],
            )
            part = apply_on_grid(part, band, factor)
        if width is not None:
            part = blur(part, band, width[rows])
        coefficients = coefficients.copy()
        coefficients[rows] = part
        out.append(coefficients)
    return out[0], out[1]


def _calibration(
    bp: NDArray, rp: NDArray, config: SimulationConfig, rng: np.random.Generator
) -> tuple[NDArray, NDArray]:
    """BP/RP relative scale error and a linear tilt across each band (no draws when off)."""
    if config.bp_rp_scale_error > 0:
        x = config.bp_rp_scale_error * rng.standard_normal(len(bp))
        bp = bp * np.exp(x / 2)[:, None].astype(bp.dtype)
        rp = rp * np.exp(-x / 2)[:, None].astype(rp.dtype)
    if config.tilt > 0:
        bp = apply_on_grid(
            bp, Band.BP, tilt_factor(Band.BP, config.tilt * rng.standard_normal(len(bp)))
        )
        rp = apply_on_grid(
            rp, Band.RP, tilt_factor(Band.RP, config.tilt * rng.standard_normal(len(rp)))
        )
    return bp, rp


def _noise_draws(
    n: int, config: SimulationConfig, rng: np.random.Generator
) -> tuple[NDArray | None, NDArray | None]:
    """Which galaxies get white noise, and each galaxy's noise multiplier (None: off)."""
    white = None
    if config.noise_family is NoiseFamily.WHITE:
        white = np.ones(n, dtype=bool)
    elif config.white_noise_fraction > 0:
        white = rng.random(n) < config.white_noise_fraction
    multiplier = None
    if config.noise_multiplier_sigma > 0:
        multiplier = np.exp(config.noise_multiplier_sigma * rng.standard_normal(n))
    return white, multiplier


def _pick_donors(
    z: NDArray, donor_z: NDArray, neighbours: int, rng: np.random.Generator
) -> NDArray:
    """Index of a random real galaxy among the ``neighbours`` closest in redshift to each z."""
    order = np.argsort(donor_z, kind="stable")
    position = np.searchsorted(donor_z[order], z)
    start = np.clip(position - neighbours // 2, 0, len(order) - neighbours)
    return order[start + rng.integers(0, neighbours, size=len(z))]
