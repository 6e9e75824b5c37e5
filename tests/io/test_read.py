"""The one entry for spectra of either kind: identification, dispatch and shared label checks."""

import numpy as np
import pytest

from xpz.errors import InputError
from xpz.io.read import InputKind, identify_kind, iter_input, read_input
from xpz.io.tables import spectra_to_table, write_spectra
from xpz.io.xp_continuous import read_xp_continuous
from xpz.layout import Z_RANGE
from xpz.simulate.xp_archive import xp_archive_frame
from xpz.spectra import Spectra
from xpz.xp import xp_to_spectra

N = 8
Z = np.linspace(0.05, 0.5, N)


def xp_frame(z=Z):
    frame = xp_archive_frame(N, seed=3)
    if z is not None:
        frame["z"] = z
    return frame


def sampled_spectra(z=Z):
    return Spectra(flux=np.ones((N, 186), np.float32), source_id=np.arange(1, N + 1), z=z)


def write_kind(kind, tmp_path, z=Z, missing_bp_row=None):
    """A file of ``kind`` with redshifts ``z``; ``missing_bp_row`` has NaN BP fluxes."""
    if kind is InputKind.XP_CONTINUOUS:
        frame = xp_frame(z)
        if missing_bp_row is not None:
            frame.at[missing_bp_row, "bp_coefficients"] = None
        path = tmp_path / "xp.parquet"
        frame.to_parquet(path)
        return path
    spectra = sampled_spectra(z)
    if missing_bp_row is not None:
        spectra.flux[missing_bp_row, :110] = np.nan
    return write_spectra(spectra, tmp_path / "sampled.parquet")


def test_identify_kind_of_files_and_tables(tmp_path):
    xp_path = write_kind(InputKind.XP_CONTINUOUS, tmp_path)
    sampled_path = write_kind(InputKind.SAMPLED, tmp_path)
    hdf5 = write_spectra(sampled_spectra(), tmp_path / "s.h5")
    assert identify_kind(xp_path) is InputKind.XP_CONTINUOUS
    assert identify_kind(str(sampled_path)) is InputKind.SAMPLED
    assert identify_kind(hdf5) is InputKind.SAMPLED
    assert identify_kind(xp_frame()) is InputKind.XP_CONTINUOUS
    assert identify_kind(spectra_to_table(sampled_spectra())) is InputKind.SAMPLED


def test_read_input_samples_xp_files_and_tables(tmp_path):
    path = write_kind(InputKind.XP_CONTINUOUS, tmp_path)
    expected = xp_to_spectra(read_xp_continuous(path))
    np.testing.assert_array_equal(read_input(path).flux, expected.flux)
    np.testing.assert_array_equal(read_input(xp_frame()).flux, expected.flux)
    np.testing.assert_array_equal(read_input(path, training=True).z, Z)


def test_flux_error_false_skips_xp_errors_and_sampled_files_error_columns(tmp_path):
    path = write_kind(InputKind.XP_CONTINUOUS, tmp_path)
    full = read_input(path)
    for fast in (read_input(path, flux_error=False), read_input(xp_frame(), flux_error=False)):
        assert fast.flux_error is None
        assert fast.flux.tobytes() == full.flux.tobytes()
        np.testing.assert_array_equal(fast.flag, full.flag)
    chunks = list(iter_input(path, 3 * 8, flux_error=False))
    assert [c.flux_error for c in chunks] == [None] * len(chunks)
    assert np.concatenate([c.flux for c in chunks]).tobytes() == full.flux.tobytes()
    assert all(c.flux_error is not None for c in iter_input(path, 3 * 8))
    errors = Spectra(flux=np.ones((N, 186)), flux_error=np.full((N, 186), 0.5), z=Z)
    for suffix in ("parquet", "csv", "fits", "h5"):
        sampled = write_spectra(errors, tmp_path / f"errors.{suffix}")
        assert read_input(sampled).flux_error is not None
        without = read_input(sampled, flux_error=False)  # those columns are not read
        assert without.flux_error is None, suffix
        np.testing.assert_array_equal(without.flux, errors.flux)
        chunks = list(iter_input(sampled, 7, flux_error=False))
        assert [c.flux_error for c in chunks] == [None] * len(chunks) and len(chunks) > 1
    table = spectra_to_table(errors)
    assert read_input(table, flux_error=False).flux_error is not None  # in memory: as given


def test_read_input_reads_sampled_files_and_tables(tmp_path):
    path = write_kind(InputKind.SAMPLED, tmp_path)
    assert read_input(path, training=True).meta["source_file"] == str(path)
    table = spectra_to_table(sampled_spectra())
    assert read_input(table, require_z=True).source_id.tolist() == list(range(1, N + 1))


def outside(z):
    z = z.copy()
    z[[2, 5]] = Z_RANGE[1] + 0.3
    return z


def nan_at_3(z):
    z = z.copy()
    z[3] = np.nan
    return z


LABEL_PROBLEMS = {
    "no z": (dict(z=None), dict(require_z=True), "no redshift column", None, "z"),
    "z outside": (dict(z=outside(Z)), dict(training=True), "redshift outside [0.0, 0.6]", [2, 5], "z"),
    "nan z": (dict(z=nan_at_3(Z)), dict(training=True), "redshift is NaN", [3], "z"),
    "nan flux": (dict(missing_bp_row=1), dict(training=True), "flux is NaN or infinite", [1], "flux_0"),
}  # fmt: skip


@pytest.mark.parametrize("problem", LABEL_PROBLEMS)
def test_labelled_input_gets_the_same_checks_for_both_kinds(tmp_path, problem):
    data, flags, text, rows, column = LABEL_PROBLEMS[problem]
    errors = {}
    for kind in InputKind:
        path = write_kind(kind, tmp_path, **{"z": Z, **data})
        with pytest.raises(InputError) as info:
            read_input(path, **flags)
        errors[kind] = info.value
        assert str(info.value).startswith(f"{path}: column '{column}'")
        assert text in info.value.problem and info.value.rows == rows
    xp, sampled = errors[InputKind.XP_CONTINUOUS], errors[InputKind.SAMPLED]
    assert (xp.problem, xp.rows, xp.column) == (sampled.problem, sampled.rows, sampled.column)


def test_in_memory_xp_table_is_checked_too():
    with pytest.raises(InputError, match=r"<DataFrame>: column 'z', rows 2, 5: redshift outside"):
        read_input(xp_frame(outside(Z)), training=True)
    assert len(read_input(xp_frame(outside(Z)))) == N  # prediction: no demand on z


@pytest.mark.parametrize("kind", list(InputKind))
def test_iter_input_checks_name_rows_of_the_whole_file(tmp_path, kind):
    z = Z.copy()
    z[5] = -0.1
    path = write_kind(kind, tmp_path, z=z)
    with pytest.raises(InputError, match=r"column 'z', row 5: redshift outside"):
        list(iter_input(path, chunk_rows=4, training=True))
    chunks = list(iter_input(path, chunk_rows=3))
    assert max(len(c) for c in chunks) <= 3 and sum(len(c) for c in chunks) == N
