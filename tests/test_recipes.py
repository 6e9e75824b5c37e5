"""Recipes (xpz.recipes): the presets, JSON round trip, and the shared split -> scale -> tensors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xpz.models.ensemble import XpzEnsemble
from xpz.models.paper import PaperConfig
from xpz.models.registry import build_model
from xpz.models.xpznet import XpzNet
from xpz.preprocess import make_scaler
from xpz.recipes import PRESETS, Recipe, get_preset, prepare_training_data, xpz_recipe
from xpz.training.config import TrainConfig


@pytest.fixture
def tiny_recipe() -> Recipe:
    return Recipe(
        model=PaperConfig(conv_filters=(8,), conv_kernels=(5,), dense_units=(16,)),
        training=TrainConfig(epochs=2, batch_size=64, progress=False),
        name="tiny",
    )


def test_recipe_round_trip(tmp_path, tiny_recipe) -> None:
    path = tiny_recipe.save(tmp_path / "recipe.json")
    again = Recipe.load(path)
    assert again == tiny_recipe
    assert json.loads(path.read_text())["model"]["kind"] == "paper"
    assert Recipe.from_preset("paper").model == PaperConfig()


def test_bad_recipe_file_names_the_file(tmp_path) -> None:
    from xpz.errors import InputError

    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"kind": "nope"}}')
    with pytest.raises(InputError, match="bad.json.*unknown model kind"):
        Recipe.load(bad)


def test_presets() -> None:
    paper = get_preset("paper")
    assert paper is PRESETS["paper"]
    assert paper.model == PaperConfig() and paper.training == TrainConfig()
    assert paper.scaling == {"scaling": "minmax"}
    with pytest.raises(ValueError, match="known presets: paper, xpz"):
        get_preset("missing")
    from_preset = Recipe.from_preset("paper")
    assert from_preset == paper and from_preset.scaling is not paper.scaling
    assert Recipe.from_dict(paper.to_dict()) == paper  # the description is not stored


def test_xpz_preset() -> None:
    preset = xpz_recipe()
    assert preset.name == "xpz" and preset == get_preset("xpz")
    assert isinstance(build_model(preset.model, seed=0), XpzEnsemble)
    assert isinstance(build_model(xpz_recipe(members=1).model, seed=0), XpzNet)
    assert preset.model.input_channels == 1 and preset.training.batch_size == 256
    scaler = make_scaler(**preset.scaling)
    assert scaler.to_dict() == {"scaling": "per_spectrum", "norm": "l2", "minmax": None}


def test_prepare_training_data_fits_the_scaler_on_the_training_rows(tiny_recipe) -> None:
    from xpz.spectra import Spectra

    rng = np.random.default_rng(0)
    spectra = Spectra(flux=rng.uniform(1, 9, (100, 186)), z=np.linspace(0, 0.5, 100))
    split, data = prepare_training_data(spectra, tiny_recipe, split_seed=2, max_train_rows=20)
    assert len(split.train) == 20 and len(data.z_train) == 20
    assert data.provenance["n_train"] == 20 and len(split.test) == 10
    expected = tiny_recipe.make_scaler().fit(spectra.flux[split.train])
    assert data.scaler.to_dict() == expected.to_dict()
    np.testing.assert_array_equal(
        data.z_validation.numpy(), spectra.z[split.validation].astype(np.float32)
    )
