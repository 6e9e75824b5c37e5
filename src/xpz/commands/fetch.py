"""``xpz fetch OUT_DIR``: galaxy candidates and their XP_CONTINUOUS spectra from the Gaia archive."""

from __future__ import annotations

import argparse

NAME = "fetch"
HELP = (
    "Download Gaia DR3 galaxy candidates that have XP spectra, and their XP_CONTINUOUS "
    "coefficients in batches of at most 5,000 (resumable; see docs/fetch.md)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xpz.io.archive.fetch import FETCH_FORMATS

    parser.add_argument("out_dir", metavar="OUT_DIR", help="output directory (created if needed)")
    parser.add_argument(
        "--where",
        metavar="ADQL",
        help="extra ADQL condition; g. = gaiadr3.galaxy_candidates, s. = gaiadr3.gaia_source",
    )
    parser.add_argument(
        "--upload",
        metavar="FILE",
        help="target list (CSV/ECSV/FITS/VOTable) with a source_id column or ra, dec in degrees",
    )
    parser.add_argument(
        "--match-radius",
        type=float,
        default=1.0,
        metavar="ARCSEC",
        help="cone radius for an ra/dec target list (default: 1 arcsec)",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="at most N candidates")
    parser.add_argument("--g-max", type=float, metavar="G", help="faint limit in G (mag)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=5000,
        metavar="N",
        help="source ids per XP_CONTINUOUS download, at most 5000 (default: 5000)",
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in FETCH_FORMATS],
        default="ecsv",
        help="output file format (default: ecsv)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from xpz.io.archive.fetch import fetch
    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.formats import TableFormat

    check_output(args.out_dir, OutputKind.DIRECTORY, [args.upload] if args.upload else [])
    result = fetch(
        args.out_dir,
        where=args.where,
        upload=args.upload,
        limit=args.limit,
        g_max=args.g_max,
        batch_size=args.batch_size,
        format=TableFormat(args.format),
        progress=not args.no_progress,
        match_radius_arcsec=args.match_radius,
    )
    print(
        f"{result.n_candidates} candidates in {result.candidates}; "
        f"{len(result.batches)} XP_CONTINUOUS batch files "
        f"({result.n_downloaded} downloaded, {result.n_skipped} already present); "
        f"manifest {result.manifest}"
    )
    return 0
