"""Benchmark: simulate the dissertation's data-set size and write it with ``xpz simulate``.

Also reports the accuracy a simple model reaches on the default data (kNN on
PCA of normalised flux), for comparison with the dissertation's test MAE 0.021.

Run:  python benchmarks/simulate.py [--n 520393] [--baseline-n 60000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def time_simulation(n: int) -> None:
    from xpz.cli import main
    from xpz.simulate import simulate

    start = time.perf_counter()
    spectra = simulate(n, seed=0)
    in_memory = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        main(["simulate", "-n", str(n), "--seed", "0", "-o", str(Path(tmp) / "sim.parquet")])
        command = time.perf_counter() - start
    print(f"simulate({n}) in memory: {in_memory:.1f} s ({n / in_memory:,.0f} spectra/s)")
    print(
        f"xpz simulate -n {n} -o sim.parquet: {command:.1f} s (write share {1 - in_memory / command:.0%})"
    )
    print(f"mean z {spectra.z.mean():.3f}, median z {np.median(spectra.z):.3f}")


def simple_model_mae(n: int) -> None:
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsRegressor

    from xpz.reference import DISSERTATION_TEST_MAE
    from xpz.simulate import simulate

    spectra = simulate(n, seed=0)
    x = spectra.flux / np.abs(spectra.flux).sum(axis=1, keepdims=True)
    n_train = int(0.9 * n)
    mean, std = x[:n_train].mean(0), x[:n_train].std(0)
    x = (x - mean) / std
    pca = PCA(30, random_state=0).fit(x[:n_train])
    model = KNeighborsRegressor(10).fit(pca.transform(x[:n_train]), spectra.z[:n_train])
    predicted = model.predict(pca.transform(x[n_train:]))
    mae = np.mean(np.abs(predicted - spectra.z[n_train:]))
    print(
        f"kNN(10) on 30 PCA components of normalised flux, {n_train} train / {n - n_train} test:"
        f" MAE {mae:.4f} (dissertation CNN: {DISSERTATION_TEST_MAE})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=520_393)
    parser.add_argument("--baseline-n", type=int, default=60_000)
    args = parser.parse_args()
    time_simulation(args.n)
    simple_model_mae(args.baseline_n)


if __name__ == "__main__":
    main()
