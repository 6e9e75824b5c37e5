"""Hyperparameter search (``xpz tune``): :mod:`~xpz.tuning.search` runs the Optuna study
over :mod:`~xpz.tuning.space`, :mod:`~xpz.tuning.report` writes its tables and figures.

Submodules are imported on demand (``from xpz.tuning.search import tune``), so that
importing this package does not import Optuna.
"""
