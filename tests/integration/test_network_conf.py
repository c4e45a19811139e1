"""``/etc/hosts`` and ``/etc/resolv.conf`` as containers.conf shapes them (Podman 4.3.1's
500-networking.bats): ``dns_servers``/``dns_searches``/``dns_options`` before the flags' and over
a network's own DNS, ``base_hosts_file`` and ``host_containers_internal_ip``; and the localhost
entry a container joining another's network namespace (a pod member) gets. Real containers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod


@pytest.fixture(scope="module")
def env(module_env: RpodEnv) -> RpodEnv:
    return module_env


@pytest.fixture
def conf(env: RpodEnv, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """The module's store, with ``CONTAINERS_CONF`` naming a file the test writes."""
    e = dict(env)
    path = tmp_path / "containers.conf"
    e["CONTAINERS_CONF"] = str(path)
    yield e, path
    run_rpod(env, "rm", "-f", "-a", "-t", "0")
    run_rpod(env, "pod", "rm", "-f", "-a", "-t", "0")


def cat(env: dict[str, str], *args: str, path: str = "/etc/resolv.conf") -> str:
    return ok(run_rpod(env, "run", "--rm", *args, "alpine", "cat", path)).stdout


def test_conf_dns_settings(conf: tuple[dict[str, str], Path], env: RpodEnv) -> None:
    e, path = conf
    path.write_text('[containers]\ndns_searches = ["example.com"]\n'
                    'dns_servers = ["1.1.1.1", "100.100.100.100", "1.0.0.1"]\ndns_options = ["ndots:2"]\n')
    want = ("search example.com\nnameserver 1.1.1.1\nnameserver 100.100.100.100\nnameserver 1.0.0.1\n"
            "options ndots:2\n")
    assert cat(e) == want
    # the flags' values follow the file's
    assert cat(e, "--dns", "9.9.9.9", "--dns-search", "corp", "--dns-option", "debug") == (
        "search example.com corp\nnameserver 1.1.1.1\nnameserver 100.100.100.100\nnameserver 1.0.0.1\n"
        "nameserver 9.9.9.9\noptions ndots:2 debug\n")
    # on a network with a DNS responder: the configured servers replace it (and its search domain)
    ok(run_rpod(env, "network", "create", "--subnet", "10.91.7.0/24", "confnet"))
    try:
        assert cat(e, "--network", "confnet") == want
        # without the file: the network's responder and dns.podman
        assert cat(env, "--network", "confnet") == "search dns.podman\nnameserver 10.91.7.1\n"
    finally:
        ok(run_rpod(env, "network", "rm", "-f", "confnet"))


def test_conf_base_hosts_file_and_internal_ip(conf: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    e, path = conf
    base = tmp_path / "hosts"
    base.write_text("172.20.1.1 hostone\n172.20.2.2 hosttwo #a comment\n# only a comment\n10.9.9.9\n")
    path.write_text(f'[containers]\nbase_hosts_file = "{base}"\nhost_containers_internal_ip = "172.20.3.3"\n')
    lines = cat(e, "--add-host", "extra:172.20.4.4", "--name", "c1", "--hostname", "c1",
                path="/etc/hosts").splitlines()
    assert lines == ["172.20.4.4\textra", "172.20.1.1\thostone", "172.20.2.2\thosttwo",
                     "127.0.0.1\tlocalhost localhost.localdomain", "::1\tlocalhost localhost.localdomain",
                     "172.20.3.3\thost.containers.internal host.docker.internal", "10.0.2.100\tc1 c1"]
    # a name the base file already has: no entry of the container's own (the file's wins)
    lines = cat(e, "--name", "hostone", "--hostname", "hostone", path="/etc/hosts").splitlines()
    assert len(lines) == 5 and "172.20.1.1\thostone" in lines and not any("10.0.2.100" in ln for ln in lines)
    # "image": the image's own /etc/hosts is the base; "none" for the internal address: no entry
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hosts").write_text("172.20.9.9 imgentry\n")
    (ctx / "Containerfile").write_text("FROM alpine\nCOPY hosts /etc/hosts\n")
    ok(run_rpod(e, "build", "-q", "-t", "hostsimage", str(ctx)))
    path.write_text('[containers]\nbase_hosts_file = "image"\nhost_containers_internal_ip = "none"\n')
    lines = ok(run_rpod(e, "run", "--rm", "--name", "c2", "hostsimage", "cat", "/etc/hosts")).stdout.splitlines()
    assert lines[0] == "172.20.9.9\timgentry" and not any("host.containers.internal" in ln for ln in lines)
    ok(run_rpod(e, "rmi", "hostsimage"))
    # a file that cannot be read is an error that names it
    path.write_text(f'[containers]\nbase_hosts_file = "{tmp_path}/missing"\n')
    r = run_rpod(e, "create", "alpine", "true")
    assert r.returncode == 125 and "base_hosts_file" in r.stderr and "missing" in r.stderr


def test_pod_member_gets_a_localhost_entry(env: RpodEnv) -> None:
    ok(run_rpod(env, "pod", "create", "--name", "hostspod", "--infra-name", "hostsinfra"))
    try:
        first = ok(run_rpod(env, "run", "--rm", "--pod", "hostspod", "--name", "member1", "alpine",
                            "cat", "/etc/hosts")).stdout.splitlines()
        assert "127.0.0.1\tmember1" in first  # the pod's name (its hostname) is listed already
        assert any(ln.endswith("\thostspod hostsinfra") for ln in first)
        second = ok(run_rpod(env, "run", "--rm", "--pod", "hostspod", "--name", "member2", "alpine",
                             "cat", "/etc/hosts")).stdout.splitlines()
        assert "127.0.0.1\tmember2" in second and not any("member1" in ln for ln in second)
        assert len(second) == len(first)
        # --network container: too, with its own hostname
        ok(run_rpod(env, "run", "-d", "--name", "netowner", "alpine", "sleep", "600"))
        joined = ok(run_rpod(env, "run", "--rm", "--network", "container:netowner", "--name", "joiner",
                             "--hostname", "jhost", "alpine", "cat", "/etc/hosts")).stdout
        assert "127.0.0.1\tjhost joiner\n" in joined
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", "netowner")
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "hostspod"))
