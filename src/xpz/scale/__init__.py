"""Running xpz beyond one process: catalogue-scale prediction on Dask and lsdb (HATS).

See :mod:`xpz.scale.dask_predict` and ``docs/cluster.md``.
"""
