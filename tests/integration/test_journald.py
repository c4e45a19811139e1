"""--log-driver journald: the native journal protocol to a datagram socket (the test binds one
and points RPOD_JOURNAL_SOCKET at it; this machine has no journald), and the fallback to
k8s-file with a warning when no journal socket exists."""

from __future__ import annotations

import os
import socket
import struct
import tempfile
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod


@pytest.fixture
def env(rpod_env: RpodEnv, images: ImageSet) -> RpodEnv:
    ok(run_rpod(rpod_env, "pull", "-q", "alpine"))
    return rpod_env


def parse_entry(data: bytes) -> dict[str, bytes]:
    """Decode one native-protocol datagram (``K=V\\n`` or ``K\\n<le64><bytes>\\n`` fields)."""
    out: dict[str, bytes] = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            out[k.decode()] = v
            i = nl + 1
        else:
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            out[line.decode()] = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
    return out


def test_no_journal_falls_back_to_k8s_file(env: RpodEnv) -> None:
    assert not os.path.exists("/run/systemd/journal/socket"), "this test expects a machine without journald"
    env["RPOD_JOURNAL_SOCKET"] = "/nonexistent/journal.sock"
    r = ok(run_rpod(env, "run", "--name", "fb", "--log-driver", "journald", "alpine", "echo", "hello"))
    assert r.stdout == "hello\n"
    assert r.stderr == ""  # nothing in a pipe, as Podman (whose journal writes go nowhere here)
    assert ok(run_rpod(env, "logs", "fb")).stdout == "hello\n"
    r = ok(run_rpod(env, "--log-level", "info", "run", "--rm", "--log-driver", "journald", "alpine", "true"))
    assert "level=info" in r.stderr and "falling back to k8s-file" in r.stderr


def test_journal_native_protocol(env: RpodEnv) -> None:
    d = Path(tempfile.mkdtemp(prefix="rpod-jr-"))
    path = d / "socket"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        env["RPOD_JOURNAL_SOCKET"] = str(path)
        r = ok(run_rpod(env, "run", "--name", "jr", "--log-driver", "journald", "alpine", "sh", "-c",
                        "echo out; echo err >&2; printf partial"))
        assert "falling back" not in r.stderr
        assert r.stdout == "out\npartial" and r.stderr == "err\n"  # the terminal still gets the output
        cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "jr")).stdout.strip()
        sock.settimeout(2)
        entries = []
        while True:
            try:
                entries.append(parse_entry(sock.recv(65536)))
            except TimeoutError:
                break
        by_msg = {e["MESSAGE"]: e for e in entries}
        assert set(by_msg) == {b"out", b"err", b"partial"}, entries
        assert by_msg[b"out"]["PRIORITY"] == b"6" and by_msg[b"err"]["PRIORITY"] == b"3"
        assert by_msg[b"partial"]["CONTAINER_PARTIAL_MESSAGE"] == b"true"
        assert "CONTAINER_PARTIAL_MESSAGE" not in by_msg[b"out"]
        for e in entries:
            assert e["CONTAINER_ID_FULL"] == cid.encode() and e["CONTAINER_ID"] == cid[:12].encode()
            assert e["CONTAINER_NAME"] == b"jr" and e["SYSLOG_IDENTIFIER"] == b"jr"
    finally:
        sock.close()
        path.unlink(missing_ok=True)
        d.rmdir()
