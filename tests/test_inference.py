"""Chunked prediction: every row kept, flags set, same numbers however it is chunked."""

from __future__ import annotations

import numpy as np
import pytest

from xpz import inference
from xpz.spectra import Flag, Spectra


@pytest.fixture
def tiny_model(tmp_path, toy_spectra):
    from xpz.models.modelfile import save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler

    model = build_model(PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,)), seed=0)
    scaler = MinMaxScaler().fit(toy_spectra.flux)
    return save_model(tmp_path / "model", model, scaler)


def test_flag_predictions_sets_each_bit(toy_spectra):
    s = toy_spectra[:4]
    flux = s.flux.copy()
    flux[1, 3] = np.nan
    s = s.replace(flux=flux)
    ood_score = np.array([0.5, np.nan, 1.2, 1.0])
    z_pred = np.array([0.2, np.nan, 0.3, 0.599])
    flag = inference.flag_predictions(s, z_pred, (0.0, 0.6), ood_score)
    assert flag[0] == 0
    assert flag[1] & Flag.NONFINITE_FLUX
    assert flag[2] == Flag.OUT_OF_DISTRIBUTION
    assert flag[3] == Flag.Z_AT_EDGE


def test_predict_keeps_every_row_and_ids(tiny_model, toy_spectra):
    flux = toy_spectra.flux.copy()
    flux[3, :] = np.nan
    data = toy_spectra.replace(flux=flux)
    table = inference.predict(tiny_model, data)
    assert len(table) == len(data)
    assert table["source_id"].dtype == np.int64
    np.testing.assert_array_equal(table["source_id"], data.source_id)
    assert np.isnan(table["z_pred"][3]) and np.isfinite(np.delete(table["z_pred"], 3)).all()
    assert table["flag"][3] & Flag.NONFINITE_FLUX
    np.testing.assert_allclose(table["z"], data.z)


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".ecsv", ".csv", ".vot"])
def test_predict_files_every_format_same_rows(tmp_path, tiny_model, toy_spectra, suffix):
    from astropy.table import Table

    from xpz.io.tables import write_spectra

    src = tmp_path / "in.parquet"
    write_spectra(toy_spectra, src)
    whole = inference.predict(tiny_model, toy_spectra)
    out = tmp_path / f"cat{suffix}"
    summary = inference.predict_files(tiny_model, [src], out, chunk_rows=7)
    assert summary.rows == len(toy_spectra)
    got = Table.read(out)  # every format with the default reader, no options
    if suffix == ".csv":
        import pandas as pd

        frame = pd.read_csv(out)
        assert list(frame["source_id"]) == list(toy_spectra.source_id)
    np.testing.assert_array_equal(np.asarray(got["source_id"], np.int64), toy_spectra.source_id)
    np.testing.assert_allclose(
        np.asarray(got["z_pred"], float), whole["z_pred"], rtol=1e-5, atol=1e-6
    )
    assert not list(tmp_path.glob(".*partial*"))


def test_interrupted_prediction_leaves_no_output(tmp_path, tiny_model, toy_spectra, monkeypatch):
    from xpz.io.tables import write_spectra

    src = tmp_path / "in.csv"
    write_spectra(toy_spectra, src)
    calls = {"n": 0}
    real = inference.predict_spectra

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "predict_spectra", failing)
    out = tmp_path / "cat.parquet"
    with pytest.raises(KeyboardInterrupt):
        inference.predict_files(tiny_model, [src], out, chunk_rows=5)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "model"]


def test_directory_input_and_missing_input(tmp_path, tiny_model, toy_spectra):
    from xpz.errors import InputError
    from xpz.io.tables import write_spectra

    folder = tmp_path / "batches"
    write_spectra(toy_spectra[:8], folder / "a.parquet")
    write_spectra(toy_spectra[8:], folder / "b.csv")
    (folder / "manifest.json").write_text("{}")
    summary = inference.predict_files(tiny_model, [folder], tmp_path / "out.parquet")
    assert summary.rows == len(toy_spectra)
    with pytest.raises(InputError, match="no such file"):
        inference.predict_files(tiny_model, [tmp_path / "nope.csv"], tmp_path / "x.parquet")


def test_predict_from_pandas_dataframe(tiny_model, toy_spectra):
    from xpz.io.tables import spectra_to_table

    frame = spectra_to_table(toy_spectra).to_pandas()
    table = inference.predict(tiny_model, frame)
    np.testing.assert_array_equal(table["source_id"], toy_spectra.source_id)


def test_empty_spectra_give_empty_catalogue(tmp_path, tiny_model):
    empty = Spectra(flux=np.empty((0, 186)))
    table = inference.predict(tiny_model, empty)
    assert len(table) == 0 and "z_pred" in table.colnames


def test_cli_predict_runtimes_agree(tmp_path, tiny_model, toy_spectra):
    from astropy.table import Table

    from xpz.cli import main
    from xpz.io.tables import write_spectra

    src = write_spectra(toy_spectra, tmp_path / "in.parquet")
    for runtime in ("torch", "onnx"):
        out = tmp_path / f"{runtime}.parquet"
        args = ["predict", str(tiny_model), str(src), "-o", str(out), "--no-progress"]
        assert main([*args, "--runtime", runtime]) == 0
    torch_cat, onnx_cat = (
        Table.read(tmp_path / "torch.parquet"),
        Table.read(tmp_path / "onnx.parquet"),
    )
    np.testing.assert_array_equal(torch_cat["source_id"], onnx_cat["source_id"])
    np.testing.assert_allclose(torch_cat["z_pred"], onnx_cat["z_pred"], atol=1e-5)
    np.testing.assert_array_equal(torch_cat["flag"], onnx_cat["flag"])


def test_z_at_edge_uses_the_models_own_range(tmp_path, toy_spectra):
    """A model with z_max 0.4 flags a prediction near 0.4, not one at 0.3 (not 0.6's edge)."""
    import dataclasses

    from xpz.models.modelfile import LoadedModel, load_model, save_model
    from xpz.models.registry import build_model
    from xpz.models.xpznet import XpzNetConfig
    from xpz.preprocess import MinMaxScaler

    config = XpzNetConfig(
        conv_filters=(4,), conv_kernels=(3,), hidden_units=8, n_bins=20, z_max=0.4
    )
    scaler = MinMaxScaler().fit(toy_spectra.flux)
    loaded = load_model(save_model(tmp_path / "m", build_model(config, seed=0), scaler))
    assert loaded.z_range == (0.0, 0.4)

    @dataclasses.dataclass(frozen=True)
    class Fixed(LoadedModel):  # the loaded model, with chosen predictions
        def predict(self, flux, flux_error=None, batch_size=4096, *, pdf=True):
            return {"z_pred": np.array([0.398, 0.3, 0.2], np.float32)}

    fixed = Fixed(loaded.model, loaded.scaler, loaded.metadata, loaded.path)
    spectra = toy_spectra[:3].replace(flux=np.full((3, 186), 5.0, np.float32))
    _, flag = inference.predict_spectra(fixed, spectra)
    edge = (flag & np.uint32(Flag.Z_AT_EDGE)) != 0
    assert edge.tolist() == [True, False, False]


_PREDICT_WITHOUT_TRAINING = """
import argparse, sys
import xpz.commands.predict as command
import xpz.inference as inference
model, data, out = sys.argv[1:4]
parser = argparse.ArgumentParser()
command.add_arguments(parser)
assert command.run(parser.parse_args([model, data, "-o", out, "--no-progress"])) == 0
assert len(inference.predict(model, data)) == 20
loaded = sorted(m for m in sys.modules if m.split(".")[:2] == ["xpz", "training"])
print("LOADED", loaded)
assert not loaded, loaded
"""


def test_xpz_predict_imports_nothing_from_training(tmp_path, tiny_model, toy_spectra):
    """The model-file path of ``xpz predict`` (commands/predict, inference) needs no xpz.training."""
    import os
    import subprocess
    import sys

    from xpz.io.tables import write_spectra

    data = write_spectra(toy_spectra, tmp_path / "in.parquet")
    out = tmp_path / "cat.parquet"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", _PREDICT_WITHOUT_TRAINING, str(tiny_model), str(data), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LOADED []" in done.stdout and out.is_file()
