"""Tests of xpz.training.data: building TrainingData from Spectra."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xpz.errors import InputError
from xpz.preprocess import MinMaxScaler
from xpz.spectra import Spectra
from xpz.split import split_indices
from xpz.training.data import TrainingData, make_training_data


@pytest.fixture
def spectra(rng: np.random.Generator) -> Spectra:
    flux = rng.uniform(1.0, 20.0, size=(50, 186))
    return Spectra(
        flux=flux, z=rng.uniform(0, 0.6, 50), flux_error=flux * 0.1, meta={"path": "s.parquet"}
    )


def test_shapes_channels_and_provenance(spectra: Spectra) -> None:
    split = split_indices(50, seed=0, test=0.1, validation=0.2)
    scaler = MinMaxScaler().fit(spectra.flux[split.train])
    data = make_training_data(
        spectra, split, scaler, input_channels=2, provenance={"source": "toy"}
    )
    assert data.x_train.shape == (36, 2, 186) and data.z_validation.shape == (9,)
    assert data.x_train.dtype == torch.float32 and data.input_channels == 2
    assert data.provenance == {"n_train": 36, "n_validation": 9, "n_test": 5, "source": "toy"}
    np.testing.assert_allclose(
        data.x_train[:, 0].numpy(), scaler.transform(spectra.flux[split.train]), rtol=1e-6
    )
    np.testing.assert_allclose(data.z_train.numpy(), spectra.z[split.train].astype(np.float32))


def test_non_finite_rows_are_named(spectra: Spectra) -> None:
    flux = spectra.flux.copy()
    flux[[3, 11], 40] = np.nan
    split = split_indices(50, seed=0, test=0.0, validation=0.5)
    scaler = MinMaxScaler().fit(spectra.flux)
    with pytest.raises(InputError, match=r"s.parquet: column 'flux_40', rows 3, 11"):
        make_training_data(spectra.replace(flux=flux), split, scaler)


def test_validation_of_tensors() -> None:
    x, z = torch.zeros(4, 1, 186), torch.zeros(4)
    with pytest.raises(TypeError, match="float32"):
        TrainingData(x.double(), z, x, z, MinMaxScaler())
    with pytest.raises(ValueError, match="validation set is empty"):
        TrainingData(x, z, x[:0], z[:0], MinMaxScaler())
