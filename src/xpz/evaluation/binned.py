"""Errors per redshift bin: the dissertation's Table 3, for our predictions.

Galaxies are binned by their *true* redshift.  Bins are half-open,
``[z_lo, z_hi)``, except the last, which is closed (``[z_lo, z_hi]``) so that
``z = 0.6`` is counted.  Per bin we report:

* ``n``: number of galaxies;
* ``percent_of_data``: ``100 * n / N`` where ``N`` counts *all* galaxies given
  (so galaxies outside the edges make the column sum to less than 100);
* ``mean_error``: ``mean(z_pred - z_true)`` (negative = predicted too low);
* ``std``: population standard deviation of ``z_pred - z_true`` (``ddof=0``);
* ``mae``: ``mean(|z_pred - z_true|)``.

Empty bins have ``n = 0`` and NaN statistics.

>>> table = per_bin_table([0.02, 0.07, 0.08, 0.6], [0.03, 0.05, 0.10, 0.5])
>>> len(table), table["n"][:2].tolist(), table["n"][-1].tolist()
(12, [1, 2], 1)
"""

from __future__ import annotations

import math

import numpy as np
from astropy.table import Table
from numpy.typing import ArrayLike, NDArray

from xpz.evaluation.metrics import LOW_Z_LIMIT, as_redshift_pair
from xpz.layout import Z_MAX, Z_MIN
from xpz.reference import dissertation_per_bin

__all__ = [
    "DEFAULT_EDGES",
    "bin_index",
    "compare_with_dissertation",
    "comparison_markdown",
    "comparison_rows",
    "mean_abs_bin_error",
    "per_bin_table",
]

#: The dissertation's bins: 0 to 0.6 in steps of 0.05.
DEFAULT_EDGES: NDArray[np.float64] = np.round(np.linspace(Z_MIN, Z_MAX, 13), 10)
DEFAULT_EDGES.flags.writeable = False

_STAT_COLUMNS = ("percent_of_data", "mean_error", "std")


def _check_edges(edges: ArrayLike) -> NDArray[np.float64]:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.diff(e) > 0) or not np.all(np.isfinite(e)):
        raise ValueError(f"edges must be at least two finite, increasing values, got {e!r}")
    return e


def bin_index(z: ArrayLike, edges: ArrayLike) -> NDArray[np.intp]:
    """Bin of each ``z`` (``-1`` outside); the last bin includes its upper edge.

    >>> bin_index([0.0, 0.05, 0.599, 0.6, 0.61, -0.01], DEFAULT_EDGES).tolist()
    [0, 1, 11, 11, -1, -1]
    """
    e = _check_edges(edges)
    z = np.asarray(z, dtype=np.float64)
    index = np.searchsorted(e, z, side="right") - 1
    index[z == e[-1]] = e.size - 2
    index[(z < e[0]) | (z > e[-1])] = -1
    return index


def per_bin_table(z_true: ArrayLike, z_pred: ArrayLike, edges: ArrayLike = DEFAULT_EDGES) -> Table:
    """Table 3 of the dissertation for these predictions (see the module docstring).

    Columns: ``z_lo``, ``z_hi``, ``n``, ``percent_of_data``, ``mean_error``, ``std``, ``mae``.
    """
    t, p = as_redshift_pair(z_true, z_pred)
    e = _check_edges(edges)
    index = bin_index(t, e)
    n_bins = e.size - 1
    error = p - t
    rows = []
    for b in range(n_bins):
        err = error[index == b]
        if err.size:
            stats = (float(err.mean()), float(err.std(ddof=0)), float(np.abs(err).mean()))
        else:
            stats = (math.nan, math.nan, math.nan)
        rows.append((e[b], e[b + 1], err.size, 100.0 * err.size / t.size, *stats))
    names = ("z_lo", "z_hi", "n", "percent_of_data", "mean_error", "std", "mae")
    table = Table(rows=rows, names=names, dtype=(float, float, int, float, float, float, float))
    table.meta["std_ddof"] = 0
    table.meta["binned_by"] = "z_true"
    return table


def compare_with_dissertation(table: Table) -> Table:
    """``table`` with the dissertation's Table 3 beside it.

    Adds ``dissertation_percent_of_data``, ``dissertation_mean_error`` and
    ``dissertation_std``, matched on the bin edges; NaN for bins the
    dissertation does not have.

    >>> both = compare_with_dissertation(per_bin_table([0.12], [0.13]))
    >>> float(both["dissertation_mean_error"][2]), round(float(both["mean_error"][2]), 3)
    (0.0013, 0.01)
    """
    reference = dissertation_per_bin()
    out = table.copy()
    for column in _STAT_COLUMNS:
        values = np.full(len(out), np.nan)
        for i, (lo, hi) in enumerate(zip(out["z_lo"], out["z_hi"], strict=True)):
            match = np.isclose(reference["z_lo"], lo) & np.isclose(reference["z_hi"], hi)
            if match.any():
                values[i] = reference[column][np.argmax(match)]
        out[f"dissertation_{column}"] = values
    return out


def mean_abs_bin_error(table: Table, z_max: float = LOW_Z_LIMIT) -> float:
    """Mean of ``|mean_error|`` over the bins with ``z_hi <= z_max`` (NaN bins skipped).

    This is how the dissertation's "MAE 0.013 for 0 <= z < 0.35" comes out of
    its Table 3:

    >>> reference = Table(dissertation_per_bin())
    >>> round(mean_abs_bin_error(reference), 3)
    0.013
    """
    keep = np.asarray(table["z_hi"]) <= z_max + 1e-12
    values = np.abs(np.asarray(table["mean_error"], dtype=float)[keep])
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def _fmt(value: float, digits: int) -> str:
    return "–" if not np.isfinite(value) else f"{value:.{digits}f}"


def comparison_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of a :func:`compare_with_dissertation` table.

    Used by the markdown and HTML renderers; NaN shows as an en dash.
    """
    header = [
        "z bin",
        "n",
        "% of data",
        "mean error",
        "std",
        "% of data (diss.)",
        "mean error (diss.)",
        "std (diss.)",
    ]
    rows = []
    for row in table:
        rows.append(
            [
                f"{row['z_lo']:.2f} - {row['z_hi']:.2f}",
                str(int(row["n"])),
                _fmt(row["percent_of_data"], 2),
                _fmt(row["mean_error"], 4),
                _fmt(row["std"], 4),
                _fmt(row["dissertation_percent_of_data"], 2),
                _fmt(row["dissertation_mean_error"], 4),
                _fmt(row["dissertation_std"], 4),
            ]
        )
    return header, rows


def comparison_markdown(table: Table) -> str:
    """A :func:`compare_with_dissertation` table as a GitHub-flavoured markdown table.

    >>> text = comparison_markdown(compare_with_dissertation(per_bin_table([0.12], [0.13])))
    >>> text.splitlines()[3]
    '| 0.05 - 0.10 | 0 | 0.00 | – | – | 27.77 | 0.0117 | 0.0208 |'
    """
    header, rows = comparison_rows(table)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)
