"""``xpz compare PREDICTIONS... CANDIDATES -o OUT_DIR``: xpz's redshifts against Gaia DR3's UGC."""

from __future__ import annotations

import argparse

NAME = "compare"
HELP = (
    "Compare xpz predict catalogues with the UGC redshifts (redshift_ugc and its interval) "
    "of xpz fetch's candidate table: scatter, bias, share inside the UGC interval, a 2-D "
    "histogram; writes a markdown + JSON + PNG report (see docs/fetch.md)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "predictions", nargs="+", metavar="PREDICTIONS", help="catalogue(s) of xpz predict"
    )
    parser.add_argument(
        "candidates", metavar="CANDIDATES", help="candidates table of xpz fetch (candidates.ecsv)"
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="report directory")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xpz.evaluation.ugc import compare_files, write_ugc_report
    from xpz.io.atomic import OutputKind, check_output

    check_output(args.output, OutputKind.DIRECTORY, [*args.predictions, args.candidates])
    comparison = compare_files(args.predictions, args.candidates)
    inputs = {
        "predictions": [Path(p).name for p in args.predictions],
        "candidates": Path(args.candidates).name,
    }
    paths = write_ugc_report(comparison, args.output, inputs)
    c, m = comparison.counts, comparison.metrics
    print(
        f"{c['compared']} sources compared ({c['matched']} in both files); "
        f"sigma_NMAD {m['sigma_nmad']:.4f}, bias {m['bias']:+.4f}, "
        f"inside the UGC interval {m['inside_ugc_interval']:.1%}; report {paths['markdown']}"
    )
    return 0
