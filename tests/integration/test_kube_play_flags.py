"""``kube play`` as Podman 4.3.1's system tests (700-play.bats) use it: the ``play kube`` spelling,
``--annotation`` and the 63-character limit, a containerPort alone published on the same host port,
``--build``/``--context-dir``, ``--network host``, the default log driver, exit policy ``stop``."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_network import free_port
from tests.support.rpodcli import RpodEnv, ok, run_rpod

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: test_pod
  {annotations}
spec:
  containers:
  - name: test
    image: {image}
    command: ["sleep", "100"]
    {ports}
"""


def _yaml(tmp_path: Path, image: str = "alpine", annotations: str = "", ports: str = "") -> str:
    path = tmp_path / "pod.yaml"
    path.write_text(POD.format(image=image, annotations=annotations, ports=ports))
    return str(path)


def test_play_kube_annotations_and_ports(env: RpodEnv, tmp_path: Path) -> None:
    port = free_port()
    yml = _yaml(tmp_path, ports=f"ports:\n    - name: hostp\n      containerPort: {port}")
    try:
        r = ok(run_rpod(env, "play", "kube", "--annotation", "name=value15chars", yml, timeout=120))
        assert r.stdout.splitlines()[0] == "Pod:"
        ann = ok(run_rpod(env, "inspect", "--format", "{{.Config.Annotations}}", "test_pod-test")).stdout
        assert "name:value15chars" in ann
        r = ok(run_rpod(env, "pod", "inspect", "test_pod", "--format", "{{.InfraConfig.PortBindings}} {{.ExitPolicy}}"))
        assert r.stdout == f"map[{port}/tcp:[{{ {port}}}]] stop\n"
        driver = ok(run_rpod(env, "info", "--format", "{{.Host.LogDriver}}")).stdout.strip()
        assert driver == "k8s-file"
        assert ok(run_rpod(env, "inspect", "--format", "{{.HostConfig.LogConfig.Type}}", "test_pod-test")
                  ).stdout.strip() == driver
    finally:
        ok(run_rpod(env, "kube", "down", yml))
    r = run_rpod(env, "inspect", "test_pod-test")
    assert r.returncode == 125 and 'Error: inspecting object: no such object: "test_pod-test"' in r.stderr
    long = "x" * 64
    r = run_rpod(env, "play", "kube", "--annotation", f"name={long}", yml)
    assert r.returncode == 125 and f"annotation exceeds maximum size, 63, of kubernetes annotation: {long}" in r.stderr
    r = run_rpod(env, "kube", "play", "-", input=POD.format(image="alpine", ports="", annotations=(
        f"annotations:\n    test: {long}")))
    assert r.returncode == 125 and f'invalid annotation "test"="{long}"' in r.stderr
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""


def test_play_build_from_context_dir(env: RpodEnv, tmp_path: Path) -> None:
    (tmp_path / "userimage").mkdir()
    (tmp_path / "userimage" / "Containerfile").write_text("FROM alpine\nUSER bin\n")
    yml = _yaml(tmp_path, image="quay.io/libpod/userimage")
    try:
        ok(run_rpod(env, "play", "kube", "--replace", f"--context-dir={tmp_path}", "--build", "--start=false", yml,
                    timeout=300))
        assert ok(run_rpod(env, "inspect", "--format", "{{.Config.User}}", "test_pod-test")).stdout.strip() == "bin"
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Status}}")).stdout == "Created\n"
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "-a")
        run_rpod(env, "rmi", "-f", "quay.io/libpod/userimage")


def test_play_with_host_network(env: RpodEnv, tmp_path: Path) -> None:
    yml = _yaml(tmp_path)
    try:
        r = ok(run_rpod(env, "kube", "play", "--network", "host", yml, timeout=120))
        assert r.stdout.startswith("Pod:\n")
        assert ok(run_rpod(env, "pod", "inspect", "--format", "{{.InfraConfig.HostNetwork}}", "test_pod")
                  ).stdout == "true\n"
        assert ok(run_rpod(env, "inspect", "--format", "{{.State.Running}}", "test_pod-test")).stdout == "true\n"
    finally:
        ok(run_rpod(env, "kube", "down", yml))


def _wait_for(env: RpodEnv, args: list[str], want: str, deadline_s: float = 60) -> str:
    import time

    deadline = time.monotonic() + deadline_s
    out = ""
    while time.monotonic() < deadline:
        out = ok(run_rpod(env, *args)).stdout.strip()
        if out == want:
            break
        time.sleep(0.2)
    return out


def test_play_service_container(env: RpodEnv, tmp_path: Path) -> None:
    """``--service-container``: ``<12 hex of the YAML's sha256>-service`` runs with the pod, stops when
    its last member stops, restarts with the pod, cannot be removed alone, goes with the pod."""
    import hashlib

    path = tmp_path / "svc.yaml"
    path.write_text(POD.format(image="alpine", annotations="", ports="").replace('["sleep", "100"]', '["top"]'))
    service = hashlib.sha256(path.read_bytes()).hexdigest()[:12] + "-service"
    try:
        ok(run_rpod(env, "play", "kube", "--service-container=true", str(path), timeout=120))
        running = ["container", "inspect", service, "--format", "{{.State.Running}}"]
        assert ok(run_rpod(env, *running)).stdout == "true\n"
        assert ok(run_rpod(env, "container", "inspect", service, "--format", "{{.IsService}}")).stdout == "true\n"
        ok(run_rpod(env, "stop", "test_pod-test"))
        assert _wait_for(env, ["pod", "inspect", "test_pod", "--format", "{{.State}}"], "Exited") == "Exited"
        assert _wait_for(env, running, "false") == "false"
        ok(run_rpod(env, "pod", "restart", "test_pod"))
        assert ok(run_rpod(env, *running)).stdout == "true\n"
        r = run_rpod(env, "container", "rm", service)
        assert r.returncode == 125 and " is the service container of pod(s) " in r.stderr
        assert "and cannot be removed without removing the pod(s)" in r.stderr
        ok(run_rpod(env, "pod", "kill", "test_pod"))
        assert _wait_for(env, running, "false") == "false"
        ok(run_rpod(env, "pod", "rm", "test_pod"))
        assert run_rpod(env, "container", "exists", service).returncode == 1
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "-a")
        run_rpod(env, "rm", "-f", "-t", "0", "-a")
    r = run_rpod(env, "kube", "play", "--service-container", "--start=false", str(path))
    assert r.returncode == 125 and "running a service container requires starting the pod(s)" in r.stderr
