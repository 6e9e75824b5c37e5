"""``xpz convert``: copy a spectrum table into another format, chunk by chunk.

Reads with :func:`xpz.io.tables.iter_spectra` (all checks of a prediction read:
column names, numbers, duplicate ids; NaN fluxes are kept and flagged) and
writes with :class:`xpz.io.tables.SpectraWriter`, so CSV, Parquet and HDF5 are
converted with memory for one chunk only.  The output appears only when the
whole input was read without error.
"""

from __future__ import annotations

import argparse

NAME = "convert"
HELP = "Convert a spectrum table between CSV, Parquet, FITS, ECSV, HDF5 and VOTable."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xpz.io.formats import TableFormat
    from xpz.io.table_writers import ParquetLayout

    formats = [f.value for f in TableFormat]
    parser.add_argument("input", metavar="INPUT", help="spectrum table to read")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="file to write")
    parser.add_argument(
        "--format", choices=formats, help="output format (default: from OUTPUT's suffix)"
    )
    parser.add_argument(
        "--input-format", choices=formats, help="input format (default: from INPUT's suffix)"
    )
    parser.add_argument(
        "--parquet-layout",
        choices=[layout.value for layout in ParquetLayout],
        default="columns",
        help="Parquet output: 186 flux columns (default) or one list column 'flux'",
    )
    parser.add_argument(
        "--chunk-rows", type=int, default=100_000, metavar="N", help="rows per chunk (100000)"
    )


def run(args: argparse.Namespace) -> int:
    from xpz.errors import XpzError
    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.tables import SpectraWriter, iter_spectra

    check_output(args.output, OutputKind.FILE, [args.input])
    if args.chunk_rows < 1:
        raise XpzError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    chunks = iter_spectra(args.input, args.chunk_rows, args.input_format)
    with SpectraWriter(args.output, args.format, parquet_layout=args.parquet_layout) as writer:
        for chunk in chunks:
            writer.write(chunk)
    print(f"xpz convert: {writer.rows_written} spectra -> {args.output} ({writer.format.value})")
    return 0
