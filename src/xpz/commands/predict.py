"""``xpz predict MODEL INPUT... -o CATALOGUE``: a redshift catalogue, streamed in chunks."""

from __future__ import annotations

import argparse
import enum

NAME = "predict"
HELP = (
    "Predict redshifts for spectra files (sampled 186-pixel tables or Gaia XP_CONTINUOUS "
    "files, or folders of them) into one catalogue; rows are never dropped, see 'flag'."
)


class Engine(enum.Enum):
    """Where the prediction runs."""

    #: This process, streaming the inputs in chunks.
    LOCAL = "local"
    #: A Dask cluster, one task per input partition.
    DASK = "dask"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xpz.inference import Runtime
    from xpz.io.catalog import CATALOG_FORMATS

    parser.add_argument("model", help="model directory (e.g. RUN_DIR/model)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="input files or folders")
    parser.add_argument("-o", "--output", required=True, help="catalogue file")
    from xpz.io.formats import TableFormat

    parser.add_argument(
        "--format",
        choices=[f.value for f in CATALOG_FORMATS],
        help="catalogue format (default: from the suffix; parquet without one)",
    )
    parser.add_argument(
        "--input-format",
        choices=[f.value for f in TableFormat],
        help="input format when the suffix does not tell",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=20_000,
        help="rows read at a time (default 20000; an eighth of that from XP_CONTINUOUS files)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=1024, help="spectra per network batch (default 1024)"
    )
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar"
    )
    parser.add_argument(
        "--runtime",
        choices=[r.value for r in Runtime],
        default=Runtime.TORCH.value,
        help="torch (default) or onnxruntime (MODEL may then be an .onnx file from 'xpz export')",
    )
    parser.add_argument(
        "--engine",
        choices=[e.value for e in Engine],
        default=Engine.LOCAL.value,
        help="local: this process (default); dask: a Dask cluster over one partitioned "
        "Parquet file/folder or HATS catalogue, writing a partitioned output",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler address (default: a local cluster)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="workers of the local Dask cluster (default 2)"
    )


def run(args: argparse.Namespace) -> int:
    from xpz.errors import InputError
    from xpz.inference import format_summary, predict_files
    from xpz.io.atomic import OutputKind, check_output

    if args.chunk_rows < 1 or args.batch_size < 1:
        raise InputError("--chunk-rows and --batch-size must be at least 1")
    engine = Engine(args.engine)
    kind = OutputKind.DIRECTORY if engine is Engine.DASK else OutputKind.FILE
    check_output(args.output, kind, [args.model, *args.inputs])
    if engine is Engine.DASK:
        from xpz.scale.dask_predict import predict_dask

        if len(args.inputs) != 1:
            raise InputError("--engine dask takes one INPUT: Parquet file/folder or HATS catalogue")
        out = predict_dask(
            args.model,
            args.inputs[0],
            args.output,
            scheduler=args.scheduler,
            n_workers=args.workers,
            runtime=args.runtime,
            batch_size=args.batch_size,
            progress=args.progress,
        )
        print(f"wrote {out}")
        return 0
    summary = predict_files(
        args.model,
        args.inputs,
        args.output,
        chunk_rows=args.chunk_rows,
        input_format=args.input_format,
        output_format=args.format,
        batch_size=args.batch_size,
        progress=args.progress,
        runtime=args.runtime,
    )
    print(format_summary(summary))
    return 0
