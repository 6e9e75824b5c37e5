"""Training and model files: :func:`train`, :class:`TrainConfig`, :func:`save_model` / :func:`load_model`."""

from xpz.training.checkpoint import (
    LoadedModel,
    ModelFileError,
    load_model,
    predict_batches,
    save_model,
)
from xpz.training.config import Optimizer, Schedule, TrainConfig
from xpz.training.data import TrainingData, make_training_data
from xpz.training.loop import EpochCallback, EpochMetrics, StopReason, TrainResult, train

__all__ = [
    "EpochCallback",
    "EpochMetrics",
    "LoadedModel",
    "ModelFileError",
    "Optimizer",
    "Schedule",
    "StopReason",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "load_model",
    "make_training_data",
    "predict_batches",
    "save_model",
    "train",
]
