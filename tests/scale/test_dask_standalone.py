"""`xpz predict --engine dask` against a standalone Dask cluster, as users run one.

A `dask scheduler` and two `dask worker` processes (one thread each, no nanny) are started
as separate processes on 127.0.0.1, and everything else goes through the command line:
`xpz simulate`, `xpz train --preset xpz`, `xpz export --onnx`, `xpz predict`.  The HATS test
writes its input with hats-import on the same cluster and reads the output with lsdb.
The test that kills a worker runs last: it leaves the cluster with one worker.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.scale.support.commands import run_ok, xpz

pytest.importorskip("distributed")

PRELOAD = Path(__file__).parent / "support" / "slow_partitions.py"
#: Seconds each partition's prediction waits in the workers (see support/slow_partitions.py).
DELAY = 0.25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen]
    client: object  # distributed.Client
    logs: Path

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.logs.glob("*.log"))


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` + two `dask worker` processes on loopback (~10 s to start)."""
    from distributed import Client

    root = tmp_path_factory.mktemp("cluster")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"XPZ_TEST_PARTITION_DELAY": str(DELAY)}
    dask = [sys.executable, "-m", "dask"]
    scheduler = subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=(root / "scheduler.log").open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    workers = {
        name: subprocess.Popen(
            [*dask, "worker", address, "--name", name, "--nthreads", "1", "--no-nanny"]
            + ["--host", "127.0.0.1", "--no-dashboard", "--preload", str(PRELOAD)]
            + ["--local-directory", str(root / name), "--death-timeout", "60"],
            stdout=(root / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        for name in ("worker-a", "worker-b")
    }
    client = None
    try:
        client = Client(address, timeout=60)  # raises after 60 s without a scheduler
        try:
            client.wait_for_workers(2, timeout=90)
        except TimeoutError:
            logs = "\n".join((root / f"{n}.log").read_text()[-2000:] for n in workers)
            pytest.fail(f"two Dask workers did not join {address} within 90 s:\n{logs}")
        yield Cluster(address, scheduler, workers, client, root)
    finally:
        if client is not None:
            client.close()
        for process in [*workers.values(), scheduler]:
            _stop(process)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny default-preset (`xpz`) model, 400 spectra to predict, and their reference catalogue."""
    root = tmp_path_factory.mktemp("standalone")
    run_ok(xpz("simulate", "-n", "300", "--seed", "1", "-o", str(root / "train.parquet")))
    run_ok(xpz("train", str(root / "train.parquet"), "-o", str(root / "run"), "--preset", "xpz")
           + ["--epochs", "1", "--no-progress"])  # fmt: skip
    spectra = root / "spectra.parquet"
    run_ok(xpz("simulate", "-n", "400", "--seed", "2", "-o", str(spectra)))
    model = root / "run" / "model"
    reference = root / "reference.parquet"
    run_ok(xpz("predict", str(model), str(spectra), "-o", str(reference), "--no-progress"))
    return root, model, spectra, pd.read_parquet(reference)


def write_parts(spectra: Path, folder: Path, n_parts: int) -> Path:
    """The table split into ``n_parts`` Parquet part files (schema metadata kept)."""
    import pyarrow.parquet as pq

    table = pq.read_table(spectra)
    folder.mkdir()
    bounds = np.linspace(0, table.num_rows, n_parts + 1).astype(int)
    for i, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        pq.write_table(table.slice(start, stop - start), folder / f"part{i:03d}.parquet")
    return folder


def assert_same_rows(got: pd.DataFrame, expected: pd.DataFrame, atol: float = 1e-6) -> None:
    got = got.sort_values("source_id").reset_index(drop=True)
    expected = expected.sort_values("source_id").reset_index(drop=True)
    assert got["source_id"].to_numpy(np.int64).tolist() == expected["source_id"].tolist()
    assert got["flag"].to_numpy(np.uint32).tolist() == expected["flag"].to_numpy().tolist()
    for column in [c for c in expected.columns if c.startswith("z_")]:
        a, b = got[column].to_numpy(np.float64), expected[column].to_numpy(np.float64)
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        assert np.nanmax(np.abs(a - b)) <= atol, column


def predict_dask(cluster: Cluster, model: Path, source: Path, out: Path, *extra: str):
    command = xpz("predict", str(model), str(source), "-o", str(out), "--engine", "dask")
    return command + ["--scheduler", cluster.address, "--no-progress", *extra]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_standalone_cluster_equals_single_process_torch(cluster, files):
    root, model, spectra, reference = files
    parts = write_parts(spectra, root / "parts_torch", 4)
    out = root / "out_torch"
    run_ok(predict_dask(cluster, model, parts, out))
    assert len(list(out.glob("*.parquet"))) == 4  # one output part per input part
    assert_same_rows(pd.read_parquet(out), reference)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_standalone_cluster_equals_single_process_onnx(cluster, files):
    root, model, spectra, _ = files
    onnx = root / "model.onnx"
    run_ok(xpz("export", str(model), "--onnx", "-o", str(onnx)))
    reference = root / "reference_onnx.parquet"
    run_ok(xpz("predict", str(onnx), str(spectra), "-o", str(reference), "--runtime", "onnx"))
    parts = write_parts(spectra, root / "parts_onnx", 4)
    out = root / "out_onnx"
    run_ok(predict_dask(cluster, onnx, parts, out, "--runtime", "onnx"))
    assert_same_rows(pd.read_parquet(out), pd.read_parquet(reference))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.filterwarnings("ignore:Right catalog does not have a margin cache")
def test_hats_catalogue_round_trip(cluster, files):
    """hats-import writes the input, lsdb reads the output and cross-matches it back."""
    lsdb = pytest.importorskip("lsdb")
    pytest.importorskip("hats_import", reason="hats-import is not installed (requirements.lock)")
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    root, model, spectra, reference = files
    frame = pd.read_parquet(spectra)
    rng = np.random.default_rng(5)
    n = len(frame)
    frame["ra"] = rng.uniform(0, 360, n)
    frame["dec"] = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))  # uniform on the sky
    frame.to_parquet(root / "with_positions.parquet", index=False)
    arguments = ImportArguments(
        output_path=root,
        output_artifact_name="spectra_hats",
        input_file_list=[root / "with_positions.parquet"],
        file_reader="parquet",
        ra_column="ra",
        dec_column="dec",
        pixel_threshold=120,  # several partitions
        highest_healpix_order=5,
        tmp_dir=root / "hats_tmp",
        resume=False,
        progress_bar=False,
    )
    pipeline_with_client(arguments, cluster.client)  # on the standalone cluster's workers
    hats_in = root / "spectra_hats"
    assert len(lsdb.read_hats(hats_in).get_healpix_pixels()) > 1

    out = root / "redshifts_hats"
    run_ok(predict_dask(cluster, model, hats_in, out))

    result = lsdb.read_hats(out)
    rows = result.compute()
    assert len(rows) == n and rows["source_id"].is_unique
    sources = lsdb.read_hats(hats_in, columns=["source_id", "ra", "dec"])
    matched = sources.crossmatch(
        result,
        n_neighbors=1,
        radius_arcsec=0.01,
        suffixes=("_in", "_out"),
        suffix_method="all_columns",
    ).compute()
    assert len(matched) == n  # every source found once, at its own position
    assert (matched["source_id_in"].to_numpy() == matched["source_id_out"].to_numpy()).all()
    got = matched.rename(columns=lambda c: c.removesuffix("_out")).drop(columns="source_id_in")
    assert_same_rows(got[["source_id", *reference.columns.drop("source_id")]], reference)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_worker_mid_run(cluster, files):
    """SIGKILL one worker while it predicts: all rows anyway, or an error and no output."""
    root, model, spectra, reference = files
    n_parts = 24  # 24 x DELAY s of work over two workers
    parts = write_parts(spectra, root / "parts_kill", n_parts)
    out = root / "out_kill"
    run = subprocess.Popen(
        predict_dask(cluster, model, parts, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    victim = cluster.workers["worker-b"]
    try:
        deadline = time.monotonic() + 120
        busy = False
        while not busy and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.02)
            processing = cluster.client.processing()  # {worker address: [task keys]}
            names = cluster.client.run_on_scheduler(
                lambda dask_scheduler: {w.address: w.name for w in dask_scheduler.workers.values()}
            )
            busy = any(
                names.get(address) == "worker-b" and any("predict" in str(k) for k in keys)
                for address, keys in processing.items()
            )
        assert busy, f"worker-b never ran a prediction task:\n{cluster.log_text()}"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert len(cluster.client.nthreads()) == 1  # the scheduler saw the worker go

    print(f"killed worker-b mid-run; xpz predict exit status {run.returncode}")
    if run.returncode == 0:  # Dask reran the lost partitions on the other worker
        assert len(list(out.glob("*.parquet"))) == n_parts
        assert_same_rows(pd.read_parquet(out), reference)
    else:  # a clear error, and no partial output
        assert "Traceback" not in stderr and stderr.strip(), stderr
        assert not out.exists()
        assert not [p for p in root.iterdir() if p.name.startswith(".out_kill")]
