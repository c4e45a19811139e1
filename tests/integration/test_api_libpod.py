"""The Libpod API beyond containers and images, through clients nobody here wrote: podman-py's
pods, networks, volumes, stats and search, ``podman --remote`` for pods and Kubernetes YAML
(``kube play``/``kube down``/``generate kube``), and the Docker API's stats and search for the
``docker`` SDK and CLI."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from podman import PodmanClient
from podman.errors import NotFound

from tests.support.apiservice import api_service, docker_env
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv, ok, run_rpod, wait_for_log


@pytest.fixture(scope="module")
def service(module_env: RpodEnv) -> Iterator[Path]:
    with api_service(module_env) as sock:
        yield sock


@pytest.fixture(scope="module")
def client(service: Path) -> Iterator[PodmanClient]:
    with PodmanClient(base_url=f"unix://{service}", timeout=120) as c:
        yield c


def remote(env: RpodEnv, sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Podman 4.3.1's own client (``podman --url``) against rpod's service."""
    return subprocess.run(["podman", "--url", f"unix://{sock}", *args], env=env, capture_output=True, text=True,
                          timeout=180)


def wait_state(pod: Any, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pod.reload()
        if pod.attrs["State"] == state:
            return
        assert time.monotonic() < deadline, f"pod state {pod.attrs['State']}, never {state}"
        time.sleep(0.1)


def test_pods_lifecycle(client: PodmanClient, module_env: RpodEnv) -> None:
    pod = client.pods.create("pp-pod", labels={"app": "pp"})
    try:
        assert client.pods.exists("pp-pod") and pod.name == "pp-pod"
        client.containers.create("alpine", ["sleep", "1000"], pod=pod.id, name="pp-pod-ctr")
        pod.start()
        pod.reload()
        assert pod.attrs["State"] == "Running"
        assert {x["Name"] for x in pod.attrs["Containers"]} >= {"pp-pod-ctr"}
        listed = [p for p in client.pods.list() if p.id == pod.id]
        assert len(listed) == 1 and listed[0].attrs["Labels"] == {"app": "pp"}
        assert [p.id for p in client.pods.list(filters={"label": "app=pp"})] == [pod.id]
        deadline = time.monotonic() + 60  # started: its process may still be on its way to execve
        while True:
            top = pod.top()
            if any("sleep 1000" in row[-1] for row in top["Processes"]) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "PID" in top["Titles"] and any("sleep 1000" in row[-1] for row in top["Processes"]), top
        rows = client.pods.stats(name=pod.id, decode=True)
        assert any(r["Name"] == "pp-pod-ctr" and r["PIDS"] == "1" for r in rows), rows
        pod.stop(timeout=0)
        pod.reload()
        assert pod.attrs["State"] == "Exited"
        # a stopped pod is what prune removes; rpod's CLI sees what the API did
        assert pod.id in client.pods.prune()["PodsDeleted"]
        assert pod.id not in ok(run_rpod(module_env, "pod", "ps", "-q", "--no-trunc")).stdout
    finally:
        if client.pods.exists("pp-pod"):
            client.pods.remove("pp-pod", force=True)
    assert not client.pods.exists("pp-pod")
    with pytest.raises(NotFound):
        client.pods.get("pp-pod")


def test_pod_remove_running_needs_force(client: PodmanClient) -> None:
    pod = client.pods.create("pp-pod2")
    client.containers.create("alpine", ["sleep", "1000"], pod=pod.id)
    pod.start()
    with pytest.raises(Exception, match="running"):
        client.pods.remove(pod.id)
    pod.kill()
    wait_state(pod, "Exited")  # SIGKILL is sent; the exits are reported a moment later
    with pytest.raises(Exception, match="no running containers"):
        pod.kill()
    client.pods.remove(pod.id, force=True)
    assert not client.pods.exists(pod.id)


def test_networks_and_volumes(client: PodmanClient, module_env: RpodEnv) -> None:
    net = client.networks.create("pp-net", labels={"k": "v"})
    try:
        assert client.networks.exists("pp-net")
        assert net.attrs["driver"] == "bridge" and net.attrs["labels"] == {"k": "v"}
        assert "pp-net" in [n.name for n in client.networks.list()]
        assert client.networks.get("pp-net").id == net.id
        assert "pp-net" in ok(run_rpod(module_env, "network", "ls", "--format", "{{.Name}}")).stdout
    finally:
        client.networks.get("pp-net").remove()
    assert not client.networks.exists("pp-net")
    vol = client.volumes.create("pp-vol", labels={"k": "v"})
    try:
        assert client.volumes.exists("pp-vol") and vol.attrs["Labels"] == {"k": "v"}
        c = client.containers.run("alpine", ["sh", "-c", "echo kept > /data/f"], detach=True,
                                  volumes={"pp-vol": {"bind": "/data", "mode": "rw"}})
        assert c.wait() == 0
        c.remove()
        r = client.containers.run("alpine", ["cat", "/data/f"], detach=True,
                                  volumes={"pp-vol": {"bind": "/data", "mode": "ro"}})
        assert r.wait() == 0 and b"kept" in b"".join(r.logs())
        r.remove()
        assert "pp-vol" in [v.name for v in client.volumes.list()]
    finally:
        client.volumes.remove("pp-vol", force=True)
    assert not client.volumes.exists("pp-vol")


KUBE = """apiVersion: v1
kind: Pod
metadata:
  name: kubeapi
spec:
  containers:
  - name: web
    image: alpine
    command: ["sh", "-c", "echo kube-up; sleep 1000"]
"""


def test_kube_play_generate_down(module_env: RpodEnv, service: Path, tmp_path: Path) -> None:
    """``podman --remote kube play|generate|down`` against rpod (POST/DELETE /play/kube, GET /generate/kube)."""
    y = tmp_path / "pod.yaml"
    y.write_text(KUBE)
    r = remote(module_env, service, "kube", "play", str(y))
    assert r.returncode == 0, r.stderr
    assert "Pod:" in r.stdout and "Container:" in r.stdout
    assert ok(run_rpod(module_env, "pod", "inspect", "kubeapi", "--format", "{{.State}}")).stdout.strip() == "Running"
    r = remote(module_env, service, "generate", "kube", "kubeapi")
    assert r.returncode == 0, r.stderr
    assert "name: kubeapi" in r.stdout and "image: " in r.stdout and "kind: Pod" in r.stdout
    r = remote(module_env, service, "kube", "down", str(y))
    assert r.returncode == 0, r.stderr
    assert "Pods stopped:" in r.stdout and "Pods removed:" in r.stdout
    assert run_rpod(module_env, "pod", "exists", "kubeapi").returncode == 1


def test_podman_remote_pods(module_env: RpodEnv, service: Path) -> None:
    r = remote(module_env, service, "pod", "create", "--name", "rp-pod", "--label", "x=y")
    assert r.returncode == 0, r.stderr
    pid = r.stdout.strip()
    try:
        r = remote(module_env, service, "run", "-d", "--pod", "rp-pod", "alpine", "sleep", "1000")
        assert r.returncode == 0, r.stderr
        r = remote(module_env, service, "pod", "ps", "--format", "{{.Name}} {{.Status}} {{.NumberOfContainers}}")
        assert r.returncode == 0 and "rp-pod Running 2" in r.stdout, (r.stdout, r.stderr)
        r = remote(module_env, service, "pod", "inspect", "rp-pod", "--format", "{{.Id}}")
        assert r.returncode == 0 and r.stdout.strip() == pid, r.stderr
        r = remote(module_env, service, "pod", "stop", "-t", "0", "rp-pod")
        assert r.returncode == 0 and r.stdout.strip() == pid, r.stderr
    finally:
        r = remote(module_env, service, "pod", "rm", "-f", "rp-pod")
    assert r.returncode == 0, r.stderr
    r = remote(module_env, service, "pod", "exists", "rp-pod")
    assert r.returncode == 1


def test_stats(client: PodmanClient, service: Path, module_env: RpodEnv) -> None:
    """Stats rootless without cgroup controllers: what /proc says, through three clients."""
    c = client.containers.run("alpine", ["sh", "-c", "head -c 30000000 /dev/zero > /dev/null; echo ready; sleep 1000"],
                              detach=True, name="pp-stats")
    try:
        wait_for_log(module_env, "pp-stats", "ready")  # its workload runs (a process mid-exec has no memory yet)
        doc = json.loads(c.stats(stream=False))
        row = doc["Stats"][0]
        assert doc["Error"] is None and row["ContainerID"] == c.id and row["Name"] == "pp-stats"
        assert row["PIDs"] >= 1 and row["MemUsage"] > 0 and row["MemLimit"] > row["MemUsage"]
        streamed = c.stats(stream=True, decode=True)
        first = next(iter(streamed))
        assert first["Stats"][0]["ContainerID"] == c.id
        dk = docker.DockerClient(base_url=f"unix://{service}", version="1.41", timeout=120)
        try:
            s = dk.containers.get(c.id).stats(stream=False)
            assert s["id"] == c.id and s["name"] == "/pp-stats" and s["pids_stats"]["current"] >= 1
            assert s["memory_stats"]["usage"] > 0 and s["cpu_stats"]["system_cpu_usage"] > 0
            assert s["precpu_stats"]["system_cpu_usage"] > 0  # two readings: the CLI's CPU % has a delta
            gen = dk.containers.get(c.id).stats(stream=True, decode=True)
            a, b = next(gen), next(gen)
            assert b["cpu_stats"]["system_cpu_usage"] > a["cpu_stats"]["system_cpu_usage"]
            gen.close()
        finally:
            dk.close()
        r = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}",
                            "pp-stats"], env=docker_env(module_env, service), capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        name, pids, mem = r.stdout.split(" ", 2)
        assert name == "pp-stats" and int(pids) >= 1 and "/" in mem, r.stdout
    finally:
        c.remove(force=True)


def test_search(client: PodmanClient, service: Path, registry: Registry) -> None:
    found = client.images.search(f"{registry.address}/alpine")
    assert any(r["Name"] == f"{registry.address}/alpine" for r in found), found
    tags = client.images.search(f"{registry.address}/alpine", listTags=True)
    assert any(r["Tag"] == "latest" for r in tags), tags
    dk = docker.DockerClient(base_url=f"unix://{service}", version="1.41", timeout=120)
    try:
        assert any(r["name"] == f"{registry.address}/alpine" for r in dk.images.search(f"{registry.address}/alpine"))
    finally:
        dk.close()


def test_podman_remote_everyday(module_env: RpodEnv, service: Path, tmp_path: Path) -> None:
    """``podman --remote`` verbs whose Libpod documents differ from Docker's: ps (Created a time,
    Ports a list), top, stats, save/load, tag/untag/rmi, events, system df, prunes."""
    def pr(*args: str) -> str:
        r = remote(module_env, service, *args)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    pr("run", "-d", "--name", "rr1", "-p", "127.0.0.1::80", "alpine", "sleep", "1000")
    assert "rr1" in pr("ps", "--format", "{{.Names}} {{.Ports}}") and "->80/tcp" in pr("ps")
    assert "sleep 1000" in pr("top", "rr1")
    assert "rr1" in pr("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}")
    assert pr("exec", "rr1", "echo", "via-remote") == "via-remote\n"
    pr("stop", "-t", "0", "rr1")
    pr("rm", "rr1")
    assert "container remove" in pr("events", "--since", "5m", "--stream=false")
    archive = tmp_path / "a.tar"
    pr("save", "-o", str(archive), "alpine")
    pr("tag", "alpine", "remote-tag:x")
    assert "remote-tag" in pr("images", "--format", "{{.Repository}}")
    pr("untag", "remote-tag:x")
    assert "remote-tag" not in pr("images", "--format", "{{.Repository}}")
    assert "Loaded image" in pr("load", "-i", str(archive))
    r = remote(module_env, service, "rmi", "nonesuch-image")
    assert r.returncode == 1 and "image not known" in r.stderr
    assert "Images" in pr("system", "df")
    cid = pr("create", "--name", "rr2", "alpine", "true").strip()
    assert cid in pr("container", "prune", "-f")  # every container that is not running, as Podman
    assert "rr2" not in pr("ps", "-a", "--format", "{{.Names}}")
    pr("image", "prune", "-f")
    assert "alpine" in pr("images", "--format", "{{.Repository}}")  # dangling only: a tagged image stays


def test_podman_remote_healthcheck(module_env: RpodEnv, service: Path) -> None:
    """``podman --remote run --health-cmd`` (the SpecGenerator's healthconfig) and
    ``healthcheck run`` (GET /libpod/containers/{id}/healthcheck: this run's result)."""
    r = remote(module_env, service, "run", "-d", "--name", "hc", "--health-cmd", "test -e /tmp/ok", "alpine",
               "sleep", "1000")
    assert r.returncode == 0, r.stderr
    try:
        r = remote(module_env, service, "healthcheck", "run", "hc")
        assert (r.returncode, r.stdout) == (1, "unhealthy\n"), r.stderr
        assert remote(module_env, service, "exec", "hc", "touch", "/tmp/ok").returncode == 0
        r = remote(module_env, service, "healthcheck", "run", "hc")
        assert (r.returncode, r.stdout) == (0, ""), r.stderr
        r = remote(module_env, service, "inspect", "hc", "--format", "{{.State.Health.Status}}")
        assert r.stdout.strip() == "healthy", r.stderr
    finally:
        remote(module_env, service, "rm", "-f", "-t", "0", "hc")
    r = remote(module_env, service, "run", "-d", "--name", "nohc", "alpine", "sleep", "1000")
    try:
        r = remote(module_env, service, "healthcheck", "run", "nohc")
        assert r.returncode == 125 and "has no defined healthcheck" in r.stderr
    finally:
        remote(module_env, service, "rm", "-f", "-t", "0", "nohc")
