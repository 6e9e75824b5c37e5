"""``xpz info MODEL``: the model card (architecture, training data, metrics, calibration, OOD)."""

from __future__ import annotations

import argparse

NAME = "info"
HELP = (
    "Print a model's card: architecture, parameters, input scaling, training data and "
    "simulator version, test metrics, calibration, OOD threshold and redshift range."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", help="model directory (e.g. RUN_DIR/model), or 'default': the shipped model"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from xpz.models.card import format_card, model_card
    from xpz.models.modelfile import load_model

    card = model_card(load_model(args.model))
    print(json.dumps(card, indent=2) if args.json else format_card(card))
    return 0
