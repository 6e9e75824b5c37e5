"""Prediction on CUDA (torch and onnxruntime's CUDA provider) equals the CPU's.

The CUDA tests are marked ``gpu``: each skips itself when no CUDA device (or
provider) is present.  ``XPZ_DEVICE=cpu`` keeping both on the CPU runs everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from xpz import accelerator, inference


def _cuda_torch() -> bool:
    import torch

    return torch.cuda.is_available()


def _cuda_onnx() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.fixture
def xpz_model(tmp_path, toy_spectra):
    from xpz.models.modelfile import save_model
    from xpz.models.registry import build_model
    from xpz.models.xpznet import XpzNetConfig
    from xpz.preprocess import MinMaxScaler

    config = XpzNetConfig(conv_filters=(4, 8), conv_kernels=(5, 3), hidden_units=16, n_bins=40)
    return save_model(
        tmp_path / "model", build_model(config, seed=0), MinMaxScaler().fit(toy_spectra.flux)
    )


def _estimates(model, spectra, runtime, monkeypatch, device: str | None):
    if device is None:
        monkeypatch.delenv(accelerator.DEVICE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(accelerator.DEVICE_VARIABLE, device)
    predictor = inference.open_model(model, runtime)
    return predictor, inference.predict_spectra(predictor, spectra)[0]


@pytest.mark.gpu
def test_torch_on_cuda_equals_cpu(xpz_model, toy_spectra, monkeypatch):
    if not _cuda_torch():
        pytest.skip("no CUDA device")
    gpu, on_gpu = _estimates(xpz_model, toy_spectra, "torch", monkeypatch, None)
    assert next(gpu.model.parameters()).device.type == "cuda"
    _, on_cpu = _estimates(xpz_model, toy_spectra, "torch", monkeypatch, "cpu")
    for name, values in on_cpu.items():
        np.testing.assert_allclose(on_gpu[name], values, rtol=1e-4, atol=2e-4, err_msg=name)


@pytest.mark.gpu
def test_onnx_cuda_provider_equals_cpu(xpz_model, toy_spectra, monkeypatch):
    if not _cuda_onnx():
        pytest.skip("onnxruntime has no CUDAExecutionProvider here")
    gpu, on_gpu = _estimates(xpz_model, toy_spectra, "onnx", monkeypatch, None)
    assert gpu.session.get_providers()[0] == "CUDAExecutionProvider"
    _, on_cpu = _estimates(xpz_model, toy_spectra, "onnx", monkeypatch, "cpu")
    for name, values in on_cpu.items():
        np.testing.assert_allclose(on_gpu[name], values, rtol=1e-4, atol=2e-4, err_msg=name)


def test_cpu_when_asked(xpz_model, monkeypatch):
    monkeypatch.setenv(accelerator.DEVICE_VARIABLE, "cpu")
    loaded = inference.open_model(xpz_model)
    assert next(loaded.model.parameters()).device.type == "cpu"
    assert inference.open_model(xpz_model, "onnx").session.get_providers() == [
        "CPUExecutionProvider"
    ]
