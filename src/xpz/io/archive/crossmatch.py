"""Cross-match a redshift catalogue with Gaia DR3 by position, in uploaded chunks.

Each chunk of catalogue rows is uploaded (``xpz_row``, ``ra``, ``dec``) as
``tap_upload.xpz_targets`` and joined to ``gaiadr3.gaia_source`` with a cone
of the match radius (:func:`build_crossmatch_query`).  Every Gaia source
within the radius comes back, with or without an XP spectrum, so that a row
whose nearest Gaia source has no spectrum is not matched to a neighbour that
has one.  Each chunk is one retried archive call whose answer is stored in its
own file, so an interrupted cross-match resumes at the first missing chunk.

:func:`resolve_matches` then decides each row (:class:`Outcome`), in this order:

1. ``z_outside_range``: its redshift is outside :data:`xpz.layout.Z_RANGE`
   (not uploaded);
2. ``no_match``: no Gaia DR3 source within the radius;
3. ``several_sources``: two or more Gaia DR3 sources within the radius
   (which one is the galaxy cannot be told from positions), unless the policy
   is :attr:`SeveralSources.NEAREST`, which keeps the nearest of them and goes
   on with the next rules;
4. ``shared_source``: its nearest Gaia source is also the nearest Gaia source
   of another catalogue row (every such row is refused, none is preferred);
5. ``no_xp_spectrum``: its one Gaia source has no XP spectrum;
6. ``matched``: otherwise -- exactly one Gaia source within the radius (or,
   with ``NEAREST``, a nearest one), with XP spectra, and no other row claims it.

>>> print(build_crossmatch_query(1.0))
SELECT u.xpz_row, s.source_id, s.has_xp_continuous, s.phot_g_mean_mag,
       DISTANCE(POINT('ICRS', u.ra, u.dec), POINT('ICRS', s.ra, s.dec)) * 3600.0 AS separation_arcsec
FROM tap_upload.xpz_targets AS u
JOIN gaiadr3.gaia_source AS s
  ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', u.ra, u.dec, 0.0002777777777777778))
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from xpz.errors import XpzError
from xpz.io.archive.client import ArchiveClient, answer_columns
from xpz.io.archive.query import UPLOAD_TABLE_NAME
from xpz.io.archive.retry import RetryPolicy, call_with_retries
from xpz.io.archive.survey import Survey
from xpz.io.raw_table import integer_column, load_table, scalar_column

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "ANSWER_COLUMNS",
    "DEFAULT_CHUNK_ROWS",
    "Matches",
    "Outcome",
    "SeveralSources",
    "build_crossmatch_query",
    "chunk_file_name",
    "crossmatch_chunk",
    "read_chunk",
    "resolve_matches",
    "upload_chunks",
]

#: Catalogue rows per upload.  A choice, not a measured archive limit: the upload
#: (three numbers a row) stays near 1 MB and the answer of a 1" cone a few MB.
DEFAULT_CHUNK_ROWS = 50_000

#: The columns of a cross-match answer (one row per catalogue row x Gaia source pair).
ANSWER_COLUMNS = (
    "xpz_row",
    "source_id",
    "has_xp_continuous",
    "phot_g_mean_mag",
    "separation_arcsec",
)


class Outcome(enum.Enum):
    """What the cross-match decided for one catalogue row (see the module docstring)."""

    MATCHED = "matched"
    Z_OUTSIDE_RANGE = "z_outside_range"
    NO_MATCH = "no_match"
    SEVERAL_SOURCES = "several_sources"
    SHARED_SOURCE = "shared_source"
    NO_XP_SPECTRUM = "no_xp_spectrum"
    #: Matched, but the archive returned no XP_CONTINUOUS row for the source (set after download).
    XP_NOT_RETURNED = "xp_not_returned"


_CODES = {outcome: code for code, outcome in enumerate(Outcome)}


def build_crossmatch_query(match_radius_arcsec: float) -> str:
    """ADQL pairing each uploaded row with every Gaia DR3 source within the radius (arcsec)."""
    if not (math.isfinite(match_radius_arcsec) and match_radius_arcsec > 0):
        raise XpzError(f"match radius must be positive arcsec, got {match_radius_arcsec!r}")
    radius_deg = match_radius_arcsec / 3600.0
    return "\n".join(
        [
            "SELECT u.xpz_row, s.source_id, s.has_xp_continuous, s.phot_g_mean_mag,",
            "       DISTANCE(POINT('ICRS', u.ra, u.dec), POINT('ICRS', s.ra, s.dec))"
            " * 3600.0 AS separation_arcsec",
            f"FROM tap_upload.{UPLOAD_TABLE_NAME} AS u",
            "JOIN gaiadr3.gaia_source AS s",
            "  ON 1 = CONTAINS(POINT('ICRS', s.ra, s.dec),"
            f" CIRCLE('ICRS', u.ra, u.dec, {radius_deg!r}))",
        ]
    )


def chunk_file_name(index: int, suffix: str) -> str:
    """File of cross-match chunk ``index``.

    >>> chunk_file_name(2, ".ecsv")
    'crossmatch_000002.ecsv'
    """
    return f"crossmatch_{index:06d}{suffix}"


def upload_chunks(rows: NDArray[np.int64], chunk_rows: int) -> list[NDArray[np.int64]]:
    """The catalogue rows to upload, cut into consecutive chunks of at most ``chunk_rows``.

    >>> [len(c) for c in upload_chunks(np.arange(120_001), 50_000)]
    [50000, 50000, 20001]
    """
    if chunk_rows < 1:
        raise XpzError(f"upload chunks need at least 1 row, got {chunk_rows}")
    return [rows[i : i + chunk_rows] for i in range(0, len(rows), chunk_rows)]


def crossmatch_chunk(
    client: ArchiveClient,
    survey: Survey,
    rows: NDArray[np.int64],
    query: str,
    retry: RetryPolicy,
    what: str,
) -> Table:
    """Upload ``rows`` of ``survey`` and return the archive's answer (checked, lower-case names)."""
    from astropy.table import Table

    upload = Table({"xpz_row": rows, "ra": survey.ra[rows], "dec": survey.dec[rows]})
    answer = call_with_retries(
        what,
        functools.partial(client.query, query, upload=upload),
        retry,
        hint="; the chunks before it are saved, rerun the same command to go on",
    )
    answer = answer_columns(answer, ANSWER_COLUMNS, what, "Gaia archive")
    unasked = np.setdiff1d(np.asarray(answer["xpz_row"], dtype=np.int64), rows)
    if unasked.size:
        raise XpzError(f"{what}: the archive answered for {unasked.size} rows not uploaded")
    answer["has_xp_continuous"] = _as_bool(answer["has_xp_continuous"])
    return answer


def _as_bool(values: Sequence[object] | NDArray) -> NDArray[np.bool_]:
    """The archive's boolean (a bool, or the text 'True'/'False' of CSV); missing is False.

    >>> _as_bool(np.array(["True", "false", ""])).tolist()
    [True, False, False]
    """
    arr = np.ma.filled(np.ma.asarray(values), False) if np.ma.isMaskedArray(values) else values
    arr = np.asarray(arr)
    if arr.dtype.kind == "b":
        return arr
    return np.array([str(v).strip().lower() in ("true", "t", "1") for v in arr], dtype=bool)


@dataclasses.dataclass(frozen=True)
class Pairs:
    """Catalogue row x Gaia source pairs within the radius, from every chunk."""

    row: NDArray[np.int64]
    source_id: NDArray[np.int64]
    has_xp: NDArray[np.bool_]
    phot_g_mean_mag: NDArray[np.float64]
    separation_arcsec: NDArray[np.float64]

    @classmethod
    def concatenate(cls, parts: Sequence[Pairs]) -> Pairs:
        fields = [f.name for f in dataclasses.fields(cls)]
        if not parts:
            return cls(*(np.zeros(0, t) for t in (np.int64, np.int64, bool, float, float)))
        return cls(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def read_chunk(path: Path) -> Pairs:
    """The pairs of a stored chunk answer (any format :mod:`xpz.io.raw_table` reads)."""
    table = load_table(path)
    if table.n_rows == 0:
        return Pairs.concatenate([])
    return Pairs(
        row=integer_column(table, "xpz_row"),
        source_id=integer_column(table, "source_id"),
        has_xp=_as_bool(table.columns["has_xp_continuous"]),
        phot_g_mean_mag=scalar_column(table, "phot_g_mean_mag"),
        separation_arcsec=scalar_column(table, "separation_arcsec"),
    )


class SeveralSources(enum.Enum):
    """What becomes of a catalogue row with two or more Gaia sources within the radius."""

    #: Refused as ``several_sources`` (the default: the galaxy cannot be told from positions).
    REFUSE = "refuse"
    #: The nearest source is kept; the labelled table records how many there were
    #: (``n_gaia_sources``) and the next one's separation, for a cut afterwards.
    NEAREST = "nearest"


@dataclasses.dataclass(frozen=True)
class Matches:
    """The cross-match's decision per catalogue row (index = catalogue row)."""

    outcome: NDArray[np.int8]
    """Index into ``list(Outcome)``."""
    n_sources: NDArray[np.int64]
    """Gaia DR3 sources within the radius."""
    source_id: NDArray[np.int64]
    """The nearest Gaia source (-1: none)."""
    separation_arcsec: NDArray[np.float64]
    phot_g_mean_mag: NDArray[np.float64]
    second_separation_arcsec: NDArray[np.float64]
    """Separation of the second-nearest Gaia source (NaN: fewer than two)."""

    def rows(self, outcome: Outcome) -> NDArray[np.intp]:
        return np.flatnonzero(self.outcome == _CODES[outcome])

    def with_outcome(self, rows: NDArray[np.intp], outcome: Outcome) -> Matches:
        codes = self.outcome.copy()
        codes[rows] = _CODES[outcome]
        return dataclasses.replace(self, outcome=codes)

    def counts(self) -> dict[str, int]:
        return {o.value: int(np.count_nonzero(self.outcome == _CODES[o])) for o in Outcome}

    def reasons(self) -> NDArray:
        """Each row's outcome as its text value."""
        return np.array([o.value for o in Outcome])[self.outcome]


def resolve_matches(
    survey: Survey, pairs: Pairs, several: SeveralSources = SeveralSources.REFUSE
) -> Matches:
    """Decide every row of ``survey`` from the cross-match ``pairs`` (rules: module docstring)."""
    n = len(survey)
    n_sources = np.bincount(pairs.row, minlength=n).astype(np.int64)
    order = np.lexsort((pairs.source_id, pairs.separation_arcsec, pairs.row))
    starts = np.unique(pairs.row[order], return_index=True)[1]
    first = order[starts]  # nearest pair of each row
    second = np.full(n, np.nan)
    has_second = n_sources[pairs.row[first]] > 1
    second[pairs.row[first][has_second]] = pairs.separation_arcsec[order[starts[has_second] + 1]]
    source_id = np.full(n, -1, np.int64)
    separation = np.full(n, np.nan)
    gmag = np.full(n, np.nan)
    has_xp = np.zeros(n, bool)
    rows = pairs.row[first]
    source_id[rows] = pairs.source_id[first]
    separation[rows] = pairs.separation_arcsec[first]
    gmag[rows] = pairs.phot_g_mean_mag[first]
    has_xp[rows] = pairs.has_xp[first]

    ids, counts = np.unique(source_id[rows], return_counts=True)
    shared = np.isin(source_id, ids[counts > 1]) & (source_id >= 0)
    decisions = [
        (~survey.in_z_range, Outcome.Z_OUTSIDE_RANGE),
        (n_sources == 0, Outcome.NO_MATCH),
        (
            (n_sources > 1) & (several is SeveralSources.REFUSE),
            Outcome.SEVERAL_SOURCES,
        ),
        (shared, Outcome.SHARED_SOURCE),
        (~has_xp, Outcome.NO_XP_SPECTRUM),
    ]
    codes = np.full(n, _CODES[Outcome.MATCHED], np.int8)
    decided = np.zeros(n, bool)
    for condition, outcome in decisions:
        codes[condition & ~decided] = _CODES[outcome]
        decided |= condition
    return Matches(codes, n_sources, source_id, separation, gmag, second)
