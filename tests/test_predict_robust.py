"""Bad input as a user would give it to ``xpz predict``: nothing lost, every error one clear line.

Every behaviour is checked with the default model (the ``xpz`` preset: XpzNet on
L2-normalised flux) and with the paper CNN (min-max), both tiny and untrained.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from xpz import inference
from xpz.errors import InputError
from xpz.spectra import Flag, Spectra

ARCHIVE = Path(__file__).parent / "data" / "gaia_archive"
ARCHIVE_FILES = sorted(p for p in ARCHIVE.iterdir() if p.name.startswith("XP_CONTINUOUS"))
N_PIXELS = 186


def tiny_model(path: Path, preset: str, flux: np.ndarray) -> Path:
    """A small untrained model of the ``preset`` recipe's kind and scaling, saved at ``path``."""
    from xpz.models.modelfile import save_model
    from xpz.models.registry import build_model
    from xpz.recipes import get_preset

    recipe = get_preset(preset)
    small = (
        {"conv_filters": (4,), "conv_kernels": (3,), "hidden_units": 8}
        if preset == "xpz"
        else {"conv_filters": (4,), "conv_kernels": (5,), "dense_units": (8,)}
    )
    config = dataclasses.replace(recipe.model, **small)
    return save_model(path, build_model(config, seed=0), recipe.make_scaler().fit(flux))


@pytest.fixture(scope="module", params=["xpz", "paper"])
def model(request, tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    flux = rng.lognormal(3.0, 0.5, (40, N_PIXELS)).astype(np.float32)
    return tiny_model(tmp_path_factory.mktemp(request.param) / "model", request.param, flux)


@pytest.fixture
def clean() -> Spectra:
    rng = np.random.default_rng(2)
    flux = rng.lognormal(3.0, 0.5, (12, N_PIXELS)).astype(np.float32)
    return Spectra(flux=flux, source_id=np.arange(12) + 10**18, flux_error=0.1 * flux)


def _corrupt(spectra: Spectra) -> Spectra:
    """Rows 1..6 made bad in each way item 2 of issue #16 lists (rows 0, 7.. stay clean)."""
    flux = spectra.flux.copy()
    flux[1, 10] = np.nan
    flux[2, 20] = np.inf
    flux[3] = 0.0
    flux[4, :63] = np.nan  # missing BP (the readers set the bit)
    flux[5, 63:] = np.nan  # missing RP
    flux[6, :] = -np.inf
    flag = spectra.flag.copy()
    flag[4] |= Flag.MISSING_BP
    flag[5] |= Flag.MISSING_RP
    return spectra.replace(flux=flux, flag=flag)


def _has(flag, bit: Flag) -> bool:
    return bool(int(flag) & int(bit))


def test_bad_rows_get_nan_and_flags_the_rest_are_predicted(model, clean):
    table = inference.predict(model, _corrupt(clean))
    assert len(table) == len(clean)
    np.testing.assert_array_equal(table["source_id"], clean.source_id)
    z = np.asarray(table["z_pred"])
    assert np.isnan(z[1:7]).all() and np.isfinite(np.delete(z, range(1, 7))).all()
    for row in range(1, 7):
        assert _has(table["flag"][row], Flag.NO_ESTIMATE), row
    assert _has(table["flag"][1], Flag.NONFINITE_FLUX)
    assert _has(table["flag"][2], Flag.NONFINITE_FLUX)
    assert _has(table["flag"][3], Flag.IMPLAUSIBLE_FLUX)  # all zero
    assert _has(table["flag"][4], Flag.MISSING_BP) and _has(table["flag"][5], Flag.MISSING_RP)
    assert not _has(table["flag"][0], Flag.NO_ESTIMATE)
    # the good rows are predicted as if the bad ones were not there
    alone = inference.predict(model, clean[[0, 7, 8]])
    np.testing.assert_allclose(z[[0, 7, 8]], alone["z_pred"], rtol=1e-5, atol=1e-6)


def test_bad_row_deep_in_a_chunked_file_keeps_every_row(model, clean, tmp_path):
    """A NaN in a later chunk neither aborts the run nor is reported at row 0."""
    from astropy.table import Table

    from xpz.io.tables import write_spectra

    many = Spectra(
        flux=np.tile(clean.flux, (5, 1)), source_id=np.arange(60) + 7 * 10**17, flux_error=None
    )
    flux = many.flux.copy()
    flux[47, 100] = np.nan
    src = write_spectra(many.replace(flux=flux), tmp_path / "in.csv")
    out = tmp_path / "cat.parquet"
    summary = inference.predict_files(model, [src], out, chunk_rows=8)
    got = Table.read(out)
    assert summary.rows == 60 and len(got) == 60
    bad = np.flatnonzero(~np.isfinite(np.asarray(got["z_pred"])))
    assert bad.tolist() == [47]
    assert _has(got["flag"][47], Flag.NO_ESTIMATE | Flag.NONFINITE_FLUX)


def test_an_error_inside_prediction_names_the_file_and_row(model, clean, tmp_path, monkeypatch):
    from xpz.io.tables import write_spectra

    src = write_spectra(clean, tmp_path / "in.parquet")

    def failing(*args, **kwargs):
        raise InputError("density is negative or not finite", rows=[1], column="pdf")

    monkeypatch.setattr(inference, "predict_spectra", failing)
    with pytest.raises(InputError) as caught:
        inference.predict_files(model, [src], tmp_path / "o.parquet", chunk_rows=5)
    message = str(caught.value)
    assert message.startswith(f"{src}: row 1:") and "pdf" not in message


@pytest.mark.parametrize("kind", ["negative", "huge", "mostly_negative"])
def test_implausible_spectra_are_flagged_and_keep_estimates(model, clean, kind):
    flux = clean.flux.copy()
    if kind == "negative":
        flux[0] = -np.abs(flux[0])
    elif kind == "huge":
        flux[0] = 1e30
    else:
        flux[0, ::2] = -3 * np.abs(flux[0, ::2])
    table = inference.predict(model, clean.replace(flux=flux))
    assert _has(table["flag"][0], Flag.IMPLAUSIBLE_FLUX)
    assert not any(_has(f, Flag.IMPLAUSIBLE_FLUX) for f in table["flag"][1:])
    assert len(table) == len(clean)


def test_real_and_simulated_spectra_are_not_implausible():
    from xpz.io.read import read_input
    from xpz.simulate.simulator import simulate

    sim = simulate(3000, seed=7)
    assert not inference.implausible_flux(sim.flux).any()
    for path in ARCHIVE_FILES:
        assert not inference.implausible_flux(read_input(path).flux).any(), path


@pytest.mark.parametrize("path", ARCHIVE_FILES, ids=lambda p: p.name)
def test_cli_predict_writes_every_real_archive_source(model, path, tmp_path, capsys):
    from astropy.table import Table

    from xpz.cli import main

    out = tmp_path / "cat.ecsv"
    assert main(["predict", str(model), str(path), "-o", str(out), "--no-progress"]) == 0
    got = Table.read(out)
    api = inference.predict(model, path)
    expected_rows = 3 if "missing_BP" in path.name else 2
    assert len(got) == len(api) == expected_rows
    np.testing.assert_array_equal(got["source_id"], api["source_id"])
    np.testing.assert_array_equal(got["flag"], api["flag"])
    for table in (got, api):
        z, flag = np.asarray(table["z_pred"]), np.asarray(table["flag"])
        if expected_rows == 3:
            assert _has(flag[1], Flag.MISSING_BP | Flag.NO_ESTIMATE) and np.isnan(z[1])
            assert np.isfinite(z[[0, 2]]).all() and not (flag[[0, 2]] & Flag.NO_ESTIMATE).any()
        else:
            assert np.isfinite(z).all() and not (flag & Flag.NO_ESTIMATE).any()


def test_duplicate_ids_across_two_files_are_refused(model, clean, tmp_path):
    from xpz.io.tables import write_spectra

    a = write_spectra(clean[:6], tmp_path / "a.csv")
    b = write_spectra(clean[4:], tmp_path / "b.parquet")
    out = tmp_path / "cat.parquet"
    with pytest.raises(InputError) as caught:
        inference.predict_files(model, [a, b], out, chunk_rows=3)
    message = str(caught.value)
    assert f"{a} row 4" in message and f"{b} row 0" in message
    assert f"duplicate source_id {clean.source_id[4]}" in message
    assert not out.exists()


def test_generated_ids_are_not_duplicates_across_files(model, clean, tmp_path):
    """Tables without a source_id column get 0..N-1 each; they are not refused."""
    import pandas as pd

    for name in ("a.csv", "b.csv"):
        frame = pd.DataFrame(clean.flux, columns=[f"flux_{i}" for i in range(N_PIXELS)])
        frame.to_csv(tmp_path / name, index=False)
    summary = inference.predict_files(
        model, [tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "o.parquet"
    )
    assert summary.rows == 2 * len(clean)


def test_onnx_runtime_keeps_bad_rows_too(model, clean, tmp_path):
    pytest.importorskip("onnxruntime")
    from xpz.export import export_onnx

    onnx_file = export_onnx(model, tmp_path / "m.onnx")
    data = _corrupt(clean)
    torch_table = inference.predict(model, data)
    onnx_table = inference.predict(onnx_file, data, runtime="onnx")
    np.testing.assert_array_equal(torch_table["flag"], onnx_table["flag"])
    np.testing.assert_allclose(torch_table["z_pred"], onnx_table["z_pred"], atol=1e-5)


def test_copied_model_still_predicts(model, clean, tmp_path):
    """A model directory copied elsewhere keeps its integrity (nothing path-dependent)."""
    copy = Path(shutil.copytree(model, tmp_path / "copy"))
    np.testing.assert_allclose(
        inference.predict(copy, clean)["z_pred"], inference.predict(model, clean)["z_pred"]
    )


def test_nan_coefficient_in_real_xp_file_flags_only_that_row(model, tmp_path):
    text = (ARCHIVE / "XP_CONTINUOUS_RAW_with_missing_BP.csv").read_text()
    header, first, *rest = text.split("\n")
    cells = first.split('"(')
    cells[1] = "nan" + cells[1][cells[1].index(",") :]  # the first BP coefficient of row 0
    path = tmp_path / "xp.csv"
    path.write_text("\n".join([header, '"('.join(cells), *rest]))
    table = inference.predict(model, path)
    assert len(table) == 3
    assert _has(table["flag"][0], Flag.NO_ESTIMATE) and np.isnan(table["z_pred"][0])
    assert np.isfinite(table["z_pred"][2])


def test_dask_partition_keeps_bad_rows(model, clean):
    """The Dask/lsdb path reuses predict_spectra: bad rows get NaN and flags there too."""
    from xpz.io.tables import spectra_to_table
    from xpz.scale.dask_predict import model_fingerprint, predict_partition

    frame = spectra_to_table(_corrupt(clean)).to_pandas()
    fingerprint = model_fingerprint(model)
    out = predict_partition(frame, model=str(model), fingerprint=fingerprint, runtime="torch")
    assert len(out) == len(clean)
    assert np.isnan(out["z_pred"].to_numpy()[1:7]).all()
    assert ((out["flag"].to_numpy()[1:7] & int(Flag.NO_ESTIMATE)) != 0).all()
