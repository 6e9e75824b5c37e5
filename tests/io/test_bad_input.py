"""Bad spectrum tables give an InputError naming the problem, the file, the rows and the column."""

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xpz.errors import InputError
from xpz.io.columns import flux_column_names
from xpz.io.tables import iter_spectra, read_spectra, spectra_from_table, write_spectra
from xpz.spectra import Flag, Spectra


def table1_frame(n: int = 6, seed: int = 0) -> pd.DataFrame:
    """A clean frame in the dissertation's Table 1 layout with source ids."""
    rng = np.random.default_rng(seed)
    flux = dict(zip(flux_column_names(), rng.normal(5.0, 1.0, (186, n)).round(3), strict=True))
    ids = 6_917_528_997_577_384_320 + np.arange(n)
    return pd.DataFrame({"z": np.linspace(0.05, 0.5, n), **flux, "source_id": ids})


def write_csv(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def message(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


def test_wrong_flux_columns_are_named(tmp_path):
    frame = pd.concat(
        [
            table1_frame().drop(columns=["flux_7", "flux_8"]),
            pd.Series(1.0, range(6), name="flux_186"),
        ],
        axis=1,
    )
    path = write_csv(frame, tmp_path / "cols.csv")
    with pytest.raises(InputError) as exc:
        read_spectra(path)
    text = message(exc)
    assert text.startswith(path)
    assert "found 185" in text and "missing flux_7, flux_8" in text
    assert "unexpected flux_186" in text


def test_no_flux_columns(tmp_path):
    path = write_csv(pd.DataFrame({"z": [0.1], "ra": [3.0]}), tmp_path / "none.csv")
    with pytest.raises(InputError, match=r"none\.csv: no flux columns: expected 'flux_0'"):
        read_spectra(path)


def test_non_numeric_value_names_row_and_column(tmp_path):
    frame = table1_frame().astype({"flux_42": object})
    frame.loc[3, "flux_42"] = "n.a."
    frame.loc[5, "flux_42"] = "12,5"
    path = write_csv(frame, tmp_path / "text.csv")
    with pytest.raises(InputError) as exc:
        read_spectra(path)
    assert message(exc) == f"{path}: column 'flux_42', rows 3, 5: value is not a number"


def test_non_integer_source_id(tmp_path):
    frame = table1_frame().astype({"source_id": object})
    frame.loc[2, "source_id"] = "6.9e18"
    path = write_csv(frame, tmp_path / "ids.csv")
    with pytest.raises(InputError, match=r"column 'source_id', row 2: value is not an integer"):
        read_spectra(path)


def test_float_source_id_is_refused():
    frame = table1_frame().astype({"source_id": float})
    with pytest.raises(InputError, match=r"<table>: column 'source_id': .*2\*\*53"):
        spectra_from_table(frame)


def test_nonfinite_flux_is_an_error_for_training(tmp_path):
    frame = table1_frame()
    frame.loc[1, "flux_3"] = np.nan
    frame.loc[4, "flux_3"] = np.inf
    frame.loc[4, "flux_100"] = -np.inf
    path = write_csv(frame, tmp_path / "nan.csv")
    with pytest.raises(InputError) as exc:
        read_spectra(path, training=True)
    assert message(exc).startswith(f"{path}: column 'flux_3', rows 1, 4: flux is NaN or infinite")


def test_nonfinite_flux_is_flagged_for_prediction(tmp_path):
    frame = table1_frame()
    frame.loc[1, "flux_3"] = np.nan
    frame.loc[4, "flux_100"] = -np.inf
    spectra = read_spectra(write_csv(frame, tmp_path / "nan.csv"))
    assert len(spectra) == len(frame)  # never dropped
    flagged = (spectra.flag & Flag.NONFINITE_FLUX) != 0
    assert np.flatnonzero(flagged).tolist() == [1, 4]
    assert np.isnan(spectra.flux[1, 3]) and spectra.flux[4, 100] == -np.inf


@pytest.mark.parametrize("how", [{"require_z": True}, {"training": True}])
def test_missing_z_where_required(tmp_path, how):
    path = write_csv(table1_frame().drop(columns="z"), tmp_path / "noz.csv")
    with pytest.raises(InputError, match=r"noz\.csv: column 'z': no redshift column"):
        read_spectra(path, **how)
    assert read_spectra(path).z is None  # fine when not required


def test_duplicate_source_id_names_rows(tmp_path):
    frame = table1_frame(8)
    frame.loc[6, "source_id"] = frame.loc[2, "source_id"]
    path = write_csv(frame, tmp_path / "dup.csv")
    with pytest.raises(InputError) as exc:
        read_spectra(path)
    assert message(exc).startswith(f"{path}: column 'source_id', rows 2, 6: duplicate source_id")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_duplicate_source_id_across_chunks(tmp_path, suffix):
    spectra = Spectra(flux=np.ones((12, 186)), source_id=[*range(9), 1, 10, 11])
    path = write_spectra(spectra, tmp_path / f"dup.{suffix}")
    with pytest.raises(InputError, match=r"column 'source_id', rows 1, 9: duplicate source_id 1"):
        list(iter_spectra(path, chunk_rows=4))


def test_training_z_outside_range(tmp_path):
    frame = table1_frame()
    frame.loc[2, "z"] = -0.01
    frame.loc[5, "z"] = 0.61
    path = write_csv(frame, tmp_path / "z.csv")
    with pytest.raises(InputError) as exc:
        read_spectra(path, training=True)
    assert message(exc).startswith(f"{path}: column 'z', rows 2, 5: redshift outside [0.0, 0.6]")
    assert read_spectra(path).z[5] == 0.61  # allowed outside training


def test_training_z_not_finite(tmp_path):
    frame = table1_frame()
    frame.loc[0, "z"] = np.nan
    path = write_csv(frame, tmp_path / "z.csv")
    with pytest.raises(InputError, match=r"column 'z', row 0: redshift is NaN"):
        read_spectra(path, training=True)


@pytest.mark.parametrize("suffix", ["csv", "parquet", "fits", "ecsv", "h5", "vot"])
def test_zero_byte_file(tmp_path, suffix):
    path = tmp_path / f"empty.{suffix}"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=rf"empty\.{suffix}: file is empty \(0 bytes\)"):
        read_spectra(path)


def test_header_only_csv(tmp_path):
    path = write_csv(table1_frame().iloc[:0], tmp_path / "header.csv")
    with pytest.raises(InputError, match=r"header\.csv: the table has no data rows"):
        read_spectra(path)
    with pytest.raises(InputError, match="no data rows"):
        list(iter_spectra(path, chunk_rows=3))


@pytest.mark.parametrize("suffix", ["parquet", "h5", "fits", "ecsv"])
def test_zero_row_table(tmp_path, suffix):
    path = tmp_path / f"zero.{suffix}"
    if suffix == "parquet":
        pq.write_table(pa.table({"flux_0": pa.array([], pa.float32())}), path)
    else:
        write_spectra(Spectra(flux=np.ones((2, 186))), path)
        path = write_spectra(Spectra(flux=np.ones((2, 186)))[[]], path)
    with pytest.raises(InputError, match="no data rows"):
        read_spectra(path)


def test_csv_with_last_line_cut_short(tmp_path):
    path = tmp_path / "cut.csv"
    write_csv(table1_frame(5), path)
    text = path.read_text()
    path.write_text(text[: len(text) - 400])  # the last line loses its final ~60 fields
    path = str(path)
    with pytest.raises(InputError) as exc:
        read_spectra(path)
    assert message(exc).startswith(f"{path}: row 4: line has a different number of fields")
    assert "truncated" in message(exc)


@pytest.mark.filterwarnings("ignore:Error validating header")  # astropy on the cut FITS file
@pytest.mark.parametrize("suffix", ["parquet", "pq", "h5", "fits", "ecsv", "vot"])
def test_file_cut_in_half(tmp_path, suffix):
    layout = "list" if suffix == "pq" else "columns"
    path = write_spectra(
        Spectra(flux=np.ones((20, 186))), tmp_path / f"cut.{suffix}", parquet_layout=layout
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: "):
        read_spectra(path)


def test_list_column_of_wrong_length(tmp_path):
    flux = pa.array([[1.0] * 186, [1.0] * 185, [1.0] * 186], pa.list_(pa.float32()))
    path = tmp_path / "list.parquet"
    pq.write_table(pa.table({"flux": flux}), path)
    with pytest.raises(InputError, match=r"column 'flux', row 1: list must hold 186 values"):
        read_spectra(path)


def test_binary_file_with_csv_suffix(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"binary\.csv: "):
        read_spectra(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.csv: no such file"):
        read_spectra(tmp_path / "nothere.csv")
