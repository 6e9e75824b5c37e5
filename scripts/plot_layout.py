"""Plot the 186-pixel XP layout (docs/figures/layout.png) and print its numbers.

For each band, all 120 uniform-in-pseudo-wavelength samples are drawn at their
position in the 186-pixel vector: BP sample s is pixel s - 34, RP sample s is
pixel 80 + s - 4, so the samples that the truncation drops fall just outside
each band's pixel range and are drawn in grey.  The lower panel shows the
wavelength step between neighbouring samples (the sampling density).

Run::

    .venv/bin/python scripts/plot_layout.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from xpz.io.atomic import atomic_path
from xpz.layout import BP_TRIM, N_BP, RP_TRIM, XPLayout, default_layout

COLOURS = {"BP": "tab:blue", "RP": "tab:red"}
DROPPED = "0.7"


def band_samples(layout: XPLayout) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per band: (pixel index of each of the 120 samples, wavelength in nm, kept mask)."""
    out = {}
    for name, wavelength, first_pixel, kept in (
        ("BP", layout.bp_wavelength_all, -BP_TRIM[0], layout.bp_kept),
        ("RP", layout.rp_wavelength_all, N_BP - RP_TRIM[0], layout.rp_kept),
    ):
        index = np.arange(len(wavelength))
        keep = np.zeros(len(wavelength), bool)
        keep[kept] = True
        out[name] = (first_pixel + index, wavelength, keep)
    return out


def summary(layout: XPLayout) -> str:
    """A Markdown table of the sampled, kept and dropped wavelength ranges per band."""
    lines = [
        "| band | samples | kept pixels | kept range (nm) | dropped blue end (nm) | dropped red end (nm) | step (nm), kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (pixel, wl, keep) in band_samples(layout).items():
        kept_pixels = pixel[keep]
        first, last = np.flatnonzero(keep)[[0, -1]]
        step = np.diff(wl[keep])
        lines.append(
            f"| {name} | {len(wl)} | {kept_pixels[0]}..{kept_pixels[-1]} |"
            f" {wl[first]:.1f}-{wl[last]:.1f} |"
            f" {wl[0]:.1f}-{wl[first - 1]:.1f} ({first}) |"
            f" {wl[last + 1]:.1f}-{wl[-1]:.1f} ({len(wl) - 1 - last}) |"
            f" {step.min():.2f}-{step.max():.2f} |"
        )
    return "\n".join(lines)


def plot(layout: XPLayout, path: Path) -> None:
    """Draw pixel index vs wavelength and the sampling step; write a PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # GaiaXPy (if imported anywhere) turns on LaTeX text; this figure needs none.
    with matplotlib.rc_context({"text.usetex": False}):
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(7.5, 6.5), sharex=True, height_ratios=(3, 1.4), layout="constrained"
        )
        for name, (pixel, wl, keep) in band_samples(layout).items():
            top.plot(wl[keep], pixel[keep], ".", ms=4, color=COLOURS[name], label=f"{name} kept")
            top.plot(wl[~keep], pixel[~keep], ".", ms=4, color=DROPPED)
            mid = 0.5 * (wl[1:] + wl[:-1])
            step = np.diff(wl)
            both = keep[1:] & keep[:-1]
            bottom.plot(mid[both], step[both], ".", ms=3, color=COLOURS[name])
            bottom.plot(mid[~both], step[~both], ".", ms=3, color=DROPPED)
        top.plot([], [], ".", color=DROPPED, label="dropped by truncation")
        for pixel_edge in (-0.5, N_BP - 0.5, len(layout.wavelength) - 0.5):
            top.axhline(pixel_edge, color="0.85", lw=0.8, zorder=0)
        top.set_ylabel("pixel index in the 186-pixel vector")
        top.set_title(
            "xpz XP layout: 120 samples per band, uniform in pseudo-wavelength;\n"
            f"BP drops {BP_TRIM[0]}+{BP_TRIM[1]}, RP drops {RP_TRIM[0]}+{RP_TRIM[1]}"
            f" -> {len(layout.wavelength)} pixels ({layout.version})",
            fontsize=10,
        )
        top.legend(loc="upper left", frameon=False)
        bottom.set_xlabel("wavelength (nm), Gaia DR3 dispersion function (GaiaXPy)")
        bottom.set_ylabel("sample step (nm)")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, format="png")
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("docs/figures/layout.png"), help="PNG to write"
    )
    args = parser.parse_args()
    layout = default_layout()
    plot(layout, args.output)
    print(summary(layout))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
