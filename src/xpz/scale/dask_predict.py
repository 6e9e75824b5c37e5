"""Catalogue-scale prediction on a Dask cluster: partitioned Parquet or HATS in, same out.

:func:`predict_dask` reads the input lazily (``dask.dataframe.read_parquet`` for
a Parquet file or a folder of part files, ``lsdb.open_catalog`` for a HATS
catalogue), maps :func:`predict_partition` over its partitions and writes one
output partition per input partition:

* Parquet in -> a folder of Parquet part files with the columns of
  ``xpz predict`` (``source_id``, ``z_pred``, ``z_err``, quantiles, ``flag``;
  see :mod:`xpz.io.catalog`) and the provenance in every file's metadata;
* HATS in -> a HATS catalogue with the same columns plus the input's ra/dec,
  partitioned on the sky like the input (open it with ``lsdb.open_catalog``).

Each worker process loads the model once (:func:`worker_model` caches it by
path and weights checksum) and predicts exactly as ``xpz predict`` does, so
the rows equal the single-process catalogue (XP_CONTINUOUS partitions are
sampled without flux errors unless the model reads them).  The output folder is written
beside its final name and renamed when complete.  Model, input and output
paths must be visible to every worker (one shared filesystem).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from xpz.errors import InputError
from xpz.inference import Runtime
from xpz.models.shipped import resolve_model

__all__ = ["Runtime", "is_hats", "predict_dask", "predict_partition", "worker_model"]

#: Files that mark a folder as a HATS catalogue or collection.
HATS_MARKERS = ("collection.properties", "hats.properties", "properties")


def is_hats(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder holding a HATS catalogue or collection."""
    return Path(path).is_dir() and any((Path(path) / m).is_file() for m in HATS_MARKERS)


def model_fingerprint(model: str | os.PathLike[str]) -> str:
    """The weights' SHA-256 of a model directory, or the SHA-256 of an ONNX file."""
    from xpz.models.modelfile import MODEL_JSON, sha256_of

    path = Path(model)
    if path.is_dir():
        return json.loads((path / MODEL_JSON).read_text())["weights"]["sha256"]
    if path.is_file():
        return sha256_of(path)
    raise InputError("no such model directory or ONNX file", path=path)


@functools.lru_cache(maxsize=4)
def worker_model(model: str, fingerprint: str, runtime: Runtime) -> Any:
    """The model at ``model``, loaded once per process for each (path, checksum, runtime).

    ``fingerprint`` (see :func:`model_fingerprint`) is part of the cache key so
    that a model replaced on disk is loaded again.
    """
    if runtime is Runtime.ONNX:
        from xpz.export import OnnxModel

        # Dask workers set OMP_NUM_THREADS to their thread count; onnxruntime ignores it.
        return OnnxModel(model, threads=int(os.environ.get("OMP_NUM_THREADS", "0")))
    from xpz.models.modelfile import load_model

    return load_model(model)


def _numpy_columns(frame):  # pd.DataFrame -> pd.DataFrame
    """Arrow-backed numeric columns (as lsdb reads them) as numpy columns."""
    import pandas as pd

    numeric = {
        name: dtype.numpy_dtype
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.ArrowDtype) and dtype.numpy_dtype.kind in "biuf"
    }
    return frame.astype(numeric) if numeric else frame


def partition_spectra(frame, source: str, *, flux_error: bool = True):  # pd.DataFrame -> Spectra
    """Spectra of one partition: sampled fluxes, or Gaia XP_CONTINUOUS coefficients.

    ``flux_error=False`` samples XP_CONTINUOUS rows without their flux errors.
    """
    from xpz.layout import N_PIXELS
    from xpz.spectra import Spectra

    if len(frame) == 0:
        return Spectra(flux=np.empty((0, N_PIXELS), np.float32), source_id=np.empty(0, np.int64))
    from xpz.io.read import read_input

    frame = _numpy_columns(frame).reset_index(drop=True)
    return read_input(frame, name=source, flux_error=flux_error)


def predict_partition(
    frame,
    *,
    model: str,
    fingerprint: str,
    runtime: str,
    batch_size: int = 1024,
    keep_columns: tuple[str, ...] = (),
    source: str = "<partition>",
):  # pd.DataFrame -> pd.DataFrame
    """Catalogue rows (``xpz predict`` columns, plus ``keep_columns``) for one partition.

    The output keeps the partition's index (HATS catalogues index by sky pixel).
    """
    import pandas as pd

    from xpz.errors import InputError
    from xpz.inference import located, predict_spectra
    from xpz.io.catalog import catalog_table
    from xpz.predict_inputs import reads_flux_error

    predictor = worker_model(model, fingerprint, Runtime(runtime))
    spectra = partition_spectra(frame, source, flux_error=reads_flux_error(predictor))
    try:  # rows the model cannot take get NaN and flags there; any other error names the input
        estimates, flag = predict_spectra(predictor, spectra, batch_size=batch_size)
    except InputError as err:
        raise located(err, source) from None
    table = catalog_table(estimates, spectra.source_id, flag)
    out = pd.DataFrame({name: table[name].data for name in table.colnames}, index=frame.index)
    for name in keep_columns:
        out[name] = frame[name].to_numpy()
    return out


@contextlib.contextmanager
def dask_client(
    scheduler: str | None, n_workers: int, threads_per_worker: int
) -> Iterator[Any]:  # -> distributed.Client
    """A client of the scheduler at address ``scheduler``, or of a new local cluster.

    The local cluster runs ``n_workers`` processes on 127.0.0.1 (no dashboard)
    and is shut down on exit.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _provenance(model: Path, runtime: Runtime, input: Path) -> dict[str, str]:
    from xpz.inference import open_model, provenance

    meta = provenance(open_model(model, runtime), [input], runtime)
    return {key: str(value) for key, value in meta.items()} | {"engine": "dask"}


def predict_dask(
    model: str | os.PathLike[str],
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    runtime: Runtime | str = Runtime.TORCH,
    batch_size: int = 1024,
    progress: bool = False,
) -> Path:
    """Predict every row of ``input`` on Dask into ``output`` (see module docs).

    Parameters
    ----------
    model : path or str
        Model directory, the name of a shipped model (``"default"``), or an
        ``.onnx`` file (with ``runtime="onnx"``).
    input : path
        Parquet file, folder of Parquet part files, or HATS catalogue folder.
    output : path
        Output folder (Parquet part files, or a HATS catalogue for HATS input);
        replaced if it exists.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); None starts
        a local cluster of ``n_workers`` processes with ``threads_per_worker``.
    runtime : Runtime or str
        ``torch`` or ``onnx`` inside the workers.
    """
    from xpz.io.atomic import write_directory_atomically

    runtime = Runtime(runtime)
    model_path, input_path = resolve_model(model).resolve(), Path(input).resolve()
    if not input_path.exists():
        raise InputError("no such file or directory", path=input_path)
    if runtime is Runtime.TORCH and not model_path.is_dir():
        raise InputError("the torch runtime needs a model directory", path=model_path)
    options = {
        "model": str(model_path),
        "fingerprint": model_fingerprint(model_path),
        "runtime": runtime.value,
        "batch_size": batch_size,
        "source": str(input_path),
    }
    meta = _provenance(model_path, runtime, input_path)
    with dask_client(scheduler, n_workers, threads_per_worker):
        if is_hats(input_path):
            write = _hats_writer(input_path, options, meta, Path(output).name, progress)
        else:
            write = _parquet_writer(input_path, options, meta)
        return write_directory_atomically(Path(output), write)


def _parquet_writer(input: Path, options: dict[str, Any], meta: dict[str, str]):
    import dask.dataframe as dd

    frame = dd.read_parquet(str(input))
    empty = predict_partition(frame._meta, **options)
    result = frame.map_partitions(predict_partition, **options, meta=empty)

    def write(tmp: Path) -> None:
        result.to_parquet(str(tmp), write_index=False, custom_metadata=meta)

    return write


def _hats_writer(
    input: Path, options: dict[str, Any], meta: dict[str, str], name: str, progress: bool
):
    import lsdb

    catalog = lsdb.open_catalog(input)
    info = catalog.hc_structure.catalog_info
    keep = tuple(c for c in (info.ra_column, info.dec_column) if c in catalog.columns)
    options = options | {"keep_columns": keep}
    empty = predict_partition(catalog.meta, **options)
    result = catalog.map_partitions(predict_partition, **options, meta=empty)

    def write(tmp: Path) -> None:
        result.write_catalog(
            tmp,
            catalog_name=name,
            overwrite=True,
            progress_bar=progress,
            addl_hats_properties={f"xpz_{key}": value for key, value in meta.items()},
        )

    return write
