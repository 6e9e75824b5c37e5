"""The hyperparameter search space of the dissertation's CNN (section 4.2.1).

The dissertation searched, with keras-tuner's Bayesian optimisation, "the
number of convolutional layers, the number of filters in each convolutional
layer, the kernel size of each convolutional layer, the number of dense
layers, the number of units in each dense layer, their activation functions,
the loss function, and the optimizer"; :class:`SearchSpace` holds the ranges
of all of these, plus the learning rate and (optionally) the batch size.

A trial's hyperparameters are a flat dict of plain values (:func:`suggest`
draws them from an Optuna trial).  The per-layer parameters of *every* possible
layer are always drawn (``filters_1`` ... ``filters_5``), and only the first
``conv_layers`` of them are used: a search space of fixed dimension, which the
Gaussian-process sampler needs.  :func:`recipe_from_params` turns the dict into
a :class:`~xpz.recipes.Recipe`, and raises ``ValueError`` for architectures
whose sequence shrinks below one pixel, so they are rejected before training.

>>> params = {"conv_layers": 2, "filters_1": 32, "kernel_1": 5, "filters_2": 16,
...           "kernel_2": 3, "dense_layers": 1, "units_1": 64, "activation": "elu",
...           "loss": "mae", "optimizer": "adam", "lr": 0.002}
>>> recipe = recipe_from_params(params)
>>> recipe.model.conv_filters, recipe.model.dense_units, recipe.training.optimizer.value
((32, 16), (64,), 'adam')
>>> recipe_from_params({**params, "conv_layers": 1, "kernel_1": 200})
Traceback (most recent call last):
...
ValueError: convolution layer 1 (kernel 200, pool 2) gets a sequence of length 186, which shrinks to -13; use fewer layers, smaller kernels or less pooling
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xpz.config import JsonConfig
from xpz.models.base import Activation, LossKind
from xpz.models.paper import PaperConfig
from xpz.recipes import Recipe, paper_recipe
from xpz.training.config import Optimizer

if TYPE_CHECKING:  # optuna is imported only where it is used
    import optuna

__all__ = ["SearchSpace", "recipe_from_params", "suggest"]

#: Batch sizes tried when the batch size is searched (``--tune-batch-size``).
TUNED_BATCH_SIZES = (16, 32, 64, 128)


@dataclasses.dataclass(frozen=True)
class SearchSpace(JsonConfig):
    """Ranges (inclusive) and choices of the searched hyperparameters.

    The defaults cover the dissertation's final model (Table 2: 4 convolution
    layers of 64-256 filters with kernels 2-5, 4 dense layers of 64-256 units,
    ReLU, Huber, Adamax, lr 1e-3).  With five convolution layers some kernel
    combinations shrink the 186-pixel sequence to nothing; those trials are
    rejected before training.
    """

    conv_layers: tuple[int, int] = (1, 5)
    #: Filters of each convolution layer (sampled on a log scale).
    filters: tuple[int, int] = (16, 256)
    kernel: tuple[int, int] = (2, 7)
    dense_layers: tuple[int, int] = (1, 4)
    #: Units of each dense layer (sampled on a log scale).
    units: tuple[int, int] = (16, 256)
    activations: tuple[Activation, ...] = (
        Activation.RELU,
        Activation.ELU,
        Activation.SELU,
        Activation.GELU,
        Activation.TANH,
        Activation.LEAKY_RELU,
    )
    losses: tuple[LossKind, ...] = (LossKind.HUBER, LossKind.MSE, LossKind.MAE)
    optimizers: tuple[Optimizer, ...] = (
        Optimizer.ADAM,
        Optimizer.ADAMAX,
        Optimizer.SGD,
        Optimizer.RMSPROP,
    )
    #: Learning rate (sampled on a log scale).
    lr: tuple[float, float] = (1e-4, 1e-2)
    #: Batch sizes to choose from; None: not searched (the base recipe's is used).
    batch_sizes: tuple[int, ...] | None = None
    #: Max-pooling size after every convolution (fixed, as in the dissertation).
    pool: int = 2

    def __post_init__(self) -> None:
        for name in ("conv_layers", "filters", "kernel", "dense_layers", "units", "lr"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be a range 0 < low <= high, got {(low, high)}")
        for name, kind in (
            ("activations", Activation),
            ("losses", LossKind),
            ("optimizers", Optimizer),
        ):
            choices = tuple(kind(v) for v in getattr(self, name))
            if not choices:
                raise ValueError(f"{name} needs at least one choice")
            object.__setattr__(self, name, choices)
        if self.batch_sizes is not None and (not self.batch_sizes or min(self.batch_sizes) < 1):
            raise ValueError(f"batch_sizes must be positive integers, got {self.batch_sizes}")
        if self.pool < 1:
            raise ValueError(f"pool must be >= 1, got {self.pool}")


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Draw one point of ``space`` from ``trial``: a flat dict of plain values.

    Enum choices are drawn by value (strings), so the study storage holds plain
    JSON; every layer's filters, kernel and units are drawn, used or not.
    """
    params: dict[str, Any] = {"conv_layers": trial.suggest_int("conv_layers", *space.conv_layers)}
    for i in range(1, space.conv_layers[1] + 1):
        params[f"filters_{i}"] = trial.suggest_int(f"filters_{i}", *space.filters, log=True)
        params[f"kernel_{i}"] = trial.suggest_int(f"kernel_{i}", *space.kernel)
    params["dense_layers"] = trial.suggest_int("dense_layers", *space.dense_layers)
    for i in range(1, space.dense_layers[1] + 1):
        params[f"units_{i}"] = trial.suggest_int(f"units_{i}", *space.units, log=True)
    for name, choices in (
        ("activation", space.activations),
        ("loss", space.losses),
        ("optimizer", space.optimizers),
    ):
        params[name] = trial.suggest_categorical(name, [c.value for c in choices])
    params["lr"] = trial.suggest_float("lr", *space.lr, log=True)
    if space.batch_sizes is not None:
        params["batch_size"] = trial.suggest_categorical("batch_size", list(space.batch_sizes))
    return params


def recipe_from_params(
    params: Mapping[str, Any],
    base: Recipe | None = None,
    *,
    pool: int = 2,
    name: str = "tuned",
) -> Recipe:
    """The recipe of one point of the search space, on top of ``base``.

    ``base`` (default: :func:`xpz.recipes.paper_recipe`) supplies everything not searched:
    scaling, input channels, convolution implementation, epochs, seed, batch
    size (unless ``params`` has one).  Raises ``ValueError`` when the
    architecture is invalid (e.g. the sequence shrinks below one pixel).
    """
    base = paper_recipe() if base is None else base
    if not isinstance(base.model, PaperConfig):
        raise ValueError(f"the search space is the paper CNN's; base model is {base.model}")
    n_conv, n_dense = int(params["conv_layers"]), int(params["dense_layers"])
    model = dataclasses.replace(
        base.model,
        conv_filters=tuple(int(params[f"filters_{i}"]) for i in range(1, n_conv + 1)),
        conv_kernels=tuple(int(params[f"kernel_{i}"]) for i in range(1, n_conv + 1)),
        dense_units=tuple(int(params[f"units_{i}"]) for i in range(1, n_dense + 1)),
        pool=pool,
        activation=Activation(params["activation"]),
        loss=LossKind(params["loss"]),
    )  # PaperConfig validates itself here
    training = base.training.replace(
        optimizer=Optimizer(params["optimizer"]),
        lr=float(params["lr"]),
        batch_size=int(params.get("batch_size", base.training.batch_size)),
        loss=None,  # the model's own (searched) loss
    )
    return Recipe(model, training, dict(base.scaling), name=name)
