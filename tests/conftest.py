"""Shared test configuration: hypothesis profiles (fast by default, deep on demand)."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.databases"]  # SQLite and PostgreSQL fixtures for every suite

settings.register_profile("fast", max_examples=40, deadline=None)
settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
