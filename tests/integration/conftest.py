"""Fixtures shared by the integration tests that run containers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.images import ImageSet
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv, ok, run_rpod


@pytest.fixture
def env(rpod_env: RpodEnv, images: ImageSet) -> RpodEnv:
    """An isolated rpod whose store holds alpine and the layered test image."""
    ok(run_rpod(rpod_env, "pull", "-q", "alpine", "layered"))
    return rpod_env


@pytest.fixture(scope="module")
def module_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, registry: Registry,
               images: ImageSet) -> Iterator[RpodEnv]:
    """One store with alpine for a whole module (its tests make and remove their own containers)."""
    e = RpodEnv(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    e.write_registries_conf(search=[registry.address], insecure=[registry.address])
    ok(run_rpod(e, "pull", "-q", "alpine"))
    yield e
    run_rpod(e, "rm", "-f", "-a", "-t", "0")
    e.cleanup()
