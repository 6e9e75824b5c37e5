import numpy as np
import pytest

from xpz.layout import Band, XPLayout, default_layout
from xpz.xp import basis


def archive_frame(bp: np.ndarray, rp: np.ndarray):
    """A pandas DataFrame with the Gaia archive's XP_CONTINUOUS columns (uncorrelated)."""
    import pandas as pd

    n = len(bp)
    columns: dict[str, object] = {"source_id": np.arange(n, dtype=np.int64) + 10**18}
    for band, coefficients in (("bp", bp), ("rp", rp)):
        columns[f"{band}_n_parameters"] = np.full(n, 55)
        columns[f"{band}_standard_deviation"] = np.ones(n)
        columns[f"{band}_coefficients"] = list(coefficients)
        columns[f"{band}_coefficient_errors"] = list(np.abs(coefficients) * 0.01 + 0.1)
        columns[f"{band}_coefficient_correlations"] = [np.zeros(55 * 54 // 2)] * n
    return pd.DataFrame(columns)


def gaiaxpy_fluxes(frame, band: Band, pwl: np.ndarray) -> np.ndarray:
    """gaiaxpy.convert's fluxes for ``band``, at ``pwl`` in the order given."""
    from gaiaxpy import convert

    order = np.argsort(pwl)
    out, _ = convert(frame, sampling=pwl[order], save_file=False)
    rows = out[out["xp"] == band.name]
    flux = np.stack(rows["flux"].to_numpy())
    result = np.empty_like(flux)
    result[:, order] = flux
    return result


def test_shipped_file_matches_a_fresh_gaiaxpy_computation():
    fresh = basis.compute_design_matrices()
    shipped = basis.design_matrices()
    for band in Band:
        np.testing.assert_allclose(shipped[band], fresh[band], rtol=1e-12, atol=1e-14)


def test_sample_coefficients_equals_gaiaxpy_convert(rng):
    bp = rng.normal(0, 1, (2, 55)) * np.geomspace(100, 0.1, 55)
    rp = rng.normal(0, 1, (2, 55)) * np.geomspace(80, 0.1, 55)
    frame = archive_frame(bp, rp)
    layout = default_layout()
    expected = layout.truncate(
        gaiaxpy_fluxes(frame, Band.BP, np.asarray(layout.bp_pwl)),
        gaiaxpy_fluxes(frame, Band.RP, np.asarray(layout.rp_pwl)),
    )
    got = basis.sample_coefficients(bp, rp)
    assert got.shape == (2, 186)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_is_linear_in_the_coefficients(rng):
    a, b = rng.normal(size=(2, 4, 55))
    sum_of_samples = basis.sample_coefficients(a, b) + basis.sample_coefficients(b, a)
    np.testing.assert_allclose(basis.sample_coefficients(a + b, b + a), sum_of_samples)


def test_pixel_design_matrices_are_the_kept_columns():
    full = basis.design_matrices()
    kept = basis.pixel_design_matrices()
    layout = default_layout()
    np.testing.assert_array_equal(kept[Band.BP], full[Band.BP][:, layout.bp_kept])
    np.testing.assert_array_equal(kept[Band.RP], full[Band.RP][:, layout.rp_kept])


def test_arrays_are_read_only():
    with pytest.raises(ValueError, match="read-only"):
        basis.design_matrices()[Band.BP][0, 0] = 1.0


def test_other_layout_is_refused_with_a_rebuild_hint():
    layout = default_layout()
    shifted = XPLayout(bp_pwl=layout.bp_pwl + 0.1, rp_pwl=layout.rp_pwl)
    with pytest.raises(ValueError, match="build_xp_basis.py"):
        basis.design_matrices(shifted)
    renamed = XPLayout(bp_pwl=layout.bp_pwl, rp_pwl=layout.rp_pwl, version="other")
    with pytest.raises(ValueError, match="'other'.*build_xp_basis.py"):
        basis.design_matrices(renamed)


@pytest.mark.parametrize(
    ("bp_shape", "rp_shape", "message"),
    [((2, 54), (2, 55), "BP coefficients must have shape"), ((2, 55), (3, 55), "2 BP but 3 RP")],
)
def test_bad_shapes_are_refused(bp_shape, rp_shape, message):
    with pytest.raises(ValueError, match=message):
        basis.sample_coefficients(np.zeros(bp_shape), np.zeros(rp_shape))
