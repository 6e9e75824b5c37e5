"""Where ``xpz predict`` spends its time on XP_CONTINUOUS Parquet: reading, conversion, the model.

Runs the steps of :func:`xpz.inference.predict_files` one after the other on
one thread of the program (no read-ahead), chunk by chunk as ``xpz predict``
reads them, for a model that reads fluxes only (the shipped default model):
reading the coefficients (:func:`xpz.io.xp_continuous.iter_xp_continuous`
without errors), the conversion to 186 pixels (:func:`xpz.xp.xp_to_spectra`)
and the model with its quantiles, OOD score and flags
(:func:`xpz.inference.predict_spectra`).  Prints each step's seconds, share
and rate, and how many of the file's bytes per source were read.  The file is ``--file``, or a simulated archive file of ``--n``
sources (:func:`xpz.simulate.xp_archive.write_xp_archive_parquet`).

Run:  PYTHONPATH=src python benchmarks/predict_stages.py [--model default] [--n 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from xpz.accelerator import one_blas_thread
from xpz.inference import predict_spectra
from xpz.io.xp_continuous import iter_xp_continuous, read_columns
from xpz.models.modelfile import load_model
from xpz.simulate.xp_archive import write_xp_archive_parquet
from xpz.xp import xp_to_spectra


def stage_seconds(model: str, path: Path, chunk_rows: int) -> tuple[int, dict[str, float]]:
    """Rows, and seconds of each step over the whole file."""
    loaded = load_model(model)
    seconds = dict.fromkeys(("reading", "conversion", "model"), 0.0)
    rows = 0
    with one_blas_thread():  # as xpz predict runs
        chunks = iter_xp_continuous(path, chunk_rows=chunk_rows, errors=False)
        while True:
            start = time.perf_counter()
            xp = next(chunks, None)
            if xp is None:
                break
            read = time.perf_counter()
            spectra = xp_to_spectra(xp, errors=False)
            converted = time.perf_counter()
            predict_spectra(loaded, spectra)
            seconds["reading"] += read - start
            seconds["conversion"] += converted - read
            seconds["model"] += time.perf_counter() - converted
            rows += len(spectra)
    return rows, seconds


def bytes_per_source(path: Path, columns: list[str]) -> tuple[float, float]:
    """Compressed bytes per source of ``columns`` and of the whole file (Parquet metadata)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    wanted, total = 0, 0
    for group in range(meta.num_row_groups):
        for i in range(meta.num_columns):
            chunk = meta.row_group(group).column(i)
            total += chunk.total_compressed_size
            if chunk.path_in_schema.split(".")[0] in columns:
                wanted += chunk.total_compressed_size
    return wanted / meta.num_rows, total / meta.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--file", type=Path, help="an XP_CONTINUOUS Parquet file")
    parser.add_argument("--n", type=int, default=200_000, help="sources of the simulated file")
    parser.add_argument("--chunk-rows", type=int, default=20_000, help="as xpz predict reads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / "xp.parquet"
            write_xp_archive_parquet(path, args.n, seed=0)
        rows, seconds = stage_seconds(args.model, path, args.chunk_rows)
        read, whole = bytes_per_source(path, read_columns(errors=False))
    total = sum(seconds.values())
    print(f"{rows:,} XP_CONTINUOUS sources, model {args.model}, chunks of {args.chunk_rows:,}")
    for name, s in seconds.items():
        print(f"  {name:<11} {s:6.2f} s  {s / total:4.0%}  {rows / s:>10,.0f} sources/s")
    print(f"  {'all three':<11} {total:6.2f} s        {rows / total:>10,.0f} sources/s")
    print(f"  read {read:,.0f} of the {whole:,.0f} bytes per source of the file (compressed)")


if __name__ == "__main__":
    main()
