"""Photon and background noise, added in coefficient space.

A DR3 mean spectrum's coefficients are a least-squares fit of the basis
functions to many transits' samples along pseudo-wavelength.  The simulator
mimics that: it draws independent noise on a grid of ``U`` pseudo-wavelength
samples covering the whole band (``pwl`` 0..59, step ``delta``), with the
variance of an estimate of a rate from counts collected during ``exposure_s``,

.. math:: \\sigma_j^2 = \\frac{s_j + b}{\\Delta\\,T} + \\frac{n_t r^2}{(\\Delta\\,T)^2}

(``s_j`` the source's internal flux in e-/s per pwl, ``b`` the background in
the same unit, ``r`` the read noise per sample and transit, ``n_t`` transits),
and fits it with the 55 basis functions: ``c_noise = Q eps`` with ``Q`` the
pseudo-inverse of the bases sampled on that grid.  Sampling the noisy
coefficients then gives pixel noise that is correlated along the spectrum,
as in real XP spectra, and larger for fainter sources.

The per-pixel 1-sigma error reported in ``flux_error`` is that pixel noise's
standard deviation, ``sqrt(sigma^2 @ (Q^T D)^2)``, with ``sigma`` *estimated
from the noisy spectrum*, as a real pipeline estimates errors from the
observed counts.  (Computed from the noiseless spectrum instead, the errors
would be a noise-free copy of the true spectral shape, which a network can
read the redshift from.)

Two knobs change the noise (docs/simulator.md): ``NoiseFamily.WHITE`` replaces
it by independent Gaussian noise on the 55 coefficients with the same total
variance per band (``trace`` of the correlated model's coefficient covariance
``Q diag(sigma^2) Q^T``), and a per-galaxy ``multiplier`` scales sigma (and
the reported error) on top of ``scale``.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from xpz.layout import Band, XPLayout
from xpz.simulate.instrument import INSTRUMENT_FILE

__all__ = [
    "NOISE_PWL",
    "NoiseBases",
    "NoiseFamily",
    "NoiseModel",
    "add_noise",
    "compute_noise_bases",
    "noise_bases",
]

#: Pseudo-wavelength grid on which noise is drawn (same for BP and RP).
NOISE_PWL = np.arange(0.25, 59.0, 0.5)


class NoiseFamily(enum.Enum):
    """How the noise of a galaxy's coefficients is correlated."""

    #: Independent samples along pseudo-wavelength fitted by the bases (correlated coefficients).
    CORRELATED = "correlated"
    #: Independent Gaussian noise on each of the 55 coefficients, same total variance per band.
    WHITE = "white"


@dataclass(frozen=True)
class NoiseModel:
    """Detector and exposure parameters of a DR3 mean spectrum (documented in docs/simulator.md).

    Attributes
    ----------
    exposure_s : float
        Total integration time of the mean spectrum (s): transits x 4.42 s.
    n_transits : int
        Number of transits averaged (read noise enters once per transit).
    background : float
        Sky + stray-light background in e-/s per unit pwl (window width summed).
    read_noise : float
        Read noise per sample and transit (e-).
    """

    exposure_s: float = 30 * 4.42
    n_transits: int = 30
    background: float = 40.0
    read_noise: float = 6.0

    def __post_init__(self) -> None:
        for name in ("exposure_s", "background", "read_noise"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"NoiseModel.{name} must be >= 0, got {getattr(self, name)}")
        if self.exposure_s <= 0 or self.n_transits < 1:
            raise ValueError("NoiseModel needs exposure_s > 0 and n_transits >= 1")

    def variance(self, signal: NDArray) -> NDArray:
        """Variance (e-/s per pwl)^2 of each noise-grid sample of ``signal`` (e-/s per pwl)."""
        delta = float(NOISE_PWL[1] - NOISE_PWL[0])
        time = delta * self.exposure_s
        photons = (np.clip(signal, 0, None) + self.background) / time
        return photons + self.n_transits * self.read_noise**2 / time**2


@dataclass(frozen=True)
class NoiseBases:
    """Per band: ``design`` (55, U), the bases on :data:`NOISE_PWL`, and ``fit`` (55, U), its
    least-squares inverse (``c = fit @ samples``)."""

    design: dict[Band, NDArray]
    fit: dict[Band, NDArray]


def compute_noise_bases() -> NoiseBases:
    """Evaluate the DR3 bases on :data:`NOISE_PWL` with GaiaXPy (slow)."""
    from xpz.xp.basis import compute_design_matrices

    grid = XPLayout(bp_pwl=NOISE_PWL, rp_pwl=NOISE_PWL)
    design = compute_design_matrices(grid)
    return NoiseBases(design, {band: np.linalg.pinv(d.T) for band, d in design.items()})


@functools.cache
def noise_bases() -> NoiseBases:
    """The shipped noise bases (read once)."""
    with np.load(INSTRUMENT_FILE, allow_pickle=False) as npz:
        return NoiseBases(
            {Band.BP: npz["noise_design_bp"], Band.RP: npz["noise_design_rp"]},
            {Band.BP: npz["noise_fit_bp"], Band.RP: npz["noise_fit_rp"]},
        )


def add_noise(
    coefficients: NDArray,
    band: Band,
    pixel_design: NDArray,
    model: NoiseModel,
    scale: float,
    rng: np.random.Generator,
    *,
    white: NDArray[np.bool_] | None = None,
    multiplier: NDArray | None = None,
) -> tuple[NDArray, NDArray]:
    """Noisy coefficients (N, 55) and the 1-sigma error (N, P) of the pixels ``pixel_design`` (55, P).

    ``white`` (N,) marks galaxies that get white coefficient noise instead;
    ``multiplier`` (N,) scales each galaxy's noise.  Without them no extra
    random numbers are drawn.
    """
    bases = noise_bases()
    design = bases.design[band].astype(coefficients.dtype)
    fit = bases.fit[band].astype(coefficients.dtype)
    sigma = np.sqrt(model.variance(coefficients @ design)) * scale
    if multiplier is not None:
        sigma = sigma * multiplier[:, None].astype(sigma.dtype)
    eps = rng.standard_normal(sigma.shape, dtype=coefficients.dtype) * sigma
    coefficient_noise = eps @ fit.T
    per_coefficient = (fit**2).sum(axis=0) / fit.shape[0]  # (U,): sigma^2 -> white variance
    if white is not None and white.any():
        scale_white = np.sqrt(sigma[white] ** 2 @ per_coefficient)[:, None]
        draws = rng.standard_normal((int(white.sum()), fit.shape[0]), dtype=coefficients.dtype)
        coefficient_noise[white] = draws * scale_white
    noisy = coefficients + coefficient_noise
    estimated = np.sqrt(model.variance(noisy @ design)) * scale
    if multiplier is not None:
        estimated = estimated * multiplier[:, None].astype(estimated.dtype)
    to_pixels = (fit.T @ pixel_design.astype(coefficients.dtype)) ** 2
    error = np.sqrt((estimated**2) @ to_pixels)
    if white is not None and white.any():
        white_variance = estimated[white] ** 2 @ per_coefficient
        pixel_sum = (pixel_design.astype(coefficients.dtype) ** 2).sum(axis=0)
        error[white] = np.sqrt(white_variance[:, None] * pixel_sum[None, :])
    return noisy, error
