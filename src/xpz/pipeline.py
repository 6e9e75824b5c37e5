"""The main job, end to end: data -> split -> scaler -> model -> train -> test -> report.

``read | simulate -> Spectra -> scaler.fit(train) -> model -> train ->
model file -> predict(test) -> evaluate -> report``

A :class:`~xpz.recipes.Recipe` says *what* to train (model config, training
config, input scaling); see :mod:`xpz.recipes` for the presets.

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
from xpz.recipes import Recipe, prepare_training_data
from xpz.spectra import Spectra

__all__ = ["RunResult", "evaluate_model", "run_training"]


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
    from xpz.evaluation.report import write_report

    quantiles = {k: v for k, v in predictions.items() if k.startswith("z_q")}
    grid = loaded.model.pdf_grid()
    return write_report(
        out_dir,
        z_true=spectra.require_z(),
        z_pred=predictions["z_pred"],
        history=history,
        spectra=spectra,
        quantiles=quantiles or None,
        pdf=predictions.get("pdf"),
        pdf_grid=grid if "pdf" in predictions else None,
        title=title,
        config=config,
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
    from xpz.models.modelfile import load_model
    from xpz.models.registry import build_model
    from xpz.training import train
    from xpz.training.distributed import is_main_process

    run_dir = Path(run_dir)
    provenance = {k: v for k, v in spectra.meta.items() if isinstance(v, str | int | float)}
    split, data = prepare_training_data(
        spectra,
        recipe,
        split_seed=split_seed,
        stratify=stratify,
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
    from xpz.models.modelfile import load_model, save_model

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
    from xpz.models.modelfile import load_model

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
