"""What benchmarks/robustness.py and benchmarks/transfer.py share: train, score, tabulate.

Models are trained through the user's path (:func:`xpz.pipeline.run_training`,
63/27/10 split, calibration on the validation split) into ``WORK/<name>``; a
finished run is reused and an interrupted one resumed, so a rerun of a
benchmark costs only what is missing.  A model is scored on a test set with
:func:`xpz.inference.predict_spectra` (the rows and flags ``xpz predict``
writes) and :func:`xpz.evaluation.evaluate` (the numbers ``xpz evaluate``
reports); one dict of :data:`COLUMNS` per (model, test set).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xpz.evaluation.evaluate import evaluate
from xpz.inference import predict_spectra
from xpz.io.atomic import atomic_path
from xpz.models.modelfile import MODEL_JSON, LoadedModel, load_model
from xpz.pipeline import run_training
from xpz.recipes import Recipe
from xpz.spectra import Flag, Spectra
from xpz.training.loop import MODEL_DIR

#: Highest redshift of the bins whose mean error counts in ``worst_bin``.
WORST_BIN_Z_MAX = 0.45
#: |dz| / (1 + z) above which a galaxy is a catastrophic outlier.
CATASTROPHIC = 0.15

#: Column key -> heading of the tables.
COLUMNS: Mapping[str, str] = {
    "mae": "MAE",
    "sigma_nmad": "sigma_NMAD",
    "outliers": "outl. >0.15",
    "worst_bin": f"worst \\|bin mean err\\| z<{WORST_BIN_Z_MAX}",
    "cov68": "cov 68%",
    "cov95": "cov 95%",
    "ood_rate": "OOD flag rate",
    "ood_on_outliers": "OOD on outl.",
}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for the record of a benchmark's conditions."""
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def trained_model(
    spectra_of: Callable[[], Spectra], recipe: Recipe, run_dir: Path, **options: Any
) -> LoadedModel:
    """The model of ``recipe`` trained on ``spectra_of()`` in ``run_dir`` (reused when done).

    ``options`` go to :func:`xpz.pipeline.run_training` (e.g. ``init``).  The
    data are made only when the run is not finished yet.
    """
    model_dir = run_dir / MODEL_DIR
    if not (model_dir / MODEL_JSON).is_file():
        start = time.perf_counter()
        run_training(spectra_of(), recipe, run_dir, resume=run_dir.exists(), **options)
        print(f"  trained {run_dir.name} in {time.perf_counter() - start:.0f} s", flush=True)
    return load_model(model_dir)


def worst_bin_error(table: Any, z_max: float = WORST_BIN_Z_MAX) -> float:
    """Largest |mean error| of the per-bin table's non-empty bins ending at or below ``z_max``.

    >>> from xpz.evaluation.binned import per_bin_table
    >>> t = per_bin_table([0.02, 0.07, 0.5], [0.03, 0.05, 0.1])
    >>> round(worst_bin_error(t), 3)
    0.02
    """
    hi = np.asarray(table["z_hi"], dtype=float)
    n = np.asarray(table["n"], dtype=float)
    errors = np.abs(np.asarray(table["mean_error"], dtype=float))
    keep = (hi <= z_max + 1e-9) & (n > 0)
    return float(errors[keep].max()) if keep.any() else float("nan")


def score(model: LoadedModel, spectra: Spectra) -> dict[str, float]:
    """The :data:`COLUMNS` of ``model`` on labelled ``spectra`` (rows without estimate left out)."""
    estimates, flag = predict_spectra(model, spectra)
    quantiles = {k: v for k, v in estimates.items() if k.startswith("z_q")}
    return score_estimates(spectra.require_z(), estimates["z_pred"], quantiles, flag)


def score_estimates(
    z_true: np.ndarray,
    z_pred: np.ndarray,
    quantiles: Mapping[str, np.ndarray] | None = None,
    flag: np.ndarray | None = None,
) -> dict[str, float]:
    """The :data:`COLUMNS` of estimates ``z_pred`` (``quantiles`` and ``flag`` optional).

    Rows whose ``z_pred`` is not finite are left out; without ``quantiles`` the
    coverage columns, without ``flag`` the OOD columns are NaN.
    """
    ok = np.isfinite(z_pred)
    kept = {k: np.asarray(v)[ok] for k, v in (quantiles or {}).items()}
    result = evaluate(z_true[ok], z_pred[ok], quantiles=kept or None)
    coverage = result.uncertainty.get("quantile_coverage", {})
    dz = np.abs(z_pred[ok] - z_true[ok]) / (1 + z_true[ok])
    outliers = dz > CATASTROPHIC
    nan = float("nan")
    ood = None if flag is None else (flag[ok] & np.uint32(Flag.OUT_OF_DISTRIBUTION)) != 0
    return {
        "mae": result.metrics["mae"],
        "sigma_nmad": result.metrics["sigma_nmad"],
        "outliers": result.metrics["outlier_frac_015"],
        "worst_bin": worst_bin_error(result.per_bin),
        "cov68": 100 * coverage.get("0.68", nan),
        "cov95": 100 * coverage.get("0.95", nan),
        "ood_rate": nan if ood is None else float(ood.mean()),
        "ood_on_outliers": nan
        if ood is None or not outliers.any()
        else float(ood[outliers].mean()),
        "n": float(ok.sum()),
    }


def _cell(key: str, value: float) -> str:
    if not np.isfinite(value):
        return "-"
    if key in ("outliers", "ood_rate", "ood_on_outliers"):
        return f"{100 * value:.2f}%"
    if key in ("cov68", "cov95"):
        return f"{value:.1f}"
    return f"{value:.4f}"


def markdown_table(
    rows: Sequence[tuple[Sequence[str], Mapping[str, float]]], labels: Sequence[str]
) -> str:
    """A markdown table: the ``labels`` columns (e.g. model, test data), then :data:`COLUMNS`."""
    head = [*labels, *COLUMNS.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for names, values in rows:
        cells = [_cell(k, values.get(k, float("nan"))) for k in COLUMNS]
        lines.append("| " + " | ".join([*names, *cells]) + " |")
    return "\n".join(lines)


def write_text(text: str, out: Path | None) -> None:
    """Print ``text``, or write it to ``out`` atomically."""
    if out is None:
        print(text)
        return
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text + "\n")
    print(f"wrote {out}")
