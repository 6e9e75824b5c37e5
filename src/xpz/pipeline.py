"""The main job, end to end: data -> split -> scaler -> model -> train -> test -> report.

``read | simulate -> Spectra -> scaler.fit(train) -> model -> train ->
model file -> predict(test) -> evaluate -> report``

A :class:`Recipe` says *what* to train (model config, training config, input
scaling); presets (``paper``, ``xpz``) are recipes, and ``xpz tune`` writes the
best recipe it found as a JSON file that ``xpz train --config`` reads back.

A run directory holds::

    recipe.json              the recipe and split settings of the run
    history.csv              per-epoch losses and MAE
    checkpoint/ best/        training state (resume) and best weights so far
    model/                   the final model (safetensors + JSON)
    test_predictions.parquet source_id, z, z_pred (+ uncertainties), flag
    report/                  report.md, report.html, metrics.json, per_bin.csv, figures/
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xpz.io.atomic import atomic_path
from xpz.models.base import ModelConfig
from xpz.spectra import Spectra
from xpz.training.config import TrainConfig

__all__ = ["Recipe", "RunResult", "evaluate_model", "run_training"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What to train: a model config, a training config and the input scaling."""

    model: ModelConfig
    training: TrainConfig
    #: Scaler spec: ``{"scaling": <xpz.preprocess.Scaling value>, **constructor options}``.
    scaling: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {"scaling": "minmax"})
    name: str = "custom"

    @classmethod
    def from_preset(cls, name: str) -> Recipe:
        """The recipe of preset ``name`` (``paper`` or ``xpz``)."""
        from xpz.models.registry import get_preset

        preset = get_preset(name)
        return cls(preset.model, preset.training, dict(preset.scaling), name=name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the model config includes its ``kind``)."""
        from xpz.models.registry import config_kind

        return {
            "name": self.name,
            "model": {"kind": config_kind(self.model), **self.model.to_dict()},
            "training": self.training.to_dict(),
            "scaling": dict(self.scaling),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Inverse of :meth:`to_dict`."""
        from xpz.models.registry import model_config_from_dict

        unknown = set(data) - {"name", "model", "training", "scaling"}
        if unknown:
            raise ValueError(f"unknown recipe field(s): {sorted(unknown)}")
        return cls(
            model=model_config_from_dict(data["model"]),
            training=TrainConfig.from_dict(data.get("training", {})),
            scaling=dict(data.get("scaling", {"scaling": "minmax"})),
            name=str(data.get("name", "custom")),
        )

    def save(self, path: str | Path) -> Path:
        """Write the recipe as JSON (atomically)."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Read a recipe written by :meth:`save` (or by ``xpz tune``)."""
        from xpz.errors import InputError

        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"not a valid xpz recipe: {err}", path=path) from err

    def make_scaler(self):  # -> xpz.preprocess.Scaler
        """A fresh, unfitted scaler as :attr:`scaling` says."""
        from xpz.preprocess import make_scaler

        options = {k: v for k, v in self.scaling.items() if k != "scaling"}
        return make_scaler(self.scaling["scaling"], **options)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """Where a training run put its products, and its test metrics.

    Under ``torchrun`` only process 0 evaluates; the others get empty ``metrics``.
    """

    run_dir: Path
    model_dir: Path
    report: Path
    metrics: Mapping[str, float]


def _test_predictions(loaded, spectra: Spectra) -> dict[str, np.ndarray]:
    from xpz.inference import predict_spectra

    estimates, flag = predict_spectra(loaded, spectra, keep_pdf=True)
    return {**estimates, "flag": flag}


def _write_predictions(path: Path, spectra: Spectra, predictions: Mapping[str, np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"source_id": spectra.source_id, "z": spectra.require_z()}
    columns |= {k: v for k, v in predictions.items() if k != "pdf"}
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(columns), tmp)


def _report(
    out_dir: Path,
    spectra: Spectra,
    predictions: Mapping[str, np.ndarray],
    loaded,
    *,
    title: str,
    history=None,
    config: Mapping[str, Any] | None = None,
) -> Path:
    from xpz.evaluation.evaluate import evaluate
    from xpz.evaluation.report import write_report

    quantiles = {k: v for k, v in predictions.items() if k.startswith("z_q")}
    grid = loaded.model.pdf_grid()
    result = evaluate(
        spectra.require_z(),
        predictions["z_pred"],
        quantiles=quantiles or None,
        pdf=predictions.get("pdf"),
        pdf_grid=grid if "pdf" in predictions else None,
        g_mag=spectra.phot_g_mean_mag,
    )
    return write_report(
        out_dir, result, title=title, history=history, spectra=spectra, config=config
    )


def run_training(
    spectra: Spectra,
    recipe: Recipe,
    run_dir: str | Path,
    *,
    split_seed: int = 0,
    stratify: bool = False,
    resume: bool = False,
) -> RunResult:
    """Train ``recipe`` on ``spectra`` (63/27/10 split), test it and write the report."""
    from xpz.models.registry import build_model
    from xpz.split import split_indices
    from xpz.training import make_training_data, train
    from xpz.training.checkpoint import load_model
    from xpz.training.distributed import is_main_process

    run_dir = Path(run_dir)
    z = spectra.require_z("training spectra")
    split = split_indices(len(spectra), seed=split_seed, stratify_z=z if stratify else None)
    scaler = recipe.make_scaler().fit(spectra.flux[split.train])
    provenance = {k: v for k, v in spectra.meta.items() if isinstance(v, str | int | float)}
    data = make_training_data(
        spectra,
        split,
        scaler,
        input_channels=recipe.model.input_channels,
        provenance={**provenance, "split_seed": split_seed, "stratified": stratify},
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = {"recipe": recipe.to_dict(), "split_seed": split_seed, "stratify": stratify}
    with atomic_path(run_dir / "recipe.json") as tmp:
        tmp.write_text(json.dumps(settings, indent=2) + "\n")
    model = build_model(recipe.model, seed=recipe.training.seed)
    result = train(model, data, recipe.training, run_dir, resume=resume)
    if not is_main_process():  # under torchrun, process 0 alone tests and reports
        return RunResult(run_dir, result.model_dir, run_dir / "report" / "report.html", {})
    _calibrate(result, data)

    loaded = load_model(result.model_dir)
    test = spectra[split.test]
    predictions = _test_predictions(loaded, test)
    _write_predictions(run_dir / "test_predictions.parquet", test, predictions)
    history = _read_history(run_dir / "history.csv")
    report = _report(
        run_dir / "report",
        test,
        predictions,
        loaded,
        title=f"Recipe {recipe.name!r}: test set ({len(test)} spectra)",
        history=history,
        config=settings,
    )
    metrics = json.loads((report.parent / "metrics.json").read_text())["metrics"]
    return RunResult(run_dir, result.model_dir, report, metrics)


def _calibrate(result, data) -> None:
    """Post-hoc calibration on the validation set, re-saving the final model if anything was fitted."""
    from xpz.training.checkpoint import load_model, save_model

    fitted = result.model.calibrate(data.x_validation, data.z_validation)
    if fitted:
        saved = load_model(result.model_dir)
        metadata = {**saved.metadata, "calibration": fitted}
        save_model(result.model_dir, result.model, saved.scaler, metadata=metadata)


def _read_history(path: Path):  # -> astropy Table
    from astropy.table import Table

    return Table.read(path, format="ascii.csv")


def evaluate_model(model: str | Path, spectra: Spectra, out_dir: str | Path) -> Path:
    """Report of ``model`` on labelled ``spectra`` (every row), as ``xpz train`` writes it."""
    from xpz.training.checkpoint import load_model

    loaded = load_model(model)
    spectra.require_z("evaluation spectra")
    predictions = _test_predictions(loaded, spectra)
    out_dir = Path(out_dir)
    _write_predictions(out_dir / "predictions.parquet", spectra, predictions)
    return _report(
        out_dir,
        spectra,
        predictions,
        loaded,
        title=f"xpz evaluate: {Path(model).name} on {len(spectra)} spectra",
        config={"model": str(model), "data": dict(spectra.meta)},
    )
