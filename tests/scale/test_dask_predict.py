"""Dask prediction on a real two-worker LocalCluster equals single-process prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xpz.inference import predict
from xpz.scale.dask_predict import is_hats, predict_dask, predict_partition
from xpz.spectra import Spectra


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes on loopback, shared by this module's tests (~10-20 s to start)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """300 spectra with large int64 ids (one NaN pixel) and a tiny saved paper model."""
    from xpz.models.modelfile import save_model
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler

    root = tmp_path_factory.mktemp("dask")
    rng = np.random.default_rng(7)
    n = 300
    flux = rng.lognormal(3.0, 1.0, (n, 186)).astype(np.float32)
    flux[4, 3] = np.nan
    ids = rng.choice(2**62, n, replace=False).astype(np.int64) + 2**62
    spectra = Spectra(flux=flux, source_id=ids)
    config = {"kind": "paper", "conv_filters": [4], "conv_kernels": [5], "dense_units": [8]}
    model = save_model(
        root / "model",
        build_model(config, seed=0),
        MinMaxScaler().fit(flux[:150]),  # the rest is partly outside the training range
    )
    return root, model, spectra


def _single_process(model, spectra: Spectra) -> pd.DataFrame:
    return predict(model, spectra).to_pandas().sort_values("source_id").reset_index(drop=True)


def _assert_same_rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.sort_values("source_id").reset_index(drop=True)
    assert list(got.columns[: len(expected.columns)]) == list(expected.columns)
    assert got["source_id"].to_numpy(np.int64).tolist() == expected["source_id"].tolist()
    assert got["flag"].to_numpy(np.uint32).tolist() == expected["flag"].tolist()
    z_got, z_expected = got["z_pred"].to_numpy(np.float32), expected["z_pred"].to_numpy()
    assert np.array_equal(np.isnan(z_got), np.isnan(z_expected))
    assert np.nanmax(np.abs(z_got - z_expected)) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_partitioned_parquet_equals_single_process(cluster, data, runtime):
    from xpz.io.tables import write_spectra

    root, model, spectra = data
    parts = root / f"in_{runtime}"
    parts.mkdir()
    for i, rows in enumerate([slice(0, 100), slice(100, 250), slice(250, 300)]):
        write_spectra(spectra[rows], parts / f"part{i}.parquet")
    out = predict_dask(
        model, parts, root / f"out_{runtime}", scheduler=cluster.scheduler_address, runtime=runtime
    )
    assert len(list(out.glob("*.parquet"))) == 3  # one output part per input part
    expected = _single_process(model, spectra)
    assert set(np.unique(expected["flag"])) > {0}  # the comparison covers set flag bits
    _assert_same_rows(pd.read_parquet(out), expected)
    assert not list(root.glob(f".out_{runtime}*"))  # no temporary left behind


@pytest.mark.slow
def test_hats_catalogue_equals_single_process(cluster, data):
    import lsdb

    root, model, spectra = data
    rng = np.random.default_rng(1)
    n = len(spectra)
    frame = pd.DataFrame(
        {
            "source_id": spectra.source_id,
            "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-60, 60, n),
        }
    )
    frame = pd.concat(
        [frame, pd.DataFrame(spectra.flux, columns=[f"flux_{i}" for i in range(186)])], axis=1
    )
    catalog = lsdb.from_dataframe(
        frame, ra_column="ra", dec_column="dec", partition_rows=100, margin_threshold=None
    )
    catalog.write_catalog(root / "hats_in", catalog_name="hats_in", progress_bar=False)
    assert is_hats(root / "hats_in")
    out = predict_dask(
        model, root / "hats_in", root / "hats_out", scheduler=cluster.scheduler_address
    )
    result = lsdb.open_catalog(out).compute()
    assert {"ra", "dec"} <= set(result.columns)
    _assert_same_rows(result, _single_process(model, spectra))


def test_empty_partition_gives_empty_rows_with_catalogue_columns(data):
    _, model, spectra = data
    from xpz.scale.dask_predict import model_fingerprint

    columns = {f"flux_{i}": np.empty(0, np.float32) for i in range(186)}
    frame = pd.DataFrame({"source_id": np.empty(0, np.int64), **columns})
    out = predict_partition(
        frame, model=str(model), fingerprint=model_fingerprint(model), runtime="torch"
    )
    assert list(out.columns) == ["source_id", "z_pred", "z_err", "ood_score", "flag"]
    assert len(out) == 0 and out["flag"].dtype == np.uint32


def test_missing_input_is_an_input_error(data, tmp_path):
    from xpz.errors import InputError

    _, model, _ = data
    with pytest.raises(InputError, match="no such file"):
        predict_dask(model, tmp_path / "nothing", tmp_path / "out")


def _archive_parquet_parts(folder):
    """GaiaXPy's real XP_CONTINUOUS rows (one without BP), as Parquet parts with list columns."""
    from pathlib import Path

    from xpz.io.raw_table import array_column, integer_column, load_table, scalar_column

    source = Path(__file__).parents[1] / "data" / "gaia_archive"
    table = load_table(source / "XP_CONTINUOUS_RAW_with_missing_BP.csv")
    columns = {}
    for name in table.columns:
        if name.endswith(("coefficients", "coefficient_errors", "coefficient_correlations")):
            cells = array_column(table, name)
            columns[name] = [None if c is None else c.tolist() for c in cells]
        elif name in ("source_id", "solution_id"):
            columns[name] = integer_column(table, name)
        else:
            columns[name] = scalar_column(table, name)
    frame = pd.DataFrame(columns)
    folder.mkdir()
    frame.iloc[:2].to_parquet(folder / "part0.parquet")
    frame.iloc[2:].to_parquet(folder / "part1.parquet")
    return source / "XP_CONTINUOUS_RAW_with_missing_BP.csv"


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_shipped_default_model_on_real_archive_rows_equals_single_process(
    cluster, tmp_path, runtime
):
    from xpz.spectra import Flag

    csv = _archive_parquet_parts(tmp_path / "parts")
    out = predict_dask(
        "default", tmp_path / "parts", tmp_path / "out", scheduler=cluster.scheduler_address,
        runtime=runtime,
    )  # fmt: skip
    expected = predict("default", csv, runtime=runtime)
    got = pd.read_parquet(out).sort_values("source_id")
    order = np.argsort(np.asarray(expected["source_id"]))
    assert got["source_id"].tolist() == np.asarray(expected["source_id"])[order].tolist()
    assert got["flag"].to_numpy(np.uint32).tolist() == np.asarray(expected["flag"])[order].tolist()
    missing_bp = (got["flag"].to_numpy(np.uint32) & np.uint32(Flag.MISSING_BP)) != 0
    assert missing_bp.sum() == 1 and np.isnan(got["z_pred"].to_numpy()[missing_bp]).all()
    for name in ("z_pred", "z_err", "ood_score"):
        np.testing.assert_allclose(
            got[name].to_numpy(np.float64), np.asarray(expected[name], np.float64)[order],
            rtol=0, atol=1e-5, err_msg=name,
        )  # fmt: skip
