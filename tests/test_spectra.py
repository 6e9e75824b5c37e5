import numpy as np
import pytest

from xpz.spectra import Flag, Spectra, concatenate


def test_construction_casts_and_validates(toy_spectra):
    s = toy_spectra
    assert s.flux.dtype == np.float32 and s.source_id.dtype == np.int64
    assert s.flag.dtype == np.uint32 and not s.flag.any()
    assert s.meta["layout_version"].startswith("xpz-")
    with pytest.raises(ValueError, match=r"shape \(N, 186\)"):
        Spectra(flux=np.zeros((3, 185)))
    with pytest.raises(ValueError, match="z must have shape"):
        Spectra(flux=np.zeros((3, 186)), z=[0.1, 0.2])
    with pytest.raises(TypeError, match="2\\*\\*53"):
        Spectra(flux=np.zeros((1, 186)), source_id=np.array([1.0]))
    with pytest.raises(ValueError, match="flux_error"):
        Spectra(flux=np.zeros((3, 186)), flux_error=np.zeros((3, 10)))


def test_large_ids_are_exact():
    big = np.array([2**62 + 1, 2**62 + 3], dtype=np.int64)
    s = Spectra(flux=np.zeros((2, 186)), source_id=big)
    assert (s.source_id == big).all()


def test_indexing_and_concatenate(toy_spectra):
    part = toy_spectra[[0, 5]]
    assert len(part) == 2 and part.source_id[1] == toy_spectra.source_id[5]
    assert len(toy_spectra[3]) == 1
    both = concatenate([toy_spectra[:10], toy_spectra[10:]])
    np.testing.assert_array_equal(both.flux, toy_spectra.flux)
    np.testing.assert_array_equal(both.z, toy_spectra.z)
    with pytest.raises(ValueError, match="'z' is missing"):
        concatenate([toy_spectra[:2], toy_spectra[2:4].replace(z=None)])


def test_flags(toy_spectra):
    rows = np.zeros(len(toy_spectra), bool)
    rows[2] = True
    flagged = toy_spectra.with_flag(rows, Flag.MISSING_BP | Flag.NONFINITE_FLUX)
    assert Flag(int(flagged.flag[2])) == Flag.MISSING_BP | Flag.NONFINITE_FLUX
    assert flagged.flag.sum() == flagged.flag[2]
    assert not toy_spectra.flag.any()  # original untouched


def test_require_z():
    with pytest.raises(ValueError, match="no redshift column 'z'"):
        Spectra(flux=np.zeros((1, 186))).require_z()
