"""Where prediction runs (CUDA when present, else the CPU), and training arithmetic.

:func:`torch_device` is what :func:`xpz.inference.open_model` loads a torch model
on, and :func:`onnx_providers` the onnxruntime execution providers an
:class:`xpz.export.OnnxModel` asks for (CUDA first when onnxruntime has it;
onnxruntime falls back to the next provider for anything CUDA cannot run).
``XPZ_DEVICE=cpu`` in the environment keeps both on the CPU.
:class:`Precision` is the arithmetic of training steps
(:attr:`xpz.training.config.TrainConfig.precision`); it lives here, free of
torch, so that the command line can offer it without importing torch.

>>> onnx_providers(["CPUExecutionProvider"])
['CPUExecutionProvider']
>>> onnx_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], environ={})
['CUDAExecutionProvider', 'CPUExecutionProvider']
>>> onnx_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], environ={"XPZ_DEVICE": "cpu"})
['CPUExecutionProvider']
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence

__all__ = ["DEVICE_VARIABLE", "Precision", "onnx_providers", "torch_device"]

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
