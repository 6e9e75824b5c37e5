"""Benchmark: spectra/s of single-process torch, onnxruntime and Dask with 2 workers.

Same simulated spectra (:func:`xpz.simulate.simulate`) and the same untrained
Table 2 CNN (``PaperConfig()``; inference cost does not depend on training).
In memory: :func:`xpz.inference.predict_spectra` vs
:func:`xpz.inference.predict_spectra` with an :class:`xpz.export.OnnxModel`.  File to file (4 Parquet part files in,
a catalogue out): :func:`xpz.inference.predict_files` vs
:func:`xpz.scale.dask_predict.predict_dask` on a local cluster of 2 worker
processes with 1 thread each (started before timing; the first Dask run
includes loading the model on the workers, the second does not).

Run:  python benchmarks/engines.py [--n 20000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def timed(label: str, n: int, run) -> float:
    start = time.perf_counter()
    run()
    rate = n / (time.perf_counter() - start)
    print(f"{label:<44s} {rate:>10,.0f} spectra/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="spectra (default 20000)")
    args = parser.parse_args()

    import torch
    from distributed import LocalCluster

    from xpz.export import OnnxModel
    from xpz.inference import predict_files, predict_spectra
    from xpz.io.tables import write_spectra
    from xpz.models.modelfile import load_model, save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler
    from xpz.scale.dask_predict import predict_dask
    from xpz.simulate import simulate

    n = args.n
    spectra = simulate(n, seed=0)
    print(
        f"{n} simulated spectra, untrained Table 2 CNN; {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = save_model(
            root / "model", build_model(PaperConfig(), seed=0), MinMaxScaler().fit(spectra.flux)
        )
        parts = root / "in"
        parts.mkdir()
        for i in range(4):
            write_spectra(spectra[i * n // 4 : (i + 1) * n // 4], parts / f"part{i}.parquet")
        loaded, runner = load_model(model), OnnxModel(model)
        predict_spectra(loaded, spectra[:256])  # warm-up
        predict_spectra(runner, spectra[:256])

        print("in memory:")
        torch_rate = timed("  torch, 1 process", n, lambda: predict_spectra(loaded, spectra))
        onnx_rate = timed("  onnxruntime, 1 process", n, lambda: predict_spectra(runner, spectra))
        print("file to file (4 Parquet parts -> catalogue):")
        files = [parts]
        files_rate = timed(
            "  xpz predict (torch)", n, lambda: predict_files(model, files, root / "a.parquet")
        )
        files_onnx = timed(
            "  xpz predict --runtime onnx", n,
            lambda: predict_files(model, files, root / "b.parquet", runtime="onnx"),
        )  # fmt: skip
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:  # fmt: skip
            address = cluster.scheduler_address
            rates = {}
            for runtime in ("torch", "onnx"):
                for run in ("first", "second"):
                    rates[runtime, run] = timed(
                        f"  dask, 2 workers, {runtime} ({run} run)", n,
                        lambda r=runtime: predict_dask(
                            model, parts, root / f"dask_{r}", scheduler=address, runtime=r
                        ),
                    )  # fmt: skip
    print("ratios:")
    print(f"  onnxruntime / torch, in memory:            {onnx_rate / torch_rate:.2f}")
    print(f"  onnx / torch, xpz predict file to file:    {files_onnx / files_rate:.2f}")
    for runtime in ("torch", "onnx"):
        ratio = rates[runtime, "second"] / files_rate
        print(f"  dask 2 workers ({runtime}) / xpz predict (torch): {ratio:.2f}")


if __name__ == "__main__":
    main()
