"""``xpz demo``: the main job on the embedded simulated data, end to end.

simulate -> 63/27/10 split -> scaler -> train -> test -> report, in minutes on a
laptop CPU.  The default model trains on the randomised simulator mixture
(:meth:`xpz.simulate.SimulationConfig.randomised`, every knob drawn per galaxy);
``--preset paper`` reproduces the dissertation on today's default simulated set.
The dissertation's full setting (520,393 spectra, 20 epochs at batch 16) takes
hours on a CPU, so the demo uses a smaller simulated set and a shorter epoch
budget per preset (:data:`DEMO_BUDGET`), and says so.

The paper preset's budget is set so that its min-max-scaled CNN leaves the
predict-the-mean plateau of its first epochs (docs/demo.md): 150,000 spectra,
5 epochs, bf16 autocast where the CPU computes it natively
(:attr:`xpz.accelerator.Precision.AUTO`), about 8.5 minutes on 2 idle cores
to a validation MAE below 0.03.
"""

from __future__ import annotations

import argparse
import dataclasses

from xpz.accelerator import Precision

NAME = "demo"
HELP = (
    "Simulate Gaia XP galaxy spectra, train a model (default: the xpz model; --preset paper "
    "for the dissertation's CNN), test it and write the report."
)


@dataclasses.dataclass(frozen=True)
class DemoBudget:
    """What a demo of one preset trains on and for how long, unless the options say otherwise."""

    #: Simulated spectra.
    n: int
    #: Epochs (None: the recipe's).
    epochs: int | None = None
    #: Training arithmetic (None: the recipe's).
    precision: Precision | None = None


#: Default demo budget per preset name; other recipes get :data:`OTHER_BUDGET`.
DEMO_BUDGET = {
    "xpz": DemoBudget(60_000),
    "paper": DemoBudget(150_000, epochs=5, precision=Precision.AUTO),
}
OTHER_BUDGET = DemoBudget(100_000)
#: The simulated data set a demo writes into its run directory.
SIMULATED_FILE = "simulated.parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xpz.commands.train import add_recipe_arguments

    parser.add_argument(
        "-o", "--output", default="demo-output", metavar="DIR", help="run directory"
    )
    parser.add_argument("-n", type=int, help="simulated spectra (default depends on preset)")
    parser.add_argument("--data-seed", type=int, default=0, help="simulation seed (default 0)")
    add_recipe_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import shutil

    from xpz.commands.train import print_result, recipe_from_args
    from xpz.errors import InputError
    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.tables import write_spectra
    from xpz.pipeline import RECIPE_FILE, run_training
    from xpz.simulate import SimulationConfig, simulate

    budget = DEMO_BUDGET.get(args.preset, OTHER_BUDGET)
    n = args.n or budget.n
    if args.config is None:
        if args.epochs is None:
            args.epochs = budget.epochs
        if args.precision is None and budget.precision is not None:
            args.precision = budget.precision.value
    recipe = recipe_from_args(args)
    out = check_output(args.output, OutputKind.DIRECTORY)
    if out.exists() and any(out.iterdir()):  # a demo starts afresh, over an earlier demo only
        if not ((out / SIMULATED_FILE).is_file() and (out / RECIPE_FILE).is_file()):
            raise InputError("is not empty and not an earlier demo's output", path=out)
        shutil.rmtree(out)
    mixture = recipe.name != "paper"  # the paper preset reproduces the dissertation's setting
    print(
        f"xpz demo: {n} simulated spectra (seed {args.data_seed}"
        f"{', the randomised mixture' if mixture else ''}), recipe '{recipe.name}', "
        f"{recipe.training.epochs} epochs at batch {recipe.training.batch_size}"
        f"{_arithmetic(recipe.training.precision, recipe.training.device)}."
    )
    if recipe.name == "paper":
        print(
            "  The dissertation trained on 520,393 real spectra for 20 epochs (~2.6 h on this "
            "kind of CPU); this demo is a reduced budget of the same recipe."
        )
    config = SimulationConfig.randomised() if mixture else SimulationConfig()
    spectra = simulate(n, seed=args.data_seed, config=config)
    write_spectra(spectra, out / SIMULATED_FILE)
    result = run_training(spectra, recipe, out, split_seed=args.data_seed)
    print_result(result)
    return 0


def _arithmetic(precision: Precision, device: str) -> str:
    """``", bf16 autocast"`` when the training steps will run in bf16, else nothing."""
    from xpz.training.device import resolve_device

    resolved = precision.resolve(resolve_device(device).type)
    return ", bf16 autocast" if resolved is Precision.BF16 else ""
