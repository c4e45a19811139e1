"""docker-compose 1.29 (Debian's, which speaks the Docker API) through ``rpod system service``:
a two-service app (a web server and a client that finds it by its service name on the project's
network), a published port, logs, ps, down."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.test_network import free_port, http_get
from tests.support.apiservice import api_service, docker, docker_env, ok
from tests.support.registry import require_tool
from tests.support.rpodcli import RpodEnv, run_rpod
from tests.support.rpodcli import ok as rok

COMPOSE = """\
version: "3"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["{port}:80"]
  client:
    image: alpine
    command: ["sh", "-c", "for i in $$(seq 1 100); do wget -qO- http://web/ && exit 0; sleep 0.2; done; exit 1"]
    depends_on: [web]
"""


def compose(env: dict[str, str], project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker-compose", "-p", "apitest", *args], env=env, cwd=project, text=True,
                          capture_output=True, timeout=300)


def test_two_service_app(env: RpodEnv, tmp_path: Path) -> None:
    require_tool("docker-compose", "docker-compose")
    rok(run_rpod(env, "pull", "-q", "busybox"))
    port = free_port()
    project = tmp_path / "app"
    project.mkdir()
    (project / "docker-compose.yml").write_text(COMPOSE.format(port=port))
    with api_service(env) as sock:
        denv = dict(docker_env(env, sock), COMPOSE_HTTP_TIMEOUT="300")
        try:
            r = compose(denv, project, "up", "-d")
            assert r.returncode == 0, r.stderr + r.stdout
            code = ok(docker(denv, "wait", "apitest_client_1")).stdout.strip()
            logs = compose(denv, project, "logs", "--no-color", "client")
            assert code == "0", logs.stdout + logs.stderr
            assert "hello-from-web" in logs.stdout
            assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-web\n"
            ps = compose(denv, project, "ps")
            assert ps.returncode == 0 and "apitest_web_1" in ps.stdout and "Up" in ps.stdout, ps.stdout + ps.stderr
            nets = ok(docker(denv, "network", "ls", "--format", "{{.Name}}")).stdout.split()
            assert "apitest_default" in nets
        finally:
            r = compose(denv, project, "down", "-t", "1")
        assert r.returncode == 0, r.stderr
        assert ok(docker(denv, "ps", "-aq")).stdout == ""
        assert "apitest_default" not in ok(docker(denv, "network", "ls", "--format", "{{.Name}}")).stdout
