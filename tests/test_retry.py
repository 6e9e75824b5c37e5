"""xpz.retry: bounded tries, doubling waits, the last error re-raised."""

from __future__ import annotations

import pytest

from xpz.retry import RetryPolicy, retry


def test_gives_up_after_the_allowed_tries_with_the_last_error():
    calls, waits = [], []

    def down():
        calls.append(1)
        raise TimeoutError(f"try {len(calls)}")

    policy = RetryPolicy(attempts=4, first_delay_s=0.5, max_delay_s=1.5)
    with pytest.raises(TimeoutError, match="try 4"):
        retry(down, policy, retry_on=(OSError,), sleep=waits.append)
    assert len(calls) == 4 and waits == [0.5, 1.0, 1.5]


def test_other_errors_are_not_retried_and_one_try_means_no_wait():
    calls, waits = [], []

    def bug():
        calls.append(1)
        raise KeyError("a bug, not a transient fault")

    with pytest.raises(KeyError):
        retry(bug, RetryPolicy(attempts=5), retry_on=(OSError,), sleep=waits.append)
    assert len(calls) == 1 and waits == []
    assert retry(lambda: 7, RetryPolicy(attempts=1), retry_on=(OSError,), sleep=waits.append) == 7


def test_bad_policies_are_refused():
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(first_delay_s=-1)
