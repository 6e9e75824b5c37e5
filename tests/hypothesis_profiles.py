"""Hypothesis profiles for xpz's property-based tests (the reader and predict fuzzers).

* ``ci`` (the default): a fixed, small budget of examples, derandomized, so that
  every run tries the same examples and CI stays fast and reproducible;
* ``long``: 1,000 random examples per test, for a search before a release.

Choose one with ``HYPOTHESIS_PROFILE=long`` or ``pytest --hypothesis-profile=long``
(the option needs the profiles registered before pytest starts, which
``tests/conftest.py`` does by importing this module).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

CI = "ci"
LONG = "long"

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile(CI, max_examples=25, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile(LONG, max_examples=1000, **_COMMON)

_chosen = os.environ.get("HYPOTHESIS_PROFILE")
if _chosen or settings.get_current_profile_name() == "default":  # not chosen with the option
    settings.load_profile(_chosen or CI)

#: The profile the fuzz tests run under.
PROFILE = settings.get_profile(settings.get_current_profile_name())
