"""Inputs without rows, and the archive's sampled product, are refused alike, in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from xpz.errors import InputError
from xpz.io.read import iter_input, read_input
from xpz.io.tables import write_spectra
from xpz.spectra import Spectra

ARCHIVE = Path(__file__).parents[1] / "data" / "gaia_archive"
XP_FILES = sorted(p for p in ARCHIVE.iterdir() if p.name.startswith("XP_CONTINUOUS"))


def header_only_xp(tmp_path: Path, suffix: str) -> Path:
    """The real archive CSV (or ECSV) cut to its header, or its columns as empty Parquet."""
    path = tmp_path / f"header_only{suffix}"
    if suffix == ".parquet":
        pd.read_csv(ARCHIVE / "XP_CONTINUOUS_RAW.csv").iloc[:0].to_parquet(path)
    else:
        lines = (ARCHIVE / f"XP_CONTINUOUS_RAW{suffix}").read_text().splitlines()
        n_header = sum(line.startswith("#") for line in lines) + 1
        path.write_text("\n".join(lines[:n_header]) + "\n")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".parquet"])
def test_header_only_xp_continuous_file_is_an_input_error(tmp_path, suffix):
    path = header_only_xp(tmp_path, suffix)
    with pytest.raises(InputError, match=rf"{path.name}: the table has no data rows"):
        read_input(path)
    with pytest.raises(InputError, match=rf"{path.name}: the table has no data rows"):
        list(iter_input(path, chunk_rows=8))


def test_header_only_sampled_file_says_the_same(tmp_path):
    path = write_spectra(Spectra(flux=np.ones((2, 186))), tmp_path / "s.parquet")
    empty = tmp_path / "header_only.csv"
    pd.read_parquet(path).iloc[:0].to_csv(empty, index=False)
    for read in (read_input, lambda p: list(iter_input(p))):
        with pytest.raises(InputError, match=r"header_only\.csv: the table has no data rows"):
            read(empty)


@pytest.fixture
def tiny_model(tmp_path, toy_spectra):
    from xpz.models.modelfile import save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler

    model = build_model(PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,)), seed=0)
    return save_model(tmp_path / "model", model, MinMaxScaler().fit(toy_spectra.flux))


def predict(model: Path, data: Path, out: Path, capsys) -> tuple[int, list[str]]:
    from xpz.cli import main

    code = main(["predict", str(model), str(data), "-o", str(out), "--no-progress"])
    return code, capsys.readouterr().err.strip().splitlines()


def test_predict_on_a_header_only_xp_file_exits_2_with_one_line(tmp_path, tiny_model, capsys):
    data = header_only_xp(tmp_path, ".csv")
    code, err = predict(tiny_model, data, tmp_path / "cat.parquet", capsys)
    assert code == 2
    assert len(err) == 1 and "header_only.csv: the table has no data rows" in err[0]
    assert not (tmp_path / "cat.parquet").exists()


# ------------------------------------------------ the archive's XP_SAMPLED product


def xp_sampled_table(n: int = 3, n_samples: int = 343) -> Table:
    """Rows laid out as the archive's XP_SAMPLED (GaiaXPy's XP_SPECTRA_RAW) files."""
    rng = np.random.default_rng(3)
    return Table(
        {
            "source_id": np.arange(n, dtype=np.int64) + 5_853_498_713_190_525_696,
            "solution_id": np.full(n, 375_316_653_866_487_564, dtype=np.int64),
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-90, 90, n),
            "flux": rng.normal(1e-16, 1e-17, (n, n_samples)).astype(np.float32),
            "flux_error": np.full((n, n_samples), 1e-18, dtype=np.float32),
        }
    )


def write_xp_sampled(table: Table, path: Path) -> Path:
    """As the archive writes it: CSV with '(v1, v2, ...)' array cells; ECSV, FITS, VOTable."""
    if path.suffix == ".csv":
        lines = [",".join(table.colnames)]
        for row in table:
            cells = [
                '"(' + ", ".join(f"{v:.6g}" for v in row[c]) + ')"' if row[c].ndim else str(row[c])
                for c in table.colnames
            ]
            lines.append(",".join(cells))
        path.write_text("\n".join(lines) + "\n")
    else:
        fmt = {".ecsv": "ascii.ecsv", ".fits": "fits", ".xml": "votable"}[path.suffix]
        table.write(path, format=fmt)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".xml"])
def test_the_archives_sampled_product_is_refused_with_what_xpz_reads(tmp_path, suffix):
    path = write_xp_sampled(xp_sampled_table(), tmp_path / f"XP_SAMPLED{suffix}")
    for read in (read_input, lambda p: list(iter_input(p))):
        with pytest.raises(InputError) as caught:
            read(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: looks like the Gaia archive's XP_SAMPLED product")
        assert "XP_CONTINUOUS" in message and "flux_0 .. flux_185" in message
        assert "xpz fetch" in message and "\n" not in message


def test_the_sampled_product_in_memory_is_refused_too():
    with pytest.raises(InputError, match=r"^<mine>: looks like the Gaia archive's XP_SAMPLED"):
        read_input(xp_sampled_table(), name="<mine>")


def test_an_xpz_table_with_one_flux_column_is_not_taken_for_the_product(tmp_path):
    path = write_spectra(
        Spectra(flux=np.ones((2, 186))), tmp_path / "s.parquet", parquet_layout="list"
    )
    assert len(read_input(path)) == 2


def test_real_archive_files_still_read(tmp_path):
    for path in XP_FILES:
        shutil.copy(path, tmp_path / path.name)
    assert XP_FILES and all(len(read_input(tmp_path / p.name)) in (2, 3) for p in XP_FILES)
