"""``xpz fetch --labels`` and ``--sdss`` from the command line, offline, and ``xpz train`` on the result."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from xpz.cli import main
from xpz.io.archive import fetch as fetch_module
from xpz.io.archive import sdss as sdss_module
from xpz.io.archive.retry import NO_RETRY, ArchiveUnavailableError
from xpz.io.archive.sdss import fetch_sdss, stripes
from xpz.io.formats import TableFormat

from .labels_support import SURVEY, StoredArchive, StoredSkyServer

LABEL_OPTIONS = ["--z-column", "redshift", "--id-column", "objid", "--carry", "zerr", "quality"]


@pytest.fixture
def archive(monkeypatch):
    stored = StoredArchive()
    monkeypatch.setattr(fetch_module, "default_client", lambda: stored)
    return stored


def test_fetch_labels_command_then_train_one_epoch(tmp_path, archive, capsys):
    from xpz.models.xpznet import XpzNetConfig
    from xpz.recipes import Recipe
    from xpz.training.config import TrainConfig
    from xpz.training.loop import HISTORY_FILE, MODEL_DIR

    out = tmp_path / "labels"
    argv = ["fetch", str(out), "--labels", str(SURVEY), *LABEL_OPTIONS, "--no-progress"]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "33 labelled spectra of 40 catalogue rows" in said
    assert "no_match 1, several_sources 1, shared_source 2" in said
    labelled = out / "labelled.parquet"  # Parquet unless --format says otherwise

    tiny = XpzNetConfig(conv_filters=(4, 8), conv_kernels=(5, 3), hidden_units=16, n_bins=30)
    training = TrainConfig(epochs=1, batch_size=16, lr=1e-3, progress=False)
    scaling = {"scaling": "per_spectrum", "norm": "l2", "minmax": False}
    recipe = Recipe(model=tiny, training=training, scaling=scaling, name="tiny").save(
        tmp_path / "recipe.json"
    )
    run = tmp_path / "run"
    assert main(["train", str(labelled), "-o", str(run), "--config", str(recipe)]) == 0
    assert "MAE" in capsys.readouterr().out
    assert len((run / HISTORY_FILE).read_text().strip().splitlines()) == 2  # header + 1 epoch
    assert (run / MODEL_DIR / "model.json").exists()
    report = tmp_path / "eval"
    assert main(["evaluate", str(run / MODEL_DIR), str(labelled), "-o", str(report)]) == 0
    assert json.loads((report / "metrics.json").read_text())["metrics"]["n"] == 33


def test_fetch_labels_several_sources_nearest_from_the_command_line(tmp_path, archive, capsys):
    out = tmp_path / "labels"
    argv = ["fetch", str(out), "--labels", str(SURVEY), *LABEL_OPTIONS, "--no-progress"]
    assert main([*argv, "--several-sources", "nearest"]) == 0
    said = capsys.readouterr().out
    assert "34 labelled spectra of 40 catalogue rows" in said and "several_sources" not in said
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["request"]["several_sources"] == "nearest"
    assert "n_gaia_sources" in Table.read(out / "labelled.parquet").colnames


def test_fetch_labels_refuses_candidate_options(tmp_path, archive, capsys):
    argv = ["fetch", str(tmp_path), "--labels", str(SURVEY), "--limit", "3", "--g-max", "19"]
    assert main(argv) == 2
    assert "--limit, --g-max select galaxy candidates" in capsys.readouterr().err
    assert archive.queries == []


def test_fetch_labels_bad_column_is_a_user_error(tmp_path, archive, capsys):
    assert main(["fetch", str(tmp_path), "--labels", str(SURVEY), "--z-column", "zz"]) == 2
    err = capsys.readouterr().err
    assert "survey.csv: no column(s) zz" in err and archive.queries == []


def test_fetch_labels_format_option(tmp_path, archive):
    argv = ["fetch", str(tmp_path), "--labels", str(SURVEY), *LABEL_OPTIONS, "--format", "fits"]
    assert main([*argv, "--no-progress"]) == 0
    assert len(Table.read(tmp_path / "labelled.fits")) == 33


# --- --sdss -------------------------------------------------------------------------------


def test_sdss_catalogue_is_built_in_stripes_and_resumes(tmp_path):
    out = tmp_path / "sdss"
    with pytest.raises(ArchiveUnavailableError, match="SDSS stripe 77 of 180.*the SDSS SkyServer"):
        fetch_sdss(out, StoredSkyServer(fail_query=77), TableFormat.ECSV, NO_RETRY, progress=False)
    assert len(list(out.glob("sdss_0*.ecsv"))) == 76
    again = StoredSkyServer()
    catalogue, request = fetch_sdss(out, again, TableFormat.ECSV, NO_RETRY, progress=False)
    assert len(again.queries) == 180 - 76
    assert "s.ra >= 152.0 AND s.ra < 154.0" in again.queries[0]
    table = Table.read(catalogue)
    assert len(table) == 39  # the stored answer's galaxies, each in one stripe
    assert table["specobjid"].dtype.kind == "U" and "16000000000000000000" in table["specobjid"]
    assert request["sdss"]["ra_step_deg"] == 2.0 and "zWarning = 0" in request["sdss"]["query"]
    assert "s.class = 'GALAXY'" in request["sdss"]["query"]


def test_sdss_refuses_another_stripe_width_in_the_same_directory(tmp_path):
    fetch_sdss(tmp_path, StoredSkyServer(), TableFormat.ECSV, NO_RETRY, progress=False)
    with pytest.raises(Exception, match="different request"):
        fetch_sdss(tmp_path, StoredSkyServer(), TableFormat.ECSV, NO_RETRY, ra_step_deg=5.0)


def test_fetch_sdss_command_end_to_end(tmp_path, archive, monkeypatch, capsys):
    sky = StoredSkyServer()
    monkeypatch.setattr(sdss_module, "default_sdss_client", lambda: sky)
    out = tmp_path / "sdss"
    assert main(["fetch", str(out), "--sdss", "--ra-step", "10", "--no-progress"]) == 0
    assert len(sky.queries) == 36
    labelled = Table.read(out / "labelled.parquet")
    # the SDSS answer lacks the z = 0.9 row; the cross-match answer is by catalogue row
    assert len(labelled) == 33 and labelled["specobjid"].dtype.kind in "OU"
    assert labelled["specobjid"][0] == "16000000000000000000"
    assert {"zerr", "plate", "mjd", "fiberid"} <= set(labelled.colnames)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["request"]["catalogue"]["sdss"]["ra_step_deg"] == 10.0
    assert manifest["crossmatch"]["counts"]["z_outside_range"] == 0
    assert "labelled spectra of 39 catalogue rows" in capsys.readouterr().out


def test_stripes_cover_the_sky_once():
    edges = stripes(7.0)
    assert edges[0][0] == 0.0 and edges[-1][1] == 360.0
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:], strict=False))
    assert np.isclose(sum(hi - lo for lo, hi in edges), 360.0)


# --- the real services --------------------------------------------------------------------


@pytest.mark.network
def test_real_crossmatch_of_a_known_source(tmp_path):
    from xpz.io.archive.client import GaiaArchiveClient
    from xpz.io.archive.labelled import fetch_labels

    client = GaiaArchiveClient()
    where = client.query(
        "SELECT ra, dec FROM gaiadr3.gaia_source WHERE source_id = 5853498713190525696"
    )
    catalogue = tmp_path / "one.csv"
    Table({"ra": where["ra"], "dec": where["dec"], "z": [0.1]}).write(catalogue)
    result = fetch_labels(tmp_path / "out", catalogue, client=client, progress=False)
    assert result.counts["matched"] == 1
    assert Table.read(result.labelled)["source_id"][0] == 5853498713190525696


@pytest.mark.network
def test_real_sdss_stripe():
    from xpz.io.archive.sdss import SkyServerClient, build_sdss_query

    answer = SkyServerClient().query_sql(build_sdss_query(180.0, 180.05))
    assert len(answer) > 0 and float(np.max(answer["z"])) <= 0.6
