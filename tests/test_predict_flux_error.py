"""``xpz predict`` samples XP_CONTINUOUS input without flux errors unless the model reads them."""

from __future__ import annotations

import numpy as np
import pytest

from xpz import inference
from xpz.io.read import read_input
from xpz.models.paper import PaperConfig
from xpz.models.xpznet import XpzNetConfig
from xpz.predict_inputs import reads_flux_error
from xpz.simulate.xp_archive import xp_archive_frame
from xpz.xp import sampling

#: The default model's kind (the ``xpz`` preset's XpzNet reads fluxes only), tiny.
FLUX_ONLY = XpzNetConfig(conv_filters=(4,), conv_kernels=(3,), hidden_units=8, n_bins=20)
#: A paper CNN with an error channel.
WITH_ERRORS = PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,), input_channels=2)


@pytest.fixture
def xp_file(tmp_path):
    path = tmp_path / "xp.parquet"
    xp_archive_frame(30, seed=5).to_parquet(path)
    return path


def saved_model(tmp_path, config, spectra):
    from xpz.models.modelfile import save_model
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler

    scaler = MinMaxScaler().fit(spectra.flux)
    return save_model(tmp_path / type(config).__name__, build_model(config, seed=0), scaler)


@pytest.fixture
def counted_errors(monkeypatch):
    """Calls of the error propagation; ``refuse()`` makes every later call fail."""
    real, calls = sampling._pixel_errors, []

    def counting(*args, **kwargs):
        calls.append(1)
        if "refuse" in calls:
            raise AssertionError("flux errors computed")
        return real(*args, **kwargs)

    monkeypatch.setattr(sampling, "_pixel_errors", counting)
    return calls


def test_flux_only_model_gives_the_same_catalogue_without_errors(tmp_path, xp_file, counted_errors):
    from astropy.table import Table

    from xpz.cli import main

    spectra = read_input(xp_file)  # with errors, as before
    assert spectra.flux_error is not None
    model = saved_model(tmp_path, FLUX_ONLY, spectra)
    before = inference.predict(model, spectra)
    assert np.isfinite(before["z_pred"]).all()
    counted_errors.append("refuse")
    out = tmp_path / "cat.parquet"
    assert main(["predict", str(model), str(xp_file), "-o", str(out), "--no-progress"]) == 0
    for catalogue in (Table.read(out), inference.predict(model, xp_file)):
        np.testing.assert_array_equal(catalogue["source_id"], before["source_id"])
        np.testing.assert_array_equal(catalogue["z_pred"], before["z_pred"])
        np.testing.assert_array_equal(catalogue["flag"], before["flag"])
    frame = xp_archive_frame(30, seed=5)
    np.testing.assert_array_equal(inference.predict(model, frame)["z_pred"], before["z_pred"])


def test_error_reading_model_gets_exact_errors(tmp_path, xp_file, counted_errors):
    spectra = read_input(xp_file)
    model = saved_model(tmp_path, WITH_ERRORS, spectra)
    before = inference.predict(model, spectra)
    calls = len(counted_errors)
    out = tmp_path / "cat.parquet"
    inference.predict_files(model, [xp_file], out)
    assert len(counted_errors) > calls  # the error propagation ran
    from astropy.table import Table

    np.testing.assert_array_equal(Table.read(out)["z_pred"], before["z_pred"])
    counted_errors.append("refuse")
    with pytest.raises(AssertionError, match="flux errors computed"):
        inference.predict(model, xp_file)


def test_torch_and_onnx_models_say_whether_they_read_errors(tmp_path, xp_file):
    from xpz.export import OnnxModel, export_onnx
    from xpz.models.modelfile import load_model

    spectra = read_input(xp_file)
    for config, reads in ((FLUX_ONLY, False), (WITH_ERRORS, True)):
        model = saved_model(tmp_path, config, spectra)
        onnx = export_onnx(model, tmp_path / f"{type(config).__name__}.onnx")
        assert reads_flux_error(load_model(model)) is reads
        assert reads_flux_error(OnnxModel(onnx)) is reads


def test_dask_partitions_skip_errors_for_a_flux_only_model(tmp_path, counted_errors):
    from xpz.scale.dask_predict import model_fingerprint, predict_partition

    frame = xp_archive_frame(30, seed=5)
    spectra = read_input(frame)
    results = {}
    for config in (FLUX_ONLY, WITH_ERRORS):
        model = saved_model(tmp_path, config, spectra)
        expected = inference.predict(model, spectra)
        calls = len(counted_errors)
        out = predict_partition(
            frame, model=str(model), fingerprint=model_fingerprint(model), runtime="torch"
        )
        np.testing.assert_array_equal(out["z_pred"].to_numpy(), expected["z_pred"])
        results[config.input_channels] = len(counted_errors) - calls
    assert results == {1: 0, 2: 2}  # one call per band for the error-reading model
