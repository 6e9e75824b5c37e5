"""SVR and kNN baselines: fit/predict on small data the tests make."""

from __future__ import annotations

import numpy as np
import pytest

from xpz.models.baselines import KnnBaseline, KnnConfig, KnnWeights, SvrBaseline, SvrConfig


def _smooth_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, 2, 6) whose redshift is a smooth function of two features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 6))
    z = 0.3 + 0.1 * np.tanh(x[:, 0, 0]) + 0.05 * np.sin(x[:, 1, 2])
    return x, z


def test_svr_learns_a_smooth_function() -> None:
    x, z = _smooth_problem(400, seed=0)
    model = SvrBaseline(SvrConfig(c=3.0, epsilon=0.005)).fit(x[:300], z[:300])
    error = np.mean(np.abs(model.predict(x[300:]) - z[300:]))
    assert error < 0.5 * np.mean(np.abs(z[300:] - z[:300].mean()))
    assert model.n_features == 12 and model.n_train == 300
    assert model.num_parameters() == model.n_support * 13 + 1
    assert model.multiply_adds() == model.n_support * 13


def test_svr_subsamples_the_training_set_reproducibly() -> None:
    x, z = _smooth_problem(100, seed=1)
    a = SvrBaseline(SvrConfig(max_train=40, seed=5)).fit(x, z)
    b = SvrBaseline(SvrConfig(max_train=40, seed=5)).fit(x, z)
    assert a.n_train == 40
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_knn_with_one_neighbour_returns_training_redshifts() -> None:
    x, z = _smooth_problem(50, seed=2)
    model = KnnBaseline(KnnConfig(n_neighbors=1, weights=KnnWeights.UNIFORM)).fit(x, z)
    np.testing.assert_allclose(model.predict(x), z)
    assert model.num_parameters() == 50 * 13 and model.multiply_adds() == 50 * 12


def test_knn_averages_neighbours() -> None:
    x = np.array([[0.0], [1.0], [10.0], [11.0]])
    z = np.array([0.1, 0.2, 0.5, 0.6])
    model = KnnBaseline(KnnConfig(n_neighbors=2, weights=KnnWeights.UNIFORM)).fit(x, z)
    np.testing.assert_allclose(model.predict([[0.4], [10.6]]), [0.15, 0.55])


def test_errors() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        KnnBaseline().predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finite"):
        KnnBaseline().fit(np.array([[np.nan]]), [0.1])
    with pytest.raises(ValueError, match="redshifts"):
        SvrBaseline().fit(np.zeros((3, 2)), [0.1, 0.2])
    with pytest.raises(ValueError, match="n_neighbors"):
        KnnConfig(n_neighbors=0)
