"""The OOD score and flag: fitted in training for every model kind, saved, used by every runtime."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xpz import inference
from xpz.spectra import Flag, Spectra

OOD = np.uint32(Flag.OUT_OF_DISTRIBUTION)


def _tiny_recipe(kind: str):
    from xpz.models.paper import PaperConfig
    from xpz.models.xpznet import XpzNetConfig
    from xpz.recipes import get_preset

    if kind == "xpznet":
        recipe = get_preset("xpz")
        model = XpzNetConfig(conv_filters=(8, 16), conv_kernels=(5, 3), hidden_units=32, n_bins=60)
        training = recipe.training.replace(epochs=2, progress=False)
    else:
        recipe = get_preset("paper")
        model = PaperConfig(conv_filters=(8, 8), conv_kernels=(5, 3), dense_units=(32, 16))
        training = recipe.training.replace(epochs=2, batch_size=64, progress=False)
    return dataclasses.replace(recipe, model=model, training=training)


@pytest.fixture(scope="module", params=["xpznet", "paper"])
def trained(request, tmp_path_factory) -> Path:
    """A model of each kind trained tiny through run_training (which fits the OOD statistics)."""
    from xpz.pipeline import run_training
    from xpz.simulate import simulate

    run = tmp_path_factory.mktemp(request.param) / "run"
    return run_training(simulate(3000, seed=0), _tiny_recipe(request.param), run).model_dir


@pytest.fixture(scope="module")
def in_distribution() -> Spectra:
    from xpz.simulate import simulate

    return simulate(3000, seed=7)


@pytest.fixture(scope="module")
def shifted() -> Spectra:
    """Four times the simulator's noise (smooth colour changes, a tilt or reddening, look
    like other galaxies to these models: see docs/ood.md)."""
    from xpz.simulate import simulate
    from xpz.simulate.config import SimulationConfig

    return simulate(3000, seed=8, config=SimulationConfig(noise_scale=4.0))


def test_model_file_holds_ood_tensors_and_scalars(trained):
    from safetensors.torch import load_file

    tensors = load_file(str(trained / "model.safetensors"))
    assert {"ood.mean", "ood.whitening", "ood.input_basis", "ood.scale"} <= set(tensors)
    ood = json.loads((trained / "model.json").read_text())["metadata"]["ood"]
    assert ood["threshold"] == 1.0 and ood["false_positive_rate"] == 0.01
    assert ood["method"] == "combined"


def test_flag_is_quiet_in_distribution_and_fires_on_shifted_data(trained, in_distribution, shifted):
    quiet = inference.predict(trained, in_distribution)
    loud = inference.predict(trained, shifted)
    assert np.isfinite(np.asarray(quiet["ood_score"])).all()
    quiet_rate = np.mean((np.asarray(quiet["flag"]) & OOD) != 0)
    loud_rate = np.mean((np.asarray(loud["flag"]) & OOD) != 0)
    assert quiet_rate <= 0.03
    assert loud_rate >= 0.05, (quiet_rate, loud_rate)
    # the flag is exactly the score above 1
    np.testing.assert_array_equal(
        (np.asarray(loud["flag"]) & OOD) != 0, np.asarray(loud["ood_score"]) > 1
    )


def test_onnx_computes_the_same_score(trained, in_distribution, tmp_path):
    from xpz.export import export_onnx

    onnx = export_onnx(trained, tmp_path / "m.onnx")
    data = in_distribution[:300]
    torch_score = np.asarray(inference.predict(trained, data)["ood_score"])
    onnx_score = np.asarray(inference.predict(onnx, data, runtime="onnx")["ood_score"])
    np.testing.assert_allclose(onnx_score, torch_score, rtol=1e-4, atol=1e-4)


def test_unusable_rows_get_nan_score(trained, in_distribution):
    data = in_distribution[:5]
    flux = data.flux.copy()
    flux[2] = np.nan
    table = inference.predict(trained, data.replace(flux=flux))
    score = np.asarray(table["ood_score"])
    assert np.isnan(score[2]) and np.isfinite(np.delete(score, 2)).all()
    assert not table["flag"][2] & OOD


def test_model_file_without_ood_statistics_predicts_nan_and_never_flags(
    trained, shifted, tmp_path, capsys
):
    from xpz.cli import main
    from xpz.models.modelfile import load_model, save_model
    from xpz.models.ood import attach_ood

    loaded = load_model(trained)
    attach_ood(loaded.model, None)  # as a model saved before OOD statistics existed
    old = save_model(tmp_path / "old", loaded.model, loaded.scaler, metadata={})
    table = inference.predict(old, shifted[:200])
    assert np.isnan(np.asarray(table["ood_score"])).all()
    assert not (np.asarray(table["flag"]) & OOD).any()
    assert main(["info", str(old)]) == 0
    assert "OUT_OF_DISTRIBUTION is never set" in capsys.readouterr().out


def test_info_prints_the_card_of_a_freshly_trained_model(trained, capsys):
    from xpz.cli import main

    assert main(["info", str(trained)]) == 0
    text = capsys.readouterr().out
    assert "xpz-sim-v1" in text and "never seen real Gaia spectra" in text
    assert "ood_score > 1" in text and "test metrics: n_test 300" in text
    assert main(["info", str(trained), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["training_data"]["n_spectra"] == 3000
    assert card["ood"]["false_positive_rate"] == 0.01
    assert card["parameters"] > 0 and card["multiply_adds_per_spectrum"] > 0


def test_fit_ood_is_seeded_and_caps_the_sample():
    from xpz.models.ood import OodMethod, fit_ood, ood_statistics
    from xpz.models.registry import build_model
    from xpz.models.xpznet import XpzNetConfig

    x = torch.randn(400, 1, 186, generator=torch.Generator().manual_seed(0))
    model = build_model(XpzNetConfig(conv_filters=(4,), conv_kernels=(3,), hidden_units=8), seed=0)

    def fitted(seed: int) -> torch.Tensor:
        info = fit_ood(model, x[:300], x[300:], max_samples=100, seed=seed)
        assert info["fit_samples"] == 100 and info["validation_samples"] == 100
        stats = ood_statistics(model)
        assert stats is not None and stats.get_buffer("input_basis").shape == (186, 16)
        return stats.get_buffer("mean").clone()

    assert torch.equal(fitted(3), fitted(3))
    assert not torch.equal(fitted(3), fitted(4))
    fit_ood(model, x[:300], x[300:], method=OodMethod.EMBEDDING)
    stats = ood_statistics(model)
    assert stats is not None and stats.parts == ["embedding"]
