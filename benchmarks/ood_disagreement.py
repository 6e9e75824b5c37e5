"""Would ensemble disagreement flag the outliers that the OOD score misses?

For a trained :class:`~xpz.models.ensemble.XpzEnsemble` (e.g. the ``mixture``
run of ``benchmarks/robustness.py``), two disagreement scores per spectrum:

* ``js``: the mean Kullback-Leibler divergence of each member's PDF (with the
  fitted temperature) from the members' average (the Jensen-Shannon
  divergence for two members);
* ``dmed``: the difference of the members' PDF medians, divided by 1 + z_pred;

each thresholded at its 99% quantile on in-distribution spectra (the same 1%
false-positive rate as ``Flag.OUT_OF_DISTRIBUTION``).  On every knob of
:class:`xpz.simulate.Knob` pushed past the mixture's range, and on noise x2, it
prints the share of catastrophic outliers (|dz|/(1+z) > 0.15) flagged by the
model's OOD flag, by each disagreement score, and by the flag or ``js``, and
the share of all galaxies each flags.

Usage::

    .venv/bin/python benchmarks/ood_disagreement.py /tmp/robustness/mixture/model
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np
import torch

from xpz.inference import predict_spectra
from xpz.models.ensemble import XpzEnsemble
from xpz.models.modelfile import LoadedModel, load_model, model_inputs
from xpz.simulate import Knob, SimulationConfig, simulate
from xpz.spectra import Flag, Spectra

#: Seeds of the in-distribution and the shifted test sets (as benchmarks/robustness.py).
TEST_SEED, SHIFT_SEED = 12, 13


def disagreement(model: LoadedModel, spectra: Spectra) -> dict[str, np.ndarray]:
    """Per-spectrum ``js``, ``dmed``, the model's OOD flag and whether it is an outlier."""
    net = model.model
    assert isinstance(net, XpzEnsemble)
    grid = torch.from_numpy(np.asarray(net.pdf_grid())).float()
    x = torch.from_numpy(model_inputs(model.scaler, spectra.flux, spectra.flux_error, 1))
    with torch.inference_mode():
        p = torch.softmax(net(x).float() / net.temperature, dim=2)  # (N, members, bins)
        cdf = torch.cumsum(p, dim=-1)
        medians = grid[(cdf < 0.5).sum(-1).clamp(max=len(grid) - 1)]
        average = p.mean(dim=1, keepdim=True)
        js = (p * (torch.log(p + 1e-12) - torch.log(average + 1e-12))).sum(-1).mean(1)
    estimates, flag = predict_spectra(model, spectra)
    z = spectra.require_z()
    dz = np.abs(estimates["z_pred"] - z) / (1 + z)
    spread = (medians.max(dim=1).values - medians.min(dim=1).values).numpy()
    return {
        "js": js.numpy(),
        "dmed": spread / (1 + estimates["z_pred"]),
        "ood": (flag & np.uint32(Flag.OUT_OF_DISTRIBUTION)) != 0,
        "outlier": dz > 0.15,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a trained XpzEnsemble model directory")
    parser.add_argument("--n", type=int, default=10_000, help="in-distribution spectra")
    parser.add_argument("--n-shifted", type=int, default=5_000, help="spectra per shifted set")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    mixture = SimulationConfig.randomised()
    own = disagreement(model, simulate(args.n, seed=TEST_SEED, config=mixture))
    limits = {k: np.quantile(own[k], 0.99) for k in ("js", "dmed")}
    print(f"{args.model}; in distribution ({args.n:,} spectra): OOD flag on "
          f"{own['ood'].mean():.1%}, js above its 99% quantile on {(own['js'] > limits['js']).mean():.1%}, "
          f"flag or js on {(own['ood'] | (own['js'] > limits['js'])).mean():.1%}")  # fmt: skip
    tests = {k.value: SimulationConfig.shifted(k, base=mixture) for k in Knob}
    tests["noise x2"] = dataclasses.replace(mixture, noise_scale=2 * mixture.noise_scale)
    print(
        "shifted set         outliers | share of outliers flagged by: OOD flag, js, dmed, "
        "flag or js | share of all flagged: OOD flag, js"
    )
    for name, config in tests.items():
        s = disagreement(model, simulate(args.n_shifted, seed=SHIFT_SEED, config=config))
        out, js, dmed = s["outlier"], s["js"] > limits["js"], s["dmed"] > limits["dmed"]
        if not out.any():
            print(f"{name:18s}  no outliers")
            continue
        print(f"{name:18s}  {out.mean():6.1%}  | {s['ood'][out].mean():5.0%} {js[out].mean():5.0%} "
              f"{dmed[out].mean():5.0%} {(s['ood'] | js)[out].mean():5.0%} "
              f"| {s['ood'].mean():5.1%} {js.mean():5.1%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
