"""Errors per redshift bin (the dissertation's Table 3) and per G-magnitude bin.

Galaxies are binned by their *true* redshift.  Bins are half-open,
``[z_lo, z_hi)``, except the last, which is closed (``[z_lo, z_hi]``) so that
``z = 0.6`` is counted.  Per bin we report:

* ``n``: number of galaxies;
* ``percent_of_data``: ``100 * n / N`` where ``N`` counts *all* galaxies given
  (so galaxies outside the edges make the column sum to less than 100);
* ``mean_error``: ``mean(z_pred - z_true)`` (negative = predicted too low);
* ``std``: population standard deviation of ``z_pred - z_true`` (``ddof=0``);
* ``mae``: ``mean(|z_pred - z_true|)``;
* the robust photo-z metrics of :mod:`xpz.evaluation.metrics` on the bin's
  galaxies: ``bias``, ``sigma_nmad``, ``sigma_iqr``, ``outlier_rate`` (the SRD's
  ``|dz| > max(0.06, 3 sigma_iqr)``, with the bin's own sigma_iqr) and
  ``outlier_frac_015``.

Empty bins have ``n = 0`` and NaN statistics.  :func:`per_magnitude_table` gives
the same columns binned by G magnitude instead (faint galaxies are where the
errors grow).

>>> table = per_bin_table([0.02, 0.07, 0.08, 0.6], [0.03, 0.05, 0.10, 0.5])
>>> len(table), table["n"][:2].tolist(), table["n"][-1].tolist()
(12, [1, 2], 1)
"""

from __future__ import annotations

import math

import numpy as np
from astropy.table import Table
from numpy.typing import ArrayLike, NDArray

from xpz.errors import InputError
from xpz.evaluation import metrics
from xpz.evaluation.metrics import LOW_Z_LIMIT, as_redshift_pair
from xpz.layout import Z_MAX, Z_MIN
from xpz.reference import dissertation_per_bin

__all__ = [
    "DEFAULT_EDGES",
    "bin_index",
    "compare_with_dissertation",
    "comparison_markdown",
    "comparison_rows",
    "MAGNITUDE_EDGES",
    "mean_abs_bin_error",
    "per_bin_table",
    "per_magnitude_table",
    "robust_rows",
]

#: The dissertation's bins: 0 to 0.6 in steps of 0.05.
DEFAULT_EDGES: NDArray[np.float64] = np.round(np.linspace(Z_MIN, Z_MAX, 13), 10)
DEFAULT_EDGES.flags.writeable = False

#: G-magnitude bins: 0.5 mag wide where most Gaia galaxies are, open at both ends.
MAGNITUDE_EDGES: NDArray[np.float64] = np.array(
    [-np.inf, 17.0, 18.0, 19.0, 19.5, 20.0, 20.5, np.inf]
)
MAGNITUDE_EDGES.flags.writeable = False

_STAT_COLUMNS = ("percent_of_data", "mean_error", "std")
#: Per-bin statistics after n and percent_of_data, in table order.
_BIN_STATS = (
    "mean_error",
    "std",
    "mae",
    "bias",
    "sigma_nmad",
    "sigma_iqr",
    "outlier_rate",
    "outlier_frac_015",
)


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


def _bin_stats(t: NDArray[np.float64], p: NDArray[np.float64]) -> tuple[float, ...]:
    """The :data:`_BIN_STATS` of one bin's galaxies; NaN for an empty bin."""
    if t.size == 0:
        return (math.nan,) * len(_BIN_STATS)
    error = p - t
    return (
        float(error.mean()),
        float(error.std(ddof=0)),
        float(np.abs(error).mean()),
        metrics.bias(t, p),
        metrics.sigma_nmad(t, p),
        metrics.sigma_iqr(t, p),
        metrics.outlier_rate(t, p),
        metrics.outlier_fraction(t, p, metrics.OUTLIER_THRESHOLD),
    )


def _binned(
    index: NDArray[np.intp], t: NDArray[np.float64], p: NDArray[np.float64], e: NDArray, name: str
) -> Table:
    """Statistics per bin ``index`` (-1: none) of edges ``e``; bin columns ``{name}_lo/hi``."""
    rows = []
    for b in range(e.size - 1):
        inside = index == b
        n = int(inside.sum())
        rows.append((e[b], e[b + 1], n, 100.0 * n / t.size, *_bin_stats(t[inside], p[inside])))
    names = (f"{name}_lo", f"{name}_hi", "n", "percent_of_data", *_BIN_STATS)
    dtype = (float, float, int, *([float] * (len(names) - 3)))
    table = Table(rows=rows, names=names, dtype=dtype)
    table.meta["std_ddof"] = 0
    return table


def per_bin_table(z_true: ArrayLike, z_pred: ArrayLike, edges: ArrayLike = DEFAULT_EDGES) -> Table:
    """Table 3 of the dissertation for these predictions (see the module docstring).

    Columns: ``z_lo``, ``z_hi``, ``n``, ``percent_of_data``, ``mean_error``, ``std``,
    ``mae``, ``bias``, ``sigma_nmad``, ``sigma_iqr``, ``outlier_rate``, ``outlier_frac_015``.
    """
    t, p = as_redshift_pair(z_true, z_pred)
    e = _check_edges(edges)
    table = _binned(bin_index(t, e), t, p, e, "z")
    table.meta["binned_by"] = "z_true"
    return table


def per_magnitude_table(
    g_mag: ArrayLike, z_true: ArrayLike, z_pred: ArrayLike, edges: ArrayLike = MAGNITUDE_EDGES
) -> Table:
    """The per-bin statistics of :func:`per_bin_table`, binned by G magnitude.

    Columns ``g_lo``, ``g_hi`` (mag; the outer edges may be infinite), then as
    :func:`per_bin_table`.  Galaxies with a non-finite G fall in no bin.

    >>> table = per_magnitude_table([16.0, 19.7, 19.9], [0.1, 0.2, 0.3], [0.1, 0.25, 0.3])
    >>> table["n"].tolist()
    [1, 0, 0, 0, 2, 0, 0]
    """
    t, p = as_redshift_pair(z_true, z_pred)
    g = np.asarray(g_mag, dtype=np.float64)
    if g.shape != t.shape:
        raise InputError(f"needs one G magnitude per galaxy ({t.size})", column="phot_g_mean_mag")
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.diff(e) > 0):
        raise ValueError("edges must be 1-D with at least two increasing values")
    index = np.searchsorted(e, g, side="right") - 1
    index[~np.isfinite(g) | (g < e[0]) | (g >= e[-1])] = -1
    table = _binned(index, t, p, e, "g")
    table.meta["binned_by"] = "phot_g_mean_mag"
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


def robust_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the robust columns of a binned table (z or G bins)."""
    name = "z" if "z_lo" in table.colnames else "g"
    label = {"z": "z bin", "g": "G bin (mag)"}[name]
    header = [label, "n", "MAE", "bias", "sigma_NMAD", "sigma_IQR", "outlier rate", "|dz| > 0.15"]
    rows = []
    for row in table:
        lo, hi = float(row[f"{name}_lo"]), float(row[f"{name}_hi"])
        if not np.isfinite(lo):
            span = f"< {hi:.1f}"
        elif not np.isfinite(hi):
            span = f">= {lo:.1f}"
        else:
            span = f"{lo:.2f} - {hi:.2f}" if name == "z" else f"{lo:.1f} - {hi:.1f}"
        cells = [_fmt(float(row[c]), 4) for c in _BIN_STATS[2:]]
        rows.append([span, str(int(row["n"])), *cells])
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
