"""The docker CLI (a client nobody here wrote) against ``rpod system service``: run, run -d -p,
logs -f, ps --format, exec, inspect, pull, images, rm, errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_network import HTTPD_CGI, free_port, http_get
from tests.support.apiservice import api_service, docker, docker_env, ok
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv, run_rpod
from tests.support.rpodcli import ok as rok


@pytest.fixture(scope="module")
def denv(module_env: RpodEnv) -> Iterator[dict[str, str]]:
    """The module's store served on a socket; the docker CLI's environment."""
    rok(run_rpod(module_env, "pull", "-q", "busybox"))
    with api_service(module_env) as sock:
        yield docker_env(module_env, sock)


def test_version_and_info(denv: dict[str, str]) -> None:
    r = ok(docker(denv, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}"))
    assert r.stdout.split() == ["1.41", "linux"]
    info = json.loads(ok(docker(denv, "info", "--format", "{{json .}}")).stdout)
    assert info["Images"] >= 2 and info["OSType"] == "linux"


def test_run_rm_echo(denv: dict[str, str]) -> None:
    r = ok(docker(denv, "run", "--rm", "alpine", "echo", "hi"))
    assert r.stdout == "hi\n", (r.stderr, r.api_log)  # type: ignore[attr-defined]
    assert ok(docker(denv, "ps", "-aq")).stdout == ""


def test_run_exit_code_and_stderr(denv: dict[str, str]) -> None:
    r = docker(denv, "run", "--rm", "alpine", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")


def test_run_stdin(denv: dict[str, str]) -> None:
    r = ok(docker(denv, "run", "--rm", "-i", "alpine", "sh", "-c", "tr a-z A-Z",
                  input="hello through the socket\n"))
    assert r.stdout == "HELLO THROUGH THE SOCKET\n"


def test_detached_port_logs_ps_exec(denv: dict[str, str]) -> None:
    port = free_port()
    cid = ok(docker(denv, "run", "-d", "--name", "web", "-p", f"{port}:80", "busybox", "sh", "-c",
                    HTTPD_CGI)).stdout.strip()
    try:
        assert len(cid) == 64
        assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
        r = ok(docker(denv, "ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Ports}}"))
        assert r.stdout == f"{cid[:12]} web busybox 0.0.0.0:{port}->80/tcp\n"
        r = docker(denv, "exec", "web", "sh", "-c", "echo in-ctr; echo e >&2; exit 4")
        assert (r.returncode, r.stdout, r.stderr) == (4, "in-ctr\n", "e\n")
        doc = json.loads(ok(docker(denv, "inspect", "web")).stdout)[0]
        assert doc["State"]["Running"] is True
        assert doc["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"] == str(port)
        assert doc["Name"] == "/web"
    finally:
        docker(denv, "rm", "-f", "web")
    assert ok(docker(denv, "ps", "-aq")).stdout == ""


def test_logs_follow(denv: dict[str, str], tmp_path: Path) -> None:
    ok(docker(denv, "run", "-d", "--name", "ticker", "alpine", "sh", "-c",
              "for i in 1 2 3; do echo line$i; echo err$i >&2; sleep 0.3; done"))
    try:
        out = tmp_path / "out"
        with open(out, "w") as f:
            proc = subprocess.Popen(["docker", "logs", "-f", "ticker"], env=denv, stdout=f,
                                    stderr=subprocess.PIPE, text=True)
            assert proc.wait(timeout=60) == 0
            err = proc.stderr.read() if proc.stderr else ""
        assert out.read_text() == "line1\nline2\nline3\n"
        assert err == "err1\nerr2\nerr3\n"
        r = ok(docker(denv, "logs", "--tail", "2", "ticker"))  # the last two records of both streams
        assert (r.stdout, r.stderr) == ("line3\n", "err3\n")
    finally:
        docker(denv, "rm", "-f", "ticker")


def test_errors_as_docker_prints_them(denv: dict[str, str]) -> None:
    r = docker(denv, "inspect", "--type", "container", "nonesuch")
    assert r.returncode == 1 and "No such container: nonesuch" in r.stderr or "no container" in r.stderr.lower()
    r = docker(denv, "rm", "nonesuch")
    assert r.returncode == 1 and "nonesuch" in r.stderr


def test_pull_through_api(denv: dict[str, str], registry: Registry) -> None:
    r = ok(docker(denv, "pull", f"{registry.address}/layered"))
    assert "layered" in r.stdout
    r = ok(docker(denv, "images", "--format", "{{.Repository}}:{{.Tag}}"))
    assert f"{registry.address}/layered:latest" in r.stdout.split()
    ok(docker(denv, "rmi", f"{registry.address}/layered"))
    r = docker(denv, "pull", f"{registry.address}/nonesuch")
    assert r.returncode != 0 and "nonesuch" in r.stderr


def test_exec_it_and_run_it_in_a_terminal(denv: dict[str, str], tmp_path: Path) -> None:
    """``docker exec -it`` and ``docker run -it``: the hijacked raw stream both ways, in a real terminal."""
    from tests.support.tmux import terminal

    ok(docker(denv, "run", "-d", "--name", "term", "alpine", "sleep", "1000"))
    (tmp_path / "e").mkdir()
    (tmp_path / "r").mkdir()
    try:
        with terminal(tmp_path / "e", denv, "docker exec -it term sh; echo EXIT=$?; sleep 30") as term:
            term.wait_prompt()
            term.send("tty && echo in-exec-$((6*7))", "Enter")
            term.wait_for("in-exec-42", what="the exec's output")
            assert "/dev/pts/" in term.screen()
            term.send("exit 3", "Enter")
            term.wait_for("EXIT=3", what="docker exec's exit code")
        with terminal(tmp_path / "r", denv, "docker run --rm -it alpine sh; echo EXIT=$?; sleep 30") as term:
            term.wait_prompt()
            term.send("echo in-run-$((7*6))", "Enter")
            term.wait_for("in-run-42", what="the container's output")
            term.send("exit 4", "Enter")
            term.wait_for("EXIT=4", what="docker run's exit code")
    finally:
        docker(denv, "rm", "-f", "term")


def test_build_push_save_load(denv: dict[str, str], registry: Registry, tmp_path: Path) -> None:
    """``docker build`` (the legacy builder: a tar context, JSON stream lines), ``docker push`` to the
    test registry, ``docker save`` and ``docker load``."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM alpine\nARG WHO=nobody\nENV BUILT_FOR=$WHO\nCOPY greeting /greeting\n"
                                    "CMD [\"sh\", \"-c\", \"cat /greeting; echo built for $BUILT_FOR\"]\n")
    (ctx / "greeting").write_text("hello from the context\n")
    benv = dict(denv, DOCKER_BUILDKIT="0")
    r = ok(docker(benv, "build", "-t", "apibuilt:1", "--build-arg", "WHO=api", str(ctx), timeout=300))
    assert "Successfully tagged apibuilt:1" in r.stdout
    r = ok(docker(denv, "run", "--rm", "apibuilt:1"))
    assert r.stdout == "hello from the context\nbuilt for api\n"
    target = f"{registry.address}/apibuilt:pushed"
    ok(docker(denv, "tag", "apibuilt:1", target))
    r = ok(docker(denv, "push", target, timeout=300))
    assert "pushed: digest: sha256:" in r.stdout
    ok(docker(denv, "rmi", target))
    ok(docker(denv, "pull", target, timeout=300))
    archive = tmp_path / "img.tar"
    ok(docker(denv, "save", "-o", str(archive), "apibuilt:1"))
    assert archive.stat().st_size > 1000
    ok(docker(denv, "rmi", "apibuilt:1"))
    r = ok(docker(denv, "load", "-i", str(archive)))
    assert "Loaded image" in r.stdout
    assert ok(docker(denv, "run", "--rm", "apibuilt:1")).stdout.startswith("hello from the context")
    docker(denv, "rmi", "-f", "apibuilt:1", target)


def test_import_export_search(denv: dict[str, str], registry: Registry, tmp_path: Path) -> None:
    """``docker export`` of a container's files, ``docker import`` of them (fromSrc=-) with a change,
    and ``docker search`` against the test registry."""
    ok(docker(denv, "run", "--name", "to-export", "alpine", "sh", "-c", "echo exported > /marker"))
    archive = tmp_path / "fs.tar"
    try:
        ok(docker(denv, "export", "-o", str(archive), "to-export"))
    finally:
        docker(denv, "rm", "-f", "to-export")
    r = ok(docker(denv, "import", "-c", "CMD [\"cat\", \"/marker\"]", str(archive), "imported:1"))
    assert r.stdout.startswith("sha256:")
    assert ok(docker(denv, "run", "--rm", "imported:1")).stdout == "exported\n"
    docker(denv, "rmi", "-f", "imported:1")
    r = ok(docker(denv, "search", "--format", "{{.Name}}", f"{registry.address}/alpine"))
    assert f"{registry.address}/alpine" in r.stdout.split()
