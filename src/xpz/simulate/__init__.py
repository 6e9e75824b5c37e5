"""Simulated Gaia XP galaxy spectra with true redshifts (the embedded default data set).

>>> from xpz.simulate import simulate, SimulationConfig
>>> s = simulate(3, seed=0, config=SimulationConfig(noise_scale=0.5))
>>> s.flux.shape, s.meta["seed"]
((3, 186), 0)

See ``docs/simulator.md`` for the model and its sources.
"""

from xpz.simulate.config import RedshiftDistribution, SimulationConfig
from xpz.simulate.noise import NoiseModel
from xpz.simulate.simulator import SIMULATOR_VERSION, simulate

__all__ = [
    "SIMULATOR_VERSION",
    "NoiseModel",
    "RedshiftDistribution",
    "SimulationConfig",
    "simulate",
]
