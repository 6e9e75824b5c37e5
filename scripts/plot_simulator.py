"""Figures of docs/simulator.md, from simulated data (mirroring the dissertation's Figs 9-11).

Run:  python scripts/plot_simulator.py [--out docs/figures] [--n 100000] [--knobs-only]
Writes sim_nz.png, sim_spectrum.png, sim_mean_spectra.png, sim_snr_vs_g.png, and one
figure per simulator knob, sim_knob_<knob>.png: the default data beside the knob at
its shifted value (SimulationConfig.shifted), 3,000 spectra each, same seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xpz.io.atomic import atomic_path
    from xpz.layout import default_layout
    from xpz.simulate import simulate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--knobs-only", action="store_true", help="only the knob figures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    def save(fig, name: str) -> None:
        with atomic_path(args.out / name) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        print(f"wrote {args.out / name}")

    from knob_figures import knob_figures

    knob_figures(plt, save)
    if args.knobs_only:
        return
    spectra = simulate(args.n, seed=0)
    wavelength = default_layout().wavelength
    rng = np.random.default_rng(0)

    with matplotlib.rc_context({"text.usetex": False}):
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.hist(spectra.z, bins=np.arange(0, 0.61, 0.01), color="tab:blue")
        ax.set(
            xlabel="redshift z",
            ylabel="galaxies per 0.01 bin",
            title=f"Simulated n(z), {len(spectra):,} spectra (cf. dissertation Fig. 9)",
        )
        save(fig, "sim_nz.png")

        i = int(rng.integers(len(spectra)))
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.errorbar(wavelength, spectra.flux[i], spectra.flux_error[i], fmt=".-", ms=3, lw=0.8)
        ax.set(
            xlabel="wavelength (nm)",
            ylabel="flux (e-/s)",
            title=f"One simulated galaxy, z = {spectra.z[i]:.3f}, G = "
            f"{spectra.phot_g_mean_mag[i]:.2f} (cf. Fig. 10)",
        )
        save(fig, "sim_spectrum.png")

        fig, ax = plt.subplots(figsize=(7, 4))
        edges = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        for lo, hi in zip(edges, edges[1:], strict=False):
            rows = np.flatnonzero((spectra.z >= lo) & ((spectra.z < hi) | (hi == 0.6)))
            rows = rng.permutation(rows)[:1000]
            ax.plot(
                wavelength, spectra.flux[rows].mean(0), label=f"[{lo:.1f}, {hi:.1f}) n={len(rows)}"
            )
        ax.set(
            xlabel="wavelength (nm)",
            ylabel="mean flux (e-/s)",
            title="Mean of up to 1000 spectra per z range (cf. Fig. 11)",
        )
        ax.legend(fontsize=8)
        save(fig, "sim_mean_spectra.png")

        fig, ax = plt.subplots(figsize=(7, 4))
        snr = spectra.flux / spectra.flux_error
        g = spectra.phot_g_mean_mag
        bins = np.arange(15.0, 20.8, 0.25)
        centres = (bins[1:] + bins[:-1]) / 2
        for name, cols in (("BP pixels", slice(0, 80)), ("RP pixels", slice(80, 186))):
            per_source = np.median(snr[:, cols], axis=1)
            med = [
                np.median(per_source[(g >= a) & (g < b)])
                for a, b in zip(bins, bins[1:], strict=False)
            ]
            ax.plot(centres, med, "o-", label=f"median over {name}")
        ax.set(yscale="log", xlabel="G (mag)", ylabel="SNR per pixel", title="SNR per pixel vs G")
        ax.legend()
        save(fig, "sim_snr_vs_g.png")


if __name__ == "__main__":
    main()
