"""Where the default model's prediction time goes: scaler, features, head, summarize (quantiles).

Times each step of :func:`xpz.models.modelfile.predict_batches` for 8,192
simulated spectra in one batch (best of 5) and prints torch's profiler table
for one forward pass with ``summarize``.  Run it under ``LD_PRELOAD`` with
tcmalloc or jemalloc to see the allocator's share.

Run:  PYTHONPATH=src python benchmarks/xpz_profile.py MODEL_DIR
"""

from __future__ import annotations

import sys
import time

import torch
import torch.profiler as tp

from xpz.models.modelfile import load_model, model_inputs
from xpz.simulate import simulate


def best(function, repeats: int = 5) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    loaded = load_model(sys.argv[1])
    flux = simulate(8192, seed=1).flux
    net = loaded.model.for_inference()
    x = torch.from_numpy(model_inputs(loaded.scaler, flux, None, 1))
    print(f"8192 spectra, {torch.get_num_threads()} threads; seconds, best of 5")
    print(f"scaler {best(lambda: model_inputs(loaded.scaler, flux, None, 1)):.3f}")
    with torch.inference_mode():
        out, features = net(x), net.features(x)
        print(f"features {best(lambda: net.features(x)):.3f}")
        print(f"head {best(lambda: net.head(features)):.3f}")
        print(f"summarize {best(lambda: net.summarize(out)):.3f}")
        print(
            f"predict_batches (all of it) {best(lambda: loaded.predict(flux, batch_size=8192)):.3f}"
        )
        with tp.profile(activities=[tp.ProfilerActivity.CPU]) as prof:
            net.summarize(net(x))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
