"""Variants of the ``xpz`` preset on the accuracy benchmark's data, judged on the validation set.

Simulates the same data set and split as ``benchmarks/accuracy.py`` (200,000
spectra, ``simulate(seed=2026)``, ``split_indices(seed=0)``), trains the
``xpz`` preset with the given changes to its model config and training config,
calibrates it on the validation set, and prints MAE, sigma_NMAD and the number
of outliers |dz| > 0.15 of the PDF median, mode and mean on the validation and
test sets, beside those of a kNN (k = 10) on the same features.  Choose
between variants on the validation lines; the test set is for the final table.

Run (each variant trains in its own directory under ``--work``; a finished
run there is reused)::

    .venv/bin/python benchmarks/xpz_variants.py flat05 --model '{"prior_flattening": 0.5}'
    .venv/bin/python benchmarks/xpz_variants.py err2 --model '{"input_channels": 2}'
    .venv/bin/python benchmarks/xpz_variants.py e20 --training '{"epochs": 20}'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from xpz.evaluation.calibration import coverage
from xpz.evaluation.metrics import OUTLIER_THRESHOLD, summary
from xpz.models.baselines import KnnBaseline, KnnConfig
from xpz.models.modelfile import model_inputs
from xpz.models.registry import build_model
from xpz.models.xpznet import XpzNet, XpzNetConfig
from xpz.preprocess import make_scaler
from xpz.recipes import xpz_recipe
from xpz.simulate import simulate
from xpz.split import split_indices
from xpz.training import make_training_data, train
from xpz.training.loop import CHECKPOINT_DIR


def network_summaries(model: XpzNet, x: torch.Tensor, batch: int = 4096) -> dict[str, NDArray]:
    frozen = model.for_inference()
    parts: dict[str, list[NDArray]] = {}
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            for name, value in frozen.summarize(frozen(x[start : start + batch])).items():
                parts.setdefault(name, []).append(value.numpy().astype(np.float64))
    return {name: np.concatenate(values) for name, values in parts.items()}


def line(label: str, z_true: NDArray, z_pred: NDArray) -> str:
    row = summary(z_true, z_pred)
    outliers = int(np.sum(np.abs(z_pred - z_true) / (1 + z_true) > OUTLIER_THRESHOLD))
    return (
        f"  {label:12s} MAE {row['mae']:.5f}  sigma_NMAD {row['sigma_nmad']:.5f}  "
        f"outliers >0.15: {outliers} ({outliers / len(z_true):.5f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="name of the variant (its run directory)")
    parser.add_argument("--model", default="{}", help="JSON changes to XpzNetConfig")
    parser.add_argument("--training", default="{}", help="JSON changes to the TrainConfig")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("xpz-variants"))
    args = parser.parse_args()

    spectra = simulate(args.n, seed=2026)
    split = split_indices(args.n, seed=0)
    z = spectra.require_z().astype(np.float64)
    preset = xpz_recipe()
    assert isinstance(preset.model, XpzNetConfig)
    config = dataclasses.replace(preset.model, **json.loads(args.model))
    scaler = make_scaler(**preset.scaling).fit(spectra.flux[split.train])
    data = make_training_data(spectra, split, scaler, input_channels=config.input_channels)
    training = preset.training.replace(
        num_threads=args.threads, progress=False, seed=0, **json.loads(args.training)
    )
    run = args.work / args.name
    start = time.perf_counter()
    result = train(
        build_model(config, seed=0), data, training, run, resume=(run / CHECKPOINT_DIR).exists()
    )
    assert isinstance(result.model, XpzNet)
    fitted = result.model.calibrate(data.x_validation, data.z_validation)
    print(f"{args.name}: model {args.model}, training {args.training}")
    print(f"  {len(result.history)} epochs, {time.perf_counter() - start:.0f} s; {fitted}")

    features = scaler.transform(spectra.flux).astype(np.float64)
    knn = KnnBaseline(KnnConfig(n_neighbors=10)).fit(features[split.train], z[split.train])
    grid = config.z_grid()
    for part, rows in (("validation", split.validation), ("test", split.test)):
        test = spectra[rows]
        x = model_inputs(scaler, test.flux, test.flux_error, config.input_channels)
        out = network_summaries(result.model, torch.from_numpy(x))
        pdf, z_true = out["pdf"], z[rows]
        print(f"{part} ({len(rows):,} galaxies):")
        print(line("xpz median", z_true, out["z_pred"]))
        print(line("xpz mode", z_true, grid[np.argmax(pdf, axis=1)]))
        print(line("xpz mean", z_true, (pdf * grid).sum(axis=1) / pdf.sum(axis=1)))
        print(line("knn", z_true, knn.predict(features[rows])))
        print(
            f"  coverage 68%: {100 * coverage(z_true, out['z_q16'], out['z_q84']):.1f}%, "
            f"95%: {100 * coverage(z_true, out['z_q025'], out['z_q975']):.1f}%"
        )


if __name__ == "__main__":
    main()
