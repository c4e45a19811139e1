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
