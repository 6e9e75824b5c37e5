"""Temperature scaling recovers a known temperature and calibrates an XpzNet."""

from __future__ import annotations

import pytest
import torch

from xpz.evaluation.calibrate import calibrate_temperature, fit_temperature, mean_nll
from xpz.models.registry import build_model
from xpz.models.xpznet import XpzNet, XpzNetConfig


def _labels_from(logits: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator)[:, 0]


def test_recovers_the_temperature_of_sharpened_logits() -> None:
    true_logits = torch.randn(20_000, 12, generator=torch.Generator().manual_seed(0)) * 2
    bins = _labels_from(true_logits, seed=1)
    # a model that is over-confident by a factor 2.5 needs T = 2.5
    assert fit_temperature(2.5 * true_logits, bins) == pytest.approx(2.5, rel=0.05)
    assert fit_temperature(0.5 * true_logits, bins) == pytest.approx(0.5, rel=0.05)


def test_fitted_temperature_minimises_the_nll() -> None:
    logits = torch.randn(500, 8, generator=torch.Generator().manual_seed(2)) * 3
    bins = _labels_from(logits / 2, seed=3)
    t = fit_temperature(logits, bins)
    assert mean_nll(logits, bins, t) <= min(mean_nll(logits, bins, s) for s in (0.9 * t, 1.1 * t))


def test_calibrate_sets_the_model_temperature() -> None:
    model = build_model(XpzNetConfig(conv_filters=(4,), conv_kernels=(3,), n_bins=20), seed=0)
    assert isinstance(model, XpzNet)
    x = torch.randn(64, 1, 186)
    z = torch.rand(64) * 0.6
    t = calibrate_temperature(model, x, z, batch_size=16)
    assert float(model.temperature) == pytest.approx(t) and not model.training
    model.set_temperature(1.0)
    assert model.calibrate(x, z) == {"temperature": pytest.approx(t)}


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="need logits"):
        fit_temperature(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))
