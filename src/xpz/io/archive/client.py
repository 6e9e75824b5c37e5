"""The archive client behind :func:`xpz.io.archive.fetch.fetch`: a protocol, and astroquery's.

:func:`~xpz.io.archive.fetch.fetch` talks to the archive only through an
:class:`ArchiveClient`, so that tests serve tables they make (and fail as a
network fails).  :class:`GaiaArchiveClient` is the real one: the ESA Gaia
archive through :mod:`astroquery.gaia`, anonymous (DR3 is public), with a
time-out on every socket so that a silent server cannot hang ``xpz fetch``.
"""

from __future__ import annotations

import contextlib
import io
import socket
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from xpz.errors import XpzError
from xpz.io.archive.query import UPLOAD_TABLE_NAME

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["DEFAULT_TIMEOUT_S", "ArchiveClient", "GaiaArchiveClient", "answer_columns"]

#: Seconds a socket may wait for the archive before the call fails (and is retried).
DEFAULT_TIMEOUT_S = 120.0


def answer_columns(answer: Table, columns: Sequence[str], what: str, service: str) -> Table:
    """``answer``'s ``columns`` in that order, its names lower-cased (services differ in case).

    A column that is missing is one :class:`~xpz.errors.XpzError` naming ``what``
    was asked and the ``service`` that answered.

    >>> from astropy.table import Table
    >>> answer_columns(Table({"Z": [0.1], "RA": [1.0]}), ["ra", "z"], "chunk 1", "SDSS").colnames
    ['ra', 'z']
    """
    answer = answer.copy(copy_data=False)
    for name in answer.colnames:
        if name != name.lower():
            answer.rename_column(name, name.lower())
    missing = [c for c in columns if c not in answer.colnames]
    if missing:
        raise XpzError(f"{what}: the answer of the {service} lacks column(s) {', '.join(missing)}")
    return answer[list(columns)]


class ArchiveClient(Protocol):
    """What :func:`~xpz.io.archive.fetch.fetch` needs from the archive."""

    def query(self, adql: str, upload: Table | None = None) -> Table:
        """Run ``adql``; ``upload``, if given, is visible as ``tap_upload.xpz_targets``."""
        ...

    def load_xp_continuous(self, ids: Sequence[int]) -> Table:
        """Return the XP_CONTINUOUS rows of ``ids`` (the archive's columns)."""
        ...


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Sockets opened inside (astroquery opens them without a time-out) give up after ``seconds``."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class GaiaArchiveClient:
    """The ESA Gaia archive through :mod:`astroquery.gaia` (anonymous; DR3 is public)."""

    def __init__(
        self, data_release: str = "Gaia DR3", timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        # Importing astroquery.gaia asks the archive for status messages and prints
        # them (or "could not be retrieved") on stdout: keep that out of xpz's output.
        with _socket_timeout(timeout_s), contextlib.redirect_stdout(io.StringIO()):
            from astroquery.gaia import Gaia

        self._gaia = Gaia
        self.data_release = data_release
        self.timeout_s = timeout_s

    def query(self, adql: str, upload: Table | None = None) -> Table:
        """Run ``adql`` as an asynchronous job (no row limit) and return its result."""
        with _socket_timeout(self.timeout_s):
            job = self._gaia.launch_job_async(
                adql,
                upload_resource=upload,
                upload_table_name=None if upload is None else UPLOAD_TABLE_NAME,
            )
            return job.get_results()

    def load_xp_continuous(self, ids: Sequence[int]) -> Table:
        """Download the XP_CONTINUOUS coefficients of ``ids`` (at most 5,000) via DataLink.

        ``Gaia.load_data`` returns ``{file name: [tables]}``; the COMBINED structure
        puts every source in one file.  VOTable is asked for because astroquery
        parses it into typed tables (it leaves ECSV unparsed).
        """
        from astropy.table import Table, vstack

        with _socket_timeout(self.timeout_s):
            products = self._gaia.load_data(
                ids=[int(i) for i in ids],
                retrieval_type="XP_CONTINUOUS",
                data_release=self.data_release,
                data_structure="COMBINED",
                format="votable",
            )
        tables = [
            t if isinstance(t, Table) else t.to_table()
            for name, parts in products.items()
            if name.upper().startswith("XP_CONTINUOUS")
            for t in parts
        ]
        if not tables:
            raise XpzError(f"the archive returned no XP_CONTINUOUS product for {len(ids)} ids")
        return vstack(tables, metadata_conflicts="silent")
