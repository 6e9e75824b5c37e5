"""Post-hoc calibration of redshift PDFs: temperature scaling on the validation set.

A network trained with cross-entropy is often over- or under-confident: its
intervals cover fewer or more galaxies than their nominal level.  Temperature
scaling (Guo et al. 2017) divides the logits by one number ``T`` before the
softmax: ``T > 1`` widens every PDF, ``T < 1`` sharpens it, and the ranking of
the bins (hence, nearly, the median) is unchanged.  ``T`` is fitted on the
*validation* galaxies, which the network did not train on; the test set stays
untouched.  Two objectives:

* :func:`fit_temperature` minimises the mean negative log-likelihood (NLL) of
  the true redshift bins.  The NLL weighs every galaxy's whole PDF, so when the
  core of the PDFs is too wide but their tails are right (a hump-shaped PIT
  histogram) it settles on a compromise that leaves the 68% intervals too wide;
* :func:`fit_coverage_temperature` chooses ``T`` so that the central 68% and
  95% intervals cover 68% and 95% of the galaxies, which is what users of the
  intervals rely on.  Coverage is a step function of ``T``, so it is searched on
  a grid of ``log T`` around the NLL temperature.

:func:`calibrate_temperature` does both (NLL first, coverage around it) and
keeps the coverage temperature.

>>> logits = torch.tensor([[4.0, 0.0], [4.0, 0.0], [4.0, 0.0]])
>>> bins = torch.tensor([0, 0, 1])  # bin 0 is right 2 times in 3
>>> round(fit_temperature(logits, bins), 2)  # softmax(4 / T) = 2/3 at T = 4 / ln 2
5.77
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from xpz import pdf as zpdf

__all__ = [
    "COVERAGE_TARGETS",
    "BinnedModel",
    "calibrate_temperature",
    "coverage_loss",
    "fit_coverage_temperature",
    "fit_temperature",
    "interval_coverage",
    "mean_nll",
]


class BinnedModel(Protocol):
    """A network whose output are logits over redshift bins (e.g. :class:`~xpz.models.xpznet.XpzNet`)."""

    #: Redshift bin edges (n_bins + 1,).
    edges: Tensor

    def __call__(self, x: Tensor) -> Tensor: ...
    def eval(self) -> object: ...
    def target_bins(self, z: Tensor) -> Tensor: ...
    def set_temperature(self, temperature: float) -> None: ...


#: Nominal central-interval level -> tolerated coverage error (issue #7's targets).
COVERAGE_TARGETS: dict[float, float] = {0.68: 0.03, 0.95: 0.02}

#: Temperatures searched by :func:`fit_temperature` lie in [1 / _T_RANGE, _T_RANGE].
_T_RANGE = 20.0


def mean_nll(logits: Tensor, bins: Tensor, temperature: float) -> float:
    """Mean negative log-likelihood of the true ``bins`` (N,) under ``softmax(logits / T)``."""
    return float(torch.nn.functional.cross_entropy(logits.double() / temperature, bins))


def _check_logits(logits: Tensor, n: int) -> None:
    if logits.dim() != 2 or logits.shape[0] != n or n == 0:
        raise ValueError(f"need logits (N, K) and one target per row, got {logits.shape} and {n}")


def fit_temperature(logits: Tensor, bins: Tensor) -> float:
    """The temperature minimising :func:`mean_nll` of ``logits`` (N, K) for the true ``bins`` (N,).

    Searched on ``log T`` in ``[-ln 20, ln 20]`` (bounded Brent's method).
    """
    from scipy.optimize import minimize_scalar  # here: prediction never imports SciPy's optimizers

    _check_logits(logits, len(bins) if bins.dim() == 1 else -1)
    logits = logits.detach().double()
    bound = math.log(_T_RANGE)
    result = minimize_scalar(
        lambda log_t: mean_nll(logits, bins, math.exp(log_t)),
        bounds=(-bound, bound),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return math.exp(float(result.x))


def interval_coverage(
    logits: Tensor, edges: Tensor, z: Tensor, temperature: float, levels: Sequence[float]
) -> list[float]:
    """Share of true redshifts ``z`` (N,) inside the central interval of each of ``levels``.

    The PDFs are ``softmax(logits / T)`` over the bins with ``edges``, read as
    densities at the bin centres (:func:`xpz.pdf.from_bin_probabilities`); a
    galaxy is inside the interval at level ``L`` when ``|PIT - 0.5| <= L / 2``.

    >>> logits = torch.zeros(4, 10)  # flat PDFs on [0, 1]
    >>> edges = torch.linspace(0.0, 1.0, 11)
    >>> interval_coverage(logits, edges, torch.tensor([0.05, 0.3, 0.5, 0.9]), 1.0, [0.5])
    [0.5]
    """
    _check_logits(logits, len(z))
    probs = torch.softmax(logits.detach().double() / temperature, dim=1)
    density, grid = zpdf.from_bin_probabilities(probs.cpu().numpy(), edges.cpu().double().numpy())
    distance = np.abs(zpdf.pit(density, grid, z.cpu().double().numpy()) - 0.5)
    return [float(np.mean(distance <= level / 2)) for level in levels]


def coverage_loss(covered: Sequence[float], targets: dict[float, float]) -> float:
    """Largest ``|covered - level| / tolerance`` over the levels; at most 1 when all are in tolerance.

    Minimising the worst level (rather than, say, a sum of squares) leaves the
    same margin to every tolerance when one temperature cannot hit all levels.

    >>> round(coverage_loss([0.71, 0.945], {0.68: 0.03, 0.95: 0.02}), 6)
    1.0
    """
    return max(
        abs(c - level) / tolerance
        for c, (level, tolerance) in zip(covered, targets.items(), strict=True)
    )


def fit_coverage_temperature(
    logits: Tensor,
    edges: Tensor,
    z: Tensor,
    *,
    around: float = 1.0,
    targets: dict[float, float] | None = None,
    n_steps: int = 121,
) -> float:
    """The temperature whose central intervals best cover their nominal share of ``z`` (N,).

    Minimises :func:`coverage_loss` of :func:`interval_coverage` over ``n_steps``
    temperatures spaced evenly in ``log T`` from ``around / 4`` to ``4 * around``;
    ties go to the temperature closest to ``around``.  ``targets`` maps levels to
    tolerances (default :data:`COVERAGE_TARGETS`).
    """
    targets = COVERAGE_TARGETS if targets is None else targets
    if not around > 0 or n_steps < 2 or not targets:
        raise ValueError(f"need around > 0, n_steps >= 2 and targets, got {around}, {n_steps}")
    log_ts = math.log(around) + np.linspace(-math.log(4.0), math.log(4.0), n_steps)
    levels = list(targets)
    losses = np.array(
        [
            coverage_loss(interval_coverage(logits, edges, z, math.exp(t), levels), targets)
            for t in log_ts
        ]
    )
    best = np.flatnonzero(losses == losses.min())
    closest = best[np.argmin(np.abs(log_ts[best] - math.log(around)))]
    return math.exp(float(log_ts[closest]))


def calibrate_temperature(
    model: BinnedModel,
    x: Tensor,
    z: Tensor,
    *,
    batch_size: int = 4096,
    max_galaxies: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """Fit ``model``'s temperature on validation inputs ``x`` (N, C, pixels) and redshifts ``z``.

    First the NLL temperature on all of ``x`` (:func:`fit_temperature`), then the
    coverage temperature around it (:func:`fit_coverage_temperature`) on at most
    ``max_galaxies`` of them drawn at random with ``seed``.  Sets the coverage
    temperature on the model (it is saved with the model file), leaves the model
    in eval mode and returns ``{"temperature", "nll_temperature",
    "validation_coverage_68", "validation_coverage_95"}`` (the last two at the
    chosen temperature, on the subsample).
    """
    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        bins = model.target_bins(z.to(logits.device))
    nll_temperature = fit_temperature(logits, bins)
    generator = torch.Generator().manual_seed(seed)
    subset = torch.randperm(len(z), generator=generator)[:max_galaxies].to(logits.device)
    logits, z = logits[subset], z.to(logits.device)[subset]
    temperature = fit_coverage_temperature(logits, model.edges, z, around=nll_temperature)
    model.set_temperature(temperature)
    covered = interval_coverage(logits, model.edges, z, temperature, list(COVERAGE_TARGETS))
    return {
        "temperature": temperature,
        "nll_temperature": nll_temperature,
        "validation_coverage_68": covered[0],
        "validation_coverage_95": covered[1],
    }
