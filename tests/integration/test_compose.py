"""A compose app through a real client nobody here wrote: podman-compose (PyPI, the test extras)
with ``--podman-path rpod`` and through ``rpod compose``: a project network where the client reaches
the server by its service name, a named volume, a published port, depends_on, env vars; then ps,
logs, exec, down leaving nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_network import benv, free_port, http_get
from tests.support.rpodcli import RpodEnv, ok, run_rpod

__all__ = ["benv"]

COMPOSE = """\
services:
  server:
    image: busybox
    command: ["sh", "-c", "mkdir -p /data/www && echo $$GREETING > /data/www/index.html && echo server-ready && exec httpd -f -p 8080 -h /data/www"]
    volumes:
      - data:/data
    ports:
      - "{port}:8080"
    environment:
      GREETING: hello-compose
  client:
    image: busybox
    command: ["sleep", "300"]
    depends_on:
      - server
    environment:
      TARGET: http://server:8080/
volumes:
  data:
"""


def tool(name: str) -> str:
    path = shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        pytest.fail(f"{name} is not installed: it is in the test extras (pip install -e '.[test]')")
    return path


def compose(env: RpodEnv, project: Path, *args: str, via_rpod: bool = False,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    if via_rpod:
        argv = [sys.executable, "-m", "rpod", "compose", *args]
    else:
        argv = [tool("podman-compose"), "--podman-path", tool("rpod"), *args]
    return subprocess.run(argv, env=env, cwd=project, text=True, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_compose_app_end_to_end(benv: RpodEnv, tmp_path: Path) -> None:
    env = benv
    port = free_port()
    project = tmp_path / "shop"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE.format(port=port))
    r = compose(env, project, "up", "-d")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert http_get(f"http://127.0.0.1:{port}/").strip() == "hello-compose"
        # the client reaches the server by its service name on the project network
        r = ok(run_rpod(env, "exec", "shop_client_1", "sh", "-c", "wget -qO- $TARGET"))
        assert r.stdout.strip() == "hello-compose"
        r = compose(env, project, "exec", "-T", "client", "sh", "-c", "echo $TARGET")
        assert r.returncode == 0 and r.stdout.strip() == "http://server:8080/", r.stdout + r.stderr
        r = compose(env, project, "ps")
        assert r.returncode == 0 and "shop_server_1" in r.stdout and "shop_client_1" in r.stdout, r.stderr
        r = compose(env, project, "logs", "server")
        assert r.returncode == 0 and "server-ready" in r.stdout, r.stdout + r.stderr
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Name}}")).stdout == "pod_shop\n"
        assert "shop_default" in ok(run_rpod(env, "network", "ls", "--format", "{{.Name}}")).stdout
        assert ok(run_rpod(env, "volume", "ls", "--format", "{{.Name}}")).stdout == "shop_data\n"
        # rpod compose runs the same provider pointed at rpod
        r = compose(env, project, "ps", via_rpod=True)
        assert r.returncode == 0 and "shop_client_1" in r.stdout, r.stdout + r.stderr
        assert "Executing external compose provider" in r.stderr
    finally:
        r = compose(env, project, "down", "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""
    assert ok(run_rpod(env, "volume", "ls", "-q")).stdout == ""
    assert "shop_default" not in ok(run_rpod(env, "network", "ls", "--format", "{{.Name}}")).stdout
