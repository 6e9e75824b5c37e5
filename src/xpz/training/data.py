"""What :func:`xpz.training.loop.train` learns from: scaled inputs and redshifts.

>>> import numpy as np
>>> from xpz.preprocess import MinMaxScaler
>>> from xpz.spectra import Spectra
>>> from xpz.split import split_indices
>>> spectra = Spectra(flux=np.random.default_rng(0).uniform(1, 9, (10, 186)), z=np.linspace(0, 0.5, 10))
>>> split = split_indices(10, seed=0)
>>> scaler = MinMaxScaler().fit(spectra.flux[split.train])
>>> data = make_training_data(spectra, split, scaler)
>>> tuple(data.x_train.shape), tuple(data.z_validation.shape)
((6, 1, 186), (3,))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from xpz.errors import InputError
from xpz.models.modelfile import model_inputs
from xpz.preprocess import Scaler
from xpz.spectra import Spectra
from xpz.split import Split

__all__ = ["TrainingData", "make_training_data"]


@dataclasses.dataclass(frozen=True, eq=False)
class TrainingData:
    """Scaled network inputs (N, C, pixels) and redshifts (N,), float32, for training and validation.

    ``scaler`` is the fitted scaler that produced the inputs (it is saved with
    the model); ``provenance`` describes the data (stored in the model file).
    """

    x_train: Tensor
    z_train: Tensor
    x_validation: Tensor
    z_validation: Tensor
    scaler: Scaler
    provenance: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in ("train", "validation"):
            x, z = getattr(self, f"x_{part}"), getattr(self, f"z_{part}")
            if x.dtype != torch.float32 or z.dtype != torch.float32:
                raise TypeError(f"{part} inputs and redshifts must be float32")
            if x.dim() != 3 or z.shape != (x.shape[0],):
                raise ValueError(
                    f"{part}: need x (N, C, pixels) and z (N,), got {x.shape}, {z.shape}"
                )
            if len(z) == 0:
                raise ValueError(f"{part} set is empty")

    @property
    def input_channels(self) -> int:
        return int(self.x_train.shape[1])


def make_training_data(
    spectra: Spectra,
    split: Split,
    scaler: Scaler,
    *,
    input_channels: int = 1,
    provenance: Mapping[str, Any] | None = None,
) -> TrainingData:
    """Scale the train and validation rows of ``spectra`` with the fitted ``scaler``.

    Rows whose scaled inputs are not finite are an :class:`InputError` naming them.
    """
    z = spectra.require_z("training spectra")
    parts: list[torch.Tensor] = []
    bad_rows, bad_columns = [], []
    for rows in (split.train, split.validation):
        errors = None if spectra.flux_error is None else spectra.flux_error[rows]
        x = model_inputs(scaler, spectra.flux[rows], errors, input_channels)
        bad_row, bad_column = np.nonzero(~np.isfinite(x).all(axis=1))
        bad_rows.append(rows[bad_row])
        bad_columns.append(bad_column)
        parts += [torch.from_numpy(x), torch.from_numpy(z[rows].astype(np.float32))]
    bad = np.concatenate(bad_rows)
    if bad.size:
        raise InputError(
            "flux (or its error) is not finite after scaling; drop or repair these spectra",
            path=spectra.meta.get("path"),
            rows=np.unique(bad).tolist(),
            column=f"flux_{np.concatenate(bad_columns).min()}",
        )
    info = {
        "n_train": len(split.train),
        "n_validation": len(split.validation),
        "n_test": len(split.test),
    }
    info |= dict(provenance or {})
    x_train, z_train, x_validation, z_validation = parts
    return TrainingData(x_train, z_train, x_validation, z_validation, scaler, info)
