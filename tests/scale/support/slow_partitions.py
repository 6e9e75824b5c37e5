"""Dask worker preload for the tests: each partition's prediction waits a little first.

``dask worker --preload tests/scale/support/slow_partitions.py`` with
``XPZ_TEST_PARTITION_DELAY=SECONDS`` in the worker's environment.  The rows are those of the
real ``predict_partition``; the pause only makes a run last long enough to kill a worker inside
it.  Importing this module changes nothing; Dask calls :func:`dask_setup` in the worker.
"""

from __future__ import annotations

import functools
import os
import time


def dask_setup(worker) -> None:  # noqa: ARG001 - Dask's preload hook signature
    delay = float(os.environ.get("XPZ_TEST_PARTITION_DELAY", "0"))
    if delay <= 0:
        return
    import xpz.scale.dask_predict as dask_predict

    real = dask_predict.predict_partition

    @functools.wraps(real)
    def slow_predict_partition(frame, **options):
        if len(frame):  # not for the empty frame Dask infers the output columns from
            time.sleep(delay)
        return real(frame, **options)

    # Tasks name the function by module and name, so the worker resolves this one.
    dask_predict.predict_partition = slow_predict_partition
