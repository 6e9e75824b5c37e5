"""Build ``src/xpz/data/xp_basis.npz``: Gaia DR3 XP basis functions on the xpz layout.

Evaluates, with GaiaXPy, the 55 BP and 55 RP basis functions at the 120 sampling
positions per band of :func:`xpz.layout.default_layout` and stores the (55, 120)
design matrices together with the layout version and the positions they were
computed for (checked by :func:`xpz.xp.basis.design_matrices` on load).

Run after any change to the layout::

    .venv/bin/python scripts/build_xp_basis.py
"""

from __future__ import annotations

import argparse
from importlib.metadata import version
from pathlib import Path

import numpy as np

from xpz.io.atomic import atomic_path
from xpz.layout import Band, default_layout
from xpz.xp.basis import BASIS_FILE, compute_design_matrices


def build(path: Path) -> None:
    """Compute the design matrices for the default layout and write them to ``path``."""
    layout = default_layout()
    matrices = compute_design_matrices(layout)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        np.savez_compressed(
            stream,
            bp_design=matrices[Band.BP],
            rp_design=matrices[Band.RP],
            bp_pwl=np.asarray(layout.bp_pwl),
            rp_pwl=np.asarray(layout.rp_pwl),
            layout_version=np.str_(layout.version),
            gaiaxpy_version=np.str_(version("gaiaxpy")),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=BASIS_FILE, help="default: %(default)s")
    args = parser.parse_args()
    build(args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
