"""``xpz evaluate MODEL DATA -o OUT``: the training report for any labelled data."""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "Evaluate a model on labelled spectra: metrics, per-bin table, figures and report."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", help="model directory (e.g. RUN_DIR/model), or 'default': the shipped model"
    )
    parser.add_argument("data", help="labelled spectra (with a 'z' column)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="report directory")


def run(args: argparse.Namespace) -> int:
    import json

    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.read import read_input
    from xpz.pipeline import evaluate_model

    check_output(args.output, OutputKind.DIRECTORY, [args.model, args.data])
    spectra = read_input(args.data, require_z=True)
    report = evaluate_model(args.model, spectra, args.output, source=args.data)
    metrics = json.loads((report.parent / "metrics.json").read_text())["metrics"]
    print(f"report: {report}")
    print(f"MAE {metrics['mae']:.4f}, sigma_NMAD {metrics['sigma_nmad']:.4f}")
    return 0
