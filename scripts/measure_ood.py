"""Compare the OOD scores of xpz.models.ood on shifted data made with today's simulator.

For a trained model (default: the shipped one, trained by
``scripts/train_default_model.py``), the training data is simulated again
(same ``-n`` and ``--seed``, so the same split), the OOD statistics are refitted
with each :class:`~xpz.models.ood.OodMethod` at the same false-positive rate,
and each is run on an in-distribution batch and on shifted batches.  Prints one
Markdown table: share of rows flagged, catastrophic outliers
(|dz|/(1+z) > 0.15) and the share of them flagged.

Run (docs/ood.md)::

    PYTHONPATH=src .venv/bin/python scripts/measure_ood.py
"""

from __future__ import annotations

import argparse
import copy
import sys

import numpy as np


def shifted_batches(n: int, seed: int):  # -> dict[str, Spectra]
    """An in-distribution batch and four shifted ones, each of ``n`` spectra."""
    from xpz.layout import default_layout
    from xpz.simulate import simulate
    from xpz.simulate.config import RedshiftDistribution, SimulationConfig

    base = simulate(n, seed=seed)
    wavelength = default_layout().wavelength
    tilt = 1.0 + 0.3 * np.linspace(-1.0, 1.0, wavelength.size)  # +-30% across both bands
    reddening = 10 ** (-0.4 * 1.0 * (550.0 / wavelength))  # A_V = 1 mag, A ~ 1/lambda

    def scaled(factor: np.ndarray):
        return base.replace(flux=base.flux * factor, flux_error=base.flux_error * factor)

    high_z = SimulationConfig(
        z_range=(0.6, 0.7), redshift_distribution=RedshiftDistribution.UNIFORM
    )
    return {
        "in distribution": base,
        "noise x3": simulate(n, seed=seed + 1, config=SimulationConfig(noise_scale=3.0)),
        "tilt +-30%": scaled(tilt.astype(np.float32)),
        "reddening A_V=1": scaled(reddening.astype(np.float32)),
        "z 0.6-0.7": simulate(n, seed=seed + 2, config=high_z),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="model directory (default: shipped)")
    parser.add_argument("-n", type=int, default=60_000, help="training spectra (as trained)")
    parser.add_argument("--seed", type=int, default=0, help="training simulation/split seed")
    parser.add_argument("--test-n", type=int, default=5000, help="spectra per test batch")
    args = parser.parse_args(argv)

    from xpz.inference import predict_spectra
    from xpz.models.modelfile import LoadedModel, load_model
    from xpz.models.ood import OodMethod, fit_ood
    from xpz.recipes import get_preset, prepare_training_data
    from xpz.simulate import simulate
    from xpz.spectra import Flag

    loaded = load_model(args.model)
    spectra = simulate(args.n, seed=args.seed)
    recipe = get_preset("xpz")
    _, data = prepare_training_data(spectra, recipe, split_seed=args.seed, scaler=loaded.scaler)
    batches = shifted_batches(args.test_n, seed=1000 + args.seed)
    print("| method | batch | flagged | catastrophic outliers | of them flagged |")
    print("|---|---|---|---|---|")
    for method in OodMethod:
        model = copy.deepcopy(loaded.model)
        fit_ood(model, data.x_train, data.x_validation, method=method, seed=args.seed)
        refitted = LoadedModel(model, loaded.scaler, loaded.metadata, loaded.path)
        for name, batch in batches.items():
            estimates, flag = predict_spectra(refitted, batch)
            flagged = (flag & np.uint32(Flag.OUT_OF_DISTRIBUTION)) != 0
            z = batch.require_z()
            with np.errstate(invalid="ignore"):
                outlier = np.abs(estimates["z_pred"] - z) / (1 + z) > 0.15
            caught = f"{flagged[outlier].mean():.0%}" if outlier.any() else "-"
            print(
                f"| {method.value} | {name} | {flagged.mean():.1%} | {int(outlier.sum())} "
                f"| {caught} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
