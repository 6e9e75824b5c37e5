"""The paper preset trained in fp32 and in bf16 autocast: same seeded run, loss curves side by side.

Trains the ``paper`` preset (Table 2 CNN, Adamax lr 1e-3, Huber, batch 16) for a
few epochs on the same simulated split, with the same seed, once with
``precision="fp32"`` and once with ``precision="bf16"``
(:class:`xpz.training.config.Precision`), and prints the training loss and the
validation MAE (always computed in float32) after every epoch, and the time.
``--scaling l2`` divides each spectrum by its L2 norm first, so that the
network leaves the predict-the-mean plateau within the run (see docs/demo.md).

Run:  python benchmarks/paper_precision.py [--n 10000] [--epochs 3] [--scaling minmax|l2]
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="simulated spectra")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (all)")
    parser.add_argument("--seed", type=int, default=1, help="simulation seed")
    parser.add_argument("--scaling", choices=["minmax", "l2"], default="l2")
    args = parser.parse_args()

    from pathlib import Path

    from xpz.models.registry import build_model
    from xpz.recipes import Recipe
    from xpz.simulate import simulate
    from xpz.split import split_indices
    from xpz.training import make_training_data, train

    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    spectra = simulate(args.n, seed=args.seed)
    split = split_indices(len(spectra), seed=0)
    paper = Recipe.from_preset("paper")
    scaling = (
        {"scaling": "minmax"}
        if args.scaling == "minmax"
        else {"scaling": "per_spectrum", "norm": "l2", "minmax": True}
    )
    print(f"{args.n} simulated spectra (seed {args.seed}), paper preset, {scaling}, "
          f"{args.epochs} epochs; load average {load}")  # fmt: skip
    for precision in ("fp32", "bf16"):
        training = paper.training.replace(
            epochs=args.epochs, progress=False, num_threads=args.threads, precision=precision
        )
        recipe = Recipe(paper.model, training, scaling)
        scaler = recipe.make_scaler().fit(spectra.flux[split.train])
        data = make_training_data(spectra, split, scaler)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as run:
            result = train(build_model(recipe.model, seed=0), data, training, run)
        seconds = time.perf_counter() - start
        losses = ", ".join(f"{h.train_loss:.5f}" for h in result.history)
        maes = ", ".join(f"{h.val_mae:.4f}" for h in result.history)
        rate = len(split.train) * args.epochs / seconds
        print(f"{precision}: train loss {losses}; validation MAE {maes}; "
              f"{seconds:.0f} s ({rate:.0f} training spectra/s incl. validation)")  # fmt: skip
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"load average after: {load}")


if __name__ == "__main__":
    main()
