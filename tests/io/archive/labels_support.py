"""Fake archive and SDSS clients for the ``xpz fetch --labels`` / ``--sdss`` tests.

They answer from stored files in the services' formats: the cross-match answer
VOTable and the SkyServer CSV of ``tests/data/labels`` (made by its
``make_fixtures.py``), and the real XP_CONTINUOUS rows of ``tests/data/gaia_archive``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

DATA = Path(__file__).parents[2] / "data"
LABELS = DATA / "labels"
SURVEY = LABELS / "survey.csv"
FIRST_SOURCE = 3_000_000_000_000_000_000
#: The matched source the fake archive has no XP_CONTINUOUS row for (catalogue row 33).
LOST_SOURCE = FIRST_SOURCE + 33


class StoredArchive:
    """The Gaia archive as stored answers: cross-match rows of the uploaded rows, real XP rows.

    The XP_CONTINUOUS row of source ``FIRST_SOURCE + k`` is real source ``k % 2`` of
    GaiaXPy's ``XP_CONTINUOUS_RAW.xml`` with its coefficients scaled by ``1 + k / 100``.
    ``fail_query`` makes that cross-match call (1-based) raise a network error.
    """

    def __init__(self, fail_query: int | None = None) -> None:
        self.answer = Table.read(LABELS / "crossmatch_answer.xml")
        self.real = Table.read(DATA / "gaia_archive" / "XP_CONTINUOUS_RAW.xml")
        self.queries: list[tuple[str, Table | None]] = []
        self.loads: list[list[int]] = []
        self.fail_query = fail_query

    def query(self, adql: str, upload: Table | None = None) -> Table:
        self.queries.append((adql, upload))
        if self.fail_query == len(self.queries):
            raise ConnectionResetError(104, "Connection reset by peer")
        assert upload is not None and "tap_upload.xpz_targets" in adql
        return self.answer[np.isin(self.answer["xpz_row"], upload["xpz_row"])]

    def load_xp_continuous(self, ids: Sequence[int]) -> Table:
        self.loads.append([int(i) for i in ids])
        known = [int(i) for i in ids if int(i) != LOST_SOURCE]
        k = np.array(known, dtype=np.int64) - FIRST_SOURCE
        table = self.real[k % 2]
        table["source_id"] = np.array(known, dtype=np.int64)
        for band in ("bp", "rp"):
            name = f"{band}_coefficients"
            cells = np.empty(len(table), dtype=object)
            cells[:] = [np.asarray(c) * (1 + j / 100) for c, j in zip(table[name], k, strict=True)]
            table[name] = cells
        return table


class StoredSkyServer:
    """The SDSS SkyServer as its stored CSV answer, cut to each query's RA stripe."""

    def __init__(self, fail_query: int | None = None) -> None:
        text = (LABELS / "sdss_answer.csv").read_text()
        with warnings.catch_warnings():  # the id above int64 is read as text, then ...
            warnings.simplefilter("ignore")
            self.answer = Table.read(text, format="ascii.csv", comment="#")
        self.answer["specobjid"] = self.answer["specobjid"].astype(np.uint64)  # ... as astroquery
        self.queries: list[str] = []
        self.fail_query = fail_query

    def query_sql(self, sql: str) -> Table:
        self.queries.append(sql)
        if self.fail_query == len(self.queries):
            raise TimeoutError("timed out")
        lo, hi = map(float, re.search(r"s\.ra >= (\S+) AND s\.ra < (\S+)", sql).groups())
        ra = np.asarray(self.answer["ra"])
        return self.answer[(ra >= lo) & (ra < hi)]
