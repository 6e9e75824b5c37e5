"""Tests of model files (xpz.models.modelfile): round trip, checksums, versions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xpz.models.modelfile import (
    ModelFileError,
    load_model,
    predict_batches,
    save_model,
)
from xpz.models.paper import PaperConfig
from xpz.models.registry import build_model
from xpz.preprocess import MinMaxScaler, PerSpectrumScaler

SMALL = PaperConfig(conv_filters=(8, 4), conv_kernels=(5, 3), dense_units=(16,))


@pytest.fixture
def flux(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(1.0, 50.0, size=(30, 186)).astype(np.float32)


@pytest.fixture
def saved(tmp_path: Path, flux: np.ndarray) -> tuple[Path, torch.nn.Module, MinMaxScaler]:
    model = build_model(SMALL, seed=3)
    scaler = MinMaxScaler().fit(flux)
    path = save_model(tmp_path / "m", model, scaler, metadata={"metrics": {"val_mae": 0.02}})
    return path, model, scaler


def test_saved_directory_holds_only_safetensors_and_json(saved) -> None:
    path, model, _ = saved
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.safetensors"]
    info = json.loads((path / "model.json").read_text())
    assert info["model"] == model.config_dict()
    assert info["layout_version"] == "xpz-xp186-v1"
    assert set(info["versions"]) == {"xpz", "torch", "numpy"}
    assert len(info["weights"]["sha256"]) == 64
    assert not list(path.parent.glob(".*partial"))


def test_loaded_model_predicts_bit_identically(saved, flux: np.ndarray) -> None:
    path, model, scaler = saved
    loaded = load_model(path)
    assert not loaded.model.training
    assert loaded.metadata == {"metrics": {"val_mae": 0.02}}
    model.eval()
    with torch.inference_mode():
        expected = model(torch.from_numpy(scaler.transform(flux))[:, None, :])[:, 0].numpy()
    got = predict_batches(loaded, flux, batch_size=64)
    assert set(got) == {"z_pred"} and got["z_pred"].dtype == np.float32
    np.testing.assert_array_equal(got["z_pred"], expected)
    small_batches = predict_batches(loaded, flux, batch_size=7)["z_pred"]
    np.testing.assert_allclose(small_batches, expected, rtol=1e-5, atol=1e-6)
    assert predict_batches(loaded, flux[:0])["z_pred"].shape == (0,)


def test_inference_copy_is_made_once_and_remade_when_the_weights_change(saved, flux) -> None:
    path, _, _ = saved
    loaded = load_model(path)
    frozen = loaded.inference_model()
    assert loaded.inference_model() is frozen  # many chunks, one copy
    before = predict_batches(loaded, flux)["z_pred"]
    with torch.no_grad():
        next(loaded.model.parameters()).mul_(2.0)  # changed in place: a new copy
    assert loaded.inference_model() is not frozen
    after = predict_batches(loaded, flux)["z_pred"]
    assert not np.allclose(after, before)
    loaded.model.load_state_dict(load_model(path).model.state_dict())
    np.testing.assert_array_equal(predict_batches(loaded, flux)["z_pred"], before)


def test_overwrite_replaces_atomically(saved, flux: np.ndarray) -> None:
    path, _, scaler = saved
    other = build_model(SMALL, seed=4)
    save_model(path, other, scaler)
    loaded = load_model(path)
    assert torch.equal(
        loaded.model.state_dict()["blocks.0.0.weight"], other.state_dict()["blocks.0.0.weight"]
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["m"]


def test_tampered_weights_are_refused(saved) -> None:
    path, _, _ = saved
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("layout_version", "xpz-xp999", "pixel layout 'xpz-xp999'"),
        ("format_version", 99, "format version 99"),
        ("format", "keras", "not an xpz model file"),
    ],
)
def test_incompatible_files_are_refused(saved, key: str, value, message: str) -> None:
    path, _, _ = saved
    info = json.loads((path / "model.json").read_text())
    info[key] = value
    (path / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not an xpz model directory"):
        load_model(tmp_path)


def test_two_channel_model_needs_errors(tmp_path: Path, flux: np.ndarray) -> None:
    model = build_model(SMALL.replace(input_channels=2), seed=0)
    scaler = PerSpectrumScaler().fit(flux)
    loaded = load_model(save_model(tmp_path / "m2", model, scaler))
    assert isinstance(loaded.scaler, PerSpectrumScaler)
    with pytest.raises(ValueError, match="pass flux_error"):
        predict_batches(loaded, flux)
    out = predict_batches(loaded, flux, flux_error=flux * 0.05)
    assert out["z_pred"].shape == (30,) and np.isfinite(out["z_pred"]).all()


@pytest.mark.parametrize(
    "edit",
    [
        lambda info: info["model"].update(conv_kernels=[5, 5]),
        lambda info: info["scaler"]["data_min"].__setitem__(0, -1.0),
        lambda info: info["weights"].update(sha256="0" * 64),
        lambda info: info["integrity"].update(sha256="0" * 64),
    ],
    ids=["config", "scaler", "weights_checksum", "integrity"],
)
def test_edited_model_json_is_refused(saved, edit) -> None:
    path, _, _ = saved
    info = json.loads((path / "model.json").read_text())
    edit(info)
    (path / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelFileError, match=r"model\.json: model config checksum mismatch"):
        load_model(path)


def test_edited_z_max_of_the_default_model_is_refused(tmp_path: Path, flux: np.ndarray) -> None:
    """Issue #16 item 3: z_max 0.6 -> 0.3 in model.json shifted every prediction silently."""
    from xpz.models.xpznet import XpzNetConfig

    config = XpzNetConfig(conv_filters=(4,), conv_kernels=(3,), hidden_units=8, n_bins=20)
    path = save_model(tmp_path / "x", build_model(config, seed=0), PerSpectrumScaler().fit(flux))
    load_model(path)
    text = (path / "model.json").read_text()
    assert '"z_max": 0.6' in text
    (path / "model.json").write_text(text.replace('"z_max": 0.6', '"z_max": 0.3'))
    with pytest.raises(ModelFileError, match=str(path / "model.json")):
        load_model(path)


def test_metadata_may_be_edited(saved) -> None:
    path, _, _ = saved
    info = json.loads((path / "model.json").read_text())
    info["metadata"]["note"] = "checked by hand"
    (path / "model.json").write_text(json.dumps(info, indent=4))
    assert load_model(path).metadata["note"] == "checked by hand"


def test_model_file_from_before_integrity_loads_with_a_warning(saved, flux) -> None:
    from xpz.models.modelfile import UnverifiedModelWarning

    path, _, _ = saved
    info = json.loads((path / "model.json").read_text())
    del info["integrity"]
    (path / "model.json").write_text(json.dumps(info))
    with pytest.warns(UnverifiedModelWarning, match="re-save or retrain"):
        loaded = load_model(path)
    assert predict_batches(loaded, flux)["z_pred"].shape == (30,)


def test_weights_that_are_not_safetensors_are_a_model_file_error(saved) -> None:
    """A replaced weights file with its checksum updated is refused in one line."""
    from xpz.models.modelfile import config_sha256, sha256_of

    path, _, _ = saved
    (path / "model.safetensors").write_bytes(b"not a safetensors file at all")
    info = json.loads((path / "model.json").read_text())
    info["weights"]["sha256"] = sha256_of(path / "model.safetensors")
    info["integrity"]["sha256"] = config_sha256(info)
    (path / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelFileError, match="model.safetensors: not a readable safetensors"):
        load_model(path)


def test_incomplete_model_json_is_a_model_file_error(saved) -> None:
    from xpz.models.modelfile import config_sha256

    path, _, _ = saved
    info = json.loads((path / "model.json").read_text())
    del info["scaler"]
    info["integrity"]["sha256"] = config_sha256(info)
    (path / "model.json").write_text(json.dumps(info))
    with pytest.raises(ModelFileError, match="incomplete or invalid model file"):
        load_model(path)
