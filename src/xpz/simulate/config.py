"""Settings of the simulator: a frozen, self-validating dataclass."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from xpz.layout import Z_MAX
from xpz.simulate.knobs import KNOB_FIELDS, NEW_KNOBS, RANDOMISED, SHIFTED, Knob
from xpz.simulate.noise import NoiseFamily, NoiseModel

__all__ = ["Knob", "NoiseFamily", "RedshiftDistribution", "SimulationConfig"]

#: Largest accepted ``blur_width`` (pwl): the dense grid spans 59 pwl.
MAX_BLUR_WIDTH = 8.0


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

    The knobs below are off by default (docs/simulator.md: sources, figures,
    the randomised ranges and shifted values of :class:`Knob`):

    bpz_fraction : float
        Share of galaxies whose SED is a mix of two adjacent BPZ CWW+SB
        templates (:mod:`xpz.simulate.bpz`) instead of their kcorrect donor's,
        scaled to the donor's G.
    internal_ebv : float
        Mean of the exponential distribution of each galaxy's internal
        E(B-V), Calzetti (2000) attenuation in the rest frame.
    mw_ebv : float
        Median of the log-normal distribution (sigma of ln 0.64, measured on
        SDSS galaxies) of Milky Way E(B-V), F99 R_V = 3.1, observed frame.
    blur_width : float
        Largest Gaussian sigma, in pseudo-wavelength units (pwl), of the blur
        by the galaxy's extent; each galaxy draws a sigma uniform in [0, blur_width].
    noise_family : NoiseFamily
        ``CORRELATED`` (today's noise) or ``WHITE`` (every galaxy white noise).
    white_noise_fraction : float
        With ``CORRELATED``, the share of galaxies that get white noise instead.
    noise_multiplier_sigma : float
        Each galaxy's noise (and error) times exp(N(0, noise_multiplier_sigma)).
    bp_rp_scale_error : float
        Sigma of ln of the BP/RP flux scale ratio (BP times exp(+x/2), RP exp(-x/2)).
    tilt : float
        Sigma of a linear multiplicative tilt across each band, drawn per band
        and galaxy: the fractional change from the band's blue to red end.
    high_z_donor_neighbours : int
        Above z = 0.45, the SED shape comes from one of this many donors
        closest in z (0: off), rescaled to the G of the usual close donor.
    high_z_amplitude_sigma : float
        Above z = 0.45, extra log-normal scatter of the template amplitudes.
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
    bpz_fraction: float = 0.0
    internal_ebv: float = 0.0
    mw_ebv: float = 0.0
    blur_width: float = 0.0
    noise_family: NoiseFamily = NoiseFamily.CORRELATED
    white_noise_fraction: float = 0.0
    noise_multiplier_sigma: float = 0.0
    bp_rp_scale_error: float = 0.0
    tilt: float = 0.0
    high_z_donor_neighbours: int = 0
    high_z_amplitude_sigma: float = 0.0

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
        self._check_knobs()

    def _check_knobs(self) -> None:
        object.__setattr__(self, "noise_family", NoiseFamily(self.noise_family))
        for name in ("bpz_fraction", "white_noise_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        for name in (
            "internal_ebv",
            "mw_ebv",
            "noise_multiplier_sigma",
            "bp_rp_scale_error",
            "tilt",
            "high_z_amplitude_sigma",
        ):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if not 0.0 <= self.blur_width <= MAX_BLUR_WIDTH:
            raise ValueError(f"blur_width must be within [0, {MAX_BLUR_WIDTH}] pwl")
        if int(self.high_z_donor_neighbours) != self.high_z_donor_neighbours or not (
            self.high_z_donor_neighbours >= 0
        ):
            raise ValueError("high_z_donor_neighbours must be an integer >= 0")

    def knobs_on(self) -> frozenset[Knob]:
        """The knobs whose fields differ from the default config.

        >>> sorted(k.value for k in SimulationConfig(tilt=0.1, mw_ebv=0.02).knobs_on())
        ['calibration', 'mw_dust']
        """
        default = SimulationConfig()
        return frozenset(
            knob
            for knob, names in KNOB_FIELDS.items()
            if any(getattr(self, n) != getattr(default, n) for n in names)
        )

    def uses_new_knobs(self) -> bool:
        """Whether any knob added after ``xpz-sim-v1`` is on (APERTURE is not new)."""
        return bool(self.knobs_on() & NEW_KNOBS)

    @classmethod
    def randomised(
        cls, exclude: Iterable[Knob] = (), *, base: SimulationConfig | None = None
    ) -> SimulationConfig:
        """The training mixture: every knob at its randomised range, except ``exclude``.

        ``base`` (default: the default config) gives every other field; an excluded
        knob keeps ``base``'s values.

        >>> c = SimulationConfig.randomised(exclude=[Knob.BLUR])
        >>> c.blur_width, c.bpz_fraction
        (0.0, 0.25)
        """
        skip = {Knob(k) for k in exclude}
        changes: dict[str, Any] = {}
        for knob, values in RANDOMISED.items():
            if knob not in skip:
                changes.update(values)
        return dataclasses.replace(cls() if base is None else base, **changes)

    @classmethod
    def shifted(cls, knob: Knob, base: SimulationConfig | None = None) -> SimulationConfig:
        """``base`` (default: the default config) with ``knob`` at the far end of its range.

        >>> SimulationConfig.shifted(Knob.SED_SOURCE).bpz_fraction
        1.0
        """
        return dataclasses.replace(cls() if base is None else base, **SHIFTED[Knob(knob)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for ``Spectra.meta``)."""
        out = asdict(self)
        out["redshift_distribution"] = self.redshift_distribution.value
        out["noise_family"] = self.noise_family.value
        return out
