"""Per-bin table (the dissertation's Table 3) against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.evaluation import binned
from xpz.reference import dissertation_per_bin

EDGES = [0.0, 0.1, 0.2, 0.3]
# bin 0: z 0.00, 0.05 -> errors +0.01, +0.03; bin 1: 0.1, 0.15, 0.19 -> -0.02, 0, +0.05
# bin 2 (closed): 0.3 -> -0.1; 0.35 is outside every bin.
Z_TRUE = np.array([0.0, 0.05, 0.1, 0.15, 0.19, 0.3, 0.35])
Z_PRED = Z_TRUE + np.array([0.01, 0.03, -0.02, 0.0, 0.05, -0.1, 0.2])


def test_per_bin_table_by_hand():
    table = binned.per_bin_table(Z_TRUE, Z_PRED, edges=EDGES)
    assert table.colnames == [
        "z_lo",
        "z_hi",
        "n",
        "percent_of_data",
        "mean_error",
        "std",
        "mae",
        "bias",
        "sigma_nmad",
        "sigma_iqr",
        "outlier_rate",
        "outlier_frac_015",
    ]
    assert table["n"].tolist() == [2, 3, 1]
    np.testing.assert_allclose(table["percent_of_data"], [200 / 7, 300 / 7, 100 / 7])
    np.testing.assert_allclose(table["mean_error"], [0.02, 0.01, -0.1], atol=1e-12)
    np.testing.assert_allclose(
        table["std"], [0.01, np.sqrt((0.03**2 + 0.01**2 + 0.04**2) / 3), 0.0], atol=1e-12
    )
    np.testing.assert_allclose(table["mae"], [0.02, 0.07 / 3, 0.1], atol=1e-12)
    assert table.meta["std_ddof"] == 0


def test_robust_columns_per_bin_by_hand():
    table = binned.per_bin_table(Z_TRUE, Z_PRED, edges=EDGES)
    # bin 1: dz = [-0.02/1.1, 0, 0.05/1.19]
    dz1 = np.array([-0.02 / 1.1, 0.0, 0.05 / 1.19])
    assert table["bias"][1] == pytest.approx(0.0)
    assert table["sigma_nmad"][1] == pytest.approx(1.4826 * np.median(np.abs(dz1)))
    q25, q75 = np.quantile(dz1, [0.25, 0.75])
    assert table["sigma_iqr"][1] == pytest.approx((q75 - q25) / 1.349)
    # |dz| < the 0.06 floor in bins 0 and 1; bin 2 has dz = -0.1 / 1.3 = -0.077
    assert table["outlier_rate"].tolist() == [0.0, 0.0, 1.0]
    assert table["outlier_frac_015"].tolist() == [0.0, 0.0, 0.0]
    assert table["sigma_nmad"][2] == 0.0  # one galaxy


def test_per_magnitude_table_bins_by_g_with_open_ends():
    g = np.array([15.0, 17.2, 17.9, 19.6, 21.5, np.nan, 20.4])
    table = binned.per_magnitude_table(g, Z_TRUE, Z_PRED)
    assert table.colnames[:4] == ["g_lo", "g_hi", "n", "percent_of_data"]
    assert table["n"].tolist() == [1, 2, 0, 0, 1, 1, 1]  # the NaN G falls in no bin
    assert np.isneginf(table["g_lo"][0]) and np.isposinf(table["g_hi"][-1])
    assert table["mae"][1] == pytest.approx((0.03 + 0.02) / 2)
    assert table["mae"][-1] == pytest.approx(0.05)  # G = 21.5 is in the open last bin
    assert table["mae"][-2] == pytest.approx(0.2)
    header, rows = binned.robust_rows(table)
    assert header[0] == "G bin (mag)" and rows[0][0] == "< 17.0" and rows[-1][0] == ">= 20.5"
    with pytest.raises(binned.InputError, match="G magnitude"):
        binned.per_magnitude_table(g[:3], Z_TRUE, Z_PRED)


def test_empty_bins_are_nan_not_errors():
    table = binned.per_bin_table([0.01, 0.02], [0.0, 0.0])
    assert len(table) == 12
    assert table["n"][1:].tolist() == [0] * 11
    assert np.isnan(table["mean_error"][1:]).all() and np.isnan(table["std"][1:]).all()


def test_last_bin_is_closed_on_the_right():
    assert binned.bin_index([0.6, 0.55, 0.6000001], binned.DEFAULT_EDGES).tolist() == [11, 11, -1]


def test_bad_edges_rejected():
    with pytest.raises(ValueError):
        binned.per_bin_table([0.1], [0.1], edges=[0.2, 0.1])


def test_compare_with_dissertation_matches_on_edges():
    table = binned.per_bin_table(Z_TRUE, Z_PRED, edges=[0.0, 0.05, 0.1, 0.13])
    both = binned.compare_with_dissertation(table)
    reference = dissertation_per_bin()
    np.testing.assert_allclose(both["dissertation_mean_error"][:2], reference["mean_error"][:2])
    np.testing.assert_allclose(both["dissertation_std"][:2], reference["std"][:2])
    assert np.isnan(both["dissertation_percent_of_data"][2])  # 0.10-0.13 is not a Table 3 bin
    np.testing.assert_array_equal(both["mean_error"], table["mean_error"])


def test_markdown_lists_every_bin():
    both = binned.compare_with_dissertation(binned.per_bin_table(Z_TRUE, Z_PRED))
    lines = binned.comparison_markdown(both).splitlines()
    assert len(lines) == 2 + 12
    assert lines[2].startswith("| 0.00 - 0.05 | 1 | 14.29 | 0.0100 | 0.0000 | 6.62 | 0.0216 |")
    assert lines[-1].startswith("| 0.55 - 0.60 | 0 | 0.00 | – | – | 0.04 | -0.2100 |")


def test_mean_abs_bin_error_skips_nan_and_high_bins():
    table = binned.per_bin_table(Z_TRUE, Z_PRED)
    # bins up to 0.35 with data: [0,0.05): +0.01, [0.05,0.1): +0.03, [0.1,0.15): -0.02,
    # [0.15,0.2): +0.025, [0.3,0.35): -0.1
    expected = (0.01 + 0.03 + 0.02 + 0.025 + 0.1) / 5
    assert binned.mean_abs_bin_error(table) == pytest.approx(expected)
