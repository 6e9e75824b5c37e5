"""XpzEnsemble: members, averaged PDFs, one temperature, file round trip, training and export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xpz.models.ensemble import XpzEnsemble, XpzEnsembleConfig
from xpz.models.modelfile import load_model, predict_batches, save_model
from xpz.models.registry import build_model
from xpz.models.xpznet import XpzNet, multiply_adds

TINY = XpzEnsembleConfig(
    members=3, conv_filters=(4, 8), conv_kernels=(5, 3), hidden_units=16, n_bins=40
)


def _ensemble(config: XpzEnsembleConfig = TINY, seed: int = 0) -> XpzEnsemble:
    model = build_model(config, seed=seed)
    assert isinstance(model, XpzEnsemble)
    return model


def test_members_start_from_different_weights_and_seed_is_reproducible() -> None:
    model, again = _ensemble(seed=5), _ensemble(seed=5)
    first = [m.head[-1].weight for m in model.members]
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert model.num_parameters() == 3 * XpzNet(TINY.member()).num_parameters()
    assert multiply_adds(TINY) == 3 * multiply_adds(TINY.member())


def test_loss_is_the_mean_of_the_members_losses() -> None:
    model = _ensemble().eval()  # no dropout: the same output twice
    x, z = torch.randn(6, 1, 186), torch.tensor([0.01, 0.1, 0.2, 0.3, 0.45, 0.59])
    with torch.no_grad():
        output = model(x)
        each = [float(member.loss(member(x), z)) for member in model.members]
    assert float(model.loss(output, z)) == pytest.approx(np.mean(each), rel=1e-6)


def test_distribution_is_the_average_of_the_members_and_temperature_applies() -> None:
    model = _ensemble().eval()
    x = torch.randn(5, 1, 186)
    with torch.no_grad():
        output = model(x)
        by_hand = torch.stack([torch.softmax(member(x), dim=1) for member in model.members])
        torch.testing.assert_close(model.probabilities(output), by_hand.mean(dim=0))
        summary = model.summarize(output)
        grid = model.pdf_grid()
        integral = (summary["pdf"].double().numpy() * np.diff(model.config.z_edges())).sum(axis=1)
        np.testing.assert_allclose(integral, 1.0, rtol=1e-5)
        assert (summary["z_q16"] <= summary["z_pred"]).all()
        assert (summary["z_pred"] <= summary["z_q84"]).all()
        assert grid.shape == (40,)
        model.set_temperature(3.0)  # p ~ (mean of the members' p) ** (1 / T)
        tempered = by_hand.mean(dim=0) ** (1 / 3.0)
        tempered = tempered / tempered.sum(dim=1, keepdim=True)
        torch.testing.assert_close(model.probabilities(output), tempered)


def test_calibration_fits_one_temperature_for_the_average() -> None:
    model = _ensemble().eval()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 1, 186, generator=generator)
    z = torch.rand(300, generator=generator) * 0.6
    fitted = model.calibrate(x, z)
    assert float(model.temperature) == pytest.approx(fitted["temperature"])
    assert fitted["temperature"] != 1.0
    assert 0 <= fitted["validation_coverage_68"] <= fitted["validation_coverage_95"] <= 1


def test_for_inference_keeps_the_outputs_and_freezing_reaches_every_member() -> None:
    model = _ensemble()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    model.eval()
    x = torch.randn(4, 1, 186)
    with torch.inference_mode():
        torch.testing.assert_close(model.for_inference()(x), model(x), rtol=1e-4, atol=1e-5)
    model.freeze_conv_blocks(1)
    for member in model.members:
        first, second = member.conv_blocks()[:2]
        assert not any(p.requires_grad for p in first.parameters())
        assert all(p.requires_grad for p in second.parameters())


def test_model_file_round_trip(tmp_path, rng) -> None:
    from xpz.preprocess import SpectrumNorm, make_scaler

    flux = rng.lognormal(3.0, 0.5, (20, 186)).astype(np.float32)
    scaler = make_scaler("per_spectrum", norm=SpectrumNorm.L2, minmax=False).fit(flux)
    model = _ensemble(seed=2)
    model.set_temperature(1.4)
    model.eval()
    save_model(tmp_path / "m", model, scaler)
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded.model, XpzEnsemble)
    assert float(loaded.model.temperature) == pytest.approx(1.4)
    got = predict_batches(loaded, flux)
    with torch.no_grad():
        x = torch.from_numpy(scaler.transform(flux)[:, None, :].astype(np.float32))
        want = model.summarize(model(x))
    for name in ("z_pred", "z_q025", "pdf"):
        np.testing.assert_allclose(got[name], want[name].numpy(), atol=1e-6)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="at least 2 members"):
        XpzEnsembleConfig(members=1)
    assert XpzEnsembleConfig.from_dict(TINY.to_dict()) == TINY


def test_trains_end_to_end_and_exports_to_onnx(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from xpz.export import OnnxModel, export_onnx
    from xpz.pipeline import run_training
    from xpz.recipes import Recipe
    from xpz.simulate import simulate
    from xpz.training.config import TrainConfig

    spectra = simulate(300, seed=7)
    recipe = Recipe(
        model=TINY,
        training=TrainConfig(epochs=2, batch_size=64, progress=False),
        scaling={"scaling": "per_spectrum", "norm": "l2", "minmax": False},
        name="tiny-ensemble",
    )
    result = run_training(spectra, recipe, tmp_path / "run")
    loaded = load_model(result.model_dir)
    assert isinstance(loaded.model, XpzEnsemble)
    assert 0 <= result.metrics["mae"] < 1
    expected = predict_batches(loaded, spectra.flux[:32])
    got = OnnxModel(export_onnx(result.model_dir, tmp_path / "m.onnx")).predict(spectra.flux[:32])
    for name in ("z_pred", "z_err", "z_q975"):
        np.testing.assert_allclose(got[name], expected[name], atol=1e-5)
    # the OOD score reads every member's embedding, in torch and ONNX alike
    assert loaded.model.embed(torch.zeros(2, 1, 186)).shape == (2, 3 * TINY.hidden_units)
    assert np.isfinite(expected["ood_score"]).all()
    np.testing.assert_allclose(got["ood_score"], expected["ood_score"], rtol=1e-4, atol=1e-4)
