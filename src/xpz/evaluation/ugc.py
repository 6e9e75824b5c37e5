"""How xpz's redshifts agree with Gaia DR3's own (the UGC's): ``xpz compare``.

``xpz fetch`` stores, for each galaxy candidate, the archive's
``redshift_ugc`` and its interval ``redshift_ugc_lower`` .. ``redshift_ugc_upper``
(``gaiadr3.galaxy_candidates``, the Unresolved Galaxy Classifier).  Without
spectroscopic labels these are the one reference a user of real Gaia spectra
has; :func:`compare_with_ugc` joins them to ``xpz predict``'s catalogue on
``source_id`` and measures the agreement with the metrics of
:mod:`xpz.evaluation.metrics` and :mod:`xpz.evaluation.calibration`, taking
the UGC redshift as the reference: ``dz = (z_xpz - z_ugc) / (1 + z_ugc)``,
``sigma_nmad`` and ``bias`` (median ``dz``) of it, and the share of xpz
redshifts inside the UGC interval.  The UGC is itself a photometric estimate
from the same spectra, so this is a sanity check, not an accuracy.

Rows are counted, not dropped silently: predictions without a candidate row,
candidates without a prediction, matched rows without a UGC redshift and rows
without an xpz estimate (NaN ``z_pred``) are each counted in the report.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xpz.errors import InputError, XpzError
from xpz.evaluation import metrics
from xpz.evaluation.calibration import coverage
from xpz.io.atomic import atomic_path
from xpz.io.raw_table import integer_column, load_table, scalar_column
from xpz.io.source_ids import SeenIds

__all__ = [
    "REPORT_FIGURE",
    "REPORT_JSON",
    "REPORT_MARKDOWN",
    "UGC_COLUMNS",
    "UgcComparison",
    "compare_files",
    "compare_with_ugc",
    "write_ugc_report",
]

#: The candidate table's UGC columns (see ``xpz.io.archive.query.CANDIDATE_COLUMNS``).
UGC_COLUMNS = ("redshift_ugc", "redshift_ugc_lower", "redshift_ugc_upper")
REPORT_MARKDOWN = "ugc_comparison.md"
REPORT_JSON = "ugc_comparison.json"
REPORT_FIGURE = "ugc_vs_xpz.png"


@dataclasses.dataclass(frozen=True)
class UgcComparison:
    """The join of predictions and candidates, its counts and its metrics."""

    counts: dict[str, int]
    metrics: dict[str, float]
    z_ugc: NDArray[np.float64]
    """UGC redshifts of the compared rows."""
    z_xpz: NDArray[np.float64]
    """xpz redshifts of the same rows."""


def compare_with_ugc(
    pred_id: NDArray[np.int64],
    z_pred: NDArray[np.float64],
    cand_id: NDArray[np.int64],
    ugc: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
) -> UgcComparison:
    """Join on source id and compare (ids unique on each side; NaN = missing).

    >>> ids = np.array([1, 2, 3, 4])
    >>> c = compare_with_ugc(ids, np.array([0.1, 0.2, np.nan, 0.3]), ids[:3],
    ...     (np.array([0.1, 0.25, 0.2]), np.array([0.05, 0.2, 0.1]), np.array([0.15, 0.3, 0.3])))
    >>> c.counts["compared"], c.counts["without_estimate"], c.metrics["inside_ugc_interval"]
    (2, 1, 1.0)
    """
    z_ugc, lower, upper = ugc
    common, p_idx, c_idx = np.intersect1d(pred_id, cand_id, return_indices=True)
    zp, zu = z_pred[p_idx], z_ugc[c_idx]
    no_ugc = ~np.isfinite(zu)
    no_estimate = ~np.isfinite(zp) & ~no_ugc
    use = ~no_ugc & ~no_estimate
    counts = {
        "predictions": len(pred_id),
        "candidates": len(cand_id),
        "matched": len(common),
        "predictions_without_candidate": len(pred_id) - len(common),
        "candidates_without_prediction": len(cand_id) - len(common),
        "without_ugc_redshift": int(no_ugc.sum()),
        "without_estimate": int(no_estimate.sum()),
        "compared": int(use.sum()),
    }
    if not use.any():
        raise XpzError(
            "no source has both an xpz redshift and a UGC redshift to compare "
            f"({counts['matched']} source ids in common)"
        )
    zp, zu = zp[use], zu[use]
    lo, hi = lower[c_idx][use], upper[c_idx][use]
    interval = np.isfinite(lo) & np.isfinite(hi)
    inside = coverage(zp[interval], lo[interval], hi[interval]) if interval.any() else float("nan")
    values = {
        "sigma_nmad": metrics.sigma_nmad(zu, zp),
        "bias": metrics.bias(zu, zp),
        "mae": metrics.mae(zu, zp),
        "outlier_frac_015": metrics.outlier_fraction(zu, zp),
        "inside_ugc_interval": inside,
        "n_with_interval": int(interval.sum()),
    }
    return UgcComparison(counts, values, zu, zp)


def _read_ids(path: Path, columns: Sequence[str]) -> tuple[NDArray[np.int64], list[NDArray]]:
    table = load_table(path)
    missing = [c for c in ("source_id", *columns) if c not in table.columns]
    if missing:
        raise table.error(f"no column(s) {', '.join(missing)}")
    ids = integer_column(table, "source_id")
    return ids, [scalar_column(table, c) for c in columns]


def compare_files(predictions: Sequence[str | Path], candidates: str | Path) -> UgcComparison:
    """:func:`compare_with_ugc` of ``xpz predict`` catalogues and ``xpz fetch``'s candidate table."""
    seen, ids, z = SeenIds(), [], []
    for path in predictions:
        pid, (zp,) = _read_ids(Path(path), ["z_pred"])
        seen.add(pid, first_row=0, source=str(path))  # a source predicted twice is refused
        ids.append(pid)
        z.append(zp)
    cand_id, (zu, lo, hi) = _read_ids(Path(candidates), UGC_COLUMNS)
    SeenIds().add(cand_id, first_row=0, source=str(candidates))
    swapped = np.flatnonzero(lo > hi)
    if swapped.size:
        raise InputError(
            "redshift_ugc_lower above redshift_ugc_upper",
            path=candidates,
            rows=swapped.tolist(),
            column="redshift_ugc_lower",
        )
    return compare_with_ugc(np.concatenate(ids), np.concatenate(z), cand_id, (zu, lo, hi))


_LABELS = {
    "sigma_nmad": "sigma_NMAD of (z_xpz - z_ugc) / (1 + z_ugc)",
    "bias": "bias, median of (z_xpz - z_ugc) / (1 + z_ugc)",
    "mae": "mean |z_xpz - z_ugc|",
    "outlier_frac_015": "share with |dz| > 0.15",
    "inside_ugc_interval": "share of z_xpz inside [redshift_ugc_lower, redshift_ugc_upper]",
    "n_with_interval": "sources with a UGC interval",
}


def _markdown(comparison: UgcComparison, inputs: dict[str, Any]) -> str:
    lines = [
        "# xpz redshifts against Gaia DR3's UGC redshifts",
        "",
        f"Predictions: {', '.join(inputs['predictions'])}; candidates: {inputs['candidates']}.",
        "The UGC redshift is the reference (it is itself an estimate from the same spectra).",
        "",
        "| count | sources |",
        "|---|---|",
        *(f"| {k.replace('_', ' ')} | {v} |" for k, v in comparison.counts.items()),
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {_LABELS[k]} | {v:.4g} |" for k, v in comparison.metrics.items()),
        "",
        f"![xpz against UGC redshifts]({REPORT_FIGURE})",
        "",
    ]
    return "\n".join(lines)


def write_ugc_report(
    comparison: UgcComparison, out_dir: str | Path, inputs: dict[str, Any]
) -> dict[str, Path]:
    """Write the markdown, JSON and 2-D histogram of ``comparison`` into ``out_dir``, atomically."""
    from xpz.evaluation.plots import plot_true_vs_pred_2d, save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    z_max = max(0.6, float(np.nanmax([comparison.z_ugc.max(), comparison.z_xpz.max()])))
    figure = plot_true_vs_pred_2d(
        comparison.z_ugc,
        comparison.z_xpz,
        bins=60,
        z_range=(0.0, z_max),
        xlabel="UGC redshift (Gaia DR3)",
        ylabel="xpz redshift",
    )
    paths = {"figure": save_figure(figure, out / REPORT_FIGURE)}
    record = {"inputs": inputs, "counts": comparison.counts, "metrics": comparison.metrics}
    for key, name, text in (
        ("json", REPORT_JSON, json.dumps(record, indent=1, allow_nan=True) + "\n"),
        ("markdown", REPORT_MARKDOWN, _markdown(comparison, inputs)),
    ):
        with atomic_path(out / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
        paths[key] = out / name
    return paths
