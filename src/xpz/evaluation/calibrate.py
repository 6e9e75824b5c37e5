"""Post-hoc calibration of redshift PDFs: temperature scaling on the validation set.

A network trained with cross-entropy is often over- or under-confident: its
intervals cover fewer or more galaxies than their nominal level.  Temperature
scaling (Guo et al. 2017) divides the logits by one number ``T`` before the
softmax: ``T > 1`` widens every PDF, ``T < 1`` sharpens it, and the ranking of
the bins (hence, nearly, the median) is unchanged.  ``T`` is chosen to minimise
the mean negative log-likelihood of the true redshift bins of the *validation*
galaxies, which the network did not train on; the test set stays untouched.

>>> logits = torch.tensor([[4.0, 0.0], [4.0, 0.0], [4.0, 0.0]])
>>> bins = torch.tensor([0, 0, 1])  # bin 0 is right 2 times in 3
>>> round(fit_temperature(logits, bins), 2)  # softmax(4 / T) = 2/3 at T = 4 / ln 2
5.77
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from scipy.optimize import minimize_scalar
from torch import Tensor

__all__ = ["BinnedModel", "calibrate_temperature", "fit_temperature", "mean_nll"]


class BinnedModel(Protocol):
    """A network whose output are logits over redshift bins (e.g. :class:`~xpz.models.xpznet.XpzNet`)."""

    def __call__(self, x: Tensor) -> Tensor: ...
    def eval(self) -> object: ...
    def target_bins(self, z: Tensor) -> Tensor: ...
    def set_temperature(self, temperature: float) -> None: ...


#: Temperatures searched lie in [1 / _T_RANGE, _T_RANGE].
_T_RANGE = 20.0


def mean_nll(logits: Tensor, bins: Tensor, temperature: float) -> float:
    """Mean negative log-likelihood of the true ``bins`` (N,) under ``softmax(logits / T)``."""
    return float(torch.nn.functional.cross_entropy(logits.double() / temperature, bins))


def fit_temperature(logits: Tensor, bins: Tensor) -> float:
    """The temperature minimising :func:`mean_nll` of ``logits`` (N, K) for the true ``bins`` (N,).

    Searched on ``log T`` in ``[-ln 20, ln 20]`` (bounded Brent's method).
    """
    if logits.dim() != 2 or bins.shape != (logits.shape[0],) or len(bins) == 0:
        raise ValueError(f"need logits (N, K) and bins (N,), got {logits.shape}, {bins.shape}")
    logits = logits.detach().double()
    bound = math.log(_T_RANGE)
    result = minimize_scalar(
        lambda log_t: mean_nll(logits, bins, math.exp(log_t)),
        bounds=(-bound, bound),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return math.exp(float(result.x))


def calibrate_temperature(
    model: BinnedModel, x: Tensor, z: Tensor, *, batch_size: int = 4096
) -> float:
    """Fit ``model``'s temperature on validation inputs ``x`` (N, C, pixels) and redshifts ``z``.

    Sets the temperature on the model (it is saved with the model file) and
    returns it.  The model is left in eval mode.
    """
    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        bins = model.target_bins(z.to(logits.device))
    temperature = fit_temperature(logits, bins)
    model.set_temperature(temperature)
    return temperature
