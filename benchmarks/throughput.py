"""Throughput where users wait (issue #18): models in memory, ``xpz predict`` file to catalogue, XP conversion.

In one run, on the same simulated spectra:

(a) the paper CNN in torch (its forward pass, and scaled prediction);
(b) the default ``xpz`` model in torch with its quantiles (fp32, and bf16 autocast);
(c) the default model in onnxruntime with its quantiles (fp32, and int8 dynamic
    quantisation of its weights), over a sweep of batch sizes and threads;
(d) ``xpz predict`` file to catalogue (:func:`xpz.inference.predict_files`, the
    code path of the command, in a fresh process per run, with its peak RSS) on a
    ``--n-files`` source XP_CONTINUOUS Parquet file (:mod:`xpz.simulate.xp_archive`)
    and a sampled Parquet file of as many rows (:func:`xpz.simulate.simulate`),
    with and without reading the next chunk ahead;
(e) XP conversion with and without errors against ``gaiaxpy.convert``
    (the functions of ``benchmarks/xp_conversion.py``).

The in-memory cases alternate their repeats so that a change of load hits all
alike; the load average is printed before and after.  Models: ``--model DIR``
(a trained default model, also used for the accuracy of the reduced precisions
on ``--n-accuracy`` held-out simulated spectra) and ``--paper-model DIR``, or
untrained models of the presets' architectures (the cost is the architecture's;
accuracy is then not measured).

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/throughput.py --model RUN/best
    PYTHONPATH=src .venv/bin/python benchmarks/throughput.py --n-files 20000   # quick
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # the sibling benchmark modules

from paper_throughput import compare  # noqa: E402

#: Measured peak of the two cores here (../shared/reference/performance.md), FLOP/s.
PEAK_FP32 = 231e9
PEAK_BF16 = 462e9

CHILD = """
import sys, time
from xpz.inference import predict_files
model, source, out, runtime, ahead, batch = sys.argv[1:7]
start = time.perf_counter()
summary = predict_files(model, [source], out, runtime=runtime, read_ahead=int(ahead),
                        batch_size=int(batch))
seconds = time.perf_counter() - start
peak = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print("RESULT", summary.rows, seconds, peak)
"""


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def make_models(args, root: Path, flux: np.ndarray) -> tuple[Path, Path]:
    """(paper model dir, default model dir): the given ones, or untrained ones of the presets."""
    from xpz.models.modelfile import save_model
    from xpz.models.registry import build_model
    from xpz.recipes import Recipe

    dirs = []
    for given, preset in ((args.paper_model, "paper"), (args.model, "xpz")):
        if given:
            dirs.append(Path(given))
            continue
        recipe = Recipe.from_preset(preset)
        model = build_model(recipe.model, seed=0)
        dirs.append(save_model(root / preset, model, recipe.make_scaler().fit(flux)))
    return dirs[0], dirs[1]


def int8_model(model_dir: Path, root: Path) -> Path:
    """The default model's ONNX file with its weights quantised to int8 (dynamic activations)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from xpz.export import export_onnx

    fp32 = export_onnx(model_dir, root / "xpz.onnx")
    quantize_dynamic(str(fp32), str(root / "xpz_int8.onnx"), weight_type=QuantType.QInt8)
    return root / "xpz_int8.onnx"


def _with_onnx_metadata(quantised: Path, original: Path) -> None:
    """Copy the xpz metadata onto a quantised graph (the quantiser keeps it; checked here)."""
    import onnx

    proto, reference = onnx.load(str(quantised)), onnx.load(str(original))
    if {p.key for p in proto.metadata_props} != {p.key for p in reference.metadata_props}:
        onnx.helper.set_model_props(proto, {p.key: p.value for p in reference.metadata_props})
        onnx.save(proto, str(quantised))


def bf16(predict: Callable[..., dict]) -> Callable[..., dict]:
    """``predict`` under CPU bf16 autocast (the quantiles stay float64: summarize() casts)."""
    import torch

    def run(*args, **kwargs) -> dict:
        with torch.autocast("cpu", torch.bfloat16):
            return predict(*args, **kwargs)

    return run


def in_memory(args, paper_dir: Path, xpz_dir: Path, root: Path, flux: np.ndarray) -> dict:
    """Spectra/s of each model and runtime on ``flux``; the best batch size per runtime."""
    import torch

    from xpz.export import OnnxModel
    from xpz.models.modelfile import load_model
    from xpz.models.xpznet import multiply_adds

    paper, xpz = load_model(paper_dir), load_model(xpz_dir)
    net = paper.model.for_inference()
    x = torch.from_numpy(paper.scaler.transform(flux[:1024]).astype(np.float32)[:, None])

    def paper_forward() -> None:
        with torch.inference_mode():
            net(x)

    quantised = int8_model(xpz_dir, root)
    _with_onnx_metadata(quantised, root / "xpz.onnx")
    onnx32, onnx8 = OnnxModel(root / "xpz.onnx"), OnnxModel(quantised)
    n, sizes = len(flux), args.batch_sizes
    print(f"\n(a)-(c) in memory, {n} spectra per call, quantiles included for the xpz model")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; spectra/s, median")
    sweep: dict[str, Callable[[int], Callable[[], None]]] = {
        "xpz torch fp32": lambda b: lambda: xpz.predict(flux, batch_size=b),
        "xpz torch bf16": lambda b: lambda: bf16(xpz.predict)(flux, batch_size=b),
        "xpz onnx fp32": lambda b: lambda: onnx32.predict(flux, batch_size=b),
        "xpz onnx int8": lambda b: lambda: onnx8.predict(flux, batch_size=b),
    }
    rates: dict[str, float] = {}
    best_batch: dict[str, int] = {}
    for name, make in sweep.items():
        found = compare([make(b) for b in sizes], n, args.seconds, args.repeats)
        rates |= {f"{name} bs{b}": r for b, r in zip(sizes, found, strict=True)}
        best_batch[name] = sizes[int(np.argmax(found))]
        row = "  ".join(f"bs{b} {r:>7.0f}" for b, r in zip(sizes, found, strict=True))
        print(f"  {name:<16} {row}", flush=True)
    steps = {
        "paper torch forward bs1024": (paper_forward, 1024),
        "paper torch predict": (lambda: paper.predict(flux, batch_size=1024), n),
        **{f"{k} (best batch)": (sweep[k](best_batch[k]), n) for k in sweep},
    }
    print("  side by side, alternating repeats:")
    for name, (step, batch) in steps.items():
        rates[name] = compare([step], batch, args.seconds, args.repeats)[0]
    for name in steps:
        print(f"  {name:<34} {rates[name]:>9.0f}")
    flops = 2 * multiply_adds(xpz.model.config)  # the loaded model: every member of an ensemble
    print(f"  xpz model: {flops / 1e6:.2f} MFLOP per spectrum; FLOP limit here "
          f"{PEAK_FP32 / flops:,.0f}/s fp32, {PEAK_BF16 / flops:,.0f}/s bf16")  # fmt: skip
    threads(args, xpz, onnx32, flux, best_batch, rates)
    return {"rates": rates, "best_batch": best_batch, "flops": flops}


def threads(args, xpz, onnx32, flux: np.ndarray, best: dict[str, int], rates: dict) -> None:
    """Spectra/s with 1 and 2 threads, torch and onnxruntime fp32."""
    import torch

    from xpz.export import OnnxModel

    one = OnnxModel(onnx32.path, threads=1)
    default = torch.get_num_threads()

    def torch_with(n: int) -> Callable[[], None]:
        def step() -> None:
            torch.set_num_threads(n)
            try:
                xpz.predict(flux, batch_size=best["xpz torch fp32"])
            finally:
                torch.set_num_threads(default)

        return step

    b = best["xpz onnx fp32"]
    found = compare(
        [torch_with(1), torch_with(default), lambda: one.predict(flux, batch_size=b),
         lambda: onnx32.predict(flux, batch_size=b)],
        len(flux), args.seconds, args.repeats,
    )  # fmt: skip
    print(f"  threads: torch 1 {found[0]:.0f}, {default} {found[1]:.0f}; "
          f"onnxruntime 1 {found[2]:.0f}, all (default) {found[3]:.0f}")  # fmt: skip
    rates["torch 1 thread"], rates["onnx 1 thread"] = found[0], found[2]


def accuracy(xpz_dir: Path, root: Path, n: int) -> dict[str, tuple[float, float, float]]:
    """(MAE, 68% coverage, 95% coverage) of each precision on ``n`` held-out simulated spectra."""
    from xpz.export import OnnxModel
    from xpz.models.modelfile import load_model
    from xpz.simulate import simulate

    test = simulate(n, seed=12345)  # not the demo's seed-0 data
    xpz = load_model(xpz_dir)
    runs = {
        "torch fp32": xpz.predict(test.flux),
        "torch bf16": bf16(xpz.predict)(test.flux),
        "onnx fp32": OnnxModel(root / "xpz.onnx").predict(test.flux),
        "onnx int8": OnnxModel(root / "xpz_int8.onnx").predict(test.flux),
    }
    z = test.z
    assert z is not None
    out = {}
    for name, r in runs.items():
        mae = float(np.mean(np.abs(r["z_pred"] - z)))
        c68 = float(np.mean((r["z_q16"] <= z) & (z <= r["z_q84"])))
        c95 = float(np.mean((r["z_q025"] <= z) & (z <= r["z_q975"])))
        out[name] = (mae, c68, c95)
    print(f"\naccuracy of the trained model on {n} held-out simulated spectra (seed 12345):")
    mae0, c68_0, c95_0 = out["torch fp32"]
    for name, (mae, c68, c95) in out.items():
        keep = abs(mae / mae0 - 1) < 0.01 and max(abs(c68 - c68_0), abs(c95 - c95_0)) < 0.005
        print(f"  {name:<11} MAE {mae:.5f} ({100 * (mae / mae0 - 1):+.2f}%)  "
              f"coverage 68% {100 * c68:.2f} ({100 * (c68 - c68_0):+.2f})  "
              f"95% {100 * c95:.2f} ({100 * (c95 - c95_0):+.2f})  "
              f"{'within' if keep else 'OUTSIDE'} 1% MAE / 0.5 points")  # fmt: skip
    return out


def files(args, xpz_dir: Path, root: Path, batch: dict[str, int]) -> dict[str, tuple]:
    """``predict_files`` on the XP and sampled files: (rows/s, peak RSS GiB) per case."""
    from xpz.io.tables import SpectraWriter
    from xpz.simulate import simulate
    from xpz.simulate.xp_archive import write_xp_archive_parquet

    n = args.n_files
    xp_file, sampled = root / "xp.parquet", root / "sampled.parquet"
    if "xp" in args.file_kinds:
        write_xp_archive_parquet(xp_file, n, seed=0)
    with SpectraWriter(sampled) as writer:
        for start in range(0, n, 50_000):
            part = simulate(min(50_000, n - start), seed=start)
            writer.write(part.replace(source_id=np.arange(start, start + len(part))))
    print(f"\n(d) xpz predict file to catalogue (predict_files in a fresh process; "
          f"time from the call, model loading included), {n:,} rows each")  # fmt: skip
    results = {}
    kinds = {"xp": ("XP_CONTINUOUS", xp_file), "sampled": ("sampled", sampled)}
    for label, source in (kinds[k] for k in args.file_kinds):
        for runtime in ("torch", "onnx"):
            b = batch[f"xpz {runtime} fp32"]
            for ahead in (0, 1):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(xpz_dir), str(source),
                     str(root / "cat.parquet"), runtime, str(ahead), str(b)],
                    capture_output=True, text=True,
                )  # fmt: skip
                if out.returncode:
                    raise SystemExit(f"xpz predict failed:\n{out.stderr}")
                rows, seconds, peak = out.stdout.split("RESULT")[1].split()
                rate, gib = int(rows) / float(seconds), int(peak) / 2**20
                results[label, runtime, ahead] = (rate, gib)
                print(f"  {label:<14} {runtime:<6} read-ahead {ahead}: {rate:>8,.0f} rows/s, "
                      f"peak RSS {gib:.2f} GiB", flush=True)  # fmt: skip
    return results


def conversion(args) -> dict[str, float]:
    """Seconds of xpz with and without errors, GaiaXPy, and the float64 floor."""
    from xp_conversion import (
        best_of,
        correlation_read_seconds,
        gaiaxpy_convert,
        pair_pass_seconds,
        variance_product_seconds,
        xpz_convert,
        xpz_convert_fluxes,
    )

    from xpz.layout import default_layout
    from xpz.simulate.xp_archive import xp_archive_frame

    n, repeat = args.n_conversion, args.repeats
    frame = xp_archive_frame(n, 0)
    layout = default_layout()
    sampling = np.sort(np.concatenate([layout.bp_pwl, layout.rp_pwl]))
    _, with_errors = best_of(repeat, xpz_convert, frame)
    _, without = best_of(repeat, xpz_convert_fluxes, frame)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        _, gaiaxpy = best_of(repeat, gaiaxpy_convert, frame, sampling)  # without its progress bars
    floor = (
        correlation_read_seconds(frame, repeat)
        + pair_pass_seconds(n, repeat, np.float64)
        + variance_product_seconds(n, repeat, np.float64)
    )
    print(f"\n(e) XP conversion of {n} sources, best of {repeat} (xp_conversion.py's functions)")
    for name, s in (("xpz with errors", with_errors), ("xpz errors=False", without),
                    ("gaiaxpy.convert", gaiaxpy), ("float64 floor", floor)):  # fmt: skip
        print(f"  {name:<17} {s:7.3f} s {n / s:>10,.0f} spectra/s")
    return {"with": with_errors, "without": without, "gaiaxpy": gaiaxpy, "floor": floor}


def targets(memory: dict, file_rates: dict, conv: dict) -> None:
    """The issue's targets, met or not."""
    r = memory["rates"]
    rows = []
    if r:
        paper = r["paper torch forward bs1024"]
        names = [k for k in r if k.startswith("xpz ") and k.endswith("(best batch)")]
        best = max(names, key=lambda k: r[k])
        limit = (PEAK_BF16 if "bf16" in best else PEAK_FP32) / memory["flops"]
        rows += [
            (f"default model in memory, best ({best}) / paper CNN forward", r[best] / paper, 30),
            (f"default model: share of its FLOP limit ({limit:,.0f}/s)", r[best] / limit, 0.5),
        ]
    if file_rates:
        for label, target in (("sampled", 20_000), ("XP_CONTINUOUS", 15_000)):
            found = [v[0] for k, v in file_rates.items() if k[0] == label]
            if found:
                rows.append((f"xpz predict, {label} rows/s (best case)", max(found), target))
        peak = max(v[1] for v in file_rates.values())
        rows.append(("xpz predict, peak RSS GiB (all cases), at most", peak, 1.0))
    if conv:
        rows += [
            ("conversion without errors / gaiaxpy.convert", conv["gaiaxpy"] / conv["without"], 50),
            ("conversion with errors / float64 floor, at most", conv["with"] / conv["floor"], 1.3),
        ]
    print("\ntargets of issue #18:")
    for name, value, target in rows:
        met = value <= target if "at most" in name else value >= target
        print(f"  {name:<66} {value:>9.2f}  target {target:g}: {'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained default (xpz) model directory")
    parser.add_argument("--paper-model", help="a paper model directory (default: untrained)")
    parser.add_argument("--n", type=int, default=16_384, help="spectra in memory")
    parser.add_argument("--n-files", type=int, default=200_000, help="rows of each file (d)")
    parser.add_argument("--n-conversion", type=int, default=10_000, help="sources for (e)")
    parser.add_argument("--n-accuracy", type=int, default=20_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["memory", "files", "conversion"])
    parser.add_argument(
        "--file-kinds", nargs="+", default=["xp", "sampled"], choices=["xp", "sampled"]
    )
    args = parser.parse_args()

    from xpz.simulate import simulate

    print(f"load average before: {load_average()} (2 cores)")
    flux = simulate(args.n, seed=1).flux
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paper_dir, xpz_dir = make_models(args, root, flux)
        trained = "trained" if args.model else "untrained (speed only)"
        print(f"models: paper {paper_dir}, xpz {xpz_dir} ({trained})")
        start = time.perf_counter()
        if "memory" in args.skip:  # batch 1024: the default, and the best of the sweep
            batch = {"xpz torch fp32": 1024, "xpz onnx fp32": 1024}
            memory = {"rates": {}, "best_batch": batch}
        else:
            memory = in_memory(args, paper_dir, xpz_dir, root, flux)
        if args.model and "memory" not in args.skip:
            accuracy(xpz_dir, root, args.n_accuracy)
        file_rates = (
            {} if "files" in args.skip else files(args, xpz_dir, root, memory["best_batch"])
        )
    conv = {} if "conversion" in args.skip else conversion(args)
    r = memory["rates"]
    if r:
        paper = r["paper torch forward bs1024"]
        print("\nratios to the paper CNN's forward pass in torch (same run):")
        for name in [k for k in r if k.endswith("(best batch)") or k == "paper torch predict"]:
            print(f"  {name:<34} {r[name] / paper:6.1f}x")
    targets(memory, file_rates, conv)
    print(f"load average after: {load_average()}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
