"""A report from synthetic predictions has every file, figure and table row it should."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from astropy.table import Table
from scipy import stats

from xpz.errors import InputError
from xpz.evaluation.evaluate import evaluate
from xpz.evaluation.report import write_report

BASE_FIGURES = {
    "redshift_distribution",
    "per_bin_errors",
    "true_vs_pred_hist",
    "true_vs_pred_2d",
}


@dataclass(frozen=True)
class ToyConfig:
    epochs: int = 3
    loss: str = "huber"


@pytest.fixture
def predictions(rng):
    z_true = rng.uniform(0.0, 0.6, 400)
    sigma = 0.03
    z_pred = z_true + sigma * rng.standard_normal(z_true.size)
    return z_true, z_pred, sigma


def figure_names(out) -> set[str]:
    return {p.stem for p in (out / "figures").glob("*.png") if p.stat().st_size > 0}


def test_minimal_report(tmp_path, predictions):
    z_true, z_pred, _ = predictions
    html = write_report(tmp_path, evaluate(z_true, z_pred), title="Toy model")
    assert html == tmp_path / "report.html"
    assert figure_names(tmp_path) == BASE_FIGURES
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["metrics"]["n"] == 400
    assert metrics["dissertation"] == {"mae": 0.021, "mean_abs_bin_error_z_lt_035": 0.013}
    assert metrics["uncertainty"] == {}
    per_bin = Table.read(tmp_path / "per_bin.csv", format="ascii.csv")
    assert len(per_bin) == 12 and per_bin["n"].sum() == 400
    assert "dissertation_mean_error" in per_bin.colnames
    markdown = (tmp_path / "report.md").read_text()
    assert "Uncertainties" not in markdown
    assert "| 0.10 - 0.15 |" in markdown and "| 0.0013 | 0.0243 |" in markdown


def test_full_report(tmp_path, predictions, toy_spectra):
    z_true, z_pred, sigma = predictions
    levels = (0.025, 0.16, 0.84, 0.975)
    quantiles = {
        f"z_q{k}": z_pred + sigma * stats.norm.ppf(q)
        for k, q in zip(("025", "16", "84", "975"), levels, strict=True)
    }
    grid = np.linspace(-0.2, 0.8, 501)
    pdf = stats.norm.pdf(grid[None, :], z_pred[:, None], sigma)
    history = {
        "epoch": [1, 2, 3],
        "train_loss": [3.0, 2.0, 1.0],
        "val_loss": [3.1, 2.2, 1.5],
        "train_mae": [0.3, 0.2, 0.1],
        "val_mae": [0.31, 0.22, 0.15],
    }
    g_mag = np.linspace(16.5, 20.7, z_true.size)
    result = evaluate(z_true, z_pred, quantiles=quantiles, pdf=pdf, pdf_grid=grid, g_mag=g_mag)
    write_report(
        tmp_path,
        result,
        title="Toy <model>",
        history=history,
        spectra=toy_spectra,
        config=ToyConfig(),
        extra_metrics={"val_loss_best": np.float32(1.5)},
    )
    assert figure_names(tmp_path) == BASE_FIGURES | {
        "spectrum",
        "mean_spectra_by_z",
        "loss_curves",
        "mae_curves",
        "pit_histogram",
        "coverage",
        "per_magnitude",
    }
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"] == {"epochs": 3, "loss": "huber"}
    assert metrics["extra_metrics"] == {"val_loss_best": 1.5}
    unc = metrics["uncertainty"]
    assert unc["quantile_coverage"]["0.68"] == pytest.approx(0.68, abs=0.08)
    assert unc["pdf_coverage"]["0.95"] == pytest.approx(0.95, abs=0.04)
    assert unc["pit_ks"] < 0.1
    assert 0 < unc["crps_mean"] < sigma
    assert unc["pit_cvm"] < 0.5 and unc["pit_ad"] < 2.5  # calibrated Gaussians
    assert unc["pit_catastrophic_rate"] < 0.005
    assert unc["cde_loss"] == pytest.approx(
        np.mean(1 / (2 * sigma * np.sqrt(np.pi)) - 2 * stats.norm.pdf(z_true, z_pred, sigma)),
        rel=1e-3,
    )
    assert {"sigma_iqr", "outlier_rate", "outlier_frac_015"} <= set(metrics["metrics"])
    per_mag = Table.read(tmp_path / "per_magnitude.csv", format="ascii.csv")
    assert per_mag["n"].sum() == 400 and "sigma_iqr" in per_mag.colnames

    markdown = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    for text in (markdown, html):
        assert "0.55 - 0.60" in text and "-0.2100" in text  # last Table 3 row
        assert "coverage of the central 68% interval (quantiles)" in text
        assert "PIT KS distance from uniform" in text
        assert "val_loss_best" in text
        assert "Anderson-Darling" in text and "CDE loss" in text
        assert "Errors per G-magnitude bin" in text and "19.5 - 20.0" in text
        assert "Robust metrics per redshift bin" in text and "outlier rate (LSST SRD)" in text
    assert "| >= 20.5 |" in markdown and "&gt;= 20.5" in html
    assert markdown.count("](figures/") == 11
    assert html.count('src="data:image/png;base64,') == 11
    assert "<title>Toy &lt;model&gt;</title>" in html
    assert "http" not in html  # standalone: nothing fetched from elsewhere
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]


def test_pdf_without_grid_is_an_input_error(predictions):
    z_true, z_pred, _ = predictions
    with pytest.raises(InputError, match="together"):
        evaluate(z_true, z_pred, pdf=np.ones((400, 3)))
    with pytest.raises(InputError, match="z_q16"):
        evaluate(z_true, z_pred, quantiles={"z_q16": [0.1]})


def test_evaluate_returns_the_numbers_the_report_writes(tmp_path, predictions):
    z_true, z_pred, sigma = predictions
    result = evaluate(z_true, z_pred)
    assert result.metrics["n"] == 400
    assert result.metrics["mae"] == pytest.approx(np.mean(np.abs(z_pred - z_true)))
    assert int(result.per_bin["n"].sum()) == 400
    write_report(tmp_path, result, title="x")
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["metrics"] == pytest.approx(result.metrics)
    assert written["uncertainty"] == result.uncertainty == {}
