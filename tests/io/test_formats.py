"""One format enum for every reader and writer: suffixes, names, and each writer's subset."""

import pytest

from xpz.errors import InputError
from xpz.io.archive.fetch import FETCH_FORMATS
from xpz.io.catalog import CATALOG_FORMATS, catalog_format
from xpz.io.formats import TableFormat


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.CSV", TableFormat.CSV),
        ("a.pq", TableFormat.PARQUET),
        ("a.fit", TableFormat.FITS),
        ("a.fits.gz", TableFormat.FITS),
        ("a.hdf5", TableFormat.HDF5),
        ("a.xml", TableFormat.VOTABLE),
        ("a.votable", TableFormat.VOTABLE),
        ("a.ecsv", TableFormat.ECSV),
    ],
)
def test_format_from_suffix(name, expected):
    assert TableFormat.from_path(name) is expected


def test_gzip_text_files_are_recognised_only_when_asked():
    assert TableFormat.from_path("xp.csv.gz", gzip=True) is TableFormat.CSV
    assert TableFormat.from_path("xp.fits.gz", gzip=True) is TableFormat.FITS
    with pytest.raises(InputError, match="cannot tell the table format"):
        TableFormat.from_path("xp.csv.gz")


def test_written_suffix_reads_back_as_its_format():
    for fmt in TableFormat:
        assert TableFormat.from_path(f"x{fmt.suffix}") is fmt
    assert TableFormat.VOTABLE.suffix == ".xml"  # what GaiaXPy expects


def test_resolve_takes_enum_or_name():
    assert TableFormat.resolve("x.dat", "FITS") is TableFormat.FITS
    assert TableFormat.resolve("x.dat", TableFormat.HDF5) is TableFormat.HDF5
    with pytest.raises(InputError, match="unknown table format 'excel'"):
        TableFormat.resolve("x.dat", "excel")


def test_catalog_formats_and_their_messages():
    assert TableFormat.HDF5 not in CATALOG_FORMATS
    assert catalog_format("z") is TableFormat.PARQUET
    assert catalog_format("z.vot") is TableFormat.VOTABLE
    assert catalog_format("z.dat", TableFormat.ECSV) is TableFormat.ECSV
    with pytest.raises(InputError, match="unknown output format 'hdf5'"):
        catalog_format("z.parquet", "hdf5")
    with pytest.raises(InputError, match="cannot tell the output format from suffix '.h5'"):
        catalog_format("z.h5")
    with pytest.raises(InputError, match="suffix '.gz'"):
        catalog_format("z.fits.gz")


def test_fetch_writes_every_format_but_hdf5():
    assert set(FETCH_FORMATS) == set(TableFormat) - {TableFormat.HDF5}
