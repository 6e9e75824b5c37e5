"""Tests of the hyperparameter search (xpz.tuning: search, space, xpz tune)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

import xpz.training
from xpz.errors import XpzError
from xpz.models.base import Activation, LossKind
from xpz.recipes import Recipe
from xpz.simulate import simulate
from xpz.training.config import Optimizer
from xpz.tuning.search import Sampler, TuneConfig, tune
from xpz.tuning.space import SearchSpace, recipe_from_params, suggest

#: A tiny space: small networks train in well under a second per epoch.
TINY = SearchSpace(conv_layers=(1, 2), filters=(4, 8), dense_layers=(1, 2), units=(4, 8))


@pytest.fixture(scope="module")
def spectra():
    return simulate(300, seed=1)


@pytest.fixture(scope="module")
def data_file(spectra, tmp_path_factory) -> Path:
    from xpz.io.tables import write_spectra

    path = tmp_path_factory.mktemp("data") / "sim.parquet"
    write_spectra(spectra, path)
    return path


def load_study(journal: Path, name: str = "xpz") -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.load_study(study_name=name, storage=storage)


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))


# --- search space ----------------------------------------------------------------------------


def test_suggest_draws_every_layer_and_recipe_uses_the_first_ones():
    trial = optuna.trial.FixedTrial(
        {"conv_layers": 1, "filters_1": 8, "kernel_1": 3, "filters_2": 4, "kernel_2": 2}
        | {"dense_layers": 2, "units_1": 5, "units_2": 6, "activation": "tanh", "loss": "mse"}
        | {"optimizer": "sgd", "lr": 3e-4}
    )
    params = suggest(trial, TINY)
    assert {"filters_2", "kernel_2", "units_2"} <= set(params)
    recipe = recipe_from_params(params)
    assert recipe.model.conv_filters == (8,) and recipe.model.conv_kernels == (3,)
    assert recipe.model.dense_units == (5, 6)
    assert recipe.model.activation is Activation.TANH and recipe.model.loss is LossKind.MSE
    assert recipe.training.optimizer is Optimizer.SGD and recipe.training.lr == 3e-4
    assert recipe.training.batch_size == 16  # not searched: the paper's


def test_batch_size_is_searched_only_when_asked():
    space = SearchSpace(batch_sizes=(32, 64))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = suggest(study.ask(), space)
    assert params["batch_size"] in (32, 64)
    assert recipe_from_params(params).training.batch_size == params["batch_size"]
    assert "batch_size" not in suggest(study.ask(), SearchSpace())


@pytest.mark.parametrize(
    "changes",
    [{"conv_layers": (3, 2)}, {"lr": (0.0, 1e-2)}, {"losses": ()}, {"batch_sizes": (0,)}],
)
def test_search_space_rejects_bad_ranges(changes):
    with pytest.raises(ValueError):
        SearchSpace(**changes)


# --- studies ---------------------------------------------------------------------------------


def test_tiny_study_writes_a_recipe_that_trains(spectra, tmp_path):
    config = TuneConfig(n_trials=3, space=TINY, epochs_per_trial=1, startup_trials=2)
    result = tune(spectra, tmp_path / "tune", config)  # GP sampler, journal storage

    assert result.n_finished == 3
    for name in ("study.journal", "best_recipe.json", "trials.csv", "report.md", "history.png"):
        assert (tmp_path / "tune" / name).is_file()
    assert len((tmp_path / "tune" / "trials.csv").read_text().splitlines()) == 1 + 3
    study = load_study(tmp_path / "tune" / "study.journal")
    assert result.best_value == study.best_value == min(t.value for t in finished(study))

    recipe = Recipe.load(result.recipe_path)
    assert recipe == result.best_recipe
    assert recipe.model.conv_kernels == tuple(
        result.best_params[f"kernel_{i + 1}"] for i in range(result.best_params["conv_layers"])
    )
    from xpz.models.registry import build_model
    from xpz.split import split_indices

    split = split_indices(len(spectra), seed=0)
    data = xpz.training.make_training_data(
        spectra, split, recipe.make_scaler().fit(spectra.flux[split.train])
    )
    trained = xpz.training.train(
        build_model(recipe.model, seed=0),
        data,
        recipe.training.replace(epochs=1, progress=False),
        tmp_path / "run",
    )
    assert math.isfinite(trained.history[0].val_mae)


def test_invalid_architectures_are_rejected_without_training(spectra, tmp_path, monkeypatch):
    # Four layers of kernel 7 leave 6 pixels; a fifth one leaves none.
    space = SearchSpace(conv_layers=(4, 5), filters=(4, 4), kernel=(7, 7), units=(4, 4))
    trained = []
    real_train = xpz.training.train

    def counting_train(model, *args, **kwargs):
        trained.append(model.config.conv_kernels)
        return real_train(model, *args, **kwargs)

    monkeypatch.setattr(xpz.training, "train", counting_train)
    config = TuneConfig(n_trials=6, space=space, epochs_per_trial=1, sampler=Sampler.RANDOM)
    tune(spectra, tmp_path, config)

    trials = load_study(tmp_path / "study.journal").trials
    rejected = [t for t in trials if "rejected" in t.user_attrs]
    assert {t.params["conv_layers"] for t in rejected} == {5}
    assert all(t.state is TrialState.PRUNED and not t.intermediate_values for t in rejected)
    assert "shrinks to 0" in rejected[0].user_attrs["rejected"]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert complete and all(t.params["conv_layers"] == 4 for t in complete)
    assert trained == [(7, 7, 7, 7)] * len(complete)


class InterruptSecondTrial:
    """Epoch callback pressing Ctrl-C in the second trial."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_epoch_end(self, epoch, metrics) -> bool:
        self.epochs += 1
        if self.epochs == 2:
            raise KeyboardInterrupt
        return False


def test_interrupted_study_resumes_to_the_total(spectra, tmp_path):
    config = TuneConfig(n_trials=3, space=TINY, epochs_per_trial=1, sampler=Sampler.RANDOM)
    with pytest.raises(KeyboardInterrupt):
        tune(spectra, tmp_path, config, callbacks=[InterruptSecondTrial()])
    before = load_study(tmp_path / "study.journal").trials
    assert [t.state for t in before] == [TrialState.COMPLETE, TrialState.FAIL]

    result = tune(spectra, tmp_path, config)  # the same command again

    after = load_study(tmp_path / "study.journal").trials
    assert result.n_finished == len(finished(load_study(tmp_path / "study.journal"))) == 3
    assert after[0].params == before[0].params and after[0].value == before[0].value
    assert after[1].state is TrialState.FAIL  # kept, not counted
    assert len(after) == 4


def test_resuming_with_other_settings_is_refused(spectra, tmp_path):
    config = TuneConfig(n_trials=1, space=TINY, epochs_per_trial=1, sampler=Sampler.RANDOM)
    tune(spectra, tmp_path, config)
    with pytest.raises(XpzError, match="epochs_per_trial"):
        tune(spectra, tmp_path, TuneConfig(n_trials=2, space=TINY, epochs_per_trial=2))


# --- several processes -----------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from xpz.io.read import read_input
    from xpz.tuning.search import Sampler, TuneConfig, tune
    from xpz.tuning.space import SearchSpace

    data, journal, out, seed = sys.argv[1:5]
    spectra = read_input(data, training=True)
    space = SearchSpace(conv_layers=(1, 2), filters=(4, 8), dense_layers=(1, 2), units=(4, 8))
    config = TuneConfig(n_trials=6, space=space, epochs_per_trial=1, sampler=Sampler.TPE,
                        seed=int(seed), startup_trials=2)
    Path(out, f"ready-{seed}").parent.mkdir(parents=True, exist_ok=True)
    Path(out, f"ready-{seed}").touch()
    while len(list(Path(out).parent.glob("*/ready-*"))) < 2:  # start together
        time.sleep(0.05)
    tune(spectra, out, config, storage=journal)
    """
)


@pytest.mark.slow
def test_two_workers_share_one_study(data_file, tmp_path):
    journal = tmp_path / "shared.journal"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(data_file),
                str(journal),
                str(tmp_path / f"w{i}"),
                str(i),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (1, 2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output

    trials = load_study(journal).trials
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # no number twice
    # 6 wanted; a worker may start one more while the other finishes the sixth
    assert 6 <= len(finished(load_study(journal))) <= 7
    pids = {t.user_attrs["worker"].rpartition(":")[2] for t in trials}
    assert pids == {str(w.pid) for w in workers}
    for i in (1, 2):  # both wrote the full outputs of the shared study
        assert Recipe.load(tmp_path / f"w{i}" / "best_recipe.json").name.startswith("tuned-xpz-")


@pytest.mark.slow
def test_killed_command_resumes_when_rerun(data_file, tmp_path):
    out = tmp_path / "tune"
    n_trials = 10  # many more than can finish between the first completion and the kill
    command = [sys.executable, "-m", "xpz.cli", "tune", str(data_file), "--trials", str(n_trials)]
    command += [
        "-o",
        str(out),
        "--epochs-per-trial",
        "1",
        "--sampler",
        "random",
        "--max-rows",
        "60",
    ]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        time.sleep(0.2)
        journal = out / "study.journal"
        if journal.exists() and any(
            t.state is TrialState.COMPLETE for t in load_study(journal).trials
        ):
            break
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    before = load_study(out / "study.journal").trials
    assert 1 <= len(finished(load_study(out / "study.journal"))) < n_trials

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert rerun.returncode == 0, rerun.stderr
    assert "best: trial" in rerun.stdout
    study = load_study(out / "study.journal")
    assert len(finished(study)) == n_trials
    assert study.trials[0].params == before[0].params and study.trials[0].value == before[0].value
    # the killed worker's unfinished trial is marked failed, not left running
    assert not study.get_trials(states=(TrialState.RUNNING,))
