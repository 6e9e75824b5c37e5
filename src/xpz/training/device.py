"""Where and how torch computes: device choice, CPU threads, determinism."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

__all__ = ["resolve_device", "torch_settings"]


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
