"""Training-state checkpoints, for resuming: safetensors + JSON, never pickle.

A *training state* is a directory with ``state.safetensors`` (weights,
optimizer tensors, random-number-generator states) and ``state.json``
(everything else), written atomically; :func:`load_training_state` verifies
its checksum and that it was saved for the same model config.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from xpz.io.atomic import write_directory_atomically
from xpz.models.base import RedshiftModel
from xpz.models.modelfile import (
    FORMAT_VERSION,
    ModelFileError,
    cpu_tensors,
    package_versions,
    sha256_of,
    verified_tensors,
    write_json,
)

__all__ = ["STATE_JSON", "STATE_TENSORS", "load_training_state", "save_training_state"]

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


def _optimizer_tensors(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors and JSON-able rest."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: Mapping[str, torch.Tensor], saved: Mapping[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in saved["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": saved["param_groups"]}


def save_training_state(
    path: str | os.PathLike[str],
    *,
    model: RedshiftModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    generator: torch.Generator,
    state: Mapping[str, Any],
) -> Path:
    """Write everything needed to resume training exactly (atomically) to ``path``.

    ``state`` holds the loop's own JSON-able state (epoch, history, early stopping).
    """
    opt_tensors, opt_rest = _optimizer_tensors(optimizer)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= opt_tensors
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.shuffle"] = generator.get_state()

    def write(tmp: Path) -> None:
        save_file(cpu_tensors(tensors), str(tmp / STATE_TENSORS))
        write_json(
            tmp / STATE_JSON,
            {
                "format": "xpz-training-state",
                "format_version": FORMAT_VERSION,
                "model": model.config_dict(),
                "optimizer": opt_rest,
                "scheduler": None if scheduler is None else scheduler.state_dict(),
                "loop": dict(state),
                "sha256": sha256_of(tmp / STATE_TENSORS),
                "versions": package_versions(),
            },
        )

    return write_directory_atomically(Path(path), write)


def load_training_state(
    path: str | os.PathLike[str],
    *,
    model: RedshiftModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and RNG states from ``path``; return the loop state."""
    path = Path(path)
    file = path / STATE_JSON
    if not file.is_file():
        raise ModelFileError(f"{path}: no training state to resume from (no {STATE_JSON})")
    info = json.loads(file.read_text())
    if info.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{file}: unsupported training-state version {info.get('format_version')}"
        )
    saved = {k: v for k, v in info["model"].items() if k != "kind"}
    try:  # compared as configs: a field added later (with its default) is no change
        same = info["model"].get("kind") == model.kind and (
            model.config_class.from_dict(saved) == model.config
        )
    except (TypeError, ValueError):
        same = False
    if not same:
        raise ModelFileError(f"{file}: saved for a different model config: {info['model']}")
    tensors = verified_tensors(path / STATE_TENSORS, info["sha256"])
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(_optimizer_state(tensors, info["optimizer"]))
    if scheduler is not None:
        scheduler.load_state_dict(info["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.shuffle"])
    return info["loop"]
