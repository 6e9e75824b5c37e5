"""Tests of xpz.preprocess: scikit-learn equivalence, NaN handling, chunked fits, state."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler as SkMinMaxScaler

from xpz.preprocess import (
    IdentityScaler,
    MinMaxScaler,
    PerSpectrumScaler,
    Scaling,
    SpectrumNorm,
    make_scaler,
    scaler_from_dict,
)


@pytest.fixture
def flux(rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(10.0, 3.0, size=(200, 186)) * rng.uniform(0.5, 2.0, size=186)
    x[:, 7] = 4.0  # a constant column
    return x


@pytest.mark.parametrize("feature_range", [(0.0, 1.0), (-1.0, 2.0)])
def test_minmax_matches_sklearn(flux: np.ndarray, feature_range: tuple[float, float]) -> None:
    ours = MinMaxScaler(feature_range).fit(flux)
    theirs = SkMinMaxScaler(feature_range=feature_range).fit(flux)
    for attr in ("data_min_", "data_max_", "scale_", "min_"):
        np.testing.assert_allclose(getattr(ours, attr), getattr(theirs, attr), rtol=1e-15)
    new = flux[:50] * 1.3
    np.testing.assert_allclose(ours.transform(new), theirs.transform(new), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.inverse_transform(new), theirs.inverse_transform(new))
    assert ours.scale_[7] == pytest.approx(feature_range[1] - feature_range[0])
    assert ours.n_samples_seen_ == theirs.n_samples_seen_ == 200


def test_minmax_keeps_float32(flux: np.ndarray) -> None:
    out = MinMaxScaler().fit_transform(flux.astype(np.float32))
    assert out.dtype == np.float32
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0


def test_minmax_ignores_nan(flux: np.ndarray) -> None:
    with_nan = flux.copy()
    with_nan[::3, :50] = np.nan
    rows_kept = np.arange(len(flux)) % 3 != 0
    scaler = MinMaxScaler().fit(with_nan)
    reference = MinMaxScaler().fit(flux[rows_kept])
    np.testing.assert_array_equal(scaler.data_min_[:50], reference.data_min_[:50])
    np.testing.assert_array_equal(scaler.data_max_[50:], flux.max(axis=0)[50:])
    out = scaler.transform(with_nan)
    assert np.isnan(out[::3, :50]).all() and np.isfinite(out[rows_kept]).all()


def test_partial_fit_over_chunks_equals_fit(flux: np.ndarray) -> None:
    whole = MinMaxScaler().fit(flux)
    chunked = MinMaxScaler()
    for chunk in np.array_split(flux, 7):
        chunked.partial_fit(chunk)
    for attr in ("data_min_", "data_max_", "scale_", "min_"):
        np.testing.assert_array_equal(getattr(chunked, attr), getattr(whole, attr))
    assert chunked.n_samples_seen_ == len(flux)


def test_all_nan_column_fails_on_transform(flux: np.ndarray) -> None:
    flux = flux.copy()
    flux[:, 3] = np.nan
    scaler = MinMaxScaler().fit(flux)
    with pytest.raises(ValueError, match=r"column\(s\) \[3\]"):
        scaler.transform(flux)


def test_unfitted_and_bad_range() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        MinMaxScaler().transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="increasing"):
        MinMaxScaler((1.0, 0.0))


def test_minmax_errors_scale_without_offset(flux: np.ndarray) -> None:
    scaler = MinMaxScaler().fit(flux)
    err = np.full_like(flux, 0.5)
    np.testing.assert_allclose(
        scaler.transform_error(flux, err), 0.5 * scaler.scale_[None, :].repeat(200, 0)
    )


@pytest.mark.parametrize(
    "scaler",
    [
        MinMaxScaler((-1.0, 1.0), clip=True),
        PerSpectrumScaler(SpectrumNorm.L2),
        PerSpectrumScaler(SpectrumNorm.SUM, minmax=False),
        IdentityScaler(),
    ],
)
def test_state_round_trips_through_json(flux: np.ndarray, scaler) -> None:
    scaler.fit(flux)
    restored = scaler_from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert type(restored) is type(scaler)
    np.testing.assert_array_equal(restored.transform(flux), scaler.transform(flux))


def test_per_spectrum_removes_brightness(flux: np.ndarray) -> None:
    flux = np.abs(flux)
    scaler = PerSpectrumScaler(SpectrumNorm.MEDIAN).fit(flux)
    np.testing.assert_allclose(scaler.transform(flux * 7.5), scaler.transform(flux), atol=1e-12)
    normalised = scaler.normalise(flux)
    np.testing.assert_allclose(np.median(normalised, axis=1), 1.0)


def test_per_spectrum_nonpositive_norm_gives_nan() -> None:
    out = PerSpectrumScaler(SpectrumNorm.SUM, minmax=False).transform([[-1.0, -2.0], [1.0, 1.0]])
    assert np.isnan(out[0]).all() and out[1].tolist() == [0.5, 0.5]


def test_make_scaler_kinds() -> None:
    assert isinstance(make_scaler(Scaling.PER_SPECTRUM, norm=SpectrumNorm.L2), PerSpectrumScaler)
    assert isinstance(make_scaler("none"), IdentityScaler)


def test_l2_norm_of_each_row_skips_nan_and_keeps_inf(flux: np.ndarray) -> None:
    x = flux[:6].astype(np.float32).copy()
    x[1, 5] = np.nan
    x[2, :] = np.nan
    x[3, 7] = np.inf
    expected = np.sqrt(np.nansum(x.astype(np.float64) ** 2, axis=1))
    scaler = PerSpectrumScaler(SpectrumNorm.L2, minmax=False)
    out = scaler.normalise(x)
    norms = x[:, 0] / out[:, 0]  # the norm each row was divided by
    np.testing.assert_allclose(norms[[0, 1, 4, 5]], expected[[0, 1, 4, 5]], rtol=1e-6)
    assert np.isnan(out[2]).all()  # no finite value: no norm
    assert np.isnan(out[3]).all()  # an infinite norm is not a norm either
