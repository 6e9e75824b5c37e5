"""The Gaia XP instrument model: an SED in, 55 + 55 continuous coefficients out.

GaiaXPy ships DR3's *external calibration* (Montegriffo et al. 2023): for each
band a dispersion function, a response curve and a set of "inverse bases"
:math:`A_i(\\lambda)` such that the absolute SED of a source with DR3
coefficients :math:`c_i` is

.. math:: f(\\lambda) = \\sum_i c_i A_i(\\lambda) \\quad [\\mathrm{W\\,m^{-2}\\,nm^{-1}}].

The simulator needs the inverse direction.  For an SED :math:`f` we take the
coefficients whose calibrated spectrum is closest to :math:`f` (least squares
over the band's wavelength range, with a tiny Tikhonov term because the high
orders are nearly degenerate)::

    c = P f,   P = (A W A^T + lambda I)^-1 A W

``P`` is linear and fixed, so it is computed once with GaiaXPy by
``scripts/build_simulator_data.py`` (:func:`compute_instrument_model`) and
shipped in ``xpz/data/sim_instrument.npz``.  At run time this module is numpy only.

The coefficients are DR3 ``XP_CONTINUOUS`` coefficients: sampling them with
:func:`xpz.xp.basis.sample_coefficients` gives the internal flux in e-/s per
unit pseudo-wavelength, as ``gaiaxpy.convert`` does.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.layout import Band

__all__ = [
    "BAND_RANGE_NM",
    "ERG_CM2_S_A_TO_W_M2_NM",
    "INSTRUMENT_FILE",
    "REGULARISATION",
    "InstrumentModel",
    "compute_instrument_model",
    "instrument_model",
    "sed_to_coefficients",
]

INSTRUMENT_FILE = Path(__file__).parent.parent / "data" / "sim_instrument.npz"

#: Wavelength range (nm) over which each band's coefficients are fitted: where
#: the band's DR3 response exceeds 5 % of its peak.
BAND_RANGE_NM = {Band.BP: (333.0, 671.0), Band.RP: (624.0, 1014.0)}

#: Tikhonov term, relative to the mean diagonal of A W A^T.
REGULARISATION = 1e-6

#: 1 erg s^-1 cm^-2 A^-1 in W m^-2 nm^-1.
ERG_CM2_S_A_TO_W_M2_NM = 1e-2

#: DR3 external-calibration models shipped by GaiaXPy (its defaults).
_MODELS = {Band.BP: "bpC03_v375wi", Band.RP: "rpC03_v142r"}

_REBUILD_HINT = "rerun `python scripts/build_simulator_data.py` to rebuild it"


class InstrumentModel:
    """Projection of SEDs on a fixed wavelength grid to DR3 coefficients.

    Attributes
    ----------
    wavelength : ndarray (W,)
        Grid in nm (1 nm steps) on which SEDs are given.
    projection : dict[Band, ndarray (55, W)]
        ``coefficients = projection[band] @ sed`` with ``sed`` in W m^-2 nm^-1.
    """

    def __init__(self, wavelength: NDArray, projection: dict[Band, NDArray]) -> None:
        self.wavelength = np.asarray(wavelength, dtype=float)
        self.projection = projection

    def coefficients(self, sed: ArrayLike) -> tuple[NDArray, NDArray]:
        """(BP, RP) coefficients, shapes (..., 55), of SEDs (..., W) on :attr:`wavelength`."""
        sed = np.asarray(sed, dtype=float)
        return sed @ self.projection[Band.BP].T, sed @ self.projection[Band.RP].T


def compute_instrument_model(wavelength: NDArray | None = None) -> InstrumentModel:
    """Build the projection with GaiaXPy's external calibration (slow: imports GaiaXPy)."""
    from gaiaxpy.calibrator.external_instrument_model import ExternalInstrumentModel
    from gaiaxpy.config.paths import config_path
    from gaiaxpy.spectrum.sampled_basis_functions import SampledBasisFunctions

    wl = np.arange(320.0, 1051.0) if wavelength is None else np.asarray(wavelength, float)
    projection = {}
    for band, model in _MODELS.items():
        files = [
            f"{config_path}/{model}_{part}.csv" for part in ("dispersion", "response", "bases")
        ]
        eim = ExternalInstrumentModel.from_config_csv(*files)
        a = SampledBasisFunctions.from_external_instrument_model(
            wl, np.ones_like(wl), eim
        ).get_design_matrix()
        lo, hi = BAND_RANGE_NM[band]
        w = ((wl >= lo) & (wl <= hi)).astype(float)
        normal = (a * w) @ a.T
        ridge = REGULARISATION * np.trace(normal) / len(normal) * np.eye(len(normal))
        projection[band] = np.linalg.solve(normal + ridge, a * w)
    return InstrumentModel(wl, projection)


@functools.cache
def instrument_model() -> InstrumentModel:
    """The shipped instrument model (read once from :data:`INSTRUMENT_FILE`)."""
    if not INSTRUMENT_FILE.exists():
        raise FileNotFoundError(f"{INSTRUMENT_FILE} is missing; {_REBUILD_HINT}")
    with np.load(INSTRUMENT_FILE, allow_pickle=False) as npz:
        return InstrumentModel(
            npz["wavelength"], {Band.BP: npz["projection_bp"], Band.RP: npz["projection_rp"]}
        )


def sed_to_coefficients(
    wavelength_nm: ArrayLike, sed: ArrayLike, model: InstrumentModel | None = None
) -> tuple[NDArray, NDArray]:
    """DR3 (BP, RP) coefficients, each (..., 55), of SEDs given on any wavelength grid.

    ``sed`` (..., K) is in W m^-2 nm^-1 at ``wavelength_nm`` (K,), increasing;
    it is averaged into the model's 1 nm bins (so narrow lines keep their flux)
    and taken as zero outside the grid it is given on.
    """
    model = instrument_model() if model is None else model
    rebinned = rebin(np.asarray(wavelength_nm, float), np.asarray(sed, float), model.wavelength)
    return model.coefficients(rebinned)


def rebin(wavelength: NDArray, flux: NDArray, centres: NDArray) -> NDArray:
    """Mean of ``flux`` (..., K) over bins of width 1 step centred on ``centres``.

    Exact for piecewise-linear ``flux``: the cumulative integral is interpolated
    at the bin edges.

    >>> wl = np.linspace(0.0, 10.0, 1001)
    >>> rebin(wl, 2 * wl, np.array([2.0, 5.0])).round(6).tolist()
    [4.0, 10.0]
    """
    step = np.gradient(centres)
    edges = np.concatenate([centres - step / 2, centres[-1:] + step[-1:] / 2])
    segment = np.diff(wavelength) * (flux[..., 1:] + flux[..., :-1]) / 2
    cumulative = np.concatenate(
        [np.zeros(flux.shape[:-1] + (1,)), np.cumsum(segment, axis=-1)], axis=-1
    )
    at_edges = np.stack(
        [np.interp(edges, wavelength, row) for row in cumulative.reshape(-1, len(wavelength))]
    ).reshape(flux.shape[:-1] + (len(edges),))
    return np.diff(at_edges, axis=-1) / np.diff(edges)
