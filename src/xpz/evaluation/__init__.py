"""Evaluation of redshift predictions: metrics, per-bin tables, calibration, figures, reports.

Submodules are imported on demand (``from xpz.evaluation import metrics``) so that
importing this package stays cheap; plotting pulls in matplotlib only when used.
"""
