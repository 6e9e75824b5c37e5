"""Tests of xpz.accelerator's CPU thread control (devices and precision: tests/training, tests/test_gpu.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import xpz.inference
from xpz.accelerator import one_blas_thread


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_one_blas_thread_inside_the_block_and_the_setting_back_after() -> None:
    before = blas_threads()
    assert before, "NumPy's BLAS is not visible to threadpoolctl"
    with one_blas_thread():
        assert blas_threads() == [1] * len(before)
        np.ones((64, 64)) @ np.ones((64, 64))  # still computes
    assert blas_threads() == before


ARCHIVE = Path(__file__).parent / "data" / "gaia_archive" / "XP_CONTINUOUS_RAW.csv"


def test_predict_files_converts_and_predicts_on_one_blas_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[int]] = []
    real = xpz.inference.predict_spectra

    def recording(*args, **kwargs):
        seen.append(blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(xpz.inference, "predict_spectra", recording)
    before = blas_threads()
    summary = xpz.inference.predict_files("default", [ARCHIVE], tmp_path / "cat.parquet")
    assert summary.rows > 0
    assert seen and all(set(threads) == {1} for threads in seen)
    assert blas_threads()[: len(before)] == before  # (reading may load SciPy's own BLAS)
