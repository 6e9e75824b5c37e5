"""ONNX export: same numbers as torch, scaler folded in, metadata embedded, atomic output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xpz.export import OnnxModel, export_onnx
from xpz.models.modelfile import load_model, predict_batches, save_model


def _save_paper(path, flux, scaler, input_channels=1):
    from xpz.models.registry import build_model

    config = {"kind": "paper", "conv_filters": [4], "conv_kernels": [5], "dense_units": [8]}
    model = build_model({**config, "input_channels": input_channels}, seed=0)
    return save_model(path, model, scaler.fit(flux), metadata={"z_range": [0.0, 0.6]})


@pytest.fixture
def spectra(rng):
    """Positive spectrum-like fluxes with one NaN pixel and one all-NaN row."""
    flux = rng.lognormal(3.0, 1.0, (64, 186)).astype(np.float32)
    flux[3, 40] = np.nan
    flux[7] = np.nan
    return flux, (0.1 * np.nan_to_num(flux, nan=1.0)).astype(np.float32)


def test_minmax_paper_model_matches_torch(tmp_path, spectra):
    from xpz.preprocess import MinMaxScaler

    flux, _ = spectra
    model_dir = _save_paper(tmp_path / "model", flux, MinMaxScaler())
    path = export_onnx(model_dir, tmp_path / "model.onnx")
    expected = predict_batches(load_model(model_dir), flux)
    got = OnnxModel(path).predict(flux, batch_size=10)  # several batches, one partial
    assert set(got) == set(expected) == {"z_pred"}
    assert np.array_equal(np.isnan(got["z_pred"]), np.isnan(expected["z_pred"]))
    assert np.nanmax(np.abs(got["z_pred"] - expected["z_pred"])) < 1e-5
    assert np.isnan(got["z_pred"][[3, 7]]).all()  # NaN in, NaN out, as in torch


def test_per_spectrum_median_two_channel_model_matches_torch(tmp_path, spectra):
    from xpz.preprocess import PerSpectrumScaler, SpectrumNorm

    flux, flux_error = spectra
    model_dir = _save_paper(tmp_path / "m", flux, PerSpectrumScaler(SpectrumNorm.MEDIAN), 2)
    runner = OnnxModel(export_onnx(model_dir, tmp_path / "m.onnx"))
    assert runner.input_names == ["flux", "flux_error"]
    expected = predict_batches(load_model(model_dir), flux, flux_error)["z_pred"]
    got = runner.predict(flux, flux_error)["z_pred"]
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.nanmax(np.abs(got - expected)) < 1e-5
    with pytest.raises(ValueError, match="flux_error"):
        runner.predict(flux)


def test_metadata_is_embedded_and_empty_input_works(tmp_path, spectra):
    from xpz.preprocess import MinMaxScaler

    flux, _ = spectra
    model_dir = _save_paper(tmp_path / "model", flux, MinMaxScaler())
    runner = OnnxModel(export_onnx(model_dir, tmp_path / "model.onnx"))
    stored = json.loads((model_dir / "model.json").read_text())
    props = runner.session.get_modelmeta().custom_metadata_map
    assert props["xpz.weights_sha256"] == stored["weights"]["sha256"]
    assert props["xpz.layout_version"] == str(stored["layout_version"])
    assert runner.info == stored
    assert runner.metadata == {"z_range": [0.0, 0.6]}
    assert runner.z_range == load_model(model_dir).z_range == (0.0, 0.6)  # the model's own
    assert runner.predict(flux[:0])["z_pred"].shape == (0,)


def test_model_directory_runs_without_an_export_step(tmp_path, spectra):
    from xpz.preprocess import MinMaxScaler

    flux, _ = spectra
    model_dir = _save_paper(tmp_path / "model", flux, MinMaxScaler())
    from_dir = OnnxModel(model_dir).predict(flux)["z_pred"]
    from_file = OnnxModel(export_onnx(model_dir, tmp_path / "m.onnx")).predict(flux)["z_pred"]
    np.testing.assert_array_equal(from_dir, from_file)


def test_untraceable_model_is_refused_and_nothing_written(tmp_path, spectra, monkeypatch):
    import torch

    from xpz.errors import XpzError
    from xpz.models.paper import PaperCNN
    from xpz.preprocess import MinMaxScaler

    flux, _ = spectra
    model_dir = _save_paper(tmp_path / "model", flux, MinMaxScaler())

    def numpy_summary(self, output):  # leaves the graph: traced as a constant
        return {"z_pred": torch.from_numpy(output[:, 0].detach().numpy().copy())}

    monkeypatch.setattr(PaperCNN, "summarize", numpy_summary)
    with pytest.raises(XpzError, match="does not reproduce"):
        export_onnx(model_dir, tmp_path / "bad.onnx")
    assert list(tmp_path.glob("*.onnx*")) == []


def test_predict_files_onnx_matches_predict_files(tmp_path, toy_spectra):
    import pyarrow.parquet as pq
    from astropy.table import Table

    from xpz.inference import predict_files
    from xpz.io.tables import write_spectra
    from xpz.preprocess import MinMaxScaler

    flux = toy_spectra.flux.copy()
    flux[2, 5] = np.nan
    spectra = toy_spectra.replace(flux=flux)
    model_dir = _save_paper(tmp_path / "model", spectra.flux, MinMaxScaler())
    data = write_spectra(spectra, tmp_path / "in.parquet")
    torch_summary = predict_files(model_dir, [data], tmp_path / "torch.parquet", chunk_rows=7)
    onnx_summary = predict_files(
        model_dir, [data], tmp_path / "onnx.parquet", chunk_rows=7, runtime="onnx"
    )
    assert onnx_summary.rows == torch_summary.rows == len(spectra)
    assert onnx_summary.flagged == torch_summary.flagged
    a, b = Table.read(tmp_path / "torch.parquet"), Table.read(tmp_path / "onnx.parquet")
    assert a.colnames == b.colnames
    assert a["source_id"].tolist() == b["source_id"].tolist()
    assert a["flag"].tolist() == b["flag"].tolist()
    np.testing.assert_allclose(b["z_pred"], a["z_pred"], atol=1e-5)
    meta = pq.read_schema(tmp_path / "onnx.parquet").metadata
    assert meta[b"runtime"] == b"onnx"
    assert (
        meta[b"model_sha256"]
        == pq.read_schema(tmp_path / "torch.parquet").metadata[b"model_sha256"]
    )


def test_cli_export(tmp_path, spectra, capsys):
    from xpz.cli import main
    from xpz.preprocess import MinMaxScaler

    model_dir = _save_paper(tmp_path / "model", spectra[0], MinMaxScaler())
    assert main(["export", str(model_dir), "--onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    assert "m.onnx" in capsys.readouterr().out
    assert OnnxModel(tmp_path / "m.onnx").output_names == ["z_pred"]


def test_edited_model_json_in_onnx_metadata_is_refused(tmp_path, spectra):
    """The ONNX copy of model.json keeps its integrity checksum and is verified when run."""
    import onnx

    from xpz.models.modelfile import ModelFileError
    from xpz.preprocess import MinMaxScaler

    flux, _ = spectra
    path = export_onnx(_save_paper(tmp_path / "m", flux, MinMaxScaler()), tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    info = json.loads(props["xpz.model_json"])
    assert "integrity" in info
    info["scaler"]["data_min"][0] = -5.0
    props["xpz.model_json"] = json.dumps(info)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(tmp_path / "edited.onnx"))
    with pytest.raises(ModelFileError, match=r"edited\.onnx: model config checksum mismatch"):
        OnnxModel(tmp_path / "edited.onnx")


def _save_tiny_xpznet(path, flux):
    """A tiny XpzNet with the default recipe's scaling and a fitted temperature."""
    from xpz.models.registry import build_model
    from xpz.models.xpznet import XpzNetConfig
    from xpz.recipes import xpz_recipe

    config = XpzNetConfig(conv_filters=(4, 8), conv_kernels=(5, 3), hidden_units=16, n_bins=60)
    model = build_model(config, seed=0)
    model.set_temperature(1.7)
    scaler = xpz_recipe().make_scaler().fit(flux)
    return save_model(path, model, scaler, metadata={"z_range": [0.0, 0.6]})


def _max_difference(got, expected):
    """Largest |ONNX - torch| of each output, NaN where both are NaN."""
    assert set(got) == set(expected)
    out = {}
    for name, value in expected.items():
        assert got[name].shape == value.shape, name
        assert np.array_equal(np.isnan(got[name]), np.isnan(value)), name
        out[name] = float(np.nanmax(np.abs(got[name] - value)))
    return out


@pytest.mark.parametrize("include_pdf", [False, True])
def test_default_model_xpznet_matches_torch(tmp_path, spectra, include_pdf):
    flux, _ = spectra
    model_dir = _save_tiny_xpznet(tmp_path / "xpz", flux)
    runner = OnnxModel(export_onnx(model_dir, tmp_path / "xpz.onnx", include_pdf=include_pdf))
    expected = predict_batches(load_model(model_dir), flux)
    quantiles = {"z_pred", "z_err", "z_q025", "z_q16", "z_q84", "z_q975"}
    assert set(expected) == quantiles | {"pdf"}
    if not include_pdf:
        del expected["pdf"]
    assert set(runner.output_names) == set(expected)
    differences = _max_difference(runner.predict(flux, batch_size=10), expected)
    assert all(d < 1e-5 for d in differences.values()), differences
    assert np.isnan(expected["z_pred"][7])  # the all-NaN row: NaN in both
    summaries = {name: expected[name] for name in quantiles}
    for without_pdf in (
        runner.predict(flux, pdf=False),
        predict_batches(load_model(model_dir), flux, pdf=False),
    ):
        assert set(without_pdf) == quantiles  # pdf=False: the summaries, not the PDF
        assert max(_max_difference(without_pdf, summaries).values()) < 1e-5


def test_cli_export_of_default_model_with_pdf(tmp_path, spectra, capsys):
    from xpz.cli import main

    model_dir = _save_tiny_xpznet(tmp_path / "xpz", spectra[0])
    command = ["export", str(model_dir), "--onnx", "--pdf", "-o", str(tmp_path / "m.onnx")]
    assert main(command) == 0
    assert "m.onnx" in capsys.readouterr().out
    outputs = OnnxModel(tmp_path / "m.onnx").session.get_outputs()
    assert [o.name for o in outputs][-1] == "pdf" and outputs[-1].shape[1] == 60
