"""``xpz train DATA -o RUN_DIR``: train a preset or a recipe file, test it, write the report."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = (
    "Train a redshift model on labelled spectra (63/27/10 split), evaluate it on the test "
    "split and write a run directory with the model, history, predictions and report; "
    "--init MODEL fine-tunes a trained model instead."
)
#: What ``--init`` without ``--preset``/``--config`` trains (see ``xpz.training.finetune``).
FINETUNE_HELP = (
    "fine-tune this trained model (a model directory) instead of starting from random "
    "weights: same architecture (another model config is refused), its scaler, "
    "recalibrated on the new validation split, recorded in model.json. Without --preset "
    "or --config the model config is MODEL's and the training is MODEL's own with the "
    "learning rate / 10, half the epochs and a cosine decay without warm-up"
)


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``xpz train`` and ``xpz demo`` to choose and adjust a recipe."""
    from xpz.accelerator import Precision

    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--preset", default="xpz", help="'xpz' (default: the xpz model) or 'paper' (dissertation)"
    )
    group.add_argument("--config", metavar="JSON", help="recipe file, e.g. from 'xpz tune'")
    parser.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    parser.add_argument("--batch-size", type=int, help="override the recipe's batch size")
    parser.add_argument("--lr", type=float, help="override the recipe's (peak) learning rate")
    parser.add_argument("--seed", type=int, help="override the training seed")
    parser.add_argument("--device", help="'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1'")
    parser.add_argument(
        "--precision",
        choices=[p.value for p in Precision],
        help="override the recipe's training arithmetic: fp32, bf16 autocast, or auto "
        "(bf16 where the CPU/GPU computes it natively, else fp32)",
    )
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar"
    )


def recipe_from_args(args: argparse.Namespace, initial=None):  # -> xpz.recipes.Recipe
    """The recipe the options ask for (fine-tuning ``initial`` when no recipe is named)."""
    from xpz.errors import InputError
    from xpz.recipes import Recipe, finetune_recipe

    try:
        if args.config:
            recipe = Recipe.load(args.config)
        elif args.preset is None and initial is not None:
            recipe = finetune_recipe(initial)
        else:
            recipe = Recipe.from_preset(args.preset or "xpz")
        changes = {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            "device": args.device,
            "precision": getattr(args, "precision", None),
            "progress": args.progress,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        training = recipe.training.replace(**changes)
    except ValueError as err:
        raise InputError(str(err)) from err
    return Recipe(recipe.model, training, recipe.scaling, name=recipe.name)


def print_result(result) -> None:
    """Headline numbers and where the products are (nothing on torchrun's other processes)."""
    m = result.metrics
    if not m:
        return
    print(f"model:  {result.model_dir}")
    print(f"report: {result.report}")
    print(
        f"test: MAE {m['mae']:.4f} (dissertation 0.021); mean |bin error| z<0.35 "
        f"{m['mean_abs_bin_error_z_lt_035']:.4f} (dissertation 0.013); "
        f"sigma_NMAD {m['sigma_nmad']:.4f}; outliers |dz|>0.15 {m['outlier_frac_015']:.2%}"
        + (
            f"; flagged out of distribution {m['ood_flag_rate']:.2%}"
            if "ood_flag_rate" in m
            else ""
        )
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="labelled spectra (z + 186 fluxes, or XP_CONTINUOUS + z)")
    parser.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run directory")
    add_recipe_arguments(parser)
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the 63/27/10 split")
    parser.add_argument("--stratify", action="store_true", help="stratify the split by z bin")
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in RUN_DIR"
    )
    parser.add_argument("--init", metavar="MODEL", help=FINETUNE_HELP)
    parser.add_argument(
        "--freeze",
        type=int,
        default=0,
        metavar="N",
        help="with --init: freeze the first N convolution blocks (weights and BatchNorm)",
    )
    parser.set_defaults(preset=None)  # to tell "--preset xpz" from no --preset with --init


def run(args: argparse.Namespace) -> int:
    from xpz.errors import InputError
    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.read import read_input
    from xpz.pipeline import run_training
    from xpz.training.finetune import load_initial

    inputs = [args.data] + [p for p in (args.config, args.init) if p]
    check_output(args.output, OutputKind.DIRECTORY, inputs)
    if args.freeze and not args.init:
        raise InputError("--freeze needs --init MODEL")
    initial = load_initial(args.init) if args.init else None
    recipe = recipe_from_args(args, initial)
    spectra = read_input(args.data, training=True)
    result = run_training(
        spectra,
        recipe,
        args.output,
        split_seed=args.split_seed,
        stratify=args.stratify,
        resume=args.resume,
        init=initial,
        freeze=args.freeze,
    )
    print_result(result)
    return 0
