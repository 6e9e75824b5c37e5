"""The computations of one epoch: optimizer, schedule, loss, a training pass, an evaluation pass,
and the per-epoch record (:class:`EpochMetrics`, the history file, early stopping).

:func:`xpz.training.loop.train` strings them together; ``train_one_epoch``
takes the batches as row indices, so that the same pass serves one process
(consecutive batches of a shuffled order) and several (each its share, see
:func:`xpz.training.distributed.shard_batches`).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from xpz.io.atomic import atomic_path
from xpz.models.base import LossKind, RedshiftModel, point_loss
from xpz.training.config import Optimizer, Schedule, TrainConfig
from xpz.training.distributed import Topology, all_reduce_sum

__all__ = [
    "EarlyStopping",
    "EpochMetrics",
    "LossFunction",
    "Totals",
    "evaluate_loss",
    "evaluate_totals",
    "make_loss",
    "make_optimizer",
    "make_scheduler",
    "train_one_epoch",
    "write_history",
]

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


@dataclasses.dataclass
class EarlyStopping:
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


def write_history(path: Path, history: Sequence[EpochMetrics]) -> None:
    """Write the per-epoch history as CSV, atomically."""
    names = [f.name for f in dataclasses.fields(EpochMetrics)]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        for row in history:
            writer.writerow(dataclasses.asdict(row))


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


@dataclasses.dataclass(frozen=True)
class Totals:
    """Sums of the loss and of |z_pred - z| over ``rows`` rows (one process's, or all)."""

    loss: float
    abs_error: float
    rows: int

    def means(self) -> tuple[float, float]:
        """Mean (loss, MAE) per row."""
        return self.loss / self.rows, self.abs_error / self.rows

    def summed(self, topology: Topology, device: torch.device) -> Totals:
        """The sums over all processes (itself with one process)."""
        loss, abs_error, rows = all_reduce_sum(
            [self.loss, self.abs_error, self.rows], topology, device
        )
        return Totals(loss, abs_error, int(rows))


def train_one_epoch(
    model: RedshiftModel,
    loss_fn: LossFunction,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    x: Tensor,
    z: Tensor,
    *,
    batches: Sequence[Tensor],
    network: torch.nn.Module | None = None,
    progress: tqdm | None = None,
    bf16: bool = False,
) -> Totals:
    """One optimizer step per batch of row indices of (x, z); returns the epoch's sums.

    ``network`` computes the outputs: the model's ``DistributedDataParallel``
    wrapper when training in several processes (default: ``model``).  With
    ``bf16`` the forward pass runs under bfloat16 autocast; the loss, its
    gradients and the optimizer step stay float32.
    """
    network = model if network is None else network
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=z.device)
    abs_sum = torch.zeros((), dtype=torch.float64, device=z.device)
    seen = 0
    for step, rows in enumerate(batches):
        xb, zb = x[rows], z[rows]
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(xb.device.type, torch.bfloat16, enabled=bf16):
            output = network(xb)
        output = output.float()
        loss = loss_fn(output, zb)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            loss_sum += loss.detach() * len(rows)
            abs_sum += (model.summarize(output)["z_pred"] - zb).abs().sum()
        seen += len(rows)
        if progress is not None:
            progress.update(1)
            if step % 50 == 0:
                progress.set_postfix(
                    loss=f"{loss_sum.item() / seen:.5f}",
                    mae=f"{abs_sum.item() / seen:.4f}",
                    refresh=False,
                )
    return Totals(loss_sum.item(), abs_sum.item(), seen)


def evaluate_totals(
    model: RedshiftModel, loss_fn: LossFunction, x: Tensor, z: Tensor, *, batch_size: int
) -> Totals:
    """Sums of loss and absolute error over (x, z) in eval mode, without gradients."""
    model.eval()
    loss_sum, abs_sum = 0.0, 0.0
    with torch.inference_mode():
        for start in range(0, len(z), batch_size):
            xb, zb = x[start : start + batch_size], z[start : start + batch_size]
            output = model(xb)
            loss_sum += loss_fn(output, zb).item() * len(zb)
            abs_sum += (model.summarize(output)["z_pred"] - zb).abs().sum().item()
    return Totals(loss_sum, abs_sum, len(z))


def evaluate_loss(
    model: RedshiftModel, loss_fn: LossFunction, x: Tensor, z: Tensor, *, batch_size: int
) -> tuple[float, float]:
    """Mean (loss, MAE) over (x, z) in eval mode, without gradients."""
    return evaluate_totals(model, loss_fn, x, z, batch_size=batch_size).means()
