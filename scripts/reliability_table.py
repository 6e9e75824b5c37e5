"""Rerun the bad-input cases of tests/test_reliability.py and write docs/reliability.md.

The table shows, for every case, the exit code and the line a user sees
(temporary paths shown as ``…``).  The prose above the table is kept; only the
part after the ``<!-- table -->`` marker is replaced.

Run::

    .venv/bin/python scripts/reliability_table.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
MARKER = "<!-- table: made by scripts/reliability_table.py from tests/test_reliability.py -->"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "table.md"
        env = {**os.environ, "XPZ_RELIABILITY_TABLE": str(table), "MPLBACKEND": "Agg"}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["tests/test_reliability.py", "-k", "test_bad_input"]
        run = subprocess.run(command, cwd=ROOT, env=env)
        if run.returncode != 0:
            print("some cases failed; the table was not written", file=sys.stderr)
            return run.returncode
        rows = table.read_text(encoding="utf-8")
    head = DOC.read_text(encoding="utf-8").split(MARKER)[0] if DOC.exists() else ""
    partial = DOC.with_suffix(".md.partial")
    partial.write_text(f"{head}{MARKER}\n\n{rows}", encoding="utf-8")
    partial.replace(DOC)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
