"""The main job end to end on a small simulated set: split, train, test, report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xpz.models.modelfile import MODEL_JSON
from xpz.models.paper import PaperConfig
from xpz.pipeline import (
    RECIPE_FILE,
    REPORT_DIR,
    TEST_PREDICTIONS_FILE,
    evaluate_model,
    run_training,
)
from xpz.recipes import Recipe
from xpz.training.config import TrainConfig
from xpz.training.loop import HISTORY_FILE, MODEL_DIR


@pytest.fixture(scope="module")
def small_sim():
    from xpz.simulate import simulate

    return simulate(400, seed=3)


@pytest.fixture
def tiny_recipe():
    return Recipe(
        model=PaperConfig(conv_filters=(8,), conv_kernels=(5,), dense_units=(16,)),
        training=TrainConfig(epochs=2, batch_size=64, progress=False),
        name="tiny",
    )


def test_run_training_writes_every_product(tmp_path, small_sim, tiny_recipe):
    result = run_training(small_sim, tiny_recipe, tmp_path / "run", split_seed=1)
    run = tmp_path / "run"
    for name in (RECIPE_FILE, HISTORY_FILE, f"{MODEL_DIR}/{MODEL_JSON}", TEST_PREDICTIONS_FILE):
        assert (run / name).is_file(), name
    assert result.report.name == "report.html" and result.report.is_file()
    figures = sorted(p.name for p in (run / REPORT_DIR / "figures").iterdir())
    assert {"loss_curves.png", "true_vs_pred_2d.png"} <= set(figures) or len(figures) >= 7
    import pyarrow.parquet as pq

    preds = pq.read_table(run / TEST_PREDICTIONS_FILE).to_pandas()
    assert len(preds) == 40  # 10% of 400
    assert preds["source_id"].dtype == np.int64
    assert set(small_sim.source_id) >= set(preds["source_id"])
    assert 0 <= result.metrics["mae"] < 1


def test_evaluate_model_on_any_labelled_data(tmp_path, small_sim, tiny_recipe):
    result = run_training(small_sim, tiny_recipe, tmp_path / "run")
    report = evaluate_model(result.model_dir, small_sim[:50], tmp_path / "eval")
    metrics = json.loads((report.parent / "metrics.json").read_text())["metrics"]
    assert metrics["n"] == 50
    assert (tmp_path / "eval" / "report.md").is_file()


@pytest.mark.parametrize("bad_z", [np.nan, 0.9, -0.1])
def test_evaluate_refuses_bad_labels_before_writing_anything(
    tmp_path, small_sim, tiny_recipe, capsys, bad_z
):
    from xpz.cli import main
    from xpz.io.tables import write_spectra

    result = run_training(small_sim, tiny_recipe, tmp_path / "run")
    z = small_sim.z.copy()
    z[[3, 17]] = bad_z
    data = write_spectra(small_sim.replace(z=z), tmp_path / "labels.csv")
    out = tmp_path / "eval"
    assert main(["evaluate", str(result.model_dir), str(data), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"{data}: column 'z', rows 3, 17: redshift" in err[0] and "evaluation" in err[0]
    assert not out.exists()


def test_evaluate_leaves_rows_without_an_estimate_out_of_every_metric(
    tmp_path, small_sim, tiny_recipe, monkeypatch
):
    import xpz.pipeline as pipeline

    result = run_training(small_sim, tiny_recipe, tmp_path / "run")
    original = pipeline._test_predictions

    def some_unestimated(loaded, spectra):
        predictions = original(loaded, spectra)
        predictions["z_pred"][:5] = np.nan  # as for spectra the model cannot read
        return predictions

    monkeypatch.setattr(pipeline, "_test_predictions", some_unestimated)
    report = evaluate_model(result.model_dir, small_sim[:50], tmp_path / "eval")
    record = json.loads((report.parent / "metrics.json").read_text())
    assert record["metrics"]["n"] == 45
    assert record["extra_metrics"]["rows_without_estimate"] == 5
    assert 0 <= record["extra_metrics"]["ood_flag_rate"] <= 1  # of the rows with an estimate
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "eval" / "predictions.parquet").num_rows == 50
    per_bin = (tmp_path / "eval" / "per_bin.csv").read_text().splitlines()
    assert sum(int(line.split(",")[2]) for line in per_bin[1:]) == 45  # headline and bins agree


def test_cli_train_with_config_then_predict(tmp_path, small_sim, tiny_recipe, capsys):
    from xpz.cli import main
    from xpz.io.tables import write_spectra

    data = write_spectra(small_sim, tmp_path / "sim.parquet")
    recipe = tiny_recipe.save(tmp_path / "recipe.json")
    run = tmp_path / "run"
    assert main(["train", str(data), "-o", str(run), "--config", str(recipe), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "MAE" in out and "report:" in out
    history = (run / HISTORY_FILE).read_text().strip().splitlines()
    assert len(history) == 2  # header + 1 epoch (the --epochs override)
    cat = tmp_path / "cat.fits"
    assert main(["predict", str(run / MODEL_DIR), str(data), "-o", str(cat), "--no-progress"]) == 0
    from astropy.table import Table

    assert len(Table.read(cat)) == len(small_sim)


def test_distributional_model_report_has_uncertainties(tmp_path, small_sim):
    from xpz.models.xpznet import XpzNetConfig

    recipe = Recipe(
        model=XpzNetConfig(conv_filters=(4, 8), conv_kernels=(5, 3), hidden_units=16, n_bins=30),
        training=TrainConfig(epochs=1, batch_size=64, progress=False),
        scaling={"scaling": "per_spectrum", "norm": "l2", "minmax": False},
        name="tiny-xpz",
    )
    result = run_training(small_sim, recipe, tmp_path / "run")
    figures = {p.name for p in (tmp_path / "run" / REPORT_DIR / "figures").iterdir()}
    assert {"pit_histogram.png", "coverage.png"} <= figures
    record = json.loads((tmp_path / "run" / REPORT_DIR / "metrics.json").read_text())
    assert 0 <= record["uncertainty"]["quantile_coverage"]["0.68"] <= 1
    assert record["uncertainty"]["crps_mean"] > 0
    model_json = json.loads((result.model_dir / MODEL_JSON).read_text())
    assert model_json["metadata"]["calibration"]["temperature"] > 0
    import pyarrow.parquet as pq

    from xpz.models.modelfile import load_model

    preds = pq.read_table(tmp_path / "run" / TEST_PREDICTIONS_FILE).to_pandas()
    assert {"z_q16", "z_q84", "z_err"} <= set(preds.columns)
    # the test set was predicted in memory by the model that was saved: the calibrated one
    rows = np.searchsorted(small_sim.source_id, preds["source_id"].to_numpy())
    assert np.array_equal(small_sim.source_id[rows], preds["source_id"].to_numpy())
    saved = load_model(result.model_dir).predict(small_sim.flux[rows], small_sim.flux_error[rows])
    np.testing.assert_allclose(saved["z_q84"], preds["z_q84"], rtol=1e-5, atol=1e-6)
