"""The metrics and markdown tables of ``benchmarks/accuracy.py`` (one row per model).

Every number comes from :func:`xpz.evaluation.evaluate.evaluate` (point metrics,
interval coverage, PIT statistics, CRPS, CDE loss) and
:func:`xpz.evaluation.binned.per_bin_table`; a model without a PDF (or
without quantiles) shows ``-`` in those columns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from xpz.evaluation.binned import per_bin_table
from xpz.evaluation.evaluate import evaluate as evaluate_predictions

Array = NDArray[np.float64]
WORST_BIN_Z_MAX = 0.5
#: Keys of the PDF metrics in an :class:`~xpz.evaluation.evaluate.Evaluation`'s ``uncertainty``.
PDF_KEYS = ("pit_ks", "pit_cvm", "pit_ad", "pit_catastrophic_rate", "crps_mean", "cde_loss")
#: Point metrics, their column names and decimals, in table order.
POINT_COLUMNS = (
    ("mae", "MAE", 4),
    ("rmse", "RMSE", 4),
    ("bias", "bias", 5),
    ("sigma_nmad", "sigma_NMAD", 4),
    ("sigma_iqr", "sigma_IQR", 4),
    ("outlier_rate", "outl. SRD (>max(0.06, 3 sigma_IQR))", 4),
    ("outlier_frac_015", "outl. >0.15", 4),
    ("outlier_frac_005", "outl. >0.05", 4),
    ("mae_z_lt_035", "MAE z<0.35", 4),
    ("worst_bin", "worst abs bin mean err (z<=0.5)", 4),
)
#: Uncertainty metrics, their column names and decimals (coverage in percent).
PDF_COLUMNS = (
    ("cov68", "cov 68%", 1),
    ("cov95", "cov 95%", 1),
    ("pit_ks", "PIT KS", 4),
    ("pit_cvm", "PIT CvM", 2),
    ("pit_ad", "PIT AD", 1),
    ("pit_catastrophic_rate", "PIT <0.0001 or >0.9999", 4),
    ("crps_mean", "CRPS", 4),
    ("cde_loss", "CDE loss", 3),
)
#: Rows of the xpz-against-template comparison: metric key and label.
COMPARED = (
    ("mae", "MAE"),
    ("rmse", "RMSE"),
    ("sigma_nmad", "sigma_NMAD"),
    ("sigma_iqr", "sigma_IQR"),
    ("outlier_rate", "outlier rate (SRD)"),
    ("outlier_frac_015", "outl. >0.15"),
    ("outlier_frac_005", "outl. >0.05"),
    ("pit_ks", "PIT KS"),
    ("crps_mean", "CRPS"),
    ("cde_loss", "CDE loss"),
)


@dataclasses.dataclass
class Result:
    """Test-set predictions and costs of one model."""

    name: str
    z_pred: Array
    train_seconds: float
    spectra_per_second: float
    parameters: int
    macs: int
    quantiles: dict[str, Array] | None = None
    pdf: Array | None = None
    grid: Array | None = None
    notes: str = ""
    trained: bool = True


def evaluate(result: Result, z_true: Array) -> dict[str, float]:
    """Every column of the tables for one model (NaN where it does not apply).

    >>> z = np.linspace(0.05, 0.45, 9)
    >>> row = evaluate(Result("m", z + 0.01, 0.0, 1.0, 0, 0), z)
    >>> round(row["mae"], 6), round(row["worst_bin"], 6), bool(np.isnan(row["cde_loss"]))
    (0.01, 0.01, True)
    """
    ev = evaluate_predictions(
        z_true, result.z_pred, quantiles=result.quantiles, pdf=result.pdf, pdf_grid=result.grid
    )
    row = dict(ev.metrics)
    table = ev.per_bin
    keep = np.asarray(table["z_hi"]) <= WORST_BIN_Z_MAX + 1e-9
    row["worst_bin"] = float(np.nanmax(np.abs(np.asarray(table["mean_error"])[keep])))
    # interval coverage from the quantiles where the model gives them, else from its PDF
    covered = ev.uncertainty.get("quantile_coverage") or ev.uncertainty.get("pdf_coverage", {})
    row["cov68"] = covered.get("0.68", np.nan)
    row["cov95"] = covered.get("0.95", np.nan)
    row |= {key: float(ev.uncertainty.get(key, np.nan)) for key in PDF_KEYS}
    return row


def fmt(value: float, digits: int = 4) -> str:
    """A table cell: ``-`` for NaN.

    >>> fmt(0.123456), fmt(float("nan")), fmt(2.5, 1)
    ('0.1235', '-', '2.5')
    """
    return "-" if not np.isfinite(value) else f"{value:.{digits}f}"


def _markdown(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(cells) + " |" for cells in body)])


def main_table(results: list[Result], rows: list[dict[str, float]]) -> str:
    """Point metrics and costs, one row per model."""
    head = ["model", *(label for _, label, _ in POINT_COLUMNS), "parameters",
            "multiply-adds / spectrum", "training time", "inference spectra/s"]  # fmt: skip
    body = []
    for res, row in zip(results, rows, strict=True):
        trained = f"{res.train_seconds / 60:.1f} min" if res.trained else "0"
        body.append(
            [res.name, *(fmt(row[key], d) for key, _, d in POINT_COLUMNS),
             f"{res.parameters:,}", f"{res.macs:,}", trained, f"{res.spectra_per_second:,.0f}"]
        )  # fmt: skip
    return _markdown(head, body)


def pdf_table(results: list[Result], rows: list[dict[str, float]]) -> str:
    """Interval coverage and PDF metrics, one row per model (``-`` without quantiles/PDF)."""
    head = ["model", *(label for _, label, _ in PDF_COLUMNS)]
    body = []
    for res, row in zip(results, rows, strict=True):
        cells = [fmt(100 * row[k] if k.startswith("cov") else row[k], d) for k, _, d in PDF_COLUMNS]
        body.append([res.name, *cells])
    return _markdown(head, body)


def bin_table(results: list[Result], z_true: Array) -> str:
    """Mean error per 0.05 bin of true z for every model; xpz / paper ratio when both ran."""
    tables = {res.name: per_bin_table(z_true, res.z_pred) for res in results}
    first = next(iter(tables.values()))
    ratio = "paper" in tables and "xpz" in tables
    head = ["z bin", "n test", *(f"{name} mean error" for name in tables)]
    head += ["abs ratio xpz / paper"] if ratio else []
    body = []
    for i in range(len(first)):
        cells = [f"{first['z_lo'][i]:.2f}-{first['z_hi'][i]:.2f}", str(first["n"][i])]
        cells += [fmt(t["mean_error"][i]) for t in tables.values()]
        if ratio:
            value = abs(tables["xpz"]["mean_error"][i]) / abs(tables["paper"]["mean_error"][i])
            cells.append(fmt(value, 2))
        body.append(cells)
    return _markdown(head, body)


def comparison_table(rows: dict[str, dict[str, float]], model: str, reference: str) -> str:
    """``model`` beside ``reference``: both values, their difference and ratio."""
    head = ["metric", model, reference, f"{model} - {reference}", f"{model} / {reference}"]
    body = []
    for key, label in COMPARED:
        a, b = rows[model][key], rows[reference][key]
        ratio = a / b if b > 0 and a >= 0 else np.nan
        body.append([label, fmt(a), fmt(b), fmt(a - b), fmt(ratio, 2)])
    return _markdown(head, body)


def target_checks(results: dict[str, Result], rows: dict[str, dict], z_true: Array) -> str:
    """Issue #7's targets, each with the measured value and whether it is met."""
    p, x = rows["paper"], rows["xpz"]
    a, b = (
        per_bin_table(z_true, results["paper"].z_pred),
        per_bin_table(z_true, results["xpz"].z_pred),
    )
    keep = np.asarray(a["z_hi"]) <= WORST_BIN_Z_MAX + 1e-9
    bin_ratio = np.abs(np.asarray(b["mean_error"])[keep]) / np.abs(
        np.asarray(a["mean_error"])[keep]
    )
    accuracy = ("mae", "rmse", "sigma_nmad", "outlier_frac_015", "outlier_frac_005",
                "mae_z_lt_035", "worst_bin")  # fmt: skip
    beats = [k for k in accuracy if all(x[k] <= rows[m][k] for m in ("svr", "knn"))]
    checks = [
        ("MAE <= 0.4 x paper", x["mae"] / p["mae"], 0.4, x["mae"] / p["mae"] <= 0.4),
        ("sigma_NMAD <= 0.4 x paper", x["sigma_nmad"] / p["sigma_nmad"], 0.4,
         x["sigma_nmad"] / p["sigma_nmad"] <= 0.4),
        ("every bin to z=0.5: abs mean error <= 0.3 x paper (worst ratio)",
         float(np.nanmax(bin_ratio)), 0.3, bool(np.nanmax(bin_ratio) <= 0.3)),
        ("68% coverage in 65-71%", 100 * x["cov68"], 68, abs(100 * x["cov68"] - 68) <= 3),
        ("95% coverage in 93-97%", 100 * x["cov95"], 95, abs(100 * x["cov95"] - 95) <= 2),
        ("multiply-adds <= 0.1 x paper", results["xpz"].macs / results["paper"].macs, 0.1,
         results["xpz"].macs <= 0.1 * results["paper"].macs),
        ("inference >= 10 x paper spectra/s",
         results["xpz"].spectra_per_second / results["paper"].spectra_per_second, 10,
         results["xpz"].spectra_per_second >= 10 * results["paper"].spectra_per_second),
        (f"better than SVR and kNN on every accuracy column ({len(beats)}/{len(accuracy)})",
         len(beats), len(accuracy), len(beats) == len(accuracy)),
    ]  # fmt: skip
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for name, value, goal, met in checks:
        lines.append(f"| {name} | {fmt(float(value), 3)} | {goal} | {'yes' if met else 'no'} |")
    return "\n".join(lines)
