"""Training: :func:`train`, :class:`TrainConfig`, the training data and resumable state.

Model files belong to :mod:`xpz.models.modelfile`; :func:`load_model` is
re-exported here because ``xpz.training.load_model`` is documented.
"""

from xpz.models.modelfile import load_model
from xpz.training.config import Optimizer, Schedule, TrainConfig
from xpz.training.data import TrainingData, make_training_data
from xpz.training.loop import EpochCallback, EpochMetrics, StopReason, TrainResult, train

__all__ = [
    "EpochCallback",
    "EpochMetrics",
    "Optimizer",
    "Schedule",
    "StopReason",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "load_model",
    "make_training_data",
    "train",
]
