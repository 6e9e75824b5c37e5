"""glibc malloc vs tcmalloc vs jemalloc (``LD_PRELOAD``) for prediction and paper training.

Each allocator runs the same child process: the default ``xpz`` model's
prediction with quantiles (torch and onnxruntime, 16,384 spectra, untrained model
of the preset's architecture) and the paper CNN's training steps at batch 16
(fp32 and bf16 autocast), spectra/s.  The allocators alternate over
``--rounds`` rounds so that a change of load hits them alike; the best of the
rounds is printed with the ratio to glibc.  An allocator whose library is not
installed is skipped (Debian: ``apt-get install libtcmalloc-minimal4 libjemalloc2``).

Run:  PYTHONPATH=src python benchmarks/allocators.py [--rounds 2] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

LIBRARIES = {
    "glibc": None,
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
}

CHILD = """
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import torch
from paper_throughput import spectra_per_second, training_step
from xpz.export import OnnxModel
from xpz.models.modelfile import load_model, save_model
from xpz.models.paper import PaperCNN, PaperConfig
from xpz.models.registry import build_model
from xpz.recipes import Recipe
from xpz.simulate import simulate
seconds = float(sys.argv[1])
flux = simulate(16384, seed=1).flux
recipe = Recipe.from_preset("xpz")
with tempfile.TemporaryDirectory() as tmp:
    model = save_model(Path(tmp) / "m", build_model(recipe.model, seed=0),
                       recipe.make_scaler().fit(flux))
    loaded, onnx = load_model(model), OnnxModel(model)
    rates = {
        "xpz torch": spectra_per_second(lambda: loaded.predict(flux), len(flux), seconds),
        "xpz onnx": spectra_per_second(lambda: onnx.predict(flux), len(flux), seconds),
    }
torch.manual_seed(0)
for bf16 in (False, True):
    step = training_step(PaperCNN(PaperConfig()), 16, bf16=bf16)
    step()
    rates["paper train bs16 " + ("bf16" if bf16 else "fp32")] = spectra_per_second(step, 16, seconds)
print("RATES", json.dumps(rates))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"load average before: {load}")
    found = {k: v for k, v in LIBRARIES.items() if v is None or Path(v).is_file()}
    best: dict[str, dict[str, float]] = {name: {} for name in found}
    for _ in range(args.rounds):
        for name, library in found.items():
            env = dict(os.environ)
            if library:
                env["LD_PRELOAD"] = library
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.seconds), str(Path(__file__).parent)],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            rates = json.loads(out.stdout.split("RATES", 1)[1])
            for case, rate in rates.items():
                best[name][case] = max(best[name].get(case, 0.0), rate)
    cases = list(best["glibc"])
    print(f"spectra/s, best of {args.rounds} rounds; ratio to glibc")
    print(f"{'case':<24}" + "".join(f"{name:>20}" for name in found))
    for case in cases:
        base = best["glibc"][case]
        cells = "".join(f"{best[n][case]:>12.0f} ({best[n][case] / base:4.2f})" for n in found)
        print(f"{case:<24}{cells}")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"load average after: {load}")


if __name__ == "__main__":
    main()
