"""Python clients nobody here wrote, through ``rpod system service``: the ``docker`` SDK
(create/start/wait/logs/exec/put_archive/get_archive, attach sockets, events) and
testcontainers-python (a DockerContainer with a wait-for-log strategy and a mapped port)."""

from __future__ import annotations

import io
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator

import docker
import pytest

from tests.integration.test_network import HTTPD_CGI
from tests.support.apiservice import api_service, docker_env
from tests.support.rpodcli import RpodEnv, ok, run_rpod


@pytest.fixture(scope="module")
def sdk(module_env: RpodEnv) -> Iterator[tuple[docker.DockerClient, dict[str, str]]]:
    ok(run_rpod(module_env, "pull", "-q", "busybox"))
    with api_service(module_env) as sock:
        client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=120)
        yield client, docker_env(module_env, sock)
        client.close()


def test_create_start_wait_logs(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    client, _ = sdk
    c = client.containers.create("alpine", ["sh", "-c", "echo to-out; echo to-err >&2; exit 7"],
                                 labels={"suite": "sdk"}, environment={"GREETING": "hi"})
    try:
        assert c.status == "created"
        c.start()
        assert c.wait(timeout=60) == {"StatusCode": 7, "Error": None}
        assert c.logs(stdout=True, stderr=False) == b"to-out\n"
        assert c.logs(stdout=False, stderr=True) == b"to-err\n"
        c.reload()
        assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 7
        assert c.labels == {"suite": "sdk"} and "GREETING=hi" in c.attrs["Config"]["Env"]
        assert [x.id for x in client.containers.list(all=True, filters={"label": "suite=sdk"})] == [c.id]
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_run_returns_output_and_raises_on_failure(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    client, _ = sdk
    assert client.containers.run("alpine", ["echo", "sdk-run"], remove=True) == b"sdk-run\n"
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run("alpine", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    assert e.value.exit_status == 3 and b"bad" in e.value.stderr
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.run("nonesuch-image-xyz", ["true"], remove=True)


def test_exec_and_archives(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    client, _ = sdk
    c = client.containers.run("alpine", ["sleep", "1000"], detach=True, name="sdk-exec")
    try:
        r = c.exec_run(["sh", "-c", "echo $((6*7)); echo oops >&2; exit 5"], demux=True)
        assert r.exit_code == 5 and r.output == (b"42\n", b"oops\n")
        r = c.exec_run(["cat"], stdin=False, environment={"X": "1"}, workdir="/tmp")
        assert r.exit_code == 0
        r = c.exec_run(["sh", "-c", "echo $X $(pwd)"], environment={"X": "1"}, workdir="/tmp")
        assert r.output == b"1 /tmp\n"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            data = b"put through the API\n"
            info = tarfile.TarInfo("dir/hello.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        assert c.put_archive("/tmp", buf.getvalue())
        assert c.exec_run(["cat", "/tmp/dir/hello.txt"]).output == b"put through the API\n"
        stream, stat = c.get_archive("/tmp/dir")
        got = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=got) as tf:
            member = tf.extractfile("dir/hello.txt")
            assert member is not None and member.read() == b"put through the API\n"
        assert stat["name"] == "dir"
        top = c.top()
        assert any("sleep" in " ".join(p) for p in top["Processes"])
    finally:
        c.remove(force=True)


def test_attach_socket_stdin(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    """The hijacked attach stream: stdin to the container, its output back in frames."""
    client, _ = sdk
    c = client.containers.create("alpine", ["sh", "-c", "read line; echo got:$line"], stdin_open=True)
    try:
        sock = c.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        c.start()
        sock._sock.sendall(b"via-attach\n")
        data = b""
        deadline = time.monotonic() + 60
        while b"got:via-attach" not in data and time.monotonic() < deadline:
            chunk = sock._sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data[:1] == b"\x01" and b"got:via-attach\n" in data  # a stdout frame
        assert c.wait(timeout=60)["StatusCode"] == 0
        sock.close()
    finally:
        c.remove(force=True)


def test_events_stream(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    client, _ = sdk
    seen: list[dict] = []
    events = client.events(decode=True, filters={"type": "container", "label": "ev=1"})

    def read() -> None:
        for ev in events:
            seen.append(ev)
            if ev["Action"] == "destroy" or ev["Action"] == "remove":
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()  # the request is answered (headers) before client.events() returns: no event is missed
    client.containers.run("alpine", ["true"], labels={"ev": "1"}, remove=True)
    t.join(60)
    events.close()
    actions = [e["Action"] for e in seen]
    assert "create" in actions and "start" in actions and actions[-1] in ("remove", "destroy"), actions


def test_images_api(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    client, _ = sdk
    img = client.images.get("alpine")
    assert img.id.startswith("sha256:") and any("alpine" in t for t in img.tags)
    img.tag("sdk-tag", "v1")
    assert "localhost/sdk-tag:v1" in client.images.get("sdk-tag:v1").tags
    client.images.remove("sdk-tag:v1")
    assert any(i.id == img.id for i in client.images.list())
    info = client.info()
    assert info["Images"] >= 1 and client.ping() is True
    assert client.version()["ApiVersion"] == "1.41"


def test_testcontainers_wait_for_log_and_mapped_port(sdk: tuple[docker.DockerClient, dict[str, str]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """testcontainers' DockerContainer: a wait-for-log strategy and a random mapped port. Ryuk (its
    reaper, an image from Docker Hub) is off: the container is removed by the context manager."""
    _, env = sdk
    monkeypatch.setenv("DOCKER_HOST", env["DOCKER_HOST"])
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    # this test machine has /.dockerenv: testcontainers would reach the container through its
    # network gateway; the published port on the docker host is what a CI job on a host uses
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    from testcontainers.core import container as tc  # reads its configuration at import
    from testcontainers.core import waiting_utils as waiting
    container = tc.DockerContainer("busybox").with_command(
        ["sh", "-c", "echo server-starting; " + HTTPD_CGI.replace("exec httpd", "echo ready-to-serve; exec httpd")]
    ).with_exposed_ports(80)
    with container as c:
        waiting.wait_for_logs(c, "ready-to-serve", timeout=60)
        host, port = c.get_container_host_ip(), c.get_exposed_port(80)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/", timeout=5) as r:
                    assert r.read() == b"hello-from-httpd\n"
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        cid = c.get_wrapped_container().id
    client, _ = sdk
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(cid)


def _read_until(sock: object, want: bytes, timeout: float = 60) -> bytes:
    """Read a raw (tty) attach/exec socket until ``want`` shows (or the deadline passes)."""
    raw = sock._sock  # type: ignore[attr-defined]
    raw.settimeout(1)
    buf, deadline = b"", time.monotonic() + timeout
    while want not in buf and time.monotonic() < deadline:
        try:
            data = raw.recv(4096)
        except TimeoutError:
            continue
        if not data:
            break
        buf += data
    return buf


def test_exec_and_container_resize(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    """``/exec/{id}/resize`` and ``/containers/{id}/resize`` reach the pty: ``stty size`` inside says so."""
    client, _ = sdk
    api = client.api
    c = client.containers.run("alpine", ["sh"], detach=True, tty=True, stdin_open=True)
    try:
        eid = api.exec_create(c.id, "sh", stdin=True, tty=True)["Id"]
        sock = api.exec_start(eid, socket=True, tty=True)
        sock._sock.sendall(b"echo ready-$((1+1))\n")
        assert b"ready-2" in _read_until(sock, b"ready-2")
        api.exec_resize(eid, height=33, width=101)
        sock._sock.sendall(b"stty size\n")
        assert b"33 101" in _read_until(sock, b"33 101")
        sock._sock.sendall(b"exit\n")
        sock.close()
        att = api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
        api.resize(c.id, height=41, width=99)
        att._sock.sendall(b"stty size\n")
        assert b"41 99" in _read_until(att, b"41 99")
        att.close()
    finally:
        c.remove(force=True)


def test_attach_half_closed_before_a_late_start(sdk: tuple[docker.DockerClient, dict[str, str]]) -> None:
    """The docker CLI attaching without stdin shuts down its sending side at once; the service must
    not take that for a client gone while it waits (1 s per check) for the start."""
    import socket

    client, _ = sdk
    api = client.api
    c = client.containers.create("alpine", ["echo", "late-start-output"])
    try:
        att = api.attach_socket(c.id, params={"stdout": 1, "stderr": 1, "stream": 1})
        att._sock.shutdown(socket.SHUT_WR)
        time.sleep(2.5)  # the start comes late (a loaded machine): the service's wait loop has checked
        c.start()
        assert b"late-start-output" in _read_until(att, b"late-start-output")
        att.close()
        assert c.wait(timeout=60)["StatusCode"] == 0
    finally:
        c.remove(force=True)
