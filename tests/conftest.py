"""Shared fixtures: real local registries, real test images, isolated rpod environments.

Session fixtures are per pytest process (each xdist worker starts its own registries on random
ports).  Missing host tools make the fixtures fail loudly, naming the apt package to install.
"""

from __future__ import annotations

import os
import secrets
import time
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


# --------------------------------------------------------------------------- leftover processes
SESSION_MARK = "RPODTEST_SESSION"  # not RPOD_*: RpodEnv drops those, and this one must be inherited


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fault-rounds", type=int, default=None,
                     help="kill-at-random rounds of tests/integration/test_faults.py (default 24, "
                          "or $RPODTEST_FAULT_ROUNDS; the long pass is a few hundred)")


def pytest_configure(config: pytest.Config) -> None:
    """Mark this session's environment (xdist workers, every RpodEnv and the processes they start
    inherit it), so the end-of-session guard finds what this session, and no concurrent one, left."""
    if not hasattr(config, "workerinput"):
        os.environ[SESSION_MARK] = secrets.token_hex(8)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Warn (never fail) about processes this session started that still run: they reference this
    session's mark or basetemp and started after pytest.  They are listed, then killed."""
    from tests.support.leaks import boot_ticks_of, kill_processes, processes_referencing

    mark = os.environ.get(SESSION_MARK)
    if hasattr(config, "workerinput") or not mark:
        return
    needles = [f"{SESSION_MARK}={mark}\0", f"{config._tmp_path_factory.getbasetemp()}/"]
    started = boot_ticks_of(os.getpid())
    # xdist workers are our children and carry the mark; they are pytest, not leaks
    workers = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _is_worker(p, os.getpid())}
    leaks = processes_referencing(needles, started_after=started, exclude=workers)
    if leaks:  # give processes that are exiting on their own a moment
        time.sleep(0.5)
        again = {p.pid for p in processes_referencing(needles, started_after=started, exclude=workers)}
        leaks = [p for p in leaks if p.pid in again]
    if not leaks:
        return
    terminalreporter.write_sep("=", f"{len(leaks)} leftover process(es) from this test session", yellow=True)
    for p in leaks:
        terminalreporter.write_line(f"  pid {p.pid} (ppid {p.ppid}): {p.args[:300]}", yellow=True)
    terminalreporter.write_line("  a test or fixture did not stop them; killed now (see tests/support/leaks.py)",
                                yellow=True)
    kill_processes(leaks)


def _is_worker(proc: Path, controller: int) -> bool:
    """True for an xdist worker (an execnet child python) of ``controller``."""
    try:
        ppid = int((proc / "stat").read_bytes().rsplit(b")", 1)[1].split()[1])
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError, ValueError):
        return False
    return ppid == controller and (b"execnet" in cmdline or b"sys.stdin.readline" in cmdline)


@pytest.fixture(autouse=True)
def _umask_unchanged() -> Iterator[None]:
    """A test (or the code it runs in this process) must leave the process umask as it found it:
    an extractor that failed in its set-up once left it at 0, and later tests wrote world-writable
    files (systemd-analyze then complained)."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    after = os.umask(before)
    assert after == before, f"the umask changed from {before:04o} to {after:04o} during this test (restored)"
