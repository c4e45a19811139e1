"""Pods: an infra container (catatonit -P) holding net/ipc/uts, members that reach each other on
localhost and share IPC/UTS, a pod's published port, pod ps/inspect/stop/start/rm, status derived
from the containers, pods without infra, ``ps --pod``/``--filter pod=``."""

from __future__ import annotations

import json
import os

from tests.integration.test_network import benv, free_port, http_get
from tests.support.rpodcli import RpodEnv, ok, run_rpod

__all__ = ["benv"]


def ns_inode(env: RpodEnv, name: str, kind: str) -> int:
    pid = ok(run_rpod(env, "inspect", "--format", "{{.State.Pid}}", name)).stdout.strip()
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def test_pod_shares_network_ipc_uts_and_serves_its_port(benv: RpodEnv) -> None:
    env = benv
    port = free_port()
    pod_id = ok(run_rpod(env, "pod", "create", "--name", "web", "-p", f"{port}:80", "--label", "app=web")).stdout.strip()
    assert len(pod_id) == 64
    try:
        ps = ok(run_rpod(env, "pod", "ps")).stdout.splitlines()
        assert ps[0].split() == ["POD", "ID", "NAME", "STATUS", "CREATED", "INFRA", "ID", "#", "OF", "CONTAINERS"]
        assert ps[1].split()[:3] == [pod_id[:12], "web", "Created"]
        ok(run_rpod(env, "run", "-d", "--pod", "web", "--name", "srv", "busybox", "sh", "-c",
                    "echo srv-up; mkdir -p /www && echo pod-says-hi > /www/index.html && exec httpd -f -p 80 -h /www"))
        assert http_get(f"http://127.0.0.1:{port}/").strip() == "pod-says-hi"
        # a second member reaches the first on localhost, with the pod's name as host name
        r = ok(run_rpod(env, "run", "--rm", "--pod", "web", "busybox", "sh", "-c",
                        "hostname; wget -qO- http://127.0.0.1:80/"))
        assert r.stdout.split() == ["web", "pod-says-hi"]
        infra = json.loads(ok(run_rpod(env, "pod", "inspect", "web")).stdout)
        assert infra["State"] == "Running" and infra["NumContainers"] == 2
        assert infra["SharedNamespaces"] == ["uts", "ipc", "net", "cgroup"] or set(infra["SharedNamespaces"]) >= {
            "uts", "ipc", "net"}
        assert infra["Labels"] == {"app": "web"}
        infra_name = next(c["Name"] for c in infra["Containers"] if c["Id"] == infra["InfraContainerID"])
        assert infra_name == f"{pod_id[:12]}-infra"
        for kind in ("net", "ipc", "uts", "user"):
            assert ns_inode(env, "srv", kind) == ns_inode(env, infra_name, kind), kind
        assert ns_inode(env, "srv", "pid") != ns_inode(env, infra_name, "pid")
        top = ok(run_rpod(env, "pod", "top", "web")).stdout
        assert top.split("\n")[0].split()[:2] == ["USER", "PID"] and "httpd" in top and "catatonit" in top
        assert "srv-up" in ok(run_rpod(env, "pod", "logs", "web")).stdout
        assert "srv-up" in ok(run_rpod(env, "pod", "logs", "-c", "srv", "web")).stdout
        # ps --pod, --filter pod=
        r = ok(run_rpod(env, "ps", "-a", "--pod", "--format", "{{.Names}} {{.PodName}}", "--filter", "pod=web"))
        assert sorted(r.stdout.splitlines()) == sorted([f"{infra_name} web", "srv web"])
        # the infra cannot be removed on its own
        r = run_rpod(env, "rm", "-f", infra_name)
        assert r.returncode == 125 and "is the infra container of pod" in r.stderr, r.stderr
        # stop: every container, infra last; status Exited; start brings both back
        assert ok(run_rpod(env, "pod", "stop", "-t", "1", "web")).stdout.strip() == pod_id
        assert json.loads(ok(run_rpod(env, "pod", "inspect", "web")).stdout)["State"] == "Exited"
        ok(run_rpod(env, "pod", "start", "web"))
        assert http_get(f"http://127.0.0.1:{port}/").strip() == "pod-says-hi"
        r = run_rpod(env, "pod", "rm", "web")  # a member runs
        assert r.returncode == 125 and "running" in r.stderr
        ok(run_rpod(env, "stop", "-t", "1", "srv"))
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Status}}")).stdout.strip() == "Degraded"
        ok(run_rpod(env, "pod", "rm", "web"))  # only the infra runs: removed without --force, as Podman
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "web")
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""
    r = run_rpod(env, "pod", "exists", "web")
    assert r.returncode == 1


def test_pod_share_pid_and_hostname_and_new(env: RpodEnv) -> None:
    ok(run_rpod(env, "pod", "create", "--share", "+pid", "--hostname", "podhost", "p2"))
    try:
        ok(run_rpod(env, "run", "-d", "--pod", "p2", "--name", "a", "alpine", "sleep", "300"))
        r = ok(run_rpod(env, "run", "--rm", "--pod", "p2", "alpine", "sh", "-c", "hostname; ps -o comm"))
        lines = r.stdout.split()
        assert lines[0] == "podhost"
        assert "catatonit" in lines and "sleep" in lines  # one pid namespace for the whole pod
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "p2"))
    # --pod new:NAME creates it
    ok(run_rpod(env, "run", "-d", "--pod", "new:p3", "--name", "inp3", "alpine", "sleep", "300"))
    try:
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}")).stdout == "p3 2\n"
        r = run_rpod(env, "run", "--rm", "--pod", "p3", "-p", "8080:80", "alpine", "true")
        assert r.returncode == 125 and "published or exposed ports must be defined when the pod is created" in r.stderr
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "p3"))
    r = run_rpod(env, "run", "--rm", "--pod", "nosuchpod", "alpine", "true")
    assert r.returncode == 125 and "no pod with name or ID nosuchpod found" in r.stderr


def test_pod_without_infra_groups_containers(env: RpodEnv) -> None:
    ok(run_rpod(env, "pod", "create", "--infra=false", "--share=", "plain"))
    try:
        assert not ok(run_rpod(env, "pod", "inspect", "--format", "{{.InfraContainerID}}", "plain")).stdout.strip()
        ok(run_rpod(env, "run", "-d", "--pod", "plain", "--name", "x", "alpine", "sleep", "300"))
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Status}} {{.NumberOfContainers}}")).stdout == "Running 1\n"
        ok(run_rpod(env, "pod", "kill", "plain"))
        ok(run_rpod(env, "wait", "x"))
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Status}}")).stdout == "Exited\n"
        assert ok(run_rpod(env, "pod", "prune", "-f")).stdout.strip()
        assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    finally:
        run_rpod(env, "pod", "rm", "-f", "plain")


def test_pod_clone_copies_the_configuration(env: RpodEnv) -> None:
    ok(run_rpod(env, "pod", "create", "--name", "orig", "--share", "+pid", "--hostname", "h1", "--label", "a=b"))
    try:
        new_id = ok(run_rpod(env, "pod", "clone", "orig")).stdout.strip()
        doc = json.loads(ok(run_rpod(env, "pod", "inspect", "orig-clone")).stdout)
        assert doc["Id"] == new_id and doc["Hostname"] == "h1" and doc["Labels"] == {"a": "b"}
        assert "pid" in doc["SharedNamespaces"] and doc["NumContainers"] == 1
        ok(run_rpod(env, "pod", "clone", "--destroy", "--name", "orig2", "--start", "orig"))
        ok(run_rpod(env, "run", "-d", "--pod", "orig-clone", "alpine", "sleep", "300"))
        assert run_rpod(env, "pod", "exists", "orig").returncode == 1
        assert json.loads(ok(run_rpod(env, "pod", "inspect", "orig2")).stdout)["State"] == "Running"
        ok(run_rpod(env, "rm", "-a", "-f", "-t", "0"))  # as Podman: the infra's removal takes its pod along
        assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "-a")
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""


def test_missing_pods_and_errors_as_podman(env: RpodEnv) -> None:
    """Podman 4.3.1's words and exit codes, measured here."""
    r = run_rpod(env, "pod", "rm", "nosuchpod")
    assert r.returncode == 1 and r.stderr == "Error: no pod with name or ID nosuchpod found: no such pod\n"
    for verb in ("stop", "start"):
        r = run_rpod(env, "pod", verb, "nosuchpod")
        assert r.returncode == 125 and "no pod with name or ID nosuchpod found: no such pod" in r.stderr
    r = run_rpod(env, "pod", "inspect", "nosuchpod")
    assert r.returncode == 125 and r.stdout == "[]\n" and "inspecting object: no such pod nosuchpod" in r.stderr
    ok(run_rpod(env, "pod", "create", "--name", "dupx"))
    try:
        r = run_rpod(env, "pod", "create", "--name", "dupx")
        assert r.returncode == 125 and 'adding pod to state: name "dupx" is in use: pod already exists' in r.stderr
        pod_id = ok(run_rpod(env, "pod", "inspect", "--format", "{{.Id}}", "dupx")).stdout.strip()
        assert ok(run_rpod(env, "pod", "kill", "dupx")).stdout.strip() == pod_id  # nothing runs: still 0
    finally:
        ok(run_rpod(env, "pod", "rm", "dupx"))
    r = run_rpod(env, "pod", "create", "--infra=false", "-p", "8080:80", "x")
    assert r.returncode == 125 and "you must have an infra container to publish port bindings to the host" in r.stderr


def test_exit_policy_stop_stops_the_infra_after_the_last_member(env: RpodEnv) -> None:
    import time

    ok(run_rpod(env, "pod", "create", "--name", "short", "--exit-policy", "stop"))
    ok(run_rpod(env, "pod", "create", "--name", "long"))  # exit policy continue: the infra stays
    try:
        for pod in ("short", "long"):
            ok(run_rpod(env, "run", "-d", "--pod", pod, "alpine", "sh", "-c", "sleep 1"))
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline:
            status = ok(run_rpod(env, "pod", "ps", "--filter", "name=short", "--format", "{{.Status}}")).stdout.strip()
            if status == "Exited":
                break
            time.sleep(0.2)
        assert status == "Exited"
        assert json.loads(ok(run_rpod(env, "pod", "inspect", "short")).stdout)["ExitPolicy"] == "stop"
        assert ok(run_rpod(env, "pod", "ps", "--filter", "name=long", "--format", "{{.Status}}")).stdout.strip() \
            in ("Degraded", "Running")
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "-a")
    r = run_rpod(env, "pod", "create", "--exit-policy", "bogus")
    assert r.returncode == 125 and 'invalid pod exit policy: "bogus"' in r.stderr


def test_pod_on_a_user_network(benv: RpodEnv) -> None:
    env = benv
    ok(run_rpod(env, "network", "create", "podnet"))
    try:
        ok(run_rpod(env, "run", "-d", "--name", "backend", "--network", "podnet", "busybox", "sh", "-c",
                    "mkdir -p /w && echo from-backend > /w/index.html && exec httpd -f -p 80 -h /w"))
        ok(run_rpod(env, "pod", "create", "--name", "netpod", "--network", "podnet"))
        r = ok(run_rpod(env, "run", "--rm", "--pod", "netpod", "busybox", "sh", "-c",
                        "for i in $(seq 50); do wget -qO- http://backend/ && break; sleep 0.2; done"))
        assert r.stdout.strip() == "from-backend"
        doc = json.loads(ok(run_rpod(env, "pod", "inspect", "netpod")).stdout)
        assert doc["InfraConfig"]["Networks"] == ["podnet"]
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "netpod")
        run_rpod(env, "rm", "-f", "-t", "0", "backend")
        ok(run_rpod(env, "network", "rm", "-f", "podnet"))
