"""Training in several processes (``torchrun``): process group, data shards, shared metrics.

``torchrun --nproc-per-node N ...`` starts N copies of a program and tells each
its place through environment variables (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``).
:func:`xpz.training.loop.train` reads them with :func:`current_topology`, joins
the process group with :func:`join_process_group` (gloo on CPUs, NCCL on
GPUs), wraps the model in ``DistributedDataParallel`` (:func:`wrap_model`) and
gives every process its share of each epoch (:func:`shard_batches`).  Sums of
the epoch's losses are added up over all processes (:func:`all_reduce_sum`), so
that every process holds the same history and takes the same decisions; only the
main process (rank 0) writes files, the others wait for it (:func:`barrier`).

Without those variables (or with ``WORLD_SIZE=1``) nothing here does anything
and training is the plain single-process loop.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import os
from collections.abc import Mapping, Sequence

import torch
import torch.distributed as dist

from xpz.errors import XpzError

__all__ = [
    "Backend",
    "Topology",
    "all_reduce_max",
    "all_reduce_sum",
    "backend_for",
    "barrier",
    "batch_bounds",
    "current_topology",
    "is_main_process",
    "join_process_group",
    "shard_batches",
    "topology_from_env",
    "wrap_model",
]


class Backend(enum.Enum):
    """How the processes talk: gloo (CPU tensors) or NCCL (CUDA tensors)."""

    GLOO = "gloo"
    NCCL = "nccl"


@dataclasses.dataclass(frozen=True)
class Topology:
    """This process's place among the training processes.

    ``rank`` counts processes over all nodes (0 is the main one), ``local_rank``
    those on this node (it picks the GPU).

    >>> Topology().distributed, Topology(rank=1, world_size=2).is_main
    (False, False)
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in 0..{self.world_size - 1}")
        if not 0 <= self.local_rank < self.local_world_size <= self.world_size:
            raise ValueError(
                f"local rank {self.local_rank} of {self.local_world_size} processes on this "
                f"node does not fit a world of {self.world_size}"
            )

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise XpzError(f"environment variable {name}={value!r} is not an integer") from None


def topology_from_env(env: Mapping[str, str] = os.environ) -> Topology:
    """The topology torchrun describes in ``env`` (no variables: one process).

    >>> topology_from_env({})
    Topology(rank=0, world_size=1, local_rank=0, local_world_size=1)
    >>> topology_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    Topology(rank=3, world_size=4, local_rank=1, local_world_size=2)
    """
    world_size = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    local_rank = _env_int(env, "LOCAL_RANK", rank)
    local_world_size = _env_int(env, "LOCAL_WORLD_SIZE", world_size)
    try:
        return Topology(rank, world_size, local_rank, local_world_size)
    except ValueError as err:
        raise XpzError(f"inconsistent torchrun environment: {err}") from None


def current_topology() -> Topology:
    """The process group's topology if one is running, else the environment's."""
    from_env = topology_from_env()
    if not (dist.is_available() and dist.is_initialized()):
        return from_env
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if from_env.world_size == world_size:
        return dataclasses.replace(from_env, rank=rank)
    return Topology(rank, world_size, local_rank=rank, local_world_size=world_size)


def is_main_process() -> bool:
    """Whether this is the process that writes files (always, without torchrun)."""
    return current_topology().is_main


def backend_for(device: torch.device) -> Backend:
    """NCCL for CUDA devices, gloo otherwise.

    >>> backend_for(torch.device("cpu")).value
    'gloo'
    """
    return Backend.NCCL if device.type == "cuda" else Backend.GLOO


def join_process_group(topology: Topology, device: torch.device) -> None:
    """Join torchrun's process group, once per process; it is left when the process exits.

    Does nothing for a single process or when the group is running already
    (e.g. set up by the caller, who then also ends it).  ``MASTER_ADDR`` and
    ``MASTER_PORT`` say where process 0 waits for the others.  The group is
    not left after a run because joining a second time under torchrun can hang
    (the agent's store keeps the first rendezvous).
    """
    if not topology.distributed or dist.is_initialized():
        return
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise XpzError(f"{topology.world_size} processes but no {' or '.join(missing)} set")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend=backend_for(device).value,
        init_method="env://",
        rank=topology.rank,
        world_size=topology.world_size,
        device_id=device if device.type == "cuda" else None,
    )
    atexit.register(_leave_process_group)


def _leave_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(topology: Topology) -> None:
    """Wait until every process got here (nothing to wait for with one process)."""
    if topology.distributed:
        dist.barrier()


def _all_reduce(
    values: Sequence[float], op: dist.ReduceOp.RedOpType, topology: Topology, device: torch.device
) -> tuple[float, ...]:
    if not topology.distributed:
        return tuple(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=op)
    return tuple(tensor.tolist())


def all_reduce_sum(
    values: Sequence[float], topology: Topology, device: torch.device
) -> tuple[float, ...]:
    """Element-wise sums of ``values`` over all processes (float64, on ``device`` for NCCL).

    >>> all_reduce_sum([1.5, 2.0], Topology(), torch.device("cpu"))
    (1.5, 2.0)
    """
    return _all_reduce(values, dist.ReduceOp.SUM, topology, device)


def all_reduce_max(
    values: Sequence[float], topology: Topology, device: torch.device
) -> tuple[float, ...]:
    """Element-wise maxima of ``values`` over all processes."""
    return _all_reduce(values, dist.ReduceOp.MAX, topology, device)


def wrap_model(model: torch.nn.Module, device: torch.device, topology: Topology) -> torch.nn.Module:
    """``model`` in ``DistributedDataParallel`` when there are several processes, else itself.

    The wrapper averages the gradients over processes in ``backward()``; its
    parameters *are* the model's, so the model itself is what gets saved.
    """
    if not topology.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def batch_bounds(n_rows: int, batch_size: int, world_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each *global* batch of ``world_size * batch_size`` rows of an epoch.

    The last batch is shorter; if it has fewer rows than processes it is
    merged into the one before, so that every process gets at least one row of
    every batch and no row is dropped or repeated.

    >>> batch_bounds(10, 4, 1)
    [(0, 4), (4, 8), (8, 10)]
    >>> batch_bounds(9, 2, 2)
    [(0, 4), (4, 9)]
    """
    if n_rows < world_size:
        raise XpzError(f"{n_rows} training rows cannot be shared by {world_size} processes")
    step = batch_size * world_size
    bounds = [(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < world_size:
        (start, _), (_, stop) = bounds[-2:]
        bounds[-2:] = [(start, stop)]
    return bounds


def shard_batches(
    order: torch.Tensor, *, batch_size: int, rank: int, world_size: int
) -> list[torch.Tensor]:
    """This process's batches of an epoch whose rows come in ``order`` (the same on every process).

    Every global batch (:func:`batch_bounds`) is dealt round-robin, like
    ``DistributedSampler``: process ``rank`` takes its rows ``rank, rank +
    world_size, ...``.  Over all processes an epoch sees every row exactly once
    (``DistributedSampler`` instead repeats rows to even out the shares); each
    process takes the same number of steps with about ``batch_size`` rows.  One
    process gets plain consecutive batches of ``order``.

    >>> order = torch.arange(9)
    >>> [b.tolist() for b in shard_batches(order, batch_size=2, rank=1, world_size=2)]
    [[1, 3], [5, 7]]
    >>> [b.tolist() for b in shard_batches(order, batch_size=2, rank=0, world_size=2)]
    [[0, 2], [4, 6, 8]]
    """
    bounds = batch_bounds(len(order), batch_size, world_size)
    return [order[start:stop][rank::world_size] for start, stop in bounds]
