"""benchmarks/accuracy.py: its metric columns, template-fitting rows and ``--models`` subsets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from xpz import pdf as zpdf
from xpz.evaluation import calibration, metrics
from xpz.models.template_fit import TemplateSet, fit_templates
from xpz.simulate import simulate
from xpz.split import split_indices

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import accuracy  # noqa: E402
import accuracy_tables  # noqa: E402

N = 600
SIM_SEED = 7


def table_rows(report: str, heading: str) -> dict[str, dict[str, str]]:
    """The cells of the markdown table under ``## heading``, keyed by the first cell."""
    section = report.split(f"## {heading}\n", 1)[1]
    lines = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(head, cells, strict=True))
    return rows


@pytest.fixture(scope="module")
def subset_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("acc") / "report.md"
    argv = ["--n", str(N), "--sim-seed", str(SIM_SEED), "--out", str(out), "--figures",
            str(out.parent / "fig"), "--models", "template-kcorrect", "knn"]  # fmt: skip
    assert accuracy.main(argv) == 0
    return out.read_text()


def test_subset_runs_only_the_chosen_rows_in_table_order(subset_report):
    rows = table_rows(subset_report, "Test-set metrics")
    assert list(rows) == ["knn", "template-kcorrect"]
    assert "not run (`--models`): paper, xpz, svr, template-bpz" in subset_report
    assert "Targets of issue #7" not in subset_report  # needs paper, xpz, svr and knn
    assert "## xpz against the kcorrect template fit" not in subset_report


def test_template_row_matches_a_direct_fit(subset_report):
    """The row's numbers are those of fit_templates on the test spectra, flat prior."""
    spectra = simulate(N, seed=SIM_SEED)
    test = spectra[split_indices(N, seed=0).test]
    z = test.require_z().astype(np.float64)
    assert test.flux_error is not None
    fit = fit_templates(test.flux, test.flux_error, template_set=TemplateSet.KCORRECT)
    row = table_rows(subset_report, "Test-set metrics")["template-kcorrect"]
    assert row["training time"] == "0"
    assert float(row["MAE"]) == pytest.approx(metrics.mae(z, fit.z_pred), abs=5e-5)
    assert float(row["sigma_IQR"]) == pytest.approx(metrics.sigma_iqr(z, fit.z_pred), abs=5e-5)
    srd = row["outl. SRD (>max(0.06, 3 sigma_IQR))"]
    assert float(srd) == pytest.approx(metrics.outlier_rate(z, fit.z_pred), abs=5e-5)
    pit = zpdf.pit(fit.pdf, fit.z_grid, z)
    pdf_row = table_rows(subset_report, "Uncertainty: interval coverage and PDF metrics")
    cells = pdf_row["template-kcorrect"]
    assert float(cells["PIT KS"]) == pytest.approx(stats.kstest(pit, "uniform").statistic, abs=5e-5)
    cvm = stats.cramervonmises(pit, "uniform").statistic
    assert float(cells["PIT CvM"]) == pytest.approx(cvm, abs=5e-3)
    share = np.mean((pit < 1e-4) | (pit > 1 - 1e-4))
    assert float(cells["PIT <0.0001 or >0.9999"]) == pytest.approx(share, abs=5e-5)
    cde = calibration.cde_loss(fit.pdf, fit.z_grid, z)
    assert float(cells["CDE loss"]) == pytest.approx(cde, abs=5e-4)


def test_a_model_without_pdf_gets_dashes(subset_report):
    knn = table_rows(subset_report, "Uncertainty: interval coverage and PDF metrics")["knn"]
    assert set(list(knn.values())[1:]) == {"-"}
    point = table_rows(subset_report, "Test-set metrics")["knn"]
    assert point["sigma_IQR"] != "-" and point["training time"].endswith(" min")


def test_models_option_rejects_an_unknown_name(capsys):
    with pytest.raises(SystemExit):
        accuracy.parse_args(["--models", "template-eazy"])
    assert "invalid Model value" in capsys.readouterr().err
    assert accuracy.parse_args([]).models == list(accuracy.Model)


def test_evaluate_reads_pdf_metrics_only_for_pdf_models():
    grid = np.linspace(0.0, 0.6, 61)
    z = np.array([0.1, 0.2, 0.3, 0.15])
    pdf = np.exp(-0.5 * ((grid[None, :] - (z + 0.02)[:, None]) / 0.03) ** 2)
    pdf = zpdf.normalise(pdf, grid)
    with_pdf = accuracy_tables.Result("a", z + 0.02, 0.0, 1.0, 0, 0, pdf=pdf, grid=grid)
    row = accuracy_tables.evaluate(with_pdf, z)
    pit = zpdf.pit(pdf, grid, z)
    assert row["pit_ad"] == pytest.approx(calibration.pit_ad_statistic(pit))
    assert row["pit_cvm"] == pytest.approx(stats.cramervonmises(pit, "uniform").statistic)
    q75, q25 = np.quantile(0.02 / (1 + z), [0.75, 0.25])
    assert row["sigma_iqr"] == pytest.approx((q75 - q25) / 1.349)
    assert row["cov68"] == pytest.approx(np.mean(np.abs(pit - 0.5) <= 0.34))
    point = accuracy_tables.evaluate(accuracy_tables.Result("b", z + 0.02, 0.0, 1.0, 0, 0), z)
    assert all(np.isnan(point[k]) for k in (*accuracy_tables.PDF_KEYS, "cov68", "cov95"))


def test_comparison_table_difference_and_ratio():
    keys = [k for k, _ in accuracy_tables.COMPARED]
    rows = {"xpz": dict.fromkeys(keys, 0.01), "ref": dict.fromkeys(keys, 0.02)}
    rows["xpz"]["cde_loss"], rows["ref"]["cde_loss"] = -3.0, -2.0
    table = accuracy_tables.comparison_table(rows, "xpz", "ref").splitlines()
    assert table[2] == "| MAE | 0.0100 | 0.0200 | -0.0100 | 0.50 |"
    assert table[-1] == "| CDE loss | -3.0000 | -2.0000 | -1.0000 | - |"  # no ratio of negatives


def test_the_xpz_row_is_the_presets_ensemble(tmp_path):
    from xpz.models.xpznet import multiply_adds
    from xpz.recipes import xpz_recipe

    out = tmp_path / "report.md"
    argv = ["--n", str(N), "--sim-seed", str(SIM_SEED), "--out", str(out), "--figures",
            str(tmp_path / "fig"), "--models", "xpz", "--xpz-epochs", "1"]  # fmt: skip
    assert accuracy.main(argv) == 0
    report = out.read_text()
    row = table_rows(report, "Test-set metrics")["xpz"]
    assert row["multiply-adds / spectrum"] == f"{multiply_adds(xpz_recipe().model):,}"
    assert xpz_recipe().model.members == 2 and row["multiply-adds / spectrum"] == "1,970,240"
    coverage = table_rows(report, "Uncertainty: interval coverage and PDF metrics")["xpz"]
    assert 0 < float(coverage["cov 68%"]) < float(coverage["cov 95%"]) <= 100
    assert "temperature" in report and (tmp_path / "fig" / "accuracy_pit.png").is_file()
