"""Robust on physics it was not trained on? The default model against held-out simulator knobs.

Trains, through the user's path (:mod:`domain_shift`):

* ``today``: the ``xpz`` preset on today's default simulated data set;
* ``mixture``: the default model's recipe on the randomised training mixture
  (:meth:`xpz.simulate.SimulationConfig.randomised`);
* ``without <knob>``: the same recipe on the mixture with one knob held out
  (``randomised(exclude=[knob])``), for every knob of
  :class:`xpz.simulate.Knob` (``--held-out`` names fewer: each costs a training run);

and tests each on fresh simulated data (seeds the training did not use):

* in distribution: a new sample of the model's own training configuration;
* for ``without <knob>``: the held-out knob at the far end of its range
  (``SimulationConfig.shifted(knob, base=...)`` of the training configuration);
* for ``mixture``: every knob in turn pushed to that far end, past the range
  it was trained on (no training run needed), and noise x2;
* for ``today``: the mixture, which it never saw.

Beside the mixture-trained model, its peers (:mod:`peers`: the paper CNN, SVR,
kNN and template fits with either template set) on the same training spectra
and the same in-distribution and shifted test sets (``--peers`` names fewer),
and the in-distribution targets of issue #14 against them.

Columns: MAE, sigma_NMAD, outliers (\\|dz\\|/(1+z) > 0.15), the worst \\|mean
error\\| of the 0.05 bins up to z = 0.45, 68%/95% interval coverage, the share
of galaxies flagged ``OUT_OF_DISTRIBUTION`` and the share of catastrophic
outliers it flags; then the targets of issue #14, met or not.

Usage::

    .venv/bin/python benchmarks/robustness.py --n 60000 --n-test 10000 \\
        --work /tmp/robustness --out docs/robustness.md
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from domain_shift import (  # noqa: E402
    load_average,
    markdown_table,
    score,
    trained_model,
    write_text,
)
from peers import Peer, peer_rows, peer_targets  # noqa: E402

from xpz.models.xpznet import multiply_adds  # noqa: E402
from xpz.recipes import Recipe, get_preset, xpz_recipe  # noqa: E402
from xpz.simulate import Knob, SimulationConfig, simulate  # noqa: E402

#: Seeds: training data, in-distribution tests, shifted tests.
TRAIN_SEED, TEST_SEED, SHIFT_SEED = 11, 12, 13


def noisier(config: SimulationConfig, factor: float = 2.0) -> SimulationConfig:
    """``config`` with ``factor`` times its noise."""
    return dataclasses.replace(config, noise_scale=factor * config.noise_scale)


def _test(n: int, seed: int, config: SimulationConfig):
    return simulate(n, seed=seed, config=config)


def run_model(
    label: str,
    recipe: Recipe,
    config: SimulationConfig,
    tests: dict[str, SimulationConfig],
    args: argparse.Namespace,
) -> list[tuple[list[str], dict[str, float]]]:
    """Train ``recipe`` on ``config`` and score it on its own distribution and on ``tests``."""
    run_dir = args.work / label.replace(" ", "-")
    model = trained_model(lambda: simulate(args.n, seed=TRAIN_SEED, config=config), recipe, run_dir)
    rows = [([label, "in distribution"], score(model, _test(args.n_test, TEST_SEED, config)))]
    for name, test_config in tests.items():
        rows.append(([label, name], score(model, _test(args.n_test, SHIFT_SEED, test_config))))
        print(f"  {label} on {name}: MAE {rows[-1][1]['mae']:.4f}", flush=True)
    return rows


def targets(rows: list[tuple[list[str], dict[str, float]]]) -> str:
    """Issue #14's targets for every shifted test of the mixture-trained models."""
    by = {tuple(names): values for names, values in rows}
    lines = [
        "| model | test data | MAE ratio (<= 1.2) | outlier ratio (<= 1.5) | cov 68 (64-72) | "
        "cov 95 (92-98) | worst bin (<= 0.02) | OOD on outl. (>= 50%) | OOD in distr. (<= 2%) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (label, test), shifted in by.items():
        if label == "today" or test == "in distribution":
            continue
        own = by[(label, "in distribution")]
        mae_ratio = shifted["mae"] / own["mae"]
        outlier_ratio = shifted["outliers"] / max(own["outliers"], 1.0 / own["n"])
        checks = [
            (f"{mae_ratio:.2f}", mae_ratio <= 1.2),
            (f"{outlier_ratio:.2f}", outlier_ratio <= 1.5),
            (f"{shifted['cov68']:.1f}", abs(shifted["cov68"] - 68) <= 4),
            (f"{shifted['cov95']:.1f}", abs(shifted["cov95"] - 95) <= 3),
            (f"{shifted['worst_bin']:.4f}", shifted["worst_bin"] <= 0.02),
            (f"{100 * shifted['ood_on_outliers']:.0f}%", shifted["ood_on_outliers"] >= 0.5),
            (f"{100 * own['ood_rate']:.2f}%", own["ood_rate"] <= 0.02),
        ]
        cells = [f"{value} {'yes' if ok else 'no'}" for value, ok in checks]
        lines.append(f"| {label} | {test} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60_000, help="simulated spectra per training run")
    parser.add_argument("--n-test", type=int, default=10_000, help="spectra per test set")
    parser.add_argument(
        "--held-out",
        nargs="*",
        choices=[k.value for k in Knob],
        help="knobs to hold out of a training run each (default: all)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=[p.value for p in Peer],
        help="peers of the mixture-trained model to score beside it (default: all)",
    )
    parser.add_argument(
        "--n-template", type=int, default=2_000, help="test spectra per set the templates fit"
    )
    parser.add_argument("--work", type=Path, required=True, help="training runs (reused)")
    parser.add_argument("--out", type=Path, help="markdown report (default: print)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start, load_before = time.perf_counter(), load_average()
    held_out = [Knob(k) for k in args.held_out] if args.held_out is not None else list(Knob)
    mixture = SimulationConfig.randomised()
    recipe = get_preset("xpz")
    today = xpz_recipe(members=1)  # the preset before the mixture, on today's data set
    rows = run_model("today", today, SimulationConfig(), {"mixture": mixture}, args)
    beyond = {f"{k.value} beyond range": SimulationConfig.shifted(k, base=mixture) for k in Knob}
    shifts = {**beyond, "noise x2": noisier(mixture)}
    rows += run_model("mixture", recipe, mixture, shifts, args)
    for knob in held_out:
        base = SimulationConfig.randomised(exclude=[knob])
        shifted = {f"{knob.value} shifted": SimulationConfig.shifted(knob, base=base)}
        rows += run_model(f"without {knob.value}", recipe, base, shifted, args)
    peers = [Peer(p) for p in args.peers] if args.peers is not None else list(Peer)
    tests = {"in distribution": _test(args.n_test, TEST_SEED, mixture)}
    tests |= {name: _test(args.n_test, SHIFT_SEED, config) for name, config in shifts.items()}
    train = lambda: simulate(args.n, seed=TRAIN_SEED, config=mixture)  # noqa: E731
    peer_table = [row for row in rows if row[0][0] == "mixture"]
    peer_table += peer_rows(peers, train, tests, args.work, args.n_template)
    command = "python benchmarks/robustness.py " + shlex.join(argv or sys.argv[1:])
    text = "\n\n".join(
        [
            "# Robustness: the default model on physics it was not trained on",
            f"Made by `{command}` in {(time.perf_counter() - start) / 60:.0f} min; load "
            f"average (1/5/15 min) {load_before} before, {load_average()} after.",
            f"Training runs: {args.n:,} simulated spectra each (63/27/10 split); test sets "
            f"{args.n_test:,} spectra, simulated with seeds the training did not use. "
            f"Default model recipe: `{recipe.name}` ({recipe.description}).",
            markdown_table(rows, ["model", "test data"]),
            "## Targets of issue #14 (each shifted test against the same model in distribution)",
            targets(rows),
            "## Peers on the same data (trained on the mixture's training split)",
            f"Template fits on the first {args.n_template:,} spectra of each test set; "
            "coverage only where a model gives intervals, OOD only for the networks.",
            markdown_table(peer_table, ["model", "test data"]),
            "## In-distribution targets of issue #14 against the peers",
            peer_targets(
                peer_table,
                "mixture",
                multiply_adds(get_preset("paper").model),
                multiply_adds(recipe.model),
            ),
        ]
    )
    write_text(text, args.out)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
