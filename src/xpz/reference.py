"""Numbers published in the dissertation, shipped with the package for comparison.

Source: A. Kiraleos, *Application of Machine Learning Methods on Astronomical
Databases*, Table 2 (architecture) and Table 3 (per-bin test errors), and the data
description of its section 3.2.

>>> table = dissertation_per_bin()
>>> len(table["z_lo"]), float(table["percent_of_data"].sum().round(2))
(12, 100.0)
"""

from __future__ import annotations

import csv
import functools
from importlib.resources import files

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DISSERTATION_N_GALAXIES",
    "DISSERTATION_TEST_MAE",
    "DISSERTATION_TEST_MAE_Z_LT_035",
    "DISSERTATION_Z_STATS",
    "dissertation_architecture",
    "dissertation_per_bin",
]

#: Galaxies in the dissertation's data set (SDSS DR16 x Gaia DR3, 0 <= z <= 0.6).
DISSERTATION_N_GALAXIES = 520_393
#: Test-set mean absolute error of the dissertation's CNN.
DISSERTATION_TEST_MAE = 0.021
#: Its MAE over 0 <= z < 0.35 (the first seven 0.05 bins).
DISSERTATION_TEST_MAE_Z_LT_035 = 0.013
#: Redshift distribution of its data set (section 3.2).
DISSERTATION_Z_STATS = {"mean": 0.142, "median": 0.126, "std": 0.079, "skewness": 1.094}


def _read_csv(name: str) -> list[dict[str, str]]:
    text = files("xpz.data").joinpath(name).read_text()
    return list(csv.DictReader(text.splitlines()))


@functools.cache
def dissertation_per_bin() -> dict[str, NDArray[np.float64]]:
    """Table 3: per 0.05 redshift bin, mean error (prediction - truth), std, % of data.

    Returns columns ``z_lo``, ``z_hi``, ``mean_error``, ``std``, ``percent_of_data``.
    """
    rows = _read_csv("dissertation_table3_per_bin.csv")
    return {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}


@functools.cache
def dissertation_architecture() -> list[dict[str, str]]:
    """Table 2: the final CNN, one dict per layer (``layer``, ``params``, ``output_shape``...)."""
    return _read_csv("dissertation_table2_architecture.csv")
