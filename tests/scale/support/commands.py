"""The command lines the server tests run, as a user would type them."""

from __future__ import annotations

import subprocess
import sys


def xpz(*args: str) -> list[str]:
    """``xpz ARGS...`` with this test run's interpreter."""
    return [sys.executable, "-m", "xpz.cli", *args]


def run_ok(command: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``command``; fail the test with its output unless it exits 0 within ``timeout`` s."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done
