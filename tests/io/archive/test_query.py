"""Tests of xpz.io.archive.query: the ADQL text and the upload table."""

import pytest

from xpz.errors import InputError, XpzError
from xpz.io.archive.query import UPLOAD_TABLE_NAME, UploadKind, build_candidates_query, read_upload

# --- the ADQL ---------------------------------------------------------------------------


def test_query_text_without_options():
    assert build_candidates_query() == (
        "SELECT g.source_id, g.classprob_dsc_combmod_galaxy, g.classprob_dsc_combmod_quasar, "
        "g.classlabel_dsc, g.classlabel_dsc_joint, g.classlabel_oa, g.vari_best_class_name, "
        "g.radius_sersic, g.redshift_ugc, g.redshift_ugc_lower, g.redshift_ugc_upper, "
        "s.ra, s.dec, s.phot_g_mean_mag, s.phot_bp_mean_flux, s.phot_rp_mean_flux\n"
        "FROM gaiadr3.galaxy_candidates AS g\n"
        "JOIN gaiadr3.gaia_source AS s ON s.source_id = g.source_id\n"
        "WHERE s.has_xp_continuous = 'True'\n"
        "ORDER BY g.source_id"
    )


def test_query_includes_limit_magnitude_and_user_condition():
    adql = build_candidates_query(where="g.redshift_ugc > 0.1 ", limit=3, g_max=19.0)
    assert adql.startswith("SELECT TOP 3 g.source_id, ")
    assert adql.endswith(
        "WHERE s.has_xp_continuous = 'True'\n"
        "  AND s.phot_g_mean_mag <= 19.0\n"
        "  AND (g.redshift_ugc > 0.1)\n"
        "ORDER BY g.source_id"
    )


def test_query_joins_uploaded_ids_or_positions():
    by_id = build_candidates_query(upload=UploadKind.SOURCE_ID)
    assert f"JOIN tap_upload.{UPLOAD_TABLE_NAME} AS u ON u.source_id = g.source_id\n" in by_id
    by_pos = build_candidates_query(upload=UploadKind.POSITION, match_radius_arcsec=1.8)
    assert (
        f"JOIN tap_upload.{UPLOAD_TABLE_NAME} AS u ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), "
        "CIRCLE('ICRS', u.ra, u.dec, 0.0005))\n"
    ) in by_pos


@pytest.mark.parametrize(
    "kwargs",
    [
        {"where": "1=1; DROP TABLE x"},
        {"where": "g.redshift_ugc > 0 -- comment"},
        {"where": "  "},
        {"limit": 0},
        {"limit": 2.5},
        {"g_max": float("nan")},
        {"match_radius_arcsec": -1.0},
    ],
)
def test_query_refuses_bad_input(kwargs):
    with pytest.raises(XpzError):
        build_candidates_query(**kwargs)


# --- upload tables ----------------------------------------------------------------------


def test_read_upload_keeps_only_the_matching_columns(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text("name,source_id\na,12\nb,34\n")
    table, kind = read_upload(path)
    assert kind is UploadKind.SOURCE_ID
    assert table.colnames == ["source_id"] and table["source_id"].tolist() == [12, 34]

    path.write_text("ra,dec\n10.5,-3\n200,95\n")
    with pytest.raises(InputError, match=r"targets.csv: column 'dec', row 1: dec must be"):
        read_upload(path)
    path.write_text("x,y\n1,2\n")
    with pytest.raises(InputError, match="needs a 'source_id' column"):
        read_upload(path)
