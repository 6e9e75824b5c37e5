"""Shared pytest set-up: markers and small data sets made by the tests themselves."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Register the hypothesis profiles before pytest reads --hypothesis-profile.
import tests.hypothesis_profiles  # noqa: E402, F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--network", action="store_true", default=False, help="run tests that need the internet"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_network = pytest.mark.skip(reason="needs the network; run with --network")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "network" in item.keywords and not config.getoption("--network"):
            item.add_marker(skip_network)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def toy_spectra(rng: np.random.Generator):
    """Twenty small spectra with large Gaia-like ids and redshifts (not physical)."""
    from xpz.spectra import Spectra

    n = 20
    flux = rng.normal(5.0, 2.0, size=(n, 186)).astype(np.float32)
    return Spectra(
        flux=flux,
        source_id=np.arange(n, dtype=np.int64) + 6_917_528_997_577_384_320,
        flux_error=np.abs(rng.normal(0.5, 0.1, size=(n, 186))),
        z=rng.uniform(0.0, 0.6, n),
        phot_g_mean_mag=rng.uniform(17, 20.7, n),
        meta={"provenance": "toy"},
    )
