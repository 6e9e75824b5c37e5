"""Frozen, validated configuration dataclasses that round-trip through JSON.

:class:`JsonConfig` is the base of every config in xpz (model configs,
:class:`~xpz.training.config.TrainConfig`, the search space); it needs no torch.

>>> import dataclasses
>>> @dataclasses.dataclass(frozen=True)
... class Example(JsonConfig):
...     sizes: tuple[int, ...] = (1, 2)
...     rate: float = 1.0
>>> Example.from_dict({"sizes": [3], "rate": 2}).sizes
(3,)
>>> Example().to_dict()
{'sizes': [1, 2], 'rate': 1.0}
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, Self

__all__ = ["JsonConfig"]


def _to_json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _from_json(hint: Any, value: Any) -> Any:
    """Convert a JSON value back to the type ``hint`` (enums, tuples, optionals)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _from_json(options[0], value)
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_from_json(item, v) for v in value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if isinstance(hint, type) and issubclass(hint, float):
        return float(value)
    return value


@dataclasses.dataclass(frozen=True)
class JsonConfig:
    """Base of frozen config dataclasses that round-trip through JSON.

    Fields may be numbers, strings, bools, enums, tuples of those, or None.
    Subclasses validate themselves in ``__post_init__``.
    """

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (enums by value, tuples as lists)."""
        return _to_json(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error."""
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
        return cls(**{k: _from_json(hints[k], v) for k, v in data.items()})

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
