"""Model files and training-state checkpoints: safetensors + JSON, never pickle.

A *model* is a directory::

    model.safetensors   the weights
    model.json          model config (with ``kind``), scaler state, layout
                        version, package versions, the weights' sha256, and
                        free metadata (training config, data provenance, metrics)

:func:`save_model` writes it atomically; :func:`load_model` verifies format,
layout version and checksum before building the model, and
:func:`predict_batches` runs it on raw fluxes.  A *training state* (for
resuming) is a directory with ``state.safetensors`` (weights, optimizer
tensors, random-number-generator states) and ``state.json`` (everything else).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from safetensors.torch import load_file, save_file

import xpz
from xpz.errors import XpzError
from xpz.layout import LAYOUT_VERSION
from xpz.models.base import RedshiftModel
from xpz.preprocess import Scaler, scaler_from_dict

__all__ = [
    "FORMAT_VERSION",
    "LoadedModel",
    "ModelFileError",
    "load_model",
    "load_training_state",
    "predict_batches",
    "save_model",
    "save_training_state",
]

FORMAT = "xpz-model"
#: Version of the model directory format; bump on incompatible changes.
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
MODEL_JSON = "model.json"
STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


class ModelFileError(XpzError):
    """A model or checkpoint directory is missing, damaged or incompatible."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_directory_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Let ``write`` fill a fresh temporary directory, then move it to ``target``.

    An existing ``target`` is replaced (moved aside, then deleted), so readers
    see either the old or the new complete directory, never a partial one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        write(tmp)
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _cpu_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t.detach().cpu().contiguous() for name, t in tensors.items()}


def package_versions() -> dict[str, str]:
    """Versions of the packages that produced a file."""
    return {"xpz": xpz.__version__, "torch": torch.__version__, "numpy": np.__version__}


def _write_json(path: Path, content: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, sort_keys=False) + "\n")


def save_model(
    path: str | os.PathLike[str],
    model: RedshiftModel,
    scaler: Scaler,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` (weights + config) and ``scaler`` as a model directory at ``path``.

    ``metadata`` (JSON-able) is stored as it is: by convention ``training``
    (the TrainConfig dict), ``data`` (provenance) and ``metrics``.
    """

    def write(tmp: Path) -> None:
        save_file(_cpu_tensors(model.state_dict()), str(tmp / WEIGHTS_FILE))
        _write_json(
            tmp / MODEL_JSON,
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "layout_version": LAYOUT_VERSION,
                "model": model.config_dict(),
                "scaler": scaler.to_dict(),
                "weights": {"file": WEIGHTS_FILE, "sha256": sha256_of(tmp / WEIGHTS_FILE)},
                "versions": package_versions(),
                "metadata": dict(metadata or {}),
            },
        )

    return write_directory_atomically(Path(path), write)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference (eval mode) with its scaler and stored metadata.

    :meth:`predict` and :attr:`info` are what the inference code needs from any
    runtime (:class:`xpz.export.OnnxModel` offers the same).
    """

    model: RedshiftModel
    scaler: Scaler
    metadata: Mapping[str, Any]
    path: Path

    @property
    def info(self) -> dict[str, Any]:
        """The whole ``model.json`` (config, scaler, checksum, versions, metadata)."""
        return _read_model_json(self.path)

    def predict(
        self, flux: ArrayLike, flux_error: ArrayLike | None = None, batch_size: int = 4096
    ) -> dict[str, NDArray[np.floating]]:
        """:func:`predict_batches` with this model."""
        return predict_batches(self, flux, flux_error, batch_size=batch_size)


def _read_model_json(path: Path) -> dict[str, Any]:
    file = path / MODEL_JSON
    if not file.is_file():
        raise ModelFileError(f"{path}: not an xpz model directory (no {MODEL_JSON})")
    try:
        info = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{file}: not valid JSON ({err})") from err
    if info.get("format") != FORMAT:
        raise ModelFileError(f"{file}: not an xpz model file (format {info.get('format')!r})")
    if info.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{file}: model format version {info.get('format_version')} is not supported "
            f"by this xpz ({FORMAT_VERSION}); use a matching xpz version"
        )
    if info.get("layout_version") != LAYOUT_VERSION:
        raise ModelFileError(
            f"{file}: model was trained on pixel layout {info.get('layout_version')!r}, "
            f"this xpz uses {LAYOUT_VERSION!r}"
        )
    return info


def _verified_weights(file: Path, sha256: str) -> dict[str, torch.Tensor]:
    if not file.is_file():
        raise ModelFileError(f"{file}: weights file is missing")
    actual = sha256_of(file)
    if actual != sha256:
        raise ModelFileError(
            f"{file}: checksum mismatch (file is damaged or was changed): "
            f"expected sha256 {sha256}, got {actual}"
        )
    return load_file(str(file))


def load_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model directory written by :func:`save_model`, verified, in eval mode."""
    # imported here: the registry's presets import xpz.training, which imports this module
    from xpz.models.registry import build_model

    path = Path(path)
    info = _read_model_json(path)
    weights = _verified_weights(path / info["weights"]["file"], info["weights"]["sha256"])
    model = build_model(info["model"])
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise ModelFileError(f"{path}: weights do not fit the stored model config: {err}") from err
    model.to(device).eval()
    return LoadedModel(model, scaler_from_dict(info["scaler"]), info["metadata"], path)


def model_inputs(
    scaler: Scaler, flux: ArrayLike, flux_error: ArrayLike | None, input_channels: int
) -> NDArray[np.float32]:
    """Scaled network inputs (N, C, pixels) float32 from raw fluxes (and errors)."""
    flux = np.asarray(flux)
    channels = [scaler.transform(flux)]
    if input_channels == 2:
        if flux_error is None:
            raise ValueError("this model uses flux errors; pass flux_error")
        channels.append(scaler.transform_error(flux, flux_error))
    return np.stack(channels, axis=1).astype(np.float32, copy=False)


def predict_batches(
    loaded: LoadedModel,
    flux: ArrayLike,
    flux_error: ArrayLike | None = None,
    batch_size: int = 4096,
) -> dict[str, NDArray[np.floating]]:
    """Scale ``flux`` (N, 186) e-/s, run the model, return ``summarize()`` outputs as numpy.

    Rows with non-finite fluxes give NaN estimates (rows never affect each other).
    """
    model = loaded.model.for_inference()  # a fresh copy: later changes to loaded.model count
    device = next(model.parameters()).device
    x = model_inputs(loaded.scaler, flux, flux_error, model.input_channels)
    parts: dict[str, list[NDArray]] = {}
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(x[start : start + batch_size]).to(device)
            for name, value in model.summarize(model(batch)).items():
                parts.setdefault(name, []).append(value.float().cpu().numpy())
    if not parts:  # no rows: run on an empty batch for the output names
        with torch.inference_mode():
            empty = model.summarize(model(model.example_input(1).to(device)))
        return {name: np.empty((0, *v.shape[1:]), np.float32) for name, v in empty.items()}
    return {name: np.concatenate(values) for name, values in parts.items()}


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
        save_file(_cpu_tensors(tensors), str(tmp / STATE_TENSORS))
        _write_json(
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
    tensors = _verified_weights(path / STATE_TENSORS, info["sha256"])
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(_optimizer_state(tensors, info["optimizer"]))
    if scheduler is not None:
        scheduler.load_state_dict(info["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.shuffle"])
    return info["loop"]
