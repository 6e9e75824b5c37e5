"""Models shipped with xpz as package data, by name (``xpz predict default ...``).

:func:`resolve_model` maps a name in :data:`SHIPPED_MODELS` to its directory
under ``xpz/data/models/``; any other value is a path, returned as it is.  A
file or folder that exists under the same name as a shipped model wins (a
user's ``./default`` model is not shadowed).

>>> resolve_model("default").name, resolve_model("runs/model").as_posix()
('default', 'runs/model')
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

__all__ = ["SHIPPED_DIR", "ShippedModel", "is_shipped", "resolve_model"]

#: Where the shipped model directories live (package data).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "data" / "models"


class ShippedModel(enum.Enum):
    """The models shipped with xpz."""

    #: xpz's default model (``scripts/train_default_model.py``; ``xpz info default``).
    DEFAULT = "default"

    @property
    def path(self) -> Path:
        """Its model directory."""
        return SHIPPED_DIR / self.value


def is_shipped(model: Any) -> bool:
    """True when ``model`` names a shipped model (and no file of that name exists)."""
    if not isinstance(model, str | os.PathLike):
        return False
    text = os.fspath(model)
    return text in {m.value for m in ShippedModel} and not Path(text).exists()


def resolve_model(model: str | os.PathLike[str]) -> Path:
    """The directory of the shipped model ``model`` names, else ``model`` as a Path."""
    if is_shipped(model):
        return ShippedModel(os.fspath(model)).path
    return Path(model)
