"""The main job, end to end: data -> split -> scaler -> model -> train -> test -> report.

``read | simulate -> Spectra -> scaler.fit(train) -> model -> train ->
calibrate -> model file -> predict(test) -> evaluate -> report``

Results pass from step to step as values: the trained model is calibrated in
memory before its one save, and the test predictions and the report use that
model and the training history in memory, not what was written to disk.

A :class:`~xpz.recipes.Recipe` says *what* to train (model config, training
config, input scaling); see :mod:`xpz.recipes` for the presets.

A run directory holds (names: :data:`RECIPE_FILE`, :data:`TEST_PREDICTIONS_FILE`,
:data:`REPORT_DIR` here, the training's in :mod:`xpz.training.loop`)::

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xpz.errors import InputError, XpzError
from xpz.io.atomic import atomic_path
from xpz.models.base import RedshiftModel
from xpz.models.modelfile import LoadedModel, add_metadata
from xpz.recipes import Recipe, prepare_training_data
from xpz.spectra import Spectra
from xpz.training.data import TrainingData
from xpz.training.epoch import EpochMetrics
from xpz.training.loop import Finalizer

if TYPE_CHECKING:
    from xpz.evaluation.evaluate import Evaluation

__all__ = [
    "PREDICTIONS_FILE",
    "RECIPE_FILE",
    "REPORT_DIR",
    "TEST_PREDICTIONS_FILE",
    "RunResult",
    "evaluate_model",
    "run_training",
]

#: The recipe and split settings of a run.
RECIPE_FILE = "recipe.json"
#: Predictions for the test split of a run.
TEST_PREDICTIONS_FILE = "test_predictions.parquet"
#: The report of a run (``xpz evaluate`` writes into its own folder).
REPORT_DIR = "report"
#: The predictions ``xpz evaluate`` writes beside its report.
PREDICTIONS_FILE = "predictions.parquet"


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
    extra_metrics: Mapping[str, float] | None = None,
) -> tuple[Path, Evaluation]:
    """Evaluate the predictions against the spectra's redshifts and write the report.

    The report's extra metrics include :func:`flag_rates` of the predictions.
    """
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
    html = write_report(
        out_dir,
        result,
        title=title,
        history=history,
        spectra=spectra,
        config=config,
        extra_metrics={**flag_rates(predictions), **(extra_metrics or {})},
    )
    return html, result


def flag_rates(predictions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Share of the rows flagged ``OUT_OF_DISTRIBUTION`` (``ood_flag_rate``), if flags are given.

    >>> from xpz.spectra import Flag
    >>> flag_rates({"flag": np.array([0, int(Flag.OUT_OF_DISTRIBUTION), 0, 0], np.uint32)})
    {'ood_flag_rate': 0.25}
    """
    from xpz.spectra import Flag

    if "flag" not in predictions or len(predictions["flag"]) == 0:
        return {}
    flagged = (np.asarray(predictions["flag"]) & np.uint32(Flag.OUT_OF_DISTRIBUTION)) != 0
    return {"ood_flag_rate": float(flagged.mean())}


def run_training(
    spectra: Spectra,
    recipe: Recipe,
    run_dir: str | Path,
    *,
    split_seed: int = 0,
    stratify: bool = False,
    resume: bool = False,
    init: str | Path | LoadedModel | None = None,
    freeze: int = 0,
) -> RunResult:
    """Train ``recipe`` on ``spectra`` (63/27/10 split), test it and write the report.

    With ``init`` (a model directory, or a loaded model) the run fine-tunes that
    model: the recipe's model config must be its config, training starts from
    its weights with the first ``freeze`` convolution blocks frozen, the inputs
    are scaled with its scaler, the result is recalibrated on this run's
    validation split, and ``model.json`` records it under ``metadata["init"]``
    (see :mod:`xpz.training.finetune`).  A resumed run continues from its
    checkpoint, not from ``init``.
    """
    from xpz.models.registry import build_model
    from xpz.training import train
    from xpz.training.distributed import is_main_process
    from xpz.training.finetune import (
        check_same_architecture,
        initial_provenance,
        load_initial,
        start_from,
    )

    if freeze and init is None:
        raise InputError("freezing convolution blocks needs an initial model (--init)")
    initial = None if init is None else load_initial(init)
    if initial is not None:
        check_same_architecture(recipe.model, initial)
    run_dir = Path(run_dir)
    provenance = data_provenance(spectra)
    split, data = prepare_training_data(
        spectra,
        recipe,
        split_seed=split_seed,
        stratify=stratify,
        provenance={**provenance, "split_seed": split_seed, "stratified": stratify},
        scaler=None if initial is None else initial.scaler,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = {"recipe": recipe.to_dict(), "split_seed": split_seed, "stratify": stratify}
    model = build_model(recipe.model, seed=recipe.training.seed)
    extra: dict[str, Any] = {}
    if initial is not None:
        extra["init"] = settings["init"] = initial_provenance(initial, freeze)
        start_from(model, initial, freeze)
    _write_settings(run_dir / RECIPE_FILE, settings, resume=resume)
    result = train(
        model,
        data,
        recipe.training,
        run_dir,
        resume=resume,
        finalize=_calibration(data, extra, seed=recipe.training.seed),
    )
    if not is_main_process():  # under torchrun, process 0 alone tests and reports
        return RunResult(run_dir, result.model_dir, run_dir / REPORT_DIR / "report.html", {})
    loaded = LoadedModel(result.model.eval(), data.scaler, result.metadata, result.model_dir)
    test = spectra[split.test]
    predictions = _test_predictions(loaded, test)
    _write_predictions(run_dir / TEST_PREDICTIONS_FILE, test, predictions)
    report, evaluation = _report(
        run_dir / REPORT_DIR,
        test,
        predictions,
        loaded,
        title=f"Recipe {recipe.name!r}: test set ({len(test)} spectra)",
        history=_history_columns(result.history),
        config=settings,
    )
    metrics = {**evaluation.metrics, **flag_rates(predictions)}
    add_metadata(result.model_dir, {"test_metrics": _json_metrics(metrics, len(test))})
    return RunResult(run_dir, result.model_dir, report, metrics)


def data_provenance(spectra: Spectra) -> dict[str, Any]:
    """What the model file records about its training data: the spectra's scalar metadata
    (simulator and its version, seed), the simulator's ``config`` and ``n_spectra``.
    """
    provenance = {k: v for k, v in spectra.meta.items() if isinstance(v, str | int | float)}
    config = spectra.meta.get("config")
    if isinstance(config, Mapping):
        provenance["config"] = json.loads(json.dumps(dict(config), default=str))
    return {**provenance, "n_spectra": len(spectra)}


def _json_metrics(metrics: Mapping[str, Any], n: int) -> dict[str, Any]:
    """The test metrics that are finite numbers, and the test set's size."""
    kept = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    return {"n_test": n, **{k: v for k, v in kept.items() if np.isfinite(v)}}


def _same_start(init: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """What must match between a fine-tuning run and its resumption (not the model's path)."""
    if init is None:
        return None
    return init.get("integrity_sha256"), init.get("weights_sha256"), init.get("freeze")


def _write_settings(path: Path, settings: Mapping[str, Any], *, resume: bool) -> None:
    """Write ``recipe.json``; a resumed run must start from the same initial model (or none)."""
    if resume and path.is_file():
        before = json.loads(path.read_text()).get("init")
        if _same_start(before) != _same_start(settings.get("init")):
            raise XpzError(
                f"cannot resume {path.parent}: it was started from initial model "
                f"{(before or {}).get('path')} with --freeze {(before or {}).get('freeze', 0)}; "
                "resume it with the same --init and --freeze"
            )
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(settings, indent=2) + "\n")


def _calibration(
    data: TrainingData, extra: Mapping[str, Any] | None = None, *, seed: int = 0
) -> Finalizer:
    """Post-hoc calibration of the trained model on the validation set (before its save).

    Then the OOD statistics (:func:`xpz.models.ood.fit_ood`): fitted on a
    sample of the training inputs drawn with ``seed``, their threshold on the
    validation inputs.  ``extra`` joins the model file's metadata with what was fitted.
    """
    from xpz.models.ood import fit_ood

    def calibrate(model: RedshiftModel) -> dict[str, Any]:
        fitted = model.calibrate(data.x_validation, data.z_validation)
        ood = fit_ood(model, data.x_train, data.x_validation, seed=seed)
        return {**(extra or {}), **({"calibration": fitted} if fitted else {}), "ood": ood}

    return calibrate


def _history_columns(history: Sequence[EpochMetrics]) -> dict[str, np.ndarray]:
    """The training history as columns (what ``history.csv`` holds)."""
    names = [f.name for f in dataclasses.fields(EpochMetrics)]
    return {name: np.array([getattr(row, name) for row in history]) for name in names}


def evaluate_model(
    model: str | Path, spectra: Spectra, out_dir: str | Path, *, source: str = "evaluation data"
) -> Path:
    """Report of ``model`` on labelled ``spectra``, as ``xpz train`` writes it.

    The labels must be finite and within :data:`xpz.layout.Z_RANGE`, as for
    training: other rows are refused (:class:`~xpz.errors.InputError` naming
    ``source``, rows and column ``z``) before anything is predicted or written.
    Rows the model gives no estimate for (spectra it cannot read, see the
    flags) are left out of every metric and table alike, and counted in the
    report (``rows_without_estimate``); ``predictions.parquet`` holds every row.
    """
    from xpz.errors import InputError
    from xpz.io.labels import Labels, check_redshifts
    from xpz.models.modelfile import load_model

    check_redshifts(spectra.require_z(source), source=source, use=Labels.EVALUATION)
    loaded = load_model(model)
    predictions = _test_predictions(loaded, spectra)
    estimated = np.isfinite(predictions["z_pred"])
    if not estimated.any():
        raise InputError("the model gives no estimate for any row (see the flags)", path=source)
    kept = {k: np.asarray(v)[estimated] for k, v in predictions.items()}
    out_dir = Path(out_dir)
    report, _ = _report(
        out_dir,
        spectra[np.flatnonzero(estimated)],
        kept,
        loaded,
        title=f"xpz evaluate: {Path(model).name} on {int(estimated.sum())} spectra",
        config={"model": str(model), "data": dict(spectra.meta)},
        extra_metrics={"rows_without_estimate": int((~estimated).sum())},
    )
    _write_predictions(out_dir / PREDICTIONS_FILE, spectra, predictions)
    return report
