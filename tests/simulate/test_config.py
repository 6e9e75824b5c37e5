"""SimulationConfig's knobs: validated, off by default, the randomised mixture and shifted ends."""

from __future__ import annotations

import json

import pytest

from xpz.simulate import Knob, NoiseFamily, SimulationConfig
from xpz.simulate.knobs import KNOB_FIELDS, RANDOMISED, SHIFTED


def test_every_knob_is_off_by_default_and_on_in_the_mixture():
    assert SimulationConfig().knobs_on() == frozenset()
    assert not SimulationConfig().uses_new_knobs()
    mixture = SimulationConfig.randomised()
    assert mixture.knobs_on() == frozenset(Knob)
    assert set(RANDOMISED) == set(SHIFTED) == set(KNOB_FIELDS) == set(Knob)


@pytest.mark.parametrize("knob", list(Knob))
def test_randomised_leaves_excluded_knobs_at_their_default(knob):
    config = SimulationConfig.randomised(exclude=[knob])
    assert config.knobs_on() == frozenset(Knob) - {knob}
    default = SimulationConfig()
    for name in KNOB_FIELDS[knob]:
        assert getattr(config, name) == getattr(default, name)


@pytest.mark.parametrize("knob", list(Knob))
def test_shifted_moves_only_that_knob_beyond_the_mixture(knob):
    config = SimulationConfig.shifted(knob)
    assert config.knobs_on() == {knob}
    mixture = SimulationConfig.randomised()
    on_mixture = SimulationConfig.shifted(knob, base=mixture)
    for name in KNOB_FIELDS[knob]:
        value, mixed = getattr(config, name), getattr(mixture, name)
        assert getattr(on_mixture, name) == value
        if isinstance(value, float) and name != "white_noise_fraction":
            assert value > mixed, name  # the far end: larger than the training value
    assert SimulationConfig.shifted(Knob.NOISE_FAMILY).noise_family is NoiseFamily.WHITE


def test_randomised_keeps_the_base_settings():
    config = SimulationConfig.randomised(base=SimulationConfig(noise_scale=2.0, g_limit=20.0))
    assert config.noise_scale == 2.0 and config.g_limit == 20.0 and config.bpz_fraction > 0


def test_to_dict_is_json_and_names_the_noise_family():
    out = SimulationConfig.shifted(Knob.NOISE_FAMILY).to_dict()
    assert out["noise_family"] == "white"
    json.dumps(out)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bpz_fraction": 1.5},
        {"bpz_fraction": -0.1},
        {"white_noise_fraction": 2.0},
        {"internal_ebv": -0.1},
        {"mw_ebv": float("nan")},
        {"blur_width": -1.0},
        {"blur_width": 20.0},
        {"noise_multiplier_sigma": -0.2},
        {"bp_rp_scale_error": float("inf")},
        {"tilt": -0.01},
        {"high_z_donor_neighbours": -3},
        {"high_z_donor_neighbours": 2.5},
        {"high_z_amplitude_sigma": -1.0},
        {"noise_family": "pink"},
    ],
)
def test_bad_knob_values_are_rejected(kwargs):
    with pytest.raises(ValueError):
        SimulationConfig(**kwargs)


def test_noise_family_accepts_its_value():
    assert SimulationConfig(noise_family="white").noise_family is NoiseFamily.WHITE
