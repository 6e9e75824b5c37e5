"""Recipes: what to train (model config, training config, input scaling), and the presets.

A :class:`Recipe` is the one description of a training job; the presets
``paper`` (the dissertation's CNN trained as in the dissertation) and ``xpz``
(xpz's default network) are recipes, and ``xpz tune`` writes the best recipe it
found as a JSON file that ``xpz train --config`` reads back.
:func:`prepare_training_data` is the one split -> scale -> tensors step, shared
by :func:`xpz.pipeline.run_training` and :func:`xpz.tuning.search.tune`.

>>> sorted(PRESETS)
['paper', 'xpz']
>>> recipe = Recipe.from_preset("paper")
>>> Recipe.from_dict(recipe.to_dict()) == recipe
True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from xpz.errors import InputError
from xpz.io.atomic import atomic_path
from xpz.models.base import ModelConfig
from xpz.models.ensemble import XpzEnsembleConfig
from xpz.models.modelfile import LoadedModel
from xpz.models.paper import PaperConfig
from xpz.models.registry import config_kind, model_config_from_dict
from xpz.models.xpznet import XpzNetConfig
from xpz.preprocess import Scaler, Scaling, SpectrumNorm, make_scaler
from xpz.spectra import Spectra
from xpz.split import Split, split_indices
from xpz.training.config import Optimizer, Schedule, TrainConfig
from xpz.training.data import TrainingData, make_training_data
from xpz.training.finetune import finetune_config, initial_training

__all__ = [
    "PRESETS",
    "Recipe",
    "finetune_recipe",
    "get_preset",
    "paper_recipe",
    "prepare_training_data",
    "xpz_recipe",
]

_RECIPE_FIELDS = ("name", "model", "training", "scaling")


def _minmax() -> dict[str, Any]:
    return {"scaling": Scaling.MINMAX.value}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What to train: a model config, a training config and the input scaling."""

    model: ModelConfig
    training: TrainConfig
    #: Scaler spec: ``{"scaling": <xpz.preprocess.Scaling value>, **constructor options}``.
    scaling: Mapping[str, Any] = dataclasses.field(default_factory=_minmax)
    name: str = "custom"
    #: One line for people (not stored in recipe files, not compared).
    description: str = dataclasses.field(default="", compare=False)

    @classmethod
    def from_preset(cls, name: str) -> Recipe:
        """The recipe of preset ``name`` (``paper`` or ``xpz``), with its own scaling dict."""
        preset = get_preset(name)
        return dataclasses.replace(preset, scaling=dict(preset.scaling))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the model config includes its ``kind``)."""
        return {
            "name": self.name,
            "model": {"kind": config_kind(self.model), **self.model.to_dict()},
            "training": self.training.to_dict(),
            "scaling": dict(self.scaling),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Inverse of :meth:`to_dict`."""
        unknown = set(data) - set(_RECIPE_FIELDS)
        if unknown:
            raise ValueError(f"unknown recipe field(s): {sorted(unknown)}")
        return cls(
            model=model_config_from_dict(data["model"]),
            training=TrainConfig.from_dict(data.get("training", {})),
            scaling=dict(data.get("scaling", _minmax())),
            name=str(data.get("name", "custom")),
        )

    def save(self, path: str | Path) -> Path:
        """Write the recipe as JSON (atomically)."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Read a recipe written by :meth:`save` (or by ``xpz tune``)."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"not a valid xpz recipe: {err}", path=path) from err

    def make_scaler(self) -> Scaler:
        """A fresh, unfitted scaler as :attr:`scaling` says."""
        options = {k: v for k, v in self.scaling.items() if k != "scaling"}
        return make_scaler(self.scaling["scaling"], **options)


def paper_recipe() -> Recipe:
    """The dissertation's model and training (Table 2; Adamax, batch 16, 20 epochs)."""
    return Recipe(
        PaperConfig(),
        TrainConfig(),
        _minmax(),
        name="paper",
        description=(
            "the dissertation's Table 2 CNN on min-max scaled fluxes; Adamax lr 1e-3, "
            "Huber loss, batch 16, 20 epochs"
        ),
    )


def xpz_recipe(members: int = 2) -> Recipe:
    """The ``xpz`` preset: an ensemble of two :class:`~xpz.models.xpznet.XpzNet` on normalised flux.

    An :class:`~xpz.models.ensemble.XpzEnsemble` of ``members`` networks
    (PDFs averaged, one temperature; ``members=1``: one XpzNet, the preset
    before the randomised training mixture).  Two members cost twice one
    network's ~1 million multiply-adds, 0.06 of the paper CNN's, and keep the
    model file under 2 MB; their disagreement widens the PDFs on spectra unlike
    the training set (``docs/robustness.md``).

    Inputs: ``Scaling.PER_SPECTRUM`` with ``norm=SpectrumNorm.L2, minmax=False``
    (the L2 norm is positive for every spectrum, unlike the median), one
    channel, so that tables of sampled fluxes without errors (the dissertation's
    Table 1 layout) can be used.  The loss is tilted towards rare redshifts
    (``prior_flattening=0.5``): on the simulated benchmark this cut the
    catastrophic outliers, mostly in the sparse z > 0.45 tail, from 39 to 29 of
    54,000 validation galaxies (``docs/accuracy.md``).  Trained with one-cycle Adam.
    """
    network = XpzNetConfig(input_channels=1, n_bins=600, prior_flattening=0.5)
    model = (
        network
        if members == 1
        else XpzEnsembleConfig(members=members, **dataclasses.asdict(network))
    )
    return Recipe(
        model=model,
        training=TrainConfig(
            epochs=12,
            batch_size=256,
            optimizer=Optimizer.ADAM,
            lr=3e-3,
            weight_decay=1e-5,
            schedule=Schedule.ONE_CYCLE,
            eval_batch_size=4096,
        ),
        scaling={
            "scaling": Scaling.PER_SPECTRUM.value,
            "norm": SpectrumNorm.L2.value,
            "minmax": False,
        },
        name="xpz",
        description=(
            f"{members} small CNN(s) with a softmax over 600 redshift bins on [0, 0.6], PDFs averaged "
            "(median, quantiles, PDF); "
            "per-spectrum L2-normalised flux; cross-entropy weighted by (training density)^-0.5; "
            "Adam lr 3e-3 one-cycle, batch 256, 12 epochs; "
            "softmax temperature calibrated on the validation set to the 68% and 95% coverage"
        ),
    )


#: The named recipes, by name.
PRESETS: Mapping[str, Recipe] = MappingProxyType(
    {recipe.name: recipe for recipe in (paper_recipe(), xpz_recipe())}
)


def get_preset(name: str) -> Recipe:
    """The preset called ``name``, or a ValueError listing the known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def finetune_recipe(initial: LoadedModel) -> Recipe:
    """The recipe to fine-tune ``initial``: its model config, a fine-tuning schedule.

    The training config is :func:`xpz.training.finetune.finetune_config` of the
    one stored in the initial model's file (of its kind's preset if none).  The
    scaling is the preset's; fine-tuning uses the initial model's fitted scaler.
    """
    kind = initial.model.kind
    preset = next((p for p in PRESETS.values() if config_kind(p.model) == kind), xpz_recipe())
    training = finetune_config(initial_training(initial, preset.training))
    return Recipe(
        initial.model.config,
        training,
        dict(preset.scaling),
        name=f"finetune-{kind}",
        description=f"fine-tuning of {initial.path}",
    )


def prepare_training_data(
    spectra: Spectra,
    recipe: Recipe,
    *,
    split_seed: int = 0,
    stratify: bool = False,
    max_train_rows: int | None = None,
    provenance: Mapping[str, Any] | None = None,
    scaler: Scaler | None = None,
) -> tuple[Split, TrainingData]:
    """Split ``spectra`` 63/27/10, fit the recipe's scaler on the training rows, scale.

    ``stratify`` stratifies the split by redshift bin; ``max_train_rows`` keeps
    at most that many (seeded, random) training rows.  A fitted ``scaler``
    (fine-tuning: the initial model's) is used as it is, instead of the recipe's.
    Returns the split (its test rows are for evaluation) and the scaled
    training and validation data.
    """
    z = spectra.require_z("training spectra")
    split = split_indices(len(z), seed=split_seed, stratify_z=z if stratify else None)
    if max_train_rows is not None and len(split.train) > max_train_rows:
        rng = np.random.default_rng(split_seed)
        train_rows = np.sort(rng.choice(split.train, max_train_rows, replace=False))
        split = Split(train_rows, split.validation, split.test)
    if scaler is None:
        scaler = recipe.make_scaler().fit(spectra.flux[split.train])
    data = make_training_data(
        spectra,
        split,
        scaler,
        input_channels=recipe.model.input_channels,
        provenance=provenance,
    )
    return split, data
