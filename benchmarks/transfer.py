"""Sim-to-real stand-in: does fine-tuning on a few real labels beat the simulator and scratch?

"Real" data are a simulator configuration the pretraining never saw: the
randomised mixture with several knobs pushed to the far end of their ranges
at once (:data:`REAL_KNOBS`, through ``SimulationConfig.shifted``).  With 1,000,
5,000 and 20,000 labelled "real" spectra (each split 63/27/10 by the pipeline),
three models are compared on 10,000 further "real" spectra:

* ``pretrained``: the default model's recipe trained on the mixture (the
  ``mixture`` run of ``benchmarks/robustness.py`` in the same ``--work``
  folder is reused), as it is;
* ``fine-tuned``: that model fine-tuned on the labels (``xpz train --init``:
  :func:`xpz.recipes.finetune_recipe`, its scaler kept, recalibrated on the
  labels' validation split);
* ``scratch``: the same recipe trained on the labels alone.

Usage::

    .venv/bin/python benchmarks/transfer.py --work /tmp/robustness --out docs/transfer.md
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from domain_shift import (  # noqa: E402
    load_average,
    markdown_table,
    score,
    trained_model,
    write_text,
)

from xpz.recipes import finetune_recipe, get_preset  # noqa: E402
from xpz.simulate import Knob, SimulationConfig, simulate  # noqa: E402

#: The knobs shifted together to make the "real" domain.
REAL_KNOBS = (Knob.SED_SOURCE, Knob.INTERNAL_DUST, Knob.CALIBRATION)
#: Seeds: pretraining (as benchmarks/robustness.py), labelled "real" spectra, test spectra.
PRETRAIN_SEED, LABEL_SEED, TEST_SEED = 11, 21, 22
LABEL_SIZES = (1_000, 5_000, 20_000)


def real_domain() -> SimulationConfig:
    """The mixture with every knob of :data:`REAL_KNOBS` at the far end of its range."""
    config = SimulationConfig.randomised()
    for knob in REAL_KNOBS:
        config = SimulationConfig.shifted(knob, base=config)
    return config


def targets(rows: list[tuple[list[str], dict[str, float]]]) -> str:
    """Issue #15's target at 5,000 labels."""
    by = {tuple(names): values for names, values in rows}
    tuned, scratch = by[("fine-tuned", "5,000")], by[("scratch", "5,000")]
    pretrained = by[("pretrained", "-")]
    checks = [
        (
            "MAE / scratch <= 0.8",
            tuned["mae"] / scratch["mae"],
            tuned["mae"] <= 0.8 * scratch["mae"],
        ),
        (
            "MAE / pretrained <= 0.8",
            tuned["mae"] / pretrained["mae"],
            tuned["mae"] <= 0.8 * pretrained["mae"],
        ),
        ("68% coverage in 64-72", tuned["cov68"], abs(tuned["cov68"] - 68) <= 4),
        ("95% coverage in 92-98", tuned["cov95"], abs(tuned["cov95"] - 95) <= 3),
    ]
    lines = ["| target (5,000 labels) | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value:.3f} | {'yes' if ok else 'no'} |" for name, value, ok in checks]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60_000, help="pretraining spectra")
    parser.add_argument("--n-test", type=int, default=10_000, help="'real' test spectra")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(LABEL_SIZES))
    parser.add_argument("--work", type=Path, required=True, help="training runs (reused)")
    parser.add_argument("--out", type=Path, help="markdown report (default: print)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start, load_before = time.perf_counter(), load_average()
    recipe, real = get_preset("xpz"), real_domain()
    mixture = SimulationConfig.randomised()
    pretrained = trained_model(
        lambda: simulate(args.n, seed=PRETRAIN_SEED, config=mixture), recipe, args.work / "mixture"
    )
    test = simulate(args.n_test, seed=TEST_SEED, config=real)
    rows = [(["pretrained", "-"], score(pretrained, test))]
    for size in args.sizes:
        labels = simulate(size, seed=LABEL_SEED, config=real)
        tuned = trained_model(
            lambda labels=labels: labels,
            finetune_recipe(pretrained),
            args.work / f"transfer-finetuned-{size}",
            init=pretrained,
        )
        scratch = trained_model(
            lambda labels=labels: labels, recipe, args.work / f"transfer-scratch-{size}"
        )
        rows.append((["fine-tuned", f"{size:,}"], score(tuned, test)))
        rows.append((["scratch", f"{size:,}"], score(scratch, test)))
        print(f"  {size}: fine-tuned {rows[-2][1]['mae']:.4f}, scratch {rows[-1][1]['mae']:.4f}")
    command = "python benchmarks/transfer.py " + shlex.join(argv or sys.argv[1:])
    knobs = ", ".join(k.value for k in REAL_KNOBS)
    text = "\n\n".join(
        [
            "# Transfer: fine-tuning a simulator-trained model on a few labels of another domain",
            f"Made by `{command}` in {(time.perf_counter() - start) / 60:.0f} min; load "
            f"average (1/5/15 min) {load_before} before, {load_average()} after.",
            f"The 'real' domain is the randomised mixture with {knobs} shifted to the far end "
            f"of their ranges at once; the test set is {args.n_test:,} spectra of it. Pretrained: "
            f"`{recipe.name}` on {args.n:,} spectra of the mixture.",
            markdown_table(rows, ["model", "labelled spectra"]),
            targets(rows) if 5_000 in args.sizes else "",
        ]
    )
    write_text(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
