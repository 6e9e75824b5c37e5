"""Fetch Gaia DR3 galaxy candidates and their XP_CONTINUOUS spectra from the ESA archive.

Two steps, both through a small *client* object so that tests can serve fixture
tables instead of the archive:

1. an ADQL query (:func:`xpz.io.archive.query.build_candidates_query`) selects ``gaiadr3.galaxy_candidates``
   that have XP spectra, optionally restricted by an uploaded target list or an
   ADQL condition; the result is written to ``OUT/candidates.<ext>``;
2. their XP_CONTINUOUS coefficients are downloaded with DataLink in batches of at
   most :data:`MAX_BATCH_SIZE` source ids, one file per batch
   (``OUT/xp_continuous_000000.<ext>``, ...).

``OUT/manifest.json`` records the query, the batch files and their source ids.
Rerunning the same request in the same directory skips the query and every batch
whose file exists; files are written atomically, so an existing file is complete.
Every archive call is retried with back-off (:mod:`xpz.io.archive.retry`); one
that keeps failing ends the fetch with a one-line error naming the query or the
batch, and the rerun resumes there.  The client is :class:`~xpz.io.archive.client.GaiaArchiveClient`
unless one is given (:func:`default_client`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xpz.errors import XpzError
from xpz.io.archive.client import ArchiveClient, GaiaArchiveClient
from xpz.io.archive.query import (
    CANDIDATE_COLUMNS,
    UPLOAD_TABLE_NAME,
    UploadKind,
    build_candidates_query,
    read_upload,
)
from xpz.io.archive.retry import DEFAULT_RETRY, RetryPolicy, call_with_retries
from xpz.io.atomic import atomic_path
from xpz.io.formats import TableFormat
from xpz.io.xp_continuous import ARCHIVE_BAND_COLUMNS

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "CANDIDATE_COLUMNS",
    "MAX_BATCH_SIZE",
    "UPLOAD_TABLE_NAME",
    "XP_CONTINUOUS_COLUMNS",
    "ArchiveClient",
    "FETCH_FORMATS",
    "FetchResult",
    "GaiaArchiveClient",
    "RetryPolicy",
    "UploadKind",
    "batch_file_name",
    "earlier_manifest",
    "build_candidates_query",
    "default_client",
    "download_batches",
    "fetch",
    "read_upload",
    "split_batches",
    "write_manifest",
    "write_table",
]

MAX_BATCH_SIZE = 5000
"""The archive's DataLink limit on source ids per XP_CONTINUOUS request."""

MANIFEST_NAME = "manifest.json"
"""The manifest of every fetch directory (candidates, or labelled sets)."""

XP_CONTINUOUS_COLUMNS: tuple[str, ...] = (
    "source_id",
    "solution_id",
    *(f"bp_{c}" for c in ARCHIVE_BAND_COLUMNS),
    *(f"rp_{c}" for c in ARCHIVE_BAND_COLUMNS),
)
"""The archive's XP_CONTINUOUS table layout, in the archive's order."""

_ARRAY_COLUMNS = tuple(c for c in XP_CONTINUOUS_COLUMNS if "coefficient" in c)


#: The formats of the candidate table and the batch files.  Parquet is by far the
#: fastest for ``xpz predict`` to read (see ``docs/benchmarks.md``), but GaiaXPy
#: does not read it.
FETCH_FORMATS = (
    TableFormat.CSV,
    TableFormat.ECSV,
    TableFormat.FITS,
    TableFormat.VOTABLE,
    TableFormat.PARQUET,
)


def default_client() -> ArchiveClient:
    """The client :func:`fetch` uses when given none; tests replace this function."""
    return GaiaArchiveClient()


@dataclasses.dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` wrote (paths) and did (batch counts)."""

    out_dir: Path
    manifest: Path
    candidates: Path
    batches: tuple[Path, ...]
    n_candidates: int
    n_downloaded: int
    """Batches downloaded by this call."""
    n_skipped: int
    """Batches already present from an earlier call."""


def split_batches(ids: Sequence[int], batch_size: int) -> list[list[int]]:
    """Consecutive batches of at most ``batch_size`` ids.

    >>> [len(b) for b in split_batches(list(range(12_345)), 5000)]
    [5000, 5000, 2345]
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise XpzError(
            f"batch size must be between 1 and {MAX_BATCH_SIZE} "
            f"(the archive's DataLink limit), got {batch_size}"
        )
    return [list(ids[i : i + batch_size]) for i in range(0, len(ids), batch_size)]


def batch_file_name(index: int, format: TableFormat) -> str:
    """File name of batch ``index``.

    >>> batch_file_name(3, TableFormat.ECSV)
    'xp_continuous_000003.ecsv'
    """
    return f"xp_continuous_{index:06d}{format.suffix}"


def _archive_array_string(cell: Any) -> str:
    """An array cell as the archive writes it in CSV, ``(v1, v2, ...)``; empty if null."""
    import numpy as np

    if cell is None or (np.ma.is_masked(cell) and np.ma.getmaskarray(cell).all()):
        return ""
    return "(" + ", ".join(repr(float(v)) for v in np.ma.filled(cell, np.nan)) + ")"


def write_table(table: Table, path: Path, format: TableFormat) -> None:
    """Write ``table`` to ``path`` atomically, readable by astropy (and but for Parquet, gaiaxpy).

    ECSV is comma-separated and CSV holds array cells as ``(v1, v2, ...)``
    strings, as the archive's own files do; Parquet holds them as lists, null
    for a missing band.
    """
    from astropy.table import Column

    _check_format(format)
    with atomic_path(path) as tmp:
        if format is TableFormat.CSV:
            out = table.copy(copy_data=False)
            for name in out.colnames:
                if out[name].dtype.kind == "O" or out[name].ndim > 1:
                    out[name] = Column([_archive_array_string(c) for c in out[name]], name=name)
            out.write(tmp, format="ascii.csv")
        elif format is TableFormat.ECSV:
            table.write(tmp, format="ascii.ecsv", delimiter=",")
        elif format is TableFormat.FITS:
            table.write(tmp, format="fits")
        elif format is TableFormat.PARQUET:
            _with_cells(table, _parquet_cell, fixed_too=True).to_pandas().to_parquet(tmp)
        else:  # BINARY2 serialization: a third of TABLEDATA's size, read twice as fast
            votable = _with_cells(table, _votable_cell, fixed_too=False)
            votable.write(tmp, format="votable", tabledata_format="binary2")


def _check_format(format: TableFormat) -> None:
    if format not in FETCH_FORMATS:
        known = ", ".join(f.value for f in FETCH_FORMATS)
        raise ValueError(f"cannot fetch into {format.value} files (known: {known})")


def _with_cells(table: Table, convert: Callable[[Any], Any], *, fixed_too: bool) -> Table:
    """``table`` with ``convert`` applied to every array cell (of fixed-length columns too)."""
    import numpy as np

    out = table.copy(copy_data=False)
    for name in out.colnames:
        if out[name].dtype.kind == "O" or (fixed_too and out[name].ndim > 1):
            cells = np.empty(len(out), dtype=object)
            cells[:] = [convert(cell) for cell in out[name]]
            out[name] = cells
    return out


def _parquet_cell(cell: Any) -> Any:
    """A float array (masked values NaN), or ``None`` for an empty cell (a missing band)."""
    import numpy as np

    return np.ma.filled(np.ma.asarray(cell, dtype=float), np.nan) if np.size(cell) else None


def _votable_cell(cell: Any) -> Any:
    """A masked array with a full mask, as astropy's binary VOTable writer needs."""
    import numpy as np

    return np.ma.masked_array(cell, mask=np.ma.getmaskarray(cell))


def _check_xp_table(table: Table, ids: Sequence[int]) -> Table:
    """The XP_CONTINUOUS columns of ``table``, after checking it answers ``ids``."""
    import numpy as np

    missing = [c for c in XP_CONTINUOUS_COLUMNS if c not in table.colnames]
    if missing:
        raise XpzError(f"the archive's XP_CONTINUOUS table lacks columns {missing}")
    unasked = np.setdiff1d(np.asarray(table["source_id"], dtype=np.int64), np.asarray(ids))
    if unasked.size:
        raise XpzError(f"the archive returned spectra of {unasked.size} source ids not asked for")
    return table[list(XP_CONTINUOUS_COLUMNS)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def earlier_manifest(out: Path, request: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest an earlier run of ``request`` left in ``out`` (None: no earlier run).

    A manifest of another request is an :class:`~xpz.errors.XpzError`: one
    output directory holds one fetch.
    """
    path = out / MANIFEST_NAME
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    if manifest.get("request") != request:
        raise XpzError(
            f"{out} holds a fetch made with a different request "
            f"(see {MANIFEST_NAME}); use a new output directory"
        )
    return dict(manifest)


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``out/manifest.json`` atomically."""
    with atomic_path(out / MANIFEST_NAME) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")


def _plan_batches(
    out: Path,
    request: dict[str, Any],
    client: ArchiveClient,
    upload: Table | None,
    fmt: TableFormat,
    retry: RetryPolicy,
) -> tuple[list[dict[str, Any]], int]:
    """Run the candidate query and write candidates + manifest, or reuse an earlier run's."""
    import numpy as np

    earlier = earlier_manifest(out, request)
    if earlier is not None:
        return earlier["batches"], int(earlier["candidates"]["n_rows"])

    candidates = call_with_retries(
        "the candidate query",
        lambda: client.query(request["query"], upload=upload),
        retry,
        hint="; nothing was written, rerun the same command when the archive answers",
    )
    if "source_id" not in candidates.colnames:
        raise XpzError("the archive's candidate table has no source_id column")
    ids = np.asarray(candidates["source_id"], dtype=np.int64)
    _, first = np.unique(ids, return_index=True)  # a cone match may repeat a source
    candidates = candidates[np.sort(first)]
    unique_ids = [int(i) for i in candidates["source_id"]]

    candidates_name = f"candidates{fmt.suffix}"
    write_table(candidates, out / candidates_name, fmt)
    batches = [
        {"file": batch_file_name(k, fmt), "source_ids": b}
        for k, b in enumerate(split_batches(unique_ids, request["batch_size"]))
    ]
    manifest = {
        "request": request,
        "candidates": {"file": candidates_name, "n_rows": len(candidates)},
        "batches": batches,
    }
    write_manifest(out, manifest)
    return batches, len(candidates)


def fetch(
    out_dir: str | Path,
    *,
    where: str | None = None,
    upload: str | Path | None = None,
    limit: int | None = None,
    g_max: float | None = None,
    batch_size: int = MAX_BATCH_SIZE,
    format: TableFormat = TableFormat.ECSV,
    client: ArchiveClient | None = None,
    progress: bool = True,
    match_radius_arcsec: float = 1.0,
    retry: RetryPolicy | None = None,
) -> FetchResult:
    """Fetch galaxy candidates with XP spectra and their XP_CONTINUOUS data into ``out_dir``.

    ``upload`` is a target list for :func:`read_upload`; ``where``, ``limit``,
    ``g_max`` (mag) and ``match_radius_arcsec`` go to :func:`build_candidates_query`.
    Resumable: a rerun with the same arguments downloads only missing batches.
    Each archive call is tried as ``retry`` allows (default :data:`DEFAULT_RETRY`,
    read when called); a call that keeps failing raises
    :class:`~xpz.io.archive.retry.ArchiveUnavailableError` naming the query or
    the batch, with every batch finished before it kept for the rerun.
    """
    split_batches([], batch_size)  # validates batch_size before any network traffic
    _check_format(format)
    out = Path(out_dir)
    upload_table, kind = (None, None) if upload is None else read_upload(upload)
    query = build_candidates_query(
        where=where, upload=kind, limit=limit, g_max=g_max, match_radius_arcsec=match_radius_arcsec
    )
    request = {
        "query": query,
        "upload": None
        if upload is None
        else {"file": Path(upload).name, "sha256": _sha256(Path(upload))},
        "format": format.value,
        "batch_size": batch_size,
    }
    out.mkdir(parents=True, exist_ok=True)
    retry = DEFAULT_RETRY if retry is None else retry
    client = default_client() if client is None else client
    batches, n_candidates = _plan_batches(out, request, client, upload_table, format, retry)
    todo = [b for b in batches if not (out / b["file"]).exists()]
    download_batches(out, batches, todo, client, format, retry, progress)
    return FetchResult(
        out_dir=out,
        manifest=out / MANIFEST_NAME,
        candidates=out / f"candidates{format.suffix}",
        batches=tuple(out / b["file"] for b in batches),
        n_candidates=n_candidates,
        n_downloaded=len(todo),
        n_skipped=len(batches) - len(todo),
    )


def download_batches(
    out: Path,
    batches: list[dict[str, Any]],
    todo: list[dict[str, Any]],
    client: ArchiveClient,
    format: TableFormat,
    retry: RetryPolicy,
    progress: bool,
) -> None:
    """Download and write the batches ``todo`` of ``batches``, each call tried as ``retry`` allows.

    ``batches`` are the manifest's entries (``{"file": ..., "source_ids": [...]}``);
    each batch file is written atomically under ``out``, so one that exists is complete.
    """
    from tqdm.auto import tqdm

    total = sum(len(b["source_ids"]) for b in batches)
    saved = total - sum(len(b["source_ids"]) for b in todo)
    with tqdm(
        total=total, initial=saved, unit="src", desc="XP_CONTINUOUS", disable=not progress
    ) as bar:
        for batch in todo:
            ids, index = batch["source_ids"], batches.index(batch)
            table = call_with_retries(
                f"XP_CONTINUOUS batch {index + 1} of {len(batches)} ({batch['file']},"
                f" {len(ids)} source ids)",
                functools.partial(client.load_xp_continuous, ids),
                retry,
                hint=f"; {saved} of {total} sources are saved in {out},"
                " rerun the same command to fetch the rest",
            )
            write_table(_check_xp_table(table, ids), out / batch["file"], format)
            saved += len(ids)
            bar.update(len(ids))
