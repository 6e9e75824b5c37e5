"""The 186-pixel Gaia XP layout used by the dissertation and by every xpz model.

Gaia DR3 publishes BP/RP mean spectra as 55 + 55 basis-function coefficients in
*pseudo-wavelength* (pwl), a dimensionless coordinate along the dispersion
direction.  The Unresolved Galaxy Classifier (and the dissertation's data set)
works instead on spectra *sampled* by SMSgen at 120 positions per band, then
truncated to drop the noisy band edges:

* BP: 120 samples, drop the first 34 and the last 6  -> 80 pixels
* RP: 120 samples, drop the first 4 and the last 10 -> 106 pixels

giving 186 fluxes covering about 366-996 nm (dissertation, section 3.1).

SMSgen's exact sampling table is not public.  xpz therefore uses samples that are
uniform in pseudo-wavelength (the natural SMSgen-like choice), with step and
origin fixed per band so that the *kept* pixels span the dissertation's range:

* BP kept pixels run from 366 nm to 640 nm,
* RP kept pixels run from 641 nm to 996 nm,

where the pwl <-> wavelength mapping is Gaia DR3's tabulated dispersion function
as shipped by GaiaXPy.  Pixels are ordered by increasing wavelength, BP first.

Examples
--------
>>> from xpz.layout import default_layout, N_PIXELS
>>> layout = default_layout()
>>> N_PIXELS, layout.wavelength.shape
(186, (186,))
>>> round(float(layout.wavelength[0])), round(float(layout.wavelength[-1]))
(366, 996)
>>> int(layout.is_bp.sum()), int((~layout.is_bp).sum())
(80, 106)
"""

from __future__ import annotations

import enum
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BP_TRIM",
    "LAYOUT_VERSION",
    "N_BP",
    "N_PIXELS",
    "N_RP",
    "N_SAMPLES_PER_BAND",
    "RP_TRIM",
    "Z_MAX",
    "Z_MIN",
    "Z_RANGE",
    "Band",
    "XPLayout",
    "default_layout",
    "dispersion_table_path",
    "pwl_to_wavelength",
    "wavelength_to_pwl",
]

#: Identifier stored with every data file and model; bump it if the grid changes.
LAYOUT_VERSION = "xpz-xp186-v1"

N_SAMPLES_PER_BAND = 120
#: Samples dropped at the (blue, red) end of each band.
BP_TRIM = (34, 6)
RP_TRIM = (4, 10)
N_BP = N_SAMPLES_PER_BAND - sum(BP_TRIM)  # 80
N_RP = N_SAMPLES_PER_BAND - sum(RP_TRIM)  # 106
N_PIXELS = N_BP + N_RP  # 186

#: The redshift range of xpz's data sets and default models: the dissertation's
#: SDSS x Gaia sample spans 0 <= z <= 0.6.  A model file stores its own range.
Z_MIN = 0.0
Z_MAX = 0.6
Z_RANGE = (Z_MIN, Z_MAX)

#: Wavelengths (nm) of the first and last *kept* pixel of each band.
BP_KEPT_RANGE_NM = (366.0, 640.0)
RP_KEPT_RANGE_NM = (641.0, 996.0)

_DISPERSION_FILE = "TabulatedDispersionFunction-DR3-v375wiv142r_20200610.csv"


class Band(enum.Enum):
    """One of Gaia's two spectrophotometers."""

    BP = "bp"
    RP = "rp"


def dispersion_table_path() -> Path:
    """Path of Gaia DR3's tabulated dispersion function inside the GaiaXPy package.

    Found without importing GaiaXPy (whose import takes seconds).
    """
    spec = importlib.util.find_spec("gaiaxpy")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("GaiaXPy is required for the XP dispersion function")
    path = Path(next(iter(spec.submodule_search_locations))) / "config" / _DISPERSION_FILE
    if not path.exists():
        raise FileNotFoundError(f"GaiaXPy's dispersion table is missing: {path}")
    return path


@functools.cache
def _dispersion_table() -> dict[Band, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """(wavelength in nm, pwl) per band, both increasing in wavelength."""
    table = np.genfromtxt(dispersion_table_path(), delimiter=",", names=True)
    out = {}
    for band, column in ((Band.BP, "bp_pwl"), (Band.RP, "rp_pwl")):
        ok = np.isfinite(table[column])
        out[band] = (table["wl_nm"][ok].astype(float), table[column][ok].astype(float))
    return out


def _as_band(band: Band | str) -> Band:
    return band if isinstance(band, Band) else Band(str(band).lower())


def pwl_to_wavelength(band: Band | str, pwl: ArrayLike) -> NDArray[np.float64]:
    """Wavelength in nm of pseudo-wavelength ``pwl`` in ``band``.

    Linear interpolation in Gaia DR3's tabulated dispersion function, linear
    extrapolation outside it (as GaiaXPy does).

    >>> float(pwl_to_wavelength("rp", wavelength_to_pwl("rp", 800.0)))
    800.0
    """
    wl, p = _dispersion_table()[_as_band(band)]
    order = np.argsort(p)
    return _interp_extrapolate(np.asarray(pwl, dtype=float), p[order], wl[order])


def wavelength_to_pwl(band: Band | str, wavelength_nm: ArrayLike) -> NDArray[np.float64]:
    """Pseudo-wavelength in ``band`` of ``wavelength_nm`` (nm); inverse of :func:`pwl_to_wavelength`."""
    wl, p = _dispersion_table()[_as_band(band)]
    return _interp_extrapolate(np.asarray(wavelength_nm, dtype=float), wl, p)


def _interp_extrapolate(
    x: NDArray[np.float64], xp: NDArray[np.float64], fp: NDArray[np.float64]
) -> NDArray[np.float64]:
    y = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    y = np.where(lo, fp[0] + (x - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0]), y)
    y = np.where(hi, fp[-1] + (x - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2]), y)
    return y


def _band_samples(band: Band, trim: tuple[int, int], kept_nm: tuple[float, float]) -> NDArray:
    """120 pwl positions, uniform in pwl, ordered by increasing wavelength."""
    i_first, i_last = trim[0], N_SAMPLES_PER_BAND - 1 - trim[1]
    p_first, p_last = wavelength_to_pwl(band, np.array(kept_nm))
    step = (p_last - p_first) / (i_last - i_first)
    return p_first + (np.arange(N_SAMPLES_PER_BAND) - i_first) * step


@dataclass(frozen=True)
class XPLayout:
    """Sampling positions of the XP spectra and the 186 pixels that are kept.

    Attributes
    ----------
    bp_pwl, rp_pwl : ndarray, shape (120,)
        Pseudo-wavelengths of all SMSgen-like samples of each band, ordered by
        increasing wavelength (BP pwl decreases with wavelength, RP increases).
    version : str
        :data:`LAYOUT_VERSION`.
    """

    bp_pwl: NDArray[np.float64]
    rp_pwl: NDArray[np.float64]
    version: str = LAYOUT_VERSION

    @property
    def bp_kept(self) -> slice:
        """Indices of the kept BP samples among the 120."""
        return slice(BP_TRIM[0], N_SAMPLES_PER_BAND - BP_TRIM[1])

    @property
    def rp_kept(self) -> slice:
        """Indices of the kept RP samples among the 120."""
        return slice(RP_TRIM[0], N_SAMPLES_PER_BAND - RP_TRIM[1])

    @property
    def bp_pixels(self) -> slice:
        """Columns of the BP pixels in the 186-pixel vector."""
        return slice(0, N_BP)

    @property
    def rp_pixels(self) -> slice:
        """Columns of the RP pixels in the 186-pixel vector."""
        return slice(N_BP, N_PIXELS)

    @property
    def pwl(self) -> NDArray[np.float64]:
        """Pseudo-wavelength of each of the 186 pixels (band given by :attr:`is_bp`)."""
        return np.concatenate([self.bp_pwl[self.bp_kept], self.rp_pwl[self.rp_kept]])

    @property
    def is_bp(self) -> NDArray[np.bool_]:
        """True for the 80 BP pixels, False for the 106 RP pixels."""
        return np.arange(N_PIXELS) < N_BP

    @property
    def band(self) -> NDArray[np.object_]:
        """:class:`Band` of each pixel."""
        return np.array([Band.BP if bp else Band.RP for bp in self.is_bp], dtype=object)

    @property
    def bp_wavelength_all(self) -> NDArray[np.float64]:
        """Wavelength (nm) of all 120 BP samples."""
        return pwl_to_wavelength(Band.BP, self.bp_pwl)

    @property
    def rp_wavelength_all(self) -> NDArray[np.float64]:
        """Wavelength (nm) of all 120 RP samples."""
        return pwl_to_wavelength(Band.RP, self.rp_pwl)

    @property
    def wavelength(self) -> NDArray[np.float64]:
        """Wavelength (nm) of each of the 186 pixels, increasing."""
        return np.concatenate(
            [self.bp_wavelength_all[self.bp_kept], self.rp_wavelength_all[self.rp_kept]]
        )

    def truncate(self, bp: NDArray, rp: NDArray) -> NDArray:
        """Apply the dissertation's truncation to (..., 120) BP and RP samples -> (..., 186)."""
        bp, rp = np.asarray(bp), np.asarray(rp)
        if bp.shape[-1] != N_SAMPLES_PER_BAND or rp.shape[-1] != N_SAMPLES_PER_BAND:
            raise ValueError(
                f"expected {N_SAMPLES_PER_BAND} samples per band, got BP {bp.shape[-1]}"
                f" and RP {rp.shape[-1]}"
            )
        return np.concatenate([bp[..., self.bp_kept], rp[..., self.rp_kept]], axis=-1)


@functools.cache
def default_layout() -> XPLayout:
    """The layout every xpz data set and model uses (cached)."""
    bp = _band_samples(Band.BP, BP_TRIM, BP_KEPT_RANGE_NM)
    rp = _band_samples(Band.RP, RP_TRIM, RP_KEPT_RANGE_NM)
    bp.flags.writeable = False
    rp.flags.writeable = False
    return XPLayout(bp_pwl=bp, rp_pwl=rp)
