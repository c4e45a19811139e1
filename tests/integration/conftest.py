"""Fixtures shared by the integration tests that run containers."""

from __future__ import annotations

import pytest

from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod


@pytest.fixture
def env(rpod_env: RpodEnv, images: ImageSet) -> RpodEnv:
    """An isolated rpod whose store holds alpine and the layered test image."""
    ok(run_rpod(rpod_env, "pull", "-q", "alpine", "layered"))
    return rpod_env
