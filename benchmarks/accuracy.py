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

(the baselines on the per-spectrum L2-normalised fluxes the xpz model sees), and
fits templates (no training: :func:`xpz.models.template_fit.fit_templates` on the
test spectra with their flux errors, its default z grid and a flat prior):

* ``template-kcorrect``: kcorrect's five NMF templates, which made the simulated data;
* ``template-bpz``: BPZ's six CWW+SB templates (Benitez 2004), which did not;

evaluates all on the test set and writes one markdown report with the command
(point metrics, interval coverage and the PIT/CRPS/CDE-loss metrics of the
models that give PDFs, through :func:`xpz.evaluation.evaluate.evaluate`).
``--models`` runs a subset (default: all).  Inference speed is measured in this
run: networks on 4,096 scaled test inputs in batches of 1024 (best of two
passes), baselines in their one ``predict`` call on the whole test set, template
fits in one ``fit_templates`` call on the whole test set (after a warm-up call
on 8 spectra that builds the redshifted templates); ratios between models are
what count.  ``--work DIR`` keeps the training runs, so an interrupted benchmark
resumes them and a rerun reuses the finished ones.

Usage::

    .venv/bin/python benchmarks/accuracy.py --n 200000 --paper-max-minutes 15 \\
        --out docs/accuracy.md
    .venv/bin/python benchmarks/accuracy.py --n 20000 \\
        --models xpz knn template-kcorrect template-bpz --out /tmp/subset.md --figures /tmp/fig
"""

from __future__ import annotations

import argparse
import enum
import itertools
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from accuracy_tables import (
    Result,
    bin_table,
    comparison_table,
    evaluate,
    main_table,
    pdf_table,
    target_checks,
)
from numpy.typing import NDArray

from xpz import pdf as zpdf
from xpz.evaluation.calibration import DEFAULT_COVERAGE_LEVELS, coverage_from_pit
from xpz.evaluation.plots import plot_coverage, plot_pit_histogram, save_figure
from xpz.io.atomic import atomic_path
from xpz.layout import N_PIXELS
from xpz.models.base import RedshiftModel
from xpz.models.baselines import KnnBaseline, KnnConfig, SvrBaseline, SvrConfig
from xpz.models.ensemble import XpzEnsemble
from xpz.models.modelfile import model_inputs
from xpz.models.paper import PaperConfig
from xpz.models.registry import build_model
from xpz.models.template_fit import (
    DEFAULT_Z_GRID,
    TemplateSet,
    fit_templates,
    template_fluxes,
)
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
#: Test spectra the networks' inference speed is timed on (best of two passes).
TIMING_ROWS = 4096


class Model(enum.Enum):
    """The rows of the benchmark, in table order."""

    PAPER = "paper"
    XPZ = "xpz"
    SVR = "svr"
    KNN = "knn"
    TEMPLATE_KCORRECT = "template-kcorrect"
    TEMPLATE_BPZ = "template-bpz"


#: The template set of each template-fitting row.
TEMPLATE_SETS = {
    Model.TEMPLATE_KCORRECT: TemplateSet.KCORRECT,
    Model.TEMPLATE_BPZ: TemplateSet.BPZ,
}


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


def run_xpz(spectra: Spectra, split: Split, args: argparse.Namespace, work: Path) -> Result:
    """Train (or reuse from ``work``) and calibrate xpz; predict the test set."""
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
    assert isinstance(result.model, XpzNet | XpzEnsemble)  # the preset: an ensemble
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
    return Result(
        "xpz", out["z_pred"], seconds, rate, result.model.num_parameters(),
        multiply_adds(preset.model), quantiles, out["pdf"], preset.model.z_grid(), notes,
    )  # fmt: skip


def baseline_features(spectra: Spectra, split: Split) -> Array:
    """The baselines' inputs: every spectrum scaled as the xpz preset scales (fitted on train)."""
    scaler = make_scaler(**xpz_recipe().scaling).fit(spectra.flux[split.train])
    return np.asarray(scaler.transform(spectra.flux), dtype=np.float64)


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


def template_multiply_adds(n_z: int, n_t: int) -> int:
    """Multiply-adds per spectrum of :func:`fit_templates` with ``n_t`` templates on ``n_z`` z.

    The weighted normal equations (``n_z n_t (n_t + 1)`` per pixel) and, for each
    of the ``2**n_t - 1`` template subsets of size k at each z, an elimination
    counted as ``k**3 // 3 + 2 k**2 + 2 k``.

    >>> template_multiply_adds(1, 1)
    562
    """
    subsets = sum(
        (k**3 // 3 + 2 * k * k + 2 * k) * len(list(itertools.combinations(range(n_t), k)))
        for k in range(1, n_t + 1)
    )
    return n_z * (n_t * (n_t + 1) * N_PIXELS + subsets) + N_PIXELS


def run_template(model: Model, spectra: Spectra, split: Split) -> Result:
    """Template fitting on the test spectra: no training; flat prior, default z grid."""
    template_set = TEMPLATE_SETS[model]
    test = spectra[split.test]
    if test.flux_error is None:
        raise ValueError("template fitting needs the spectra's flux errors")
    flux, error = test.flux, test.flux_error
    fit_templates(flux[:8], error[:8], template_set=template_set)  # warm-up: builds the templates
    start = time.perf_counter()
    fit = fit_templates(flux, error, template_set=template_set)
    rate = len(test) / (time.perf_counter() - start)
    n_z, n_t, n_pix = template_fluxes(DEFAULT_Z_GRID, template_set).shape
    notes = (
        f"{n_t} {template_set.value} templates, non-negative fit with the test spectra's flux "
        f"errors on the default z grid ({n_z} points, {fit.z_grid[0]:g} to {fit.z_grid[-1]:g}), "
        "flat prior, z_pred the PDF median; no training (parameters: the stored "
        "redshifted template fluxes)"
    )
    return Result(
        model.value, fit.z_pred, 0.0, rate, n_z * n_t * n_pix,
        template_multiply_adds(n_z, n_t), None, fit.pdf, fit.z_grid, notes, trained=False,
    )  # fmt: skip


def deviations(args: argparse.Namespace, results: dict[str, Result]) -> str:
    """Plain statement of how this run differs from the issue's full benchmark."""
    notes = []
    if args.n < 200_000:
        notes.append(f"{args.n:,} spectra instead of at least 200,000")
    paper = results.get(Model.PAPER.value)
    if paper is not None and args.paper_epochs < 20:
        notes.append(f"paper model limited to {args.paper_epochs} epochs instead of 20")
    budget = args.paper_max_minutes
    if paper is not None and budget is not None and "stopped: callback" in paper.notes:
        notes.append(
            f"paper model limited to a {budget:g}-minute wall-clock budget ({paper.notes}); "
            "the dissertation trains up to 20 epochs, so its numbers here are those of a "
            "less-trained paper model"
        )
    preset_epochs = xpz_recipe().training.epochs
    if Model.XPZ.value in results and args.xpz_epochs not in (None, preset_epochs):
        notes.append(
            f"xpz trained {args.xpz_epochs} epochs instead of its preset's {preset_epochs}"
        )
    if args.threads is not None and args.threads < (os.cpu_count() or 1):
        notes.append(f"torch limited to {args.threads} of {os.cpu_count()} cores")
    if Model.SVR.value in results:
        notes.append(f"SVR fitted on a subsample of {args.svr_train_size:,} training spectra")
    left_out = [m.value for m in Model if m.value not in results]
    if left_out:
        notes.append("not run (`--models`): " + ", ".join(left_out))
    return "; ".join(notes) + "." if notes else "none."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="spectra to simulate")
    parser.add_argument("--sim-seed", type=int, default=2026, help="seed of the simulation")
    parser.add_argument("--seed", type=int, default=0, help="seed of split and training")
    parser.add_argument(
        "--models",
        nargs="+",
        type=Model,
        choices=list(Model),
        metavar="MODEL",
        default=list(Model),
        help="the rows to run, of: " + " ".join(m.value for m in Model) + " (default: all)",
    )
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


def run_models(
    spectra: Spectra, split: Split, args: argparse.Namespace
) -> tuple[dict[str, Result], dict[str, float]]:
    """Every model of ``args.models``, in table order, and the wall seconds of each row."""
    chosen = [m for m in Model if m in args.models]
    results: dict[str, Result] = {}
    seconds: dict[str, float] = {}
    features = None
    with tempfile.TemporaryDirectory(prefix="xpz-accuracy-") as tmp:
        work = args.work or Path(tmp)
        for model in chosen:
            start = time.perf_counter()
            if model is Model.PAPER:
                res = run_paper(spectra, split, args, work)
            elif model is Model.XPZ:
                res = run_xpz(spectra, split, args, work)
            elif model in TEMPLATE_SETS:
                res = run_template(model, spectra, split)
            else:
                features = baseline_features(spectra, split) if features is None else features
                baseline: SvrBaseline | KnnBaseline = (
                    SvrBaseline(SvrConfig(max_train=args.svr_train_size, seed=args.seed))
                    if model is Model.SVR
                    else KnnBaseline(KnnConfig(n_neighbors=args.knn_k))
                )
                res = run_baseline(model.value, baseline, features, spectra, split)
            results[res.name] = res
            seconds[res.name] = time.perf_counter() - start
            print(f"{res.name}: {res.notes} (row: {seconds[res.name]:.0f} s)", flush=True)
    return results, seconds


def describe(args: argparse.Namespace, results: dict[str, Result], seconds: dict) -> list[str]:
    """The bullet list of what each row ran, and the settings."""
    lines = [
        f"- **{res.name}**: {res.notes}; the whole row took {seconds[res.name] / 60:.1f} min "
        "in this run"
        for res in results.values()
    ]
    if Model.PAPER.value in results:
        budget = "none" if args.paper_max_minutes is None else f"{args.paper_max_minutes:g} min"
        lines.append(
            f"- paper recipe asked for: batch 16, up to {args.paper_epochs} epochs, early "
            f"stopping (patience {args.paper_patience}), wall-clock budget {budget}"
        )
    fitted = []
    if Model.SVR.value in results:
        svr = SvrConfig(max_train=args.svr_train_size, seed=args.seed)
        fitted.append(f"SVR: RBF, C={svr.c}, epsilon={svr.epsilon}, gamma='scale'")
    if Model.KNN.value in results:
        fitted.append(f"kNN: k={args.knn_k}, distance-weighted")
    if fitted:
        lines.append(f"- {'; '.join(fitted)}; on standardised per-spectrum L2-normalised flux")
    lines.append(
        f"- inference: torch threads {args.threads or 'all'}; networks in batches of 1024 "
        "including `summarize` (PDF quantiles for xpz), each model's `for_inference()` copy "
        "(xpz: BatchNorm folded into the convolutions), best of 2 passes over 4,096 test "
        "spectra; baselines: one scikit-learn `predict` over the test set; template fits: one "
        "`fit_templates` call over the test set after a warm-up on 8 spectra"
    )
    return lines


def template_section(rows: dict[str, dict[str, float]]) -> list[str]:
    """xpz beside the kcorrect template fit, when both ran."""
    reference = Model.TEMPLATE_KCORRECT.value
    if Model.XPZ.value not in rows or reference not in rows:
        return []
    return [
        "## xpz against the kcorrect template fit",
        "",
        "The simulator made these spectra from kcorrect's templates, so this fit uses the true "
        "SED family and the spectra's own flux errors; it is not the exact optimum: it uses a "
        "flat prior, not the simulated n(z), and its point estimate is the PDF median.",
        "",
        comparison_table(rows, Model.XPZ.value, reference),
        "",
    ]


def report_lines(
    args: argparse.Namespace,
    command: str,
    split: Split,
    results: dict[str, Result],
    seconds: dict[str, float],
    z_test: Array,
) -> list[str]:
    rows = {name: evaluate(r, z_test) for name, r in results.items()}
    sizes = split.sizes()
    report = [
        "# Accuracy of the redshift models on simulated spectra", "", "Produced by:", "",
        f"    .venv/bin/python {command}", "",
        f"What was run: {args.n:,} spectra from `xpz.simulate.simulate(seed={args.sim_seed})`, "
        f"split 63/27/10 with `split_indices(seed={args.seed})` into {sizes['train']:,} training, "
        f"{sizes['validation']:,} validation and {sizes['test']:,} test spectra; all numbers "
        "below are on the test set.", "",
        *describe(args, results, seconds), "",
        "Deviations from the full recipes: " + deviations(args, results), "",
        "## Test-set metrics", "",
        main_table(list(results.values()), list(rows.values())), "",
        "MAE, RMSE, MAE z<0.35 and bin mean errors are unnormalised (z_pred - z_true); bias, "
        "sigma_NMAD, sigma_IQR and outlier fractions use dz = (z_pred - z_true) / (1 + z_true); "
        "outl. SRD is the LSST SRD's (and RAIL's) rate |dz| > max(0.06, 3 sigma_IQR).", "",
        "## Uncertainty: interval coverage and PDF metrics", "",
        pdf_table(list(results.values()), list(rows.values())), "",
        "Coverage of the central 68% and 95% intervals (from the quantiles; for template "
        "fits, from the PIT of their PDFs); PIT statistics against the uniform (KS distance, "
        "Cramer-von Mises and Anderson-Darling, both growing with the number of galaxies) and "
        "the share of PIT values below 0.0001 or above 0.9999; mean CRPS; CDE loss (lower is "
        "better).", "",
        *template_section(rows),
    ]  # fmt: skip
    if all(m.value in results for m in (Model.PAPER, Model.XPZ, Model.SVR, Model.KNN)):
        report += ["## Targets of issue #7", "", target_checks(results, rows, z_test), ""]
    report += [
        "## Mean error per 0.05 bin of true z",
        "",
        bin_table(list(results.values()), z_test),
        "",
    ]
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "benchmarks/accuracy.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    spectra = simulate(args.n, seed=args.sim_seed)
    split = split_indices(args.n, seed=args.seed)
    z_test = spectra.require_z()[split.test].astype(np.float64)
    results, seconds = run_models(spectra, split, args)
    report = report_lines(args, command, split, results, seconds, z_test)
    if Model.XPZ.value in results:
        figures = write_figures(results[Model.XPZ.value], z_test, args.figures)
        report += [
            "## Uncertainty quality of xpz (test set)", "",
            *[f"![{Path(f).stem}](figures/{Path(f).name})" for f in figures], "",
        ]  # fmt: skip
    with atomic_path(args.out) as tmp_out:
        Path(tmp_out).write_text("\n".join(report))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
