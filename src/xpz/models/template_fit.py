"""Template fitting: the photo-z field's non-learning baseline (as EAZY, BPZ, LePhare).

At each redshift of a grid, every galaxy's spectrum is fitted with the best
*non-negative* combination of redshifted SED templates put into the 186-pixel
XP layout by the instrument model the simulator ships; the fit's chi-square
gives the likelihood ``exp(-chi2 / 2)``, and times a prior on z the posterior
PDF on the grid, whose median is the point estimate.

* Templates: :class:`TemplateSet` names the SED set.  ``KCORRECT`` is
  kcorrect's five NMF templates, the ones that made the simulated data: with
  them and the simulator's noise, template fitting approaches the best any
  estimator can do on the simulated data.  ``BPZ`` is BPZ's six CWW+SB
  templates (``El, Sbc, Scd, Im, SB3, SB2``, Benitez 2004, from desc-bpz),
  the simulator's second, independent SED source (:mod:`xpz.simulate.bpz`),
  which made none of the default data.
* Chi-square: with per-pixel errors ``sigma`` (the spectrum's diagonal
  covariance), ``chi2(z) = sum_i (f_i - sum_t a_t T_ti(z))^2 / sigma_i^2``.
* Non-negative least squares, exactly: with five templates there are 31
  (with BPZ's six, 63) non-empty subsets of active templates.  The constrained optimum is the
  unconstrained least-squares fit on one of them whose amplitudes are all
  non-negative, so every subset is solved (batched over galaxies and
  redshifts) and the best feasible one kept; the empty fit (all amplitudes 0)
  is always feasible.
* Pixels that are not finite (a missing band) or have no positive error are
  left out of a galaxy's chi-square.

>>> from xpz.simulate import simulate
>>> spectra = simulate(3, seed=2)
>>> fit = fit_templates(spectra.flux, spectra.flux_error, z_grid=np.linspace(0.0, 0.6, 61))
>>> fit.pdf.shape, bool(np.allclose(np.trapezoid(fit.pdf, fit.z_grid, axis=1), 1.0))
((3, 61), True)
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import itertools

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz import pdf as zpdf
from xpz.layout import N_PIXELS, Z_MAX, Band

__all__ = [
    "DEFAULT_Z_GRID",
    "TemplateFit",
    "TemplateSet",
    "fit_templates",
    "template_fluxes",
]

#: The default redshift grid: 0 to 0.6 in steps of 0.005.
DEFAULT_Z_GRID: NDArray[np.float64] = np.round(np.linspace(0.0, Z_MAX, 121), 10)
DEFAULT_Z_GRID.flags.writeable = False

#: Galaxies fitted at once (bounds the memory: chunk x Z x T^2 doubles).
_CHUNK = 1024
#: Relative ridge added to each normal matrix's diagonal, so degenerate subsets stay finite.
_RIDGE = 1e-10


class TemplateSet(enum.Enum):
    """SED template sets the fitter can use."""

    #: kcorrect's five NMF templates (Blanton & Roweis 2007), which the simulator uses.
    KCORRECT = "kcorrect"
    #: BPZ's six CWW+SB templates (Benitez 2004), the simulator's second SED source.
    BPZ = "bpz"


@dataclasses.dataclass(frozen=True)
class TemplateFit:
    """The fit of N galaxies on a grid of Z redshifts.

    Attributes
    ----------
    z_grid : (Z,)
        Redshifts of the grid.
    chi2 : (N, Z)
        Minimum chi-square of the non-negative template fit at each redshift.
    pdf : (N, Z)
        Posterior ``exp(-chi2 / 2) * prior`` normalised on the grid (trapezoid rule).
    z_pred : (N,)
        PDF median; ``z_best`` (N,) is the chi-square minimum.
    """

    z_grid: NDArray[np.float64]
    chi2: NDArray[np.float64]
    pdf: NDArray[np.float64]
    z_pred: NDArray[np.float64]
    z_best: NDArray[np.float64]


@functools.cache
def _template_fluxes_cached(template_set: TemplateSet, z_key: tuple[float, ...]) -> NDArray:
    from xpz.simulate.bpz import bpz_coefficients
    from xpz.simulate.templates import template_coefficients
    from xpz.xp.basis import pixel_design_matrices

    coefficients = {TemplateSet.KCORRECT: template_coefficients, TemplateSet.BPZ: bpz_coefficients}
    bp, rp = coefficients[template_set]().at(np.asarray(z_key))
    design = pixel_design_matrices()
    flux = np.concatenate([bp @ design[Band.BP], rp @ design[Band.RP]], axis=-1)
    flux.flags.writeable = False
    return flux


def template_fluxes(
    z_grid: ArrayLike = DEFAULT_Z_GRID, template_set: TemplateSet = TemplateSet.KCORRECT
) -> NDArray[np.float64]:
    """Pixel fluxes (Z, T, 186) of each template redshifted to each grid redshift.

    Per unit amplitude, in e-/s as the simulator's spectra (the distance dimming
    is part of the fitted amplitude).

    >>> template_fluxes([0.1, 0.2]).shape, template_fluxes([0.1, 0.2], TemplateSet.BPZ).shape
    ((2, 5, 186), (2, 6, 186))
    """
    z = np.asarray(z_grid, dtype=np.float64)
    if z.ndim != 1 or z.size < 2 or not np.all(np.diff(z) > 0):
        raise ValueError("z_grid must be 1-D with at least two increasing values")
    return _template_fluxes_cached(TemplateSet(template_set), tuple(z.tolist()))


def fit_templates(
    flux: ArrayLike,
    flux_error: ArrayLike,
    *,
    z_grid: ArrayLike = DEFAULT_Z_GRID,
    template_set: TemplateSet = TemplateSet.KCORRECT,
    prior: ArrayLike | None = None,
) -> TemplateFit:
    """Fit (N, 186) spectra with the non-negative template model at every grid redshift.

    Parameters
    ----------
    flux, flux_error : (N, 186)
        Fluxes and their 1-sigma errors (e-/s).
    z_grid : (Z,)
        Increasing redshifts at which to fit.
    template_set : TemplateSet
        Which SED templates to fit with.
    prior : (Z,), optional
        Prior density on the grid (e.g. the training n(z)); flat when omitted.
    """
    f = np.asarray(flux, dtype=np.float64)
    e = np.asarray(flux_error, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] != N_PIXELS or e.shape != f.shape:
        raise ValueError(
            f"flux and flux_error must both be (N, {N_PIXELS}), got {f.shape}, {e.shape}"
        )
    if len(f) == 0:
        raise ValueError("no spectra to fit")
    templates = template_fluxes(z_grid, template_set)
    grid = np.asarray(z_grid, dtype=np.float64)
    log_prior = _log_prior(prior, grid)
    chunks = range(0, len(f), _CHUNK)
    chi2 = np.concatenate([_chi2(f[i : i + _CHUNK], e[i : i + _CHUNK], templates) for i in chunks])
    log_post = -0.5 * (chi2 - chi2.min(axis=1, keepdims=True)) + log_prior
    density = zpdf.normalise(np.exp(log_post - log_post.max(axis=1, keepdims=True)), grid)
    return TemplateFit(
        grid, chi2, density, zpdf.median(density, grid), grid[np.argmin(chi2, axis=1)]
    )


def _log_prior(prior: ArrayLike | None, grid: NDArray[np.float64]) -> NDArray[np.float64]:
    if prior is None:
        return np.zeros(grid.size)
    p = np.asarray(prior, dtype=np.float64)
    if p.shape != grid.shape or not np.all(np.isfinite(p) & (p >= 0)) or not p.any():
        raise ValueError(f"prior must be {grid.size} finite, non-negative values, not all zero")
    with np.errstate(divide="ignore"):
        return np.log(p)


def _chi2(f: NDArray, e: NDArray, templates: NDArray) -> NDArray[np.float64]:
    """Minimum non-negative-fit chi-square (n, Z) of one chunk of galaxies."""
    n_z, n_t, n_pix = templates.shape
    usable = np.isfinite(f) & np.isfinite(e) & (e > 0)
    w = np.where(usable, 1.0 / np.where(usable, e, 1.0) ** 2, 0.0)  # (n, P)
    fw = np.where(usable, f, 0.0) * w
    # normal equations for every galaxy and redshift, as two matrix products
    outer = np.einsum("zti,zsi->ztsi", templates, templates).reshape(-1, n_pix)
    a = (w @ outer.T).reshape(len(f), n_z, n_t, n_t)
    b = (fw @ templates.reshape(-1, n_pix).T).reshape(len(f), n_z, n_t)
    c = np.sum(np.where(usable, f, 0.0) * fw, axis=1)[:, None]  # chi2 of the empty fit
    best = np.broadcast_to(c, (len(f), n_z)).copy()
    ridge = _RIDGE * np.trace(a, axis1=-2, axis2=-1)[..., None]
    for size in range(1, n_t + 1):
        for subset in itertools.combinations(range(n_t), size):
            idx = np.array(subset)
            sub_a = a[..., idx[:, None], idx[None, :]] + ridge[..., None] * np.eye(size)
            amplitude = _solve_spd(sub_a, b[..., idx])
            feasible = np.all(amplitude >= 0, axis=-1)
            x = np.where(feasible[..., None], amplitude, 0.0)
            # chi2(x) = c - 2 x.b + x^T A x: second order in the solver's error on x
            ax = np.einsum("nzij,nzj->nzi", a[..., idx[:, None], idx[None, :]], x)
            value = c - np.sum(x * (2.0 * b[..., idx] - ax), axis=-1)
            best = np.where(feasible & (value < best), value, best)
    return np.maximum(best, 0.0)


def _solve_spd(a: NDArray, b: NDArray) -> NDArray:
    """Solve stacks of small symmetric positive-definite systems ``a x = b`` (no pivoting).

    Gaussian elimination written over the stack, so a few vector operations
    replace millions of tiny LAPACK calls.  Singular systems give non-finite
    entries (then treated as infeasible by the caller).

    >>> _solve_spd(np.array([[[4.0, 2.0], [2.0, 3.0]]]), np.array([[2.0, 1.0]])).round(6).tolist()
    [[0.5, 0.0]]
    """
    a = a.copy()
    x = b.copy()
    k = a.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(k):
            pivot = a[..., j, j]
            for i in range(j + 1, k):
                factor = a[..., i, j] / pivot
                a[..., i, j:] -= factor[..., None] * a[..., j, j:]
                x[..., i] -= factor * x[..., j]
        for j in range(k - 1, -1, -1):
            x[..., j] = (x[..., j] - np.sum(a[..., j, j + 1 :] * x[..., j + 1 :], axis=-1)) / a[
                ..., j, j
            ]
    return np.where(np.isfinite(x), x, -np.inf)
