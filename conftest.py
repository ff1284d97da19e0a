"""Project-wide pytest set-up: Hypothesis profiles and mpmath precision hygiene.

Profiles: ``ci`` (default; deterministic, moderate example counts) and ``thorough``
(many more examples), chosen with ``COLLAPSE_HYPOTHESIS_PROFILE=thorough``.
"""
import importlib.util
import os

import mpmath
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=20, deadline=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", max_examples=400, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("COLLAPSE_HYPOTHESIS_PROFILE", "ci"))

# The deep module's tests need the `deep` extra (torch, scikit-learn, h5py); without it
# they are not collected, and `collapse verify` reports their claims as not backed.
if not all(importlib.util.find_spec(name) for name in ("torch", "sklearn", "h5py")):
    collect_ignore_glob = ["tests/test_deep_*.py", "property_tests/test_deep_*.py"]


@pytest.fixture(autouse=True)
def _restore_mpmath_precision():
    """mpmath's precision is global: restore it after every test."""
    dps = mpmath.mp.dps
    yield
    mpmath.mp.dps = dps
pytest_plugins = ["pytester"]
