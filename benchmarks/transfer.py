"""Sim-to-real stand-in: does fine-tuning on a few real labels beat the simulator and scratch?

"Real" data are a simulator configuration the pretraining never saw: the
randomised mixture with several knobs pushed to the far end of their ranges
at once (:data:`REAL_KNOBS`, through ``SimulationConfig.shifted``).  With 1,000,
5,000 and 20,000 labelled "real" spectra (each split 63/27/10 by the pipeline),
three models are compared on 10,000 further "real" spectra:

* ``pretrained``: the default model's recipe trained on simulated spectra, as
  it is, for each ``--pretrain`` data set: ``mixture``, the randomised mixture
  the default model trains on (the ``mixture`` run of
  ``benchmarks/robustness.py`` in the same ``--work`` folder is reused), and
  ``today``, the default data set ``SimulationConfig()`` of before the mixture
  (no knob: kcorrect SEDs only, no dust, no calibration errors);
* ``fine-tuned``: that model fine-tuned on the labels (``xpz train --init``:
  :func:`xpz.recipes.finetune_recipe`, its scaler kept, recalibrated on the
  labels' validation split);
* ``scratch``: the same recipe trained on the labels alone (one run per size,
  shared by both pretrainings).

Usage::

    .venv/bin/python benchmarks/transfer.py --work /tmp/robustness --out docs/transfer.md
"""

from __future__ import annotations

import argparse
import enum
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

from xpz.recipes import Recipe, finetune_recipe, get_preset  # noqa: E402
from xpz.simulate import Knob, SimulationConfig, simulate  # noqa: E402
from xpz.spectra import Spectra  # noqa: E402

#: The knobs shifted together to make the "real" domain.
REAL_KNOBS = (Knob.SED_SOURCE, Knob.INTERNAL_DUST, Knob.CALIBRATION)
#: Seeds: pretraining (as benchmarks/robustness.py), labelled "real" spectra, test spectra.
PRETRAIN_SEED, LABEL_SEED, TEST_SEED = 11, 21, 22
LABEL_SIZES = (1_000, 5_000, 20_000)


class Pretraining(enum.Enum):
    """The simulated data set a pretrained model learned from."""

    #: The randomised mixture (``SimulationConfig.randomised()``), the default model's.
    MIXTURE = "mixture"
    #: The default data set before the mixture (``SimulationConfig()``).
    TODAY = "today"

    def config(self) -> SimulationConfig:
        """The simulator configuration of this data set."""
        return SimulationConfig.randomised() if self is Pretraining.MIXTURE else SimulationConfig()

    def run_name(self) -> str:
        """The pretraining run's folder in ``--work`` (``mixture`` is robustness.py's)."""
        return "mixture" if self is Pretraining.MIXTURE else "pretrain-today"

    def tuned_name(self, size: int) -> str:
        """The fine-tuning run's folder in ``--work`` for ``size`` labels."""
        prefix = "" if self is Pretraining.MIXTURE else "today-"
        return f"transfer-{prefix}finetuned-{size}"


def real_domain() -> SimulationConfig:
    """The mixture with every knob of :data:`REAL_KNOBS` at the far end of its range."""
    config = SimulationConfig.randomised()
    for knob in REAL_KNOBS:
        config = SimulationConfig.shifted(knob, base=config)
    return config


def targets(rows: list[tuple[list[str], dict[str, float]]], pretraining: Pretraining) -> str:
    """Issue #15's target at 5,000 labels for the model pretrained on ``pretraining``."""
    by = {tuple(names): values for names, values in rows}
    tuned = by[(f"fine-tuned from {pretraining.value}", "5,000")]
    scratch = by[("scratch", "5,000")]
    pretrained = by[(f"pretrained on {pretraining.value}", "-")]
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
    lines = [f"| target (5,000 labels, pretrained on {pretraining.value}) | measured | met |"]
    lines.append("|---|---|---|")
    lines += [f"| {name} | {value:.3f} | {'yes' if ok else 'no'} |" for name, value, ok in checks]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60_000, help="pretraining spectra")
    parser.add_argument("--n-test", type=int, default=10_000, help="'real' test spectra")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(LABEL_SIZES))
    parser.add_argument(
        "--pretrain",
        nargs="+",
        choices=[p.value for p in Pretraining],
        default=[p.value for p in Pretraining],
        help="pretraining data sets (default: both)",
    )
    parser.add_argument("--work", type=Path, required=True, help="training runs (reused)")
    parser.add_argument("--out", type=Path, help="markdown report (default: print)")
    return parser.parse_args(argv)


def pretrained_rows(
    pretraining: Pretraining, recipe: Recipe, test: Spectra, args: argparse.Namespace
) -> list[tuple[list[str], dict[str, float]]]:
    """The model pretrained on ``pretraining`` as it is and fine-tuned on each label set."""
    config = pretraining.config()
    pretrained = trained_model(
        lambda: simulate(args.n, seed=PRETRAIN_SEED, config=config),
        recipe,
        args.work / pretraining.run_name(),
    )
    rows = [([f"pretrained on {pretraining.value}", "-"], score(pretrained, test))]
    for size in args.sizes:
        tuned = trained_model(
            lambda size=size: simulate(size, seed=LABEL_SEED, config=real_domain()),
            finetune_recipe(pretrained),
            args.work / pretraining.tuned_name(size),
            init=pretrained,
        )
        rows.append(([f"fine-tuned from {pretraining.value}", f"{size:,}"], score(tuned, test)))
        print(f"  {size} labels, fine-tuned from {pretraining.value}: {rows[-1][1]['mae']:.4f}")
    return rows


def scratch_rows(
    recipe: Recipe, test: Spectra, args: argparse.Namespace
) -> list[tuple[list[str], dict[str, float]]]:
    """The recipe trained on each label set alone."""
    rows = []
    for size in args.sizes:
        scratch = trained_model(
            lambda size=size: simulate(size, seed=LABEL_SEED, config=real_domain()),
            recipe,
            args.work / f"transfer-scratch-{size}",
        )
        rows.append((["scratch", f"{size:,}"], score(scratch, test)))
        print(f"  {size} labels, scratch: {rows[-1][1]['mae']:.4f}")
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start, load_before = time.perf_counter(), load_average()
    recipe = get_preset("xpz")
    pretrainings = [Pretraining(p) for p in args.pretrain]
    test = simulate(args.n_test, seed=TEST_SEED, config=real_domain())
    rows = [row for p in pretrainings for row in pretrained_rows(p, recipe, test, args)]
    rows += scratch_rows(recipe, test, args)
    command = "python benchmarks/transfer.py " + shlex.join(argv or sys.argv[1:])
    knobs = ", ".join(k.value for k in REAL_KNOBS)
    text = "\n\n".join(
        [
            "# Transfer: fine-tuning a simulator-trained model on a few labels of another domain",
            f"Made by `{command}` in {(time.perf_counter() - start) / 60:.0f} min; load "
            f"average (1/5/15 min) {load_before} before, {load_average()} after.",
            f"The 'real' domain is the randomised mixture with {knobs} shifted to the far end "
            f"of their ranges at once; the test set is {args.n_test:,} spectra of it. Pretrained: "
            f"`{recipe.name}` on {args.n:,} simulated spectra of "
            + " and of ".join(f"`{p.value}`" for p in pretrainings)
            + " (see the module's docstring).",
            markdown_table(rows, ["model", "labelled spectra"]),
            *(targets(rows, p) for p in pretrainings if 5_000 in args.sizes),
        ]
    )
    write_text(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
