"""Shared fixtures: real local registries, real test images, isolated rpod environments.

Session fixtures are per pytest process (each xdist worker starts its own registries on random
ports).  Missing host tools make the fixtures fail loudly, naming the apt package to install.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import ImageSet, TestImage, build_images, default_cache_root
from tests.support.registry import (
    CertAuthority,
    FlakyProxy,
    MissingToolError,
    Registry,
    TokenServer,
    require_tool,
    start_registry,
)
from tests.support.rpodcli import RpodEnv

TLS_USER = "rpoduser"
TOKEN_USER = "tokenuser"


def _require(*tools: tuple[str, str]) -> None:
    for program, package in tools:
        try:
            require_tool(program, package)
        except MissingToolError as e:
            pytest.fail(str(e), pytrace=False)


def _start(workdir: Path, **kwargs: object) -> Registry:
    try:
        return start_registry(workdir, **kwargs)  # type: ignore[arg-type]
    except (MissingToolError, RuntimeError) as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A plain-HTTP registry without auth."""
    _require(("docker-registry", "docker-registry"))
    reg = _start(tmp_path_factory.mktemp("registry-http"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An HTTPS registry (fixture-made CA at ``.ca_path``) with htpasswd auth (``.username``/``.password``)."""
    _require(("docker-registry", "docker-registry"), ("htpasswd", "apache2-utils"))
    reg = _start(tmp_path_factory.mktemp("registry-tls"), tls=True,
                 basic_auth=(TLS_USER, "pw-" + secrets.token_hex(6)))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A plain-HTTP registry using Bearer tokens from ``.token_server`` (Docker Hub style).

    ``.username``/``.password`` are valid token-server credentials (pull and push); anonymous
    clients get pull-only tokens.
    """
    _require(("docker-registry", "docker-registry"))
    workdir = tmp_path_factory.mktemp("registry-token")
    password = "tok-" + secrets.token_hex(6)
    tokens = TokenServer(CertAuthority(workdir / "token-ca", "rpod token CA"), users={TOKEN_USER: password}).start()
    reg = _start(workdir / "registry", token_server=tokens, token_user=(TOKEN_USER, password))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def built_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestImage]:
    """Every test image built as an OCI layout (``large`` comes from the per-machine cache)."""
    return build_images(tmp_path_factory.mktemp("image-layouts"), default_cache_root())


@pytest.fixture(scope="session")
def images(built_images: dict[str, TestImage], registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    """All test images, pushed to ``registry``; ``images.push_to(other_registry, *names)`` on demand."""
    _require(("skopeo", "skopeo"))
    image_set = ImageSet(built_images, registry, tmp_path_factory.mktemp("skopeo"))
    try:
        image_set.push_to(registry)
    except RuntimeError as e:
        pytest.fail(f"pushing test images failed: {e}\nregistry log:\n{registry.log_tail()}", pytrace=False)
    return image_set


@pytest.fixture
def flaky_proxy(registry: Registry, images: ImageSet) -> Iterator[FlakyProxy]:
    """A ``FlakyProxy`` in front of the HTTP registry (well-behaved until told otherwise)."""
    proxy = FlakyProxy(registry).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def rpod_env(tmp_path: Path, registry: Registry, images: ImageSet) -> Iterator[RpodEnv]:
    """An isolated environment (HOME, XDG_*) for running rpod; registries.conf searches and
    trusts (insecure) the HTTP test registry, so ``rpod pull alpine`` resolves there."""
    env = RpodEnv(tmp_path / "rpod")
    env.write_registries_conf(search=[registry.address], insecure=[registry.address])
    yield env
    env.cleanup()
