"""``xpz fetch --labels``: the whole path against stored archive answers, offline.

The fake archive (``labels_support.StoredArchive``) answers the cross-match from
a stored VOTable (34 single matches, a row without a match, one with two Gaia
sources, two rows on one source, one source without XP spectra) and
XP_CONTINUOUS from the real GaiaXPy files; one matched source gets no spectrum.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from xpz.errors import InputError, XpzError
from xpz.io.archive import fetch as fetch_module
from xpz.io.archive.crossmatch import Outcome, Pairs, SeveralSources, resolve_matches
from xpz.io.archive.fetch import FETCH_FORMATS, XP_CONTINUOUS_COLUMNS
from xpz.io.archive.labelled import fetch_labels
from xpz.io.archive.retry import NO_RETRY, ArchiveUnavailableError
from xpz.io.archive.survey import LabelColumns, read_survey
from xpz.io.formats import TableFormat
from xpz.io.read import InputKind, identify_kind, read_input

from .labels_support import FIRST_SOURCE, LOST_SOURCE, SURVEY, StoredArchive

COLUMNS = LabelColumns(z="redshift", id="objid", carry=("zerr", "quality"))
EXPECTED = {
    "matched": 33,
    "z_outside_range": 1,
    "no_match": 1,
    "several_sources": 1,
    "shared_source": 2,
    "no_xp_spectrum": 1,
    "xp_not_returned": 1,
}


def run(out, archive=None, fmt=TableFormat.PARQUET, **options):
    archive = StoredArchive() if archive is None else archive
    options = {"chunk_rows": 10} | options
    result = fetch_labels(
        out, SURVEY, COLUMNS, client=archive, format=fmt, progress=False, **options
    )
    return result, archive


def test_labelled_table_joins_labels_and_real_spectra(tmp_path):
    result, archive = run(tmp_path / "out")
    assert result.counts == EXPECTED and sum(result.counts.values()) == 40
    survey = Table.read(SURVEY, format="ascii.csv")
    labelled = Table.read(result.labelled)
    assert labelled.colnames[:7] == [
        "source_id", "z", "objid", "separation_arcsec", "phot_g_mean_mag", "zerr", "quality"
    ]  # fmt: skip
    assert labelled.colnames[7:] == list(XP_CONTINUOUS_COLUMNS[1:])
    rows = np.asarray(labelled["source_id"]) - FIRST_SOURCE  # catalogue row k matched source k
    assert rows.tolist() == list(range(33))
    np.testing.assert_array_equal(labelled["z"], survey["redshift"][rows])
    assert labelled["objid"].tolist() == survey["objid"][rows].tolist()
    assert labelled["quality"].tolist() == survey["quality"][rows].tolist()
    answer = archive.answer[np.isin(archive.answer["xpz_row"], rows)]
    np.testing.assert_allclose(labelled["separation_arcsec"], answer["separation_arcsec"])
    assert (labelled["separation_arcsec"] < 1.0).all()
    # the catalogue row with z = 0.9 never went to the archive, in chunks of at most 10 rows
    uploaded = np.concatenate([np.asarray(up["xpz_row"]) for _, up in archive.queries])
    assert sorted(uploaded.tolist()) == list(range(39))
    assert max(len(up) for _, up in archive.queries) == 10
    assert (
        sum(archive.loads, []) == sorted(FIRST_SOURCE + np.r_[0:34])
        and LOST_SOURCE not in labelled["source_id"]
    )


def test_every_refused_row_is_reported_with_its_reason(tmp_path):
    result, _ = run(tmp_path)
    unmatched = Table.read(result.unmatched)
    reasons = dict(
        zip(unmatched["catalogue_row"].tolist(), unmatched["reason"].tolist(), strict=True)
    )
    assert reasons == {
        33: "xp_not_returned",
        34: "no_match",
        35: "several_sources",
        36: "shared_source",
        37: "shared_source",
        38: "no_xp_spectrum",
        39: "z_outside_range",
    }
    assert unmatched["n_gaia_sources"].tolist() == [1, 0, 2, 1, 1, 1, 0]
    assert unmatched["nearest_source_id"][1] == -1 and np.isnan(
        unmatched["nearest_separation_arcsec"][1]
    )
    manifest = json.loads(result.manifest.read_text())
    assert manifest["crossmatch"]["counts"] == EXPECTED
    assert manifest["unmatched"] == {"file": "unmatched.parquet", "n_rows": 7}
    assert manifest["labelled"] == {"file": "labelled.parquet", "n_rows": 33}
    assert manifest["request"]["columns"]["id"] == "objid"


def test_labelled_table_is_labelled_xp_continuous_input(tmp_path):
    result, _ = run(tmp_path)
    assert identify_kind(result.labelled) is InputKind.XP_CONTINUOUS
    spectra = read_input(result.labelled, training=True)
    assert len(spectra) == 33 and np.isfinite(spectra.flux).all()
    assert spectra.source_id.tolist() == (FIRST_SOURCE + np.arange(33)).tolist()
    np.testing.assert_array_equal(spectra.z, Table.read(result.labelled)["z"])
    assert np.isfinite(spectra.phot_g_mean_mag).all()


@pytest.mark.parametrize("fmt", [f for f in FETCH_FORMATS if f is not TableFormat.PARQUET])
def test_labelled_table_in_every_fetch_format(tmp_path, fmt):
    result, _ = run(tmp_path, fmt=fmt)
    assert result.labelled.suffix == fmt.suffix
    spectra = read_input(result.labelled, training=True)
    parquet, _ = run(tmp_path / "parquet")
    reference = read_input(parquet.labelled, training=True)
    assert spectra.source_id.tolist() == reference.source_id.tolist()
    np.testing.assert_allclose(spectra.flux, reference.flux, rtol=1e-5)
    np.testing.assert_array_equal(spectra.z, reference.z)


def test_interrupted_crossmatch_resumes_at_the_missing_chunk(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ArchiveUnavailableError, match="cross-match chunk 2 of 4"):
        run(out, StoredArchive(fail_query=2), retry=NO_RETRY)
    assert sorted(p.name for p in out.iterdir()) == ["crossmatch_000000.parquet", "manifest.json"]
    result, again = run(out)
    assert [up["xpz_row"][0] for _, up in again.queries] == [10, 20, 30]
    assert result.n_chunks_queried == 3 and result.counts == EXPECTED


def test_an_answer_without_a_column_is_one_error_naming_chunk_and_column(tmp_path):
    archive = StoredArchive()
    archive.answer.rename_column("separation_arcsec", "sep")
    archive.answer.rename_column("source_id", "SOURCE_ID")  # upper case is read as lower
    out = tmp_path / "out"
    with pytest.raises(
        XpzError, match=r"chunk 1 of 4.*Gaia archive lacks column\(s\) separation_arcsec$"
    ):
        run(out, archive, retry=NO_RETRY)
    assert not list(out.glob("crossmatch_*"))


def test_rerun_skips_complete_steps_and_downloads_only_missing_batches(tmp_path):
    out = tmp_path / "out"
    first, _ = run(out, batch_size=10)
    assert first.n_downloaded == 4
    (out / "xp_continuous_000002.parquet").unlink()
    first.labelled.unlink()
    result, again = run(out, batch_size=10)
    assert again.queries == [] and [len(ids) for ids in again.loads] == [10]
    assert result.n_downloaded == 1 and result.labelled.exists() and result.counts == EXPECTED


def test_another_request_in_the_same_directory_is_refused(tmp_path):
    run(tmp_path)
    with pytest.raises(XpzError, match="different request"):
        run(tmp_path, match_radius_arcsec=2.0)


def test_the_default_client_is_the_fetch_default(tmp_path, monkeypatch):
    stored = StoredArchive()
    monkeypatch.setattr(fetch_module, "default_client", lambda: stored)
    result = fetch_labels(tmp_path, SURVEY, COLUMNS, progress=False)
    assert result.n_labelled == 33 and len(stored.queries) == 1


# --- the rules ----------------------------------------------------------------------------


def pairs(*rows):
    """Pairs from (catalogue row, source_id, has_xp, separation) tuples."""
    r, s, x, d = (np.array(v) for v in zip(*rows, strict=True))
    return Pairs(r.astype(np.int64), s.astype(np.int64), x.astype(bool), np.full(len(r), 19.0), d)


def test_the_nearest_source_of_two_rows_refuses_both_even_if_one_row_sees_two(tmp_path):
    catalogue = tmp_path / "c.csv"
    Table({"ra": [10.0, 10.0001, 20.0], "dec": [0.0, 0.0, 0.0], "z": [0.1, 0.2, 0.3]}).write(
        catalogue
    )
    survey = read_survey(catalogue, LabelColumns())
    matches = resolve_matches(
        survey, pairs((0, 7, True, 0.2), (1, 7, True, 0.3), (1, 8, True, 0.9), (2, 9, True, 0.5))
    )
    assert matches.reasons().tolist() == ["shared_source", "several_sources", "matched"]
    assert matches.source_id.tolist() == [7, 7, 9]  # the nearest is recorded either way
    assert matches.rows(Outcome.MATCHED).tolist() == [2]


def test_nearest_keeps_the_nearest_of_several_sources_and_records_the_next(tmp_path):
    catalogue = tmp_path / "c.csv"
    Table({"ra": [10.0, 20.0, 30.0], "dec": [0.0, 0.0, 0.0], "z": [0.1, 0.2, 0.3]}).write(catalogue)
    survey = read_survey(catalogue, LabelColumns())
    found = pairs(
        (0, 5, True, 0.8), (0, 4, True, 0.3), (0, 6, False, 0.9),  # three sources: 4 is nearest
        (1, 7, False, 0.1), (1, 8, True, 0.6),  # the nearest has no spectrum: not its neighbour
        (2, 9, True, 0.5),
    )  # fmt: skip
    refused = resolve_matches(survey, found)
    assert refused.reasons().tolist() == ["several_sources", "several_sources", "matched"]
    kept = resolve_matches(survey, found, SeveralSources.NEAREST)
    assert kept.reasons().tolist() == ["matched", "no_xp_spectrum", "matched"]
    assert kept.source_id.tolist() == [4, 7, 9]
    assert kept.n_sources.tolist() == [3, 2, 1]
    np.testing.assert_allclose(kept.second_separation_arcsec, [0.8, 0.6, np.nan])


def test_nearest_end_to_end_labels_the_row_with_two_sources(tmp_path):
    out = tmp_path / "out"
    result, _ = run(out, several_sources=SeveralSources.NEAREST)
    counts = dict(EXPECTED, several_sources=0)
    counts["matched"] += EXPECTED["several_sources"]
    assert result.counts == counts
    labelled = Table.read(result.labelled)
    assert labelled.colnames[5:7] == ["n_gaia_sources", "second_separation_arcsec"]
    two = labelled["n_gaia_sources"] == 2
    assert two.sum() == 1 and (labelled["n_gaia_sources"][~two] == 1).all()
    assert labelled["second_separation_arcsec"][two][0] > labelled["separation_arcsec"][two][0]
    assert np.isnan(labelled["second_separation_arcsec"][~two]).all()
    with pytest.raises(XpzError, match="different request"):  # the policy is part of the request
        run(out)


# --- the catalogue ------------------------------------------------------------------------


def write_catalogue(path, **columns):
    base = {"ra": [10.0, 20.0, 30.0], "dec": [1.0, 2.0, 3.0], "z": [0.1, 0.2, 0.3]}
    Table(base | columns).write(path, overwrite=True)
    return path


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"ra": [10.0, 361.0, 30.0]}, "c.ecsv: column 'ra', row 1: must be degrees in [0, 360]"),
        ({"dec": [1.0, 2.0, -91.0]}, "column 'dec', row 2: must be degrees in [-90, 90]"),
        ({"z": [0.1, np.nan, 0.3]}, "column 'z', row 1: missing, NaN or infinite"),
        ({"z": [-0.1, 0.2, 0.3]}, "column 'z', row 0: must be a redshift >= 0"),
        ({"sid": [5, 6, 5]}, "column 'sid', rows 0, 2: survey id repeated"),
    ],
)
def test_bad_catalogue_values_name_file_row_and_column(tmp_path, columns, message):
    path = write_catalogue(tmp_path / "c.ecsv", **columns)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_survey(path, LabelColumns(id="sid" if "sid" in columns else None))


def test_missing_column_names_what_the_catalogue_has(tmp_path):
    path = write_catalogue(tmp_path / "c.fits")
    with pytest.raises(
        InputError, match=r"c.fits: no column\(s\) redshift \(the catalogue has: dec, ra, z\)"
    ):
        read_survey(path, LabelColumns(z="redshift"))


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".xml", ".parquet"])
def test_catalogue_formats_read_alike(tmp_path, suffix):
    table = Table.read(SURVEY, format="ascii.csv")
    path = tmp_path / f"survey{suffix}"
    if suffix == ".parquet":
        table.to_pandas().to_parquet(path)
    else:
        table.write(path, format="votable" if suffix == ".xml" else None)
    survey = read_survey(path, COLUMNS)
    assert survey.ids.dtype == np.int64 and survey.ids.tolist() == table["objid"].tolist()
    np.testing.assert_array_equal(survey.z, table["redshift"])
    assert survey.carry["quality"].tolist() == table["quality"].tolist()
    assert survey.in_z_range.sum() == 39


def test_text_ids_beyond_int64_stay_exact(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,ra,dec,z\n16000000000000000001,1,2,0.1\n7,3,4,0.2\n")
    assert read_survey(path, LabelColumns(id="id")).ids.tolist() == ["16000000000000000001", "7"]


def test_column_roles_must_differ():
    with pytest.raises(ValueError, match="named twice"):
        LabelColumns(z="ra")
    with pytest.raises(ValueError, match="clash"):
        LabelColumns(carry=("source_id",))


def test_bad_sizes_are_refused_before_anything_is_written(tmp_path):
    archive = StoredArchive()
    with pytest.raises(XpzError, match="at least 1 row"):
        run(tmp_path / "out", archive, chunk_rows=0)
    with pytest.raises(XpzError, match="between 1 and 5000"):
        run(tmp_path / "out", archive, batch_size=5001)
    assert archive.queries == [] and not (tmp_path / "out").exists()
