"""podman-py (PyPI's ``podman``, a client nobody here wrote) through the Libpod API of
``rpod system service``: ping/version/info, images, containers create/start/wait/logs/exec/rm."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from podman import PodmanClient
from podman.errors import ImageNotFound, NotFound

from tests.support.apiservice import api_service
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv


@pytest.fixture(scope="module")
def client(module_env: RpodEnv) -> Iterator[PodmanClient]:
    with api_service(module_env) as sock, PodmanClient(base_url=f"unix://{sock}", timeout=120) as c:
        yield c


def test_system(client: PodmanClient) -> None:
    assert client.ping() is True
    assert "Version" in client.version()
    info = client.info()
    assert info["host"]["os"] == "linux" and info["store"]["imageStore"]["number"] >= 1


def test_images(client: PodmanClient, registry: Registry) -> None:
    img = client.images.get("alpine")
    assert any("alpine" in t for t in img.tags)
    assert img.id in [i.id for i in client.images.list()]
    pulled = client.images.pull(f"{registry.address}/layered", tag="latest", tls_verify=False)
    assert any("layered" in t for t in pulled.tags)
    client.images.remove(f"{registry.address}/layered:latest")
    assert not client.images.exists(f"{registry.address}/layered:latest")
    with pytest.raises(ImageNotFound):
        client.images.get("nonesuch-image")


def test_containers(client: PodmanClient) -> None:
    c = client.containers.create("alpine", ["sh", "-c", "echo out-line; echo err-line >&2; exit 2"],
                                 labels={"via": "podman-py"}, environment={"A": "b"})
    try:
        assert c.status == "created"
        c.start()
        assert c.wait() == 2
        logs = b"".join(c.logs(stdout=True, stderr=True))
        assert b"out-line" in logs and b"err-line" in logs
        c.reload()
        assert c.attrs["State"]["ExitCode"] == 2 and c.labels["via"] == "podman-py"
        assert "A=b" in c.attrs["Config"]["Env"]
        assert [x.id for x in client.containers.list(all=True, filters={"label": "via=podman-py"})] == [c.id]
    finally:
        c.remove(force=True)
    assert not client.containers.exists(c.id)
    with pytest.raises(NotFound):
        client.containers.get(c.id)


def test_exec(client: PodmanClient) -> None:
    c = client.containers.run("alpine", ["sleep", "1000"], detach=True, name="pp-exec")
    try:
        code, out = c.exec_run(["sh", "-c", "echo via-exec-$((2+3))"])
        assert code == 0 and b"via-exec-5" in out
    finally:
        c.remove(force=True)


def test_podman_remote(module_env: RpodEnv, client: PodmanClient) -> None:
    """``podman --remote`` (Podman 4.3.1's own client) through the Libpod API."""
    import subprocess

    sock = f"{module_env['XDG_RUNTIME_DIR']}/api.sock"  # where the client fixture's service listens

    def remote(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", "--url", f"unix://{sock}", *args], env=module_env, capture_output=True,
                              text=True, timeout=120)

    r = remote("run", "--rm", "alpine", "sh", "-c", "echo hi-remote; exit 3")
    assert (r.returncode, r.stdout) == (3, "hi-remote\n"), r.stderr
    r = remote("info", "--format", "{{.Host.Arch}}")
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    r = remote("images", "--format", "{{.Repository}}")
    assert r.returncode == 0 and "alpine" in r.stdout, r.stderr
