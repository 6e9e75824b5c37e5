"""Real galaxies and their SEDs: kcorrect's NMF templates and cached fits.

kcorrect (Blanton & Roweis 2007) ships 10,000 real SDSS galaxies with
spectroscopic redshifts and ugriz model fluxes (``data/test/gst_tests_small.fits``)
and five NMF SED templates (``kcorrect-default-v4.fits``, erg s^-1 cm^-2 A^-1).
Each galaxy's SED is ``sum_t a_t T_t(lambda / (1 + z0)) / (1 + z0)``, with the
amplitudes ``a`` fitted once with kcorrect's own non-negative fitter to its
ugriz fluxes corrected for Galactic extinction (SDSS ``EXTINCTION`` column).

Because the instrument model is linear, the DR3 coefficients of template ``t``
redshifted to ``z`` (per unit amplitude) are precomputed on a fine redshift grid
(:func:`compute_template_coefficients`); the simulator interpolates them.
Both are shipped: ``sim_galaxies.npz`` and ``sim_templates.npz``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xpz.simulate.instrument import ERG_CM2_S_A_TO_W_M2_NM, InstrumentModel, sed_to_coefficients

__all__ = [
    "GALAXIES_FILE",
    "SDSS_BANDS",
    "TEMPLATES_FILE",
    "Galaxies",
    "TemplateCoefficients",
    "compute_template_coefficients",
    "fit_galaxies",
    "galaxies",
    "kcorrect_templates",
    "redshifted_coefficients",
    "template_coefficients",
]

_DATA = Path(__file__).parent.parent / "data"
GALAXIES_FILE = _DATA / "sim_galaxies.npz"
TEMPLATES_FILE = _DATA / "sim_templates.npz"
SDSS_BANDS = ("sdss_u0", "sdss_g0", "sdss_r0", "sdss_i0", "sdss_z0")


@dataclass(frozen=True)
class Galaxies:
    """Real SDSS galaxies: redshift ``z`` (N,), template amplitudes ``coeffs`` (N, 5)
    (kcorrect units: the SED at ``z`` without further dimming), r-band AB model
    magnitude ``r_mag`` (N,), extinction corrected."""

    z: NDArray
    coeffs: NDArray
    r_mag: NDArray


@dataclass(frozen=True)
class TemplateCoefficients:
    """DR3 coefficients of each template redshifted to each ``z`` of the grid.

    ``bp``, ``rp``: (Z, T, 55), per unit kcorrect amplitude, for an SED
    ``T_t(lambda / (1 + z)) / (1 + z)`` (no distance dimming).
    """

    z: NDArray
    bp: NDArray
    rp: NDArray

    def at(self, z: NDArray) -> tuple[NDArray, NDArray]:
        """Linearly interpolated (N, T, 55) BP and RP coefficients at redshifts ``z`` (N,)."""
        step = self.z[1] - self.z[0]
        position = np.clip((np.asarray(z) - self.z[0]) / step, 0, len(self.z) - 1 - 1e-9)
        i = position.astype(int)
        w = (position - i)[:, None, None].astype(self.bp.dtype)
        return (
            self.bp[i] * (1 - w) + self.bp[i + 1] * w,
            self.rp[i] * (1 - w) + self.rp[i + 1] * w,
        )


def kcorrect_templates() -> tuple[NDArray, NDArray]:
    """Rest-frame wavelength (nm) and flux (5, K) in erg s^-1 cm^-2 A^-1 of kcorrect's v4 templates."""
    import kcorrect.template

    path = (
        Path(kcorrect.template.__file__).parent / "data" / "templates" / "kcorrect-default-v4.fits"
    )
    templates = kcorrect.template.Template(filename=str(path))
    return np.asarray(templates.restframe_wave) / 10.0, np.asarray(templates.restframe_flux)


def compute_template_coefficients(
    z_grid: NDArray,
    model: InstrumentModel | None = None,
    template_index: NDArray | slice = slice(None),
) -> TemplateCoefficients:
    """Project the (selected) templates, redshifted to each ``z_grid`` value, on the XP bases."""
    rest_wl, rest_flux = kcorrect_templates()
    return redshifted_coefficients(rest_wl, rest_flux[template_index], z_grid, model)


def redshifted_coefficients(
    rest_wl: NDArray, rest_flux: NDArray, z_grid: NDArray, model: InstrumentModel | None = None
) -> TemplateCoefficients:
    """DR3 coefficients of rest-frame SEDs ``rest_flux`` (T, L) on ``rest_wl`` (L,, Angstrom)
    redshifted to each ``z_grid`` value: ``f(lambda / (1 + z)) / (1 + z)``, with the
    f_lambda values taken as erg s^-1 cm^-2 A^-1.
    """
    bp, rp = [], []
    for z in z_grid:
        sed = rest_flux / (1 + z) * ERG_CM2_S_A_TO_W_M2_NM
        b, r = sed_to_coefficients(rest_wl * (1 + z), sed, model)
        bp.append(b)
        rp.append(r)
    return TemplateCoefficients(np.asarray(z_grid), np.array(bp), np.array(rp))


def fit_galaxies() -> Galaxies:
    """Fit kcorrect's 10,000 test galaxies with its own fitter (~20 s; imports kcorrect)."""
    import kcorrect.kcorrect
    from astropy.io import fits

    path = Path(kcorrect.kcorrect.__file__).parent / "data" / "test" / "gst_tests_small.fits"
    with fits.open(path) as hdul:
        table = hdul[1].data
        z = np.asarray(table["Z"], dtype=np.float32)
        dust = 10.0 ** (0.4 * np.asarray(table["EXTINCTION"], dtype=np.float64))
        maggies = np.asarray(table["MODELFLUX"], dtype=np.float64) * 1e-9 * dust
        ivar = np.asarray(table["MODELFLUX_IVAR"], dtype=np.float64) * 1e18 / dust**2
    kc = kcorrect.kcorrect.KcorrectSDSS(responses=list(SDSS_BANDS), redshift_range=[0.0, 0.7])
    maggies, ivar = kc.to_ab(maggies=maggies, ivar=ivar)
    coeffs = kc.fit_coeffs(redshift=z, maggies=maggies, ivar=ivar)
    r_mag = -2.5 * np.log10(np.clip(maggies[:, 2], 1e-12, None))
    return Galaxies(z=z, coeffs=np.asarray(coeffs, np.float32), r_mag=r_mag.astype(np.float32))


@functools.cache
def galaxies() -> Galaxies:
    """The shipped galaxy fits (read once)."""
    with np.load(GALAXIES_FILE, allow_pickle=False) as npz:
        return Galaxies(npz["z"], npz["coeffs"], npz["r_mag"])


@functools.cache
def template_coefficients() -> TemplateCoefficients:
    """The shipped template coefficients on the redshift grid (read once)."""
    with np.load(TEMPLATES_FILE, allow_pickle=False) as npz:
        return TemplateCoefficients(npz["z"], npz["bp"], npz["rp"])
