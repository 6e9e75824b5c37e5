"""Where and how torch computes: device choice, CPU threads, determinism."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

__all__ = ["default_num_threads", "process_device", "resolve_device", "torch_settings"]


def resolve_device(spec: str) -> torch.device:
    """The device named by ``spec``; "auto" is CUDA when available, else the CPU.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} requested but no CUDA device is available")
    return device


def process_device(spec: str, *, local_rank: int, processes_per_node: int) -> torch.device:
    """The device of training process ``local_rank`` of ``processes_per_node`` on a node.

    With several processes, "auto" and "cuda" mean GPU number ``local_rank``
    (one GPU per process); an explicit "cuda:N" is taken as it is.  One process
    gets :func:`resolve_device` of ``spec``.

    >>> process_device("cpu", local_rank=1, processes_per_node=2)
    device(type='cpu')
    """
    device = resolve_device(spec)
    if processes_per_node == 1 or device.type != "cuda" or device.index is not None:
        return device
    if local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"process {local_rank} of {processes_per_node} on this node needs a GPU of its own, "
            f"but only {torch.cuda.device_count()} are visible"
        )
    return torch.device("cuda", local_rank)


def default_num_threads(processes_per_node: int) -> int:
    """CPU threads per process when not set: the node's cores shared by its training processes.

    >>> default_num_threads(os.cpu_count() or 1) == 1
    True
    """
    return max(1, (os.cpu_count() or 1) // processes_per_node)


@contextlib.contextmanager
def torch_settings(*, num_threads: int | None, deterministic: bool) -> Iterator[None]:
    """Use ``num_threads`` CPU threads (None: all cores) and, if ``deterministic``,
    only deterministic algorithms; restore torch's previous settings afterwards."""
    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(num_threads or os.cpu_count() or 1)
    if deterministic:
        # cuBLAS needs this workspace setting to be reproducible; harmless on CPU
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
