"""Seeded train / validation / test split of N spectra.

The dissertation holds out 10% for testing, then 30% of the rest for validation,
giving 63 / 27 / 10 %.  Optionally the split is *stratified* by redshift bin
(0.05 wide by default): every bin then contributes the same shares, so the rare
high-redshift galaxies are spread over all three sets.

How: every row gets a random rank in [0, 1) that is uniform *within its bin*
(row k of m in a random order gets (k + 0.5) / m); rows are sorted by rank and
the first ``n_test`` go to test, the next ``n_validation`` to validation.

>>> s = split_indices(100, seed=0)
>>> len(s.train), len(s.validation), len(s.test)
(63, 27, 10)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError

__all__ = ["Split", "split_indices"]


@dataclass(frozen=True)
class Split:
    """Row indices (sorted, int64) of the three disjoint sets."""

    train: NDArray[np.int64]
    validation: NDArray[np.int64]
    test: NDArray[np.int64]

    def sizes(self) -> dict[str, int]:
        """Number of rows in each set."""
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


def _bins(n: int, stratify_z: ArrayLike | None, bin_width: float) -> NDArray[np.int64]:
    """Stratum of each row: its redshift bin, or 0 for all rows."""
    if stratify_z is None:
        return np.zeros(n, dtype=np.int64)
    z = np.asarray(stratify_z, dtype=np.float64)
    if z.shape != (n,):
        raise ValueError(f"stratify_z must have shape ({n},), got {z.shape}")
    bad = np.flatnonzero(~np.isfinite(z))
    if bad.size:
        raise InputError("redshift is not finite; cannot stratify", rows=bad.tolist(), column="z")
    return np.floor(z / bin_width).astype(np.int64)


def _ranks(strata: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Random rank per row, uniform in (0, 1) within each stratum."""
    ranks = np.empty(strata.size, dtype=np.float64)
    for value in np.unique(strata):
        rows = np.flatnonzero(strata == value)
        ranks[rows] = (rng.permutation(rows.size) + 0.5) / rows.size
    return ranks


def split_indices(
    n: int,
    *,
    seed: int,
    test: float = 0.10,
    validation: float = 0.30,
    stratify_z: ArrayLike | None = None,
    bin_width: float = 0.05,
) -> Split:
    """Split ``range(n)`` into train, validation and test index arrays.

    Parameters
    ----------
    n : int
        Number of rows.
    seed : int
        Seed of the random assignment (same seed, same split).
    test : float
        Share of all rows held out for testing.
    validation : float
        Share of the *remaining* rows used for validation.
    stratify_z : array (n,), optional
        Redshifts; when given every ``bin_width`` bin is split in the same shares
        (to within one row).
    bin_width : float
        Width of the redshift bins used for stratification.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    for name, share in (("test", test), ("validation", validation)):
        if not 0.0 <= share < 1.0:
            raise ValueError(f"{name} share must be in [0, 1), got {share}")
    if bin_width <= 0:
        raise ValueError(f"bin_width must be positive, got {bin_width}")
    rng = np.random.default_rng(seed)
    ranks = _ranks(_bins(n, stratify_z, bin_width), rng)
    tiebreak = rng.random(n)
    order = np.lexsort((tiebreak, ranks))
    n_test = round(n * test)
    n_validation = round((n - n_test) * validation)
    return Split(
        train=np.sort(order[n_test + n_validation :]).astype(np.int64),
        validation=np.sort(order[n_test : n_test + n_validation]).astype(np.int64),
        test=np.sort(order[:n_test]).astype(np.int64),
    )
