"""One call writes a complete evaluation report for a set of redshift predictions.

:func:`write_report` fills ``out_dir`` with::

    metrics.json        headline metrics, uncertainty metrics, config, extras
    per_bin.csv         per-bin table beside the dissertation's Table 3
    figures/*.png       every figure the inputs allow
    report.md           the report, figures referenced relatively
    report.html         the same, standalone (figures embedded as base64)

Point predictions are always required; training ``history``, input ``spectra``,
``quantiles`` and a gridded ``pdf`` each add their figures and sections.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xpz.errors import InputError
from xpz.evaluation import calibration, plots
from xpz.evaluation import document as doc
from xpz.evaluation.binned import (
    compare_with_dissertation,
    comparison_rows,
    mean_abs_bin_error,
    per_bin_table,
)
from xpz.evaluation.metrics import as_redshift_pair, summary
from xpz.io.atomic import atomic_path
from xpz.reference import (
    DISSERTATION_TEST_MAE,
    DISSERTATION_TEST_MAE_Z_LT_035,
    dissertation_per_bin,
)
from xpz.spectra import Spectra

__all__ = ["write_report"]

FIGURES_DIR = "figures"

#: Headline rows: (metrics.json key, label, the dissertation's value or None).
_HEADLINE = (
    ("mae", "MAE, mean |z_pred - z_true|", DISSERTATION_TEST_MAE),
    ("mae_z_lt_035", "MAE for z_true < 0.35 (per galaxy)", None),
    (
        "mean_abs_bin_error_z_lt_035",
        "mean |bin mean error|, bins below 0.35",
        DISSERTATION_TEST_MAE_Z_LT_035,
    ),
    ("rmse", "RMSE", None),
    ("mean_error", "mean error, z_pred - z_true", None),
    ("bias", "bias, median(dz)", None),
    ("sigma_nmad", "sigma_NMAD of dz", None),
    ("outlier_frac_015", "outlier fraction, |dz| > 0.15", None),
    ("outlier_frac_005", "outlier fraction, |dz| > 0.05", None),
    ("n", "galaxies", None),
)
_NOTE_LOW_Z = (
    "dz = (z_pred - z_true) / (1 + z_true). The dissertation's 'MAE 0.013 over 0 <= z < 0.35' "
    "equals the mean of |mean error| over the first seven bins of its Table 3, so the row "
    "'mean |bin mean error|' is the like-for-like comparison; the per-galaxy MAE below 0.35 "
    "is given as well. Bins are by true redshift; std is the population std (ddof=0)."
)
_COVERAGE_LEVELS = (0.68, 0.95)


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else f"{value:.4f}"


def _jsonable(value: Any) -> Any:
    """``value`` with numpy types, dataclasses, enums and paths made JSON-friendly; NaN -> None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _uncertainty(
    z_true: np.ndarray,
    quantiles: Mapping[str, ArrayLike] | None,
    pdf: ArrayLike | None,
    pdf_grid: ArrayLike | None,
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]], np.ndarray | None]:
    """Uncertainty metrics, coverage curves for plotting and PIT values (None without a PDF)."""
    metrics: dict[str, Any] = {}
    curves: dict[str, tuple[Any, Any]] = {}
    pit_values = None
    if quantiles:
        for key, values in quantiles.items():
            if np.shape(values) != z_true.shape:
                raise InputError(f"needs one value per galaxy ({z_true.size})", column=key)
        by_level = calibration.interval_coverage_from_quantiles(z_true, quantiles)
        metrics["quantile_coverage"] = {f"{k:g}": v for k, v in by_level.items()}
        if by_level:
            curves["quantiles"] = (list(by_level), list(by_level.values()))
    if (pdf is None) != (pdf_grid is None):
        raise InputError("pdf and pdf_grid must be given together")
    if pdf is not None and pdf_grid is not None:
        from xpz import pdf as zpdf

        pit_values = zpdf.pit(pdf, pdf_grid, z_true)
        levels = np.asarray(calibration.DEFAULT_COVERAGE_LEVELS)
        observed = calibration.coverage_from_pit(pit_values, levels)
        curves["PDF"] = (levels, observed)
        metrics["pdf_coverage"] = {
            f"{level:g}": float(observed[np.isclose(levels, level)][0])
            for level in _COVERAGE_LEVELS
        }
        metrics["pit_ks"] = calibration.pit_ks_statistic(pit_values)
        metrics["crps_mean"] = float(np.mean(zpdf.crps(pdf, pdf_grid, z_true)))
    return metrics, curves, pit_values


def _uncertainty_rows(metrics: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    rows = []
    for source, name in (("quantile", "quantiles"), ("pdf", "PDF")):
        for level, value in metrics.get(f"{source}_coverage", {}).items():
            label = f"coverage of the central {float(level):.0%} interval ({name})"
            rows.append((label, _fmt(value), level))
    if "pit_ks" in metrics:
        rows.append(("PIT KS distance from uniform", _fmt(metrics["pit_ks"]), "0"))
        rows.append(("mean CRPS", _fmt(metrics["crps_mean"]), "0"))
    return tuple(rows)


def _figure_makers(
    z_true: np.ndarray,
    z_pred: np.ndarray,
    table: Any,
    history: Any,
    spectra: Spectra | None,
    curves: Mapping[str, tuple[Any, Any]],
    pit_values: np.ndarray | None,
    seed: int,
) -> dict[str, tuple[str, Callable[[], Any]]]:
    """File stem -> (caption, function making the figure), for every figure the inputs allow."""
    makers: dict[str, tuple[str, Callable[[], Any]]] = {
        "redshift_distribution": (
            "Redshift distribution of the evaluated galaxies (cf. dissertation Fig. 9)",
            lambda: plots.plot_redshift_distribution(z_true),
        ),
    }
    if spectra is not None and len(spectra):
        i = int(np.random.default_rng(seed).integers(len(spectra)))
        error = None if spectra.flux_error is None else spectra.flux_error[i]
        makers["spectrum"] = (
            f"Spectrum of source_id {int(np.asarray(spectra.source_id)[i])} (cf. Fig. 10)",
            lambda: plots.plot_spectrum(spectra.flux[i], flux_error=error),
        )
        z_spec = (
            spectra.z
            if spectra.z is not None
            else (z_true if len(spectra) == z_true.size else None)
        )
        if z_spec is not None:
            makers["mean_spectra_by_z"] = (
                "Mean spectra per redshift range (cf. Fig. 11)",
                lambda: plots.plot_mean_spectra_by_z(spectra.flux, z_spec, seed=seed),
            )
    if history is not None:
        makers["loss_curves"] = (
            "Training and validation loss (cf. Figs. 13-14)",
            lambda: plots.plot_loss_curves(history),
        )
        makers["mae_curves"] = (
            "Training and validation MAE (cf. Fig. 15)",
            lambda: plots.plot_mae_curves(history),
        )
    makers["per_bin_errors"] = (
        "Mean error and std per redshift bin, beside the dissertation's Table 3 (cf. Fig. 16)",
        lambda: plots.plot_per_bin_errors(table, dissertation=dissertation_per_bin()),
    )
    makers["true_vs_pred_hist"] = (
        "True and predicted redshifts (cf. Fig. 17)",
        lambda: plots.plot_true_vs_pred_hist(z_true, z_pred),
    )
    makers["true_vs_pred_2d"] = (
        "Predicted against true redshift, log colour scale (cf. Fig. 18)",
        lambda: plots.plot_true_vs_pred_2d(z_true, z_pred),
    )
    if pit_values is not None:
        makers["pit_histogram"] = ("PIT histogram", lambda: plots.plot_pit_histogram(pit_values))
    if curves:
        makers["coverage"] = (
            "Observed against nominal interval coverage",
            lambda: plots.plot_coverage(curves),
        )
    return makers


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_report(
    out_dir: str | PathLike[str],
    *,
    z_true: ArrayLike,
    z_pred: ArrayLike,
    title: str,
    history: plots.Columns | None = None,
    spectra: Spectra | None = None,
    quantiles: Mapping[str, ArrayLike] | None = None,
    pdf: ArrayLike | None = None,
    pdf_grid: ArrayLike | None = None,
    config: Any = None,
    extra_metrics: Mapping[str, float] | None = None,
    seed: int = 0,
) -> Path:
    """Write the evaluation report of ``z_pred`` against ``z_true`` into ``out_dir``.

    Parameters
    ----------
    z_true, z_pred : arrays (N,)
        Spectroscopic and predicted redshifts.
    title : str
        Heading of the report.
    history : table with columns epoch, train_loss, val_loss, train_mae, val_mae, optional
        Training history (dict of arrays, astropy Table or pandas DataFrame).
    spectra : Spectra, optional
        Input spectra, for the example-spectrum and mean-spectra figures.
    quantiles : mapping ``"z_q<digits>"`` -> array (N,), optional
        Predicted quantiles, e.g. ``z_q025, z_q16, z_q84, z_q975``.
    pdf, pdf_grid : arrays (N, K) and (K,), optional
        Predicted densities on a redshift grid (see :mod:`xpz.pdf`).
    config : dataclass or mapping, optional
        Recorded verbatim in ``metrics.json``.
    extra_metrics : mapping of name -> number, optional
        Shown in the headline table and stored in ``metrics.json``.
    seed : int
        Picks the example spectrum and the galaxies averaged per redshift range.

    Returns the path of ``report.html``.
    """
    out = Path(out_dir)
    t, p = as_redshift_pair(z_true, z_pred)
    headline = summary(t, p)
    table = compare_with_dissertation(per_bin_table(t, p))
    headline["mean_abs_bin_error_z_lt_035"] = mean_abs_bin_error(table)
    uncertainty, curves, pit_values = _uncertainty(t, quantiles, pdf, pdf_grid)

    figures = []
    makers = _figure_makers(t, p, table, history, spectra, curves, pit_values, seed)
    for stem, (caption, make) in makers.items():
        relative = f"{FIGURES_DIR}/{stem}.png"
        plots.save_figure(make(), out / relative)
        figures.append(doc.Figure(relative, caption))

    record = {
        "title": title,
        "metrics": headline,
        "dissertation": {
            "mae": DISSERTATION_TEST_MAE,
            "mean_abs_bin_error_z_lt_035": DISSERTATION_TEST_MAE_Z_LT_035,
        },
        "uncertainty": uncertainty,
        "extra_metrics": dict(extra_metrics or {}),
        "config": config,
        "figures": [f.path for f in figures],
    }
    _write_text(out / "metrics.json", json.dumps(_jsonable(record), indent=2) + "\n")
    with atomic_path(out / "per_bin.csv") as tmp:
        table.write(tmp, format="ascii.csv")

    rows = [(label, _fmt(headline[key]), _fmt(ref)) for key, label, ref in _HEADLINE]
    rows += [(name, _fmt(float(value)), "–") for name, value in (extra_metrics or {}).items()]
    header, bin_rows = comparison_rows(table)
    sections = [
        doc.Section(
            "Headline metrics",
            (
                doc.Table(("metric", "this model", "dissertation"), tuple(rows)),
                doc.Paragraph(_NOTE_LOW_Z),
            ),
        ),
        doc.Section(
            "Errors per redshift bin (dissertation Table 3)",
            (doc.Table(tuple(header), tuple(tuple(r) for r in bin_rows)),),
        ),
    ]
    if uncertainty:
        calibration_figures = tuple(
            f for f in figures if f.path.endswith(("pit_histogram.png", "coverage.png"))
        )
        table_block = doc.Table(("metric", "this model", "ideal"), _uncertainty_rows(uncertainty))
        sections.append(doc.Section("Uncertainties", (table_block, *calibration_figures)))
    other = tuple(f for f in figures if not f.path.endswith(("pit_histogram.png", "coverage.png")))
    sections.append(doc.Section("Figures", other))

    _write_text(out / "report.md", doc.to_markdown(title, sections))
    html_path = out / "report.html"
    _write_text(html_path, doc.to_html(title, sections, root=out))
    return html_path
