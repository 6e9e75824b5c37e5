"""Network faults during ``xpz fetch``: bounded retries, one clear line, and a rerun that resumes.

No test contacts any host: the archive is a fake client that fails as the network
does, and the time-out test talks to a silent server on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Sequence

import pytest
import requests
from astropy.table import Table

from xpz.errors import XpzError
from xpz.io.archive import client as client_module
from xpz.io.archive import fetch as fetch_module
from xpz.io.archive.fetch import fetch
from xpz.io.archive.retry import (
    TRANSIENT_ERRORS,
    ArchiveUnavailableError,
    RetryPolicy,
    call_with_retries,
)

from .test_fetch import FakeArchive

FAST = RetryPolicy(attempts=3, first_delay_s=0.0)


def dns_failure() -> socket.gaierror:
    return socket.gaierror(-2, "Name or service not known")


class FlakyArchive(FakeArchive):
    """Each call fails with the next of ``faults`` (and, with ``forever``, the last one again)."""

    def __init__(
        self, n: int, faults: Sequence[BaseException] = (), *, forever: bool = False
    ) -> None:
        super().__init__(n)
        self.faults, self.forever, self.calls = list(faults), forever, 0

    def _fail(self) -> None:
        self.calls += 1
        if self.faults:
            fault = self.faults[0] if self.forever else self.faults.pop(0)
            raise fault

    def query(self, adql: str, upload: Table | None = None) -> Table:
        self._fail()
        return super().query(adql, upload)

    def load_xp_continuous(self, ids: Sequence[int]) -> Table:
        self._fail()
        return super().load_xp_continuous(ids)


FAULTS = [
    dns_failure(),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
    http.client.RemoteDisconnected("Remote end closed connection without response"),
    requests.exceptions.HTTPError("500 Server Error: Internal Server Error"),
    SystemError("Job 1701 aborted: phase ERROR"),  # astroquery's way to say the job failed
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda e: type(e).__name__)
def test_each_network_fault_counts_as_transient(fault):
    assert isinstance(fault, TRANSIENT_ERRORS)


def test_a_fetch_that_fails_a_few_times_then_succeeds_completes(tmp_path):
    archive = FlakyArchive(7, FAULTS[:2])  # the query fails twice, then all is well
    result = fetch(tmp_path, client=archive, batch_size=3, progress=False, retry=FAST)
    assert (result.n_downloaded, result.n_candidates) == (3, 7)
    assert archive.calls == 2 + 1 + 3 and all(p.exists() for p in result.batches)


def test_a_batch_that_fails_a_few_times_then_succeeds_completes(tmp_path):
    archive = FlakyArchive(7)
    fetch(tmp_path, client=archive, batch_size=3, progress=False, retry=FAST)
    for p in tmp_path.glob("xp_continuous_00000[12].*"):
        p.unlink()
    again = FlakyArchive(7, [FAULTS[2], FAULTS[3]])
    result = fetch(tmp_path, client=again, batch_size=3, progress=False, retry=FAST)
    assert (result.n_downloaded, result.n_skipped) == (2, 1)
    assert [len(ids) for ids in again.loads] == [3, 1]  # the failed tries never reached the fake


def test_retries_are_bounded_and_back_off():
    waits: list[float] = []
    calls = []

    def down() -> None:
        calls.append(1)
        raise dns_failure()

    policy = RetryPolicy(attempts=4, first_delay_s=0.5, max_delay_s=1.5)
    with pytest.raises(ArchiveUnavailableError, match="batch 9: .* 4 tries .*gaierror"):
        call_with_retries("batch 9", down, policy, sleep=waits.append)
    assert len(calls) == 4 and waits == [0.5, 1.0, 1.5]


def test_other_errors_are_not_retried():
    calls = []

    def bug() -> None:
        calls.append(1)
        raise KeyError("not a network fault")

    with pytest.raises(KeyError):
        call_with_retries("the query", bug, FAST, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_batch_that_always_fails_names_itself_and_a_rerun_resumes(tmp_path):
    class DiesAfterFirstBatch(FlakyArchive):
        def load_xp_continuous(self, ids: Sequence[int]) -> Table:
            if self.loads:  # the first batch comes; then the network goes
                self.faults, self.forever = [dns_failure()], True
            return super().load_xp_continuous(ids)

    archive = DiesAfterFirstBatch(7)
    with pytest.raises(ArchiveUnavailableError) as caught:
        fetch(tmp_path, client=archive, batch_size=3, progress=False, retry=FAST)
    message = str(caught.value)
    assert message.startswith(
        "XP_CONTINUOUS batch 2 of 3 (xp_continuous_000001.ecsv, 3 source ids)"
    )
    assert "cannot be reached" in message and "3 tries" in message and "gaierror" in message
    assert f"3 of 7 sources are saved in {tmp_path}" in message and "\n" not in message
    assert isinstance(caught.value, XpzError)
    assert archive.calls == 1 + 1 + FAST.attempts  # query, batch 1, bounded tries of batch 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "candidates.ecsv",
        "manifest.json",
        "xp_continuous_000000.ecsv",
    ]

    recovered = FlakyArchive(7)
    result = fetch(tmp_path, client=recovered, batch_size=3, progress=False, retry=FAST)
    assert recovered.queries == [] and [len(ids) for ids in recovered.loads] == [3, 1]
    assert (result.n_downloaded, result.n_skipped) == (2, 1)
    assert all(p.exists() for p in result.batches)


def test_a_query_that_always_fails_writes_nothing_and_a_rerun_starts_afresh(tmp_path):
    with pytest.raises(ArchiveUnavailableError, match=r"^the candidate query: .*nothing was"):
        fetch(tmp_path, client=FlakyArchive(4, [dns_failure()], forever=True), retry=FAST)
    assert not list(tmp_path.iterdir())
    result = fetch(tmp_path, client=FlakyArchive(4), progress=False, retry=FAST)
    assert result.n_candidates == 4 and all(p.exists() for p in result.batches)


def test_xpz_fetch_without_a_network_prints_one_line(tmp_path, monkeypatch, capsys):
    from xpz.cli import main

    offline = FlakyArchive(4, [dns_failure()], forever=True)
    monkeypatch.setattr(fetch_module, "default_client", lambda: offline)
    monkeypatch.setattr(fetch_module, "DEFAULT_RETRY", FAST)
    assert main(["fetch", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("xpz fetch: error: the candidate query: the Gaia archive cannot")
    assert "Name or service not known" in lines[0]
    assert captured.out == "" and offline.calls == FAST.attempts


def test_a_silent_server_times_out_instead_of_hanging():
    """Sockets opened inside the client's time-out give up (here on 127.0.0.1, at once)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    try:
        with client_module._socket_timeout(0.2):
            connection = http.client.HTTPConnection("127.0.0.1", port)
            with pytest.raises(TRANSIENT_ERRORS):
                connection.request("GET", "/tap-server/tap/async")
                connection.getresponse()  # the server never answers
        assert socket.getdefaulttimeout() is None
    finally:
        thread.join(1)
        for sock in accepted:
            sock.close()
        server.close()
