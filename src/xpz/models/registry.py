"""Model kinds and named presets.

Every model class is registered under a *kind* name with :func:`register`;
:func:`build_model` then rebuilds any model from a config dict carrying that
``kind`` (as stored in model files) by looking the kind up, so adding a kind
never changes the dispatch.  A model module outside this file calls
:func:`register` (and :func:`register_preset`) when imported, and is imported
at the bottom of this file so that loading any model file finds its kind.  A *preset* is a named (model config, training config) pair,
e.g. ``"paper"``: the dissertation's CNN trained as in the dissertation.

>>> model = build_model({"kind": "paper", "dense_units": [32]}, seed=0)
>>> type(model).__name__, model.config.dense_units
('PaperCNN', (32,))
>>> sorted(PRESETS)[:1]
['paper']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch

from xpz.models.base import ModelConfig, RedshiftModel
from xpz.models.paper import PaperCNN, PaperConfig
from xpz.preprocess import Scaling
from xpz.training.config import TrainConfig

__all__ = [
    "PRESETS",
    "Preset",
    "build_model",
    "config_kind",
    "get_preset",
    "model_config_from_dict",
    "model_kinds",
    "register",
    "register_preset",
]

_KINDS: dict[str, type[RedshiftModel]] = {}


def register(kind: str, cls: type[RedshiftModel]) -> None:
    """Make ``cls`` buildable by :func:`build_model` under the name ``kind``."""
    if kind in _KINDS and _KINDS[kind] is not cls:
        raise ValueError(f"model kind {kind!r} is already registered to {_KINDS[kind].__name__}")
    if cls.kind != kind:
        raise ValueError(f"{cls.__name__}.kind is {cls.kind!r}, not {kind!r}")
    _KINDS[kind] = cls


def model_kinds() -> list[str]:
    """Names of the registered model kinds."""
    return sorted(_KINDS)


def config_kind(config: ModelConfig) -> str:
    """The registered kind whose model is built from ``config``'s class."""
    for kind, cls in _KINDS.items():
        if type(config) is cls.config_class:
            return kind
    raise ValueError(f"no registered model kind uses {type(config).__name__}")


def model_config_from_dict(data: Mapping[str, Any]) -> ModelConfig:
    """The config object of a dict with ``kind`` (as model files and recipes store it)."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(model_kinds())}")
    return _KINDS[kind].config_class.from_dict(fields)


def build_model(
    config: ModelConfig | Mapping[str, Any], *, seed: int | None = None
) -> RedshiftModel:
    """A freshly initialised model from a config object or a dict with ``kind``.

    With ``seed``, the initial weights depend only on the seed (torch's global
    random state is left as it was).
    """
    model_config = config if isinstance(config, ModelConfig) else model_config_from_dict(config)
    cls = _KINDS[config_kind(model_config)]
    if seed is None:
        return cls(model_config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(model_config)


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named model + training recipe, with the input scaling it was designed for."""

    name: str
    model: ModelConfig
    training: TrainConfig
    description: str
    #: Scaler spec: ``{"scaling": <xpz.preprocess.Scaling value>, **constructor options}``.
    scaling: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {"scaling": "minmax"})


PRESETS: dict[str, Preset] = {}


def register_preset(preset: Preset) -> None:
    """Add ``preset`` to :data:`PRESETS` (names are unique)."""
    if preset.name in PRESETS:
        raise ValueError(f"preset {preset.name!r} already exists")
    config_kind(preset.model)  # its model kind must be registered
    PRESETS[preset.name] = preset


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or a ValueError listing the known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


register(PaperCNN.kind, PaperCNN)
register_preset(
    Preset(
        name="paper",
        model=PaperConfig(),
        training=TrainConfig(),
        description=(
            "the dissertation's Table 2 CNN on min-max scaled fluxes; Adamax lr 1e-3, "
            "Huber loss, batch 16, 20 epochs"
        ),
        scaling={"scaling": Scaling.MINMAX.value},
    )
)

# Model kinds defined in their own modules register themselves (and their presets)
# on import; importing them here means that loading any model file finds its kind.
import xpz.models.xpznet  # noqa: E402, F401
