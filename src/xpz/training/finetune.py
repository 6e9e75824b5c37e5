"""Fine-tuning: start a run from a trained model of the same architecture.

:func:`load_initial` reads the initial model (safetensors + JSON, never
pickle), :func:`check_same_architecture` refuses a model config that differs
from it, :func:`start_from` copies its weights (and freezes the first
convolution blocks, if asked) into a freshly built model,
:func:`initial_provenance` is what the fine-tuned model file records about it,
and :func:`finetune_config` turns the initial model's training config into a
schedule suited to fine-tuning.  The scaler is always the initial model's: the
network's inputs must mean what they meant when it was trained.

>>> config = finetune_config(TrainConfig(epochs=12, lr=3e-3, schedule=Schedule.ONE_CYCLE))
>>> config.epochs, round(config.lr, 6), config.schedule.value
(6, 0.0003, 'cosine')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from xpz.errors import InputError
from xpz.models.base import ModelConfig, RedshiftModel
from xpz.models.modelfile import LoadedModel, load_model
from xpz.models.ood import without_ood
from xpz.training.config import Schedule, TrainConfig

__all__ = [
    "LR_FACTOR",
    "check_same_architecture",
    "finetune_config",
    "initial_provenance",
    "load_initial",
    "start_from",
]

#: Fine-tuning's learning rate is the initial training's divided by this.
LR_FACTOR = 10
#: Settings of the initial run that describe its machine, not its training.
_RUNTIME_DEFAULTS = {"num_threads": None, "device": "auto", "progress": None}


def load_initial(path: str | os.PathLike[str] | LoadedModel) -> LoadedModel:
    """The initial model at ``path`` (verified, on the CPU), or ``path`` if already loaded."""
    return path if isinstance(path, LoadedModel) else load_model(path)


def check_same_architecture(config: ModelConfig, initial: LoadedModel) -> None:
    """Refuse (:class:`InputError`) a model ``config`` other than the initial model's."""
    mine, theirs = initial.model.config, config
    if type(mine) is not type(theirs):
        raise InputError(
            f"cannot fine-tune: the initial model is a {initial.model.kind} model, "
            f"the recipe asks for a {type(theirs).__name__}",
            path=initial.path,
        )
    a, b = mine.to_dict(), theirs.to_dict()
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    if differ:
        changes = "; ".join(f"{k}: {a.get(k)!r} in the model, {b.get(k)!r} asked" for k in differ)
        raise InputError(
            f"cannot fine-tune a different architecture ({changes})", path=initial.path
        )


def start_from(model: RedshiftModel, initial: LoadedModel, freeze: int = 0) -> RedshiftModel:
    """Copy the initial model's weights (and buffers) into ``model``, freeze ``freeze`` blocks."""
    with torch.no_grad():
        # the initial model's OOD statistics are refitted after fine-tuning
        model.load_state_dict(without_ood(initial.model.state_dict()), strict=True)
    try:
        model.freeze_conv_blocks(freeze)
    except ValueError as err:
        raise InputError(f"--freeze: {err}", path=initial.path) from err
    return model


def initial_provenance(initial: LoadedModel, freeze: int = 0) -> dict[str, Any]:
    """What a fine-tuned model records about the model it started from."""
    info = initial.info
    return {
        "path": str(Path(initial.path).resolve()),
        "kind": initial.model.kind,
        "integrity_sha256": (info.get("integrity") or {}).get("sha256"),
        "weights_sha256": info["weights"]["sha256"],
        "freeze": freeze,
    }


def finetune_config(base: TrainConfig) -> TrainConfig:
    """Fine-tuning settings from the initial run's ``base``.

    The same optimizer, batch size, weight decay, loss, early stopping and seed,
    with the learning rate divided by :data:`LR_FACTOR`, half the epochs (at
    least one) and a cosine decay without warm-up (a warm-up would first move
    the trained weights away with the highest learning rate).
    """
    return base.replace(
        lr=base.lr / LR_FACTOR,
        epochs=max(1, base.epochs // 2),
        schedule=Schedule.COSINE,
        **_RUNTIME_DEFAULTS,
    )


def initial_training(initial: LoadedModel, fallback: TrainConfig) -> TrainConfig:
    """The training config stored in the initial model's file (``fallback`` if none)."""
    stored = initial.metadata.get("training")
    if not isinstance(stored, Mapping):
        return fallback
    try:
        return TrainConfig.from_dict(stored)
    except (ValueError, TypeError, KeyError):
        return fallback
