"""The synthetic XP_CONTINUOUS tables: archive columns, reproducible, readable, valid covariances."""

import numpy as np
import pytest

from xpz.io.xp_continuous import read_xp_continuous
from xpz.simulate.xp_archive import random_correlations, write_xp_archive_parquet, xp_archive_frame
from xpz.xp import correlation_matrices, xp_to_spectra


def test_correlation_matrices_are_positive_definite():
    matrices = correlation_matrices(random_correlations(np.random.default_rng(3), 4))
    assert (np.linalg.eigvalsh(matrices) > 0).all()


def test_same_seed_same_table_and_the_reader_accepts_it():
    a, b = xp_archive_frame(5, seed=7), xp_archive_frame(5, seed=7)
    np.testing.assert_array_equal(
        np.stack(a["rp_coefficient_correlations"]), np.stack(b["rp_coefficient_correlations"])
    )
    other = xp_archive_frame(5, seed=8)
    assert not np.array_equal(np.stack(a["bp_coefficients"]), np.stack(other["bp_coefficients"]))
    spectra = xp_to_spectra(read_xp_continuous(a))
    assert spectra.source_id.tolist() == [1, 2, 3, 4, 5]
    assert (spectra.flux_error > 0).all() and spectra.flag.tolist() == [0] * 5


def test_parquet_writer_makes_blocks_with_consecutive_ids(tmp_path):
    path = write_xp_archive_parquet(tmp_path / "xp.parquet", 25, seed=1, block=10)
    xp = read_xp_continuous(path)
    assert xp.source_id.tolist() == list(range(1, 26))
    first_block = xp_archive_frame(10, seed=1)
    np.testing.assert_array_equal(xp.bp.coefficients[:10], np.stack(first_block["bp_coefficients"]))
    with pytest.raises(ValueError, match="at least 1"):
        write_xp_archive_parquet(tmp_path / "none.parquet", 0)
    assert not (tmp_path / "none.parquet").exists()
