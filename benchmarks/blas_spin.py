"""Why ``xpz predict`` runs NumPy's BLAS on one thread: idle OpenBLAS workers spin beside torch.

Runs the default model on one chunk of simulated spectra, 16 times, after (a)
nothing, (b) a NumPy matrix product of the size of one XP conversion chunk,
(c) the same product inside :func:`xpz.accelerator.one_blas_thread`, and prints
the model's spectra/s in each case.  After a product, OpenBLAS keeps its worker
threads spinning for a while, and torch's threads share the cores with them.

Run:  PYTHONPATH=src python benchmarks/blas_spin.py [MODEL] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xpz.accelerator import one_blas_thread
from xpz.models.modelfile import load_model
from xpz.simulate import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="default")
    parser.add_argument("--chunk", type=int, default=2500, help="spectra per model call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    loaded = load_model(args.model)
    flux = simulate(args.chunk, seed=1).flux
    coefficients = np.random.default_rng(0).normal(size=(args.chunk, 110))
    design = np.random.default_rng(1).normal(size=(110, 186))

    def product() -> None:
        coefficients @ design  # the flux product of one XP conversion chunk

    def product_on_one_thread() -> None:
        with one_blas_thread():
            product()

    cases = {"after nothing": lambda: None, "after a NumPy product": product}
    cases["after the product on one BLAS thread"] = product_on_one_thread
    rates: dict[str, list[float]] = {name: [] for name in cases}
    loaded.predict(flux, batch_size=1024, pdf=False)
    for _ in range(args.rounds):  # alternate, so that a change of load hits all cases
        for name, before in cases.items():
            seconds = 0.0
            for _ in range(16):
                before()
                start = time.perf_counter()
                loaded.predict(flux, batch_size=1024, pdf=False)
                seconds += time.perf_counter() - start
            rates[name].append(16 * args.chunk / seconds)
    base = max(rates["after nothing"])
    print(f"model {args.model}, {args.chunk} spectra per call; spectra/s, best of {args.rounds}")
    for name, values in rates.items():
        print(f"  {name:<40} {max(values):>8,.0f}  {max(values) / base:.2f}x")


if __name__ == "__main__":
    main()
