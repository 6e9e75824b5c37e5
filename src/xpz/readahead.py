"""Read the next item of an iterator in a thread while the caller works on this one.

:func:`read_ahead` wraps an iterator (e.g. the chunks of ``xpz predict``:
reading a file and converting XP coefficients) so that item ``i + 1`` is
produced in a background thread while the caller processes item ``i`` (e.g.
runs the network).  Reading Parquet, NumPy and torch release the GIL for their
heavy work, so the two overlap on two or more cores.

Guarantees:

* the items come in the order of the source;
* an exception raised by the source is raised by :func:`read_ahead` at the
  point where the source would have raised it (after the items before it),
  unchanged (an :class:`~xpz.errors.InputError` keeps its file and row);
* at most ``depth`` items are produced ahead: the thread starts on the next item
  only when the caller takes the previous one, so memory grows by at most
  ``depth`` items beyond the one in use;
* stopping early (``break``, an exception in the caller, ``close()``) stops the
  thread after the item it is producing and closes the source.

>>> list(read_ahead(iter(range(5))))
[0, 1, 2, 3, 4]
>>> list(read_ahead(iter(range(3)), depth=0))
[0, 1, 2]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")

_DONE = object()


class _Failure:
    """An exception raised by the source, carried to the caller's thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _produce(
    source: Iterator[T], items: queue.Queue, permits: threading.Semaphore, stop: threading.Event
) -> None:
    """Thread body: one item per permit, then a ``_DONE`` or ``_Failure`` marker."""
    while True:
        permits.acquire()
        if stop.is_set():
            return
        try:
            item: object = next(source)
        except StopIteration:
            item = _DONE
        except BaseException as error:  # carried to the caller, raised there
            item = _Failure(error)
        items.put(item)
        if item is _DONE or isinstance(item, _Failure):
            return


def read_ahead(source: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of ``source``, up to ``depth`` of them produced ahead in a thread (0: none)."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    if depth == 0:
        yield from source
        return
    items: queue.Queue = queue.Queue()
    permits = threading.Semaphore(depth)
    stop = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(source, items, permits, stop), name="xpz-read-ahead", daemon=True
    )
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            permits.release()  # the caller holds this item: the thread may start the next
            yield item
    finally:
        stop.set()
        permits.release()  # wake the thread if it waits for a permit
        # Garbage collection may close an abandoned read-ahead from inside the thread's
        # next(source); the thread then stops by itself and the source is collected.
        if threading.current_thread() is not thread:
            thread.join()
            close = getattr(source, "close", None)
            if close is not None:
                close()
