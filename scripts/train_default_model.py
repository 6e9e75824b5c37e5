"""Train xpz's shipped default model and write it into the package data.

Seeded and reproducible: simulates the training set (``--data``, ``-n``,
``--seed``), trains the ``xpz`` preset through the normal pipeline
(:func:`xpz.pipeline.run_training`: split, scaler, training, temperature
calibration, OOD statistics, test report), and copies the final model
directory atomically to ``src/xpz/data/models/default`` (``--output``).
The run directory (report, history, test predictions) is kept (``--run-dir``).

Run (docs/training.md, "The shipped default model")::

    PYTHONPATH=src .venv/bin/python scripts/train_default_model.py
"""

from __future__ import annotations

import argparse
import enum
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "src" / "xpz" / "data" / "models" / "default"
#: The shipped model must stay below this size (package data).
MAX_BYTES = 2 * 1024 * 1024


class TrainingData(enum.Enum):
    """Which simulated data set the default model learns from."""

    #: The randomised training mixture (``SimulationConfig.randomised()``): every
    #: simulator knob drawn per galaxy (docs/simulator.md); the shipped model's data.
    RANDOMISED = "randomised"
    #: Today's simulator with its default settings (``SimulationConfig()``).
    DEFAULT = "default"


def simulation_config(choice: TrainingData):  # -> SimulationConfig
    """The simulator settings of ``choice``: the one place a new training set is added."""
    from xpz.simulate.config import SimulationConfig

    configs = {
        TrainingData.RANDOMISED: SimulationConfig.randomised,
        TrainingData.DEFAULT: SimulationConfig,
    }
    return configs[choice]()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        choices=[d.value for d in TrainingData],
        default=TrainingData.RANDOMISED.value,
        help="simulated training data (default: the randomised mixture)",
    )
    parser.add_argument("-n", type=int, default=60_000, help="simulated spectra (60000)")
    parser.add_argument("--seed", type=int, default=0, help="simulation and split seed (0)")
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "default-model")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="model directory to write")
    args = parser.parse_args(argv)

    from xpz.io.atomic import write_directory_atomically
    from xpz.pipeline import run_training
    from xpz.recipes import get_preset
    from xpz.simulate import simulate

    start = time.perf_counter()
    choice = TrainingData(args.data)
    spectra = simulate(args.n, seed=args.seed, config=simulation_config(choice))
    spectra = spectra.replace(meta={**spectra.meta, "training_data": choice.value})
    if args.run_dir.exists():
        shutil.rmtree(args.run_dir)
    result = run_training(spectra, get_preset("xpz"), args.run_dir, split_seed=args.seed)
    size = sum(f.stat().st_size for f in result.model_dir.iterdir())
    if size > MAX_BYTES:
        raise SystemExit(f"the model is {size} bytes, over the {MAX_BYTES}-byte package limit")

    def copy(tmp: Path) -> None:
        tmp.chmod(0o755)  # package data: readable by everyone
        for name in ("model.json", "model.safetensors"):
            shutil.copyfile(result.model_dir / name, tmp / name)
            (tmp / name).chmod(0o644)

    write_directory_atomically(args.output, copy)
    metrics = {k: round(float(v), 5) for k, v in result.metrics.items()}
    print(f"wrote {args.output} ({size} bytes) in {time.perf_counter() - start:.0f} s")
    print(f"test metrics: {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
