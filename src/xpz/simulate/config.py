"""Settings of the simulator: a frozen, self-validating dataclass."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from xpz.layout import Z_MAX
from xpz.simulate.noise import NoiseModel

__all__ = ["RedshiftDistribution", "SimulationConfig"]


class RedshiftDistribution(enum.Enum):
    """Shape of n(z) within ``z_range``."""

    #: Per-0.05-bin shares of the dissertation's data set (its Table 3).
    DISSERTATION = "dissertation"
    #: Uniform in z.
    UNIFORM = "uniform"
    #: User-given shares of equal-width bins (``SimulationConfig.bin_shares``).
    CUSTOM = "custom"


@dataclass(frozen=True)
class SimulationConfig:
    """How simulated spectra are made (see docs/simulator.md for each choice).

    Attributes
    ----------
    redshift_distribution : RedshiftDistribution
        n(z); ``CUSTOM`` needs ``bin_shares``.
    bin_shares : tuple of float, optional
        Relative share of each of ``len(bin_shares)`` equal-width bins spanning
        ``z_range`` (uniform within a bin); only with ``CUSTOM``.
    z_range : (float, float)
        Redshifts drawn, within 0.0005 .. 0.7.
    g_limit : float
        Keep only galaxies with G < g_limit (Gaia's limit, 20.7).
    aperture_mag : float
        Mean magnitude difference Gaia G - total (Gaia's window sees a galaxy's core).
    aperture_scatter : float
        Gaussian scatter (mag) of the aperture term from galaxy to galaxy.
    sed_perturbation : float
        Each template amplitude is multiplied by exp(N(0, sed_perturbation)).
    donor_neighbours : int
        A galaxy at drawn z takes the SED of one of this many real galaxies closest in z.
    noise_scale : float
        Multiplies the noise (1 = Gaia-like, 0 = noiseless).
    noise : NoiseModel
        Exposure and detector parameters.
    """

    redshift_distribution: RedshiftDistribution = RedshiftDistribution.DISSERTATION
    bin_shares: tuple[float, ...] | None = None
    z_range: tuple[float, float] = (0.0005, Z_MAX)
    g_limit: float = 20.7
    aperture_mag: float = 2.0
    aperture_scatter: float = 0.4
    sed_perturbation: float = 0.3
    donor_neighbours: int = 40
    noise_scale: float = 1.0
    noise: NoiseModel = field(default_factory=NoiseModel)

    def __post_init__(self) -> None:
        dist = RedshiftDistribution(self.redshift_distribution)
        object.__setattr__(self, "redshift_distribution", dist)
        lo, hi = (float(v) for v in self.z_range)
        object.__setattr__(self, "z_range", (lo, hi))
        if not 0.0005 <= lo < hi <= 0.7:
            raise ValueError(f"z_range must satisfy 0.0005 <= lo < hi <= 0.7, got {self.z_range}")
        if (dist is RedshiftDistribution.CUSTOM) != (self.bin_shares is not None):
            raise ValueError(
                "bin_shares must be given exactly when redshift_distribution is CUSTOM"
            )
        if self.bin_shares is not None:
            shares = tuple(float(s) for s in self.bin_shares)
            if not shares or min(shares) < 0 or sum(shares) <= 0 or not np.isfinite(shares).all():
                raise ValueError("bin_shares must be finite, >= 0 and not all zero")
            object.__setattr__(self, "bin_shares", shares)
        for name in ("aperture_scatter", "sed_perturbation", "noise_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.donor_neighbours < 1:
            raise ValueError(f"donor_neighbours must be >= 1, got {self.donor_neighbours}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for ``Spectra.meta``)."""
        out = asdict(self)
        out["redshift_distribution"] = self.redshift_distribution.value
        return out
