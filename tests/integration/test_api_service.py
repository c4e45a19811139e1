"""``rpod system service`` itself: default sockets (mode 0600), idle exit, TCP with Podman's
warning, open streams counted as activity, clients that stall or flood, and socket activation
from the shipped systemd units (checked by ``systemd-analyze verify --user``, then run the way
systemd runs them: the listening socket as fd 3 with LISTEN_FDS/LISTEN_PID)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.apiservice import docker, docker_env, ok, wait_for_socket
from tests.support.registry import free_port, require_tool
from tests.support.rpodcli import RpodEnv
from tests.support.systemd_units import expand, unit_commands

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "user"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(path: Path, url: str) -> tuple[int, bytes]:
    c = UnixHTTP(path)
    try:
        c.request("GET", url)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def service(env: RpodEnv, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rpod", "system", "service", *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=env["HOME"], **kw)  # type: ignore[call-overload]


def wait_exit(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the service did not exit when idle") from None


def test_default_sockets_private_and_removed_after_idle_exit(rpod_env: RpodEnv) -> None:
    rt = Path(rpod_env["XDG_RUNTIME_DIR"])
    socks = [rt / "podman" / "podman.sock", rt / "rpod" / "rpod.sock"]
    start = time.monotonic()
    proc = service(rpod_env, "--time", "2")
    for s in socks:
        wait_for_socket(s, proc)  # type: ignore[arg-type]
        assert stat.S_IMODE(s.stat().st_mode) == 0o600
        status, body = get(s, "/_ping")
        assert (status, body) == (200, b"OK")
    status, body = get(socks[0], "/v1.41/version")
    assert status == 200 and json.loads(body)["ApiVersion"] == "1.41"
    status, body = get(socks[1], "/v4.3.1/libpod/_ping")
    assert (status, body) == (200, b"OK")
    assert wait_exit(proc) == 0
    assert time.monotonic() - start >= 2
    assert not any(s.exists() for s in socks)


def test_errors_are_json_with_status(rpod_env: RpodEnv) -> None:
    sock = Path(rpod_env["XDG_RUNTIME_DIR"]) / "e.sock"
    proc = service(rpod_env, "--time", "0", f"unix://{sock}")
    try:
        wait_for_socket(sock, proc)  # type: ignore[arg-type]
        status, body = get(sock, "/v1.41/containers/nonesuch/json")
        assert status == 404 and "nonesuch" in json.loads(body)["message"]
        status, body = get(sock, "/v1.41/nonesuch")
        assert status == 404 and "message" in json.loads(body)
        c = UnixHTTP(sock)
        c.request("POST", "/v1.41/containers/create", body=b"{not json", headers={"Content-Type": "application/json"})
        r = c.getresponse()
        assert r.status == 400 and "message" in json.loads(r.read())
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_tcp_only_when_asked_with_podmans_warning(rpod_env: RpodEnv) -> None:
    port = free_port()
    proc = service(rpod_env, "--time", "1", f"tcp://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/_ping")
            assert c.getresponse().read() == b"OK"
            c.close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    assert wait_exit(proc) == 0
    assert proc.stderr is not None
    assert "Using the Podman API service with TCP sockets is not recommended" in proc.stderr.read()


def test_open_stream_is_activity_and_stalled_clients_do_not_wedge(rpod_env: RpodEnv) -> None:
    """An events stream keeps the service up past --time; a client that sends half a request,
    or a header without end, holds only its own connection."""
    sock = Path(rpod_env["XDG_RUNTIME_DIR"]) / "s.sock"
    proc = service(rpod_env, "--time", "1", f"unix://{sock}")
    wait_for_socket(sock, proc)  # type: ignore[arg-type]
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(str(sock))
    stalled.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n")  # never finished
    flood = socket.socket(socket.AF_UNIX)
    flood.connect(str(sock))
    flood.settimeout(30)
    try:
        flood.sendall(b"GET /_ping HTTP/1.1\r\nX-Big: " + b"a" * 200_000)
        answer = flood.recv(100)
    except (BrokenPipeError, ConnectionResetError):
        answer = b"reset"
    assert answer.startswith(b"HTTP/1.1 431") or answer in (b"", b"reset"), answer  # refused, never buffered
    events = UnixHTTP(sock)
    events.request("GET", "/v1.41/events")
    resp = events.getresponse()
    assert resp.status == 200
    assert get(sock, "/_ping") == (200, b"OK")  # others are served meanwhile
    time.sleep(2.5)  # longer than --time: the open stream must keep the service alive
    assert proc.poll() is None
    events.close()
    stalled.close()
    flood.close()
    assert wait_exit(proc) == 0


# ------------------------------------------------------------------------------------ systemd units
def _socket_keys(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and not line.startswith("#"):
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def _installed_units(tmp_path: Path) -> Path:
    """The shipped units with ExecStart's rpod pointing at this checkout's rpod."""
    rpod = shutil.which("rpod")
    assert rpod, "the rpod entry point is not on PATH (pip install -e .)"
    d = tmp_path / "units"
    d.mkdir()
    for name in ("rpod.socket", "rpod.service"):
        (d / name).write_text((UNITS / name).read_text().replace("/usr/local/bin/rpod", rpod))
    return d


def test_units_pass_systemd_analyze_verify(rpod_env: RpodEnv, tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", "systemd")
    d = _installed_units(tmp_path)
    venv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": rpod_env["HOME"],
            "XDG_RUNTIME_DIR": rpod_env["XDG_RUNTIME_DIR"], "LANG": "C.UTF-8"}
    r = subprocess.run([analyze, "verify", "--user", str(d / "rpod.socket"), str(d / "rpod.service")], env=venv,
                       text=True, capture_output=True, timeout=60)
    complaints = [ln for ln in r.stderr.splitlines() if "rpod." in ln]
    assert r.returncode == 0 and not complaints, f"exit {r.returncode}\n{r.stderr}"


def _activate(rpod_env: RpodEnv, unit_dir: Path, listeners: list[socket.socket]) -> subprocess.Popen[bytes]:
    """Start the service as systemd does: ExecStart with the listening sockets as fds 3.. and
    LISTEN_FDS/LISTEN_PID (the pid of the exec'd process: set by a shell that then execs)."""
    text = (unit_dir / "rpod.service").read_text()
    cmds = unit_commands(text)
    spec = {"t": rpod_env["XDG_RUNTIME_DIR"], "n": "rpod.service", "N": "rpod", "%": "%"}
    unit_env = dict(rpod_env)
    for words in cmds.get("Environment", []):
        for w in words:
            k, _, v = w.partition("=")
            unit_env[k] = v
    argv: list[str] = []
    for w in expand(cmds["ExecStart"][0], spec):
        argv += unit_env[w[1:]].split() if re.fullmatch(r"\$\w+", w) else [w]
    import fcntl

    fds = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 20) for s in listeners]  # above 3..: no clash
    # what systemd does between fork and exec: the sockets to 3.., LISTEN_PID = the exec'd pid
    code = ("import os, sys; fds = [int(x) for x in sys.argv[1].split(',')]\n"
            "for i, fd in enumerate(fds): os.dup2(fd, 3 + i)\n"
            "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(fds)))\n"
            "os.execvp(sys.argv[2], sys.argv[2:])")
    proc = subprocess.Popen([sys.executable, "-c", code, ",".join(map(str, fds)), *argv], env=unit_env,
                            pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd="/")
    for fd in fds:
        os.close(fd)
    return proc


def test_socket_activation_end_to_end(rpod_env: RpodEnv, tmp_path: Path) -> None:
    """systemd's part played here: bind the unit's ListenStream sockets, start ExecStart on the
    first connection; the docker CLI runs a container; the service exits when idle, the next
    client starts it again, and nothing of the service is left running."""
    require_tool("docker", "docker.io")
    d = _installed_units(tmp_path)
    keys = _socket_keys((d / "rpod.socket").read_text())
    spec = {"t": rpod_env["XDG_RUNTIME_DIR"], "%": "%"}
    paths = [Path(expand([p], spec)[0]) for p in keys["ListenStream"]]
    assert int(keys["SocketMode"][0], 8) == 0o600
    listeners = []
    for p in paths:
        p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(p))
        os.chmod(p, 0o600)
        s.listen(16)
        listeners.append(s)
    denv = docker_env(rpod_env, paths[0])
    try:
        for round_ in range(2):
            proc = _activate(rpod_env, d, listeners)
            try:
                r = ok(docker(denv, "run", "--rm", "alpine", "echo", f"activated-{round_}", timeout=60))
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(proc.stderr.read() if proc.stderr else "") from None
            assert r.stdout == f"activated-{round_}\n"
            assert ok(docker(denv, "-H", f"unix://{paths[1]}", "ps", "-aq")).stdout == ""
            assert wait_exit(proc, 60) == 0, proc.stderr.read() if proc.stderr else ""
            assert all(p.exists() for p in paths)  # systemd's sockets stay for the next activation
        deadline = time.monotonic() + 30  # the --rm containers' monitors finish their cleanup
        while True:
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            leftovers = [ln for ln in out.splitlines() if rpod_env["XDG_RUNTIME_DIR"] in ln]
            if not leftovers:
                break
            assert time.monotonic() < deadline, leftovers
            time.sleep(0.2)
    finally:
        for s in listeners:
            s.close()


@pytest.mark.parametrize("bad", ["ftp://x", "unix://", "tcp://127.0.0.1:notaport"])
def test_bad_uri(rpod_env: RpodEnv, bad: str) -> None:
    proc = service(rpod_env, "--time", "1", bad)
    assert wait_exit(proc) == 125
    assert proc.stderr is not None and "Error:" in proc.stderr.read()


def test_bad_scheme_in_podmans_words(rpod_env: RpodEnv) -> None:
    """Podman's test/system/251-system-service: an endpoint without a known scheme."""
    for uri, scheme in (("localhost:9292", "localhost"), ("myunix.sock", "")):
        proc = service(rpod_env, uri)
        assert wait_exit(proc) == 125
        assert proc.stderr is not None
        assert proc.stderr.read() == (f'Error: API Service endpoint scheme "{scheme}" is not supported. '
                                      f"Try tcp://{uri} or unix:/{uri}\n")  # sic: Podman's one slash


def test_cors_header_only_when_asked(rpod_env: RpodEnv) -> None:
    """Podman's test/system/271-tcp-cors-server: ``--cors='*'`` sets Access-Control-Allow-Origin."""
    for cors in ("*", None):
        port = free_port()
        proc = service(rpod_env, "--time", "1", *(["--cors", cors] if cors else []), f"tcp://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/_ping")
                r = c.getresponse()
                r.read()
                c.close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert r.getheader("Access-Control-Allow-Origin") == cors
        assert wait_exit(proc) == 0


def test_cors_in_the_debug_log(rpod_env: RpodEnv) -> None:
    """Podman's 271 'CORS enabled in logs': ``--log-level`` after the subcommand (Podman's global
    flags are persistent), the CORS value in Go's %q quoting inside logrus's quoted msg."""
    proc = service(rpod_env, "--log-level=debug", "--cors=*", "-t", "1")
    assert wait_exit(proc) == 0
    assert proc.stderr is not None
    assert 'CORS Headers were set to \\"*\\""' in proc.stderr.read()


def test_containers_survive_the_service(rpod_env: RpodEnv) -> None:
    """Podman's 251 'containers survive service stop': a container started through the API runs
    on when the service is stopped, and its exit is still recorded."""
    sock = Path(rpod_env["XDG_RUNTIME_DIR"]) / "v.sock"
    proc = service(rpod_env, "--time", "0", f"unix://{sock}")
    wait_for_socket(sock, proc)  # type: ignore[arg-type]
    denv = docker_env(rpod_env, sock)
    try:
        ok(docker(denv, "run", "-d", "--name", "keeps-running", "alpine", "sh", "-c", "sleep 3; exit 6"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    from tests.support.rpodcli import run_rpod

    assert run_rpod(rpod_env, "inspect", "--format", "{{.State.Running}}", "keeps-running").stdout == "true\n"
    r = run_rpod(rpod_env, "wait", "keeps-running")
    assert r.stdout == "6\n", r.stderr
    run_rpod(rpod_env, "rm", "-f", "keeps-running")
