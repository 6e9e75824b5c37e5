"""Redshift distributions n(z) to draw from.

The default reproduces the dissertation's data set: the share of each 0.05 bin
is its Table 3 ``percent_of_data`` (mean 0.142, median 0.126), uniform within a
bin.  Uniform and user-given binned n(z) are the alternatives.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from xpz.reference import dissertation_per_bin
from xpz.simulate.config import RedshiftDistribution, SimulationConfig

__all__ = ["bin_edges_and_shares", "draw_redshifts"]


def bin_edges_and_shares(config: SimulationConfig) -> tuple[NDArray, NDArray]:
    """Bin edges (B+1,) and normalised shares (B,) of the configured n(z), clipped to z_range.

    >>> edges, shares = bin_edges_and_shares(SimulationConfig())
    >>> len(shares), round(float(shares.sum()), 6), round(float(shares[2]), 4)
    (12, 1.0, 0.2901)
    """
    lo, hi = config.z_range
    if config.redshift_distribution is RedshiftDistribution.DISSERTATION:
        table = dissertation_per_bin()
        edges = np.append(table["z_lo"], table["z_hi"][-1])
        shares = table["percent_of_data"].copy()
        # Clip the table's bins to the requested range, keeping density per bin.
        clipped = np.clip(edges, lo, hi)
        shares = shares * np.diff(clipped) / np.diff(edges)
        keep = np.diff(clipped) > 0
        edges = np.append(clipped[:-1][keep], clipped[1:][keep][-1])
        shares = shares[keep]
    elif config.redshift_distribution is RedshiftDistribution.UNIFORM:
        edges, shares = np.array([lo, hi]), np.array([1.0])
    else:
        shares = np.asarray(config.bin_shares, dtype=float)
        edges = np.linspace(lo, hi, len(shares) + 1)
    if shares.sum() <= 0:
        raise ValueError(f"the redshift distribution has no weight within z_range {config.z_range}")
    return edges, shares / shares.sum()


def draw_redshifts(n: int, config: SimulationConfig, rng: np.random.Generator) -> NDArray:
    """``n`` redshifts from the configured n(z)."""
    edges, shares = bin_edges_and_shares(config)
    bins = rng.choice(len(shares), size=n, p=shares)
    return edges[bins] + rng.random(n) * (edges[bins + 1] - edges[bins])
