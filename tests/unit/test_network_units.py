"""Pure parts of networking: -p parsing and records, slirp4netns options/argv, the DNS responder,
and that pyroute2 stays off the paths that do not need it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rootless import slirp
from rpod.errors import UsageError
from rpod.network import dns
from rpod.network.ports import PortMapping, exposed_ports, inspect_ports, parse_publish, resolve

REPO = Path(__file__).resolve().parents[2]


def test_parse_publish_forms() -> None:
    assert parse_publish("8080:80") == [PortMapping("", 8080, 80, "tcp")]
    assert parse_publish("127.0.0.1:8080:80/udp") == [PortMapping("127.0.0.1", 8080, 80, "udp")]
    assert parse_publish("127.0.0.1::80") == [PortMapping("127.0.0.1", 0, 80, "tcp")]
    assert parse_publish("80") == [PortMapping("", 0, 80, "tcp")]
    assert parse_publish("[::1]:8080:80") == [PortMapping("::1", 8080, 80, "tcp")]
    assert parse_publish("8000-8001:80-81/tcp,udp") == [
        PortMapping("", 8000, 80, "tcp"), PortMapping("", 8001, 81, "tcp"),
        PortMapping("", 8000, 80, "udp"), PortMapping("", 8001, 81, "udp")]
    for bad in ("x", "1:2:3:4", "80/sctp", "8000-8002:80", "0:80", "70000", "10.0.0.300:1:2"):
        with pytest.raises(UsageError):
            parse_publish(bad)


def test_records_round_trip_and_inspect() -> None:
    for m in (PortMapping("", 8080, 80, "tcp"), PortMapping("127.0.0.1", 5353, 53, "udp"),
              PortMapping("::1", 9000, 90, "tcp")):
        assert PortMapping.from_record(m.record()) == m
    assert PortMapping("::1", 9000, 90).record() == "[::1]:9000:90/tcp"
    assert inspect_ports(["8080:80/tcp", "127.0.0.1:8081:80/tcp"], [(443, "tcp")]) == {
        "443/tcp": None, "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "8081"}]}


def test_resolve_publish_all_and_duplicates() -> None:
    maps = resolve(["8080:80"], True, ["80/tcp", "53/udp"], ["9000-9001"])
    assert maps[0] == PortMapping("", 8080, 80, "tcp")
    assert {(m.container_port, m.proto) for m in maps[1:]} == {(53, "udp"), (9000, "tcp"), (9001, "tcp")}
    assert all(m.host_port > 0 for m in maps)
    assert exposed_ports(["80/tcp"], ["80", "7/udp"]) == [(7, "udp"), (80, "tcp")]
    with pytest.raises(UsageError, match="twice"):
        resolve(["8080:80", "8080:81"], False, [], [])


def test_slirp_options_and_argv() -> None:
    opts = slirp.parse_options("allow_host_loopback=true,mtu=1500,enable_ipv6=true,outbound_addr=10.1.2.3")
    assert opts == {"allow_host_loopback": True, "mtu": 1500, "enable_ipv6": True, "outbound_addr": "10.1.2.3"}
    argv = slirp.argv_for("slirp4netns", "42", opts, ready_fd=5, exit_fd=6, api_socket="/s")
    assert "--disable-host-loopback" not in argv and "--mtu=1500" in argv and "--enable-ipv6" in argv
    assert "--outbound-addr=10.1.2.3" in argv and argv[-2:] == ["42", "tap0"]
    default = slirp.argv_for("slirp4netns", "42", {}, ready_fd=5, exit_fd=6, api_socket=None)
    assert {"--disable-host-loopback", "--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--configure"} <= set(default)
    for bad in ("mtu=1", "bogus=1", "allow_host_loopback=maybe", "port_handler=x"):
        with pytest.raises(slirp.NetworkSetupError):
            slirp.parse_options(bad)


def test_dns_answers_container_names() -> None:
    records = {"web": ["10.89.0.2"], "www": ["10.89.0.2"]}
    for name in ("web", "WEB.dns.podman", "www."):
        reply = dns.answer(dns.build_query(name), records)
        assert reply is not None
        assert reply[:2] == b"\x12\x34" and reply[3] & 0x0F == 0  # same id, NOERROR
        assert reply[6:8] == b"\x00\x01"  # one answer
        assert reply.endswith(bytes([10, 89, 0, 2]))
    nx = dns.answer(dns.build_query("nope"), records)
    assert nx is not None and nx[3] & 0x0F == 3 and nx[6:8] == b"\x00\x00"  # NXDOMAIN, never forwarded
    assert dns.answer(dns.build_query("example.org"), records) is None  # forwarded upstream
    aaaa = dns.answer(dns.build_query("web", dns.TYPE_AAAA), records)
    assert aaaa is not None and aaaa[6:8] == b"\x00\x00" and aaaa[3] & 0x0F == 0
    assert dns.answer(b"\x00\x01", records) is None


def test_pyroute2_not_imported_by_run_or_network_cli() -> None:
    code = ("import sys; import rpod.cli.run, rpod.cli.network, rpod.network.plan, rpod.network.bridge, "
            "rootless.netsetup, rootless.slirp; assert 'pyroute2' not in sys.modules, 'pyroute2 imported'")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_hosts_host_gateway() -> None:
    from rpod.network.etcfiles import hosts_content

    text = hosts_content("h", "n", ["gw:host-gateway"], network="slirp4netns", host_gateway="192.0.2.2")
    assert "192.0.2.2\tgw\n" in text and "192.0.2.2\thost.containers.internal host.docker.internal\n" in text
    text = hosts_content("h", "n", ["gw:host-gateway"], network="bridge", container_ip="10.89.0.5", host_gateway="192.0.2.2")
    assert text.endswith("192.0.2.2\thost.containers.internal host.docker.internal\n10.89.0.5\th n\n")
    assert "10.0.2.2\thost.containers.internal" in hosts_content("h", None, network="slirp4netns")


def test_holder_forwards_foreign_names_without_blocking(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Names that are not containers go to the upstream resolver through the holder's selector loop."""
    import select
    import socket

    from rpod.network import holder as holder_mod

    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 0))
    monkeypatch.setattr(holder_mod, "UPSTREAM_DNS", upstream.getsockname())
    h = holder_mod.Holder(str(tmp_path))
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", 0))
    front.setblocking(False)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    query = dns.build_query("example.org")
    client.sendto(query, front.getsockname())
    assert select.select([front], [], [], 30)[0]  # the query arrived
    h.on_dns(front, "net")  # not ours: relayed, the loop is not blocked
    got, src = upstream.recvfrom(512)
    assert got == query
    upstream.sendto(b"answer", src)
    for key, _ in h.sel.select(5):
        if key.data[0] == "upstream":
            h.on_upstream(key.fileobj)  # type: ignore[arg-type]
    assert client.recv(512) == b"answer"
    assert h.pending == {}
    for s in (upstream, front, client):
        s.close()
