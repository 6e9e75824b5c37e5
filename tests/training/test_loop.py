"""Tests of the training loop (xpz.training.loop) on small made-up data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xpz.errors import XpzError
from xpz.models.base import LossKind, point_loss
from xpz.models.modelfile import WEIGHTS_FILE, load_model
from xpz.models.paper import PaperConfig
from xpz.models.registry import build_model
from xpz.preprocess import MinMaxScaler
from xpz.spectra import Spectra
from xpz.split import split_indices
from xpz.training.config import Optimizer, Schedule, TrainConfig
from xpz.training.loop import (
    BEST_DIR,
    CHECKPOINT_DIR,
    HISTORY_FILE,
    MODEL_DIR,
    EpochMetrics,
    StopReason,
    TrainingData,
    evaluate_loss,
    make_training_data,
    train,
)
from xpz.training.state import STATE_JSON

SMALL = PaperConfig(conv_filters=(8, 8), conv_kernels=(5, 3), pool=4, dense_units=(32,))


def toy_spectra(n: int, seed: int = 0) -> Spectra:
    """Spectra whose shape encodes z: a Gaussian line whose position moves with z."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, 0.6, n)
    pixel = np.arange(186)
    centre = 30 + 200 * z
    flux = 5 + 20 * np.exp(-0.5 * ((pixel[None, :] - centre[:, None]) / 6) ** 2)
    flux += rng.normal(0, 0.1, flux.shape)
    return Spectra(flux=flux, z=z, flux_error=np.full_like(flux, 0.1))


def toy_data(n: int = 80, seed: int = 0, input_channels: int = 1) -> TrainingData:
    spectra = toy_spectra(n, seed)
    split = split_indices(n, seed=seed, test=0.0, validation=0.2)
    scaler = MinMaxScaler().fit(spectra.flux[split.train])
    return make_training_data(spectra, split, scaler, input_channels=input_channels)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_bits(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


FAST = TrainConfig(
    epochs=3, batch_size=16, optimizer=Optimizer.ADAM, lr=3e-3, num_threads=1, progress=False
)


def test_overfits_a_learnable_toy_mapping(tmp_path: Path) -> None:
    data = toy_data(80)
    model = build_model(SMALL, seed=0)
    config = FAST.replace(epochs=120, schedule=Schedule.ONE_CYCLE, lr=1e-2)
    result = train(model, data, config, tmp_path)
    first, last = result.history[0], result.history[-1]
    assert last.train_mae < 0.02 < first.train_mae
    assert last.train_loss < first.train_loss / 20
    assert result.stop_reason is StopReason.COMPLETED and len(result.history) == 120


def test_paper_model_trains_one_epoch_and_writes_the_run(tmp_path: Path) -> None:
    data = toy_data(40)
    model = build_model(PaperConfig(), seed=0)
    before = weights(model)
    result = train(model, data, TrainConfig(epochs=1, progress=False), tmp_path)
    assert np.isfinite(result.history[0].train_loss)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    with open(tmp_path / HISTORY_FILE) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "epoch",
        "train_loss",
        "train_mae",
        "val_loss",
        "val_mae",
        "lr",
        "seconds",
    ]
    assert float(rows[0]["val_loss"]) == result.history[0].val_loss
    loaded = load_model(result.model_dir)
    assert loaded.metadata["training"]["optimizer"] == "adamax"
    assert loaded.metadata["data"]["n_train"] == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [BEST_DIR, CHECKPOINT_DIR, HISTORY_FILE, MODEL_DIR]
    )


def test_same_seed_same_bits_other_seed_differs(tmp_path: Path) -> None:
    data = toy_data(48)
    runs = []
    for i, seed in enumerate((5, 5, 6)):
        model = build_model(SMALL, seed=seed)
        train(model, data, FAST.replace(seed=seed), tmp_path / str(i))
        runs.append(weights(model))
    assert_same_bits(runs[0], runs[1])
    assert not torch.equal(runs[0]["blocks.0.0.weight"], runs[2]["blocks.0.0.weight"])


class Interrupt:
    """Raises KeyboardInterrupt after a given epoch, like Ctrl-C."""

    def __init__(self, after: int) -> None:
        self.after = after

    def on_epoch_end(self, epoch: int, metrics: EpochMetrics) -> bool:
        if epoch == self.after:
            raise KeyboardInterrupt
        return False


@pytest.mark.parametrize("schedule", [Schedule.NONE, Schedule.ONE_CYCLE])
def test_resume_matches_uninterrupted_run_bit_for_bit(tmp_path: Path, schedule: Schedule) -> None:
    data = toy_data(48)
    config = FAST.replace(epochs=4, optimizer=Optimizer.ADAMAX, schedule=schedule)
    whole = build_model(SMALL, seed=1)
    reference = train(whole, data, config, tmp_path / "whole")

    model = build_model(SMALL, seed=1)
    with pytest.raises(KeyboardInterrupt):
        train(model, data, config, tmp_path / "cut", callbacks=[Interrupt(after=2)])
    fresh = build_model(SMALL, seed=99)  # weights come from the checkpoint
    resumed = train(fresh, data, config.replace(progress=True), tmp_path / "cut", resume=True)

    assert_same_bits(weights(fresh), weights(whole))
    assert [h.val_loss for h in resumed.history] == [h.val_loss for h in reference.history]
    with pytest.raises(XpzError, match="already holds a training run"):
        train(fresh, data, config, tmp_path / "cut")
    with pytest.raises(XpzError, match=r"settings changed.*'lr'"):
        train(fresh, data, config.replace(lr=0.1), tmp_path / "cut", resume=True)


def test_early_stopping_restores_best_weights(tmp_path: Path) -> None:
    data = toy_data(48)
    # validation redshifts that get worse as the model learns the training ones
    data = TrainingData(
        data.x_train, data.z_train, data.x_validation, 0.6 - data.z_validation, data.scaler
    )
    config = FAST.replace(epochs=40, early_stopping_patience=3, loss=LossKind.MSE)
    model = build_model(SMALL, seed=2)
    result = train(model, data, config, tmp_path)
    assert result.stop_reason is StopReason.EARLY_STOPPING
    assert len(result.history) == result.best_epoch + 3 < 40
    best_loss = min(h.val_loss for h in result.history)
    assert result.best_val_loss == best_loss == result.history[result.best_epoch - 1].val_loss

    def mse(output: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return point_loss(LossKind.MSE, output[:, 0], z)

    loss, _ = evaluate_loss(model, mse, data.x_validation, data.z_validation, batch_size=64)
    assert loss == pytest.approx(best_loss, rel=1e-6)
    assert_same_bits(weights(model), load_file(str(tmp_path / BEST_DIR / WEIGHTS_FILE)))
    assert load_model(result.model_dir).metadata["metrics"]["epoch"] == result.best_epoch


def test_callback_can_stop_training(tmp_path: Path) -> None:
    class StopAfterTwo:
        def on_epoch_end(self, epoch: int, metrics: EpochMetrics) -> bool:
            return epoch >= 2

    result = train(
        build_model(SMALL, seed=0),
        toy_data(32),
        FAST.replace(epochs=5),
        tmp_path,
        callbacks=[StopAfterTwo()],
    )
    assert result.stop_reason is StopReason.CALLBACK and len(result.history) == 2
    # the stop is part of the checkpoint: resuming does not train on
    resumed = train(
        build_model(SMALL, seed=0), toy_data(32), FAST.replace(epochs=5), tmp_path, resume=True
    )
    assert resumed.stop_reason is StopReason.CALLBACK and len(resumed.history) == 2


def test_channel_mismatch_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="input channel"):
        train(build_model(SMALL.replace(input_channels=2)), toy_data(32), FAST, tmp_path)


def test_resume_accepts_a_state_saved_before_a_config_field_existed(tmp_path: Path) -> None:
    """An older checkpoint lacks fields added since with their defaults; another config is refused."""
    config = FAST.replace(epochs=2)
    train(build_model(SMALL, seed=0), toy_data(32), config, tmp_path / "run")
    state = tmp_path / "run" / CHECKPOINT_DIR / STATE_JSON
    info = json.loads(state.read_text())
    del info["model"]["n_pixels"]  # as if written before `n_pixels` existed (default value)
    state.write_text(json.dumps(info))
    resumed = train(build_model(SMALL, seed=0), toy_data(32), config, tmp_path / "run", resume=True)
    assert len(resumed.history) == 2
    other = SMALL.replace(dense_units=(16,))
    with pytest.raises(XpzError, match="different model config"):
        train(build_model(other, seed=0), toy_data(32), config, tmp_path / "run", resume=True)


def test_finalize_runs_on_the_chosen_weights_before_the_one_save(tmp_path: Path) -> None:
    def finalize(model) -> dict[str, float]:
        with torch.no_grad():
            next(model.parameters()).mul_(2.0)  # e.g. a calibration changing a buffer
        return {"finalized": 1.0}

    result = train(build_model(SMALL, seed=0), toy_data(32), FAST, tmp_path, finalize=finalize)
    loaded = load_model(result.model_dir)
    assert loaded.metadata["finalized"] == 1.0 and dict(result.metadata) == loaded.metadata
    assert_same_bits(weights(result.model), weights(loaded.model))
