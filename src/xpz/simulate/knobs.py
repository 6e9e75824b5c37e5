"""The simulator's knobs: which config fields each one sets, its randomised range, its far end.

``SimulationConfig.randomised()`` sets every knob to :data:`RANDOMISED`;
``SimulationConfig.shifted(knob)`` sets one knob to :data:`SHIFTED`, the far
end of (or beyond) its randomised range.  docs/simulator.md tabulates both.
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Any

from xpz.simulate.noise import NoiseFamily

__all__ = ["HIGH_Z", "KNOB_FIELDS", "NEW_KNOBS", "RANDOMISED", "SHIFTED", "Knob"]

#: Redshift above which the HIGH_Z_SEDS knob acts.
HIGH_Z = 0.45


class Knob(enum.Enum):
    """One physical or instrumental effect the simulator can vary."""

    SED_SOURCE = "sed_source"
    INTERNAL_DUST = "internal_dust"
    MW_DUST = "mw_dust"
    BLUR = "blur"
    NOISE_FAMILY = "noise_family"
    NOISE_MULTIPLIER = "noise_multiplier"
    CALIBRATION = "calibration"
    HIGH_Z_SEDS = "high_z_seds"
    APERTURE = "aperture"


#: The ``SimulationConfig`` fields each knob sets.
KNOB_FIELDS: MappingProxyType[Knob, tuple[str, ...]] = MappingProxyType(
    {
        Knob.SED_SOURCE: ("bpz_fraction",),
        Knob.INTERNAL_DUST: ("internal_ebv",),
        Knob.MW_DUST: ("mw_ebv",),
        Knob.BLUR: ("blur_width",),
        Knob.NOISE_FAMILY: ("noise_family", "white_noise_fraction"),
        Knob.NOISE_MULTIPLIER: ("noise_multiplier_sigma",),
        Knob.CALIBRATION: ("bp_rp_scale_error", "tilt"),
        Knob.HIGH_Z_SEDS: ("high_z_donor_neighbours", "high_z_amplitude_sigma"),
        Knob.APERTURE: ("aperture_mag", "aperture_scatter"),
    }
)

#: Knobs added after the first simulator version (``APERTURE`` existed already).
NEW_KNOBS = frozenset(Knob) - {Knob.APERTURE}

#: The training mixture: each knob's distribution parameters (drawn per galaxy).
RANDOMISED: MappingProxyType[Knob, dict[str, Any]] = MappingProxyType(
    {
        Knob.SED_SOURCE: {"bpz_fraction": 0.25},
        Knob.INTERNAL_DUST: {"internal_ebv": 0.1},
        Knob.MW_DUST: {"mw_ebv": 0.026},
        Knob.BLUR: {"blur_width": 2.0},
        Knob.NOISE_FAMILY: {"white_noise_fraction": 0.3},
        Knob.NOISE_MULTIPLIER: {"noise_multiplier_sigma": 0.3},
        Knob.CALIBRATION: {"bp_rp_scale_error": 0.03, "tilt": 0.05},
        Knob.HIGH_Z_SEDS: {"high_z_donor_neighbours": 400, "high_z_amplitude_sigma": 0.3},
        Knob.APERTURE: {"aperture_scatter": 0.6},
    }
)

#: Each knob at the far end of its randomised range (twice the scale, or all galaxies).
SHIFTED: MappingProxyType[Knob, dict[str, Any]] = MappingProxyType(
    {
        Knob.SED_SOURCE: {"bpz_fraction": 1.0},
        Knob.INTERNAL_DUST: {"internal_ebv": 0.2},
        Knob.MW_DUST: {"mw_ebv": 0.052},
        Knob.BLUR: {"blur_width": 4.0},
        Knob.NOISE_FAMILY: {"noise_family": NoiseFamily.WHITE, "white_noise_fraction": 0.0},
        Knob.NOISE_MULTIPLIER: {"noise_multiplier_sigma": 0.6},
        Knob.CALIBRATION: {"bp_rp_scale_error": 0.06, "tilt": 0.10},
        Knob.HIGH_Z_SEDS: {"high_z_donor_neighbours": 1000, "high_z_amplitude_sigma": 0.6},
        Knob.APERTURE: {"aperture_mag": 2.5, "aperture_scatter": 0.8},
    }
)
