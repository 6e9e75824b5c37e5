"""Tests of xpz.split: sizes, disjointness, determinism and stratification."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.errors import InputError
from xpz.split import split_indices


@pytest.mark.parametrize("n", [0, 1, 10, 1000, 1001])
def test_sizes_disjoint_and_complete(n: int) -> None:
    s = split_indices(n, seed=3)
    assert len(s.test) == round(0.1 * n)
    assert len(s.validation) == round(0.3 * (n - len(s.test)))
    everything = np.concatenate([s.train, s.validation, s.test])
    assert np.array_equal(np.sort(everything), np.arange(n))
    assert all(a.dtype == np.int64 for a in (s.train, s.validation, s.test))


def test_shares_63_27_10() -> None:
    assert split_indices(10_000, seed=0).sizes() == {
        "train": 6300,
        "validation": 2700,
        "test": 1000,
    }


def test_deterministic_and_seed_dependent() -> None:
    a, b, c = (split_indices(500, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.test, b.test) and np.array_equal(a.train, b.train)
    assert not np.array_equal(a.test, c.test)


def test_stratified_shares_per_bin(rng: np.random.Generator) -> None:
    z = np.clip(rng.gamma(3.0, 0.045, size=5000), 0, 0.6)
    s = split_indices(len(z), seed=1, stratify_z=z)
    bins = np.floor(z / 0.05).astype(int)
    for b in np.unique(bins):
        rows = bins == b
        n_bin = rows.sum()
        n_test = np.isin(np.flatnonzero(rows), s.test).sum()
        n_val = np.isin(np.flatnonzero(rows), s.validation).sum()
        assert abs(n_test - 0.1 * n_bin) <= 1.5
        assert abs(n_val - 0.27 * n_bin) <= 1.5 + 0.01 * n_bin
    assert len(s.test) == 500


def test_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="row 2"):
        split_indices(3, seed=0, stratify_z=[0.1, 0.2, np.nan])
    with pytest.raises(ValueError, match="test share"):
        split_indices(10, seed=0, test=1.0)
