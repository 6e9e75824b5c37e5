"""A labelled training set from a redshift catalogue: ``xpz fetch OUT --labels CATALOGUE``.

:func:`fetch_labels` runs four resumable steps in ``OUT``:

1. read and check the catalogue (:func:`xpz.io.archive.survey.read_survey`);
2. cross-match its rows with Gaia DR3 in uploaded chunks, one stored answer
   per chunk (``crossmatch_000000.<ext>``, ...; :mod:`xpz.io.archive.crossmatch`),
   and decide each row: matched, or refused with a reason;
3. download the XP_CONTINUOUS spectra of the matched sources in batches
   (:func:`xpz.io.archive.fetch.download_batches`, ``xp_continuous_000000.<ext>``, ...);
4. join spectra and labels into ``labelled.<ext>``: ``source_id``, ``z``, the
   survey id, ``separation_arcsec``, ``phot_g_mean_mag`` (with
   ``SeveralSources.NEAREST`` also ``n_gaia_sources`` and
   ``second_separation_arcsec``), the carried columns, then the archive's
   XP_CONTINUOUS columns -- a file ``xpz train``,
   ``xpz tune`` and ``xpz evaluate`` read as labelled XP_CONTINUOUS input.

Every refused row is in ``unmatched.<ext>`` with its reason, and the counts
are in ``manifest.json``.  Each step's files are written atomically, so a
rerun of the same request skips what is complete; another request in the same
directory is refused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xpz.errors import XpzError
from xpz.io.archive import fetch as candidate_fetch
from xpz.io.archive.client import ArchiveClient
from xpz.io.archive.crossmatch import (
    DEFAULT_CHUNK_ROWS,
    Matches,
    Outcome,
    Pairs,
    SeveralSources,
    build_crossmatch_query,
    chunk_file_name,
    crossmatch_chunk,
    read_chunk,
    resolve_matches,
    upload_chunks,
)
from xpz.io.archive.fetch import (
    MANIFEST_NAME,
    MAX_BATCH_SIZE,
    XP_CONTINUOUS_COLUMNS,
    batch_file_name,
    download_batches,
    earlier_manifest,
    split_batches,
    write_manifest,
    write_table,
)
from xpz.io.archive.retry import DEFAULT_RETRY, RetryPolicy
from xpz.io.archive.survey import CATALOGUE_ROW, LabelColumns, Survey, read_survey
from xpz.io.formats import TableFormat

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["LABELLED_NAME", "UNMATCHED_NAME", "LabelsResult", "fetch_labels", "sha256"]

LABELLED_NAME = "labelled"
"""Stem of the labelled table (``labelled.parquet``, ...)."""
UNMATCHED_NAME = "unmatched"
"""Stem of the table of refused catalogue rows and their reasons."""


@dataclasses.dataclass(frozen=True)
class LabelsResult:
    """What :func:`fetch_labels` wrote and decided."""

    out_dir: Path
    manifest: Path
    labelled: Path
    unmatched: Path
    n_catalogue: int
    counts: dict[str, int]
    """Catalogue rows per :class:`~xpz.io.archive.crossmatch.Outcome` value."""
    n_labelled: int
    n_chunks_queried: int
    """Cross-match chunks sent to the archive by this call."""
    n_downloaded: int
    """XP_CONTINUOUS batches downloaded by this call."""


def sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_labels(
    out_dir: str | Path,
    catalogue: str | Path,
    columns: LabelColumns | None = None,
    *,
    match_radius_arcsec: float = 1.0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    batch_size: int = MAX_BATCH_SIZE,
    format: TableFormat = TableFormat.PARQUET,
    client: ArchiveClient | None = None,
    progress: bool = True,
    retry: RetryPolicy | None = None,
    catalogue_request: dict[str, Any] | None = None,
    several_sources: SeveralSources = SeveralSources.REFUSE,
) -> LabelsResult:
    """Cross-match ``catalogue`` with Gaia DR3 and write the labelled XP_CONTINUOUS table.

    ``columns`` names the catalogue's columns (default ``z``, ``ra``, ``dec``);
    ``match_radius_arcsec`` is the cone radius; ``chunk_rows`` catalogue rows go
    up per archive call; ``batch_size`` (at most 5,000) source ids per
    XP_CONTINUOUS download.  ``catalogue_request`` replaces the catalogue's
    file name and checksum in the recorded request (``--sdss`` records its query).
    ``several_sources`` decides rows with two or more Gaia sources within the
    radius (:class:`~xpz.io.archive.crossmatch.SeveralSources`).
    Resumable as the module docstring says.
    """
    columns = LabelColumns() if columns is None else columns
    split_batches([], batch_size)  # validate the sizes before anything is read or sent
    upload_chunks(np.zeros(0, np.int64), chunk_rows)
    clash = [c for c in columns.carry if c in XP_CONTINUOUS_COLUMNS]
    if clash:
        raise XpzError(f"carried column(s) {clash} clash with the XP_CONTINUOUS columns")
    query = build_crossmatch_query(match_radius_arcsec)
    survey = read_survey(catalogue, columns)
    path = Path(catalogue)
    request = {
        "kind": "labels",
        "catalogue": catalogue_request or {"file": path.name, "sha256": sha256(path)},
        "columns": columns.to_dict(),
        "match_radius_arcsec": match_radius_arcsec,
        "query": query,
        "chunk_rows": chunk_rows,
        "format": format.value,
        "batch_size": batch_size,
    }
    if several_sources is not SeveralSources.REFUSE:  # requests made before the option still match
        request["several_sources"] = several_sources.value
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    retry = DEFAULT_RETRY if retry is None else retry
    manifest = _start_manifest(out, request, survey)
    chunks = upload_chunks(np.flatnonzero(survey.in_z_range), chunk_rows)
    todo = [k for k in range(len(chunks)) if not (out / chunk_file_name(k, format.suffix)).exists()]
    if todo:
        client = candidate_fetch.default_client() if client is None else client
        _crossmatch(out, survey, chunks, todo, client, query, format, retry)
    pairs = Pairs.concatenate(
        [read_chunk(out / chunk_file_name(k, format.suffix)) for k in range(len(chunks))]
    )
    matches = resolve_matches(survey, pairs, several_sources)
    batches = _plan_batches(out, manifest, matches, batch_size, format)
    pending = [b for b in batches if not (out / b["file"]).exists()]
    if pending:
        client = candidate_fetch.default_client() if client is None else client
        download_batches(out, batches, pending, client, format, retry, progress)
    labelled, matches = _join(out, batches, format, survey, matches, several_sources)
    return _finish(out, manifest, survey, matches, labelled, format, len(todo), len(pending))


def _start_manifest(out: Path, request: dict[str, Any], survey: Survey) -> dict[str, Any]:
    """The manifest of an earlier run of ``request``, or a new one (refusing another request)."""
    earlier = earlier_manifest(out, request)
    if earlier is not None:
        return earlier
    manifest = {
        "request": request,
        "catalogue": {"file": str(survey.path), "n_rows": len(survey)},
    }
    write_manifest(out, manifest)
    return manifest


def _crossmatch(
    out: Path,
    survey: Survey,
    chunks: list,
    todo: list[int],
    client: ArchiveClient,
    query: str,
    format: TableFormat,
    retry: RetryPolicy,
) -> None:
    for k in todo:
        rows = chunks[k]
        name = chunk_file_name(k, format.suffix)
        what = f"cross-match chunk {k + 1} of {len(chunks)} ({name}, {len(rows)} catalogue rows)"
        answer = crossmatch_chunk(client, survey, rows, query, retry, what)
        write_table(answer, out / name, format)


def _plan_batches(
    out: Path, manifest: dict[str, Any], matches: Matches, batch_size: int, format: TableFormat
) -> list[dict[str, Any]]:
    """The XP_CONTINUOUS batches of the matched sources (the manifest's, on a rerun)."""
    ids = sorted(int(i) for i in matches.source_id[matches.rows(Outcome.MATCHED)])
    batches = [
        {"file": batch_file_name(k, format), "source_ids": b}
        for k, b in enumerate(split_batches(ids, batch_size))
    ]
    if "batches" in manifest and manifest["batches"] != batches:
        raise XpzError(
            f"the cross-match files in {out} no longer give the batches of {MANIFEST_NAME};"
            " use a new output directory"
        )
    manifest["batches"] = batches
    manifest["crossmatch"] = {"counts": matches.counts()}
    write_manifest(out, manifest)
    return batches


def _read_batch(path: Path, format: TableFormat) -> Table:
    """A batch file as written by :func:`write_table`, its array columns as one cell per row."""
    from astropy.table import Table

    table = Table.read(path, format="ascii.csv" if format is TableFormat.CSV else None)
    for name in table.colnames:
        if table[name].ndim > 1:
            cells = np.empty(len(table), dtype=object)
            cells[:] = list(table[name])
            table[name] = cells
    return table


def _join(
    out: Path,
    batches: list[dict[str, Any]],
    format: TableFormat,
    survey: Survey,
    matches: Matches,
    several: SeveralSources,
) -> tuple[Table, Matches]:
    """The labelled table; matched sources the archive gave no spectrum become ``xp_not_returned``."""
    from astropy.table import Table, vstack

    parts = [_read_batch(out / b["file"], format) for b in batches]
    xp = vstack(parts, metadata_conflicts="silent") if parts else Table()
    matched = matches.rows(Outcome.MATCHED)
    got = np.asarray(xp["source_id"], dtype=np.int64) if len(xp) else np.zeros(0, np.int64)
    lost = matched[~np.isin(matches.source_id[matched], got)]
    matches = matches.with_outcome(lost, Outcome.XP_NOT_RETURNED)
    by_id = dict(zip(matches.source_id[matched].tolist(), matched.tolist(), strict=True))
    rows = np.array([by_id[int(i)] for i in got], dtype=np.intp)
    labelled = Table()
    labelled["source_id"] = got
    labelled["z"] = survey.z[rows]
    labelled[survey.columns.id_name] = survey.ids[rows]
    labelled["separation_arcsec"] = matches.separation_arcsec[rows]
    labelled["phot_g_mean_mag"] = matches.phot_g_mean_mag[rows]
    if several is SeveralSources.NEAREST:
        labelled["n_gaia_sources"] = matches.n_sources[rows]
        labelled["second_separation_arcsec"] = matches.second_separation_arcsec[rows]
    for name, values in survey.carry.items():
        labelled[name] = values[rows]
    for name in XP_CONTINUOUS_COLUMNS[1:]:
        if len(xp):
            labelled[name] = xp[name]
    return labelled, matches


def _unmatched_table(survey: Survey, matches: Matches) -> Table:
    """Every refused catalogue row, its reason and what the cross-match saw."""
    from astropy.table import Table

    rows = np.flatnonzero(matches.reasons() != Outcome.MATCHED.value)
    table = Table()
    table[CATALOGUE_ROW] = rows.astype(np.int64)
    if survey.columns.id_name != CATALOGUE_ROW:
        table[survey.columns.id_name] = survey.ids[rows]
    table["ra"], table["dec"], table["z"] = survey.ra[rows], survey.dec[rows], survey.z[rows]
    table["reason"] = matches.reasons()[rows].astype("U16")
    table["n_gaia_sources"] = matches.n_sources[rows]
    table["nearest_source_id"] = matches.source_id[rows]
    table["nearest_separation_arcsec"] = matches.separation_arcsec[rows]
    return table


def _finish(
    out: Path,
    manifest: dict[str, Any],
    survey: Survey,
    matches: Matches,
    labelled: Table,
    format: TableFormat,
    n_queried: int,
    n_downloaded: int,
) -> LabelsResult:
    unmatched = _unmatched_table(survey, matches)
    unmatched_path = out / f"{UNMATCHED_NAME}{format.suffix}"
    labelled_path = out / f"{LABELLED_NAME}{format.suffix}"
    write_table(unmatched, unmatched_path, format)
    if len(labelled) == 0:
        raise XpzError(
            f"no catalogue row has a Gaia DR3 source with XP spectra within the radius"
            f" (see {unmatched_path.name} in {out} for each row's reason)"
        )
    write_table(labelled, labelled_path, format)
    counts = matches.counts()
    manifest["crossmatch"] = {"counts": counts}
    manifest["unmatched"] = {"file": unmatched_path.name, "n_rows": len(unmatched)}
    manifest["labelled"] = {"file": labelled_path.name, "n_rows": len(labelled)}
    write_manifest(out, manifest)
    return LabelsResult(
        out_dir=out,
        manifest=out / MANIFEST_NAME,
        labelled=labelled_path,
        unmatched=unmatched_path,
        n_catalogue=len(survey),
        counts=counts,
        n_labelled=len(labelled),
        n_chunks_queried=n_queried,
        n_downloaded=n_downloaded,
    )
