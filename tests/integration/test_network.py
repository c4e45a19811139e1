"""Rootless networking end to end: slirp4netns (the default), none/host/container:, pasta,
published ports (tcp, udp, ranges, -P), port-in-use errors, DNS/hosts files.

Loopback only: every server the containers talk to runs on this machine; nothing leaves it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod

HTTPD_CGI = ("mkdir -p /www/cgi-bin && echo hello-from-httpd > /www/index.html && "
             "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip && "
             "chmod +x /www/cgi-bin/ip && exec httpd -f -p 80 -h /www")


@pytest.fixture
def benv(env: RpodEnv) -> RpodEnv:
    """``env`` plus busybox (which has httpd)."""
    ok(run_rpod(env, "pull", "-q", "busybox"))
    return env


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 15.0) -> str:
    """GET ``url``, retrying while the container's server starts."""
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def port_free(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def host_address() -> str:
    """A non-loopback address of this machine (traffic to it never leaves the machine)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                         text=True, check=False).stdout.split()
    addrs = [w.split("/")[0] for i, w in enumerate(out) if i and out[i - 1] == "inet"]
    assert addrs, "this machine has no non-loopback IPv4 address to test the source address with"
    return addrs[0]


@pytest.fixture
def host_server() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on the host's 127.0.0.1 answering 'host-says-hi'; yields (port, peers)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    peers: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except OSError:
                continue
            peers.append(addr[0])
            with conn:
                conn.sendall(b"host-says-hi\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], peers
    stop.set()
    t.join()
    srv.close()


def test_default_network_is_slirp4netns(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--name", "netdef", "--hostname", "box1", "alpine", "sh", "-c",
                    "ip -o -4 addr show tap0; ip route; cat /etc/resolv.conf; cat /etc/hosts; "
                    "cat /sys/class/net/tap0/mtu"))
    assert "10.0.2.100/24" in r.stdout, r.stdout
    assert "default via 10.0.2.2 dev tap0" in r.stdout
    assert "nameserver 10.0.2.3" in r.stdout
    assert "10.0.2.100\tbox1 netdef" in r.stdout
    assert "host.containers.internal" in r.stdout
    assert r.stdout.strip().endswith("65520")


def test_slirp_options_mtu_and_ipv6(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--network", "slirp4netns:mtu=1500,enable_ipv6=true", "alpine", "sh", "-c",
                    "cat /sys/class/net/tap0/mtu; for i in $(seq 40); do ip -6 addr show tap0 | grep -q fd00 && break; "
                    "sleep 0.25; done; ip -6 addr show tap0"))
    assert r.stdout.startswith("1500\n")
    assert "fd00::" in r.stdout, r.stdout


def test_bad_slirp_option_is_125(env: RpodEnv) -> None:
    r = run_rpod(env, "run", "--rm", "--network", "slirp4netns:frobnicate=1", "alpine", "true")
    assert r.returncode == 125
    assert "frobnicate" in r.stderr


def test_none_host_modes(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--network", "none", "alpine", "ls", "/sys/class/net"))
    assert r.stdout.split() == ["lo"]
    host_ifaces = sorted(os.listdir("/sys/class/net"))
    r = ok(run_rpod(env, "run", "--rm", "--network", "host", "alpine", "ls", "/sys/class/net"))
    assert sorted(r.stdout.split()) == host_ifaces


def slirp_for(pid: str) -> list[int]:
    """Pids of slirp4netns processes serving the container init ``pid``."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            argv = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"slirp4netns") and pid.encode() in argv:
            found.append(int(d))
    return found


def test_network_slirp4netns_process_gone_after_exit(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "slp", "alpine", "sleep", "30"))
    pid = ok(run_rpod(env, "inspect", "--format", "{{.State.Pid}}", "slp")).stdout.strip()
    assert len(slirp_for(pid)) == 1
    ok(run_rpod(env, "stop", "-t", "0", "slp"))
    end = time.monotonic() + 30  # it exits right after the container (closing tap0 takes an RCU grace period)
    while slirp_for(pid) and time.monotonic() < end:
        time.sleep(0.05)
    assert slirp_for(pid) == []
    ok(run_rpod(env, "rm", "slp"))


def test_host_loopback_only_with_allow_host_loopback(env: RpodEnv, host_server: tuple[int, list[str]]) -> None:
    port, peers = host_server
    denied = run_rpod(env, "run", "--rm", "alpine", "sh", "-c", f"nc -w 3 10.0.2.2 {port} </dev/null")
    assert "host-says-hi" not in denied.stdout
    assert denied.returncode != 0
    assert peers == []
    allowed = ok(run_rpod(env, "run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", "alpine",
                          "sh", "-c", f"nc -w 3 10.0.2.2 {port} </dev/null"))
    assert "host-says-hi" in allowed.stdout
    assert peers == ["127.0.0.1"]


def test_container_network_mode_shares_namespace(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "netowner", "alpine", "sh", "-c",
                "nc -l -p 7777 -e echo shared-ns & sleep 30"))
    try:
        r = ok(run_rpod(env, "run", "--rm", "--network", "container:netowner", "alpine", "sh", "-c",
                        "ip -o -4 addr show tap0; sleep 0.5; nc -w 2 127.0.0.1 7777 </dev/null; "
                        "cat /etc/resolv.conf /etc/hosts"))
        assert "10.0.2.100/24" in r.stdout, r.stdout
        assert "nameserver 10.0.2.3" in r.stdout and "netowner" in r.stdout  # the owner's files
        assert "shared-ns" in r.stdout
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "netowner"))


def test_tun_check_names_the_fix() -> None:
    from rootless import slirp

    slirp.check_tun()  # the CI makes /dev/net/tun 0666 (as udev does)
    with pytest.raises(slirp.NetworkSetupError) as info:
        slirp.check_tun("/etc/shadow")  # a path this user cannot open read-write
    assert "Permission denied" in str(info.value)
    assert "chmod 0666 /dev/net/tun" in (info.value.hint or "")


def test_pasta_network(env: RpodEnv) -> None:
    port = free_port()
    ok(run_rpod(env, "run", "-d", "--name", "pastaweb", "--network", "pasta", "-p", f"{port}:8080", "alpine",
                "sh", "-c", "while true; do echo pasta-ok | nc -l -p 8080; done"))
    try:
        end = time.monotonic() + 60
        data = b""
        while time.monotonic() < end and b"pasta-ok" not in data:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                    data = c.recv(100)
            except OSError:
                time.sleep(0.2)
        assert b"pasta-ok" in data
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "pastaweb"))
    end = time.monotonic() + 30
    while not port_free(port) and time.monotonic() < end:
        time.sleep(0.1)
    assert port_free(port)


def test_inspect_network_mode(env: RpodEnv) -> None:
    ok(run_rpod(env, "create", "--name", "insp", "alpine", "true"))
    doc = json.loads(ok(run_rpod(env, "inspect", "insp")).stdout)[0]
    assert doc["HostConfig"]["NetworkMode"] == "slirp4netns"


def test_ns_path_joins_a_namespace_the_user_owns(env: RpodEnv, tmp_path: Path) -> None:
    """``--network ns:PATH`` of a namespace made in another user namespace of this user (here
    ``rpod unshare unshare -n``): the runtime joins the namespace's owning user namespace."""
    pid_file = tmp_path / "pid"
    holder = subprocess.Popen([sys.executable, "-m", "rpod", "unshare", "unshare", "-n", "sh", "-c",
                               f"ip link add rpodv0 type veth peer name rpodv1 && echo $$ > {pid_file} && "
                               "exec sleep 300"], env=env, stdin=subprocess.DEVNULL)
    pidfd = -1
    try:
        end = time.monotonic() + 90  # (a loaded CI machine: wait on the file, not a guess)
        while time.monotonic() < end and not (pid_file.exists() and pid_file.read_text().endswith("\n")):
            assert holder.poll() is None, "rpod unshare exited before writing its pid"
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        pidfd = os.pidfd_open(pid)  # pinned: the kill below must not hit a process that got its pid later
        path = f"/proc/{pid}/ns/net"
        r = ok(run_rpod(env, "run", "--rm", "--network", f"ns:{path}", "alpine", "ls", "/sys/class/net"))
        assert sorted(r.stdout.split()) == ["lo", "rpodv0", "rpodv1"]
    finally:
        if pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.close(pidfd)
        holder.kill()
        holder.wait()


def test_outbound_addr_binds_the_source(env: RpodEnv) -> None:
    """``outbound_addr=`` (an address, or an interface name as Podman) is the source of the
    container's outbound connections: here lo's 127.0.0.1 toward a server on the host address."""
    addr = host_address()
    srv = socket.socket()
    srv.bind((addr, 0))
    srv.listen(2)
    srv.settimeout(15)
    port = srv.getsockname()[1]
    peers: list[str] = []

    def serve() -> None:
        for _ in range(2):
            try:
                conn, peer = srv.accept()
            except OSError:
                return
            peers.append(peer[0])
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        for value in ("127.0.0.1", "lo"):
            run_rpod(env, "run", "--rm", "--network", f"slirp4netns:outbound_addr={value}", "alpine", "sh", "-c",
                     f"nc -w 3 {addr} {port} </dev/null")
        t.join(10)
        assert peers == ["127.0.0.1", "127.0.0.1"]
    finally:
        srv.close()
    r = run_rpod(env, "run", "--rm", "--network", "slirp4netns:outbound_addr=nosuchif0", "alpine", "true")
    assert r.returncode == 125 and "nosuchif0" in r.stderr


def test_slirp_cidr(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--name", "cidr", "--network", "slirp4netns:cidr=10.5.0.0/24", "alpine", "sh",
                    "-c", "ip -o -4 addr show tap0; ip route; cat /etc/resolv.conf /etc/hosts"))
    assert "10.5.0.100/24" in r.stdout and "default via 10.5.0.2" in r.stdout
    assert "nameserver 10.5.0.3" in r.stdout and "10.0.2." not in r.stdout
    assert "10.5.0.100\t" in r.stdout
    r = run_rpod(env, "run", "--rm", "--network", "slirp4netns:cidr=10.5.0.0/28", "alpine", "true")
    assert r.returncode == 125 and "cidr" in r.stderr
