"""``network connect``/``disconnect`` of a running container and ``network reload`` (Podman 4.3.1's
500-networking.bats): the container's ``/etc/hosts`` and ``resolv.conf`` follow, a reconnection
gets a new address and MAC, published ports follow the container's first network, and a reload
restores lost port forwards with the same address and MAC. Loopback/this machine only."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import pytest

from rootless.slirp import api_request
from tests.integration.test_network import HTTPD_CGI, benv, free_port, http_get
from tests.support.rpodcli import RpodEnv, ok, run_rpod

__all__ = ["benv"]


def net_value(env: RpodEnv, cid: str, network: str, field: str) -> str:
    fmt = "{{(index .NetworkSettings.Networks \"%s\").%s}}" % (network, field)  # noqa: UP031 - Go braces
    return ok(run_rpod(env, "inspect", "--format", fmt, cid)).stdout.strip()


def unreachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3):
            return False
    except OSError:
        return True


@pytest.fixture
def nets(benv: RpodEnv):  # noqa: ANN201
    ok(run_rpod(benv, "network", "create", "--subnet", "10.93.1.0/24", "cnet1"))
    ok(run_rpod(benv, "network", "create", "--subnet", "10.93.2.0/24", "cnet2"))
    yield benv
    run_rpod(benv, "rm", "-f", "-a", "-t", "0")
    run_rpod(benv, "network", "rm", "-f", "cnet1", "cnet2")


def test_connect_disconnect_follow_hosts_dns_and_ports(nets: RpodEnv) -> None:
    env = nets
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cid = ok(run_rpod(env, "run", "-d", "--network", "cnet1", "-p", f"{port}:80", "busybox", "sh", "-c",
                      HTTPD_CGI)).stdout.strip()
    assert http_get(url) == "hello-from-httpd\n"
    ip, mac = net_value(env, cid, "cnet1", "IPAddress"), net_value(env, cid, "cnet1", "MacAddress")
    assert f"{ip}\t{cid[:12]} " in ok(run_rpod(env, "exec", cid, "cat", "/etc/hosts")).stdout

    assert ok(run_rpod(env, "network", "disconnect", "cnet1", cid)).stdout == ""
    files = ok(run_rpod(env, "exec", cid, "cat", "/etc/hosts", "/etc/resolv.conf")).stdout
    assert ip not in files and "nameserver 10.93.1.1" not in files
    assert unreachable(url)

    assert ok(run_rpod(env, "network", "connect", "cnet1", cid)).stdout == ""
    assert http_get(url) == "hello-from-httpd\n"
    new_ip, new_mac = net_value(env, cid, "cnet1", "IPAddress"), net_value(env, cid, "cnet1", "MacAddress")
    assert new_ip != ip and new_mac != mac  # a new lease (host-local's next address) and a new MAC
    inside = ok(run_rpod(env, "exec", cid, "sh", "-c", "cat /etc/hosts /etc/resolv.conf; ip -o link show eth0")).stdout
    assert f"{new_ip}\t{cid[:12]} " in inside and "nameserver 10.93.1.1\n" in inside and new_mac in inside

    # a second network, then the first one gone: the ports (and the default route) move to it
    ok(run_rpod(env, "network", "connect", "cnet2", cid))
    ok(run_rpod(env, "network", "disconnect", "cnet1", cid))
    assert http_get(url) == "hello-from-httpd\n"
    route = ok(run_rpod(env, "exec", cid, "ip", "route")).stdout
    assert "default via 10.93.2.1" in route


def test_reload_restores_lost_port_forwards(nets: RpodEnv) -> None:
    env = nets
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cid = ok(run_rpod(env, "run", "-d", "--network", "cnet1", "-p", f"{port}:80", "busybox", "sh", "-c",
                      HTTPD_CGI)).stdout.strip()
    ok(run_rpod(env, "run", "-d", "--name", "idle", "alpine", "sleep", "600"))  # slirp4netns: not reloadable
    assert http_get(url) == "hello-from-httpd\n"
    ip, mac = net_value(env, cid, "cnet1", "IPAddress"), net_value(env, cid, "cnet1", "MacAddress")
    # wipe the forwards as a firewall reload would (the holder's slirp4netns API)
    run_dir = str(Path(env["XDG_RUNTIME_DIR"]) / "rpod" / "netns")
    listed = api_request(run_dir, {"execute": "list_hostfwd"})
    listed = listed.get("return", listed)  # slirp4netns 1.2 answers {"entries": [...]} at the top
    assert [f["host_port"] for f in listed["entries"]] == [port]
    for fwd in listed["entries"]:
        api_request(run_dir, {"execute": "remove_hostfwd", "arguments": {"id": fwd["id"]}})
    assert unreachable(url)
    assert ok(run_rpod(env, "network", "reload", cid)).stdout == cid + "\n"
    assert http_get(url) == "hello-from-httpd\n"
    assert (net_value(env, cid, "cnet1", "IPAddress"), net_value(env, cid, "cnet1", "MacAddress")) == (ip, mac)
    # --all: only the containers it can reload; naming another is an error
    assert ok(run_rpod(env, "network", "reload", "--all")).stdout == cid + "\n"
    r = run_rpod(env, "network", "reload", "idle")
    assert (r.returncode, r.stderr) == (125, 'Error: "slirp4netns" is not supported: invalid network mode\n')
    r = run_rpod(env, "network", "reload")
    assert (r.returncode, r.stderr) == (125, "Error: you must provide at least one name or id\n")
    r = run_rpod(env, "network", "reload", "nosuch")
    assert r.returncode == 125 and "nosuch" in r.stderr


def test_unshare_rootless_netns_reaches_containers_by_address(nets: RpodEnv) -> None:
    env = nets
    r = run_rpod(env, "unshare", "--rootless-netns", "true")
    assert r.returncode == 125 and "no container is running on a user network" in r.stderr
    cid = ok(run_rpod(env, "run", "-d", "--network", "cnet1", "busybox", "sh", "-c", HTTPD_CGI)).stdout.strip()
    ip = net_value(env, cid, "cnet1", "IPAddress")
    assert unreachable(f"http://{ip}/")  # not from the host's network namespace
    fetch = ("import sys, time, urllib.request\n"
             "for _ in range(100):\n"
             "    try:\n"
             f"        sys.stdout.write(urllib.request.urlopen('http://{ip}/', timeout=3).read().decode()); break\n"
             "    except OSError: time.sleep(0.1)\n")
    for flag in ("--rootless-netns", "--rootless-cni"):  # Podman's old name too
        r = ok(run_rpod(env, "unshare", flag, sys.executable, "-c", fetch))
        assert r.stdout == "hello-from-httpd\n"
    assert ok(run_rpod(env, "unshare", "--rootless-netns", "id", "-u")).stdout == "0\n"
