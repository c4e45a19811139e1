"""Published ports through slirp4netns's forwarder: tcp (httpd), udp, ranges, -P, the client's
source address, port-in-use errors before the container starts, the port free again after rm,
``rpod port`` and ``inspect``.  Loopback/this machine only."""

from __future__ import annotations

import json
import socket
import time

from tests.integration.test_network import HTTPD_CGI, benv, free_port, host_address, http_get, port_free
from tests.support.rpodcli import RpodEnv, ok, run_rpod

__all__ = ["benv"]


def test_httpd_published_port_answers_and_is_freed(benv: RpodEnv) -> None:
    port = free_port()
    ok(run_rpod(benv, "run", "-d", "--name", "web", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD_CGI))
    assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
    assert not port_free(port)
    assert ok(run_rpod(benv, "port", "web")).stdout == f"80/tcp -> 0.0.0.0:{port}\n"
    assert ok(run_rpod(benv, "port", "web", "80")).stdout == f"0.0.0.0:{port}\n"
    assert ok(run_rpod(benv, "ps", "--format", "{{.Ports}}")).stdout == f"0.0.0.0:{port}->80/tcp\n"
    doc = json.loads(ok(run_rpod(benv, "inspect", "web")).stdout)[0]
    assert doc["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "", "HostPort": str(port)}]
    assert doc["HostConfig"]["PortBindings"]["80/tcp"] == [{"HostIp": "", "HostPort": str(port)}]
    ok(run_rpod(benv, "rm", "-f", "-t", "0", "web"))
    assert port_free(port)


def v4(text: str) -> str:
    """httpd's REMOTE_ADDR (``[::ffff:a.b.c.d]`` on its dual-stack socket) as ``a.b.c.d``."""
    return text.strip().removeprefix("[").removesuffix("]").removeprefix("::ffff:")


def test_source_address_is_the_clients(benv: RpodEnv) -> None:
    """libslirp's forwarder keeps a non-loopback client's address (127.0.0.1 becomes the gateway 10.0.2.2)."""
    port = free_port()
    addr = host_address()
    ok(run_rpod(benv, "run", "-d", "--name", "srcaddr", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD_CGI))
    try:
        assert v4(http_get(f"http://{addr}:{port}/cgi-bin/ip")) == addr
        assert v4(http_get(f"http://127.0.0.1:{port}/cgi-bin/ip")) == "10.0.2.2"
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "srcaddr"))


def test_bound_to_one_address(benv: RpodEnv) -> None:
    port = free_port()
    ok(run_rpod(benv, "run", "-d", "--name", "lo-only", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD_CGI))
    try:
        assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
        assert ok(run_rpod(benv, "port", "lo-only")).stdout == f"80/tcp -> 127.0.0.1:{port}\n"
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((host_address(), port)) != 0
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "lo-only"))


def test_udp_published(env: RpodEnv) -> None:
    port = free_port(socket.SOCK_DGRAM)
    ok(run_rpod(env, "run", "-d", "--name", "udp", "-p", f"{port}:5353/udp", "alpine", "sh", "-c",
                "nc -u -l -p 5353 > /tmp/got; sleep 30"))
    try:
        got = ""
        end = time.monotonic() + 60
        while time.monotonic() < end and "udp-ping" not in got:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"udp-ping\n", ("127.0.0.1", port))
            time.sleep(0.3)
            got = run_rpod(env, "exec", "udp", "cat", "/tmp/got").stdout
        assert "udp-ping" in got
        assert ok(run_rpod(env, "port", "udp")).stdout == f"5353/udp -> 0.0.0.0:{port}\n"
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "udp"))
    assert port_free(port, socket.SOCK_DGRAM)


def test_port_in_use_fails_the_start_126(benv: RpodEnv) -> None:
    """Podman 4.3.1 (030-run "failed --rm"): a ``run`` whose container cannot start exits 126;
    the container stays (created) unless ``--rm``, attached or detached."""
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run_rpod(benv, "run", "--name", "clash", "-p", f"{port}:80", "busybox", "sh", "-c", "echo started")
        assert r.returncode == 126, r
        assert "address already in use" in r.stderr and str(port) in r.stderr
        assert "started" not in r.stdout
        state = ok(run_rpod(benv, "inspect", "--format", "{{.State.Status}}", "clash")).stdout.strip()
        assert state in ("created", "exited")
        r = run_rpod(benv, "run", "-d", "--rm", "--name", "clash-rm", "-p", f"{port}:80", "busybox", "true")
        assert r.returncode == 126, r
        r = run_rpod(benv, "start", "clash")  # start itself: Podman's 125
        assert r.returncode == 125 and "address already in use" in r.stderr, r
    names = ok(run_rpod(benv, "ps", "-a", "--format", "{{.Names}}")).stdout.split()
    assert "clash" in names and "clash-rm" not in names


def test_range_and_publish_all(env: RpodEnv) -> None:
    base = free_port()
    while not (port_free(base + 1) and port_free(base + 2)):
        base = free_port()
    ok(run_rpod(env, "run", "-d", "--name", "rng", "-p", f"{base}-{base + 2}:7000-7002", "alpine", "sleep", "30"))
    lines = ok(run_rpod(env, "port", "rng")).stdout.splitlines()
    assert lines == [f"{7000 + i}/tcp -> 0.0.0.0:{base + i}" for i in range(3)]
    assert ok(run_rpod(env, "ps", "--format", "{{.Ports}}")).stdout == f"0.0.0.0:{base}-{base + 2}->7000-7002/tcp\n"
    ok(run_rpod(env, "create", "--name", "pall", "--expose", "7100", "--expose", "7200/udp", "-P", "alpine", "sleep", "30"))
    assert ok(run_rpod(env, "port", "pall")).stdout == ""  # Podman: only running containers
    doc = json.loads(ok(run_rpod(env, "inspect", "pall")).stdout)[0]
    assert sorted(doc["HostConfig"]["PortBindings"]) == ["7100/tcp", "7200/udp"]
    ok(run_rpod(env, "start", "pall"))
    lines = ok(run_rpod(env, "port", "pall")).stdout.splitlines()
    assert [ln.split(" -> ")[0] for ln in lines] == ["7100/tcp", "7200/udp"]
    assert all(int(ln.rsplit(":", 1)[1]) > 1024 for ln in lines)
    short = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "rng")).stdout.strip()[:12]
    every = ok(run_rpod(env, "port", "-a")).stdout.splitlines()
    assert f"{short}\t7000/tcp -> 0.0.0.0:{base}" in every and len(every) == 5
    r = run_rpod(env, "port", "rng", "9999")
    assert r.returncode == 125 and 'failed to find published port "9999"' in r.stderr
    ok(run_rpod(env, "rm", "-f", "-t", "0", "rng", "pall"))


def test_bad_publish_is_125(env: RpodEnv) -> None:
    for bad in ("notaport", "1:2:3:4", "80/sctp", "8000-8002:80", "[::1]:8080:80"):
        r = run_rpod(env, "create", "-p", bad, "alpine", "true")
        assert r.returncode == 125, (bad, r.stderr)


def test_published_port_survives_a_restart(benv: RpodEnv) -> None:
    port = free_port()
    script = ("mkdir -p /www && echo run-$(cat /proc/sys/kernel/random/uuid | cut -c1-4) > /www/index.html && "
              "httpd -p 80 -h /www && sleep 2 && exit 3")
    ok(run_rpod(benv, "run", "-d", "--name", "again", "--restart", "on-failure:5", "-p", f"{port}:80",
                "busybox", "sh", "-c", script))
    try:
        first = http_get(f"http://127.0.0.1:{port}/")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            count = ok(run_rpod(benv, "inspect", "--format", "{{.RestartCount}}", "again")).stdout.strip()
            if count not in ("", "0"):
                break
            time.sleep(0.3)
        assert count not in ("", "0"), "the container was not restarted"
        second = ""
        end = time.monotonic() + 60
        while time.monotonic() < end and (not second or second == first):
            try:
                second = http_get(f"http://127.0.0.1:{port}/", timeout=1)
            except OSError:
                time.sleep(0.2)
        assert second.startswith("run-") and second != first
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "again"))
    assert port_free(port)


def test_ports_discarded_with_host_network(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "create", "--name", "hostp", "--network", "host", "-p", "8080:80", "alpine", "true"))
    assert "Port mappings have been discarded" in r.stderr
    doc = json.loads(ok(run_rpod(env, "inspect", "hostp")).stdout)[0]
    assert doc["HostConfig"]["PortBindings"] == {} and doc["HostConfig"]["NetworkMode"] == "host"


def test_rpod_restart_and_start_again_publish_again(benv: RpodEnv) -> None:
    port = free_port()
    ok(run_rpod(benv, "run", "-d", "--name", "twice", "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD_CGI))
    try:
        assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
        ok(run_rpod(benv, "restart", "-t", "0", "twice"))
        assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
        ok(run_rpod(benv, "stop", "-t", "0", "twice"))
        assert port_free(port)
        ok(run_rpod(benv, "start", "twice"))
        assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "twice"))
    assert port_free(port)


def test_port_handler_rootlesskit_is_served_by_the_same_forwarder(benv: RpodEnv) -> None:
    """A script asking for Podman's default handler gets working ports (the source address kept)."""
    port = free_port()
    addr = host_address()
    ok(run_rpod(benv, "run", "-d", "--name", "rlk", "--network", "slirp4netns:port_handler=rootlesskit",
                "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD_CGI))
    try:
        assert http_get(f"http://127.0.0.1:{port}/") == "hello-from-httpd\n"
        assert v4(http_get(f"http://{addr}:{port}/cgi-bin/ip")) == addr
    finally:
        ok(run_rpod(benv, "rm", "-f", "-t", "0", "rlk"))
    assert port_free(port)
