"""A redshift catalogue from SDSS DR17 spectroscopy, for ``xpz fetch OUT --sdss``.

:func:`fetch_sdss` asks the SDSS SkyServer (through :mod:`astroquery.sdss`)
for the galaxies of ``SpecObj`` with a clean redshift in the dissertation's
range, one right-ascension stripe at a time (:func:`build_sdss_query`), each
stripe one retried call whose answer is stored in its own file
(``sdss_000000.<ext>``, ...), so an interrupted run resumes at the first
missing stripe.  The stripes are then written as one catalogue,
``sdss_catalogue.<ext>``, which :func:`xpz.io.archive.labelled.fetch_labels`
cross-matches like any user's catalogue.

``s.sciencePrimary = 1`` keeps one spectrum per object: without it SDSS's repeat
spectra of a galaxy would all claim its Gaia source and be refused as
``shared_source``.  ``specObjID`` is an unsigned 64-bit number that can exceed
int64, so it is kept as text (``specobjid``).

>>> print(build_sdss_query(0.0, 2.0))
SELECT s.specObjID AS specobjid, s.ra, s.dec, s.z, s.zErr AS zerr, s.plate, s.mjd, s.fiberID AS fiberid
FROM SpecObj AS s
WHERE s.class = 'GALAXY' AND s.zWarning = 0 AND s.z BETWEEN 0 AND 0.6
  AND s.sciencePrimary = 1
  AND s.ra >= 0.0 AND s.ra < 2.0
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from xpz.errors import XpzError
from xpz.io.archive.client import answer_columns
from xpz.io.archive.fetch import write_table
from xpz.io.archive.retry import RetryPolicy, call_with_retries
from xpz.io.archive.survey import LabelColumns
from xpz.io.atomic import atomic_path
from xpz.io.formats import TableFormat
from xpz.io.raw_table import load_table
from xpz.layout import Z_RANGE

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "DATA_RELEASE",
    "DEFAULT_RA_STEP_DEG",
    "SDSS_COLUMNS",
    "SdssClient",
    "SkyServerClient",
    "build_sdss_query",
    "default_sdss_client",
    "fetch_sdss",
    "stripes",
]

DATA_RELEASE = 17
#: Width of one right-ascension stripe (degrees): a choice that keeps each answer
#: to some tens of thousands of rows in the densest part of the SDSS footprint.
DEFAULT_RA_STEP_DEG = 2.0
#: The catalogue's columns (lower case, as the query names them).
SDSS_COLUMNS = ("specobjid", "ra", "dec", "z", "zerr", "plate", "mjd", "fiberid")
#: How the SDSS catalogue's columns feed the cross-match.
SDSS_LABEL_COLUMNS = LabelColumns(
    z="z", ra="ra", dec="dec", id="specobjid", carry=("zerr", "plate", "mjd", "fiberid")
)
CATALOGUE_NAME = "sdss_catalogue"
STATE_NAME = "sdss.json"


class SdssClient(Protocol):
    """What :func:`fetch_sdss` needs from SDSS: an SQL query answered as a table."""

    def query_sql(self, sql: str) -> Table:
        """Run ``sql`` on the SkyServer; an empty answer is a table without rows."""
        ...


class SkyServerClient:
    """SDSS DR17's SkyServer through :mod:`astroquery.sdss` (anonymous)."""

    def __init__(self, data_release: int = DATA_RELEASE, timeout_s: float = 300.0) -> None:
        self.data_release, self.timeout_s = data_release, timeout_s

    def query_sql(self, sql: str) -> Table:
        from astropy.table import Table
        from astroquery.exceptions import RemoteServiceError
        from astroquery.sdss import SDSS

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # astropy's int64 overflow note on specObjID
                answer = SDSS.query_sql(
                    sql, data_release=self.data_release, timeout=self.timeout_s, cache=False
                )
        except RemoteServiceError as exc:  # the SQL itself was refused: not worth a retry
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise XpzError(f"the SDSS SkyServer refused the query: {first[:200]}") from exc
        return Table({c: [] for c in SDSS_COLUMNS}) if answer is None else answer


def default_sdss_client() -> SdssClient:
    """The client :func:`fetch_sdss` uses when given none; tests replace this function."""
    return SkyServerClient()


def build_sdss_query(ra_low: float, ra_high: float) -> str:
    """SQL for the SDSS galaxies with ``ra_low <= ra < ra_high`` (degrees)."""
    lo, hi = Z_RANGE
    return "\n".join(
        [
            "SELECT s.specObjID AS specobjid, s.ra, s.dec, s.z, s.zErr AS zerr,"
            " s.plate, s.mjd, s.fiberID AS fiberid",
            "FROM SpecObj AS s",
            f"WHERE s.class = 'GALAXY' AND s.zWarning = 0 AND s.z BETWEEN {lo:g} AND {hi:g}",
            "  AND s.sciencePrimary = 1",
            f"  AND s.ra >= {float(ra_low)!r} AND s.ra < {float(ra_high)!r}",
        ]
    )


def stripes(ra_step_deg: float) -> list[tuple[float, float]]:
    """Right-ascension stripes covering [0, 360) degrees.

    >>> stripes(100.0)
    [(0.0, 100.0), (100.0, 200.0), (200.0, 300.0), (300.0, 360.0)]
    """
    if not (math.isfinite(ra_step_deg) and 0 < ra_step_deg <= 360):
        raise XpzError(f"the RA stripe width must be in (0, 360] degrees, got {ra_step_deg!r}")
    n = math.ceil(360.0 / ra_step_deg - 1e-9)
    edges = [round(min(360.0, k * ra_step_deg), 9) for k in range(n + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _normalised(answer: Table, what: str) -> Table:
    """The answer's columns in :data:`SDSS_COLUMNS` order, ``specobjid`` as text."""
    answer = answer_columns(answer, SDSS_COLUMNS, what, "SDSS")
    answer["specobjid"] = np.array([str(v) for v in answer["specobjid"]], dtype="U20")
    for name in ("ra", "dec", "z", "zerr"):
        answer[name] = np.asarray(answer[name]).astype(np.float64)
    for name in ("plate", "mjd", "fiberid"):
        answer[name] = np.asarray(answer[name]).astype(np.int64)
    return answer


def fetch_sdss(
    out: Path,
    client: SdssClient | None,
    format: TableFormat,
    retry: RetryPolicy,
    *,
    ra_step_deg: float = DEFAULT_RA_STEP_DEG,
    progress: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Write ``out/sdss_catalogue.<ext>`` (resumable); returns it and the request to record."""
    from astropy.table import vstack
    from tqdm.auto import tqdm

    plan = stripes(ra_step_deg)
    request = {
        "sdss": {
            "data_release": DATA_RELEASE,
            "query": build_sdss_query(0.0, ra_step_deg),
            "ra_step_deg": ra_step_deg,
        }
    }
    out.mkdir(parents=True, exist_ok=True)
    _check_state(out / STATE_NAME, request)
    catalogue = out / f"{CATALOGUE_NAME}{format.suffix}"
    if catalogue.exists():
        return catalogue, request
    files = [out / f"sdss_{k:06d}{format.suffix}" for k in range(len(plan))]
    todo = [k for k, f in enumerate(files) if not f.exists()]
    if todo and client is None:
        client = default_sdss_client()
    initial = len(plan) - len(todo)
    with tqdm(total=len(plan), initial=initial, unit="stripe", disable=not progress) as bar:
        for k in todo:
            assert client is not None
            (lo, hi), what = plan[k], f"SDSS stripe {k + 1} of {len(plan)} ({files[k].name})"
            answer = call_with_retries(
                what,
                functools.partial(client.query_sql, build_sdss_query(lo, hi)),
                retry,
                hint="; the stripes before it are saved, rerun the same command to go on",
                service="the SDSS SkyServer",
            )
            write_table(_normalised(answer, what), files[k], format)
            bar.update(1)
    write_table(vstack([_read_stripe(f) for f in files]), catalogue, format)
    return catalogue, request


def _read_stripe(path: Path) -> Table:
    """A stored stripe (:mod:`xpz.io.raw_table` reads an empty one in any format too)."""
    from astropy.table import Table

    table = load_table(path)
    if table.n_rows == 0:  # a stripe without galaxies: its types may not survive a text file
        return _normalised(Table({c: np.zeros(0, np.int64) for c in SDSS_COLUMNS}), str(path))
    return _normalised(Table({c: np.asarray(table.columns[c]) for c in table.columns}), str(path))


def _check_state(path: Path, request: dict[str, Any]) -> None:
    """Record the SDSS request in ``path``, or refuse one that differs from the recorded one."""
    if path.exists():
        with contextlib.suppress(ValueError):
            if json.loads(path.read_text()) == request:
                return
        raise XpzError(
            f"{path.parent} holds SDSS stripes of a different request (see {path.name});"
            " use a new output directory"
        )
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(request, indent=1) + "\n")
