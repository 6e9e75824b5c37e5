"""``xpz fetch OUT_DIR``: galaxy candidates, or a labelled set, with XP_CONTINUOUS spectra."""

from __future__ import annotations

import argparse

NAME = "fetch"
HELP = (
    "Download Gaia DR3 galaxy candidates that have XP spectra, and their XP_CONTINUOUS "
    "coefficients in batches of at most 5,000; or, with --labels CATALOGUE or --sdss, "
    "cross-match a redshift catalogue with Gaia DR3 into a labelled training table "
    "(resumable; see docs/fetch.md)."
)

#: Options of the candidate fetch that --labels / --sdss do not take.
_CANDIDATE_ONLY = ("where", "upload", "limit", "g_max")


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
        help="cone radius for an ra/dec target list or a --labels catalogue (default: 1 arcsec)",
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
        help="output file format (default: ecsv; parquet with --labels or --sdss)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_label_arguments(parser)


def _add_label_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``--labels`` / ``--sdss``, in their own group."""
    from xpz.io.archive.crossmatch import DEFAULT_CHUNK_ROWS, SeveralSources
    from xpz.io.archive.sdss import DEFAULT_RA_STEP_DEG

    labels = parser.add_argument_group("labelled training sets (docs/fetch.md)")
    source = labels.add_mutually_exclusive_group()
    source.add_argument(
        "--labels",
        metavar="CATALOGUE",
        help="redshift catalogue (FITS/CSV/ECSV/VOTable/Parquet) to cross-match with Gaia DR3",
    )
    source.add_argument(
        "--sdss",
        action="store_true",
        help="build the catalogue from SDSS DR17 galaxies (zWarning = 0, 0 <= z <= 0.6)",
    )
    labels.add_argument(
        "--several-sources",
        choices=[p.value for p in SeveralSources],
        default=SeveralSources.REFUSE.value,
        help="a catalogue row with two or more Gaia sources within the radius: refuse it "
        "(default), or keep the nearest (the table then records n_gaia_sources and "
        "second_separation_arcsec)",
    )
    labels.add_argument("--z-column", default="z", help="redshift column (default: z)")
    labels.add_argument("--ra-column", default="ra", help="RA column, degrees ICRS (default: ra)")
    labels.add_argument("--dec-column", default="dec", help="Dec column, degrees (default: dec)")
    labels.add_argument(
        "--id-column", help="the survey's id column (default: the catalogue row number)"
    )
    labels.add_argument(
        "--carry", nargs="+", default=[], metavar="COL", help="catalogue columns to keep"
    )
    labels.add_argument(
        "--chunk-rows",
        type=int,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"catalogue rows per cross-match upload (default: {DEFAULT_CHUNK_ROWS})",
    )
    labels.add_argument(
        "--ra-step",
        type=float,
        default=DEFAULT_RA_STEP_DEG,
        metavar="DEG",
        help=f"with --sdss: RA stripe per SkyServer query (default: {DEFAULT_RA_STEP_DEG:g})",
    )


def run(args: argparse.Namespace) -> int:
    if args.labels or args.sdss:
        return _run_labels(args)
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
        format=TableFormat(args.format or "ecsv"),
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


def _run_labels(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xpz.errors import InputError
    from xpz.io.archive.crossmatch import SeveralSources
    from xpz.io.archive.labelled import fetch_labels
    from xpz.io.archive.retry import DEFAULT_RETRY
    from xpz.io.archive.sdss import SDSS_LABEL_COLUMNS, fetch_sdss
    from xpz.io.archive.survey import LabelColumns
    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.formats import TableFormat

    given = [f"--{n.replace('_', '-')}" for n in _CANDIDATE_ONLY if getattr(args, n) is not None]
    if given:
        raise InputError(f"{', '.join(given)} select galaxy candidates; not with --labels/--sdss")
    check_output(args.out_dir, OutputKind.DIRECTORY, [args.labels] if args.labels else [])
    fmt = TableFormat(args.format or "parquet")
    progress = not args.no_progress
    if args.sdss:
        out = Path(args.out_dir)
        catalogue, request = fetch_sdss(
            out, None, fmt, DEFAULT_RETRY, ra_step_deg=args.ra_step, progress=progress
        )
        columns = SDSS_LABEL_COLUMNS
    else:
        catalogue, request = Path(args.labels), None
        try:
            columns = LabelColumns(
                z=args.z_column,
                ra=args.ra_column,
                dec=args.dec_column,
                id=args.id_column,
                carry=tuple(args.carry),
            )
        except ValueError as err:
            raise InputError(str(err)) from err
    result = fetch_labels(
        args.out_dir,
        catalogue,
        columns,
        match_radius_arcsec=args.match_radius,
        chunk_rows=args.chunk_rows,
        batch_size=args.batch_size,
        format=fmt,
        progress=progress,
        catalogue_request=request,
        several_sources=SeveralSources(args.several_sources),
    )
    refused = ", ".join(f"{k} {v}" for k, v in result.counts.items() if k != "matched" and v)
    print(
        f"{result.n_labelled} labelled spectra of {result.n_catalogue} catalogue rows in "
        f"{result.labelled}; refused: {refused or 'none'} (each row in {result.unmatched}); "
        f"manifest {result.manifest}"
    )
    return 0
