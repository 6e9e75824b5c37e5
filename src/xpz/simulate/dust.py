"""Dust: internal attenuation (Calzetti 2000) and Milky Way extinction (Fitzpatrick 1999).

* Internal dust: the starburst attenuation curve of Calzetti et al. (2000,
  ApJ 533, 682, eq. 4, R'_V = 4.05), applied in the galaxy's rest frame:
  ``f(lambda) * 10 ** (-0.4 * E * k'(lambda / (1 + z)))``.  Multiplying the
  redshifted SED by the curve at ``lambda / (1 + z)`` is the same as attenuating
  before redshifting.  The curve is four lines of arithmetic (below); the
  ``dust_extinction`` package (1.7) has no attenuation curves.
* Milky Way: Fitzpatrick (1999) with R_V = 3.1, A(lambda) / E(B-V), applied in
  the observed frame.  Tabulated once with ``dust_extinction.parameter_averages.F99``
  by ``scripts/build_simulator_data.py`` and shipped in ``sim_dust.npz``, so that
  the simulator imports no astropy at run time.
* Milky Way E(B-V) per galaxy: log-normal with median ``mw_ebv`` and
  :data:`MW_EBV_LOG_SIGMA`, the standard deviation of ln E(B-V) of the 10,000
  SDSS galaxies kcorrect ships (their ``EXTINCTION`` r-band column / 2.751, the
  SFD coefficient SDSS used), whose median E(B-V) is 0.026.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CALZETTI_RV",
    "DUST_FILE",
    "MW_EBV_LOG_SIGMA",
    "MW_RV",
    "calzetti_k",
    "compute_mw_curve",
    "dust_factor",
    "mw_curve",
]

DUST_FILE = Path(__file__).parent.parent / "data" / "sim_dust.npz"
#: Calzetti et al. (2000) total-to-selective attenuation R'_V.
CALZETTI_RV = 4.05
#: R_V of the Milky Way curve.
MW_RV = 3.1
#: Width (sigma of ln E(B-V)) of the Milky Way E(B-V) distribution: measured on
#: kcorrect's 10,000 SDSS galaxies (``scripts/build_simulator_data.py`` prints it).
MW_EBV_LOG_SIGMA = 0.64
#: Wavelength grid (nm) of the shipped Milky Way curve.
MW_GRID_NM = np.arange(200.0, 1401.0, 5.0)


def calzetti_k(wavelength_nm: ArrayLike) -> NDArray[np.float64]:
    """Calzetti (2000) k'(lambda) = A(lambda) / E_s(B-V), eq. 4, R'_V = 4.05.

    Defined for 120 nm - 2.2 um; held constant beyond (the simulator never
    needs it there: 333 nm / 1.7 = 196 nm at the far end).

    >>> calzetti_k([550.0, 1000.0]).round(3).tolist()
    [4.048, 1.878]
    """
    lam = np.clip(np.asarray(wavelength_nm, dtype=float) / 1000.0, 0.12, 2.2)
    blue = 2.659 * (-2.156 + 1.509 / lam - 0.198 / lam**2 + 0.011 / lam**3) + CALZETTI_RV
    red = 2.659 * (-1.857 + 1.040 / lam) + CALZETTI_RV
    return np.asarray(np.where(lam < 0.63, blue, red), dtype=np.float64)


def compute_mw_curve() -> tuple[NDArray, NDArray]:
    """(wavelength nm, A(lambda)/E(B-V)) of F99 with R_V = 3.1 (imports dust_extinction)."""
    import astropy.units as u
    from dust_extinction.parameter_averages import F99

    law = F99(Rv=MW_RV)
    return MW_GRID_NM.copy(), np.asarray(law(MW_GRID_NM * u.nm)) * MW_RV


@functools.cache
def _mw_table() -> tuple[NDArray, NDArray]:
    with np.load(DUST_FILE, allow_pickle=False) as npz:
        return npz["wavelength"], npz["mw_a_over_ebv"]


def mw_curve(wavelength_nm: ArrayLike) -> NDArray[np.float64]:
    """Milky Way A(lambda) / E(B-V) (F99, R_V = 3.1) at observed wavelengths (nm).

    >>> mw_curve([440.0, 550.0]).round(2).tolist()  # A_B - A_V ~ 1 = E(B-V)
    [4.06, 3.03]
    """
    wl, curve = _mw_table()
    return np.interp(np.asarray(wavelength_nm, dtype=float), wl, curve)


#: Redshift step of the tabulated rest-frame Calzetti curve (nearest grid z is used).
_Z_STEP = 0.001
_Z_TOP = 1.0


@functools.cache
def _calzetti_table(wavelength_key: tuple[float, ...]) -> NDArray[np.float64]:
    z = np.arange(0.0, _Z_TOP + _Z_STEP / 2, _Z_STEP)
    return calzetti_k(np.asarray(wavelength_key)[None, :] / (1.0 + z)[:, None]).astype(np.float32)


def _calzetti_observed(wavelength_nm: NDArray, z: NDArray) -> NDArray[np.float64]:
    """k'(lambda / (1 + z)) (N, W) from a table at the nearest z on a 0.001 grid (float32)."""
    table = _calzetti_table(tuple(np.asarray(wavelength_nm, dtype=float).tolist()))
    index = np.clip(np.rint(np.asarray(z, dtype=float) / _Z_STEP), 0, len(table) - 1)
    return table[index.astype(int)]


def dust_factor(
    wavelength_nm: NDArray, z: NDArray, internal_ebv: NDArray | None, mw_ebv: NDArray | None
) -> NDArray[np.float64]:
    """Transmission (N, W) (float32) at observed ``wavelength_nm`` (W,) of galaxies at ``z`` (N,).

    ``internal_ebv`` (N,) attenuates in the rest frame (Calzetti), ``mw_ebv`` (N,)
    in the observed frame (F99); either may be None (no such dust).

    >>> dust_factor(np.array([500.0]), np.array([0.1]), None, np.array([0.0])).tolist()
    [[1.0]]
    """
    magnitudes = np.zeros((len(z), len(wavelength_nm)), dtype=np.float32)
    if internal_ebv is not None:
        ebv = np.asarray(internal_ebv, dtype=np.float32)[:, None]
        magnitudes += ebv * _calzetti_observed(wavelength_nm, z)
    if mw_ebv is not None:
        curve = mw_curve(wavelength_nm).astype(np.float32)
        magnitudes += np.asarray(mw_ebv, dtype=np.float32)[:, None] * curve[None, :]
    return np.exp(np.float32(-0.4 * np.log(10.0)) * magnitudes)
