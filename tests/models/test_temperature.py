"""Temperature scaling recovers known temperatures (NLL and coverage) and calibrates an XpzNet."""

from __future__ import annotations

import pytest
import torch

from xpz.models.registry import build_model
from xpz.models.temperature import (
    calibrate_temperature,
    coverage_loss,
    fit_coverage_temperature,
    fit_temperature,
    interval_coverage,
    mean_nll,
)
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
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(64, 1, 186, generator=generator)
    z = torch.rand(64, generator=generator) * 0.6
    fitted = calibrate_temperature(model, x, z, batch_size=16)  # batching changes nothing
    assert set(fitted) == {
        "temperature",
        "nll_temperature",
        "validation_coverage_68",
        "validation_coverage_95",
    }
    assert all(isinstance(v, float) for v in fitted.values())
    t = fitted["temperature"]
    assert float(model.temperature) == pytest.approx(t) and not model.training
    assert fitted["nll_temperature"] / 4 <= t <= 4 * fitted["nll_temperature"]
    model.set_temperature(1.0)
    assert model.calibrate(x, z)["temperature"] == pytest.approx(t)
    # the coverage step uses a seeded subsample of at most max_galaxies
    sub = calibrate_temperature(model, x, z, max_galaxies=50)
    for key in ("validation_coverage_68", "validation_coverage_95"):
        assert (sub[key] * 50) == pytest.approx(round(sub[key] * 50))
    assert calibrate_temperature(model, x, z, max_galaxies=50) == sub


def _gaussian_case(width_factor: float, n: int = 4000) -> tuple[torch.Tensor, ...]:
    """Logits of Gaussian PDFs ``width_factor`` times wider than the scatter of the true z."""
    generator = torch.Generator().manual_seed(4)
    edges = torch.linspace(0.0, 1.0, 401)
    centres = 0.5 * (edges[1:] + edges[:-1])
    mu = torch.rand(n, 1, generator=generator) * 0.4 + 0.3
    sigma = 0.02
    z = mu[:, 0] + sigma * torch.randn(n, generator=generator)
    logits = -0.5 * ((centres - mu) / (width_factor * sigma)) ** 2
    return logits, edges, z


def test_coverage_temperature_narrows_too_wide_pdfs() -> None:
    # softmax(logits / T) is a Gaussian of width 1.5 sigma sqrt(T): T = 1 / 1.5**2 is right
    logits, edges, z = _gaussian_case(width_factor=1.5)
    assert interval_coverage(logits, edges, z, 1.0, [0.68])[0] > 0.8
    t = fit_coverage_temperature(logits, edges, z)
    assert t == pytest.approx(1 / 1.5**2, rel=0.1)
    c68, c95 = interval_coverage(logits, edges, z, t, [0.68, 0.95])
    assert c68 == pytest.approx(0.68, abs=0.02) and c95 == pytest.approx(0.95, abs=0.015)
    assert coverage_loss([c68, c95], {0.68: 0.03, 0.95: 0.02}) < 1


def test_coverage_temperature_widens_too_narrow_pdfs() -> None:
    logits, edges, z = _gaussian_case(width_factor=0.7)
    t = fit_coverage_temperature(logits, edges, z, around=1.5)
    assert t == pytest.approx(1 / 0.7**2, rel=0.1)
    with pytest.raises(ValueError, match="around"):
        fit_coverage_temperature(logits, edges, z, around=0.0)


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="need logits"):
        fit_temperature(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))
