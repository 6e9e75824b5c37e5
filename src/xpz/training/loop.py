"""The one training loop used by the CLI, the hyperparameter search and the tests.

:func:`train` runs epochs of mini-batch training of any
:class:`~xpz.models.base.RedshiftModel` on :class:`TrainingData`, and after
every epoch

* appends a row to ``run_dir/history.csv`` (rewritten atomically),
* saves the full training state to ``run_dir/checkpoint/`` (for ``resume``),
* saves the model to ``run_dir/best/`` when the validation loss improved,
* asks the callbacks whether to stop (e.g. an Optuna pruner); a stop is saved
  in the checkpoint, so resuming such a run trains no further.

At the end the chosen weights (best epoch, or last) are saved to
``run_dir/model/`` (after an optional ``finalize`` step, e.g. calibration),
loadable with :func:`xpz.models.modelfile.load_model`.  The run directory's
names are :data:`HISTORY_FILE`, :data:`CHECKPOINT_DIR`, :data:`BEST_DIR` and
:data:`MODEL_DIR`.
Same seed, same data and same device give the same weights, bit for bit on CPU,
including after an interrupted run was resumed.

Started by ``torchrun``, every process runs :func:`train`: the processes share
each epoch's rows, keep the same weights and history, and process 0 writes the
files (:mod:`xpz.training.distributed`, ``docs/training.md``).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors.torch import load_file
from tqdm.auto import tqdm

from xpz.errors import XpzError
from xpz.models.base import RedshiftModel
from xpz.models.modelfile import WEIGHTS_FILE, save_model
from xpz.training.config import Precision, TrainConfig
from xpz.training.data import TrainingData, make_training_data
from xpz.training.device import default_num_threads, process_device, torch_settings
from xpz.training.distributed import (
    Topology,
    all_reduce_max,
    barrier,
    batch_bounds,
    current_topology,
    join_process_group,
    shard_batches,
    wrap_model,
)
from xpz.training.epoch import (
    EarlyStopping,
    EpochMetrics,
    LossFunction,
    Totals,
    evaluate_loss,
    evaluate_totals,
    make_loss,
    make_optimizer,
    make_scheduler,
    train_one_epoch,
    write_history,
)
from xpz.training.state import load_training_state, save_training_state

__all__ = [
    "EpochCallback",
    "EpochMetrics",
    "Finalizer",
    "StopReason",
    "TrainResult",
    "Totals",
    "TrainingData",
    "evaluate_loss",
    "evaluate_totals",
    "make_optimizer",
    "make_scheduler",
    "make_training_data",
    "train",
    "train_one_epoch",
]

log = logging.getLogger(__name__)

HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoint"
BEST_DIR = "best"
MODEL_DIR = "model"
#: Settings that may differ between an interrupted run and its resumption.
_RUNTIME_FIELDS = ("num_threads", "device", "progress", "eval_batch_size")


class StopReason(enum.Enum):
    COMPLETED = "completed"
    EARLY_STOPPING = "early_stopping"
    CALLBACK = "callback"


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns; ``model`` holds the chosen (best or last) weights."""

    model: RedshiftModel
    history: tuple[EpochMetrics, ...]
    best_epoch: int
    best_val_loss: float
    stop_reason: StopReason
    run_dir: Path
    #: Training rows seen in each epoch, by all processes together.
    samples_per_epoch: tuple[int, ...] = ()
    #: What the final model file's metadata holds (training config, data, metrics, and
    #: what ``finalize`` added); complete in process 0.
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        """The saved final model (``run_dir/model``)."""
        return self.run_dir / MODEL_DIR


class EpochCallback(Protocol):
    """Called after every epoch; returning True stops training (e.g. Optuna pruning)."""

    def on_epoch_end(self, epoch: int, metrics: EpochMetrics) -> bool: ...


#: Called (in process 0) with the chosen weights before the final model is saved,
#: e.g. to calibrate it; what it returns is added to the model file's metadata.
Finalizer = Callable[[RedshiftModel], Mapping[str, Any]]


def _check_resumable(saved: Mapping[str, Any], config: TrainConfig) -> None:
    now = {k: v for k, v in config.to_dict().items() if k not in _RUNTIME_FIELDS}
    before = {k: v for k, v in saved.items() if k not in _RUNTIME_FIELDS}
    defaults = TrainConfig().to_dict()  # a field added since the checkpoint had its default
    changed = sorted(k for k in now if now[k] != before.get(k, defaults.get(k)))
    if changed:
        raise XpzError(f"cannot resume: training settings changed since the checkpoint: {changed}")


@dataclasses.dataclass
class _Session:
    """Everything one run carries from epoch to epoch (in each process, when there are several)."""

    model: RedshiftModel
    #: What runs the forward pass: ``model``, or its DistributedDataParallel wrapper.
    network: torch.nn.Module
    data: TrainingData
    config: TrainConfig
    run_dir: Path
    device: torch.device
    topology: Topology
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    loss_fn: LossFunction
    generator: torch.Generator
    stopping: EarlyStopping
    history: list[EpochMetrics]
    #: Training rows seen per epoch by all processes together.
    samples_per_epoch: list[int]
    stop_reason: StopReason = StopReason.COMPLETED

    @classmethod
    def start(
        cls,
        model: RedshiftModel,
        data: TrainingData,
        config: TrainConfig,
        run_dir: Path,
        *,
        device: torch.device,
        topology: Topology,
    ) -> _Session:
        torch.manual_seed(config.seed)
        model.prepare_training(data.z_train)
        model.to(device)
        optimizer = make_optimizer(model, config)
        n_train = len(data.z_train)
        steps_per_epoch = len(batch_bounds(n_train, config.batch_size, topology.world_size))
        # every process validates its share of the validation rows
        shard = slice(topology.rank, None, topology.world_size)
        on_device = dataclasses.replace(
            data,
            x_train=data.x_train.to(device),
            z_train=data.z_train.to(device),
            x_validation=data.x_validation[shard].to(device),
            z_validation=data.z_validation[shard].to(device),
        )
        return cls(
            model=model,
            network=wrap_model(model, device, topology),
            data=on_device,
            config=config,
            run_dir=run_dir,
            device=device,
            topology=topology,
            optimizer=optimizer,
            scheduler=make_scheduler(optimizer, config, steps_per_epoch),
            loss_fn=make_loss(model, config.loss),
            generator=torch.Generator().manual_seed(config.seed),
            stopping=EarlyStopping(config.early_stopping_min_delta),
            history=[],
            samples_per_epoch=[],
        )

    def restore(self) -> None:
        """Continue from ``run_dir/checkpoint`` (every process reads the same one)."""
        loop = load_training_state(
            self.run_dir / CHECKPOINT_DIR,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            generator=self.generator,
        )
        _check_resumable(loop["config"], self.config)
        self.stopping = EarlyStopping(**loop["early_stopping"])
        self.history = [EpochMetrics(**row) for row in loop["history"]]
        self.samples_per_epoch = list(loop["samples_per_epoch"])
        self.stop_reason = StopReason(loop["stop_reason"])

    def write(self, write: Callable[[], object]) -> None:
        """Let the main process ``write`` files; the others wait until it is done."""
        if self.topology.is_main:
            write()
        barrier(self.topology)

    def save(self) -> None:
        """Write history and training state (after every epoch)."""
        write_history(self.run_dir / HISTORY_FILE, self.history)
        loop = {
            "config": self.config.to_dict(),
            "early_stopping": dataclasses.asdict(self.stopping),
            "history": [dataclasses.asdict(h) for h in self.history],
            "samples_per_epoch": self.samples_per_epoch,
            "stop_reason": self.stop_reason.value,
        }
        save_training_state(
            self.run_dir / CHECKPOINT_DIR,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            generator=self.generator,
            state=loop,
        )

    def model_metadata(self, metrics: EpochMetrics) -> dict[str, Any]:
        """What a model file of this run stores besides weights and scaler."""
        return {
            "training": self.config.to_dict(),
            "data": dict(self.data.provenance),
            "metrics": dataclasses.asdict(metrics),
        }

    def save_model(self, name: str, metadata: Mapping[str, Any]) -> None:
        save_model(self.run_dir / name, self.model, self.data.scaler, metadata=metadata)

    def run_epoch(self, epoch: int, show_progress: bool) -> EpochMetrics:
        """Train one epoch, validate, update early stopping, save the best model."""
        config, topology, start = self.config, self.topology, time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        x, z = self.data.x_train, self.data.z_train
        order = torch.randperm(len(z), generator=self.generator).to(z.device)
        batches = shard_batches(
            order, batch_size=config.batch_size, rank=topology.rank, world_size=topology.world_size
        )
        desc = f"epoch {epoch}/{config.epochs}"
        with tqdm(total=len(batches), desc=desc, disable=not show_progress, leave=False) as bar:
            trained = train_one_epoch(
                self.model, self.loss_fn, self.optimizer, self.scheduler, x, z,
                batches=batches, network=self.network, progress=bar,
                bf16=config.precision.resolve(self.device.type) is Precision.BF16,
            )  # fmt: skip
        x, z = self.data.x_validation, self.data.z_validation
        validated = evaluate_totals(
            self.model, self.loss_fn, x, z, batch_size=config.eval_batch_size
        )
        trained, validated = (
            trained.summed(topology, self.device),
            validated.summed(topology, self.device),
        )
        (seconds,) = all_reduce_max([time.perf_counter() - start], topology, self.device)
        metrics = EpochMetrics(epoch, *trained.means(), *validated.means(), lr, seconds)
        self.history.append(metrics)
        self.samples_per_epoch.append(trained.rows)
        if topology.is_main:
            log.info("%s", metrics)
        if self.stopping.update(epoch, metrics.val_loss):
            self.write(lambda: self.save_model(BEST_DIR, self.model_metadata(metrics)))
        patience = config.early_stopping_patience
        if patience is not None and self.stopping.epochs_without_improvement >= patience:
            self.stop_reason = StopReason.EARLY_STOPPING
        return metrics

    def finish(self, finalize: Finalizer | None) -> TrainResult:
        """Restore the best weights if asked, finalize, save the final model, summarise."""
        chosen = self.history[-1]
        if self.config.restore_best_weights and self.stopping.best_epoch:
            best = load_file(str(self.run_dir / BEST_DIR / WEIGHTS_FILE), device=str(self.device))
            self.model.load_state_dict(best)
            chosen = self.history[self.stopping.best_epoch - 1]
        metadata = self.model_metadata(chosen)
        if finalize is not None and self.topology.is_main:
            metadata |= finalize(self.model)
        self.write(lambda: self.save_model(MODEL_DIR, metadata))
        return TrainResult(
            model=self.model,
            history=tuple(self.history),
            best_epoch=self.stopping.best_epoch,
            best_val_loss=self.stopping.best_loss,
            stop_reason=self.stop_reason,
            run_dir=self.run_dir,
            samples_per_epoch=tuple(self.samples_per_epoch),
            metadata=metadata,
        )


def _stop_asked(
    callbacks: Sequence[EpochCallback], metrics: EpochMetrics, session: _Session
) -> bool:
    """Whether a callback (in any process) asks to stop after this epoch."""
    asked = [callback.on_epoch_end(metrics.epoch, metrics) for callback in callbacks]
    (anywhere,) = all_reduce_max([float(any(asked))], session.topology, session.device)
    return anywhere > 0


def train(
    model: RedshiftModel,
    data: TrainingData,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
    finalize: Finalizer | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` as ``config`` says, writing the run to ``run_dir``.

    With ``resume=True`` the run continues from ``run_dir/checkpoint`` (same
    settings required, except threads, device, progress and evaluation batch);
    without it, ``run_dir`` must not hold a run already.  Callbacks run after the
    epoch's checkpoint is written, so an exception in one (or Ctrl-C) loses no
    finished epoch.  ``finalize`` (see :data:`Finalizer`) runs once on the
    chosen weights, before they are saved to ``run_dir/model``.

    Started by ``torchrun`` (or in a process group the caller set up), every
    process runs this with the same arguments: the model is trained with
    ``DistributedDataParallel``, each epoch's training rows are shared out
    among the processes (``batch_size`` rows per process and step), and only
    process 0 writes ``run_dir``, which all processes must see (a shared file
    system when on several nodes).  See :mod:`xpz.training.distributed`.
    """
    run_dir = Path(run_dir)
    if data.input_channels != model.input_channels:
        raise ValueError(
            f"model takes {model.input_channels} input channel(s), data has {data.input_channels}"
        )
    if not resume and (run_dir / CHECKPOINT_DIR).exists():
        raise XpzError(f"{run_dir} already holds a training run; resume it or use a new directory")
    topology = current_topology()
    device = process_device(
        config.device, local_rank=topology.local_rank, processes_per_node=topology.local_world_size
    )
    wants_progress = config.progress if config.progress is not None else sys.stderr.isatty()
    show_progress = wants_progress and topology.is_main
    threads = config.num_threads or default_num_threads(topology.local_world_size)
    join_process_group(topology, device)
    with torch_settings(num_threads=threads, deterministic=config.deterministic):
        session = _Session.start(model, data, config, run_dir, device=device, topology=topology)
        if resume:
            session.restore()
        while session.stop_reason is StopReason.COMPLETED and len(session.history) < config.epochs:
            metrics = session.run_epoch(len(session.history) + 1, show_progress)
            session.write(session.save)
            stop = _stop_asked(callbacks, metrics, session)
            if stop and session.stop_reason is StopReason.COMPLETED:
                session.stop_reason = StopReason.CALLBACK
                session.write(session.save)  # recorded: a resumed run stops here too
        return session.finish(finalize)
