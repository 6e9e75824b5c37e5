"""Bounded retries with back-off for calls to the Gaia archive, and the one error they end in.

The network fails in many ways: no route, a name that does not resolve
(:class:`socket.gaierror`), a connection reset or timed out, an HTTP error
(``requests`` and ``http.client`` exceptions), or an asynchronous job that the
archive aborts (astroquery raises :class:`SystemError` for a job in phase
``ERROR``).  :func:`call_with_retries` tries a call up to
:attr:`RetryPolicy.attempts` times, waiting :meth:`RetryPolicy.delay` seconds
(doubling) between tries, and then raises one :class:`ArchiveUnavailableError`,
an :class:`~xpz.errors.XpzError` whose one-line message names what was being
fetched, so that ``xpz fetch`` prints it and exits 2.  Other exceptions
(programming errors, :class:`~xpz.errors.XpzError`, ``KeyboardInterrupt``) pass
through untouched.

>>> import socket
>>> calls = []
>>> def flaky():
...     calls.append(1)
...     if len(calls) < 3:
...         raise ConnectionResetError(104, "Connection reset by peer")
...     return "answer"
>>> call_with_retries("batch 1", flaky, RetryPolicy(attempts=3, first_delay_s=0))
'answer'
>>> def down():
...     raise socket.gaierror(-2, "Name or service not known")
>>> call_with_retries("batch 2", down, NO_RETRY)
Traceback (most recent call last):
...
xpz.io.archive.retry.ArchiveUnavailableError: batch 2: the Gaia archive cannot be reached or failed, 1 try (gaierror: [Errno -2] Name or service not known)
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import TypeVar

from xpz.errors import XpzError
from xpz.retry import RetryPolicy, retry

__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "TRANSIENT_ERRORS",
    "ArchiveUnavailableError",
    "RetryPolicy",
    "call_with_retries",
]

T = TypeVar("T")

#: Exceptions worth another try: the OS's network errors (``requests``' and
#: ``urllib``'s derive from :class:`OSError`, as do :class:`TimeoutError` and
#: :class:`socket.gaierror`), ``http.client``'s protocol errors, and the
#: :class:`SystemError` astroquery raises for a job the archive aborted.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    http.client.HTTPException,
    SystemError,
)


class ArchiveUnavailableError(XpzError):
    """The archive could not be reached, or kept failing, after the allowed tries."""


#: What ``xpz fetch`` uses: 5 tries over about 30 s.
DEFAULT_RETRY = RetryPolicy()
#: One try, no waiting.
NO_RETRY = RetryPolicy(attempts=1, first_delay_s=0.0)


def call_with_retries(
    what: str,
    call: Callable[[], T],
    policy: RetryPolicy = DEFAULT_RETRY,
    *,
    hint: str = "",
    sleep: Callable[[float], None] | None = None,
    service: str = "the Gaia archive",
) -> T:
    """``call()``, tried again on :data:`TRANSIENT_ERRORS` as ``policy`` allows (:func:`xpz.retry.retry`).

    Raises
    ------
    ArchiveUnavailableError
        When the last try fails: ``"<what>: the Gaia archive cannot be reached
        or failed, N tries (<the last error>)<hint>"``, in one line (``service``
        in place of "the Gaia archive" when given).

    ``sleep`` waits between tries (default :func:`time.sleep`); ``service``
    names the server in the message (the SDSS SkyServer calls say so).
    """
    try:
        return retry(call, policy, retry_on=TRANSIENT_ERRORS, sleep=sleep)
    except TRANSIENT_ERRORS as exc:
        n = policy.attempts
        raise ArchiveUnavailableError(
            f"{what}: {service} cannot be reached or failed, {n} tr{'y' if n == 1 else 'ies'}"
            f" ({describe(exc)}){hint}"
        ) from exc


def describe(exc: BaseException, limit: int = 200) -> str:
    """An exception in one short line: its type and the first line of its message.

    >>> describe(TimeoutError("timed out"))
    'TimeoutError: timed out'
    """
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
