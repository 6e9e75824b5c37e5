"""Throughput of the dissertation's CNN: Conv1d vs Conv2d-channels-last, fp32 vs bf16.

Trains (Adamax, Huber; batch 16 and 256; fp32, and bf16 autocast) and predicts
(batch 1024) with both
:class:`~xpz.models.paper.ConvImpl` implementations of the same model, in the
same run with alternating repeats, and reports the median spectra per second and
the ratio between them.  Absolute numbers depend on the machine and its load;
the ratios are the result.

Usage::

    .venv/bin/python benchmarks/paper_throughput.py [--seconds 3] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from xpz.models.paper import ConvImpl, PaperCNN, PaperConfig


def spectra_per_second(step: Callable[[], None], batch: int, seconds: float) -> float:
    """batch * steps / elapsed over one run of about ``seconds``."""
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        step()
        n += 1
    return batch * n / elapsed


def compare(
    steps: Sequence[Callable[[], None]], batch: int, seconds: float, repeats: int
) -> list[float]:
    """Median spectra/s of each step; repeats alternate between the steps so that
    a change of machine load affects all of them alike."""
    for step in steps:
        step()  # warm-up (allocations, oneDNN primitive cache)
    rates: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for rate, step in zip(rates, steps, strict=True):
            rate.append(spectra_per_second(step, batch, seconds))
    return [statistics.median(r) for r in rates]


#: Keras ``fit`` of the same model at batch 16 (../shared/reference/performance.md), spectra/s.
KERAS_FIT_BS16 = 684


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def training_step(model: PaperCNN, batch: int, bf16: bool = False) -> Callable[[], None]:
    """One Adamax step on random data (forward and loss under bf16 autocast if ``bf16``)."""
    x, z = torch.rand(batch, 1, 186), torch.rand(batch)
    optimizer = torch.optim.Adamax(model.parameters(), lr=1e-3, eps=1e-7)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = model.loss(model(x), z)
        loss.backward()
        optimizer.step()

    return step


def inference_step(model: PaperCNN, batch: int, bf16: bool) -> Callable[[], None]:
    """One forward pass in inference mode, optionally under bf16 autocast."""
    x = torch.rand(batch, 1, 186)
    model.eval()

    def step() -> None:
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            model(x)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"load average: {load_average()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; spectra/s, median")
    impls = (ConvImpl.CONV1D, ConvImpl.CONV2D_CHANNELS_LAST)
    cases: list[tuple[str, Callable[[PaperCNN], Callable[[], None]], int]] = [
        ("train fp32 bs16", lambda m: training_step(m, 16), 16),
        ("train bf16 bs16", lambda m: training_step(m, 16, bf16=True), 16),
        ("train fp32 bs256", lambda m: training_step(m, 256), 256),
        ("infer fp32 bs1024", lambda m: inference_step(m, 1024, bf16=False), 1024),
        ("infer bf16 bs1024", lambda m: inference_step(m, 1024, bf16=True), 1024),
    ]
    print(f"{'case':<20}{'conv1d':>10}{'conv2d_cl':>12}{'ratio':>8}")
    rates: dict[tuple[str, ConvImpl], float] = {}
    for name, make_step, batch in cases:
        steps = [make_step(PaperCNN(PaperConfig(conv_impl=impl))) for impl in impls]
        for impl, rate in zip(
            impls, compare(steps, batch, args.seconds, args.repeats), strict=True
        ):
            rates[name, impl] = rate
        one, two = (rates[name, impl] for impl in impls)
        print(f"{name:<20}{one:>10.0f}{two:>12.0f}{two / one:>8.2f}", flush=True)
    for impl in impls:
        ratio = rates["infer bf16 bs1024", impl] / rates["infer fp32 bs1024", impl]
        print(f"bf16 / fp32 inference, {impl.value}: {ratio:.2f}")
    for impl in impls:
        fp32, bf16 = rates["train fp32 bs16", impl], rates["train bf16 bs16", impl]
        print(
            f"train bs16, {impl.value}: bf16 / fp32 {bf16 / fp32:.2f}; / Keras fit's "
            f"{KERAS_FIT_BS16}: fp32 {fp32 / KERAS_FIT_BS16:.2f}, bf16 {bf16 / KERAS_FIT_BS16:.2f}"
            " (target 1.5)"
        )
    print(f"load average: {load_average()}")


if __name__ == "__main__":
    main()
