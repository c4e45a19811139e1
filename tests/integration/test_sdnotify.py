"""--sdnotify with a NOTIFY_SOCKET the test listens on (as systemd would for Type=notify):
conmon (MAINPID = the monitor, READY=1), container (the container's own messages through the
monitor's proxy socket), healthy (READY=1 after the first passing check), ignore; --pidfile and
--conmon-pidfile; a unit's command lines run in sequence leave no process behind."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import alive, pids_mentioning, wait_until
from tests.support.rpodcli import RpodEnv, inspect_format, ok, run_rpod

# the host's python, run in the (musl) alpine container through the host's loader, to speak sd_notify
HOST_PY = ["/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "--library-path", "/host/usr/lib/x86_64-linux-gnu",
           "/host/usr/bin/python3", "-S", "-c"]
SEND = ("import os,socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
        "s.sendto(b'MAINPID=1\\nREADY=1\\nSTATUS=serving\\n', os.environ['NOTIFY_SOCKET']); "
        "print('sent', os.environ['NOTIFY_SOCKET'], flush=True)")


class NotifyListener:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if len(os.fsencode(path)) < 108:
            self.sock.bind(str(path))
        else:  # systemd's own paths are short; the monitor must cope with long ones anyway
            dfd = os.open(path.parent, os.O_PATH)
            try:
                self.sock.bind(f"/proc/self/fd/{dfd}/{path.name}")
            finally:
                os.close(dfd)

    def messages(self, timeout: float) -> list[str]:
        """Every datagram until ``timeout`` seconds pass without one."""
        out = []
        self.sock.settimeout(timeout)
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return out

    def first(self, timeout: float) -> str | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except TimeoutError:
            return None

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[NotifyListener]:
    d = Path(tempfile.mkdtemp(prefix="rpod-nt-"))
    lst = NotifyListener(d / "notify")
    yield lst
    lst.close()
    (d / "notify").unlink(missing_ok=True)
    d.rmdir()


def _with_socket(env: RpodEnv, path: Path) -> RpodEnv:
    e = RpodEnv.__new__(RpodEnv)
    dict.update(e, env)
    e.__dict__.update(env.__dict__)
    e["NOTIFY_SOCKET"] = str(path)
    return e


def test_conmon_sends_mainpid_of_the_monitor_and_ready(env: RpodEnv, listener: NotifyListener,
                                                         tmp_path: Path) -> None:
    monfile, pidfile = tmp_path / "conmon.pid", tmp_path / "ctr.pid"
    t0 = time.monotonic()
    ok(run_rpod(_with_socket(env, listener.path), "run", "-d", "--name", "svc", "--sdnotify=conmon", "--env-host",
                "--conmon-pidfile", str(monfile), "--pidfile", str(pidfile), "alpine",
                "sh", "-c", "printenv NOTIFY_SOCKET || echo no-socket; exec sleep 1000"))
    assert time.monotonic() - t0 < 60  # run -d returns as usual (it does not wait for READY)
    msg = listener.first(10)
    mon = int(monfile.read_text())
    assert msg == f"MAINPID={mon}\nREADY=1\n"
    assert inspect_format(env, "svc", "{{.State.ConmonPid}} {{.State.Pid}} {{.Config.SdNotifyMode}}") \
        == f"{mon} {int(pidfile.read_text())} conmon"
    # the container never sees the CLI's NOTIFY_SOCKET, not even with --env-host
    assert wait_until(lambda: "no-socket" in run_rpod(env, "logs", "svc").stdout, 60)
    assert listener.messages(0.5) == []
    ctr = int(pidfile.read_text())
    ok(run_rpod(env, "stop", "-t", "1", "svc"))
    cid = inspect_format(env, "svc", "{{.Id}}")
    assert wait_until(lambda: not alive(mon) and not alive(ctr) and not pids_mentioning(cid), 60)


def test_conmon_with_a_long_socket_path(env: RpodEnv, tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    lst = NotifyListener(deep / "notify")
    try:
        ok(run_rpod(_with_socket(env, lst.path), "run", "-d", "--name", "deep", "--conmon-pidfile",
                    str(tmp_path / "m.pid"), "alpine", "sleep", "1000"))
        assert lst.first(10) == f"MAINPID={int((tmp_path / 'm.pid').read_text())}\nREADY=1\n"
    finally:
        lst.close()
        ok(run_rpod(env, "rm", "-f", "-t", "0", "deep"))


def test_ignore_sends_nothing(env: RpodEnv, listener: NotifyListener) -> None:
    ok(run_rpod(_with_socket(env, listener.path), "run", "-d", "--name", "quiet", "--sdnotify=ignore", "alpine",
                "sleep", "1000"))
    try:
        assert listener.messages(1.0) == []
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "quiet"))


def test_container_messages_pass_through_the_proxy(env: RpodEnv, listener: NotifyListener,
                                                     tmp_path: Path) -> None:
    monfile = tmp_path / "conmon.pid"
    ok(run_rpod(_with_socket(env, listener.path), "run", "-d", "--name", "own", "--sdnotify=container",
                "--conmon-pidfile", str(monfile), "-v", "/usr:/host/usr:ro", "alpine", "sh", "-c",
                f"sleep 0.5; {' '.join(repr(a) for a in HOST_PY)} \"$0\"; exec sleep 1000", SEND))
    try:
        msgs = listener.messages(5)
        mon = int(monfile.read_text())
        logs = run_rpod(env, "logs", "own").stdout + run_rpod(env, "logs", "own").stderr
        assert msgs, f"no message; container said: {logs}"
        # the monitor's MAINPID first, then the container's READY=1 with its MAINPID rewritten
        assert msgs[0] == f"MAINPID={mon}\n"
        assert f"MAINPID={mon}\nREADY=1\nSTATUS=serving\n" in msgs[1:], msgs
        assert "sent /run/notify/notify.sock" in logs
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "own"))


def test_healthy_waits_for_the_first_passing_check(env: RpodEnv, listener: NotifyListener,
                                                     tmp_path: Path) -> None:
    monfile = tmp_path / "conmon.pid"
    t0 = time.monotonic()
    ok(run_rpod(_with_socket(env, listener.path), "run", "-d", "--name", "hl", "--sdnotify=healthy",
                "--conmon-pidfile", str(monfile), "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
                "alpine", "sh", "-c", "sleep 2; touch /tmp/ok; exec sleep 1000"))
    try:
        mon = int(monfile.read_text())
        assert listener.first(10) == f"MAINPID={mon}\n"
        ready = listener.first(15)
        assert ready == "READY=1\n"
        assert time.monotonic() - t0 >= 2
        assert inspect_format(env, "hl", "{{.State.Health.Status}}") == "healthy"
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "hl"))


def test_unit_command_lines_in_sequence(env: RpodEnv, listener: NotifyListener, tmp_path: Path) -> None:
    """What a ``Type=notify`` unit made by ``generate systemd --new`` runs: ExecStartPre, ExecStart
    (run -d --replace --cidfile --sdnotify=conmon), ExecStop, ExecStopPost; nothing is left over."""
    cidfile = tmp_path / "ctr.id"
    senv = _with_socket(env, listener.path)
    ok(run_rpod(senv, "rm", "-f", "--ignore", "--cidfile", str(cidfile)))  # ExecStartPre (nothing yet)
    ok(run_rpod(senv, "run", "--cidfile", str(cidfile), "--cgroups=no-conmon", "--rm", "--sdnotify=conmon",
                "-d", "--replace", "--name", "web", "alpine", "sleep", "1000"))
    msg = listener.first(10)
    cid = cidfile.read_text().strip()
    mon = int(inspect_format(env, "web", "{{.State.ConmonPid}}"))
    ctr = int(inspect_format(env, "web", "{{.State.Pid}}"))
    assert msg == f"MAINPID={mon}\nREADY=1\n"
    ok(run_rpod(senv, "stop", "--ignore", "-t", "10", "--cidfile", str(cidfile)))  # ExecStop
    ok(run_rpod(senv, "rm", "-f", "--ignore", "-t", "10", "--cidfile", str(cidfile)))  # ExecStopPost
    assert wait_until(lambda: not alive(mon) and not alive(ctr) and not pids_mentioning(cid), 60), \
        pids_mentioning(cid)
    assert run_rpod(env, "container", "exists", "web").returncode == 1


def test_conmon_mode_with_crun(env: RpodEnv, listener: NotifyListener, tmp_path: Path) -> None:
    """crun acts on a NOTIFY_SOCKET in its own environment: the monitor must not hand it ours."""
    monfile = tmp_path / "conmon.pid"
    ok(run_rpod(_with_socket(env, listener.path), "run", "-d", "--name", "cr", "--runtime", "crun",
                "--conmon-pidfile", str(monfile), "alpine", "sh", "-c",
                "printenv NOTIFY_SOCKET || echo no-socket; ls /run/notify 2>&1; exec sleep 1000"))
    try:
        assert listener.first(10) == f"MAINPID={int(monfile.read_text())}\nREADY=1\n"
        assert wait_until(lambda: "no-socket" in run_rpod(env, "logs", "cr").stdout, 60)
        assert "No such file" in run_rpod(env, "logs", "cr").stdout + run_rpod(env, "logs", "cr").stderr
        assert listener.messages(0.5) == []
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "cr"))
