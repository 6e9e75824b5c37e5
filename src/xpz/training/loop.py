"""The one training loop used by the CLI, the hyperparameter search and the tests.

:func:`train` runs epochs of mini-batch training of any
:class:`~xpz.models.base.RedshiftModel` on :class:`TrainingData`, and after
every epoch

* appends a row to ``run_dir/history.csv`` (rewritten atomically),
* saves the full training state to ``run_dir/checkpoint/`` (for ``resume``),
* saves the model to ``run_dir/best/`` when the validation loss improved,
* asks the callbacks whether to stop (e.g. an Optuna pruner).

At the end the chosen weights (best epoch, or last) are saved to
``run_dir/model/``, loadable with :func:`xpz.training.checkpoint.load_model`.
Same seed, same data and same device give the same weights, bit for bit on CPU,
including after an interrupted run was resumed.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors.torch import load_file
from torch import Tensor
from tqdm.auto import tqdm

from xpz.errors import XpzError
from xpz.io.atomic import atomic_path
from xpz.models.base import LossKind, RedshiftModel, point_loss
from xpz.training.checkpoint import (
    WEIGHTS_FILE,
    load_training_state,
    save_model,
    save_training_state,
)
from xpz.training.config import Optimizer, Schedule, TrainConfig
from xpz.training.data import TrainingData, make_training_data
from xpz.training.device import resolve_device, torch_settings

__all__ = [
    "EpochCallback",
    "EpochMetrics",
    "StopReason",
    "TrainResult",
    "TrainingData",
    "evaluate_loss",
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

LossFunction = Callable[[Tensor, Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class EpochMetrics:
    """One row of the history: losses and mean absolute errors of one epoch.

    ``train_*`` are averages over the epoch's batches (as Keras reports them);
    ``lr`` is the learning rate of the epoch's first batch; ``seconds`` is wall time.
    """

    epoch: int
    train_loss: float
    train_mae: float
    val_loss: float
    val_mae: float
    lr: float
    seconds: float


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

    @property
    def model_dir(self) -> Path:
        """The saved final model (``run_dir/model``)."""
        return self.run_dir / MODEL_DIR


class EpochCallback(Protocol):
    """Called after every epoch; returning True stops training (e.g. Optuna pruning)."""

    def on_epoch_end(self, epoch: int, metrics: EpochMetrics) -> bool: ...


@dataclasses.dataclass
class _EarlyStopping:
    """Best validation loss so far and epochs since it improved."""

    min_delta: float
    best_loss: float = math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0

    def update(self, epoch: int, val_loss: float) -> bool:
        """Record an epoch; True if it is the new best."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.epochs_without_improvement = val_loss, epoch, 0
            return True
        self.epochs_without_improvement += 1
        return False


def make_optimizer(model: RedshiftModel, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer, with Keras' default constants (epsilon 1e-7; RMSprop rho 0.9)."""
    params, lr, wd = model.parameters(), config.lr, config.weight_decay
    if config.optimizer is Optimizer.ADAMAX:
        return torch.optim.Adamax(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=wd)
    if config.optimizer is Optimizer.ADAM:
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=wd)
    if config.optimizer is Optimizer.RMSPROP:
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7, weight_decay=wd)
    return torch.optim.SGD(params, lr=lr, weight_decay=wd)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Per-batch learning-rate schedule over ``config.epochs`` epochs (None: constant)."""
    total = config.epochs * steps_per_epoch
    if config.schedule is Schedule.ONE_CYCLE:
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=total, cycle_momentum=False
        )
    if config.schedule is Schedule.COSINE:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return None


def make_loss(model: RedshiftModel, override: LossKind | None) -> LossFunction:
    """The model's own loss, or a point loss ``override`` for point-estimate models."""
    if override is None:
        return model.loss
    if not model.point_estimate:
        raise ValueError(f"a loss override needs a point-estimate model, not {model.kind!r}")

    def loss(output: Tensor, z: Tensor) -> Tensor:
        return point_loss(override, model.summarize(output)["z_pred"], z)

    return loss


def train_one_epoch(
    model: RedshiftModel,
    loss_fn: LossFunction,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    x: Tensor,
    z: Tensor,
    *,
    batch_size: int,
    generator: torch.Generator,
    progress: tqdm | None = None,
) -> tuple[float, float]:
    """One pass over (x, z) in a random order; returns mean (loss, MAE) over samples."""
    model.train()
    order = torch.randperm(len(z), generator=generator).to(z.device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=z.device)
    abs_sum = torch.zeros((), dtype=torch.float64, device=z.device)
    for step, start in enumerate(range(0, len(z), batch_size)):
        rows = order[start : start + batch_size]
        xb, zb = x[rows], z[rows]
        optimizer.zero_grad(set_to_none=True)
        output = model(xb)
        loss = loss_fn(output, zb)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            loss_sum += loss.detach() * len(rows)
            abs_sum += (model.summarize(output)["z_pred"] - zb).abs().sum()
        if progress is not None:
            progress.update(1)
            if step % 50 == 0:
                seen = min(start + batch_size, len(z))
                progress.set_postfix(
                    loss=f"{loss_sum.item() / seen:.5f}",
                    mae=f"{abs_sum.item() / seen:.4f}",
                    refresh=False,
                )
    return loss_sum.item() / len(z), abs_sum.item() / len(z)


def evaluate_loss(
    model: RedshiftModel, loss_fn: LossFunction, x: Tensor, z: Tensor, *, batch_size: int
) -> tuple[float, float]:
    """Mean (loss, MAE) over (x, z) in eval mode, without gradients."""
    model.eval()
    loss_sum, abs_sum = 0.0, 0.0
    with torch.inference_mode():
        for start in range(0, len(z), batch_size):
            xb, zb = x[start : start + batch_size], z[start : start + batch_size]
            output = model(xb)
            loss_sum += loss_fn(output, zb).item() * len(zb)
            abs_sum += (model.summarize(output)["z_pred"] - zb).abs().sum().item()
    return loss_sum / len(z), abs_sum / len(z)


def write_history(path: Path, history: Sequence[EpochMetrics]) -> None:
    """Write the per-epoch history as CSV, atomically."""
    names = [f.name for f in dataclasses.fields(EpochMetrics)]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        for row in history:
            writer.writerow(dataclasses.asdict(row))


def _check_resumable(saved: Mapping[str, Any], config: TrainConfig) -> None:
    now = {k: v for k, v in config.to_dict().items() if k not in _RUNTIME_FIELDS}
    before = {k: v for k, v in saved.items() if k not in _RUNTIME_FIELDS}
    changed = sorted(k for k in now if now[k] != before.get(k))
    if changed:
        raise XpzError(f"cannot resume: training settings changed since the checkpoint: {changed}")


@dataclasses.dataclass
class _Session:
    """Everything one run carries from epoch to epoch."""

    model: RedshiftModel
    data: TrainingData
    config: TrainConfig
    run_dir: Path
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    loss_fn: LossFunction
    generator: torch.Generator
    stopping: _EarlyStopping
    history: list[EpochMetrics]
    stop_reason: StopReason = StopReason.COMPLETED

    @classmethod
    def start(
        cls, model: RedshiftModel, data: TrainingData, config: TrainConfig, run_dir: Path
    ) -> _Session:
        torch.manual_seed(config.seed)
        device = resolve_device(config.device)
        model.to(device)
        optimizer = make_optimizer(model, config)
        steps_per_epoch = math.ceil(len(data.z_train) / config.batch_size)
        on_device = dataclasses.replace(
            data,
            x_train=data.x_train.to(device),
            z_train=data.z_train.to(device),
            x_validation=data.x_validation.to(device),
            z_validation=data.z_validation.to(device),
        )
        return cls(
            model=model,
            data=on_device,
            config=config,
            run_dir=run_dir,
            device=device,
            optimizer=optimizer,
            scheduler=make_scheduler(optimizer, config, steps_per_epoch),
            loss_fn=make_loss(model, config.loss),
            generator=torch.Generator().manual_seed(config.seed),
            stopping=_EarlyStopping(config.early_stopping_min_delta),
            history=[],
        )

    def restore(self) -> None:
        """Continue from ``run_dir/checkpoint``."""
        loop = load_training_state(
            self.run_dir / CHECKPOINT_DIR,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            generator=self.generator,
        )
        _check_resumable(loop["config"], self.config)
        self.stopping = _EarlyStopping(**loop["early_stopping"])
        self.history = [EpochMetrics(**row) for row in loop["history"]]
        self.stop_reason = StopReason(loop["stop_reason"])

    def save(self) -> None:
        """Write history and training state (after every epoch)."""
        write_history(self.run_dir / HISTORY_FILE, self.history)
        loop = {
            "config": self.config.to_dict(),
            "early_stopping": dataclasses.asdict(self.stopping),
            "history": [dataclasses.asdict(h) for h in self.history],
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

    def save_model(self, name: str, metrics: EpochMetrics) -> None:
        metadata = {
            "training": self.config.to_dict(),
            "data": dict(self.data.provenance),
            "metrics": dataclasses.asdict(metrics),
        }
        save_model(self.run_dir / name, self.model, self.data.scaler, metadata=metadata)

    def run_epoch(self, epoch: int, show_progress: bool) -> EpochMetrics:
        """Train one epoch, validate, update early stopping, save the best model."""
        config, start = self.config, time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        x, z = self.data.x_train, self.data.z_train
        steps = math.ceil(len(z) / config.batch_size)
        desc = f"epoch {epoch}/{config.epochs}"
        with tqdm(total=steps, desc=desc, disable=not show_progress, leave=False) as bar:
            train_loss, train_mae = train_one_epoch(
                self.model, self.loss_fn, self.optimizer, self.scheduler, x, z,
                batch_size=config.batch_size, generator=self.generator, progress=bar,
            )  # fmt: skip
        x, z = self.data.x_validation, self.data.z_validation
        val_loss, val_mae = evaluate_loss(
            self.model, self.loss_fn, x, z, batch_size=config.eval_batch_size
        )
        seconds = time.perf_counter() - start
        metrics = EpochMetrics(epoch, train_loss, train_mae, val_loss, val_mae, lr, seconds)
        self.history.append(metrics)
        log.info("%s", metrics)
        if self.stopping.update(epoch, val_loss):
            self.save_model(BEST_DIR, metrics)
        patience = config.early_stopping_patience
        if patience is not None and self.stopping.epochs_without_improvement >= patience:
            self.stop_reason = StopReason.EARLY_STOPPING
        return metrics

    def finish(self) -> TrainResult:
        """Restore the best weights if asked, save the final model, summarise."""
        chosen = self.history[-1]
        if self.config.restore_best_weights and self.stopping.best_epoch:
            best = load_file(str(self.run_dir / BEST_DIR / WEIGHTS_FILE), device=str(self.device))
            self.model.load_state_dict(best)
            chosen = self.history[self.stopping.best_epoch - 1]
        self.save_model(MODEL_DIR, chosen)
        return TrainResult(
            model=self.model,
            history=tuple(self.history),
            best_epoch=self.stopping.best_epoch,
            best_val_loss=self.stopping.best_loss,
            stop_reason=self.stop_reason,
            run_dir=self.run_dir,
        )


def train(
    model: RedshiftModel,
    data: TrainingData,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
) -> TrainResult:
    """Train ``model`` on ``data`` as ``config`` says, writing the run to ``run_dir``.

    With ``resume=True`` the run continues from ``run_dir/checkpoint`` (same
    settings required, except threads, device, progress and evaluation batch);
    without it, ``run_dir`` must not hold a run already.  Callbacks run after the
    epoch's checkpoint is written, so an exception in one (or Ctrl-C) loses no
    finished epoch.
    """
    run_dir = Path(run_dir)
    if data.input_channels != model.input_channels:
        raise ValueError(
            f"model takes {model.input_channels} input channel(s), data has {data.input_channels}"
        )
    if not resume and (run_dir / CHECKPOINT_DIR).exists():
        raise XpzError(f"{run_dir} already holds a training run; resume it or use a new directory")
    show_progress = config.progress if config.progress is not None else sys.stderr.isatty()
    with torch_settings(num_threads=config.num_threads, deterministic=config.deterministic):
        session = _Session.start(model, data, config, run_dir)
        if resume:
            session.restore()
        while session.stop_reason is StopReason.COMPLETED and len(session.history) < config.epochs:
            metrics = session.run_epoch(len(session.history) + 1, show_progress)
            session.save()
            stop_asked = [callback.on_epoch_end(metrics.epoch, metrics) for callback in callbacks]
            if any(stop_asked) and session.stop_reason is StopReason.COMPLETED:
                session.stop_reason = StopReason.CALLBACK
        return session.finish()
