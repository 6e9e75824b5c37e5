"""Tests of the dissertation CNN (xpz.models.paper), the model contract and the registry."""

from __future__ import annotations

import json
import math

import pytest
import torch

from xpz.models.base import Activation, LossKind, RedshiftModel, point_loss
from xpz.models.paper import ConvImpl, PaperCNN, PaperConfig
from xpz.models.registry import (
    MODEL_KINDS,
    build_model,
    config_kind,
    model_config_from_dict,
    model_kinds,
)
from xpz.reference import dissertation_architecture


@pytest.mark.parametrize("impl", list(ConvImpl))
def test_default_is_table_2(impl: ConvImpl) -> None:
    model = PaperCNN(PaperConfig(conv_impl=impl))
    assert model.num_parameters() == 699_073
    table = dissertation_architecture()
    rows = model.describe()
    assert [r.params for r in rows] == [int(t["params"]) for t in table]
    assert [r.output_shape for r in rows] == [t["output_shape"] for t in table]


def test_conv_implementations_compute_the_same_function() -> None:
    torch.manual_seed(0)
    one = PaperCNN(PaperConfig(conv_impl=ConvImpl.CONV1D))
    two = PaperCNN(PaperConfig(conv_impl=ConvImpl.CONV2D_CHANNELS_LAST))
    weights = {k: v.reshape(two.state_dict()[k].shape) for k, v in one.state_dict().items()}
    two.load_state_dict(weights)
    x = torch.rand(5, 1, 186)
    torch.testing.assert_close(two(x), one(x), rtol=1e-5, atol=1e-6)


def test_keras_initialisation() -> None:
    model = PaperCNN(PaperConfig(conv_impl=ConvImpl.CONV1D))
    first_conv = model.blocks[0][0].weight.detach()
    limit = math.sqrt(6 / (1 * 5 + 256 * 5))  # Glorot: fan_in = in * k, fan_out = out * k
    assert float(first_conv.abs().max()) <= limit
    assert float(first_conv.abs().max()) > 0.9 * limit
    biases = [p.detach() for name, p in model.named_parameters() if name.endswith("bias")]
    assert len(biases) == 9 and all(not b.any() for b in biases)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"conv_filters": (8,) * 7, "conv_kernels": (3,) * 7}, "shrinks"),
        ({"conv_kernels": (200,), "conv_filters": (8,)}, "shrinks"),
        ({"conv_kernels": (5, 5)}, "same length"),
        ({"conv_filters": (0, 8, 8, 8)}, "positive integers"),
        ({"conv_filters": (), "conv_kernels": ()}, "at least one"),
        ({"pool": 0}, "pool"),
        ({"input_channels": 3}, "input_channels"),
    ],
)
def test_invalid_architecture_rejected(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PaperConfig(**changes)


def test_variant_builds_and_runs() -> None:
    config = PaperConfig(
        conv_filters=(16, 8),
        conv_kernels=(7, 3),
        pool=3,
        dense_units=(),
        activation=Activation.ELU,
        input_channels=2,
    )
    model = PaperCNN(config)
    assert model(torch.rand(4, 2, 186)).shape == (4, 1)
    with pytest.raises(ValueError, match=r"expected input \(N, 2, 186\)"):
        model(torch.rand(4, 1, 186))


def test_config_round_trips_through_json_and_registry() -> None:
    config = PaperConfig(dense_units=(64, 32), activation=Activation.TANH, loss=LossKind.MAE)
    model = build_model(config, seed=4)
    stored = json.loads(json.dumps(model.config_dict()))
    assert stored["kind"] == "paper" and stored["activation"] == "tanh"
    again = build_model(stored, seed=4)
    assert again.config == config
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_seeded_build_is_deterministic_and_leaves_global_rng() -> None:
    state = torch.get_rng_state()
    a, b, c = (build_model(PaperConfig(dense_units=(8,)), seed=s) for s in (1, 1, 2))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.blocks[0][0].weight, b.blocks[0][0].weight)
    assert not torch.equal(a.blocks[0][0].weight, c.blocks[0][0].weight)


def test_point_losses() -> None:
    pred, z = torch.tensor([0.1, 0.5]), torch.tensor([0.2, 0.2])
    assert float(point_loss(LossKind.MSE, pred, z)) == pytest.approx((0.01 + 0.09) / 2)
    assert float(point_loss(LossKind.HUBER, pred, z)) == pytest.approx((0.01 + 0.09) / 4)  # |e| < 1
    assert float(point_loss(LossKind.MAE, pred, z)) == pytest.approx(0.2)
    model = PaperCNN(PaperConfig(dense_units=(4,), loss=LossKind.MAE))
    out = pred[:, None]
    assert float(model.loss(out, z)) == pytest.approx(0.2)
    assert torch.equal(model.summarize(out)["z_pred"], pred)


def test_registry_errors() -> None:
    assert model_kinds() == ["paper", "xpznet", "xpznet_ensemble"]
    assert all(cls.kind == kind for kind, cls in MODEL_KINDS.items())
    with pytest.raises(ValueError, match="unknown model kind 'nope'"):
        build_model({"kind": "nope"})
    with pytest.raises(ValueError, match="unknown field"):
        build_model({"kind": "paper", "filters": [1]})
    with pytest.raises(TypeError):
        MODEL_KINDS["other"] = PaperCNN  # type: ignore[index]  # the table is read-only
    assert isinstance(build_model(PaperConfig()), RedshiftModel)
    assert config_kind(PaperConfig()) == "paper"
    assert model_config_from_dict({"kind": "paper", "pool": 3}) == PaperConfig(pool=3)
