"""``xpz demo``: the main job on the embedded simulated data, end to end.

simulate -> 63/27/10 split -> scaler -> train -> test -> report, in minutes on a
laptop CPU.  The default model trains on the randomised simulator mixture
(:meth:`xpz.simulate.SimulationConfig.randomised`, every knob drawn per galaxy);
``--preset paper`` reproduces the dissertation on today's default simulated set.  The dissertation's full setting (520,393 spectra, 20 epochs at batch
16) takes hours on a CPU, so the demo uses a smaller simulated set and a shorter
epoch budget per preset, and says so.
"""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = (
    "Simulate Gaia XP galaxy spectra, train a model (default: the xpz model; --preset paper "
    "for the dissertation's CNN), test it and write the report."
)

#: Default demo budget per preset: (number of simulated spectra, epochs).
DEMO_BUDGET = {"xpz": (60_000, None), "paper": (40_000, 4)}
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

    n_default, epochs_default = DEMO_BUDGET.get(args.preset, (100_000, None))
    n = args.n or n_default
    if args.epochs is None and args.config is None:
        args.epochs = epochs_default
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
        f"{recipe.training.epochs} epochs at batch {recipe.training.batch_size}."
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
