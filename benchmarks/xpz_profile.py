"""Where the default model's prediction time goes: scaler, network, summarize (quantiles), OOD score.

Times each step of :func:`xpz.models.modelfile.predict_batches` for
``--n`` simulated spectra in batches of ``--batch-size`` (best of 5), for any
distributional model (one XpzNet or an ensemble), and prints torch's profiler
table for the whole of it.  Run it under ``LD_PRELOAD`` with tcmalloc or
jemalloc to see the allocator's share.

Run:  PYTHONPATH=src python benchmarks/xpz_profile.py MODEL_DIR [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.profiler as tp

from xpz.models.modelfile import load_model, model_inputs
from xpz.models.ood import ood_statistics
from xpz.simulate import simulate


def best(function, repeats: int = 5) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def batched(step, x: torch.Tensor, batch_size: int):
    """``step`` over ``x`` in batches, as predict_batches runs it."""
    return lambda: [step(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    loaded = load_model(args.model)
    flux = simulate(args.n, seed=1).flux
    net, stats = loaded.inference_model(), ood_statistics(loaded.model)
    x = torch.from_numpy(model_inputs(loaded.scaler, flux, None, net.input_channels))
    b = args.batch_size
    print(f"{loaded.model.kind}, {args.n} spectra in batches of {b}, "
          f"{torch.get_num_threads()} threads; seconds, best of 5")  # fmt: skip
    total = best(lambda: loaded.predict(flux, batch_size=b))
    with torch.inference_mode():
        output, embedding = net.forward_with_embedding(x)
        steps = {
            "scaler (model_inputs)": lambda: model_inputs(loaded.scaler, flux, None, 1),
            "network (forward_with_embedding)": batched(net.forward_with_embedding, x, b),
            "summarize (PDF, quantiles)": batched(net.summarize, output, b),
        }
        if stats is not None:
            steps["ood_score"] = lambda: [
                stats(x[i : i + b], embedding[i : i + b]) for i in range(0, len(x), b)
            ]
        for name, step in steps.items():
            seconds = best(step)
            print(f"  {name:<34} {seconds:6.3f}  {seconds / total:5.1%}")
        print(
            f"  {'predict_batches (all of it)':<34} {total:6.3f}  {args.n / total:,.0f} spectra/s"
        )
        with tp.profile(activities=[tp.ProfilerActivity.CPU]) as prof:
            loaded.predict(flux, batch_size=b)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=16))


if __name__ == "__main__":
    main()
