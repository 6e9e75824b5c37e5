"""Hypothesis profiles shared by xpz's fuzz tests: ``ci`` (the default) and ``long``.

Registered here rather than in ``tests/conftest.py`` so that two fuzz test
modules (``tests/test_predict_fuzz.py``, ``tests/io/test_fuzz_readers.py``) can
share them without editing one file.  ``HYPOTHESIS_PROFILE=long`` selects the
longer one; ``ci`` is fixed, small and derandomised so that ``make test`` is
reproducible.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=500, **_COMMON)

#: The profile the fuzz tests run under (``HYPOTHESIS_PROFILE``, default ``ci``).
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
