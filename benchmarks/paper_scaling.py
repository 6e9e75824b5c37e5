"""The dissertation's CNN on the simulator: per-column min-max vs per-spectrum scaling.

Trains the ``paper`` preset (Table 2 CNN, Adamax lr 1e-3, Huber, batch 16) for a
few epochs on the same simulated split twice: with the dissertation's per-column
min-max scaling, and with each spectrum first divided by its L2 norm.  Prints
the validation MAE after every epoch for both.

Run:  python benchmarks/paper_scaling.py [--n 10000] [--epochs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="simulated spectra")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1, help="simulation seed")
    args = parser.parse_args()

    from xpz.models.registry import build_model
    from xpz.recipes import Recipe
    from xpz.simulate import simulate
    from xpz.split import split_indices
    from xpz.training import make_training_data, train

    spectra = simulate(args.n, seed=args.seed)
    split = split_indices(len(spectra), seed=0)
    paper = Recipe.from_preset("paper")
    training = paper.training.replace(epochs=args.epochs, progress=False, num_threads=args.threads)
    print(f"{args.n} simulated spectra (seed {args.seed}), paper preset, {args.epochs} epochs")
    for scaling in (
        {"scaling": "minmax"},
        {"scaling": "per_spectrum", "norm": "l2", "minmax": True},
    ):
        recipe = Recipe(paper.model, training, scaling)
        scaler = recipe.make_scaler().fit(spectra.flux[split.train])
        data = make_training_data(spectra, split, scaler)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as run:
            result = train(build_model(recipe.model, seed=0), data, training, run)
        maes = ", ".join(f"{h.val_mae:.4f}" for h in result.history)
        print(f"{scaling}: validation MAE per epoch {maes} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
