"""--dns, --dns-search, --dns-option, --add-host, --hostname, --mac-address end to end (files
the container sees, and name lookups through /etc/hosts to a server on this machine's loopback)."""

from __future__ import annotations

from tests.integration.test_network import host_server
from tests.support.rpodcli import RpodEnv, ok, run_rpod

__all__ = ["host_server"]


def test_dns_flags_in_resolv_conf(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--dns", "192.0.2.53", "--dns", "192.0.2.54", "--dns-search", "example.test",
                    "--dns-option", "ndots:2", "--dns-option", "timeout:1", "alpine", "cat", "/etc/resolv.conf"))
    assert r.stdout == ("search example.test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
                        "options ndots:2 timeout:1\n")


def test_default_resolv_conf_is_slirp_dns_first(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "alpine", "cat", "/etc/resolv.conf"))
    servers = [ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("nameserver")]
    assert servers[0] == "10.0.2.3"
    assert not any(s.startswith("127.") for s in servers)


def test_bad_dns_is_125(env: RpodEnv) -> None:
    r = run_rpod(env, "run", "--rm", "--dns", "not-an-ip", "alpine", "true")
    assert r.returncode == 125
    assert "not-an-ip" in r.stderr


def test_hosts_hostname_and_add_host(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--name", "hn", "--hostname", "myhost", "--add-host", "db:192.0.2.10",
                    "--add-host", "v6db:fd00::10", "alpine", "sh", "-c", "hostname; cat /etc/hostname; cat /etc/hosts"))
    lines = r.stdout.splitlines()
    assert lines[0] == "myhost" and lines[1] == "myhost"
    assert "192.0.2.10\tdb" in lines
    assert "fd00::10\tv6db" in lines
    assert "10.0.2.100\tmyhost hn" in lines


def test_add_host_name_resolves_and_connects(env: RpodEnv, host_server: tuple[int, list[str]]) -> None:
    port, _peers = host_server
    r = ok(run_rpod(env, "run", "--rm", "--network", "slirp4netns:allow_host_loopback=true",
                    "--add-host", "hostsvc:10.0.2.2", "alpine", "sh", "-c", f"nc -w 3 hostsvc {port} </dev/null"))
    assert "host-says-hi" in r.stdout
    r = ok(run_rpod(env, "run", "--rm", "--network", "slirp4netns:allow_host_loopback=true",
                    "--add-host", "gw:host-gateway", "alpine", "sh", "-c", f"nc -w 3 host.containers.internal {port} </dev/null"))
    assert "host-says-hi" in r.stdout


def test_mac_address(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--mac-address", "02:42:ac:11:00:99", "alpine", "cat", "/sys/class/net/tap0/address"))
    assert r.stdout.strip() == "02:42:ac:11:00:99"


def test_host_containers_internal_is_the_hosts_address(env: RpodEnv) -> None:
    """As Podman: without allow_host_loopback, host.containers.internal is the host's own address
    (reachable through slirp4netns, unlike 10.0.2.2), and host-gateway follows it."""
    import socket
    import threading

    from tests.integration.test_network import host_address

    addr = host_address()
    srv = socket.socket()
    srv.bind((addr, 0))
    srv.listen(1)
    srv.settimeout(15)
    port = srv.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"host-ip-says-hi\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = ok(run_rpod(env, "run", "--rm", "--add-host", "gw:host-gateway", "alpine", "sh", "-c",
                        f"cat /etc/hosts; nc -w 3 host.containers.internal {port} </dev/null"))
        assert f"{addr}\thost.containers.internal host.docker.internal" in r.stdout
        assert f"{addr}\tgw" in r.stdout
        assert "host-ip-says-hi" in r.stdout
    finally:
        srv.close()
        t.join()
