"""``xpz export MODEL --onnx -o model.onnx``: a model as one ONNX file for onnxruntime."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = (
    "Export a model directory as a single ONNX file (scaler folded in, model.json "
    "embedded as metadata) for onnxruntime or any ONNX runtime."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", help="model directory (e.g. RUN_DIR/model), or 'default': the shipped model"
    )
    parser.add_argument(
        "--onnx", action="store_true", required=True, help="write ONNX (the only format)"
    )
    parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
    parser.add_argument(
        "--pdf",
        action="store_true",
        help="also output the gridded redshift PDF (N, K) of distributional models",
    )


def run(args: argparse.Namespace) -> int:
    from xpz.export import export_onnx
    from xpz.io.atomic import OutputKind, check_output

    check_output(args.output, OutputKind.FILE, [args.model])
    path = export_onnx(args.model, args.output, include_pdf=args.pdf)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
