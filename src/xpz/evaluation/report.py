"""Render an :class:`~xpz.evaluation.evaluate.Evaluation` into a complete report.

:func:`write_report` computes nothing of its own: it draws the figures the
evaluation (and the optional training history and spectra) allow and fills
``out_dir`` with::

    metrics.json        headline metrics, uncertainty metrics, config, extras
    per_bin.csv         per-bin table beside the dissertation's Table 3, robust metrics per bin
    per_magnitude.csv   the same metrics per G-magnitude bin (when magnitudes are known)
    figures/*.png       every figure the inputs allow
    report.md           the report, figures referenced relatively
    report.html         the same, standalone (figures embedded as base64)

Training ``history`` and input ``spectra`` each add their figures; an
evaluation with uncertainty metrics adds its section.
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

from xpz.evaluation import document as doc
from xpz.evaluation import plots
from xpz.evaluation.binned import comparison_rows, robust_rows
from xpz.evaluation.evaluate import Evaluation
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
    ("sigma_iqr", "sigma_IQR of dz, IQR / 1.349", None),
    ("outlier_rate", "outlier rate (LSST SRD), |dz| > max(0.06, 3 sigma_IQR)", None),
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
_NOTE_ROBUST = (
    "Per bin: MAE of z_pred - z_true; bias = median(dz); sigma_NMAD = 1.4826 x MAD(dz); "
    "sigma_IQR = IQR(dz) / 1.349; outlier rate = share with |dz| > max(0.06, 3 sigma_IQR of "
    "the bin); the last column the share with |dz| > 0.15."
)
#: Figures shown in the uncertainty section rather than with the others.
_CALIBRATION_FIGURES = ("pit_histogram", "coverage")


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


def _uncertainty_rows(metrics: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    rows = []
    for source, name in (("quantile", "quantiles"), ("pdf", "PDF")):
        for level, value in metrics.get(f"{source}_coverage", {}).items():
            label = f"coverage of the central {float(level):.0%} interval ({name})"
            rows.append((label, _fmt(value), level))
    if "pit_ks" in metrics:
        rows.append(("PIT KS distance from uniform", _fmt(metrics["pit_ks"]), "0"))
        rows.append(("PIT Cramer-von Mises statistic", _fmt(metrics["pit_cvm"]), "0"))
        rows.append(("PIT Anderson-Darling statistic", _fmt(metrics["pit_ad"]), "0"))
        rows.append(
            (
                "share of PIT < 0.0001 or > 0.9999",
                _fmt(metrics["pit_catastrophic_rate"]),
                "0.0002",
            )
        )
        rows.append(("mean CRPS", _fmt(metrics["crps_mean"]), "0"))
        rows.append(("CDE loss", _fmt(metrics["cde_loss"]), "lower"))
    return tuple(rows)


def _figure_makers(
    result: Evaluation, history: Any, spectra: Spectra | None, seed: int
) -> dict[str, tuple[str, Callable[[], Any]]]:
    """File stem -> (caption, function making the figure), for every figure the inputs allow."""
    z_true, z_pred, table = result.z_true, result.z_pred, result.per_bin
    curves, pit_values = result.coverage_curves, result.pit
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
    if result.per_magnitude is not None:
        makers["per_magnitude"] = (
            "Robust scatter and outlier rate per G-magnitude bin",
            lambda: plots.plot_per_magnitude(result.per_magnitude),
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


def _draw_figures(out: Path, makers: Mapping[str, tuple[str, Callable[[], Any]]]) -> list:
    """Save every figure under ``out/figures``; the document's figure entries."""
    figures = []
    for stem, (caption, make) in makers.items():
        relative = _figure_path(stem)
        plots.save_figure(make(), out / relative)
        figures.append(doc.Figure(relative, caption))
    return figures


def _figure_path(stem: str) -> str:
    return f"{FIGURES_DIR}/{stem}.png"


def _robust_section(title: str, table: Any, figures: tuple) -> doc.Section:
    header, rows = robust_rows(table)
    block = doc.Table(tuple(header), tuple(tuple(r) for r in rows))
    return doc.Section(title, (block, doc.Paragraph(_NOTE_ROBUST), *figures))


def _sections(
    result: Evaluation, extra_metrics: Mapping[str, float], figures: list
) -> list[doc.Section]:
    """The report's sections: headline metrics, Table 3, uncertainties, figures."""
    headline = result.metrics
    rows = [(label, _fmt(headline[key]), _fmt(ref)) for key, label, ref in _HEADLINE]
    rows += [(name, _fmt(float(value)), "–") for name, value in extra_metrics.items()]
    header, bin_rows = comparison_rows(result.per_bin)
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
        _robust_section("Robust metrics per redshift bin", result.per_bin, ()),
    ]
    if result.per_magnitude is not None:
        magnitude_figures = tuple(f for f in figures if f.path == _figure_path("per_magnitude"))
        sections.append(
            _robust_section("Errors per G-magnitude bin", result.per_magnitude, magnitude_figures)
        )
    is_calibration = {_figure_path(stem) for stem in _CALIBRATION_FIGURES}
    if result.uncertainty:
        rows_u = _uncertainty_rows(result.uncertainty)
        table_block = doc.Table(("metric", "this model", "ideal"), rows_u)
        calibration_figures = tuple(f for f in figures if f.path in is_calibration)
        sections.append(doc.Section("Uncertainties", (table_block, *calibration_figures)))
    placed = is_calibration | {_figure_path("per_magnitude")}
    other = tuple(f for f in figures if f.path not in placed)
    sections.append(doc.Section("Figures", other))
    return sections


def write_report(
    out_dir: str | PathLike[str],
    result: Evaluation,
    *,
    title: str,
    history: plots.Columns | None = None,
    spectra: Spectra | None = None,
    config: Any = None,
    extra_metrics: Mapping[str, float] | None = None,
    seed: int = 0,
) -> Path:
    """Write the report of ``result`` (from :func:`~xpz.evaluation.evaluate.evaluate`) into ``out_dir``.

    Parameters
    ----------
    result : Evaluation
        The numbers to report.
    title : str
        Heading of the report.
    history : table with columns epoch, train_loss, val_loss, train_mae, val_mae, optional
        Training history (dict of arrays, astropy Table or pandas DataFrame).
    spectra : Spectra, optional
        Input spectra, for the example-spectrum and mean-spectra figures.
    config : dataclass or mapping, optional
        Recorded verbatim in ``metrics.json``.
    extra_metrics : mapping of name -> number, optional
        Shown in the headline table and stored in ``metrics.json``.
    seed : int
        Picks the example spectrum and the galaxies averaged per redshift range.

    Returns the path of ``report.html``.
    """
    out = Path(out_dir)
    extra = dict(extra_metrics or {})
    figures = _draw_figures(out, _figure_makers(result, history, spectra, seed))
    record = {
        "title": title,
        **result.summary(),
        "extra_metrics": extra,
        "config": config,
        "figures": [f.path for f in figures],
    }
    _write_text(out / "metrics.json", json.dumps(_jsonable(record), indent=2) + "\n")
    with atomic_path(out / "per_bin.csv") as tmp:
        result.per_bin.write(tmp, format="ascii.csv")
    if result.per_magnitude is not None:
        with atomic_path(out / "per_magnitude.csv") as tmp:
            result.per_magnitude.write(tmp, format="ascii.csv")
    sections = _sections(result, extra, figures)
    _write_text(out / "report.md", doc.to_markdown(title, sections))
    html_path = out / "report.html"
    _write_text(html_path, doc.to_html(title, sections, root=out))
    return html_path
