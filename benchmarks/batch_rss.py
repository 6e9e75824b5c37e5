"""Peak RSS and rows/s of predict_files on a 40,000-row sampled file, batch 1024 vs 4096, torch and onnx.

Uses the child of benchmarks/throughput.py (a fresh process per run) and the
model given as the first argument.

Run:  PYTHONPATH=src python benchmarks/batch_rss.py MODEL_DIR
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, "benchmarks")
from throughput import CHILD

from xpz.io.tables import SpectraWriter
from xpz.simulate import simulate

src = Path(tempfile.mkdtemp()) / "s40k.parquet"
if not src.exists():
    with SpectraWriter(src) as w:
        for start in (0, 20000):
            p = simulate(20000, seed=start)
            w.write(p.replace(source_id=np.arange(start, start + 20000)))
for runtime in ("torch", "onnx"):
    for batch in (1024, 4096):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                sys.argv[1],
                str(src),
                str(src.with_name("c.parquet")),
                runtime,
                "0",
                str(batch),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows, s, peak = out.stdout.split("RESULT")[1].split()
        print(
            runtime,
            batch,
            f"{int(rows) / float(s):.0f} rows/s peak {int(peak) / 2**20:.2f} GiB",
            flush=True,
        )
