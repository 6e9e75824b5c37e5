"""Where prediction runs (CUDA when present, else the CPU), and training arithmetic.

:func:`torch_device` is what :func:`xpz.inference.open_model` loads a torch model
on, and :func:`onnx_providers` the onnxruntime execution providers an
:class:`xpz.export.OnnxModel` asks for (CUDA first when onnxruntime has it;
onnxruntime falls back to the next provider for anything CUDA cannot run).
``XPZ_DEVICE=cpu`` in the environment keeps both on the CPU.
:class:`Precision` is the arithmetic of training steps
(:attr:`xpz.training.config.TrainConfig.precision`); it lives here, free of
torch, so that the command line can offer it without importing torch.
:func:`one_blas_thread` keeps NumPy's BLAS from taking cores from torch's
threads while ``xpz predict`` converts XP coefficients between network passes.

>>> onnx_providers(["CPUExecutionProvider"])
['CPUExecutionProvider']
>>> onnx_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], environ={})
['CUDAExecutionProvider', 'CPUExecutionProvider']
>>> onnx_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], environ={"XPZ_DEVICE": "cpu"})
['CPUExecutionProvider']
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator, Mapping, Sequence

__all__ = [
    "DEVICE_VARIABLE",
    "Precision",
    "native_bf16",
    "one_blas_thread",
    "onnx_providers",
    "torch_device",
]

#: Environment variable that forces prediction onto the CPU when set to ``cpu``.
DEVICE_VARIABLE = "XPZ_DEVICE"
_CUDA_PROVIDER = "CUDAExecutionProvider"
_CPU_PROVIDER = "CPUExecutionProvider"


class Precision(enum.Enum):
    """Arithmetic of the training steps' forward pass (weights and optimizer stay float32)."""

    FP32 = "fp32"
    #: bfloat16 autocast of the forward pass (:func:`torch.autocast`); the loss,
    #: gradients and optimizer step in float32.  Validation always runs in float32.
    BF16 = "bf16"
    #: BF16 where the training device computes bfloat16 natively (a CPU with
    #: AVX512-BF16 or AMX, a CUDA GPU that supports it), else FP32: elsewhere
    #: bfloat16 is emulated and slower than float32 (:func:`native_bf16`).
    AUTO = "auto"

    def resolve(self, device: str) -> Precision:
        """FP32 or BF16: this precision on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

        >>> Precision.FP32.resolve("cpu")
        <Precision.FP32: 'fp32'>
        """
        if self is not Precision.AUTO:
            return self
        return Precision.BF16 if native_bf16(device) else Precision.FP32


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (AVX512-BF16 / AMX CPU, CUDA bf16)."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu, torch >= 2.3
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def _cpu_only(environ: Mapping[str, str]) -> bool:
    return environ.get(DEVICE_VARIABLE, "").strip().lower() == "cpu"


def torch_device(environ: Mapping[str, str] = os.environ) -> str:
    """``"cuda"`` when torch sees a CUDA device (and ``XPZ_DEVICE`` is not ``cpu``), else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() and not _cpu_only(environ) else "cpu"


def onnx_providers(
    available: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ
) -> list[str]:
    """onnxruntime providers to ask for: CUDA (when ``available`` has it) then the CPU."""
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    if _CUDA_PROVIDER in available and not _cpu_only(environ):
        return [_CUDA_PROVIDER, _CPU_PROVIDER]
    return [_CPU_PROVIDER]


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's BLAS (OpenBLAS, MKL) on one thread, process-wide, inside the ``with`` block.

    After each call OpenBLAS keeps its worker threads spinning for a while,
    waiting for more work.  Between the XP conversion of one chunk (a NumPy
    matrix product) and the network's pass over it, they hold a core that
    torch's threads need: on the two cores here the pass ran 1.7x slower after
    a product than after nothing (``benchmarks/blas_spin.py``).  With one BLAS thread
    there is no worker to spin; the conversion's products are small, and run
    beside the network in the read-ahead thread anyway.  Torch's own threads
    (OpenMP) are not touched.

    >>> with one_blas_thread():
    ...     pass
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
