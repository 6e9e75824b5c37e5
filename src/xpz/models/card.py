"""The model card of a model file: what ``xpz info MODEL`` prints.

:func:`model_card` gathers, from ``model.json`` and the weights, the kind and
architecture, parameters and multiply-adds per spectrum, the input scaling,
the training data's provenance (simulator, its version and config, number of
spectra, seeds), the test metrics, the calibration, the OOD statistics and the
redshift range; :func:`format_card` renders it as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xpz.models.modelfile import LoadedModel
from xpz.models.paper import PaperConfig
from xpz.models.xpznet import XpzNetConfig, multiply_adds

__all__ = ["NEVER_SEEN_REAL", "NO_OOD", "format_card", "model_card"]

#: What the card says of a model trained on simulated spectra only.
NEVER_SEEN_REAL = (
    "This model was trained on simulated spectra only: it has never seen real Gaia spectra."
)
#: What the card says of a model file without OOD statistics.
NO_OOD = (
    "none (saved by an xpz before OOD statistics): ood_score is NaN and "
    "OUT_OF_DISTRIBUTION is never set; retrain to get them"
)
#: Test metrics the text card shows (all are in --json).
_SHOWN_METRICS = ("n_test", "mae", "sigma_nmad", "outlier_frac_015", "bias")


def _multiply_adds(config: Any) -> int | None:
    return multiply_adds(config) if isinstance(config, XpzNetConfig | PaperConfig) else None


def _simulated_only(data: Mapping[str, Any]) -> bool:
    return bool(data.get("simulator"))


def model_card(loaded: LoadedModel) -> dict[str, Any]:
    """The model card of ``loaded`` as a JSON-able dict (see module docs)."""
    info = loaded.info
    metadata = info.get("metadata", {})
    data = metadata.get("data", {})
    model = loaded.model
    card: dict[str, Any] = {
        "path": str(loaded.path),
        "kind": model.kind,
        "architecture": info["model"],
        "parameters": model.num_parameters(),
        "multiply_adds_per_spectrum": _multiply_adds(model.config),
        "input_channels": model.input_channels,
        "input_scaling": info["scaler"].get("scaling"),
        "scaler": {k: v for k, v in info["scaler"].items() if not isinstance(v, list)},
        "z_range": list(loaded.z_range),
        "training_data": data,
        "training": metadata.get("training", {}),
        "test_metrics": metadata.get("test_metrics"),
        "calibration": metadata.get("calibration"),
        "ood": metadata.get("ood") if loaded.has_ood else None,
        "simulated_only": _simulated_only(data),
        "versions": info.get("versions", {}),
        "weights_sha256": info["weights"]["sha256"],
    }
    if "init" in metadata:
        card["fine_tuned_from"] = metadata["init"]
    return card


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _data_lines(data: Mapping[str, Any]) -> list[str]:
    if not data:
        return ["  (no provenance recorded)"]
    lines = [
        f"  {key}: {_fmt(data[key])}"
        for key in ("simulator", "training_data", "n_spectra", "seed", "split_seed")
        if key in data
    ]
    split = [f"{data[k]} {k[2:]}" for k in ("n_train", "n_validation", "n_test") if k in data]
    if split:
        lines.append(f"  split: {', '.join(split)}")
    config = data.get("config")
    if isinstance(config, Mapping):
        shown = {k: v for k, v in config.items() if not isinstance(v, Mapping)}
        lines.append(f"  simulator config: {shown}")
    return lines


def _ood_lines(ood: Mapping[str, Any] | None) -> list[str]:
    if ood is None:
        return [f"  {NO_OOD}"]
    return [
        f"  method: {ood.get('method')}; flag OUT_OF_DISTRIBUTION when ood_score > "
        f"{_fmt(ood.get('threshold'))}",
        f"  false-positive rate on validation: {_fmt(ood.get('false_positive_rate'))} "
        f"({ood.get('validation_samples')} validation, {ood.get('fit_samples')} training "
        "spectra fitted)",
    ]


def format_card(card: Mapping[str, Any]) -> str:
    """The card as text, one section per topic."""
    arch = {k: v for k, v in card["architecture"].items() if k != "kind"}
    macs = card["multiply_adds_per_spectrum"]
    lines = [
        f"model: {card['path']}",
        f"kind: {card['kind']}",
        f"architecture: {arch}",
        f"parameters: {card['parameters']:,}"
        + (f"; multiply-adds per spectrum: {macs:,}" if macs else ""),
        f"input: {card['input_channels']} channel(s); scaling {card['scaler']}",
        f"redshift range: {card['z_range'][0]:g} .. {card['z_range'][1]:g}",
        "training data:",
        *_data_lines(card["training_data"]),
    ]
    metrics = card.get("test_metrics")
    if metrics:
        shown = ", ".join(f"{k} {_fmt(metrics[k])}" for k in _SHOWN_METRICS if k in metrics)
        lines.append(f"test metrics: {shown}")
    else:
        lines.append("test metrics: none recorded")
    calibration = card.get("calibration")
    if calibration:
        lines.append("calibration: " + ", ".join(f"{k} {_fmt(v)}" for k, v in calibration.items()))
    else:
        lines.append("calibration: none (point-estimate model or not calibrated)")
    lines += ["out-of-distribution score:", *_ood_lines(card.get("ood"))]
    lines.append(f"versions: {card['versions']}; weights sha256 {card['weights_sha256'][:16]}...")
    if card.get("simulated_only"):
        lines.append(NEVER_SEEN_REAL)
    return "\n".join(lines)
