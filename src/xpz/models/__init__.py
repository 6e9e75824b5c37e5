"""Redshift networks: the :class:`RedshiftModel` contract and its implementations.

The table of model kinds is :mod:`xpz.models.registry` (``build_model``), the
model file format :mod:`xpz.models.modelfile` (``save_model``, ``load_model``);
named recipes (model + training + scaling) are in :mod:`xpz.recipes`.
"""

from xpz.models.base import Activation, LossKind, ModelConfig, RedshiftModel
from xpz.models.paper import ConvImpl, PaperCNN, PaperConfig

__all__ = [
    "Activation",
    "ConvImpl",
    "LossKind",
    "ModelConfig",
    "PaperCNN",
    "PaperConfig",
    "RedshiftModel",
]
