"""Simulated Gaia XP galaxy spectra with true redshifts (the embedded default data set).

>>> from xpz.simulate import simulate, SimulationConfig
>>> s = simulate(3, seed=0, config=SimulationConfig(noise_scale=0.5))
>>> s.flux.shape, s.meta["seed"]
((3, 186), 0)

See ``docs/simulator.md`` for the model and its sources.
"""

from xpz.simulate.config import Knob, NoiseFamily, RedshiftDistribution, SimulationConfig
from xpz.simulate.noise import NoiseModel
from xpz.simulate.simulator import SIMULATOR_VERSION, SIMULATOR_VERSION_KNOBS, simulate

__all__ = [
    "SIMULATOR_VERSION",
    "SIMULATOR_VERSION_KNOBS",
    "Knob",
    "NoiseFamily",
    "NoiseModel",
    "RedshiftDistribution",
    "SimulationConfig",
    "simulate",
]
