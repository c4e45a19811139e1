"""User-defined networks: ``rpod network create/ls/inspect/rm/connect/disconnect/prune``, containers
reaching each other by name and alias through the holder's DNS responder, isolation from other
networks, published ports to a network container, and no process left after the last container.
Loopback/this machine only."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from tests.integration.test_network import HTTPD_CGI, benv, free_port, http_get, port_free
from tests.support.rpodcli import RpodEnv, ok, run_rpod

__all__ = ["benv"]


def holder_pid(env: RpodEnv) -> int | None:
    info = Path(env["XDG_RUNTIME_DIR"]) / "rpod" / "netns" / "holder.json"
    try:
        pid = json.loads(info.read_text())["pid"]
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, KeyError):
        return None


def wait_gone(pid: int, timeout: float = 10) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.1)
    return False


def children_named(ppid: int, name: bytes) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            argv0 = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == ppid and argv0.endswith(name):
            out.append(int(d))
    return out


def test_network_bridge_is_the_default_network_and_userns_conflicts(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--network", "bridge", "alpine", "sh", "-c",
                    "ip -o -4 addr show eth0; ip route; cat /etc/resolv.conf"))
    assert "10.88.0." in r.stdout and "default via 10.88.0.1" in r.stdout
    assert "nameserver 10.88.0.1" not in r.stdout  # Podman's default network has no DNS responder
    r = run_rpod(env, "run", "--rm", "--network", "podman", "--userns", "keep-id", "alpine", "true")
    assert r.returncode == 125 and "--userns" in r.stderr


def test_network_create_ls_inspect_rm(env: RpodEnv) -> None:
    assert ok(run_rpod(env, "network", "create", "appnet")).stdout == "appnet\n"
    r = run_rpod(env, "network", "create", "appnet")
    assert r.returncode == 125 and "already" in r.stderr
    assert ok(run_rpod(env, "network", "create", "--ignore", "appnet")).stdout == "appnet\n"
    ok(run_rpod(env, "network", "create", "--subnet", "10.90.7.0/24", "--label", "team=net", "other"))
    lines = ok(run_rpod(env, "network", "ls")).stdout.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER"]
    names = [ln.split()[1] for ln in lines[1:]]
    assert names == ["appnet", "other", "podman"]  # sorted by name, as Podman
    assert lines[1].split()[0] == hashlib.sha256(b"appnet").hexdigest()[:12]  # Podman's id: sha256(name)
    assert ok(run_rpod(env, "network", "ls", "-q")).stdout == "appnet\nother\npodman\n"
    assert ok(run_rpod(env, "network", "ls", "--format", "{{.Name}} {{.Driver}}", "--filter", "label=team=net")
              ).stdout == "other bridge\n"
    doc = json.loads(ok(run_rpod(env, "network", "inspect", "appnet")).stdout)[0]
    assert list(doc) == ["name", "id", "driver", "network_interface", "created", "subnets", "ipv6_enabled",
                         "internal", "dns_enabled", "ipam_options"]
    assert doc["subnets"] == [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]
    assert doc["network_interface"] == "podman1" and doc["dns_enabled"] is True
    other = json.loads(ok(run_rpod(env, "network", "inspect", "other")).stdout)[0]
    assert other["subnets"] == [{"subnet": "10.90.7.0/24", "gateway": "10.90.7.1"}]
    assert other["labels"] == {"team": "net"}
    assert ok(run_rpod(env, "network", "inspect", "--format", "{{.Name}}", "other")).stdout == "other\n"
    assert run_rpod(env, "network", "exists", "appnet").returncode == 0
    assert run_rpod(env, "network", "exists", "nope").returncode == 1
    r = run_rpod(env, "network", "inspect", "nope")
    assert r.returncode == 125 and r.stdout == "[]\n"
    assert "inspecting object: network nope: unable to find network with name or ID nope: network not found" in r.stderr
    r = run_rpod(env, "network", "rm", "podman")
    assert r.returncode == 125 and "default network podman cannot be removed" in r.stderr
    assert run_rpod(env, "network", "rm", "nope").returncode == 1
    r = run_rpod(env, "network", "rm", "--force", "nope")  # Podman: --force ignores a missing one
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert ok(run_rpod(env, "network", "rm", "appnet")).stdout == "appnet\n"
    assert ok(run_rpod(env, "network", "prune", "-f")).stdout == "other\n"
    assert ok(run_rpod(env, "network", "ls", "-q")).stdout == "podman\n"


def test_containers_reach_each_other_by_name(benv: RpodEnv) -> None:
    ok(run_rpod(benv, "network", "create", "appnet"))
    ok(run_rpod(benv, "network", "create", "othernet"))
    port = free_port()
    ok(run_rpod(benv, "run", "-d", "--name", "web", "--network", "appnet", "--network-alias", "www",
                "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD_CGI))
    holder = holder_pid(benv)
    assert holder, "a holder process runs while a container is on a user network"
    info = json.loads((Path(benv["XDG_RUNTIME_DIR"]) / "rpod" / "netns" / "holder.json").read_text())
    helpers = [int(info["anchor"]), *children_named(holder, b"slirp4netns")]
    assert len(helpers) == 2, helpers
    try:
        r = ok(run_rpod(benv, "run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
                        "for i in $(seq 50); do wget -q -T 2 -O - http://web/ && break; sleep 0.2; done; "
                        "wget -q -T 2 -O - http://www/; wget -q -T 2 -O - http://web.dns.podman/; "
                        "cat /etc/resolv.conf; ip -o -4 addr show eth0"))
        assert r.stdout.count("hello-from-httpd") == 3, r.stdout
        assert "nameserver 10.89.0.1" in r.stdout and "search dns.podman" in r.stdout
        assert "10.89.0." in r.stdout and " brd 10.89.0.255 " in r.stdout  # as netavark sets it
        # published port of a container on a user network
        assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
        # a container on another user network, and one on the default network, cannot reach it
        web_ip = json.loads(ok(run_rpod(benv, "inspect", "web")).stdout)[0]["NetworkSettings"]["Networks"]["appnet"]["IPAddress"]
        assert web_ip.startswith("10.89.0.")
        r = run_rpod(benv, "run", "--rm", "--network", "othernet", "busybox", "sh", "-c",
                     f"wget -q -T 2 -O - http://web/; wget -q -T 2 -O - http://{web_ip}/")
        assert "hello-from-httpd" not in r.stdout
        r = run_rpod(benv, "run", "--rm", "busybox", "sh", "-c", f"wget -q -T 2 -O - http://{web_ip}/")
        assert "hello-from-httpd" not in r.stdout
        # inspect
        doc = json.loads(ok(run_rpod(benv, "inspect", "web")).stdout)[0]
        assert doc["HostConfig"]["NetworkMode"] == "bridge"
        assert "www" in doc["NetworkSettings"]["Networks"]["appnet"]["Aliases"]
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "web"))
    assert wait_gone(holder), "the holder exits after the last container on a user network"
    assert all(wait_gone(pid) for pid in helpers), "its anchor and slirp4netns go with it"
    assert port_free(port)
    r = run_rpod(benv, "network", "rm", "appnet")
    assert r.returncode == 0, r.stderr


def test_network_rm_in_use_and_connect_disconnect(benv: RpodEnv) -> None:
    ok(run_rpod(benv, "network", "create", "n1"))
    ok(run_rpod(benv, "network", "create", "n2"))
    ok(run_rpod(benv, "run", "-d", "--name", "srv", "--network", "n1", "busybox", "sh", "-c", HTTPD_CGI))
    try:
        r = run_rpod(benv, "network", "rm", "n1")
        assert r.returncode == 2 and "associated containers" in r.stderr
        ok(run_rpod(benv, "network", "connect", "--alias", "srv2", "n2", "srv"))
        r = ok(run_rpod(benv, "run", "--rm", "--network", "n2", "busybox", "sh", "-c",
                        "for i in $(seq 30); do wget -q -T 2 -O - http://srv2/ && break; sleep 0.2; done"))
        assert "hello-from-httpd" in r.stdout
        ok(run_rpod(benv, "exec", "srv", "ip", "-o", "-4", "addr", "show", "eth1"))
        ok(run_rpod(benv, "network", "disconnect", "n2", "srv"))
        r = run_rpod(benv, "exec", "srv", "ip", "-o", "addr", "show", "eth1")
        assert r.returncode != 0
        r = run_rpod(benv, "network", "connect", "n2", "srv")
        assert r.returncode == 0, r.stderr
        # a container on the default network cannot be connected (different user namespace)
        ok(run_rpod(benv, "create", "--name", "plain", "busybox", "true"))
        r = run_rpod(benv, "network", "connect", "n1", "plain")
        assert r.returncode == 125 and "not on a user-defined network" in r.stderr
    finally:
        ok(run_rpod(benv, "network", "rm", "-f", "n1"))
    assert ok(run_rpod(benv, "ps", "-a", "--format", "{{.Names}}")).stdout == "plain\n"


def test_user_network_container_restarts_in_place(benv: RpodEnv) -> None:
    ok(run_rpod(benv, "network", "create", "rnet"))
    script = ("mkdir -p /www && echo up-$(cat /proc/sys/kernel/random/uuid | cut -c1-4) > /www/index.html && "
              "httpd -p 80 -h /www && sleep 2 && exit 3")
    ok(run_rpod(benv, "run", "-d", "--name", "flappy", "--network", "rnet", "--restart", "on-failure:5",
                "busybox", "sh", "-c", script))
    try:
        end = time.monotonic() + 30
        count = "0"
        while time.monotonic() < end and count in ("", "0"):
            time.sleep(0.3)
            count = ok(run_rpod(benv, "inspect", "--format", "{{.RestartCount}}", "flappy")).stdout.strip()
        assert count not in ("", "0")
        r = ok(run_rpod(benv, "run", "--rm", "--network", "rnet", "busybox", "sh", "-c",
                        "for i in $(seq 50); do wget -q -T 1 -O - http://flappy/ && break; sleep 0.2; done"))
        assert r.stdout.startswith("up-"), r
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "flappy"))


def test_outbound_from_user_network_and_internal(benv: RpodEnv) -> None:
    """A user network's containers reach a server on this machine's address through the holder's
    slirp4netns (routed, no NAT: the server sees slirp's own socket); an --internal one does not."""
    import socket
    import threading

    from tests.integration.test_network import host_address

    addr = host_address()
    srv = socket.socket()
    srv.bind((addr, 0))
    srv.listen(4)
    srv.settimeout(20)
    port = srv.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"outbound-ok\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        ok(run_rpod(benv, "network", "create", "outnet"))
        ok(run_rpod(benv, "network", "create", "--internal", "innet"))
        r = ok(run_rpod(benv, "run", "--rm", "--network", "outnet", "busybox", "sh", "-c",
                        f"nc -w 3 {addr} {port} </dev/null"))
        assert "outbound-ok" in r.stdout
        r = run_rpod(benv, "run", "--rm", "--network", "innet", "busybox", "sh", "-c",
                     f"nc -w 3 {addr} {port} </dev/null")
        assert "outbound-ok" not in r.stdout
        doc = json.loads(ok(run_rpod(benv, "network", "inspect", "innet")).stdout)[0]
        assert doc["internal"] is True
    finally:
        srv.close()
        t.join()


def test_concurrent_starts_share_one_holder(benv: RpodEnv) -> None:
    """Containers started at the same moment on a network get one holder and distinct addresses."""
    import subprocess
    import sys

    ok(run_rpod(benv, "network", "create", "busy"))
    procs = [subprocess.Popen([sys.executable, "-m", "rpod", "run", "-d", "--name", f"p{i}", "--network", "busy",
                               "busybox", "sleep", "60"], env=benv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(3)]
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        ips = set()
        for i in range(3):
            doc = json.loads(ok(run_rpod(benv, "inspect", f"p{i}")).stdout)[0]
            ips.add(doc["NetworkSettings"]["Networks"]["busy"]["IPAddress"])
        assert len(ips) == 3
        holder = holder_pid(benv)
        assert holder
        r = ok(run_rpod(benv, "exec", "p0", "sh", "-c", "nslookup p1; nslookup p2.dns.podman"))
        for i in (1, 2):
            ip = json.loads(ok(run_rpod(benv, "inspect", f"p{i}")).stdout)[0]["NetworkSettings"]["Networks"]["busy"]["IPAddress"]
            assert f"Address: {ip}" in r.stdout, r.stdout
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "p0", "p1", "p2"))
    assert holder is None or wait_gone(holder)


def test_failed_start_leaves_no_holder(benv: RpodEnv) -> None:
    ok(run_rpod(benv, "network", "create", "failnet"))
    r = run_rpod(benv, "run", "--rm", "--network", "failnet", "busybox", "no-such-command")
    assert r.returncode == 127, r.stderr
    pid = holder_pid(benv)
    assert pid is None or wait_gone(pid, 5), "no holder outlives a container that never started"


def test_subnet_used_on_the_host_is_refused(env: RpodEnv) -> None:
    from rpod.network.store import host_routes

    routes = host_routes()
    assert routes, "this machine has no IPv4 route besides the default one"
    r = run_rpod(env, "network", "create", "--subnet", str(routes[0]), "clash")
    assert r.returncode == 125 and "already used on the host" in r.stderr


def test_connect_a_created_container_applies_at_start(benv: RpodEnv) -> None:
    ok(run_rpod(benv, "network", "create", "c1"))
    ok(run_rpod(benv, "network", "create", "c2"))
    ok(run_rpod(benv, "create", "--name", "later", "--network", "c1", "busybox", "sh", "-c",
                "ip -o -4 addr show eth0; ip -o -4 addr show eth1"))
    ok(run_rpod(benv, "network", "connect", "c2", "later"))
    r = ok(run_rpod(benv, "start", "-a", "later"))
    assert "10.89.0." in r.stdout and "10.89.1." in r.stdout, r.stdout
    ok(run_rpod(benv, "network", "disconnect", "c2", "later"))
    r = run_rpod(benv, "start", "-a", "later")
    assert "10.89.1." not in r.stdout
    ok(run_rpod(benv, "rm", "later"))
