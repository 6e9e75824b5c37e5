"""Reading Gaia DR3 XP_CONTINUOUS tables in every archive format, checked against GaiaXPy."""

import csv

import numpy as np
import pytest

from xpz.errors import InputError
from xpz.io.xp_continuous import (
    ARCHIVE_BAND_COLUMNS,
    identify,
    iter_xp_continuous,
    read_xp_continuous,
)
from xpz.layout import Band, default_layout
from xpz.simulate.xp_archive import random_correlations
from xpz.spectra import Flag
from xpz.xp import xp_to_spectra

ARRAY_COLUMNS = ("coefficients", "coefficient_errors", "coefficient_correlations")
ARCHIVE_COLUMNS = ["source_id", "solution_id"] + [
    f"{band}_{name}" for band in ("bp", "rp") for name in ARCHIVE_BAND_COLUMNS
]
SOURCE_IDS = [4_295_806_720, 6_917_528_997_577_384_320]


def band_solution(rng, scale):
    """Realistic-looking coefficients, errors and a positive-definite correlation vector."""
    coefficients = rng.normal(0, 1, 55) * np.geomspace(scale, 0.05, 55)
    errors = (np.abs(coefficients) * 0.02 + rng.uniform(0.05, 0.2, 55)).astype(np.float32)
    return coefficients, errors, random_correlations(rng, 1)[0]


def archive_table(rng, missing=()):
    """An astropy Table laid out like the archive's XP_CONTINUOUS product.

    ``missing`` lists (row, band) pairs without a spectrum.
    """
    from astropy.table import MaskedColumn, Table

    n = len(SOURCE_IDS)
    table = Table()
    table["source_id"] = np.array(SOURCE_IDS, dtype=np.int64)
    table["solution_id"] = np.full(n, 375316653866487564, dtype=np.int64)
    for band, scale in (("bp", 60.0), ("rp", 40.0)):
        absent = np.array([(i, band) in missing for i in range(n)])
        solutions = [band_solution(rng, scale) for _ in range(n)]
        ints = {
            "basis_function_id": 56 if band == "bp" else 57,
            "degrees_of_freedom": 900,
            "n_parameters": 55,
            "n_measurements": 950,
            "n_rejected_measurements": 3,
            "n_relevant_bases": 40,
        }
        floats = {"standard_deviation": 1.03, "chi_squared": 980.5, "relative_shrinking": 0.01}
        for name in ARCHIVE_BAND_COLUMNS:
            if name in ARRAY_COLUMNS:
                cells = np.empty(n, dtype=object)
                for i, solution in enumerate(solutions):
                    value = solution[ARRAY_COLUMNS.index(name)]
                    cells[i] = value[:0] if absent[i] else value
                table[f"{band}_{name}"] = cells
            elif name in ints:
                table[f"{band}_{name}"] = MaskedColumn(
                    np.full(n, ints[name], np.int16), mask=absent
                )
            else:
                values = np.full(n, floats[name], np.float32)
                table[f"{band}_{name}"] = MaskedColumn(values, mask=absent)
    assert table.colnames == ARCHIVE_COLUMNS
    return table


def write_archive_csv(table, path):
    """The archive's CSV: arrays as '(v1, v2, ...)', an empty field for a missing value."""

    def cell(value):
        if np.ma.is_masked(value):
            return ""
        if isinstance(value, np.ndarray):
            return "(" + ", ".join(str(v) for v in value) + ")" if value.size else ""
        return str(value)

    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(table.colnames)
        for row in table:
            writer.writerow([cell(row[name]) for name in table.colnames])


def as_votable_ready(table):
    """astropy's VOTable writer wants masked arrays in variable-length cells."""
    out = table.copy()
    for name in out.colnames:
        if out[name].dtype.kind == "O":
            for i in range(len(out)):
                out[name][i] = np.ma.masked_array(out[name][i], mask=np.zeros(len(out[name][i])))
    return out


def as_dataframe(table):
    """pandas with list cells and nulls, as pyarrow stores the archive table in Parquet."""
    import pandas as pd

    columns = {}
    for name in table.colnames:
        column = table[name]
        if column.dtype.kind == "O":
            columns[name] = [v.tolist() if v.size else None for v in column]
        elif hasattr(column, "mask"):
            columns[name] = pd.array(
                [None if m else v.item() for v, m in zip(column.data, column.mask, strict=True)],
                dtype="Int16" if column.dtype.kind == "i" else "Float32",
            )
        else:
            columns[name] = np.asarray(column)
    return pd.DataFrame(columns)


def write_all_formats(table, folder):
    paths = {
        "csv": folder / "xp.csv",
        "ecsv": folder / "xp.ecsv",
        "fits": folder / "xp.fits",
        "votable-binary": folder / "xp_binary2.xml",
        "votable-tabledata": folder / "xp_tabledata.xml",
        "parquet": folder / "xp.parquet",
    }
    write_archive_csv(table, paths["csv"])
    table.write(paths["ecsv"], format="ascii.ecsv", delimiter=",")
    table.write(paths["fits"])
    votable = as_votable_ready(table)
    votable.write(paths["votable-binary"], format="votable", tabledata_format="binary2")
    votable.write(paths["votable-tabledata"], format="votable", tabledata_format="tabledata")
    as_dataframe(table).to_parquet(paths["parquet"])
    return paths


@pytest.fixture
def table(rng):
    return archive_table(rng)


@pytest.fixture
def files(table, tmp_path):
    return write_all_formats(table, tmp_path)


def test_all_formats_give_identical_spectra(table, files):
    reference = xp_to_spectra(read_xp_continuous(table))
    assert reference.source_id.tolist() == SOURCE_IDS
    for name, path in files.items():
        spectra = xp_to_spectra(read_xp_continuous(path))
        assert spectra.source_id.tolist() == SOURCE_IDS, name
        np.testing.assert_array_equal(spectra.flux, reference.flux, err_msg=name)
        np.testing.assert_array_equal(spectra.flux_error, reference.flux_error, err_msg=name)
        assert spectra.flag.tolist() == [0, 0], name
    frame = as_dataframe(table)
    np.testing.assert_array_equal(xp_to_spectra(read_xp_continuous(frame)).flux, reference.flux)


@pytest.mark.parametrize("missing", [(), ((0, "bp"), (1, "rp"))])
def test_fluxes_only_reading_gives_the_same_fluxes_in_every_format(rng, tmp_path, missing):
    table = archive_table(rng, missing=list(missing))
    reference = xp_to_spectra(read_xp_continuous(table))
    sources = {**write_all_formats(table, tmp_path), "table": table, "frame": as_dataframe(table)}
    for name, source in sources.items():
        xp = read_xp_continuous(source, errors=False)
        assert not xp.bp.has_errors and not xp.rp.has_errors, name
        assert xp.bp.coefficient_correlations is None, name
        spectra = xp_to_spectra(xp, errors=False)
        np.testing.assert_array_equal(spectra.flux, reference.flux, err_msg=name)
        np.testing.assert_array_equal(spectra.flag, reference.flag, err_msg=name)
        assert spectra.source_id.tolist() == SOURCE_IDS, name
        with pytest.raises(ValueError, match="without their coefficient errors"):
            xp_to_spectra(xp)  # errors asked of solutions read without them
    chunks = list(iter_xp_continuous(sources["parquet"], chunk_rows=1, errors=False))
    assert [len(c) for c in chunks] == [1, 1]


def test_fluxes_only_reading_does_not_need_the_error_columns(table):
    frame = as_dataframe(table).drop(
        columns=[f"{b}_{c}" for b in ("bp", "rp") for c in ARRAY_COLUMNS[1:]]
    )
    assert len(read_xp_continuous(frame, errors=False)) == 2
    with pytest.raises(InputError, match="missing column.*bp_coefficient_errors"):
        read_xp_continuous(frame)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "fits", "votable-binary"])
def test_chunked_reading_gives_the_same_sources(table, files, fmt):
    whole = read_xp_continuous(files[fmt])
    chunks = list(iter_xp_continuous(files[fmt], chunk_rows=1))
    streamed = fmt in ("csv", "parquet")  # the others are read whole, as one chunk
    assert [len(c) for c in chunks] == ([1, 1] if streamed else [2])
    assert np.concatenate([c.source_id for c in chunks]).tolist() == SOURCE_IDS
    for band in Band:
        got = np.concatenate([c.band(band).coefficient_correlations for c in chunks])
        np.testing.assert_array_equal(got, whole.band(band).coefficient_correlations)


def test_predictions_from_every_format_are_identical(table, files, tmp_path):
    from astropy.table import Table

    from xpz.inference import predict, predict_files
    from xpz.models.modelfile import save_model
    from xpz.models.paper import PaperConfig
    from xpz.models.registry import build_model
    from xpz.preprocess import MinMaxScaler

    reference = xp_to_spectra(read_xp_continuous(table))
    model = build_model(PaperConfig(conv_filters=(4,), conv_kernels=(5,), dense_units=(8,)), seed=0)
    model_dir = save_model(tmp_path / "model", model, MinMaxScaler().fit(reference.flux))
    z_pred = {}
    for name, path in files.items():
        out = tmp_path / f"{name}.parquet"
        assert predict_files(model_dir, [path], out, chunk_rows=1).rows == 2, name
        catalogue = Table.read(out)
        assert catalogue["source_id"].tolist() == SOURCE_IDS, name
        z_pred[name] = np.asarray(catalogue["z_pred"])
        np.testing.assert_array_equal(z_pred[name], z_pred["csv"], err_msg=name)
    # in memory, both sources in one batch: the same up to float32 rounding
    np.testing.assert_allclose(z_pred["csv"], predict(model_dir, table)["z_pred"], rtol=1e-5)


def test_chunk_errors_name_rows_of_the_whole_file(files, tmp_path):
    rows = list(csv.reader(files["csv"].open()))
    header = rows[0]
    rows[2][header.index("rp_coefficients")] = "(1.0, abc)"
    broken = tmp_path / "broken.csv"
    with broken.open("w", newline="") as stream:
        csv.writer(stream).writerows(rows)
    chunks = iter_xp_continuous(broken, chunk_rows=1)
    assert len(next(chunks)) == 1
    with pytest.raises(InputError, match=r"column 'rp_coefficients', row 1: not an array"):
        next(chunks)


@pytest.mark.parametrize("chunk_rows", [1, 2])
def test_repeated_source_id_is_refused_within_and_across_chunks(table, tmp_path, chunk_rows):
    table["source_id"][1] = table["source_id"][0]
    path = tmp_path / "repeated.parquet"
    as_dataframe(table).to_parquet(path)
    with pytest.raises(InputError, match=r"column 'source_id', rows 0, 1: duplicate source_id"):
        list(iter_xp_continuous(path, chunk_rows=chunk_rows))
    with pytest.raises(InputError, match=r"column 'source_id', rows 0, 1: duplicate source_id"):
        read_xp_continuous(table)


def gaiaxpy_band(source, band: Band, pwl):
    """gaiaxpy.convert's flux and flux_error (N, len(pwl)) for ``band``, in the order of ``pwl``."""
    from gaiaxpy import convert

    order = np.argsort(pwl)
    out, _ = convert(source, sampling=pwl[order], with_correlation=False, save_file=False)
    rows = out[out["xp"] == band.name]
    result = []
    for column in ("flux", "flux_error"):
        values = np.stack(rows[column].to_numpy())
        unsorted = np.empty_like(values)
        unsorted[:, order] = values
        result.append(unsorted)
    return result


def test_conversion_matches_gaiaxpy(files):
    layout = default_layout()
    bp_flux, bp_error = gaiaxpy_band(str(files["csv"]), Band.BP, np.asarray(layout.bp_pwl))
    rp_flux, rp_error = gaiaxpy_band(str(files["csv"]), Band.RP, np.asarray(layout.rp_pwl))
    spectra = xp_to_spectra(read_xp_continuous(files["csv"]))
    for ours, theirs in (
        (spectra.flux, layout.truncate(bp_flux, rp_flux)),
        (spectra.flux_error, layout.truncate(bp_error, rp_error)),
    ):
        scale = np.abs(theirs).max(axis=1, keepdims=True)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * scale.min())


@pytest.mark.parametrize(
    "fmt", ["csv", "ecsv", "fits", "votable-binary", "votable-tabledata", "parquet"]
)
def test_missing_band_rows_are_kept_and_flagged(rng, tmp_path, fmt):
    table = archive_table(rng, missing=[(0, "bp"), (1, "rp")])
    path = write_all_formats(table, tmp_path)[fmt]
    xp = read_xp_continuous(path)
    assert xp.bp.present.tolist() == [False, True] and xp.rp.present.tolist() == [True, False]
    spectra = xp_to_spectra(xp)
    layout = default_layout()
    assert len(spectra) == 2
    assert np.isnan(spectra.flux[0, layout.bp_pixels]).all()
    assert np.isfinite(spectra.flux[0, layout.rp_pixels]).all()
    assert np.isnan(spectra.flux_error[1, layout.rp_pixels]).all()
    assert np.isfinite(spectra.flux_error[1, layout.bp_pixels]).all()
    assert spectra.flag[0] == Flag.MISSING_BP | Flag.NONFINITE_FLUX
    assert spectra.flag[1] == Flag.MISSING_RP | Flag.NONFINITE_FLUX


def test_extra_redshift_column_is_carried(table):
    frame = as_dataframe(table)
    frame["z"] = [0.1, 0.25]
    assert xp_to_spectra(read_xp_continuous(frame)).z.tolist() == [0.1, 0.25]


def csv_with(files, tmp_path, edit):
    """A copy of the CSV fixture with ``edit(rows)`` applied to its rows (header is rows[0])."""
    with open(files["csv"], newline="") as stream:
        rows = list(csv.reader(stream))
    edit(rows)
    path = tmp_path / "edited.csv"
    with open(path, "w", newline="") as stream:
        csv.writer(stream).writerows(rows)
    return path


def drop_column(rows, column):
    index = rows[0].index(column)
    for row in rows:
        del row[index]


def set_cell(rows, row, column, value):
    rows[row + 1][rows[0].index(column)] = value


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda rows: drop_column(rows, "rp_coefficient_errors"),
            "missing column(s) rp_coefficient_errors",
        ),
        (
            lambda rows: set_cell(rows, 1, "rp_coefficients", "(1.0, oops, 2.0)"),
            "column 'rp_coefficients', row 1: not an array of numbers",
        ),
        (
            lambda rows: set_cell(rows, 0, "bp_coefficients", "1.0, 2.0"),
            "column 'bp_coefficients', row 0: not an array",
        ),
        (
            lambda rows: set_cell(rows, 0, "bp_n_parameters", "54"),
            "column 'bp_coefficients', row 0: number of coefficients differs from bp_n_parameters",
        ),
        (
            lambda rows: (
                set_cell(rows, 1, "rp_n_parameters", "3"),
                set_cell(rows, 1, "rp_coefficients", "(1.0, 2.0, 3.0)"),
            ),
            "column 'rp_coefficients', row 1: expected 55 coefficients",
        ),
        (
            lambda rows: set_cell(rows, 1, "bp_coefficient_correlations", "(0.5, 0.1)"),
            "column 'bp_coefficient_correlations', row 1: missing, or not 1485 values",
        ),
        (
            lambda rows: set_cell(rows, 0, "rp_standard_deviation", ""),
            "column 'rp_standard_deviation', row 0: missing",
        ),
        (
            lambda rows: set_cell(rows, 1, "source_id", "12x"),
            "column 'source_id', row 1: missing or not an integer",
        ),
        (
            lambda rows: set_cell(rows, 0, "bp_standard_deviation", "high"),
            "column 'bp_standard_deviation', row 0: not a number",
        ),
    ],
)
def test_bad_csv_is_refused_with_file_row_and_column(files, tmp_path, edit, message):
    path = csv_with(files, tmp_path, edit)
    with pytest.raises(InputError) as info:
        read_xp_continuous(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


@pytest.mark.filterwarnings("ignore:File may have been truncated")
@pytest.mark.parametrize("fmt", ["fits", "parquet", "votable-binary", "ecsv"])
def test_truncated_file_is_refused(files, tmp_path, fmt):
    data = files[fmt].read_bytes()
    broken = tmp_path / f"broken{files[fmt].suffix}"
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=f"{broken}: cannot read"):
        read_xp_continuous(broken)


def test_float_source_ids_are_refused(table):
    frame = as_dataframe(table)
    frame["source_id"] = frame["source_id"].astype(float)
    with pytest.raises(InputError, match="column 'source_id'.*floats"):
        read_xp_continuous(frame)


def test_unknown_suffix_and_absent_file(tmp_path):
    with pytest.raises(InputError, match="cannot tell the table format"):
        read_xp_continuous(tmp_path / "xp.dat")
    with pytest.raises(InputError, match="no such file"):
        read_xp_continuous(tmp_path / "absent.csv")


def test_identify_tells_xp_tables_from_sampled_ones(table):
    assert identify(table.colnames)
    assert identify(["source_id", "rp_coefficients"])
    assert not identify(["source_id", "z", "flux_0", "flux_1"])
