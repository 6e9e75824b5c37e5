"""``xpz compare``: xpz predictions against the UGC redshifts of ``xpz fetch``'s candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from xpz.cli import main
from xpz.errors import InputError, XpzError
from xpz.evaluation import metrics
from xpz.evaluation.ugc import REPORT_FIGURE, REPORT_JSON, REPORT_MARKDOWN, compare_files

FIRST = 6_917_528_997_577_384_320  # ids above 2**53, as Gaia's are


@pytest.fixture
def files(tmp_path):
    """200 candidates (the last 10 without a UGC redshift) and two prediction files.

    Predictions cover candidates 20..199 plus 5 sources that are not candidates;
    3 predictions have no estimate (NaN).
    """
    rng = np.random.default_rng(7)
    n = 200
    z_ugc = rng.uniform(0.02, 0.5, n)
    z_ugc[-10:] = np.nan
    half = np.full(n, 0.03)
    candidates = Table(
        {
            "source_id": FIRST + np.arange(n, dtype=np.int64),
            "redshift_ugc": z_ugc,
            "redshift_ugc_lower": z_ugc - half,
            "redshift_ugc_upper": z_ugc + half,
            "classlabel_dsc": np.full(n, "galaxy"),
        }
    )
    cand = tmp_path / "candidates.ecsv"
    candidates.write(cand, delimiter=",")
    ids = np.r_[FIRST + np.arange(20, n), FIRST + 10_000 + np.arange(5)].astype(np.int64)
    truth = np.r_[np.nan_to_num(z_ugc[20:], nan=0.2), np.full(5, 0.2)]
    z_pred = truth + rng.normal(0, 0.02, len(ids)) * (1 + truth)
    z_pred[[0, 1, 2]] = np.nan
    first = Table(
        {"source_id": ids[:100], "z_pred": z_pred[:100], "flag": np.zeros(100, np.uint32)}
    )
    second = Table(
        {"source_id": ids[100:], "z_pred": z_pred[100:], "flag": np.zeros(85, np.uint32)}
    )
    paths = [tmp_path / "z_0.parquet", tmp_path / "z_1.csv"]
    first.write(paths[0])
    second.write(paths[1])
    return paths, cand, z_ugc, ids, z_pred


def test_counts_and_metrics_are_the_evaluation_metrics(files):
    paths, cand, z_ugc, ids, z_pred = files
    result = compare_files(paths, cand)
    assert result.counts == {
        "predictions": 185,
        "candidates": 200,
        "matched": 180,
        "predictions_without_candidate": 5,
        "candidates_without_prediction": 20,
        "without_ugc_redshift": 10,
        "without_estimate": 3,
        "compared": 167,
    }
    # candidates 23..189 have both, in id order
    zu, zp = z_ugc[23:190], z_pred[3:170]
    np.testing.assert_allclose(result.z_ugc, zu)
    assert result.metrics["sigma_nmad"] == pytest.approx(metrics.sigma_nmad(zu, zp))
    assert result.metrics["bias"] == pytest.approx(metrics.bias(zu, zp))
    inside = np.mean(np.abs(zp - zu) <= 0.03)
    assert result.metrics["inside_ugc_interval"] == pytest.approx(inside)
    assert 0.3 < inside < 0.9 and 0.01 < result.metrics["sigma_nmad"] < 0.03


def test_command_writes_markdown_json_and_figure(files, tmp_path, capsys):
    paths, cand, *_ = files
    out = tmp_path / "report"
    assert main(["compare", *map(str, paths), str(cand), "-o", str(out)]) == 0
    assert "167 sources compared (180 in both files)" in capsys.readouterr().out
    record = json.loads((out / REPORT_JSON).read_text())
    assert record["counts"]["compared"] == 167
    assert record["inputs"] == {
        "predictions": ["z_0.parquet", "z_1.csv"],
        "candidates": "candidates.ecsv",
    }
    text = (out / REPORT_MARKDOWN).read_text()
    assert "| without ugc redshift | 10 |" in text and REPORT_FIGURE in text
    assert (out / REPORT_FIGURE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_source_predicted_twice_is_refused(files):
    paths, cand, *_ = files
    with pytest.raises(InputError, match="source_id"):
        compare_files([paths[0], paths[0]], cand)


def test_no_common_source_is_a_clear_error(files, tmp_path):
    paths, _, *_ = files
    other = tmp_path / "other.ecsv"
    Table(
        {
            "source_id": [1, 2],
            **{c: [0.1, 0.2] for c in ("redshift_ugc", "redshift_ugc_lower", "redshift_ugc_upper")},
        }
    ).write(other)
    with pytest.raises(XpzError, match="no source has both"):
        compare_files(paths, other)


def test_candidates_without_ugc_columns_name_them(files, tmp_path, capsys):
    paths, _, *_ = files
    bare = tmp_path / "bare.csv"
    Table({"source_id": [1, 2]}).write(bare)
    assert main(["compare", str(paths[0]), str(bare), "-o", str(tmp_path / "r")]) == 2
    assert "bare.csv: no column(s) redshift_ugc, redshift_ugc_lower" in capsys.readouterr().err
