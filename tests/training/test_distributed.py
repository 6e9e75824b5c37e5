"""Tests of training in several processes (xpz.training.distributed, and train() under torchrun).

The multi-process test starts this file as the program of ``torchrun`` with two
CPU processes (gloo on 127.0.0.1); each process trains through
:func:`_worker` and reports what it saw in a JSON file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from xpz.errors import XpzError
from xpz.models.modelfile import load_model
from xpz.models.paper import PaperConfig
from xpz.models.registry import build_model
from xpz.preprocess import MinMaxScaler
from xpz.spectra import Spectra
from xpz.split import split_indices
from xpz.training.config import Optimizer, TrainConfig
from xpz.training.data import TrainingData, make_training_data
from xpz.training.distributed import (
    Topology,
    batch_bounds,
    shard_batches,
    topology_from_env,
)
from xpz.training.epoch import make_optimizer
from xpz.training.loop import (
    BEST_DIR,
    CHECKPOINT_DIR,
    HISTORY_FILE,
    MODEL_DIR,
    EpochMetrics,
    train,
)
from xpz.training.state import load_training_state

TINY = PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,))
CONFIG = TrainConfig(
    epochs=3, batch_size=16, optimizer=Optimizer.ADAM, lr=3e-3, num_threads=1, progress=False
)
N_SPECTRA = 201
#: Training rows: with 2 processes, 5 global batches of 32 and one row left over (merged).
N_TRAIN = 161


def tiny_data(n: int = N_SPECTRA) -> TrainingData:
    """Spectra with a Gaussian line whose position moves with z."""
    rng = np.random.default_rng(0)
    z = rng.uniform(0.0, 0.6, n)
    centre = 30 + 200 * z
    flux = 5 + 20 * np.exp(-0.5 * ((np.arange(186)[None, :] - centre[:, None]) / 6) ** 2)
    noisy = (flux + rng.normal(0, 0.1, flux.shape)).astype(np.float32)
    spectra = Spectra(flux=noisy, z=z)
    split = split_indices(n, seed=0, test=0.0, validation=0.2)
    scaler = MinMaxScaler().fit(spectra.flux[split.train])
    return make_training_data(spectra, split, scaler)


@pytest.mark.parametrize("n_rows", [1, 2, 31, 32, 33, 160, 161])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_shards_cover_every_row_once_in_equal_steps(n_rows: int, world_size: int) -> None:
    if n_rows < world_size:
        with pytest.raises(XpzError, match="cannot be shared"):
            batch_bounds(n_rows, 16, world_size)
        return
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(n_rows))
    shards = [
        shard_batches(order, batch_size=16, rank=rank, world_size=world_size)
        for rank in range(world_size)
    ]
    assert len({len(batches) for batches in shards}) == 1  # same number of steps
    assert all(len(batch) >= 1 for batches in shards for batch in batches)
    seen = torch.cat([batch for batches in shards for batch in batches])
    assert sorted(seen.tolist()) == list(range(n_rows))


def test_one_process_gets_plain_consecutive_batches() -> None:
    order = torch.randperm(50, generator=torch.Generator().manual_seed(1))
    batches = shard_batches(order, batch_size=16, rank=0, world_size=1)
    assert [b.tolist() for b in batches] == [order[i : i + 16].tolist() for i in (0, 16, 32, 48)]


def test_bad_torchrun_environment_is_refused() -> None:
    with pytest.raises(XpzError, match="not an integer"):
        topology_from_env({"WORLD_SIZE": "two"})
    with pytest.raises(XpzError, match="inconsistent"):
        topology_from_env({"RANK": "2", "WORLD_SIZE": "2"})
    assert topology_from_env({"RANK": "1", "WORLD_SIZE": "2"}) == Topology(1, 2, 1, 2)


def test_single_process_counts_every_training_row_each_epoch(tmp_path: Path) -> None:
    data = tiny_data()
    result = train(build_model(TINY, seed=0), data, CONFIG.replace(epochs=2), tmp_path)
    assert len(data.z_train) == N_TRAIN
    assert result.samples_per_epoch == (N_TRAIN, N_TRAIN)


class _Interrupt:
    """Raises KeyboardInterrupt (in every process) after epoch ``after``, like Ctrl-C."""

    def __init__(self, after: int) -> None:
        self.after = after

    def on_epoch_end(self, epoch: int, metrics: EpochMetrics) -> bool:
        if epoch == self.after:
            raise KeyboardInterrupt
        return False


def _report(result, path: Path) -> None:
    """What one process saw (``path``.json), and its final weights (``path``.safetensors)."""
    info = {
        "rank_after": torch.distributed.get_rank(),
        "samples_per_epoch": list(result.samples_per_epoch),
        "history": [[h.train_loss, h.train_mae, h.val_loss, h.val_mae] for h in result.history],
    }
    path.parent.joinpath(f"{path.name}.json").write_text(json.dumps(info))
    save_file(
        {k: v.contiguous() for k, v in result.model.state_dict().items()},
        str(path.parent / f"{path.name}.safetensors"),
    )


def _worker(out: Path) -> None:
    """Run by torchrun in every process: a whole run, and one interrupted and resumed."""
    rank = topology_from_env().rank
    data = tiny_data()
    whole = train(build_model(TINY, seed=0), data, CONFIG, out / "whole")
    _report(whole, out / f"whole.{rank}")
    with pytest.raises(KeyboardInterrupt):  # in both processes after epoch 1
        train(build_model(TINY, seed=0), data, CONFIG, out / "cut", callbacks=[_Interrupt(1)])
    resumed = train(build_model(TINY, seed=7), data, CONFIG, out / "cut", resume=True)
    _report(resumed, out / f"resumed.{rank}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``torchrun`` with 2 processes on 127.0.0.1; all of them killed if it hangs."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port()), *args]
    pipe = subprocess.PIPE
    with subprocess.Popen(
        command, cwd=cwd, stdout=pipe, stderr=pipe, text=True, start_new_session=True
    ) as launcher:
        try:
            stdout, stderr = launcher.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, launcher.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output of :func:`_worker` run by torchrun in 2 CPU processes."""
    out = tmp_path_factory.mktemp("ddp")
    done = _torchrun([__file__, str(out)], cwd=out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _read(out: Path, name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    return json.loads((out / f"{name}.json").read_text()), load_file(out / f"{name}.safetensors")


def test_two_processes_share_each_epoch_and_agree(two_processes: Path) -> None:
    (info0, weights0), (info1, weights1) = (_read(two_processes, f"whole.{r}") for r in (0, 1))
    assert info0["samples_per_epoch"] == [N_TRAIN] * CONFIG.epochs  # as one process: every row once
    assert info0["history"] == info1["history"]  # metrics summed over both processes
    assert (info0["rank_after"], info1["rank_after"]) == (0, 1)  # the group stays for the caller
    for name in weights0:
        assert torch.equal(weights0[name], weights1[name]), name


def test_rank_0_writes_a_run_that_loads_in_one_process(two_processes: Path) -> None:
    run = two_processes / "whole"
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [BEST_DIR, CHECKPOINT_DIR, HISTORY_FILE, MODEL_DIR]
    )
    lines = (run / HISTORY_FILE).read_text().splitlines()
    assert len(lines) == 1 + CONFIG.epochs
    loaded = load_model(run / MODEL_DIR)
    _, final = _read(two_processes, "whole.0")
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, final[name]), name
    with torch.inference_mode():
        z = loaded.model.summarize(loaded.model(tiny_data().x_validation))["z_pred"]
    assert torch.isfinite(z).all()
    model = build_model(TINY, seed=3)
    state = load_training_state(
        run / CHECKPOINT_DIR,
        model=model,
        optimizer=make_optimizer(model, CONFIG),
        scheduler=None,
        generator=torch.Generator(),
    )
    assert [row["epoch"] for row in state["history"]] == [1, 2, 3]


def test_resume_under_torchrun_matches_the_uninterrupted_run(two_processes: Path) -> None:
    whole, whole_weights = _read(two_processes, "whole.0")
    for rank in (0, 1):
        resumed, resumed_weights = _read(two_processes, f"resumed.{rank}")
        assert resumed["history"] == whole["history"]
        for name in whole_weights:
            assert torch.equal(resumed_weights[name], whole_weights[name]), name


@pytest.mark.slow
def test_xpz_train_runs_under_torchrun(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "xpz.cli"]
    subprocess.run([*cli, "simulate", "-n", "300", "--seed", "1", "-o", "sim.parquet"],
                   cwd=tmp_path, check=True, capture_output=True)  # fmt: skip
    options = ["--preset", "paper", "--epochs", "2", "--device", "cpu", "--no-progress"]
    done = _torchrun(["-m", "xpz.cli", "train", "sim.parquet", "-o", "run", *options], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len((tmp_path / "run" / HISTORY_FILE).read_text().splitlines()) == 1 + 2
    assert load_model(tmp_path / "run" / MODEL_DIR).metadata["training"]["epochs"] == 2
    assert (tmp_path / "run" / "report" / "report.html").is_file()
    assert done.stdout.count("model:") == 1  # process 0 alone evaluates and reports


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
