"""Training-state checkpoints (xpz.training.state): exact restore, checksum, config check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xpz.models.modelfile import ModelFileError
from xpz.models.paper import PaperConfig
from xpz.models.registry import build_model
from xpz.training.state import STATE_JSON, STATE_TENSORS, load_training_state, save_training_state

TINY = PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,))


def _parts(config: PaperConfig = TINY, seed: int = 0):
    model = build_model(config, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, optimizer, torch.Generator().manual_seed(seed)


def _step(model, optimizer) -> None:
    loss = model(model.example_input(4)).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def test_state_round_trip_restores_weights_optimizer_and_rng(tmp_path: Path) -> None:
    model, optimizer, generator = _parts()
    _step(model, optimizer)
    torch.randperm(5, generator=generator)
    path = save_training_state(
        tmp_path / "state", model=model, optimizer=optimizer, scheduler=None,
        generator=generator, state={"epoch": 1},
    )  # fmt: skip
    assert sorted(p.name for p in path.iterdir()) == sorted([STATE_JSON, STATE_TENSORS])
    other, other_optimizer, other_generator = _parts(seed=1)
    loop = load_training_state(
        path, model=other, optimizer=other_optimizer, scheduler=None, generator=other_generator
    )
    assert loop == {"epoch": 1}
    for name, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[name]), name
    assert torch.equal(generator.get_state(), other_generator.get_state())
    _step(model, optimizer)
    _step(other, other_optimizer)  # same optimizer state: the same next step
    for name, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[name]), name


def test_damaged_or_foreign_state_is_refused(tmp_path: Path) -> None:
    model, optimizer, generator = _parts()
    path = save_training_state(
        tmp_path / "state", model=model, optimizer=optimizer, scheduler=None,
        generator=generator, state={},
    )  # fmt: skip
    wider, wider_optimizer, _ = _parts(TINY.replace(dense_units=(16,)))
    with pytest.raises(ModelFileError, match="different model config"):
        load_training_state(
            path, model=wider, optimizer=wider_optimizer, scheduler=None, generator=generator
        )
    info = json.loads((path / STATE_JSON).read_text())
    (path / STATE_JSON).write_text(json.dumps({**info, "sha256": "0" * 64}))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_training_state(
            path, model=model, optimizer=optimizer, scheduler=None, generator=generator
        )
    with pytest.raises(ModelFileError, match="no training state"):
        load_training_state(
            tmp_path / "missing", model=model, optimizer=optimizer, scheduler=None,
            generator=generator,
        )  # fmt: skip
