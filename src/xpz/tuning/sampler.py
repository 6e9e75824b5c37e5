"""The Optuna samplers ``xpz tune`` can use, by name (no Optuna import until one is made)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna

__all__ = ["Sampler", "make_sampler"]


class Sampler(enum.Enum):
    """How the next trial's hyperparameters are chosen."""

    #: Gaussian-process Bayesian optimisation (``optuna.samplers.GPSampler``).
    GP = "gp"
    #: Tree-structured Parzen estimator (``optuna.samplers.TPESampler``).
    TPE = "tpe"
    RANDOM = "random"


def make_sampler(kind: Sampler, seed: int, startup_trials: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler ``kind``, seeded."""
    import optuna

    if kind is Sampler.GP:
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials)
    if kind is Sampler.TPE:
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup_trials, constant_liar=True
        )
    return optuna.samplers.RandomSampler(seed=seed)
