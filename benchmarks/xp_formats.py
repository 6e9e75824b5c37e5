"""Benchmark: reading Gaia XP_CONTINUOUS files, per file format (sources per second).

The same synthetic sources (:func:`xpz.simulate.xp_archive.xp_archive_frame`)
are written as ``xpz fetch`` writes its batch files (CSV, ECSV, FITS, VOTable,
Parquet; :func:`xpz.io.archive.fetch.write_table`), then read back with
:func:`xpz.io.xp_continuous.read_xp_continuous`; the time is the best of
``--repeat`` reads.  Sampling on the 186 pixels, the same for every format, is
timed once for comparison.  Each file holds 3,080 numbers per source, so the
text formats are dominated by parsing numbers.

Run::

    .venv/bin/python benchmarks/xp_formats.py --n 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def best_seconds(repeat: int, function, *args) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="sources (default: 5000, a batch)")
    parser.add_argument("--repeat", type=int, default=2, help="reads per format, best kept")
    args = parser.parse_args()

    from astropy.table import Table

    from xpz.io.archive.fetch import FETCH_FORMATS, write_table
    from xpz.io.xp_continuous import read_xp_continuous
    from xpz.simulate.xp_archive import xp_archive_frame
    from xpz.xp import xp_to_spectra

    frame = xp_archive_frame(args.n, seed=0)
    table = Table()
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype == object:  # variable-length array cells, as the archive's tables
            cells = np.empty(len(values), dtype=object)
            cells[:] = list(values)
            table[name] = cells
        else:
            table[name] = values
    with tempfile.TemporaryDirectory() as tmp:
        paths = {fmt.value: Path(tmp) / f"xp{fmt.suffix}" for fmt in FETCH_FORMATS}
        for fmt in FETCH_FORMATS:
            write_table(table, paths[fmt.value], fmt)
        print(f"{args.n} sources; read_xp_continuous, best of {args.repeat}")
        rates = {}
        for name, path in paths.items():
            seconds = best_seconds(args.repeat, read_xp_continuous, path)
            rates[name] = args.n / seconds
            size = path.stat().st_size / 1e6
            print(f"{name:8s} {size:8.0f} MB {seconds:8.2f} s {rates[name]:10,.0f} sources/s")
        xp = read_xp_continuous(paths["parquet"])
        seconds = best_seconds(args.repeat, xp_to_spectra, xp)
        print(f"then xp_to_spectra: {seconds:.2f} s, {args.n / seconds:,.0f} sources/s")
        slowest = min(rates, key=rates.__getitem__)
        print(
            "ratios to the slowest format ("
            + slowest
            + "): "
            + ", ".join(f"{k} {v / rates[slowest]:.1f}" for k, v in rates.items())
        )


if __name__ == "__main__":
    main()
