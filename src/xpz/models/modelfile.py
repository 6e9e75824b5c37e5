"""The model file format: safetensors + JSON, never pickle.

A *model* is a directory::

    model.safetensors   the weights
    model.json          model config (with ``kind``), scaler state, layout
                        version, package versions, the weights' sha256, the
                        sha256 of everything that changes predictions
                        (``integrity``), and free metadata (training config,
                        data provenance, metrics)

:func:`save_model` writes it atomically; :func:`load_model` verifies format,
layout version and both checksums before building the model, and
:func:`predict_batches` runs it on raw fluxes.  Training states (for resuming)
are written by :mod:`xpz.training.state` with the helpers here.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import xpz
from xpz.errors import XpzError
from xpz.io.atomic import atomic_path, write_directory_atomically
from xpz.layout import LAYOUT_VERSION
from xpz.models.base import RedshiftModel
from xpz.models.ood import OodStatistics, attach_ood, ood_statistics, split_ood_tensors
from xpz.models.registry import build_model
from xpz.models.shipped import resolve_model
from xpz.preprocess import Scaler, scaler_from_dict

__all__ = [
    "FORMAT_VERSION",
    "LoadedModel",
    "ModelFileError",
    "UnverifiedModelWarning",
    "add_metadata",
    "config_sha256",
    "load_model",
    "model_inputs",
    "predict_batches",
    "save_model",
    "sha256_of",
]

FORMAT = "xpz-model"
#: Version of the model directory format; bump on incompatible changes.
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
MODEL_JSON = "model.json"
#: The parts of ``model.json`` that change predictions, covered by its ``integrity``
#: checksum: the config (architecture, redshift range and grid), the scaler, the
#: layout and the weights' checksum (which covers the weights and the fitted
#: softmax temperature, a buffer).  ``metadata`` and ``versions`` are not covered.
COVERED = ("format", "format_version", "layout_version", "model", "scaler", "weights")


class ModelFileError(XpzError):
    """A model or training-state directory is missing, damaged or incompatible."""


class UnverifiedModelWarning(UserWarning):
    """A model file from an xpz before ``integrity`` checksums: its config is not verified."""


def config_sha256(info: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON of the :data:`COVERED` parts of ``info`` (model.json)."""
    covered = {key: info.get(key) for key in COVERED}
    text = json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def verify_model_json(info: Mapping[str, Any], where: str | os.PathLike[str]) -> None:
    """Refuse ``info`` (model.json from ``where``) if its covered parts were changed.

    A model.json without ``integrity`` (written by xpz before it existed) is
    accepted with an :class:`UnverifiedModelWarning`: such files exist from
    earlier runs and their weights are still verified; re-save the model
    (``save_model``) to protect its config too.
    """
    integrity = info.get("integrity")
    if integrity is None:
        warnings.warn(
            f"{where}: model file has no integrity checksum (written by an older xpz); "
            "its config and scaler are not verified; re-save or retrain it with this xpz",
            UnverifiedModelWarning,
            stacklevel=3,
        )
        return
    expected = integrity.get("sha256") if isinstance(integrity, Mapping) else None
    if expected != config_sha256(info):
        raise ModelFileError(
            f"{where}: model config checksum mismatch (config, scaler, layout or weights "
            "checksum were changed after saving); re-save the model with xpz instead of "
            "editing model.json"
        )


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cpu_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t.detach().cpu().contiguous() for name, t in tensors.items()}


def package_versions() -> dict[str, str]:
    """Versions of the packages that produced a file."""
    return {"xpz": xpz.__version__, "torch": torch.__version__, "numpy": np.__version__}


def write_json(path: Path, content: Mapping[str, Any]) -> None:
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
        save_file(cpu_tensors(model.state_dict()), str(tmp / WEIGHTS_FILE))
        info: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "layout_version": LAYOUT_VERSION,
            "model": model.config_dict(),
            "scaler": scaler.to_dict(),
            "weights": {"file": WEIGHTS_FILE, "sha256": sha256_of(tmp / WEIGHTS_FILE)},
        }
        info = json.loads(json.dumps(info))  # the digest is of what loading will see
        info["integrity"] = {"covers": list(COVERED), "sha256": config_sha256(info)}
        info["versions"] = package_versions()
        info["metadata"] = dict(metadata or {})
        write_json(tmp / MODEL_JSON, info)

    return write_directory_atomically(Path(path), write)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference (eval mode) with its scaler and stored metadata.

    :meth:`predict`, :attr:`z_range` and :attr:`info` are what the inference code needs from any
    runtime (:class:`xpz.export.OnnxModel` offers the same).
    """

    model: RedshiftModel
    scaler: Scaler
    metadata: Mapping[str, Any]
    path: Path
    #: ``[state key, frozen copy]`` of :meth:`inference_model` (not part of the value).
    _inference: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    def inference_model(self) -> RedshiftModel:
        """:meth:`~xpz.models.base.RedshiftModel.for_inference` of :attr:`model`, made once.

        The frozen copy is remade when a tensor of :attr:`model` changes (training
        on, loading weights, moving devices, attaching OOD statistics), so later
        changes to the model count, and a model read in many chunks is copied
        and folded once, not once per chunk.
        """
        key = _state_key(self.model)
        if key is None or not self._inference or self._inference[0] != key:
            self._inference[:] = [key, self.model.for_inference()]
        frozen: RedshiftModel = self._inference[1]
        return frozen

    @property
    def input_channels(self) -> int:
        """1: the network reads fluxes; 2: fluxes and their errors."""
        return int(self.model.input_channels)

    @property
    def z_range(self) -> tuple[float, float]:
        """The redshifts the model predicts (from its config)."""
        return self.model.z_range

    @property
    def has_ood(self) -> bool:
        """True when the model file holds OOD statistics (``ood_score`` and its flag)."""
        return ood_statistics(self.model) is not None

    @property
    def info(self) -> dict[str, Any]:
        """The whole ``model.json`` (config, scaler, checksum, versions, metadata)."""
        return _read_model_json(self.path)

    def predict(
        self,
        flux: ArrayLike,
        flux_error: ArrayLike | None = None,
        batch_size: int = 4096,
        *,
        pdf: bool = True,
    ) -> dict[str, NDArray[np.floating]]:
        """:func:`predict_batches` with this model."""
        return predict_batches(self, flux, flux_error, batch_size=batch_size, pdf=pdf)


def _state_key(model: torch.nn.Module) -> tuple[tuple[str, int, int, str], ...] | None:
    """What identifies ``model``'s tensors now: name, storage, in-place version, device.

    None for tensors made in inference mode, which keep no version counter.
    """
    try:
        return tuple(
            (name, t.data_ptr(), t._version, str(t.device))
            for name, t in model.state_dict(keep_vars=True).items()
        )
    except RuntimeError:
        return None


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
    verify_model_json(info, file)
    return info


def verified_tensors(file: Path, sha256: str) -> dict[str, torch.Tensor]:
    if not file.is_file():
        raise ModelFileError(f"{file}: weights file is missing")
    actual = sha256_of(file)
    if actual != sha256:
        raise ModelFileError(
            f"{file}: checksum mismatch (file is damaged or was changed): "
            f"expected sha256 {sha256}, got {actual}"
        )
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(f"{file}: not a readable safetensors file ({err})") from err


def load_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model directory written by :func:`save_model`, verified, in eval mode.

    ``path`` may name a shipped model (``"default"``, :mod:`xpz.models.shipped`).
    """
    path = resolve_model(path)
    info = _read_model_json(path)
    try:
        weights = verified_tensors(path / info["weights"]["file"], info["weights"]["sha256"])
        model = build_model(info["model"])
        scaler = scaler_from_dict(info["scaler"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(
            f"{path / MODEL_JSON}: incomplete or invalid model file ({err!r})"
        ) from err
    weights, ood = split_ood_tensors(weights)
    try:
        model.load_state_dict(weights, strict=True)
        stats = OodStatistics(ood) if ood else None
    except (RuntimeError, ValueError) as err:
        raise ModelFileError(f"{path}: weights do not fit the stored model config: {err}") from err
    attach_ood(model, stats)
    model.to(device).eval()
    return LoadedModel(model, scaler, info.get("metadata", {}), path)


def add_metadata(path: str | os.PathLike[str], entries: Mapping[str, Any]) -> None:
    """Add ``entries`` to ``metadata`` of the model at ``path`` (e.g. test metrics), atomically.

    ``metadata`` is not covered by the integrity checksum: nothing that changes
    predictions can be changed this way.
    """
    file = Path(path) / MODEL_JSON
    info = _read_model_json(Path(path))
    info["metadata"] = {**info.get("metadata", {}), **json.loads(json.dumps(dict(entries)))}
    with atomic_path(file) as tmp:
        write_json(tmp, info)


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
    *,
    pdf: bool = True,
) -> dict[str, NDArray[np.floating]]:
    """Scale ``flux`` (N, 186) e-/s, run the model, return ``summarize()`` outputs as numpy.

    Rows with non-finite fluxes give NaN estimates (rows never affect each other).
    A model with OOD statistics (:mod:`xpz.models.ood`) adds ``ood_score``.
    ``pdf=False`` leaves out the gridded ``pdf`` (N, K) of distributional
    models, the largest output by far, when only its summaries are wanted.
    """
    model = loaded.inference_model()
    device = next(model.parameters()).device
    x = model_inputs(loaded.scaler, flux, flux_error, model.input_channels)
    parts: dict[str, list[NDArray]] = {}
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(x[start : start + batch_size]).to(device)
            for name, value in _run(model, batch).items():
                if pdf or name != "pdf":
                    parts.setdefault(name, []).append(value.float().cpu().numpy())
    if not parts:  # no rows: run on an empty batch for the output names
        with torch.inference_mode():
            empty = _run(model, model.example_input(1).to(device))
        return {
            name: np.empty((0, *v.shape[1:]), np.float32)
            for name, v in empty.items()
            if pdf or name != "pdf"
        }
    return {name: np.concatenate(values) for name, values in parts.items()}


def _run(model: RedshiftModel, batch: torch.Tensor) -> dict[str, torch.Tensor]:
    """``summarize()`` of one batch, plus ``ood_score`` if the model has OOD statistics."""
    stats = ood_statistics(model)
    if stats is None:
        return model.summarize(model(batch))
    output, embedding = model.forward_with_embedding(batch)
    return {**model.summarize(output), "ood_score": stats(batch, embedding)}
