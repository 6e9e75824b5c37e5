"""Accuracy, calibration and cost of every redshift model on one simulated data set and split.

Simulates the default data set (fixed seed), splits it 63/27/10 with
:func:`xpz.split.split_indices`, trains

* ``paper``: the dissertation's CNN and recipe (min-max scaling, Adamax lr 1e-3,
  Huber loss, batch 16, up to ``--paper-epochs`` epochs, early stopping with
  patience ``--paper-patience``, best weights restored), optionally cut short by
  a wall-clock budget (``--paper-max-minutes``: no epoch is started that would
  end past it, judged by the last epoch's duration);
* ``xpz``: :func:`xpz.recipes.xpz_recipe` (``--xpz-epochs`` overrides its
  epochs), then its temperature fitted on the validation set;
* ``svr``: RBF support vector regression on a ``--svr-train-size`` subsample;
* ``knn``: k-nearest neighbours on the full training set;

(the baselines on the per-spectrum L2-normalised fluxes the xpz model sees),
evaluates all on the test set and writes one markdown report with the command.
Inference speed is measured in this run on the scaled test inputs: networks
on 4,096 of them in batches of 1024 (best of two passes), baselines in their
one ``predict`` call on the whole test set; ratios between models are what count.
``--work DIR`` keeps the training runs, so an interrupted benchmark resumes them
and a rerun reuses the finished ones.

Usage::

    .venv/bin/python benchmarks/accuracy.py --n 200000 --paper-max-minutes 15 \\
        --out docs/accuracy.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from xpz import pdf as zpdf
from xpz.evaluation.binned import per_bin_table
from xpz.evaluation.calibration import (
    DEFAULT_COVERAGE_LEVELS,
    coverage,
    coverage_from_pit,
    pit_ks_statistic,
)
from xpz.evaluation.metrics import summary
from xpz.evaluation.plots import plot_coverage, plot_pit_histogram, save_figure
from xpz.io.atomic import atomic_path
from xpz.models.base import RedshiftModel
from xpz.models.baselines import KnnBaseline, KnnConfig, SvrBaseline, SvrConfig
from xpz.models.modelfile import model_inputs
from xpz.models.paper import PaperConfig
from xpz.models.registry import build_model
from xpz.models.xpznet import XpzNet, XpzNetConfig, multiply_adds
from xpz.preprocess import make_scaler
from xpz.recipes import get_preset, xpz_recipe
from xpz.simulate import simulate
from xpz.spectra import Spectra
from xpz.split import Split, split_indices
from xpz.training import (
    EpochMetrics,
    TrainConfig,
    TrainingData,
    TrainResult,
    make_training_data,
    train,
)
from xpz.training.loop import CHECKPOINT_DIR

Array = NDArray[np.float64]
WORST_BIN_Z_MAX = 0.5
#: Test spectra the networks' inference speed is timed on (best of two passes).
TIMING_ROWS = 4096


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


class WallClockBudget:
    """Stop training before an epoch that would end after ``minutes`` since construction."""

    def __init__(self, minutes: float | None) -> None:
        self.seconds = None if minutes is None else 60.0 * minutes
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, metrics: EpochMetrics) -> bool:
        if self.seconds is None:
            return False
        elapsed = time.perf_counter() - self.start
        return elapsed + metrics.seconds > self.seconds


def best_rate(predict: Callable[[], object], n: int, repeats: int = 2) -> float:
    """Spectra per second of ``predict`` (which handles ``n`` spectra), best of ``repeats``."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        predict()
        best = max(best, n / (time.perf_counter() - start))
    return best


def network_outputs(model: RedshiftModel, x: torch.Tensor, batch: int = 1024) -> dict:
    """``summarize`` outputs of ``model`` (a :meth:`~RedshiftModel.for_inference` copy) on ``x``."""
    parts: dict[str, list] = {}
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            for key, value in model.summarize(model(x[start : start + batch])).items():
                parts.setdefault(key, []).append(value.numpy().astype(np.float64))
    return {key: np.concatenate(values) for key, values in parts.items()}


def train_network(
    model: RedshiftModel,
    data: TrainingData,
    config: TrainConfig,
    run_dir: Path,
    minutes: float | None,
) -> tuple[TrainResult, float]:
    start = time.perf_counter()
    resume = (run_dir / CHECKPOINT_DIR).exists()
    result = train(
        model, data, config, run_dir, resume=resume, callbacks=[WallClockBudget(minutes)]
    )
    seconds = time.perf_counter() - start
    if resume:  # the training time is that of the epochs, whichever session ran them
        seconds = sum(h.seconds for h in result.history)
    return result, seconds


def describe_run(result: TrainResult, seconds: float) -> str:
    epochs = len(result.history)
    return (
        f"{epochs} epoch(s) in {seconds / 60:.1f} min, stopped: {result.stop_reason.value}, "
        f"best epoch {result.best_epoch} (val MAE {result.history[result.best_epoch - 1].val_mae:.4f})"
    )


def run_paper(spectra: Spectra, split: Split, args: argparse.Namespace, work: Path) -> Result:
    preset = get_preset("paper")
    assert isinstance(preset.model, PaperConfig)
    scaler = make_scaler(**preset.scaling).fit(spectra.flux[split.train])
    data = make_training_data(spectra, split, scaler, input_channels=1)
    config = preset.training.replace(
        epochs=args.paper_epochs,
        early_stopping_patience=args.paper_patience,
        num_threads=args.threads,
        progress=False,
    )
    model = build_model(preset.model, seed=args.seed)
    result, seconds = train_network(model, data, config, work / "paper", args.paper_max_minutes)
    x_test = torch.from_numpy(scaler.transform(spectra.flux[split.test]).astype(np.float32))
    x_test = x_test[:, None, :]
    frozen = result.model.for_inference()
    out = network_outputs(frozen, x_test)
    timed = x_test[:TIMING_ROWS]
    rate = best_rate(lambda: network_outputs(frozen, timed), len(timed))
    return Result(
        "paper", out["z_pred"], seconds, rate, result.model.num_parameters(),
        multiply_adds(preset.model), notes=describe_run(result, seconds),
    )  # fmt: skip


def run_xpz(
    spectra: Spectra, split: Split, args: argparse.Namespace, work: Path
) -> tuple[Result, Array]:
    """Train and calibrate xpz; also return the scaled fluxes of all spectra (baseline inputs)."""
    preset = xpz_recipe()
    assert isinstance(preset.model, XpzNetConfig)
    scaler = make_scaler(**preset.scaling).fit(spectra.flux[split.train])
    data = make_training_data(spectra, split, scaler, input_channels=preset.model.input_channels)
    config = preset.training.replace(
        epochs=args.xpz_epochs or preset.training.epochs,
        num_threads=args.threads,
        progress=False,
        seed=args.seed,
    )
    model = build_model(preset.model, seed=args.seed)
    result, seconds = train_network(model, data, config, work / "xpz", None)
    assert isinstance(result.model, XpzNet)
    t_start = time.perf_counter()
    temperature = result.model.calibrate(data.x_validation, data.z_validation)["temperature"]
    seconds += time.perf_counter() - t_start
    test = spectra[split.test]
    x_test = torch.from_numpy(
        model_inputs(scaler, test.flux, test.flux_error, preset.model.input_channels)
    )
    frozen = result.model.for_inference()
    out = network_outputs(frozen, x_test)
    timed = x_test[:TIMING_ROWS]
    rate = best_rate(lambda: network_outputs(frozen, timed), len(timed))
    notes = describe_run(result, seconds) + f", temperature {temperature:.3f}"
    quantiles = {k: out[k] for k in ("z_q025", "z_q16", "z_q84", "z_q975")}
    res = Result(
        "xpz", out["z_pred"], seconds, rate, result.model.num_parameters(),
        multiply_adds(preset.model), quantiles, out["pdf"], preset.model.z_grid(), notes,
    )  # fmt: skip
    return res, np.asarray(scaler.transform(spectra.flux), dtype=np.float64)


def run_baseline(
    name: str, model: SvrBaseline | KnnBaseline, features: Array, spectra: Spectra, split: Split
) -> Result:
    z = spectra.require_z()
    start = time.perf_counter()
    model.fit(features[split.train], z[split.train])
    seconds = time.perf_counter() - start
    x_test = features[split.test]
    start = time.perf_counter()
    z_pred = model.predict(x_test)
    rate = len(x_test) / (time.perf_counter() - start)
    notes = f"fitted on {model.n_train:,} training spectra"
    return Result(
        name, z_pred, seconds, rate, model.num_parameters(), model.multiply_adds(), notes=notes
    )


def evaluate(result: Result, z_true: Array) -> dict[str, float]:
    """Every column of the main table for one model (NaN where it does not apply)."""
    row = summary(z_true, result.z_pred)
    table = per_bin_table(z_true, result.z_pred)
    keep = np.asarray(table["z_hi"]) <= WORST_BIN_Z_MAX + 1e-9
    row["worst_bin"] = float(np.nanmax(np.abs(np.asarray(table["mean_error"])[keep])))
    row |= {"cov68": np.nan, "cov95": np.nan, "pit_ks": np.nan, "crps": np.nan}
    if result.quantiles is not None:
        q = result.quantiles
        row["cov68"] = coverage(z_true, q["z_q16"], q["z_q84"])
        row["cov95"] = coverage(z_true, q["z_q025"], q["z_q975"])
    if result.pdf is not None and result.grid is not None:
        row["pit_ks"] = pit_ks_statistic(zpdf.pit(result.pdf, result.grid, z_true))
        row["crps"] = float(np.mean(zpdf.crps(result.pdf, result.grid, z_true)))
    return row


def _f(value: float, digits: int = 4) -> str:
    return "-" if not np.isfinite(value) else f"{value:.{digits}f}"


def main_table(results: list[Result], rows: list[dict[str, float]]) -> str:
    head = (
        "| model | MAE | RMSE | bias | sigma_NMAD | outl. >0.15 | outl. >0.05 | MAE z<0.35 "
        "| worst abs bin mean err (z<=0.5) | cov 68% | cov 95% | PIT KS | CRPS | parameters "
        "| multiply-adds / spectrum | training time | inference spectra/s |"
    )
    lines = [head, "|" + "---|" * 18]
    for res, row in zip(results, rows, strict=True):
        cells = [
            res.name, _f(row["mae"]), _f(row["rmse"]), _f(row["bias"], 5), _f(row["sigma_nmad"]),
            _f(row["outlier_frac_015"]), _f(row["outlier_frac_005"]), _f(row["mae_z_lt_035"]),
            _f(row["worst_bin"]), _f(100 * row["cov68"], 1), _f(100 * row["cov95"], 1),
            _f(row["pit_ks"]), _f(row["crps"]), f"{res.parameters:,}", f"{res.macs:,}",
            f"{res.train_seconds / 60:.1f} min", f"{res.spectra_per_second:,.0f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bin_table(paper: Result, xpz: Result, z_true: Array) -> str:
    a, b = per_bin_table(z_true, paper.z_pred), per_bin_table(z_true, xpz.z_pred)
    lines = [
        "| z bin | n test | paper mean error | xpz mean error | abs ratio xpz / paper |",
        "|---|---|---|---|---|",
    ]
    for i in range(len(a)):
        ratio = abs(b["mean_error"][i]) / abs(a["mean_error"][i])
        lines.append(
            f"| {a['z_lo'][i]:.2f}-{a['z_hi'][i]:.2f} | {a['n'][i]} | {_f(a['mean_error'][i])} "
            f"| {_f(b['mean_error'][i])} | {_f(ratio, 2)} |"
        )
    return "\n".join(lines)


def target_checks(results: dict[str, Result], rows: dict[str, dict], z_true: Array) -> str:
    """The issue's targets, each with the measured value and whether it is met."""
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
        lines.append(f"| {name} | {_f(float(value), 3)} | {goal} | {'yes' if met else 'no'} |")
    return "\n".join(lines)


def write_figures(xpz: Result, z_true: Array, figures: Path) -> list[str]:
    """PIT histogram and coverage curve of the xpz PDFs; returns the written paths."""
    assert xpz.pdf is not None and xpz.grid is not None
    pit = zpdf.pit(xpz.pdf, xpz.grid, z_true)
    observed = coverage_from_pit(pit, DEFAULT_COVERAGE_LEVELS)
    figures.mkdir(parents=True, exist_ok=True)
    paths = [figures / "accuracy_pit.png", figures / "accuracy_coverage.png"]
    save_figure(plot_pit_histogram(pit), paths[0])
    save_figure(plot_coverage({"xpz PDF": (DEFAULT_COVERAGE_LEVELS, observed)}), paths[1])
    return [str(p) for p in paths]


def deviations(args: argparse.Namespace, paper: Result) -> str:
    """Plain statement of how this run differs from the issue's full benchmark."""
    notes = []
    if args.n < 200_000:
        notes.append(f"{args.n:,} spectra instead of at least 200,000")
    if args.paper_epochs < 20:
        notes.append(f"paper model limited to {args.paper_epochs} epochs instead of 20")
    if args.paper_max_minutes is not None and "stopped: callback" in paper.notes:
        notes.append(
            f"paper model limited to a {args.paper_max_minutes:g}-minute wall-clock budget "
            f"({paper.notes}); the dissertation trains up to 20 epochs, so its numbers here "
            "are those of a less-trained paper model"
        )
    preset_epochs = xpz_recipe().training.epochs
    if args.xpz_epochs is not None and args.xpz_epochs != preset_epochs:
        notes.append(
            f"xpz trained {args.xpz_epochs} epochs instead of its preset's {preset_epochs}"
        )
    if args.threads is not None and args.threads < (os.cpu_count() or 1):
        notes.append(f"torch limited to {args.threads} of {os.cpu_count()} cores")
    notes.append(f"SVR fitted on a subsample of {args.svr_train_size:,} training spectra")
    return "; ".join(notes) + "."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="spectra to simulate")
    parser.add_argument("--sim-seed", type=int, default=2026, help="seed of the simulation")
    parser.add_argument("--seed", type=int, default=0, help="seed of split and training")
    parser.add_argument("--paper-epochs", type=int, default=20)
    parser.add_argument("--paper-patience", type=int, default=3, help="early-stopping patience")
    parser.add_argument("--paper-max-minutes", type=float, default=None)
    parser.add_argument("--xpz-epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--svr-train-size", type=int, default=20_000)
    parser.add_argument("--knn-k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep the training runs here (default: a temporary directory); a run found "
        "there is resumed, or reused if it had finished",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/accuracy.md"))
    parser.add_argument("--figures", type=Path, default=Path("docs/figures"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "benchmarks/accuracy.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    spectra = simulate(args.n, seed=args.sim_seed)
    split = split_indices(args.n, seed=args.seed)
    z_test = spectra.require_z()[split.test].astype(np.float64)
    with tempfile.TemporaryDirectory(prefix="xpz-accuracy-") as tmp:
        work = args.work or Path(tmp)
        xpz, features = run_xpz(spectra, split, args, work)
        print("xpz:", xpz.notes, flush=True)
        paper = run_paper(spectra, split, args, work)
        print("paper:", paper.notes, flush=True)
    svr_config = SvrConfig(max_train=args.svr_train_size, seed=args.seed)
    svr = run_baseline("svr", SvrBaseline(svr_config), features, spectra, split)
    print("svr:", svr.notes, flush=True)
    knn = run_baseline(
        "knn", KnnBaseline(KnnConfig(n_neighbors=args.knn_k)), features, spectra, split
    )
    results = {r.name: r for r in (paper, xpz, svr, knn)}
    rows = {name: evaluate(r, z_test) for name, r in results.items()}
    figures = write_figures(xpz, z_test, args.figures)
    sizes = split.sizes()
    report = [
        "# Accuracy of the redshift models on simulated spectra",
        "",
        "Produced by:",
        "",
        f"    .venv/bin/python {command}",
        "",
        f"What was run: {args.n:,} spectra from `xpz.simulate.simulate(seed={args.sim_seed})`, "
        f"split 63/27/10 with `split_indices(seed={args.seed})` into {sizes['train']:,} training, "
        f"{sizes['validation']:,} validation and {sizes['test']:,} test spectra; all numbers "
        "below are on the test set.",
        "",
    ]
    for res in results.values():
        report.append(f"- **{res.name}**: {res.notes}")
    report += [
        f"- paper recipe asked for: batch 16, up to {args.paper_epochs} epochs, early stopping "
        f"(patience {args.paper_patience}), wall-clock budget "
        f"{'none' if args.paper_max_minutes is None else f'{args.paper_max_minutes:g} min'}",
        f"- SVR: RBF, C={svr_config.c}, epsilon={svr_config.epsilon}, gamma='scale'; kNN: "
        f"k={args.knn_k}, distance-weighted; both on standardised per-spectrum L2-normalised flux",
        f"- inference: torch threads {args.threads or 'all'}; networks in batches of 1024 including "
        "`summarize` (PDF quantiles for xpz), each model's `for_inference()` copy (xpz: BatchNorm "
        "folded into the convolutions), best of 2 passes over 4,096 test spectra; baselines: "
        "one scikit-learn `predict` over the test set",
        "",
        "Deviations from the full recipes: " + deviations(args, results["paper"]),
        "",
        "## Test-set metrics",
        "",
        main_table(list(results.values()), list(rows.values())),
        "",
        "MAE, RMSE, MAE z<0.35 and bin mean errors are unnormalised (z_pred - z_true); bias, "
        "sigma_NMAD and outlier fractions use dz = (z_pred - z_true) / (1 + z_true).",
        "",
        "## Targets of issue #7",
        "",
        target_checks(results, rows, z_test),
        "",
        "## Mean error per 0.05 bin of true z: paper vs xpz",
        "",
        bin_table(paper, xpz, z_test),
        "",
        "## Uncertainty quality of xpz (test set)",
        "",
        *[f"![{Path(f).stem}](figures/{Path(f).name})" for f in figures],
        "",
    ]
    with atomic_path(args.out) as tmp_out:
        Path(tmp_out).write_text("\n".join(report))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
