"""Tests of xpz.io.archive.fetch with a fake archive client serving tables the tests make."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import numpy as np
import pytest
from astropy.table import Table

from xpz.commands import fetch as fetch_command
from xpz.errors import XpzError
from xpz.io.archive.fetch import (
    FETCH_FORMATS,
    XP_CONTINUOUS_COLUMNS,
    fetch,
    split_batches,
    write_table,
)
from xpz.io.archive.retry import NO_RETRY, ArchiveUnavailableError
from xpz.io.formats import TableFormat

FIRST_ID = 4_295_806_720


def xp_continuous_table(ids: Sequence[int]) -> Table:
    """Rows in the archive's XP_CONTINUOUS layout (values are arbitrary but distinct)."""
    n = len(ids)
    rng = np.random.default_rng(int(ids[0]) % 2**32 if n else 0)
    cols: dict[str, object] = {
        "source_id": np.asarray(ids, dtype=np.int64),
        "solution_id": np.full(n, 4_545_469_030_156_206_081, dtype=np.int64),
    }
    for band in ("bp", "rp"):
        cols |= {
            f"{band}_basis_function_id": np.full(n, 56 if band == "bp" else 57, dtype=np.int16),
            f"{band}_degrees_of_freedom": np.full(n, 1687, dtype=np.int16),
            f"{band}_n_parameters": np.full(n, 55, dtype=np.int16),
            f"{band}_n_measurements": np.full(n, 1742, dtype=np.int16),
            f"{band}_n_rejected_measurements": np.full(n, 5, dtype=np.int16),
            f"{band}_standard_deviation": rng.uniform(0.9, 1.1, n).astype(np.float32),
            f"{band}_chi_squared": rng.uniform(1e3, 2e3, n).astype(np.float32),
            f"{band}_coefficients": rng.normal(0, 100, (n, 55)),
            f"{band}_coefficient_errors": rng.uniform(0.1, 1, (n, 55)).astype(np.float32),
            f"{band}_coefficient_correlations": rng.uniform(-0.3, 0.3, (n, 1485)).astype(
                np.float32
            ),
            f"{band}_n_relevant_bases": np.full(n, 50, dtype=np.int16),
            f"{band}_relative_shrinking": rng.uniform(0, 0.1, n).astype(np.float32),
        }
    return Table(cols)


class FakeArchive:
    """Serves ``n`` candidates and their XP_CONTINUOUS rows; counts calls."""

    def __init__(self, n: int, fail_on_call: int | None = None) -> None:
        self.ids = FIRST_ID + np.arange(n, dtype=np.int64) * 7
        self.queries: list[tuple[str, Table | None]] = []
        self.loads: list[list[int]] = []
        self.fail_on_call = fail_on_call

    def query(self, adql: str, upload: Table | None = None) -> Table:
        self.queries.append((adql, upload))
        n = len(self.ids)
        return Table(
            {
                "source_id": self.ids,
                "classlabel_dsc": np.full(n, "galaxy"),
                "redshift_ugc": np.linspace(0.01, 0.4, n),
                "phot_g_mean_mag": np.linspace(17, 20.5, n),
            }
        )

    def load_xp_continuous(self, ids: Sequence[int]) -> Table:
        self.loads.append(list(ids))
        if self.fail_on_call == len(self.loads):
            raise ConnectionError("archive went away")
        return xp_continuous_table(ids)


# --- batching ---------------------------------------------------------------------------


def test_split_batches_and_its_limit():
    batches = split_batches(list(range(12_345)), 5000)
    assert [len(b) for b in batches] == [5000, 5000, 2345]
    assert sum(batches, []) == list(range(12_345))
    with pytest.raises(XpzError, match="at most|between 1 and 5000"):
        split_batches([1, 2], 5001)


# --- fetch --------------------------------------------------------------------------------


def test_fetch_writes_candidates_batches_and_manifest(tmp_path):
    archive = FakeArchive(12_345)
    fits = TableFormat.FITS  # binary: 12,345 spectra write in about a second
    result = fetch(tmp_path / "out", client=archive, format=fits, progress=False, limit=20_000)

    assert [len(ids) for ids in archive.loads] == [5000, 5000, 2345]
    assert result.n_candidates == 12_345 and (result.n_downloaded, result.n_skipped) == (3, 0)
    assert [p.name for p in result.batches] == [
        "xp_continuous_000000.fits",
        "xp_continuous_000001.fits",
        "xp_continuous_000002.fits",
    ]
    assert len(Table.read(result.candidates)) == 12_345

    manifest = json.loads(result.manifest.read_text())
    assert manifest["request"]["query"] == archive.queries[0][0]
    assert "TOP 20000" in manifest["request"]["query"]
    assert manifest["candidates"] == {"file": "candidates.fits", "n_rows": 12_345}
    assert [b["file"] for b in manifest["batches"]] == [p.name for p in result.batches]
    assert sum((b["source_ids"] for b in manifest["batches"]), []) == archive.ids.tolist()


def test_fetch_resumes_skipping_complete_batches(tmp_path):
    out = tmp_path / "out"
    fetch(out, client=FakeArchive(7), batch_size=3, progress=False)
    (out / "xp_continuous_000001.ecsv").unlink()

    again = FakeArchive(7)
    result = fetch(out, client=again, batch_size=3, progress=False)
    assert again.queries == []  # the manifest's candidate list is reused
    assert again.loads == [(FIRST_ID + np.arange(3, 6) * 7).tolist()]
    assert (result.n_downloaded, result.n_skipped) == (1, 2)
    assert all(p.exists() for p in result.batches)


def test_interrupted_batch_leaves_no_partial_file_and_resumes(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ArchiveUnavailableError, match="ConnectionError: archive went away"):
        fetch(
            out,
            client=FakeArchive(7, fail_on_call=2),
            batch_size=3,
            progress=False,
            retry=NO_RETRY,
        )
    assert sorted(p.name for p in out.iterdir()) == [
        "candidates.ecsv",
        "manifest.json",
        "xp_continuous_000000.ecsv",
    ]
    again = FakeArchive(7)
    result = fetch(out, client=again, batch_size=3, progress=False)
    assert [len(ids) for ids in again.loads] == [3, 1]
    assert (result.n_downloaded, result.n_skipped) == (2, 1)


def test_fetch_refuses_a_different_request_in_the_same_directory(tmp_path):
    fetch(tmp_path, client=FakeArchive(4), progress=False)
    with pytest.raises(XpzError, match="different request"):
        fetch(tmp_path, client=FakeArchive(4), progress=False, g_max=19.0)


def test_fetch_refuses_large_batches_before_contacting_the_archive(tmp_path):
    archive = FakeArchive(4)
    with pytest.raises(XpzError, match="5000"):
        fetch(tmp_path, client=archive, batch_size=6000, progress=False)
    assert archive.queries == [] and not list(tmp_path.iterdir())


def test_fetch_sends_the_upload_table(tmp_path):
    targets = tmp_path / "targets.ecsv"
    Table({"source_id": [FIRST_ID, FIRST_ID + 7]}).write(targets)
    archive = FakeArchive(2)
    fetch(tmp_path / "out", upload=targets, client=archive, progress=False)
    adql, upload = archive.queries[0]
    assert "tap_upload.xpz_targets AS u ON u.source_id = g.source_id" in adql
    assert upload is not None and upload["source_id"].tolist() == [FIRST_ID, FIRST_ID + 7]


@pytest.mark.parametrize("fmt", FETCH_FORMATS)
def test_batch_files_round_trip_in_every_format(tmp_path, fmt):
    result = fetch(tmp_path, client=FakeArchive(3), format=fmt, progress=False)
    expected = xp_continuous_table(FakeArchive(3).ids)
    got = Table.read(result.batches[0], format="ascii.csv" if fmt is TableFormat.CSV else None)
    assert got.colnames == list(XP_CONTINUOUS_COLUMNS)
    assert got["source_id"].tolist() == expected["source_id"].tolist()
    first = got["bp_coefficients"][0]
    if fmt is TableFormat.CSV:  # the archive's CSV convention: "(v1, v2, ...)"
        assert first.startswith("(") and first.endswith(")")
        first = [float(v) for v in first[1:-1].split(",")]
    np.testing.assert_array_equal(np.asarray(first, dtype=float), expected["bp_coefficients"][0])
    if fmt is TableFormat.VOTABLE:  # binary, not a <TD> element per number
        assert b"<BINARY2>" in result.batches[0].read_bytes()[:20_000]


@pytest.mark.parametrize("fmt", FETCH_FORMATS)
def test_batch_files_take_variable_length_cells_and_a_missing_band(tmp_path, fmt):
    """Plain numpy arrays in object columns, as astroquery or a user's table may hold them."""
    from xpz.io.xp_continuous import read_xp_continuous

    table = xp_continuous_table([FIRST_ID, FIRST_ID + 1])
    for name in table.colnames:
        if table[name].ndim == 2:
            cells = np.empty(len(table), dtype=object)
            cells[:] = [np.array(row) for row in table[name]]
            if name.startswith("rp_"):  # the second source has no RP spectrum
                cells[1] = cells[1][:0]
            table[name] = cells
    path = tmp_path / f"batch{fmt.suffix}"
    write_table(table, path, fmt)
    xp = read_xp_continuous(path)
    assert xp.source_id.tolist() == [FIRST_ID, FIRST_ID + 1]
    assert xp.rp.present.tolist() == [True, False] and xp.bp.present.all()
    np.testing.assert_array_equal(
        xp.bp.coefficient_correlations[1], table["bp_coefficient_correlations"][1]
    )


@pytest.mark.parametrize("fmt", FETCH_FORMATS)
def test_batch_files_feed_the_xp_reader(tmp_path, fmt):
    from xpz.io.xp_continuous import read_xp_continuous

    result = fetch(tmp_path, client=FakeArchive(3), format=fmt, progress=False)
    xp = read_xp_continuous(result.batches[0])
    expected = xp_continuous_table(FakeArchive(3).ids)
    assert xp.source_id.tolist() == expected["source_id"].tolist()
    np.testing.assert_allclose(xp.rp.coefficients, expected["rp_coefficients"], rtol=1e-12)


def test_archive_answer_missing_columns_is_an_error(tmp_path):
    class Broken(FakeArchive):
        def load_xp_continuous(self, ids):
            table = super().load_xp_continuous(ids)
            table.remove_column("rp_coefficients")
            return table

    with pytest.raises(XpzError, match="rp_coefficients"):
        fetch(tmp_path, client=Broken(2), progress=False)
    assert not list(tmp_path.glob("xp_continuous_*"))


# --- the command module -------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    fetch_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_command_arguments():
    args = parse(["out", "--where", "g.redshift_ugc > 0.1", "--limit", "3", "--g-max", "19.5"])
    assert (args.out_dir, args.where, args.limit, args.g_max) == (
        "out",
        "g.redshift_ugc > 0.1",
        3,
        19.5,
    )
    # no --format: ecsv for candidates, parquet for --labels / --sdss (decided in run)
    assert (args.batch_size, args.format, args.upload, args.match_radius) == (
        5000,
        None,
        None,
        1.0,
    )
    args = parse(["out", "--upload", "t.csv", "--batch-size", "100", "--format", "fits"])
    assert (args.upload, args.batch_size, TableFormat(args.format)) == (
        "t.csv",
        100,
        TableFormat.FITS,
    )
    with pytest.raises(SystemExit):
        parse(["out", "--format", "hdf5"])


def test_formats_fetch_does_not_write_are_refused_before_any_query(tmp_path):
    archive = FakeArchive(2)
    with pytest.raises(ValueError, match="cannot fetch into hdf5 files"):
        fetch(tmp_path, client=archive, format=TableFormat.HDF5, progress=False)
    assert archive.queries == []


def test_command_reports_a_too_large_batch_as_a_user_error(capsys):
    from xpz.cli import main

    assert main(["fetch", "unused_dir", "--batch-size", "6000"]) == 2
    assert "between 1 and 5000" in capsys.readouterr().err


@pytest.mark.network
def test_real_archive_three_candidates(tmp_path):
    result = fetch(tmp_path, limit=3, g_max=18.0, progress=False)
    assert result.n_candidates == 3
    xp = Table.read(result.batches[0])
    assert len(xp) == 3 and len(xp["bp_coefficients"][0]) == 55
