"""Hypothesis profiles for xpz's property-based tests.

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

settings.register_profile(
    CI,
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    LONG, max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

_chosen = os.environ.get("HYPOTHESIS_PROFILE")
if _chosen or settings.get_current_profile_name() == "default":  # not chosen with the option
    settings.load_profile(_chosen or CI)
