"""Bayesian hyperparameter search with Optuna: :func:`tune` (``xpz tune``).

Every trial draws a point of the :class:`~xpz.tuning.space.SearchSpace`,
rejects it before training when the architecture is invalid, and otherwise
trains it with the project's one training function,
:func:`xpz.training.loop.train`, for a few epochs on the same split and the same
fitted scaler as every other trial.  The objective is the lowest **validation
MAE** over the trial's epochs: the validation *loss* cannot be compared between
trials that train with different loss functions (Huber, MSE, MAE), the MAE can.
The per-epoch validation MAE is reported to Optuna, whose median pruner stops
trials that are worse than the median of earlier trials at the same epoch.

The study lives in an Optuna storage: by default a journal file
``OUT_DIR/study.journal``, so an interrupted search is resumed by running the
same command again; any Optuna storage URL (``postgresql://...``,
``sqlite:///...``) or a journal file on a shared filesystem lets several
processes or machines work on one study at once.  ``n_trials`` is the number of
finished (complete or pruned) trials the study should have in total.

Trial states: COMPLETE (trained), PRUNED (stopped early by the pruner, rejected
as invalid - user attribute ``rejected`` - or diverged), FAIL (interrupted or
crashed; not counted, its slot is run again).
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xpz.errors import XpzError
from xpz.recipes import Recipe, paper_recipe, prepare_training_data
from xpz.retry import RetryPolicy, retry
from xpz.tuning.report import (
    param_importances,
    plot_history,
    plot_importances,
    report_lines,
    save_png,
    trial_rows,
    write_trials_csv,
)
from xpz.tuning.sampler import Sampler, make_sampler
from xpz.tuning.space import SearchSpace, recipe_from_params, suggest

if TYPE_CHECKING:
    import optuna

    from xpz.spectra import Spectra
    from xpz.training import EpochCallback, EpochMetrics, TrainingData

__all__ = ["Sampler", "TuneConfig", "TuneResult", "open_study", "tune"]

JOURNAL_FILE = "study.journal"
RECIPE_FILE = "best_recipe.json"
#: Tries at opening an RDB storage (about 7 s in all), see :func:`make_storage`.
STORAGE_RETRY = RetryPolicy(attempts=5, first_delay_s=0.5, max_delay_s=4.0)


@dataclasses.dataclass(frozen=True)
class TuneConfig:
    """Settings of a search.  Those in :meth:`study_settings` must not change on resumption."""

    #: Finished (complete or pruned) trials the study should have in total.
    n_trials: int = 20
    space: SearchSpace = dataclasses.field(default_factory=SearchSpace)
    epochs_per_trial: int = 3
    #: Train each trial on at most this many (seeded, random) training rows (None: all).
    max_train_rows: int | None = None
    #: Seed of the train/validation/test split shared by all trials.
    split_seed: int = 0
    sampler: Sampler = Sampler.GP
    #: Seed of the sampler (offset by the number of trials already in the study).
    seed: int = 0
    #: Trials drawn at random before the sampler starts modelling.
    startup_trials: int = 5
    #: Stop hopeless trials early (median pruner on the per-epoch validation MAE).
    prune: bool = True

    def __post_init__(self) -> None:
        for name in ("n_trials", "epochs_per_trial", "startup_trials"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_train_rows is not None and self.max_train_rows < 1:
            raise ValueError(f"max_train_rows must be >= 1, got {self.max_train_rows}")
        object.__setattr__(self, "sampler", Sampler(self.sampler))

    def study_settings(self, base: Recipe, n_spectra: int) -> dict[str, Any]:
        """What makes trials comparable: stored with the study, checked on resumption."""
        return {
            "space": self.space.to_dict(),
            "epochs_per_trial": self.epochs_per_trial,
            "max_train_rows": self.max_train_rows,
            "split_seed": self.split_seed,
            "n_spectra": n_spectra,
            "base": base.to_dict(),
        }


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """The outcome of :func:`tune`: the best trial and the files written."""

    study_name: str
    storage: str
    n_finished: int
    best_number: int
    #: Lowest validation MAE of the best trial.
    best_value: float
    best_params: dict[str, Any]
    best_recipe: Recipe
    recipe_path: Path
    trials_csv: Path
    report: Path


def make_storage(storage: str | Path | None, out_dir: Path) -> optuna.storages.BaseStorage:
    """A journal file (default ``out_dir/study.journal``, or a path), or an Optuna URL."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if storage is not None and "://" in str(storage):
        import sqlalchemy.exc

        # Heartbeats let Optuna fail the trials of workers that died.  Workers starting
        # together on a new database race to create its tables: the losers try again.
        return retry(
            lambda: optuna.storages.RDBStorage(
                str(storage), heartbeat_interval=60, grace_period=300
            ),
            STORAGE_RETRY,
            retry_on=(sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError),
        )
    path = Path(storage) if storage is not None else out_dir / JOURNAL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def open_study(
    study_name: str, storage: optuna.storages.BaseStorage, sampler=None, pruner=None
) -> optuna.Study:
    """Create the study, or load it when it exists (minimising validation MAE)."""
    import optuna

    return optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker process on this host is gone.

    A killed worker leaves its trial RUNNING in a journal file; RDB storages
    detect those by heartbeat instead.  Returns the trial numbers changed.
    """
    from optuna.trial import TrialState

    host, failed = socket.gethostname(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and not _pid_alive(int(pid)):
            # Optuna's storage API addresses trials by their internal id.
            study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed


def count_finished(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials``: complete or pruned."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _check_settings(study: optuna.Study, settings: dict[str, Any]) -> None:
    stored = study.user_attrs.get("settings")
    if stored is None:
        study.set_user_attr("settings", settings)
        return
    changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
    if changed:
        raise XpzError(
            f"study {study.study_name!r} was started with other settings ({', '.join(changed)}); "
            "use the same data and options, or another --study-name / storage"
        )


class PruningCallback:
    """An :class:`~xpz.training.loop.EpochCallback` reporting validation MAE to a trial."""

    def __init__(self, trial: optuna.Trial, *, prune: bool) -> None:
        self.trial, self.prune = trial, prune
        self.stopped: str | None = None

    def on_epoch_end(self, epoch: int, metrics: EpochMetrics) -> bool:
        if not math.isfinite(metrics.val_mae):
            self.stopped = f"diverged (validation MAE {metrics.val_mae}) at epoch {epoch}"
            return True
        self.trial.report(metrics.val_mae, step=epoch)
        if self.prune and self.trial.should_prune():
            self.stopped = f"pruned at epoch {epoch}"
            return True
        return False


@dataclasses.dataclass(frozen=True)
class Objective:
    """Train one trial's recipe on the shared data; returns its lowest validation MAE."""

    data: TrainingData
    base: Recipe
    config: TuneConfig
    callbacks: Sequence[EpochCallback] = ()

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        from xpz.models.registry import build_model
        from xpz.training import train

        trial.set_user_attr("worker", _worker_id())
        params = suggest(trial, self.config.space)
        try:
            recipe = recipe_from_params(params, self.base, pool=self.config.space.pool)
        except ValueError as err:
            trial.set_user_attr("rejected", str(err))
            raise optuna.TrialPruned(f"invalid architecture: {err}") from None
        training = recipe.training.replace(epochs=self.config.epochs_per_trial, progress=False)
        pruning = PruningCallback(trial, prune=self.config.prune)
        model = build_model(recipe.model, seed=training.seed)
        with tempfile.TemporaryDirectory(prefix=f"xpz-trial{trial.number}-") as run_dir:
            result = train(
                model, self.data, training, run_dir, callbacks=[pruning, *self.callbacks]
            )
        trial.set_user_attr("parameters", model.num_parameters())
        if pruning.stopped is not None:
            trial.set_user_attr("stopped", pruning.stopped)
            raise optuna.TrialPruned(pruning.stopped)
        return min(m.val_mae for m in result.history)


def prepare_data(spectra: Spectra, base: Recipe, config: TuneConfig) -> TrainingData:
    """Split, fit the scaler on the training rows and scale: once, for all trials."""
    _, data = prepare_training_data(
        spectra, base, split_seed=config.split_seed, max_train_rows=config.max_train_rows
    )
    return data


def tune(
    spectra: Spectra,
    out_dir: str | Path,
    config: TuneConfig = TuneConfig(),  # noqa: B008 - frozen
    *,
    study_name: str = "xpz",
    storage: str | Path | None = None,
    base: Recipe | None = None,
    callbacks: Sequence[EpochCallback] = (),
) -> TuneResult:
    """Run (or resume, or join) the study until it has ``config.n_trials`` finished trials.

    ``storage``: None for ``out_dir/study.journal``, a journal file path, or an
    Optuna storage URL.  ``base`` (default: the dissertation's recipe) supplies
    what is not searched.  ``callbacks`` run after every epoch of every trial.
    Writes the best recipe, a CSV of all trials and a report into ``out_dir``.
    """
    import optuna

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = paper_recipe() if base is None else base
    store = make_storage(storage, out_dir)
    study = open_study(study_name, store)
    _check_settings(study, config.study_settings(base, len(spectra)))
    fail_dead_trials(study)
    study.sampler = make_sampler(
        config.sampler, config.seed + len(study.trials), config.startup_trials
    )
    study.pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=config.startup_trials)
        if config.prune
        else optuna.pruners.NopPruner()
    )
    objective = Objective(prepare_data(spectra, base, config), base, config, tuple(callbacks))
    while count_finished(study) < config.n_trials:
        # The trial is created already naming its worker, so a worker killed at any moment
        # leaves a trial fail_dead_trials can attribute (or a waiting one the next run takes).
        study.enqueue_trial({}, user_attrs={"worker": _worker_id()})
        study.optimize(objective, n_trials=1, gc_after_trial=False)
    return write_outputs(
        study, out_dir, base, config, storage=str(storage or out_dir / JOURNAL_FILE)
    )


# --- outputs: best recipe, trial table, figures, report ------------------------------------


def write_outputs(
    study: optuna.Study, out_dir: Path, base: Recipe, config: TuneConfig, *, storage: str
) -> TuneResult:
    """Best recipe (JSON), trials CSV, figures and ``report.md`` in ``out_dir``."""
    import matplotlib

    from xpz.io.atomic import atomic_path

    try:
        best = study.best_trial
    except ValueError:
        raise XpzError(f"study {study.study_name!r} has no complete trial yet") from None
    recipe = recipe_from_params(
        best.params, base, pool=config.space.pool, name=f"tuned-{study.study_name}-{best.number}"
    )
    recipe_path = recipe.save(out_dir / RECIPE_FILE)
    rows = trial_rows(study)
    trials_csv = write_trials_csv(rows, out_dir / "trials.csv")
    importances = param_importances(study)
    with matplotlib.rc_context({"text.usetex": False}):
        save_png(plot_history(study), out_dir / "history.png")
        if importances is not None:
            save_png(plot_importances(importances), out_dir / "importance.png")
    lines = report_lines(
        study,
        rows,
        recipe,
        heading=(
            f"Storage `{storage}`, sampler {config.sampler.value}, "
            f"{config.epochs_per_trial} epoch(s) per trial. Objective: lowest validation MAE."
        ),
        recipe_file=RECIPE_FILE,
        importance=importances is not None,
    )
    report = out_dir / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return TuneResult(
        study_name=study.study_name,
        storage=storage,
        n_finished=count_finished(study),
        best_number=best.number,
        best_value=float(study.best_value),
        best_params=dict(best.params),
        best_recipe=recipe,
        recipe_path=recipe_path,
        trials_csv=trials_csv,
        report=report,
    )
