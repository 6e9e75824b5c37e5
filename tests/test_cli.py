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
