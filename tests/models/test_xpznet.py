"""XpzNet: shapes, PDF and quantile consistency, cost counting, learning, model files."""

from __future__ import annotations

import dataclasses
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

from xpz import pdf as zpdf
from xpz.models.modelfile import load_model, model_inputs, predict_batches, save_model
from xpz.models.paper import PaperCNN, PaperConfig
from xpz.models.registry import build_model
from xpz.models.xpznet import XpzNet, XpzNetConfig, multiply_adds
from xpz.preprocess import SpectrumNorm, make_scaler
from xpz.simulate import simulate
from xpz.training.device import torch_settings

TINY = XpzNetConfig(conv_filters=(4, 8), conv_kernels=(3, 3), hidden_units=16, n_bins=30)


def _model(config: XpzNetConfig = TINY, seed: int = 0) -> XpzNet:
    model = build_model(config, seed=seed)
    assert isinstance(model, XpzNet)
    return model


def test_forward_and_summary_shapes() -> None:
    model = _model().eval()
    output = model(torch.randn(5, 1, 186))
    assert output.shape == (5, 30)
    summary = model.summarize(output)
    for name in ("z_pred", "z_err", "z_q025", "z_q16", "z_q84", "z_q975"):
        assert summary[name].shape == (5,)
    assert summary["pdf"].shape == (5, 30)


def test_wrong_input_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected input"):
        _model()(torch.randn(2, 2, 186))


def test_quantiles_ordered_and_pdf_normalised() -> None:
    model = _model().eval()
    s = {k: v.numpy() for k, v in model.summarize(3.0 * torch.randn(50, 30)).items()}
    order = np.stack([s[k] for k in ("z_q025", "z_q16", "z_pred", "z_q84", "z_q975")])
    assert np.all(np.diff(order, axis=0) >= 0)
    width = TINY.z_max / TINY.n_bins
    np.testing.assert_allclose(s["pdf"].sum(axis=1) * width, 1.0, rtol=1e-5)
    np.testing.assert_allclose(s["z_err"], 0.5 * (s["z_q84"] - s["z_q16"]))
    expected = zpdf.median(s["pdf"].astype(np.float64), TINY.z_grid())
    np.testing.assert_allclose(s["z_pred"], expected, atol=1e-6)


def test_summary_of_a_one_bin_distribution() -> None:
    model = _model().eval()
    logits = torch.full((1, 30), -50.0)
    logits[0, 10] = 50.0  # all mass in bin 10, centred on z = 0.21
    s = model.summarize(logits)
    assert float(s["z_pred"]) == pytest.approx(TINY.z_grid()[10], abs=1e-6)
    assert float(s["z_q025"]) < float(s["z_pred"]) < float(s["z_q975"])


LEVELS = np.array([0.025, 0.16, 0.5, 0.84, 0.975])
QUANTILE_NAMES = ("z_q025", "z_q16", "z_pred", "z_q84", "z_q975")


def _numpy_summary(model: XpzNet, logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles (N, 5) and density by :mod:`xpz.pdf` from the model's bin probabilities."""
    probs = model.probabilities(logits).double().numpy()
    density, grid = zpdf.from_bin_probabilities(probs, model.config.z_edges())
    return zpdf.quantiles(density, grid, LEVELS), density


def _logits(rng: np.random.Generator, config: XpzNetConfig, n: int) -> torch.Tensor:
    """Random, peaked (narrower than a bin up to 10 bins wide) and gapped (-inf) logits."""
    grid = config.z_grid()
    random = 3.0 * rng.standard_normal((n, config.n_bins))
    centre, width = (
        rng.uniform(0.05, 0.55, (n, 1)),
        rng.uniform(0.2, 10, (n, 1)) * 0.6 / config.n_bins,
    )
    peaked = -0.5 * ((grid - centre) / width) ** 2
    gapped = random.copy()
    gapped[:, config.n_bins // 3 : config.n_bins // 2] = -np.inf  # zero density: a flat CDF
    gapped[: n // 4, config.n_bins // 2 + 3 :] = -np.inf
    gapped[0] = -np.inf
    gapped[0, 7] = 0.0  # all mass in one bin
    return torch.from_numpy(np.concatenate([random, peaked, gapped])).float()


@pytest.mark.parametrize("n_bins", [30, 600])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_torch_summary_equals_numpy_quantiles(rng, n_bins: int, temperature: float) -> None:
    model = _model(dataclasses.replace(TINY, n_bins=n_bins)).eval()
    model.set_temperature(temperature)
    logits = _logits(rng, model.config, 40)
    s = model.summarize(logits)
    expected, density = _numpy_summary(model, logits)
    got = np.stack([s[name].numpy() for name in QUANTILE_NAMES], axis=1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(s["pdf"].numpy(), density, rtol=1e-6, atol=0)
    half = 0.5 * (expected[:, 3] - expected[:, 1])
    np.testing.assert_allclose(s["z_err"].numpy(), half, rtol=0, atol=1e-6)


def test_grid_quantiles_equal_numpy_in_float64(rng) -> None:
    """Same bins, interpolation and ties as :func:`xpz.pdf.quantiles`, flat stretches too."""
    from xpz.models.grid_quantiles import grid_quantiles

    grid = np.linspace(0.0, 0.6, 61)
    pdf = rng.gamma(0.3, size=(300, grid.size))
    pdf[:, 20:30] = 0.0
    pdf[:50, 45:] = 0.0
    pdf[7] = 0.0
    pdf[7, 40] = 1.0  # one-point spike
    levels = np.array([0.0, 0.025, 0.16, 0.5, 0.84, 0.975, 1.0])
    got = grid_quantiles(*(torch.from_numpy(a) for a in (pdf, grid, levels))).numpy()
    np.testing.assert_allclose(got, zpdf.quantiles(pdf, grid, levels), rtol=0, atol=1e-12)
    inner = levels[1:-1]  # in float32 the CDF may reach 1 a grid point early in a flat tail
    as32 = grid_quantiles(*(torch.from_numpy(a).float() for a in (pdf, grid, inner))).numpy()
    np.testing.assert_allclose(as32, zpdf.quantiles(pdf, grid, inner), rtol=0, atol=1e-5)
    with mock.patch("torch.onnx.is_in_onnx_export", return_value=True):  # the ONNX graph's count
        exported = grid_quantiles(*(torch.from_numpy(a) for a in (pdf, grid, levels))).numpy()
    np.testing.assert_array_equal(exported, got)


def test_non_finite_output_rows_give_nan_and_leave_the_others() -> None:
    model = _model().eval()
    logits = 3.0 * torch.randn(4, 30)
    bad = logits.clone()
    bad[1, 3], bad[2] = torch.inf, torch.nan
    s, clean = model.summarize(bad), model.summarize(logits)
    for name, value in s.items():
        assert torch.isnan(value[1:3]).all(), name
        torch.testing.assert_close(value[[0, 3]], clean[name][[0, 3]], rtol=0, atol=0)


def test_temperature_widens_intervals() -> None:
    model = _model().eval()
    centres = torch.rand(20, 1) * 0.4 + 0.1  # unimodal: Gaussian-shaped log densities
    logits = -0.5 * ((torch.from_numpy(TINY.z_grid()).float() - centres) / 0.03) ** 2
    narrow = model.summarize(logits)["z_err"]
    model.set_temperature(3.0)
    wide = model.summarize(logits)["z_err"]
    assert torch.all(wide >= narrow - 1e-6) and float((wide - narrow).mean()) > 0
    with pytest.raises(ValueError, match="positive"):
        model.set_temperature(0.0)


def test_target_bins_and_loss() -> None:
    model = _model()
    z = torch.tensor([-0.1, 0.0, 0.0199, 0.02, 0.3, 0.6, 0.9])
    assert model.target_bins(z).tolist() == [0, 0, 0, 1, 15, 29, 29]
    logits = torch.full((1, 30), -20.0)
    logits[0, 15] = 20.0
    assert float(model.loss(logits, torch.tensor([0.305]))) < 1e-6
    assert float(model.loss(logits, torch.tensor([0.1]))) > 10


def test_config_validation_and_grid() -> None:
    with pytest.raises(ValueError, match="odd"):
        XpzNetConfig(conv_kernels=(4, 3, 3, 3))
    with pytest.raises(ValueError, match="same length"):
        XpzNetConfig(conv_filters=(8,), conv_kernels=(3, 3))
    with pytest.raises(ValueError, match="nothing"):
        XpzNetConfig(n_pixels=4, conv_filters=(2, 2, 2), conv_kernels=(1, 1, 1))
    grid = XpzNetConfig().z_grid()
    assert grid.size == 150 and grid[0] == pytest.approx(0.002) and grid[-1] == pytest.approx(0.598)
    assert XpzNetConfig.from_dict(TINY.to_dict()) == TINY


def test_multiply_adds_by_hand() -> None:
    # conv 1->2, k3 on 8 pixels: 1*2*3*8 = 48; pool -> 4; flatten 8; dense 8*4 = 32; head 4*5 = 20
    tiny = XpzNetConfig(n_pixels=8, conv_filters=(2,), conv_kernels=(3,), hidden_units=4, n_bins=5)
    assert multiply_adds(tiny) == 48 + 32 + 20
    # paper: conv 1->2, k3 valid on 10 pixels: 1*2*3*8 = 48; pool -> 4; flatten 8;
    # dense 8*4 = 32; output 4*1 = 4
    paper = PaperConfig(n_pixels=10, conv_filters=(2,), conv_kernels=(3,), dense_units=(4,))
    assert multiply_adds(paper) == 48 + 32 + 4


def _counted_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of the Conv and Linear layers, counted from the actual tensors."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        per_output = module.weight[0].numel()  # C_in * k (conv) or in (dense)
        total += per_output * output[0].numel()

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear)
    ]
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return total


@pytest.mark.parametrize("config", [XpzNetConfig(), XpzNetConfig(input_channels=2), TINY])
def test_multiply_adds_match_the_layers(config: XpzNetConfig) -> None:
    model = _model(config)
    assert multiply_adds(config) == _counted_macs(model, model.example_input(1))


def test_paper_multiply_adds_match_the_layers_and_xpz_is_ten_times_cheaper() -> None:
    paper = PaperCNN(PaperConfig())
    assert multiply_adds(PaperConfig()) == _counted_macs(paper, paper.example_input(1))
    assert multiply_adds(XpzNetConfig(n_bins=600)) * 10 <= multiply_adds(PaperConfig())


def _tiny_inputs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, object]:
    spectra = simulate(n, seed=seed)
    scaler = make_scaler("per_spectrum", norm=SpectrumNorm.L2, minmax=False).fit(spectra.flux)
    x = model_inputs(scaler, spectra.flux, spectra.flux_error, 2)
    return torch.from_numpy(x), torch.from_numpy(spectra.z.astype(np.float32)), scaler


def test_overfits_a_tiny_simulated_set() -> None:
    x, z, _ = _tiny_inputs(64, seed=3)
    config = XpzNetConfig(input_channels=2, conv_filters=(8, 16), conv_kernels=(5, 3), dropout=0.0)
    model = _model(config, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    first = float(model.loss(model(x), z).detach())
    # one thread: tiny batches gain nothing from more, and lose a lot on a busy machine
    with torch_settings(num_threads=1, deterministic=True):
        for _ in range(80):
            optimizer.zero_grad()
            loss = model.loss(model(x), z)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        z_pred = model.summarize(model(x))["z_pred"]
        assert float(model.loss(model(x), z)) < 0.2 * first
    assert float((z_pred - z).abs().mean()) < 0.01


def test_model_file_round_trip_keeps_temperature(tmp_path) -> None:
    x, _, scaler = _tiny_inputs(10, seed=4)
    model = _model(XpzNetConfig(input_channels=2), seed=2)
    with torch.no_grad():  # non-trivial BatchNorm statistics must be saved too
        model.features[0].running_mean.fill_(0.05)
    model.set_temperature(1.7)
    model.eval()
    save_model(tmp_path / "m", model, scaler)
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded.model, XpzNet)
    assert float(loaded.model.temperature) == pytest.approx(1.7)
    spectra = simulate(10, seed=4)
    got = predict_batches(loaded, spectra.flux, spectra.flux_error)
    with torch.no_grad():
        want = model.summarize(model(x))
    for name in ("z_pred", "z_q16", "z_q975", "pdf"):
        np.testing.assert_allclose(got[name], want[name].numpy(), atol=1e-6)


def test_for_inference_folds_batchnorm_and_keeps_the_outputs() -> None:
    torch.manual_seed(0)
    model = XpzNet(XpzNetConfig(n_bins=40))
    for module in model.modules():  # BatchNorm statistics far from the identity
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.randn(8, 1, 186)
    frozen = model.for_inference()
    n_batchnorm = [
        sum(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules()) for net in (model, frozen)
    ]
    assert n_batchnorm == [5, 1]  # the input BatchNorm stays, one per block is folded
    block = frozen.features[1]
    assert [type(m) for m in block] == [
        torch.nn.Conv1d,
        torch.nn.MaxPool1d,
        torch.nn.ReLU,
        torch.nn.Identity,
    ]  # pooling before the ReLU: the same values, half of them rectified
    with torch.inference_mode():
        z = block[0](model.features[0](x))
        torch.testing.assert_close(
            torch.relu(torch.nn.functional.max_pool1d(z, 2)),
            torch.nn.functional.max_pool1d(torch.relu(z), 2),
            rtol=0,
            atol=0,
        )
    with torch.inference_mode():
        torch.testing.assert_close(frozen(x), model(x), rtol=1e-4, atol=1e-5)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in model.parameters())  # the original is untouched
    with pytest.raises(RuntimeError, match="inference copy"):
        frozen.train()
    model.train()  # the original still trains


def test_bin_weights_flatten_the_training_distribution() -> None:
    from xpz.models.xpznet import bin_weights

    rng = np.random.default_rng(0)
    z = rng.exponential(0.1, 20_000).clip(0, 0.6)
    edges = np.linspace(0, 0.6, 61)
    counts = np.histogram(z, edges)[0]
    assert np.all(bin_weights(z, edges, 0.0) == 1.0)
    half = bin_weights(z, edges, 0.5)
    full = bin_weights(z, edges, 1.0)
    for weights in (half, full):
        assert np.sum(weights * counts) / counts.sum() == pytest.approx(1.0)
    # rarer redshifts weigh more; flattening 1 evens out the weighted counts (where populated)
    assert half[-1] > half[10] and full[-1] > half[-1]
    populated = slice(5, 30)
    weighted = (full * counts)[populated]
    assert weighted.max() / weighted.min() < 2.5
    assert (counts[populated].max() / counts[populated].min()) > 10


def test_prior_flattening_weights_the_loss_and_training_sets_them() -> None:
    config = dataclasses.replace(TINY, prior_flattening=1.0)
    model = _model(config)
    z = torch.tensor([0.1] * 9 + [0.5])
    output = torch.zeros(10, config.n_bins)
    plain = model.loss(output, z)  # weights still all 1 before prepare_training
    model.prepare_training(z)
    assert model.loss_weights[model.target_bins(torch.tensor([0.5]))] > 1.0
    assert model.loss_weights[model.target_bins(torch.tensor([0.1]))] < 1.0
    output[:, model.target_bins(torch.tensor([0.1]))] = 5.0  # right for 9 galaxies, wrong for 1
    unweighted = nn.functional.cross_entropy(output, model.target_bins(z))
    assert model.loss(output, z) > unweighted  # the rare galaxy's miss counts more
    assert torch.isclose(plain, _model().loss(torch.zeros(10, config.n_bins), z))
