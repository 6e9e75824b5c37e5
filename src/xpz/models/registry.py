"""Model kinds: the explicit table from a *kind* name to its model class.

:func:`build_model` rebuilds any model from a config dict carrying ``kind``
(as model files and recipes store it) by looking the kind up in
:data:`MODEL_KINDS`; a new kind is one more entry there.  Named recipes (model
+ training + scaling, e.g. ``"paper"``) live in :mod:`xpz.recipes`.

>>> model = build_model({"kind": "paper", "dense_units": [32]}, seed=0)
>>> type(model).__name__, model.config.dense_units
('PaperCNN', (32,))
>>> model_kinds()
['paper', 'xpznet', 'xpznet_ensemble']
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch

from xpz.models.base import ModelConfig, RedshiftModel
from xpz.models.ensemble import XpzEnsemble
from xpz.models.paper import PaperCNN
from xpz.models.xpznet import XpzNet

__all__ = [
    "MODEL_KINDS",
    "build_model",
    "config_kind",
    "model_config_from_dict",
    "model_kinds",
]

#: Every model class, by the ``kind`` name stored in model files.
MODEL_KINDS: Mapping[str, type[RedshiftModel]] = MappingProxyType(
    {cls.kind: cls for cls in (PaperCNN, XpzNet, XpzEnsemble)}
)


def model_kinds() -> list[str]:
    """Names of the model kinds."""
    return sorted(MODEL_KINDS)


def config_kind(config: ModelConfig) -> str:
    """The kind whose model is built from ``config``'s class."""
    for kind, cls in MODEL_KINDS.items():
        if type(config) is cls.config_class:
            return kind
    raise ValueError(f"no model kind uses {type(config).__name__}")


def model_config_from_dict(data: Mapping[str, Any]) -> ModelConfig:
    """The config object of a dict with ``kind`` (as model files and recipes store it)."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(model_kinds())}")
    return MODEL_KINDS[kind].config_class.from_dict(fields)


def build_model(
    config: ModelConfig | Mapping[str, Any], *, seed: int | None = None
) -> RedshiftModel:
    """A freshly initialised model from a config object or a dict with ``kind``.

    With ``seed``, the initial weights depend only on the seed (torch's global
    random state is left as it was).
    """
    model_config = config if isinstance(config, ModelConfig) else model_config_from_dict(config)
    cls = MODEL_KINDS[config_kind(model_config)]
    if seed is None:
        return cls(model_config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(model_config)
