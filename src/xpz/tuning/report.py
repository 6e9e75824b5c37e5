"""The outputs of a hyperparameter search: trial table, plots and report.

Pieces of the search's output folder: the table of every trial (``trials.csv``),
the optimisation history (``history.png``) and the fANOVA parameter importances
(``importance.png``), and the lines of ``report.md`` (:func:`report_lines`);
:func:`xpz.tuning.search.write_outputs` writes them with the best recipe.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xpz.models.paper import PaperConfig

if TYPE_CHECKING:
    import optuna

    from xpz.recipes import Recipe


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One plain dict per trial: number, state, validation MAE, notes, parameters."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        note = t.user_attrs.get("rejected") or t.user_attrs.get("stopped") or ""
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "val_mae": t.value,
                "epochs": len(t.intermediate_values),
                "seconds": None if seconds is None else round(seconds, 1),
                "parameters": t.user_attrs.get("parameters"),
                "worker": t.user_attrs.get("worker", ""),
                "note": ("rejected: " if "rejected" in t.user_attrs else "") + note,
                **t.params,
            }
        )
    return rows


def write_trials_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """All trials as CSV (atomically); parameters absent from a trial are empty."""

    from xpz.io.atomic import atomic_path

    names = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_history(study: optuna.Study):  # -> matplotlib Figure
    """Validation MAE of every complete trial, and the best so far, against trial number."""
    from matplotlib.figure import Figure
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    number = np.array([t.number for t in done])
    value = np.array([t.value for t in done], dtype=float)
    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(number, value, "o", color="tab:blue", label="complete trial")
    ax.step(
        number, np.minimum.accumulate(value), where="post", color="tab:red", label="best so far"
    )
    ax.set(xlabel="trial", ylabel="lowest validation MAE", title="Optimisation history")
    ax.legend()
    return fig


def plot_importances(importances: dict[str, float]):  # -> matplotlib Figure
    """Horizontal bars of parameter importances (Optuna's default evaluator, sum 1)."""
    from matplotlib.figure import Figure

    names = list(importances)[::-1]
    fig = Figure(figsize=(7.0, 0.3 * len(names) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set(xlabel="importance for the validation MAE", title="Hyperparameter importance")
    return fig


def save_png(fig, path: Path) -> None:
    from xpz.evaluation.plots import save_figure

    save_figure(fig, path, dpi=110)


def param_importances(study: optuna.Study) -> dict[str, float] | None:
    """Optuna's parameter importances over complete trials (None with fewer than two)."""
    import optuna
    from optuna.trial import TrialState

    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return None
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):  # e.g. every complete trial has the same value
        return None
    return dict(importances)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return lines


def report_lines(
    study: optuna.Study,
    rows: Sequence[dict[str, Any]],
    recipe: Recipe,
    *,
    heading: str,
    recipe_file: str,
    importance: bool,
) -> list[str]:
    """The lines of ``report.md``: trial counts, the best recipe, figures, the trial table."""
    model = recipe.model
    assert isinstance(model, PaperConfig)  # the search space is the paper CNN's
    best = study.best_trial
    states = {s: sum(r["state"] == s for r in rows) for s in ("COMPLETE", "PRUNED", "FAIL")}
    rejected = sum(r["note"].startswith("rejected") for r in rows)
    convolutions = ", ".join(
        f"{f}/{k}" for f, k in zip(model.conv_filters, model.conv_kernels, strict=True)
    )
    lines = [
        f"# xpz tune: study {study.study_name}",
        "",
        heading,
        "",
        f"Trials: {len(rows)} ({states['COMPLETE']} complete, {states['PRUNED'] - rejected} "
        f"pruned, {rejected} rejected as invalid, {states['FAIL']} failed or interrupted).",
        "",
        f"Best: trial {best.number}, validation MAE {study.best_value:.4f}; "
        f"recipe `{recipe_file}` (`xpz train DATA -o RUN --config {recipe_file}`):",
        "",
        f"- convolutions (filters/kernel): {convolutions}",
        f"- dense units: {', '.join(map(str, model.dense_units))}",
        f"- activation {model.activation.value}, loss {model.loss.value}, "
        f"optimizer {recipe.training.optimizer.value}, lr {recipe.training.lr:.3g}, "
        f"batch {recipe.training.batch_size}",
        "",
        "![optimisation history](history.png)",
        "",
    ]
    if importance:
        lines += ["![parameter importance](importance.png)", ""]
    ranked = sorted(rows, key=lambda r: (r["val_mae"] is None, r["val_mae"] or 0.0))
    columns = ["number", "state", "val_mae", "epochs", "seconds", "parameters", "note"]
    lines += ["## Trials (best first; all parameters in trials.csv)", ""]
    return lines + markdown_table(ranked, columns)
