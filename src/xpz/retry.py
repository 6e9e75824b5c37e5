"""Bounded retries with doubling back-off: one mechanism for every call that may fail for a while.

A :class:`RetryPolicy` says how many tries and how long to wait between them;
:func:`retry` tries a call under it, again only on the exceptions it is told are
transient, and re-raises the last one when the tries are spent, so no loop can
wait for ever.  The Gaia archive client (:mod:`xpz.io.archive.retry`) and the
shared tuning storage (:func:`xpz.tuning.search.make_storage`) use it.

>>> calls = []
>>> def flaky():
...     calls.append(1)
...     if len(calls) < 3:
...         raise ConnectionResetError(104, "Connection reset by peer")
...     return "answer"
>>> retry(flaky, RetryPolicy(attempts=3, first_delay_s=0), retry_on=(OSError,)), len(calls)
('answer', 3)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["RetryPolicy", "retry"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, a failing call is tried again.

    >>> [RetryPolicy().delay(k) for k in (1, 2, 3, 4, 5, 9)]
    [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    """

    #: Tries in all, the first included (1: no retry).
    attempts: int = 5
    #: Seconds to wait after the first failure; each later wait doubles.
    first_delay_s: float = 2.0
    #: The longest wait between two tries, in seconds.
    max_delay_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.first_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("retry delays must not be negative")

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed try."""
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (failures - 1)))


def retry(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    retry_on: tuple[type[BaseException], ...],
    sleep: Callable[[float], None] | None = None,
) -> T:
    """``call()``, tried again after an exception in ``retry_on`` as ``policy`` allows.

    The last try's exception propagates unchanged; exceptions not in
    ``retry_on`` propagate at once.  ``sleep`` waits between tries (default
    :func:`time.sleep`).
    """
    wait = time.sleep if sleep is None else sleep
    for attempt in range(1, policy.attempts):
        try:
            return call()
        except retry_on:
            wait(policy.delay(attempt))
    return call()
