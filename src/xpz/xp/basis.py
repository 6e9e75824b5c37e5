"""Gaia DR3 XP basis functions sampled on the xpz layout.

A Gaia DR3 ``XP_CONTINUOUS`` mean spectrum is 55 coefficients per band that
multiply a fixed set of basis functions of pseudo-wavelength (Hermite functions
followed by a linear transformation, as published with DR3 and shipped by
GaiaXPy).  Sampling a spectrum at the 120 positions of a band is therefore a
matrix product::

    flux (N, 120) = coefficients (N, 55) @ D (55, 120)

with the *design matrix* ``D`` holding each basis function at each sample.  The
flux is in e-/s, exactly as ``gaiaxpy.convert`` produces it.

The matrices for :func:`xpz.layout.default_layout` are shipped as package data
(``xpz/data/xp_basis.npz``), made by ``scripts/build_xp_basis.py`` with GaiaXPy,
so that xpz never imports GaiaXPy (a slow import) at run time.

Examples
--------
>>> import numpy as np
>>> from xpz.layout import Band
>>> D = design_matrices()
>>> D[Band.BP].shape, D[Band.RP].shape
((55, 120), (55, 120))
>>> flux = sample_coefficients(np.zeros((3, 55)), np.zeros((3, 55)))
>>> flux.shape, bool((flux == 0).all())
((3, 186), True)
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.layout import LAYOUT_VERSION, Band, XPLayout, default_layout

__all__ = [
    "BASIS_FILE",
    "N_COEFFICIENTS",
    "N_CORRELATIONS",
    "PAIR_COLUMNS",
    "PAIR_ROWS",
    "compute_design_matrices",
    "design_matrices",
    "pixel_design_matrices",
    "sample_coefficients",
]

#: Number of basis functions (coefficients) per band in Gaia DR3.
N_COEFFICIENTS = 55

#: Off-diagonal entries of a band's coefficient correlation matrix (the archive stores 1,485).
N_CORRELATIONS = N_COEFFICIENTS * (N_COEFFICIENTS - 1) // 2

#: Row and column of each stored correlation.  The archive lists the upper
#: triangle column by column, i.e. GaiaXPy's ``np.tril_indices(55, k=-1)`` order.
PAIR_ROWS, PAIR_COLUMNS = np.tril_indices(N_COEFFICIENTS, k=-1)

#: The shipped design matrices for the default layout.
BASIS_FILE = Path(__file__).parent.parent / "data" / "xp_basis.npz"

_REBUILD_HINT = "rerun `python scripts/build_xp_basis.py` to rebuild it"


def compute_design_matrices(layout: XPLayout | None = None) -> dict[Band, NDArray[np.float64]]:
    """Evaluate the DR3 basis functions with GaiaXPy: (55, 120) per band.

    This is what ``gaiaxpy.convert`` does internally (same configuration file,
    same code).  GaiaXPy needs increasing pwl, whereas the layout orders samples
    by increasing wavelength (decreasing pwl in BP), so the columns are
    reordered back to the layout's order.  Slow (imports GaiaXPy); used to build
    the shipped file and to test it.
    """
    from gaiaxpy.config.paths import hermite_bases_file
    from gaiaxpy.converter.config import parse_config
    from gaiaxpy.converter.converter import get_design_matrices

    layout = default_layout() if layout is None else layout
    config = parse_config(hermite_bases_file)
    out = {}
    for band, pwl in ((Band.BP, layout.bp_pwl), (Band.RP, layout.rp_pwl)):
        order = np.argsort(pwl)
        sampled = get_design_matrices(np.asarray(pwl)[order], config)[band.value]
        matrix = np.empty((N_COEFFICIENTS, len(pwl)))
        matrix[:, order] = sampled.get_design_matrix()
        out[band] = matrix
    return out


@functools.cache
def _shipped() -> dict[str, NDArray]:
    """Contents of :data:`BASIS_FILE` (read once)."""
    if not BASIS_FILE.exists():
        raise FileNotFoundError(f"XP basis file {BASIS_FILE} is missing; {_REBUILD_HINT}")
    with np.load(BASIS_FILE, allow_pickle=False) as npz:
        data = {name: npz[name] for name in npz.files}
    for array in data.values():
        array.flags.writeable = False
    return data


def design_matrices(layout: XPLayout | None = None) -> dict[Band, NDArray[np.float64]]:
    """Design matrices D (55, 120) per band: ``flux = coefficients @ D`` in e-/s.

    Columns follow the layout's 120 samples of each band (increasing
    wavelength).  Read from the shipped file, which must have been built for
    this ``layout`` (default: :func:`xpz.layout.default_layout`); the arrays
    are read-only and shared between calls.

    Raises
    ------
    ValueError
        If the shipped file was built for another layout.
    """
    layout = default_layout() if layout is None else layout
    data = _shipped()
    version = str(data["layout_version"])
    if version != layout.version or version != LAYOUT_VERSION:
        raise ValueError(
            f"{BASIS_FILE} was built for layout {version!r}, but xpz uses {layout.version!r};"
            f" {_REBUILD_HINT}"
        )
    for band, pwl in (("bp", layout.bp_pwl), ("rp", layout.rp_pwl)):
        if not np.allclose(data[f"{band}_pwl"], pwl, rtol=0, atol=1e-9):
            raise ValueError(
                f"{BASIS_FILE} was built for other {band.upper()} sampling positions than"
                f" the layout's; {_REBUILD_HINT}"
            )
    return {Band.BP: data["bp_design"], Band.RP: data["rp_design"]}


def pixel_design_matrices(layout: XPLayout | None = None) -> dict[Band, NDArray[np.float64]]:
    """The design matrices restricted to the kept pixels: (55, 80) for BP, (55, 106) for RP.

    >>> {band.name: m.shape for band, m in pixel_design_matrices().items()}
    {'BP': (55, 80), 'RP': (55, 106)}
    """
    layout = default_layout() if layout is None else layout
    full = design_matrices(layout)
    return {Band.BP: full[Band.BP][:, layout.bp_kept], Band.RP: full[Band.RP][:, layout.rp_kept]}


def sample_coefficients(
    bp_coefficients: ArrayLike, rp_coefficients: ArrayLike, layout: XPLayout | None = None
) -> NDArray[np.float64]:
    """Flux (N, 186) in e-/s on the layout's pixels from (N, 55) BP and RP coefficients.

    A row of NaN coefficients (a missing band) gives NaN pixels in that band.

    >>> import numpy as np
    >>> bp = np.full((1, 55), np.nan)
    >>> flux = sample_coefficients(bp, np.ones((1, 55)))
    >>> bool(np.isnan(flux[0, :80]).all()), bool(np.isfinite(flux[0, 80:]).all())
    (True, True)
    """
    layout = default_layout() if layout is None else layout
    bp, rp = np.asarray(bp_coefficients, float), np.asarray(rp_coefficients, float)
    for name, coefficients in (("BP", bp), ("RP", rp)):
        if coefficients.ndim != 2 or coefficients.shape[1] != N_COEFFICIENTS:
            raise ValueError(
                f"{name} coefficients must have shape (N, {N_COEFFICIENTS}), got {coefficients.shape}"
            )
    if bp.shape[0] != rp.shape[0]:
        raise ValueError(f"{bp.shape[0]} BP but {rp.shape[0]} RP coefficient rows")
    matrices = design_matrices(layout)
    return layout.truncate(bp @ matrices[Band.BP], rp @ matrices[Band.RP])
