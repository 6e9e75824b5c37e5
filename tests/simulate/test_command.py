"""``xpz simulate`` writes a file the Foundation's readers read back."""

from __future__ import annotations

import numpy as np

from xpz.cli import main
from xpz.io.tables import read_spectra
from xpz.simulate import simulate


def test_simulate_command_round_trip(tmp_path, capsys):
    out = tmp_path / "sim.parquet"
    assert main(["simulate", "-n", "50", "--seed", "4", "-o", str(out)]) == 0
    back = read_spectra(out, require_z=True)
    direct = simulate(50, seed=4)
    np.testing.assert_allclose(back.flux, direct.flux)
    np.testing.assert_allclose(back.z, direct.z)
    assert "wrote 50" in capsys.readouterr().out


def test_simulate_command_rejects_bad_arguments(tmp_path, capsys):
    assert main(["simulate", "-n", "0", "--seed", "1", "-o", str(tmp_path / "x.parquet")]) == 2
    assert (
        main(
            [
                "simulate",
                "-n",
                "5",
                "--seed",
                "1",
                "--z-max",
                "2",
                "-o",
                str(tmp_path / "x.parquet"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "x.parquet").exists()


def test_simulate_command_stops_when_no_galaxy_passes_the_cut(tmp_path, capsys):
    out = tmp_path / "s.parquet"
    argv = ["simulate", "-n", "20", "--seed", "1", "--g-limit", "5", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xpz simulate: error: only 0 of")
    assert not out.exists()


def test_simulate_command_randomised_exclude_and_shifted(tmp_path, capsys):
    from xpz.simulate import Knob, SimulationConfig

    out = tmp_path / "mix.parquet"
    argv = ["simulate", "-n", "30", "--seed", "2", "-o", str(out), "--randomised"]
    argv += ["--exclude", "blur", "mw_dust", "--shifted", "sed_source"]
    assert main(argv) == 0
    config = SimulationConfig.shifted(
        Knob.SED_SOURCE, base=SimulationConfig.randomised(exclude=[Knob.BLUR, Knob.MW_DUST])
    )
    assert config.blur_width == 0 and config.mw_ebv == 0 and config.bpz_fraction == 1.0
    direct = simulate(30, seed=2, config=config)
    np.testing.assert_allclose(read_spectra(out, require_z=True).flux, direct.flux)
    assert not np.allclose(direct.flux, simulate(30, seed=2).flux)


def test_simulate_command_exclude_needs_randomised(tmp_path, capsys):
    argv = ["simulate", "-n", "5", "--seed", "1", "-o", str(tmp_path / "x.parquet")]
    assert main([*argv, "--exclude", "blur"]) == 2
    assert "--exclude needs --randomised" in capsys.readouterr().err
