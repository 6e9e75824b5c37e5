"""Redshift networks: the :class:`RedshiftModel` contract and its implementations.

Model kinds and named presets live in :mod:`xpz.models.registry`
(``build_model``, ``PRESETS``); it is imported on its own because presets also
carry training settings.
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
