"""Spectrum tables: round trips through every format, streaming, Table 1 layout, astropy/pandas."""

import numpy as np
import pandas as pd
import pytest

from xpz.errors import InputError
from xpz.io.columns import flux_column_names
from xpz.io.formats import TableFormat
from xpz.io.tables import (
    ParquetLayout,
    SpectraWriter,
    iter_spectra,
    read_spectra,
    spectra_from_table,
    spectra_to_table,
    write_spectra,
)
from xpz.spectra import Flag, Spectra, concatenate

BIG_ID = 6_917_528_997_577_384_320

FORMATS = [
    ("csv", ParquetLayout.COLUMNS),
    ("parquet", ParquetLayout.COLUMNS),
    ("pq", ParquetLayout.LIST),
    ("fits", ParquetLayout.COLUMNS),
    ("fits.gz", ParquetLayout.COLUMNS),
    ("ecsv", ParquetLayout.COLUMNS),
    ("h5", ParquetLayout.COLUMNS),
    ("vot", ParquetLayout.COLUMNS),
]


def make_spectra(n: int, seed: int = 3) -> Spectra:
    """n spectra with big ids, errors, z, G mag, flags and one NaN flux (row 2)."""
    rng = np.random.default_rng(seed)
    flux = (rng.normal(5.0, 2.0, (n, 186)) * 10.0 ** rng.integers(-3, 4, (n, 1))).astype(np.float32)
    flux[2, 17] = np.nan
    flag = np.zeros(n, np.uint32)
    flag[2] = Flag.NONFINITE_FLUX
    flag[1] = Flag.OUT_OF_DISTRIBUTION
    return Spectra(
        flux=flux,
        source_id=BIG_ID + np.arange(n, dtype=np.int64),
        flux_error=np.abs(rng.normal(0.5, 0.1, (n, 186))).astype(np.float32),
        z=rng.uniform(0.0, 0.6, n),
        phot_g_mean_mag=rng.uniform(17.0, 20.7, n),
        flag=flag,
        meta={"provenance": "test_tables"},
    )


def assert_same(a: Spectra, b: Spectra) -> None:
    assert a.source_id.dtype == b.source_id.dtype == np.int64
    assert a.source_id.tolist() == b.source_id.tolist()  # exact, as Python ints
    assert np.array_equal(a.flux.view(np.uint32), b.flux.view(np.uint32))  # bit-identical
    assert np.array_equal(a.flux_error.view(np.uint32), b.flux_error.view(np.uint32))
    for name in ("z", "phot_g_mean_mag", "flag"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize(("suffix", "layout"), FORMATS)
def test_round_trip_every_format(tmp_path, suffix, layout):
    spectra = make_spectra(12)
    path = write_spectra(spectra, tmp_path / f"s.{suffix}", parquet_layout=layout)
    back = read_spectra(path)
    assert_same(spectra, back)
    assert back.meta["source_file"] == str(path)
    assert back.meta["layout_version"] == spectra.meta["layout_version"]
    if TableFormat.from_path(path) is not TableFormat.CSV:  # plain CSV has no metadata
        assert back.meta["provenance"] == "test_tables"
    assert not list(tmp_path.glob(".*partial*")), "atomic writer left a temporary file"


def test_parquet_list_layout_has_one_flux_column(tmp_path):
    import pyarrow.parquet as pq

    path = write_spectra(make_spectra(3), tmp_path / "s.parquet", parquet_layout="list")
    schema = pq.read_schema(path)
    assert "flux" in schema.names and "flux_0" not in schema.names
    assert schema.field("flux").type.list_size == 186


def test_format_argument_overrides_suffix(tmp_path):
    spectra = make_spectra(4)
    path = write_spectra(spectra, tmp_path / "spectra.dat", format="parquet")
    assert_same(spectra, read_spectra(path, format=TableFormat.PARQUET))
    with pytest.raises(InputError, match=r"spectra\.dat.*suffix"):
        read_spectra(path)
    with pytest.raises(InputError, match="unknown table format 'excel'"):
        read_spectra(path, format="excel")


@pytest.mark.parametrize("suffix", ["csv", "parquet", "pq", "h5"])
def test_streaming_gives_the_rows_of_a_whole_read(tmp_path, suffix):
    spectra = make_spectra(50)
    layout = ParquetLayout.LIST if suffix == "pq" else ParquetLayout.COLUMNS
    path = write_spectra(spectra, tmp_path / f"s.{suffix}", parquet_layout=layout)
    chunks = list(iter_spectra(path, chunk_rows=7))
    assert [len(c) for c in chunks] == [7] * 7 + [1]
    assert_same(read_spectra(path), concatenate(chunks))


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_streaming_reports_late_errors_with_file_rows(tmp_path, suffix):
    """Chunks before a bad row come out; the error names the row of the whole file."""
    spectra = make_spectra(30)
    z = spectra.z.copy()
    z[25] = 0.9
    flux = np.nan_to_num(spectra.flux)
    path = write_spectra(spectra.replace(z=z, flux=flux), tmp_path / f"s.{suffix}")
    chunks = iter_spectra(path, chunk_rows=10, training=True)
    assert len(next(chunks)) == 10 and len(next(chunks)) == 10
    with pytest.raises(InputError, match=rf"s\.{suffix}: column 'z', row 25: redshift outside"):
        next(chunks)


@pytest.mark.parametrize(("suffix", "layout"), FORMATS)
def test_writer_in_chunks_equals_one_write(tmp_path, suffix, layout):
    spectra = make_spectra(17)
    path = tmp_path / f"chunks.{suffix}"
    with SpectraWriter(path, parquet_layout=layout) as writer:
        for start in range(0, len(spectra), 5):
            writer.write(spectra[start : start + 5])
    assert writer.rows_written == 17
    assert_same(spectra, read_spectra(path))


def test_writer_leaves_no_file_on_error(tmp_path):
    spectra = make_spectra(4)
    path = tmp_path / "broken.csv"
    with pytest.raises(ValueError, match="same optional columns"), SpectraWriter(path) as writer:
        writer.write(spectra)
        writer.write(spectra.replace(flux_error=None))
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_generated_ids_are_file_rows_when_streaming(tmp_path):
    path = tmp_path / "t1.csv"
    frame = pd.DataFrame(np.ones((9, 186)), columns=flux_column_names())
    frame.to_csv(path, index=False)
    ids = np.concatenate([c.source_id for c in iter_spectra(path, chunk_rows=4)])
    assert ids.tolist() == list(range(9))


def test_csv_column_order_is_table_1(tmp_path):
    path = write_spectra(make_spectra(3), tmp_path / "s.csv")
    header = path.read_text().splitlines()[0].replace('"', "").split(",")
    assert header[:187] == ["z", *flux_column_names()]
    assert set(header[187:]) == {
        "source_id",
        "phot_g_mean_mag",
        "flag",
        *flux_column_names("flux_error"),
    }


@pytest.mark.parametrize("index", [False, True])
def test_reads_plain_pandas_csv_in_table_1_layout(tmp_path, index):
    """z, flux_0..flux_185 with three decimals, no source_id (as in the dissertation's Table 1)."""
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(5.0, 3.0, (4, 186)), 3)
    frame = pd.DataFrame(values, columns=flux_column_names())
    frame.insert(0, "z", [0.173558, 0.264777, 0.128867, 0.3])
    path = tmp_path / "table1.csv"
    frame.to_csv(path, index=index)
    spectra = read_spectra(path, training=True)
    assert spectra.source_id.tolist() == [0, 1, 2, 3]
    assert spectra.meta["source_id_generated"] is True
    assert spectra.z.tolist() == [0.173558, 0.264777, 0.128867, 0.3]
    assert np.array_equal(spectra.flux, values.astype(np.float32))
    assert spectra.flux_error is None and spectra.phot_g_mean_mag is None


def test_astropy_table_has_units_and_descriptions_and_round_trips():
    spectra = make_spectra(5)
    table = spectra_to_table(spectra)
    assert table.colnames[:2] == ["z", "flux_0"]
    assert str(table["flux_0"].unit) == "electron / s"
    assert table["flux_0"].description.startswith("BP flux at 366.0 nm")
    assert table["flux_185"].description.startswith("RP flux at 996.0 nm")
    assert str(table["phot_g_mean_mag"].unit) == "mag"
    assert table["source_id"].dtype == np.int64
    back = spectra_from_table(table)
    assert_same(spectra, back)
    assert back.meta["provenance"] == "test_tables"


def test_spectra_from_dataframe_with_list_column_and_attrs():
    spectra = make_spectra(4)
    frame = pd.DataFrame(
        {"source_id": spectra.source_id, "z": spectra.z, "flux": list(spectra.flux)}
    )
    frame.attrs["provenance"] = "notebook"
    back = spectra_from_table(frame, source="my frame")
    assert back.source_id.tolist() == spectra.source_id.tolist()
    assert np.array_equal(back.flux.view(np.uint32), spectra.flux.view(np.uint32))
    assert back.meta["provenance"] == "notebook"
    assert back.flag[2] == Flag.NONFINITE_FLUX  # the reader flags the NaN itself


def test_missing_band_is_flagged(tmp_path):
    flux = np.ones((3, 186), np.float32)
    flux[0, :80] = np.nan  # no BP
    flux[1, 80:] = np.nan  # no RP
    spectra = read_spectra(write_spectra(Spectra(flux=flux), tmp_path / "s.parquet"))
    assert spectra.flag[0] == Flag.MISSING_BP | Flag.NONFINITE_FLUX
    assert spectra.flag[1] == Flag.MISSING_RP | Flag.NONFINITE_FLUX
    assert spectra.flag[2] == 0


def test_other_layout_version_is_refused(tmp_path):
    spectra = Spectra(flux=np.ones((2, 186)), meta={"layout_version": "someone-else-v9"})
    path = write_spectra(spectra, tmp_path / "s.h5")
    with pytest.raises(InputError, match="'someone-else-v9'"):
        read_spectra(path)


def test_iter_spectra_rejects_bad_chunk_size(tmp_path):
    with pytest.raises(ValueError, match="chunk_rows"):
        iter_spectra(tmp_path / "s.csv", chunk_rows=0)


def test_convert_command_streams_between_formats(tmp_path, capsys):
    from xpz.cli import main

    spectra = make_spectra(23)
    source = write_spectra(spectra, tmp_path / "in.csv")
    target = tmp_path / "out.pq"
    argv = ["convert", str(source), "-o", str(target), "--parquet-layout", "list"]
    assert main([*argv, "--chunk-rows", "5"]) == 0
    assert "23 spectra" in capsys.readouterr().out
    assert_same(spectra, read_spectra(target))
    assert main(["convert", str(target), "-o", str(tmp_path / "out.h5")]) == 0
    assert_same(spectra, read_spectra(tmp_path / "out.h5"))


def test_convert_command_reports_bad_input_and_writes_nothing(tmp_path, capsys):
    from xpz.cli import main

    source = tmp_path / "bad.csv"
    source.write_text("z,flux_0\n0.1,1\n")
    assert main(["convert", str(source), "-o", str(tmp_path / "out.parquet")]) == 2
    assert "bad.csv: expected 186 columns flux_0 .. flux_185" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()
