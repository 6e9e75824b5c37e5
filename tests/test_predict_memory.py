"""`xpz predict` on large files stays within the memory bound (RSS < 1 GB)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

N_ROWS = 2_000_000  # "a few million rows"
CHUNK = 100_000
RSS_LIMIT_BYTES = 1 << 30


def tiny_model(folder, rng):
    from xpz.models.modelfile import save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler

    model = build_model(PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,)), seed=0)
    scaler = MinMaxScaler().fit(rng.normal(5.0, 1.0, size=(1000, 186)))
    return save_model(folder / "model", model, scaler)


def predict_peak_rss(model_dir, source, out) -> int:
    """Run `xpz predict` in a fresh process; its peak resident memory in bytes."""
    # Peak RSS of the child's own address space (VmHWM): getrusage's ru_maxrss would
    # inherit the high-water mark of the forked pytest process across exec.
    script = (
        "import sys\n"
        "from xpz.cli import main\n"
        f"rc = main(['predict', {str(model_dir)!r}, {str(source)!r}, '-o', {str(out)!r},"
        " '--no-progress'])\n"
        "status = open('/proc/self/status').read()\n"
        "print('VMHWM_KB', status.split('VmHWM:')[1].split()[0])\n"
        "sys.exit(rc)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return int(run.stdout.split("VMHWM_KB")[1].split()[0]) * 1024


@pytest.mark.slow
def test_predict_streams_millions_of_rows_in_bounded_memory(tmp_path):
    from xpz.io.tables import SpectraWriter
    from xpz.spectra import Spectra

    rng = np.random.default_rng(0)
    source = tmp_path / "big.parquet"
    with SpectraWriter(source) as writer:
        for start in range(0, N_ROWS, CHUNK):
            flux = rng.normal(5.0, 1.0, size=(CHUNK, 186)).astype(np.float32)
            ids = np.arange(start, start + CHUNK, dtype=np.int64) + 4_000_000_000_000_000_000
            writer.write(Spectra(flux=flux, source_id=ids))
    out = tmp_path / "catalogue.parquet"
    max_rss = predict_peak_rss(tiny_model(tmp_path, rng), source, out)
    assert max_rss < RSS_LIMIT_BYTES, f"peak RSS {max_rss / 2**20:.0f} MiB"

    import pyarrow.parquet as pq

    table = pq.read_table(out, columns=["source_id", "z_pred"])
    assert table.num_rows == N_ROWS
    ids = table["source_id"].to_numpy()
    assert ids[0] == 4_000_000_000_000_000_000 and ids[-1] == ids[0] + N_ROWS - 1
    assert np.isfinite(table["z_pred"].to_numpy()).all()


@pytest.mark.slow
def test_predict_streams_a_large_xp_continuous_file_in_bounded_memory(tmp_path):
    """100,000 archive XP solutions: 1.3 GB of arrays, more than the bound if read whole."""
    from xpz.simulate.xp_archive import write_xp_archive_parquet

    n = 100_000
    source = write_xp_archive_parquet(tmp_path / "xp.parquet", n, seed=0)
    out = tmp_path / "catalogue.parquet"
    max_rss = predict_peak_rss(tiny_model(tmp_path, np.random.default_rng(0)), source, out)
    assert max_rss < RSS_LIMIT_BYTES, f"peak RSS {max_rss / 2**20:.0f} MiB"

    import pyarrow.parquet as pq

    ids = pq.read_table(out, columns=["source_id"])["source_id"].to_numpy()
    assert ids.tolist() == list(range(1, n + 1))
