"""Training in bf16 autocast (TrainConfig.precision): it learns, differs from fp32, round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xpz.accelerator import Precision
from xpz.models.registry import build_model
from xpz.training.config import Schedule, TrainConfig
from xpz.training.loop import train

from .test_loop import FAST, SMALL, toy_data


def test_precision_is_an_enum_and_round_trips():
    config = TrainConfig(precision="bf16")  # type: ignore[arg-type]  # as read from JSON
    assert config.precision is Precision.BF16
    assert TrainConfig.from_dict(config.to_dict()).precision is Precision.BF16
    assert TrainConfig().precision is Precision.FP32
    with pytest.raises(ValueError):
        TrainConfig(precision="fp8")  # type: ignore[arg-type]


def test_bf16_learns_the_toy_mapping_like_fp32(tmp_path: Path) -> None:
    data = toy_data(80)
    results, weights = {}, {}
    for precision in (Precision.FP32, Precision.BF16):
        model = build_model(SMALL, seed=0)
        config = FAST.replace(epochs=60, schedule=Schedule.ONE_CYCLE, lr=1e-2, precision=precision)
        results[precision] = train(model, data, config, tmp_path / precision.value)
        weights[precision] = model.blocks[0][0].weight.detach().clone()
        assert model.blocks[0][0].weight.dtype == torch.float32  # weights stay float32
    fp32, bf16 = (results[p].history for p in (Precision.FP32, Precision.BF16))
    assert bf16[-1].train_mae < 0.03 < bf16[0].train_mae
    assert np.isclose(bf16[-1].val_mae, fp32[-1].val_mae, atol=0.01)
    assert not torch.equal(weights[Precision.FP32], weights[Precision.BF16])  # bf16 did run


def test_resume_keeps_the_precision_and_accepts_a_checkpoint_from_before_it(tmp_path: Path):
    import json

    from xpz.errors import XpzError
    from xpz.training.loop import CHECKPOINT_DIR
    from xpz.training.state import STATE_JSON

    config = FAST.replace(epochs=2)
    train(build_model(SMALL, seed=0), toy_data(32), config, tmp_path / "run")
    state = tmp_path / "run" / CHECKPOINT_DIR / STATE_JSON
    info = json.loads(state.read_text())
    del info["loop"]["config"]["precision"]  # as written before the field existed: fp32
    state.write_text(json.dumps(info))
    resumed = train(build_model(SMALL, seed=0), toy_data(32), config, tmp_path / "run", resume=True)
    assert len(resumed.history) == 2
    with pytest.raises(XpzError, match="precision"):
        bf16 = config.replace(precision=Precision.BF16)
        train(build_model(SMALL, seed=0), toy_data(32), bf16, tmp_path / "run", resume=True)


def test_auto_is_bf16_exactly_where_the_hardware_has_it(monkeypatch):
    import xpz.accelerator as accelerator

    monkeypatch.setattr(accelerator, "native_bf16", lambda device: device == "cpu")
    assert Precision.AUTO.resolve("cpu") is Precision.BF16
    assert Precision.AUTO.resolve("cuda") is Precision.FP32
    assert Precision.BF16.resolve("cuda") is Precision.BF16  # asked for: kept
    assert Precision.FP32.resolve("cpu") is Precision.FP32


def test_native_bf16_follows_the_cpu_probes(monkeypatch):
    from xpz.accelerator import native_bf16

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert native_bf16("cpu") is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert native_bf16("cpu") is True
    if not torch.cuda.is_available():
        assert native_bf16("cuda") is False


def test_auto_trains_as_what_it_resolves_to(tmp_path: Path, monkeypatch) -> None:
    import xpz.accelerator as accelerator

    weights = {}
    for native in (True, False):
        monkeypatch.setattr(accelerator, "native_bf16", lambda device, native=native: native)
        model = build_model(SMALL, seed=0)
        train(
            model,
            toy_data(32),
            FAST.replace(epochs=2, precision=Precision.AUTO),
            tmp_path / str(native),
        )
        weights[native] = model.blocks[0][0].weight.detach().clone()
    for precision in (Precision.BF16, Precision.FP32):
        model = build_model(SMALL, seed=0)
        train(
            model,
            toy_data(32),
            FAST.replace(epochs=2, precision=precision),
            tmp_path / precision.value,
        )
        weights[precision] = model.blocks[0][0].weight.detach().clone()
    assert torch.equal(weights[True], weights[Precision.BF16])
    assert torch.equal(weights[False], weights[Precision.FP32])
    assert not torch.equal(weights[True], weights[False])
