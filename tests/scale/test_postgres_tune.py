"""`xpz tune` workers sharing one study on a real PostgreSQL server, as on a cluster.

The server comes from ``.ci/postgres.sh`` (``make test``, ``make test-servers``, CI), which
exports ``XPZ_TEST_POSTGRES_URL``; without it these tests skip with the reason.  Everything
runs through the command line, in separate processes, like job-array workers.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from tests.scale.support.commands import run_ok, xpz

URL = os.environ.get("XPZ_TEST_POSTGRES_URL", "")
_WHY = os.environ.get(
    "XPZ_TEST_POSTGRES_SKIP",
    "XPZ_TEST_POSTGRES_URL is not set (run `make test`, `make test-servers` "
    "or `.ci/postgres.sh pytest ...` to start a throwaway server)",
)
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not URL, reason=f"no PostgreSQL server: {_WHY}"),
]

#: Small trials: one epoch on at most 60 training spectra.
TUNE_OPTIONS = ["--epochs-per-trial", "1", "--sampler", "random", "--max-rows", "60"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pg") / "sim.parquet"
    run_ok(xpz("simulate", "-n", "200", "--seed", "1", "-o", str(path)))
    return path


@pytest.fixture
def study_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def db_url():
    """A new, empty database per test: the workers create Optuna's tables, as on first use."""
    import sqlalchemy as sa

    name = f"xpz_test_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    yield f"{URL.rsplit('/', 1)[0]}/{name}"
    storage.cache_clear()
    with server.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    server.dispose()


@functools.cache
def storage(url: str):
    """One storage (one connection pool) per database for all the polling."""
    import optuna

    return optuna.storages.get_storage(url)


def load(url: str, study_name: str):
    import optuna

    return optuna.load_study(study_name=study_name, storage=storage(url))


def states(study) -> list[str]:
    return [t.state.name for t in study.get_trials(deepcopy=False)]


def n_finished(study) -> int:
    return sum(s in ("COMPLETE", "PRUNED") for s in states(study))


@pytest.mark.timeout(400)
def test_two_workers_share_one_postgres_study(data_file, db_url, study_name, tmp_path):
    n_trials = 8
    commands = [
        xpz("tune", str(data_file), "--trials", str(n_trials), "--storage", db_url)
        + ["--study-name", study_name, "-o", str(tmp_path / f"w{i}"), "--seed", str(i)]
        + TUNE_OPTIONS
        for i in (1, 2)
    ]
    # Both start at once on a study (and, on a fresh server, tables) that does not exist yet.
    workers = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c in commands
    ]
    try:
        outputs = [w.communicate(timeout=300)[0] for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, output in zip(workers, outputs, strict=True):
        assert w.returncode == 0, output

    study = load(db_url, study_name)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # no number twice
    # n wanted; a worker may start one more while the other finishes the n-th
    assert n_trials <= n_finished(study) <= n_trials + 1
    pids = {str(t.user_attrs["worker"]).rpartition(":")[2] for t in trials}
    assert pids == {str(w.pid) for w in workers}, "both workers ran trials"
    for i in (1, 2):
        assert (tmp_path / f"w{i}" / "best_recipe.json").is_file()


@pytest.mark.timeout(500)
def test_killed_worker_resumes_and_best_recipe_trains(data_file, db_url, study_name, tmp_path):
    n_trials = 8
    out = tmp_path / "tune"
    command = xpz("tune", str(data_file), "--trials", str(n_trials), "--storage", db_url)
    command += ["--study-name", study_name, "-o", str(out), "--seed", "3", *TUNE_OPTIONS]

    def kill_inside_a_trial() -> tuple[subprocess.Popen, list]:
        """Start the command; SIGKILL it once one trial is finished and another one has been
        running for two polls (so it is training, not rejected at once); at most 180 s."""
        log = tmp_path / "killed.log"
        with log.open("w") as sink:
            worker = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline, seen = time.monotonic() + 180, set()
            while time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.05)
                try:
                    study = load(db_url, study_name)
                except KeyError:  # not created yet
                    continue
                running = {t.number for t in study.get_trials(deepcopy=False)
                           if t.state.name == "RUNNING"}  # fmt: skip
                if n_finished(study) >= 1 and running & seen:
                    worker.send_signal(signal.SIGKILL)
                    break
                seen = running
            worker.wait(timeout=30)
            assert worker.returncode == -signal.SIGKILL, (
                f"the worker was never seen inside a trial (exit status {worker.returncode}): "
                f"{log.read_text()[-2000:]}"
            )
        finally:
            worker.kill()
            worker.wait(timeout=30)
        return worker, load(db_url, study_name).get_trials(deepcopy=False)

    for _ in range(3):  # a kill landing between two trials is tried again
        first, before = kill_inside_a_trial()
        running = [t for t in before if t.state.name == "RUNNING"]
        if running:
            break
    assert len(running) == 1, "the killed worker left its trial running"
    assert running[0].user_attrs["worker"].endswith(f":{first.pid}")
    assert 1 <= sum(t.state.name in ("COMPLETE", "PRUNED") for t in before) < n_trials

    rerun = run_ok(command, timeout=300)  # the same command again

    assert "best: trial" in rerun.stdout
    study = load(db_url, study_name)
    assert n_finished(study) == n_trials
    after = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert after[running[0].number].state.name == "FAIL"  # found dead, not counted
    assert "RUNNING" not in states(study)
    for t in before:  # finished trials kept as they were
        if t.state.name in ("COMPLETE", "PRUNED"):
            assert after[t.number].params == t.params and after[t.number].value == t.value

    recipe = out / "best_recipe.json"
    run_ok(xpz("train", str(data_file), "-o", str(tmp_path / "run"), "--config", str(recipe))
           + ["--epochs", "1", "--no-progress"])  # fmt: skip
    assert (tmp_path / "run" / "model" / "model.json").is_file()
