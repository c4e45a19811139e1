"""Per-container namespace sharing: ``--ipc``/``--pid``/``--uts`` ``container:NAME``|``host``,
``--requires`` (start dependencies), removal blocked by dependents, ``--network NAME:alias=,ip=``."""

from __future__ import annotations

import os

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def ns_inode(env: RpodEnv, name: str, kind: str) -> int:
    pid = ok(run_rpod(env, "inspect", "--format", "{{.State.Pid}}", name)).stdout.strip()
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def test_ipc_uts_pid_container_join_the_owner(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "owner", "--hostname", "ownerhost", "alpine", "sleep", "300"))
    try:
        r = ok(run_rpod(env, "run", "-d", "--name", "joiner", "--ipc", "container:owner", "--uts", "container:owner",
                        "--pid", "container:owner", "alpine", "sleep", "300"))
        assert r.stdout.strip()
        for kind in ("ipc", "uts", "pid", "user"):
            assert ns_inode(env, "owner", kind) == ns_inode(env, "joiner", kind), kind
        assert ns_inode(env, "owner", "net") != ns_inode(env, "joiner", "net")
        out = ok(run_rpod(env, "exec", "joiner", "sh", "-c", "hostname; ps -o comm | grep -c sleep")).stdout.split()
        assert out == ["ownerhost", "2"]  # the owner's name (not overwritten) and both processes
        # the owner cannot go while the joiner depends on it (Podman's wording)
        r = run_rpod(env, "rm", "-f", "owner")
        assert r.returncode == 125
        assert "has dependent containers which must be removed before it" in r.stderr
        ok(run_rpod(env, "rm", "-f", "-t", "0", "joiner"))
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", "joiner")
        ok(run_rpod(env, "rm", "-f", "-t", "0", "owner"))


def test_ipc_host_and_private(env: RpodEnv) -> None:
    mine = os.stat("/proc/self/ns/ipc").st_ino
    ok(run_rpod(env, "run", "-d", "--name", "hostipc", "--ipc", "host", "--uts", "host", "alpine", "sleep", "300"))
    try:
        assert ns_inode(env, "hostipc", "ipc") == mine
        assert ns_inode(env, "hostipc", "uts") == os.stat("/proc/self/ns/uts").st_ino
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "hostipc"))
    r = run_rpod(env, "run", "--rm", "--ipc", "bogus", "alpine", "true")
    assert r.returncode == 125 and "--ipc" in r.stderr


def test_requires_starts_the_dependency_first(env: RpodEnv) -> None:
    ok(run_rpod(env, "create", "--name", "dep", "alpine", "sleep", "300"))
    ok(run_rpod(env, "create", "--name", "needs", "--requires", "dep", "alpine", "sleep", "300"))
    try:
        ok(run_rpod(env, "start", "needs"))
        states = ok(run_rpod(env, "ps", "--format", "{{.Names}} {{.State}}")).stdout.split("\n")
        assert "dep running" in states and "needs running" in states
        r = run_rpod(env, "rm", "-f", "dep")
        assert r.returncode == 125 and "dependent containers" in r.stderr
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", "needs")
        ok(run_rpod(env, "rm", "-f", "-t", "0", "dep"))
    r = run_rpod(env, "create", "--requires", "nosuch", "alpine", "true")
    assert r.returncode == 125 and "no such container" in r.stderr


def test_network_name_with_alias_and_static_ip(env: RpodEnv) -> None:
    ok(run_rpod(env, "network", "create", "--subnet", "10.91.3.0/24", "aliasnet"))
    try:
        ok(run_rpod(env, "run", "-d", "--name", "srv", "--network", "aliasnet:alias=web,ip=10.91.3.40",
                    "alpine", "sleep", "300"))
        r = ok(run_rpod(env, "run", "--rm", "--network", "aliasnet", "alpine", "sh", "-c",
                        "getent hosts web; getent hosts srv"))
        lines = r.stdout.splitlines()
        assert lines[0].split()[0] == "10.91.3.40" and "web" in lines[0].split(), r.stdout
        assert lines[1].split()[0] == "10.91.3.40" and "srv" in lines[1].split(), r.stdout
        r = run_rpod(env, "run", "--rm", "--network", "aliasnet", "--ip", "10.91.3.40", "alpine", "true")
        assert r.returncode == 126 and "already allocated" in r.stderr  # a start error (Podman 126)
        r = run_rpod(env, "run", "--rm", "--network", "aliasnet:bogus=1", "alpine", "true")
        assert r.returncode == 125 and "bogus" in r.stderr
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", "srv")
        ok(run_rpod(env, "network", "rm", "-f", "aliasnet"))
