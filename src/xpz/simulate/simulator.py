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

Everything is numpy on shipped data: no GaiaXPy, kcorrect or astropy import.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError
from xpz.layout import Band
from xpz.simulate.config import SimulationConfig
from xpz.simulate.noise import add_noise
from xpz.simulate.photometry import distance_modulus, gaia_photometry
from xpz.simulate.redshift import draw_redshifts
from xpz.simulate.templates import galaxies, template_coefficients
from xpz.spectra import Spectra
from xpz.xp.basis import pixel_design_matrices

__all__ = ["SIMULATOR_VERSION", "simulate"]

SIMULATOR_VERSION = "xpz-sim-v1"
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
    return Spectra(
        flux=flux,
        flux_error=error,
        z=z,
        phot_g_mean_mag=g,
        meta={"simulator": SIMULATOR_VERSION, "seed": int(seed), "config": config.to_dict()},
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
    pixels = pixel_design_matrices()
    fluxes, errors = [], []
    for band, coefficients in ((Band.BP, bp), (Band.RP, rp)):
        design = pixels[band].astype(np.float32)
        noisy, error = add_noise(coefficients, band, design, config.noise, config.noise_scale, rng)
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
    return bp, rp, g


def _pick_donors(
    z: NDArray, donor_z: NDArray, neighbours: int, rng: np.random.Generator
) -> NDArray:
    """Index of a random real galaxy among the ``neighbours`` closest in redshift to each z."""
    order = np.argsort(donor_z, kind="stable")
    position = np.searchsorted(donor_z[order], z)
    start = np.clip(position - neighbours // 2, 0, len(order) - neighbours)
    return order[start + rng.integers(0, neighbours, size=len(z))]
