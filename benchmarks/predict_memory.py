"""Peak memory of ``xpz predict`` streaming a large Parquet file, per chunk size.

Writes ``--n`` random 186-pixel spectra (with ``--xp``: Gaia XP_CONTINUOUS
solutions, 3,080 values per source, in the archive's columns) to a temporary
Parquet file, saves a tiny model, then runs ``xpz predict`` in a fresh process
for each ``--chunk-rows`` value and prints its peak resident memory (VmHWM) and
time.

Run:  python benchmarks/predict_memory.py [--n 2000000] [--chunk-rows 100000 20000]
      python benchmarks/predict_memory.py --xp --n 200000 --chunk-rows 20000 5000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = """
import sys
from xpz.cli import main
rc = main(["predict", sys.argv[1], sys.argv[2], "-o", sys.argv[3], "--no-progress",
           "--chunk-rows", sys.argv[4]])
print("VMHWM_KB", open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
sys.exit(rc)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000, help="rows (default 2,000,000)")
    parser.add_argument("--chunk-rows", type=int, nargs="+", default=[100_000, 20_000])
    parser.add_argument("--xp", action="store_true", help="XP_CONTINUOUS input")
    args = parser.parse_args()

    from xpz.io.tables import SpectraWriter
    from xpz.models.modelfile import save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler
    from xpz.simulate.xp_archive import write_xp_archive_parquet
    from xpz.spectra import Spectra

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "big.parquet"
        if args.xp:
            write_xp_archive_parquet(source, args.n, seed=0)
        else:
            with SpectraWriter(source) as writer:
                for start in range(0, args.n, 100_000):
                    rows = min(100_000, args.n - start)
                    flux = rng.normal(5.0, 1.0, size=(rows, 186)).astype(np.float32)
                    writer.write(Spectra(flux=flux, source_id=np.arange(start, start + rows)))
        tiny = PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,))
        scaler = MinMaxScaler().fit(rng.normal(5.0, 1.0, size=(1000, 186)))
        model = save_model(root / "model", build_model(tiny, seed=0), scaler)
        size_gb = source.stat().st_size / 1e9
        kind = "XP_CONTINUOUS" if args.xp else "sampled"
        print(f"{args.n:,} rows, {size_gb:.2f} GB {kind} Parquet; tiny model")
        for chunk in args.chunk_rows:
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(model), str(source), str(root / "c.parquet"),
                 str(chunk)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            peak = int(out.stdout.split("VMHWM_KB")[1].split()[0]) / 2**20
            seconds = time.perf_counter() - start
            print(f"--chunk-rows {chunk:>7,}: peak RSS {peak:.2f} GiB, {seconds:.0f} s")


if __name__ == "__main__":
    main()
