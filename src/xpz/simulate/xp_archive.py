"""Synthetic Gaia DR3 XP_CONTINUOUS tables in the archive's layout, for tests and benchmarks.

These are not galaxy spectra: coefficients are random with a Gaia-like fall-off
with basis order, errors are a few percent plus a floor, and each source gets
one of a few random positive-definite correlation matrices.  That is what the
reading and sampling code (:mod:`xpz.io.xp_continuous`) needs to be exercised, and
timed, at any size.

>>> frame = xp_archive_frame(3, seed=0)
>>> frame["bp_coefficient_correlations"][0].shape, frame["rp_n_parameters"].tolist()
((1485,), [55, 55, 55])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from xpz.io.atomic import atomic_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["random_correlations", "write_xp_archive_parquet", "xp_archive_frame"]

_N_COEFFICIENTS = 55
_LOWER = np.tril_indices(_N_COEFFICIENTS, k=-1)  # the archive's order of the 1,485 pairs

#: Typical size of the first coefficient (e-/s) in each band; later ones fall to 0.05.
_BAND_SCALES = {"bp": 60.0, "rp": 40.0}


def random_correlations(rng: np.random.Generator, n: int) -> NDArray[np.float32]:
    """``n`` random positive-definite 55 x 55 correlation matrices as archive vectors (n, 1485).

    >>> r = random_correlations(np.random.default_rng(0), 2)
    >>> r.shape, bool((np.abs(r) < 1).all())
    ((2, 1485), True)
    """
    out = np.empty((n, _LOWER[0].size), np.float32)
    for k in range(n):
        a = rng.normal(size=(_N_COEFFICIENTS, 80))
        covariance = a @ a.T
        d = np.sqrt(np.diag(covariance))
        out[k] = (covariance / np.outer(d, d))[_LOWER]
    return out


def xp_archive_frame(
    n: int, seed: int = 0, *, n_correlations: int = 64, first_id: int = 1
) -> pd.DataFrame:
    """``n`` sources with the archive's XP_CONTINUOUS columns, one numpy array per array cell.

    ``source_id`` runs from ``first_id``; each source takes one of
    ``n_correlations`` correlation matrices at random.  The same ``seed`` gives
    the same table.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {"source_id": np.arange(first_id, first_id + n, dtype=np.int64)}
    for band, scale in _BAND_SCALES.items():
        coefficients = rng.normal(size=(n, _N_COEFFICIENTS)) * np.geomspace(
            scale, 0.05, _N_COEFFICIENTS
        )
        errors = np.abs(coefficients) * 0.02 + rng.uniform(0.05, 0.2, (n, _N_COEFFICIENTS))
        distinct = random_correlations(rng, n_correlations)
        columns[f"{band}_n_parameters"] = np.full(n, _N_COEFFICIENTS, np.int16)
        columns[f"{band}_standard_deviation"] = rng.uniform(0.9, 1.3, n).astype(np.float32)
        columns[f"{band}_coefficients"] = list(coefficients)
        columns[f"{band}_coefficient_errors"] = list(errors.astype(np.float32))
        columns[f"{band}_coefficient_correlations"] = list(
            distinct[rng.integers(0, n_correlations, n)]
        )
    return pd.DataFrame(columns)


def write_xp_archive_parquet(
    path: str | Path, n: int, seed: int = 0, *, block: int = 10_000
) -> Path:
    """Write :func:`xp_archive_frame` tables of ``n`` sources in all to one Parquet file.

    Made ``block`` sources at a time (block ``k`` uses seed ``seed + k``), one
    row group per block, so that files larger than memory can be made; the file
    appears only when complete.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = None
        try:
            for k, start in enumerate(range(0, n, block)):
                frame = xp_archive_frame(min(block, n - start), seed + k, first_id=1 + start)
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return path
