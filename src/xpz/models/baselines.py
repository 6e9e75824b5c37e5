"""Classical baselines for the networks: a UGC-like support vector regressor and k-nearest neighbours.

Gaia DR3's Unresolved Galaxy Classifier (UGC) estimates galaxy redshifts with
an RBF-kernel support vector machine on the sampled XP spectra; :class:`SvrBaseline`
is that kind of model (scikit-learn's ``SVR``), :class:`KnnBaseline` the
simplest non-parametric alternative.  Both take the *same scaled inputs* as the
networks, flattened to (N, features), standardise every feature on the
training set, and give point estimates only.

Kernel SVR training costs O(N^2) or worse, so :class:`SvrBaseline` fits on a
seeded random subsample of at most ``SvrConfig.max_train`` training spectra.

>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 3)); z = 0.3 + 0.1 * np.tanh(x[:, 0])
>>> knn = KnnBaseline(KnnConfig(n_neighbors=5)).fit(x, z)
>>> bool(np.mean(np.abs(knn.predict(x[:50]) - z[:50])) < 0.02)
True
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

__all__ = ["KnnBaseline", "KnnConfig", "KnnWeights", "SvrBaseline", "SvrConfig"]


@dataclasses.dataclass(frozen=True)
class SvrConfig:
    """Settings of :class:`SvrBaseline` (scikit-learn ``SVR`` with an RBF kernel)."""

    #: Regularisation strength (larger: fits the training data more closely).
    c: float = 3.0
    #: Half-width of the loss-free tube around the data, in units of z.
    epsilon: float = 0.01
    #: RBF width; None uses scikit-learn's ``"scale"``: 1 / (features * variance) = 1 / features.
    gamma: float | None = None
    #: Fit on a random subsample of at most this many spectra (None: all).
    max_train: int | None = 20_000
    #: Seed of the subsample.
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.c > 0 or not self.epsilon >= 0:
            raise ValueError(f"need c > 0 and epsilon >= 0, got {self.c}, {self.epsilon}")
        if self.gamma is not None and not self.gamma > 0:
            raise ValueError(f"gamma must be positive, got {self.gamma}")
        if self.max_train is not None and self.max_train < 2:
            raise ValueError(f"max_train must be >= 2, got {self.max_train}")


class KnnWeights(enum.Enum):
    """How the neighbours' redshifts are averaged."""

    UNIFORM = "uniform"
    #: Weighted by inverse distance.
    DISTANCE = "distance"


@dataclasses.dataclass(frozen=True)
class KnnConfig:
    """Settings of :class:`KnnBaseline`."""

    n_neighbors: int = 10
    weights: KnnWeights = KnnWeights.DISTANCE

    def __post_init__(self) -> None:
        if self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {self.n_neighbors}")


def _features(x: ArrayLike) -> NDArray[np.float64]:
    """Inputs as (N, features): (N, C, pixels) network inputs are flattened."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 3:
        a = a.reshape(a.shape[0], -1)
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"expected inputs (N, features) or (N, C, pixels), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("inputs must be finite")
    return a


def _redshifts(z: ArrayLike, n: int) -> NDArray[np.float64]:
    values = np.asarray(z, dtype=np.float64).ravel()
    if values.shape != (n,) or not np.all(np.isfinite(values)):
        raise ValueError(f"need {n} finite redshifts, got shape {values.shape}")
    return values


class _Baseline:
    """Shared fit/predict around a scikit-learn pipeline (standardise, then regress)."""

    pipeline: Pipeline | None = None
    n_train: int = 0

    def _fitted(self) -> Pipeline:
        if self.pipeline is None:
            raise ValueError(f"{type(self).__name__} is not fitted; call fit() first")
        return self.pipeline

    def predict(self, x: ArrayLike) -> NDArray[np.float64]:
        """Redshift estimates (N,) for scaled inputs ``x``."""
        return np.asarray(self._fitted().predict(_features(x)), dtype=np.float64)

    @property
    def n_features(self) -> int:
        """Number of input features the model was fitted on."""
        return int(self._fitted()[0].n_features_in_)


class SvrBaseline(_Baseline):
    """UGC-like RBF support vector regression of z on standardised scaled fluxes."""

    def __init__(self, config: SvrConfig | None = None) -> None:
        self.config = config or SvrConfig()

    def fit(self, x: ArrayLike, z: ArrayLike) -> SvrBaseline:
        """Fit on (a seeded subsample of at most ``max_train`` of) the rows of ``x`` and ``z``."""
        features = _features(x)
        target = _redshifts(z, len(features))
        limit = self.config.max_train
        if limit is not None and len(features) > limit:
            rows = np.random.default_rng(self.config.seed).choice(len(features), limit, False)
            features, target = features[np.sort(rows)], target[np.sort(rows)]
        gamma = "scale" if self.config.gamma is None else self.config.gamma
        svr = SVR(kernel="rbf", C=self.config.c, epsilon=self.config.epsilon, gamma=gamma)
        self.pipeline = make_pipeline(StandardScaler(), svr).fit(features, target)
        self.n_train = len(features)
        return self

    @property
    def n_support(self) -> int:
        """Number of support vectors."""
        return int(self._fitted()[-1].support_vectors_.shape[0])

    def num_parameters(self) -> int:
        """Stored numbers: each support vector (features) and its coefficient, plus the intercept."""
        return self.n_support * (self.n_features + 1) + 1

    def multiply_adds(self) -> int:
        """Multiply-adds per spectrum: one squared distance to every support vector, plus its weight."""
        return self.n_support * (self.n_features + 1)


class KnnBaseline(_Baseline):
    """Mean redshift of the k nearest training spectra (Euclidean, standardised features)."""

    def __init__(self, config: KnnConfig | None = None) -> None:
        self.config = config or KnnConfig()

    def fit(self, x: ArrayLike, z: ArrayLike) -> KnnBaseline:
        """Store the rows of ``x`` and ``z`` (all of them) for the neighbour search."""
        features = _features(x)
        target = _redshifts(z, len(features))
        knn = KNeighborsRegressor(
            n_neighbors=min(self.config.n_neighbors, len(features)),
            weights=self.config.weights.value,
        )
        self.pipeline = make_pipeline(StandardScaler(), knn).fit(features, target)
        self.n_train = len(features)
        return self

    def num_parameters(self) -> int:
        """Stored numbers: every training spectrum's features and redshift."""
        return self.n_train * (self.n_features + 1)

    def multiply_adds(self) -> int:
        """Multiply-adds per spectrum of a brute-force search: one distance per training spectrum."""
        return self.n_train * self.n_features
