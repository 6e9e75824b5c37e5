"""The house rules of docs/architecture.md, checked so the structure cannot silently rot."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "xpz"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_import_linter_contracts_hold():
    """Layers from the applications down, models without training, no import cycles."""
    exe = Path(sys.executable).with_name("lint-imports")
    command = str(exe) if exe.exists() else shutil.which("lint-imports")
    if command is None:
        pytest.fail(
            "lint-imports (import-linter) is not installed; it is pinned in requirements.lock"
        )
    run = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long


def test_no_module_is_longer_than_400_lines():
    long = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, long


def test_only_the_xp_reader_names_the_archive_coefficient_columns():
    """Which reader applies is decided in one place (xpz.io.read asks xp_continuous.identify)."""
    users = set()
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in (
                "bp_coefficients",
                "rp_coefficients",
            ):
                users.add(str(path.relative_to(PACKAGE)))
    assert users == {"io/xp_continuous.py"}


def test_the_documented_entry_points_still_import():
    from xpz.inference import predict
    from xpz.simulate import simulate
    from xpz.training import load_model, train

    assert all(callable(f) for f in (predict, simulate, load_model, train))
