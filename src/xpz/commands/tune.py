"""``xpz tune DATA --trials N``: Bayesian hyperparameter search of the dissertation's CNN."""

from __future__ import annotations

import argparse

NAME = "tune"
HELP = (
    "Search the CNN's hyperparameters (layers, filters, kernels, units, activation, loss, "
    "optimizer, learning rate) with Optuna; rerun the same command to resume, or start it on "
    "several machines with one --storage to share the work. Writes the best recipe for "
    "'xpz train --config', a table of trials and a report."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xpz.tuning.sampler import Sampler

    parser.add_argument("data", help="labelled spectra (z + 186 fluxes, or XP_CONTINUOUS + z)")
    parser.add_argument(
        "--trials", type=int, required=True, metavar="N", help="finished trials wanted in total"
    )
    parser.add_argument(
        "-o", "--output", metavar="OUT_DIR", help="output directory (default: tune-STUDY_NAME)"
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage URL (postgresql://..., sqlite:///...) or journal file path "
        "(default: OUT_DIR/study.journal)",
    )
    parser.add_argument("--study-name", default="xpz", help="study name (default: xpz)")
    parser.add_argument(
        "--sampler",
        choices=[s.value for s in Sampler],
        default=Sampler.GP.value,
        help=f"default: {Sampler.GP.value}",
    )
    parser.add_argument("--epochs-per-trial", type=int, default=3, metavar="E", help="default: 3")
    parser.add_argument(
        "--max-rows", type=int, metavar="N", help="train each trial on at most N spectra"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="sampler seed; give each worker its own (default 0)"
    )
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the 63/27/10 split")
    parser.add_argument(
        "--startup-trials", type=int, default=5, help="random trials before modelling (5)"
    )
    parser.add_argument(
        "--tune-batch-size", action="store_true", help="also search the batch size (16-128)"
    )
    parser.add_argument("--no-prune", action="store_true", help="never stop a trial early")


def run(args: argparse.Namespace) -> int:
    from xpz.errors import InputError
    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.read import read_input
    from xpz.tuning.search import Sampler, TuneConfig, tune
    from xpz.tuning.space import TUNED_BATCH_SIZES, SearchSpace

    try:
        space = SearchSpace(batch_sizes=TUNED_BATCH_SIZES if args.tune_batch_size else None)
        config = TuneConfig(
            n_trials=args.trials,
            space=space,
            epochs_per_trial=args.epochs_per_trial,
            max_train_rows=args.max_rows,
            split_seed=args.split_seed,
            sampler=Sampler(args.sampler),
            seed=args.seed,
            startup_trials=args.startup_trials,
            prune=not args.no_prune,
        )
    except ValueError as err:
        raise InputError(str(err)) from err
    out_dir = args.output or f"tune-{args.study_name}"
    check_output(out_dir, OutputKind.DIRECTORY, [args.data])
    spectra = read_input(args.data, training=True)
    result = tune(spectra, out_dir, config, study_name=args.study_name, storage=args.storage)
    print(f"study {result.study_name}: {result.n_finished} finished trials in {result.storage}")
    print(f"best: trial {result.best_number}, validation MAE {result.best_value:.4f}")
    print(f"recipe: {result.recipe_path}  (xpz train DATA -o RUN --config {result.recipe_path})")
    print(f"report: {result.report}")
    return 0
