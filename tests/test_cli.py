import subprocess
import sys

import pytest

from xpz.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("xpz ")


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys; from xpz.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'astropy', 'gaiaxpy', 'kcorrect', 'pandas', 'matplotlib')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


@pytest.mark.parametrize("output", ["", "blocker/s.parquet"])
def test_file_system_errors_are_one_line(tmp_path, capsys, output):
    (tmp_path / "blocker").write_text("a file, not a directory")
    target = str(tmp_path / output) if output else ""
    assert main(["simulate", "-n", "3", "--seed", "1", "-o", target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xpz simulate: error: ")
    assert "Traceback" not in err[0] and ".partial" not in err[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "{model}", "{data}", "-o", "{data}"],
        ["predict", "{model}", "{folder}", "-o", "{folder}/cat.parquet"],
        ["predict", "{model}", "{data}", "-o", "{folder}"],
        ["predict", "{model}", "{data}", "-o", ""],
        ["evaluate", "{model}", "{data}", "-o", "{data}"],
        ["evaluate", "{model}", "{data}", "-o", "{model}"],
        ["train", "{data}", "-o", "{data}"],
        ["tune", "{data}", "--trials", "1", "-o", "{data}"],
        ["convert", "{data}", "-o", "{data}"],
        ["export", "{model}", "--onnx", "-o", "{model}"],
        ["fetch", "{data}"],
        ["fetch", "{data}", "--labels", "{data}"],
        ["compare", "{data}", "{data}", "-o", "{data}"],
        ["simulate", "-n", "3", "--seed", "1", "-o", "{folder}"],
    ],
)
def test_an_output_that_would_harm_an_input_is_refused_before_reading(tmp_path, capsys, argv):
    data = tmp_path / "s.csv"
    data.write_text("not even a valid table")
    (tmp_path / "model").mkdir()
    (tmp_path / "gaia").mkdir()
    names = {"model": tmp_path / "model", "data": data, "folder": tmp_path / "gaia"}
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"xpz {argv[0]}: error: ")
    assert "output" in err[0]  # the output is refused, nothing was read
    assert data.read_text() == "not even a valid table"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_demo_refuses_to_clear_a_directory_it_did_not_make(tmp_path, capsys):
    keep = tmp_path / "work"
    keep.mkdir()
    (keep / "thesis.tex").write_text("precious")
    assert main(["demo", "-o", str(keep), "-n", "10"]) == 2
    assert "not an earlier demo's output" in capsys.readouterr().err
    assert (keep / "thesis.tex").read_text() == "precious"


def test_the_paper_demo_trains_on_its_budget_in_native_bf16(tmp_path, capsys, monkeypatch):
    import json

    import xpz.accelerator as accelerator
    from xpz.commands.demo import DEMO_BUDGET

    monkeypatch.setattr(accelerator, "native_bf16", lambda device: True)
    out = tmp_path / "demo"
    assert main(["demo", "--preset", "paper", "-n", "400", "--epochs", "1", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "400 simulated spectra" in printed and "1 epochs at batch 16, bf16 autocast" in printed
    training = json.loads((out / "recipe.json").read_text())["recipe"]["training"]
    assert training["precision"] == DEMO_BUDGET["paper"].precision.value == "auto"
    assert DEMO_BUDGET["paper"].epochs == 5 and DEMO_BUDGET["paper"].n == 150_000


def test_an_unwritable_directory_is_one_line(tmp_path, capsys):
    import os

    target = "/sys/xpz-test.parquet"  # sysfs refuses new files, even to root
    if not os.path.isdir("/sys") or os.access("/sys", os.W_OK) and os.path.exists(target):
        pytest.skip("no read-only directory to write into")
    assert main(["simulate", "-n", "3", "--seed", "1", "-o", target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"xpz simulate: error: {target}: cannot write here")
