"""The second SED source: BPZ's CWW+SB templates (Benitez 2000, 2004).

The six templates ``El, Sbc, Scd, Im, SB3, SB2`` (files ``*_B2004a.sed``:
Coleman, Wu & Weedman 1980 observed templates extended with Bruzual & Charlot
models, and two Kinney et al. 1996 starbursts, as recalibrated by Benitez et al.
2004) ship in the MIT-licensed PyPI package ``desc-bpz`` (0.4.0,
``desc_bpz/data_files/SED/``), the BPZ behind LSST-DESC's ``pz-rail-bpz``.
They were made independently of kcorrect's NMF templates (empirical spectra,
not a factorisation of SDSS photometry), which is the point of a second source.

Each template is normalised to unit mean f_lambda over rest-frame 400-700 nm,
redshifted as ``T(lambda / (1 + z)) / (1 + z)`` (kcorrect's convention) and
projected on the XP bases on the same redshift grid as kcorrect's templates
(:func:`compute_bpz_coefficients`, run by ``scripts/build_simulator_data.py``);
the coefficients ship in ``sim_templates_bpz.npz``.

A BPZ galaxy is a non-negative mix of two adjacent types, as BPZ interpolates
between neighbouring templates: a type ``u`` uniform in [0, 5] gives
``(1 - w) T_i + w T_{i+1}`` with ``i = floor(u)``, ``w = u - i``
(:func:`mix_bpz`).  Its amplitude is set by the simulator so that its G equals
that of the kcorrect galaxy it replaces.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xpz.simulate.instrument import InstrumentModel
from xpz.simulate.templates import TemplateCoefficients, redshifted_coefficients

__all__ = [
    "BPZ_TEMPLATES",
    "BPZ_TEMPLATES_FILE",
    "bpz_coefficients",
    "bpz_templates",
    "compute_bpz_coefficients",
    "mix_bpz",
]

BPZ_TEMPLATES_FILE = Path(__file__).parent.parent / "data" / "sim_templates_bpz.npz"
#: BPZ's CWW+SB template names, red to blue (BPZ's ``CWWSB4.list`` order).
BPZ_TEMPLATES = ("El", "Sbc", "Scd", "Im", "SB3", "SB2")
#: Rest-frame range (nm) over which each template is normalised to unit mean f_lambda.
_NORM_NM = (400.0, 700.0)


def bpz_templates() -> tuple[NDArray, NDArray]:
    """Rest wavelength (nm, K) and normalised f_lambda (6, K) of the templates (needs desc-bpz)."""
    import importlib.util

    spec = importlib.util.find_spec("desc_bpz")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("desc-bpz (pip install desc-bpz==0.4.0) ships the BPZ templates")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data_files" / "SED"
    tables = [np.loadtxt(folder / f"{name}_B2004a.sed") for name in BPZ_TEMPLATES]
    wl = np.unique(np.concatenate([t[:, 0] for t in tables])) / 10.0
    flux = np.stack([np.interp(wl, t[:, 0] / 10.0, t[:, 1]) for t in tables])
    window = (wl >= _NORM_NM[0]) & (wl <= _NORM_NM[1])
    norm = np.asarray(np.trapezoid(flux[:, window], wl[window], axis=1)) / np.ptp(wl[window])
    return wl, flux / norm[:, None]


def compute_bpz_coefficients(
    z_grid: NDArray,
    model: InstrumentModel | None = None,
    template_index: NDArray | slice = slice(None),
) -> TemplateCoefficients:
    """DR3 coefficients (Z, 6, 55) of the normalised templates redshifted to each ``z_grid`` value.

    Units as :func:`xpz.simulate.templates.compute_template_coefficients`: the
    f_lambda values are taken as erg s^-1 cm^-2 A^-1.
    """
    rest_wl, rest_flux = bpz_templates()
    return redshifted_coefficients(rest_wl, rest_flux[template_index], z_grid, model)


@functools.cache
def bpz_coefficients() -> TemplateCoefficients:
    """The shipped BPZ template coefficients (read once)."""
    with np.load(BPZ_TEMPLATES_FILE, allow_pickle=False) as npz:
        return TemplateCoefficients(npz["z"], npz["bp"], npz["rp"])


def mix_bpz(z: NDArray, kind: NDArray) -> tuple[NDArray, NDArray]:
    """(N, 55) BP and RP coefficients of unit-amplitude mixes of adjacent types ``kind`` in [0, 5].

    >>> bp, rp = mix_bpz(np.array([0.2, 0.2]), np.array([1.0, 1.0]))
    >>> bool(np.allclose(bp[0], bpz_coefficients().at(np.array([0.2]))[0][0, 1]))
    True
    """
    kind = np.clip(np.asarray(kind, dtype=float), 0.0, len(BPZ_TEMPLATES) - 1)
    lower = np.minimum(kind.astype(int), len(BPZ_TEMPLATES) - 2)
    weight = kind - lower
    weights = np.zeros((len(kind), len(BPZ_TEMPLATES)))
    rows = np.arange(len(kind))
    weights[rows, lower] = 1.0 - weight
    weights[rows, lower + 1] = weight
    bp, rp = bpz_coefficients().at(z)
    weights = weights.astype(bp.dtype)
    return np.einsum("nt,ntk->nk", weights, bp), np.einsum("nt,ntk->nk", weights, rp)
