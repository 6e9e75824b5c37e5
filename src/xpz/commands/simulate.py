"""``xpz simulate -n N --seed S -o FILE [--randomised [--exclude KNOB ...]] [--shifted KNOB]``.

The embedded simulated data set; ``--randomised`` is the training mixture of
``SimulationConfig.randomised()`` (every knob on, except ``--exclude``d ones),
``--shifted KNOB`` puts one knob at the far end of its range
(``SimulationConfig.shifted``), on top of the mixture with ``--randomised``.
"""

from __future__ import annotations

import argparse

NAME = "simulate"
HELP = (
    "Write N simulated Gaia XP galaxy spectra with true redshifts (see docs/simulator.md); "
    "the same seed gives the same file."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xpz.layout import Z_MAX
    from xpz.simulate.config import Knob, RedshiftDistribution

    distributions = [d.value for d in RedshiftDistribution if d is not RedshiftDistribution.CUSTOM]

    parser.add_argument("-n", type=int, required=True, metavar="N", help="number of spectra")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="output table; format from the suffix (.parquet, .h5, .fits, .csv, ...)",
    )
    parser.add_argument(
        "--nz",
        choices=distributions,
        default="dissertation",
        help="redshift distribution (default: the dissertation's)",
    )
    parser.add_argument(
        "--noise-scale", type=float, default=1.0, help="noise multiplier (default 1)"
    )
    parser.add_argument(
        "--g-limit", type=float, default=20.7, help="keep galaxies with G < this (default 20.7)"
    )
    parser.add_argument(
        "--z-max", type=float, default=Z_MAX, help=f"largest redshift drawn (default {Z_MAX:g})"
    )
    knobs = [k.value for k in Knob]
    parser.add_argument(
        "--randomised",
        action="store_true",
        help="the randomised training mixture: every simulator knob on (docs/simulator.md)",
    )
    parser.add_argument(
        "--exclude",
        nargs="+",
        choices=knobs,
        default=[],
        metavar="KNOB",
        help=f"with --randomised, leave these knobs off ({', '.join(knobs)})",
    )
    parser.add_argument(
        "--shifted",
        choices=knobs,
        metavar="KNOB",
        help="put this knob at the far end of its randomised range",
    )


def run(args: argparse.Namespace) -> int:
    from xpz.errors import InputError
    from xpz.io.atomic import OutputKind, check_output
    from xpz.io.tables import write_spectra
    from xpz.simulate import Knob, RedshiftDistribution, SimulationConfig, simulate

    check_output(args.output, OutputKind.FILE)
    if args.n < 1:
        raise InputError(f"-n must be at least 1, got {args.n}")
    if args.exclude and not args.randomised:
        raise InputError("--exclude needs --randomised")
    try:
        config = SimulationConfig(
            redshift_distribution=RedshiftDistribution(args.nz),
            noise_scale=args.noise_scale,
            g_limit=args.g_limit,
            z_range=(0.0005, args.z_max),
        )
        if args.randomised:
            config = SimulationConfig.randomised(
                exclude=[Knob(k) for k in args.exclude], base=config
            )
        if args.shifted:
            config = SimulationConfig.shifted(Knob(args.shifted), base=config)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    spectra = simulate(args.n, seed=args.seed, config=config)
    path = write_spectra(spectra, args.output)
    print(f"wrote {len(spectra)} simulated spectra to {path}")
    return 0
