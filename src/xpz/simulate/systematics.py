"""Terms that act on the spectrum, not on its coefficients: dust, blur, calibration errors.

A multiplicative term ``m(lambda)`` or a smoothing acts on the spectrum; the
simulator carries 55 coefficients per band.  Every such term is applied the
same way (:func:`apply_on_grid`):

1. sample the noiseless coefficients on the dense pseudo-wavelength grid of
   the noise model (:data:`xpz.simulate.noise.NOISE_PWL`, 118 samples, step
   0.5 pwl, covering the whole band), with the shipped basis matrix;
2. multiply each sample by the term at that sample's wavelength (Gaia DR3's
   dispersion function, :func:`xpz.layout.pwl_to_wavelength`) and/or convolve
   the samples with a Gaussian;
3. refit the 55 coefficients by least squares (the shipped pseudo-inverse).

With no term, steps 1 and 3 give back the coefficients to float32 precision
(``design @ fit.T = I`` within 4e-7).  The approximation is that a
multiplicative term is applied to the spectrum *after* the instrument's line
spread function instead of before it; for curves as smooth as dust curves and
linear tilts the two differ little (``tests/simulate/test_systematics.py``
compares with dust applied to the SED before projection).

The blur is the galaxy's extent: a Gaussian in pseudo-wavelength of standard
deviation ``sigma`` in pwl units (one pwl unit is one along-scan sample of the
60-sample XP window), done on the dense grid by FFT with zero padding
(:func:`blur_samples`).  Since it is linear, the round trip is a fixed 55 x 55
matrix per sigma: :func:`blur` uses such matrices tabulated every
:data:`BLUR_STEP` pwl and interpolates linearly in sigma between the two
nearest (tested against the exact round trip).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

from xpz.layout import Band, pwl_to_wavelength
from xpz.simulate.instrument import BAND_RANGE_NM
from xpz.simulate.noise import NOISE_PWL, noise_bases

__all__ = [
    "BLUR_STEP",
    "MAX_BLUR_SIGMA",
    "apply_on_grid",
    "blur",
    "blur_samples",
    "grid_wavelength",
    "tilt_factor",
]

#: Grid length after zero padding for the FFT blur (>= 118 + 8 sigma of the widest blur).
_FFT_SIZE = 256
#: Largest blur sigma (pwl) with a tabulated operator, and the table's step.
MAX_BLUR_SIGMA = 8.0
BLUR_STEP = 0.25


@functools.cache
def grid_wavelength(band: Band) -> NDArray[np.float64]:
    """Wavelength (nm) of each sample of the dense grid in ``band``."""
    return pwl_to_wavelength(band, NOISE_PWL)


def apply_on_grid(
    coefficients: NDArray,
    band: Band,
    factor: NDArray | None = None,
    blur_sigma: NDArray | None = None,
) -> NDArray:
    """Coefficients (N, 55) after multiplying by ``factor`` (N, U) and blurring by ``blur_sigma`` (N,) pwl."""
    bases = noise_bases()
    dtype = np.float64 if blur_sigma is not None else np.float32
    samples = coefficients.astype(dtype) @ bases.design[band].astype(dtype)
    if factor is not None:
        samples = samples * factor.astype(dtype)
    if blur_sigma is not None:
        samples = blur_samples(samples, blur_sigma / float(NOISE_PWL[1] - NOISE_PWL[0]))
    return (samples @ bases.fit[band].astype(dtype).T).astype(coefficients.dtype)


@functools.cache
def _blur_operators(band: Band) -> NDArray[np.float64]:
    """(S, 55, 55) coefficient-space blur matrices for sigma = 0, BLUR_STEP, ..., MAX_BLUR_SIGMA."""
    bases = noise_bases()
    design = bases.design[band].astype(np.float64)
    fit = bases.fit[band].astype(np.float64)
    step = float(NOISE_PWL[1] - NOISE_PWL[0])
    sigmas = np.arange(0.0, MAX_BLUR_SIGMA + BLUR_STEP / 2, BLUR_STEP)
    ops = [blur_samples(design, np.full(len(design), s / step)) @ fit.T for s in sigmas]
    return np.stack(ops).astype(np.float32)


def blur(coefficients: NDArray, band: Band, sigma: NDArray) -> NDArray:
    """Coefficients (N, 55) blurred by a Gaussian of ``sigma`` (N,) pwl (tabulated operators)."""
    ops = _blur_operators(band)
    position = np.clip(np.asarray(sigma, dtype=float) / BLUR_STEP, 0, len(ops) - 1 - 1e-9)
    index = position.astype(int)
    weight = (position - index)[:, None].astype(np.float32)
    c = coefficients.astype(np.float32)
    out = np.empty_like(c)
    for i in np.unique(index):
        rows = np.flatnonzero(index == i)
        out[rows] = (1 - weight[rows]) * (c[rows] @ ops[i]) + weight[rows] * (c[rows] @ ops[i + 1])
    return out.astype(coefficients.dtype)


def blur_samples(samples: NDArray, sigma_samples: NDArray) -> NDArray[np.float64]:
    """Convolve each row of ``samples`` (N, U) with a unit-sum Gaussian of ``sigma_samples`` (N,) samples.

    Zero-padded, so nothing wraps around; a width of 0 changes nothing.

    >>> row = np.zeros((1, 41)); row[0, 20] = 1.0
    >>> out = blur_samples(row, np.array([2.0]))
    >>> round(float(out.sum()), 6), round(float(out[0, 20]), 4)
    (1.0, 0.1995)
    """
    n_u = samples.shape[1]
    size = max(_FFT_SIZE, int(2 ** np.ceil(np.log2(n_u + 8 * float(np.max(sigma_samples)) + 1))))
    freq = np.fft.rfftfreq(size)
    transfer = np.exp(-2.0 * (np.pi * freq[None, :] * np.asarray(sigma_samples)[:, None]) ** 2)
    return np.fft.irfft(np.fft.rfft(samples, n=size, axis=1) * transfer, n=size, axis=1)[:, :n_u]


def tilt_factor(band: Band, slope: NDArray) -> NDArray[np.float64]:
    """``1 + slope * (x - 1/2)`` (N, U), ``x`` going 0 -> 1 across the band's fitted range.

    ``slope`` (N,) is the fractional change end to end (333 -> 671 nm in BP,
    624 -> 1014 nm in RP); outside that range ``x`` is clipped to [0, 1], and the
    factor is kept >= 0.05.

    >>> f = tilt_factor(Band.RP, np.array([0.1]))
    >>> round(float(f.max() - f.min()), 6)
    0.1
    """
    lo, hi = BAND_RANGE_NM[band]
    x = np.clip((grid_wavelength(band) - lo) / (hi - lo), 0.0, 1.0)
    return np.maximum(1.0 + np.asarray(slope)[:, None] * (x[None, :] - 0.5), 0.05)
