"""The shipped default model: ``xpz predict default FILE`` on the real archive files, its card."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import numpy as np
import pytest

from xpz.models.shipped import SHIPPED_DIR, ShippedModel, resolve_model
from xpz.spectra import Flag

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "tests" / "data" / "gaia_archive"
ARCHIVE_FILES = sorted(p for p in ARCHIVE.iterdir() if p.name.startswith("XP_CONTINUOUS"))
DEFAULT = ShippedModel.DEFAULT.path


def test_the_default_model_is_package_data_under_2_mb():
    files = sorted(p.name for p in DEFAULT.iterdir())
    assert files == ["model.json", "model.safetensors"]
    assert sum(p.stat().st_size for p in DEFAULT.iterdir()) < 2 * 1024 * 1024
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["xpz"]
    package = SHIPPED_DIR.parents[1]
    for file in DEFAULT.iterdir():
        relative = file.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative


def test_the_name_default_resolves_unless_a_path_of_that_name_exists(tmp_path, monkeypatch):
    assert resolve_model("default") == DEFAULT
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    assert resolve_model("default") == Path("default")


@pytest.mark.parametrize("path", ARCHIVE_FILES, ids=lambda p: p.name)
def test_predict_default_on_every_real_archive_file(path, tmp_path, capsys):
    from astropy.table import Table

    from xpz.cli import main

    out = tmp_path / "cat.parquet"
    assert main(["predict", "default", str(path), "-o", str(out), "--no-progress"]) == 0
    assert "wrote" in capsys.readouterr().out
    table = Table.read(out)
    assert len(table) > 0 and "ood_score" in table.colnames
    flag = np.asarray(table["flag"])
    missing = (flag & np.uint32(Flag.MISSING_BP | Flag.MISSING_RP)) != 0
    z = np.asarray(table["z_pred"])
    assert np.isnan(z[missing]).all() and (flag[missing] & np.uint32(Flag.NO_ESTIMATE)).all()
    assert np.isfinite(z[~missing]).all()
    assert np.isfinite(np.asarray(table["ood_score"])[~missing]).all()
    if "missing_BP" in path.name:
        assert missing.any()


def test_info_default_prints_the_model_card(capsys):
    from xpz.cli import main

    assert main(["info", "default"]) == 0
    text = capsys.readouterr().out
    for expected in (
        "kind: xpznet_ensemble",  # the xpz preset: two XpzNets
        "multiply-adds per spectrum",
        "simulator: xpz-sim-v2",  # the randomised mixture's knobs are on
        "training_data: randomised",
        "n_spectra: 60000",
        "temperature",
        "ood_score > 1",
        "has never seen real Gaia spectra",
    ):
        assert expected in text, expected


def test_python_predict_takes_the_name_default():
    from xpz.inference import predict
    from xpz.simulate import simulate

    table = predict("default", simulate(50, seed=3))
    assert len(table) == 50 and np.isfinite(np.asarray(table["z_pred"])).all()


def test_evaluate_and_export_take_the_name_default(tmp_path, capsys):
    from xpz.cli import main
    from xpz.inference import predict
    from xpz.io.tables import write_spectra
    from xpz.simulate import simulate

    spectra = simulate(200, seed=4)
    write_spectra(spectra, tmp_path / "sim.parquet")
    assert (
        main(["evaluate", "default", str(tmp_path / "sim.parquet"), "-o", str(tmp_path / "r")]) == 0
    )
    assert "MAE" in capsys.readouterr().out
    assert main(["export", "default", "--onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    onnx = predict(tmp_path / "m.onnx", spectra, runtime="onnx")
    torch_ = predict("default", spectra)
    np.testing.assert_allclose(onnx["ood_score"], torch_["ood_score"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(onnx["z_pred"], torch_["z_pred"], atol=1e-4)
