"""The outputs of a hyperparameter search: trial table, plots and report.

Pieces of the search's output folder: the table of every trial (``trials.csv``),
the optimisation history (``history.png``) and the fANOVA parameter importances
(``importance.png``); :func:`xpz.tuning.search.write_outputs` ties them together
in ``report.md`` with the best recipe.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import optuna


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
