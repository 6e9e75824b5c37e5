"""Magnitudes: distance modulus, Gaia G/BP/RP from XP coefficients, zero points.

* Distance modulus: Planck 2018 cosmology (``astropy.cosmology.Planck18``),
  tabulated once by ``scripts/build_simulator_data.py`` so that the simulator
  does not import astropy.
* Gaia photometry: GaiaXPy's DR3 synthetic-photometry filter for the Gaia bands
  (``XpFilter_GaiaDr3Vega``) is linear in the XP coefficients: the flux in band
  ``k`` is ``bp @ F_bp[:, k] + rp @ F_rp[:, k]`` (W m^-2 nm^-1) and its Vega
  magnitude ``-2.5 log10(flux) + zp_k``.  The filter vectors ``F`` (merge weights
  included) and zero points ``zp`` are shipped in ``sim_instrument.npz``.
* Internal fluxes: DR3's photometric zero points (Riello et al. 2021, Vega
  system) relate magnitudes and e-/s: ``flux = 10 ** (0.4 * (ZP - mag))``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.simulate.instrument import INSTRUMENT_FILE

__all__ = [
    "GAIA_BANDS",
    "GAIA_ZERO_POINTS",
    "GaiaPhotometry",
    "compute_distance_modulus_table",
    "compute_gaia_photometry",
    "distance_modulus",
    "gaia_photometry",
    "mag_to_flux",
]

GAIA_BANDS = ("G", "BP", "RP")
#: Gaia DR3 Vega zero points (mag) of phot_{g,bp,rp}_mean_flux in e-/s.
GAIA_ZERO_POINTS = {"G": 25.6874, "BP": 25.3385, "RP": 24.7479}


def mag_to_flux(mag: ArrayLike, band: str = "G") -> NDArray[np.float64]:
    """Gaia DR3 mean flux (e-/s) of a Vega magnitude in ``band``.

    >>> round(float(mag_to_flux(25.6874)), 6)
    1.0
    """
    return 10.0 ** (0.4 * (GAIA_ZERO_POINTS[band] - np.asarray(mag, dtype=float)))


@dataclass(frozen=True)
class GaiaPhotometry:
    """Synthetic Gaia photometry from XP coefficients.

    ``bp_filters``/``rp_filters``: (55, 3) for G, BP, RP; ``zero_points`` (3,).
    """

    bp_filters: NDArray
    rp_filters: NDArray
    zero_points: NDArray

    def magnitudes(self, bp: NDArray, rp: NDArray) -> NDArray:
        """Vega magnitudes (N, 3) in G, BP, RP; NaN where the synthetic flux is <= 0."""
        flux = bp @ self.bp_filters + rp @ self.rp_filters
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(flux > 0, -2.5 * np.log10(flux) + self.zero_points, np.nan)


def compute_gaia_photometry() -> GaiaPhotometry:
    """Read GaiaXPy's DR3 Gaia-band filter (slow: imports GaiaXPy)."""
    from gaiaxpy.generator.photometric_system import PhotometricSystem

    system = PhotometricSystem.Gaia_DR3_Vega.value
    if list(system.get_bands()) != list(GAIA_BANDS):
        raise ValueError(f"unexpected bands in GaiaXPy's filter: {system.get_bands()}")
    _, merge = system.load_xpmerge_from_xml()
    sampling = system.load_xpsampling_from_xml()
    return GaiaPhotometry(
        bp_filters=np.asarray(sampling["bp"]) * np.asarray(merge["bp"]),
        rp_filters=np.asarray(sampling["rp"]) * np.asarray(merge["rp"]),
        zero_points=np.asarray(system.get_zero_points(), dtype=float),
    )


@functools.cache
def gaia_photometry() -> GaiaPhotometry:
    """The shipped synthetic-photometry filters (read once)."""
    with np.load(INSTRUMENT_FILE, allow_pickle=False) as npz:
        return GaiaPhotometry(npz["phot_bp"], npz["phot_rp"], npz["phot_zero_points"])


def compute_distance_modulus_table() -> tuple[NDArray, NDArray]:
    """(log10 z grid, distance modulus in mag) with Planck18 (imports astropy)."""
    from astropy.cosmology import Planck18

    log_z = np.linspace(-4.0, 0.0, 801)
    return log_z, np.asarray(Planck18.distmod(10.0**log_z).value)


@functools.cache
def _distance_modulus_table() -> tuple[NDArray, NDArray]:
    with np.load(INSTRUMENT_FILE, allow_pickle=False) as npz:
        return npz["distmod_log_z"], npz["distmod"]


def distance_modulus(z: ArrayLike) -> NDArray[np.float64]:
    """Planck18 distance modulus (mag) at redshift ``z`` (1e-4 <= z <= 1).

    >>> round(float(distance_modulus(0.1)), 2)
    38.39
    """
    log_z, table = _distance_modulus_table()
    z = np.asarray(z, dtype=float)
    if np.any((z < 1e-4) | (z > 1.0)):
        raise ValueError("distance_modulus is tabulated for 1e-4 <= z <= 1 only")
    return np.interp(np.log10(z), log_z, table)
