"""Fine-tuning (``run_training(init=...)``, ``xpz train --init MODEL``) on small simulated sets."""

from __future__ import annotations

import functools
import json

import pytest
import torch
from safetensors.torch import load_file

from xpz.errors import InputError
from xpz.models.modelfile import MODEL_JSON, WEIGHTS_FILE, load_model
from xpz.models.paper import PaperConfig
from xpz.models.xpznet import XpzNetConfig
from xpz.pipeline import RECIPE_FILE, run_training
from xpz.recipes import Recipe, prepare_training_data
from xpz.training.config import Schedule, TrainConfig
from xpz.training.loop import HISTORY_FILE, MODEL_DIR

TINY_XPZ = XpzNetConfig(conv_filters=(4, 8), conv_kernels=(5, 3), hidden_units=16, n_bins=30)
SCALING = {"scaling": "per_spectrum", "norm": "l2", "minmax": False}


def tiny_recipe(epochs: int = 2, model=TINY_XPZ) -> Recipe:
    training = TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, progress=False)
    return Recipe(model=model, training=training, scaling=SCALING, name="tiny-xpz")


@pytest.fixture(scope="module")
def first_sim():
    from xpz.simulate import simulate

    return simulate(300, seed=3)


@pytest.fixture(scope="module")
def new_sim():
    from xpz.simulate import simulate

    return simulate(300, seed=8)


@pytest.fixture(scope="module")
def initial(tmp_path_factory, first_sim):
    run = tmp_path_factory.mktemp("initial") / "run"
    return run_training(first_sim, tiny_recipe(), run).model_dir


def model_json(model_dir) -> dict:
    return json.loads((model_dir / MODEL_JSON).read_text())


def test_keeps_the_scaler_recalibrates_and_records_provenance(tmp_path, initial, new_sim):
    result = run_training(new_sim, tiny_recipe(epochs=1), tmp_path / "ft", init=initial)
    before, after = model_json(initial), model_json(result.model_dir)
    assert after["scaler"] == before["scaler"]  # not refitted on the new data
    record = after["metadata"]["init"]
    assert record == {
        "path": str(initial.resolve()),
        "kind": "xpznet",
        "integrity_sha256": before["integrity"]["sha256"],
        "weights_sha256": before["weights"]["sha256"],
        "freeze": 0,
    }
    settings = json.loads((tmp_path / "ft" / RECIPE_FILE).read_text())
    assert settings["init"] == record
    # recalibrated on the new validation split: refitting there gives the stored temperature
    fitted = after["metadata"]["calibration"]["temperature"]
    assert fitted != before["metadata"]["calibration"]["temperature"]
    loaded = load_model(result.model_dir)
    assert float(loaded.model.temperature) == pytest.approx(fitted)
    _, data = prepare_training_data(new_sim, tiny_recipe(), scaler=loaded.scaler)
    again = loaded.model.calibrate(data.x_validation, data.z_validation)["temperature"]
    assert again == pytest.approx(fitted, rel=1e-5)


def test_starts_from_the_initial_weights(tmp_path, initial, new_sim):
    """One epoch at a tiny learning rate stays near the initial weights; a fresh start does not."""
    recipe = tiny_recipe(epochs=1)
    recipe = Recipe(recipe.model, recipe.training.replace(lr=1e-9), SCALING)
    tuned = run_training(new_sim, recipe, tmp_path / "ft", init=initial).model_dir
    fresh = run_training(new_sim, recipe, tmp_path / "fresh").model_dir
    start = load_file(str(initial / WEIGHTS_FILE))["head.3.weight"]
    torch.testing.assert_close(load_file(str(tuned / WEIGHTS_FILE))["head.3.weight"], start)
    assert not torch.allclose(load_file(str(fresh / WEIGHTS_FILE))["head.3.weight"], start)


def test_refuses_a_different_architecture(tmp_path, initial, new_sim):
    other = tiny_recipe(model=XpzNetConfig(conv_filters=(4, 16), conv_kernels=(5, 3), n_bins=30))
    with pytest.raises(InputError, match=r"different architecture \(conv_filters.*hidden_units"):
        run_training(new_sim, other, tmp_path / "a", init=initial)
    paper = tiny_recipe(model=PaperConfig(conv_filters=(8,), conv_kernels=(5,), dense_units=(16,)))
    with pytest.raises(InputError, match="initial model is a xpznet model"):
        run_training(new_sim, paper, tmp_path / "b", init=initial)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_frozen_blocks_do_not_change(tmp_path, initial, new_sim):
    result = run_training(new_sim, tiny_recipe(epochs=2), tmp_path / "ft", init=initial, freeze=1)
    before = load_file(str(initial / WEIGHTS_FILE))
    after = load_file(str(result.model_dir / WEIGHTS_FILE))
    frozen = [k for k in before if k.startswith(("features.0.", "features.1."))]
    assert any("running_mean" in k for k in frozen)  # BatchNorm statistics stay too
    for name in frozen:
        assert torch.equal(before[name], after[name]), name
    for name in ("features.2.0.weight", "features.2.1.running_mean", "head.0.weight"):
        assert not torch.equal(before[name], after[name]), name
    assert model_json(result.model_dir)["metadata"]["init"]["freeze"] == 1
    with pytest.raises(InputError, match="cannot freeze 3 convolution block.*has 2"):
        run_training(new_sim, tiny_recipe(), tmp_path / "too_many", init=initial, freeze=3)
    with pytest.raises(InputError, match="needs an initial model"):
        run_training(new_sim, tiny_recipe(), tmp_path / "no_init", freeze=1)


class Interrupt:
    """Raises KeyboardInterrupt after a given epoch, like Ctrl-C."""

    def __init__(self, after: int) -> None:
        self.after = after

    def on_epoch_end(self, epoch: int, metrics) -> bool:
        if epoch == self.after:
            raise KeyboardInterrupt
        return False


def test_cli_resumes_an_interrupted_fine_tuning(tmp_path, initial, new_sim, monkeypatch, capsys):
    import xpz.training
    from xpz.cli import main
    from xpz.io.tables import write_spectra

    data = str(write_spectra(new_sim, tmp_path / "new.parquet"))
    config = str(tiny_recipe(epochs=3).save(tmp_path / "recipe.json"))
    args = ["train", data, "--config", config, "--init", str(initial), "--freeze", "1"]
    assert main([*args, "-o", str(tmp_path / "whole")]) == 0
    real_train = xpz.training.train
    with monkeypatch.context() as patch:
        patch.setattr(
            xpz.training, "train", functools.partial(real_train, callbacks=[Interrupt(2)])
        )
        assert main([*args, "-o", str(tmp_path / "cut")]) == 130  # as after Ctrl-C
    assert len((tmp_path / "cut" / HISTORY_FILE).read_text().splitlines()) == 3  # header + 2
    assert main([*args, "-o", str(tmp_path / "cut"), "--resume"]) == 0
    whole = load_file(str(tmp_path / "whole" / MODEL_DIR / WEIGHTS_FILE))
    resumed = load_file(str(tmp_path / "cut" / MODEL_DIR / WEIGHTS_FILE))
    assert whole.keys() == resumed.keys()
    for name in whole:  # the checkpoint's weights, not the initial model's again
        assert torch.equal(whole[name], resumed[name]), name
    meta = model_json(tmp_path / "cut" / MODEL_DIR)["metadata"]
    assert meta["init"]["path"] == str(initial.resolve()) and meta["init"]["freeze"] == 1
    capsys.readouterr()
    for changed in (args[:-1] + ["2"], args[:4]):  # another --freeze; no --init
        assert main([*changed, "-o", str(tmp_path / "cut"), "--resume"]) == 2
        assert "resume it with the same --init and --freeze" in capsys.readouterr().err


def test_cli_default_xpz_model_fine_tunes_with_its_own_schedule(tmp_path, first_sim, new_sim):
    from xpz.cli import main
    from xpz.io.tables import write_spectra

    first = str(write_spectra(first_sim, tmp_path / "first.parquet"))
    new = str(write_spectra(new_sim, tmp_path / "new.parquet"))
    base = tmp_path / "base"
    assert main(["train", first, "-o", str(base), "--epochs", "2", "--no-progress"]) == 0
    out = tmp_path / "ft"
    assert (
        main(["train", new, "-o", str(out), "--init", str(base / MODEL_DIR), "--freeze", "2"]) == 0
    )
    info = model_json(out / MODEL_DIR)
    assert info["model"] == model_json(base / MODEL_DIR)["model"]
    training = TrainConfig.from_dict(info["metadata"]["training"])
    assert training.epochs == 1 and training.schedule is Schedule.COSINE
    assert training.lr == pytest.approx(3e-4)  # the xpz preset's 3e-3 / 10
    assert info["metadata"]["init"]["freeze"] == 2


def test_cli_paper_model_and_one_line_refusals(tmp_path, first_sim, new_sim, capsys):
    from xpz.cli import main
    from xpz.io.tables import write_spectra

    first = str(write_spectra(first_sim, tmp_path / "first.parquet"))
    new = str(write_spectra(new_sim, tmp_path / "new.parquet"))
    paper = Recipe(
        PaperConfig(conv_filters=(8, 8), conv_kernels=(5, 3), dense_units=(16,)),
        TrainConfig(epochs=2, batch_size=64, progress=False),
        name="tiny-paper",
    )
    config = str(paper.save(tmp_path / "paper.json"))
    assert main(["train", first, "-o", str(tmp_path / "base"), "--config", config]) == 0
    model = str(tmp_path / "base" / MODEL_DIR)
    assert main(["train", new, "-o", str(tmp_path / "ft"), "--init", model, "--freeze", "1"]) == 0
    info = model_json(tmp_path / "ft" / MODEL_DIR)
    assert info["metadata"]["init"]["kind"] == "paper"
    assert info["scaler"] == model_json(tmp_path / "base" / MODEL_DIR)["scaler"]
    capsys.readouterr()
    for extra, message in (
        (["--preset", "xpz"], "initial model is a paper model"),
        (["--freeze", "3"], "cannot freeze 3 convolution block(s): this paper model has 2"),
    ):
        assert main(["train", new, "-o", str(tmp_path / "bad"), "--init", model, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert main(["train", new, "-o", str(tmp_path / "bad"), "--freeze", "1"]) == 2
    assert "--freeze needs --init" in capsys.readouterr().err
