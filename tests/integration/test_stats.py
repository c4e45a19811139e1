"""``rpod stats``: what /proc says about a running container (rootless, no cgroup v2 controllers
delegated: Podman refuses, rpod reads the process tree), in Podman's columns and JSON fields."""

from __future__ import annotations

import json

from tests.support.rpodcli import RpodEnv, ok, run_rpod, wait_for_log


def test_stats_no_stream(rpod_env: RpodEnv) -> None:
    cid = ok(run_rpod(rpod_env, "run", "-d", "--name", "st", "alpine", "sh", "-c",
                      "head -c 20000000 /dev/zero > /dev/null; echo ready; sleep 1000")).stdout.strip()
    try:
        wait_for_log(rpod_env, "st", "ready")  # its workload runs (a process mid-exec has no memory yet)
        r = ok(run_rpod(rpod_env, "stats", "--no-stream"))
        head, row = r.stdout.splitlines()[:2]
        assert head.split()[:3] == ["ID", "NAME", "CPU"] and "MEM USAGE / LIMIT" in head and "AVG CPU %" in head
        assert row.split()[:2] == [cid[:12], "st"]
        doc = json.loads(ok(run_rpod(rpod_env, "stats", "--no-stream", "--format", "json", "st")).stdout)[0]
        assert doc["ContainerID"] == cid and doc["PIDs"] >= 1 and 0 < doc["MemUsage"] < doc["MemLimit"]
        assert doc["CPUNano"] > 0 and doc["UpTime"] > 0
        out = ok(run_rpod(rpod_env, "stats", "--no-stream", "--format", "{{.Name}}:{{.PIDS}}", "st")).stdout
        assert out.strip().startswith("st:")
        ok(run_rpod(rpod_env, "stop", "-t", "0", "st"))
        assert ok(run_rpod(rpod_env, "stats", "--no-stream", "--format", "{{.Name}}")).stdout == ""
        assert "st" in ok(run_rpod(rpod_env, "stats", "-a", "--no-stream", "--format", "{{.Name}}")).stdout
    finally:
        run_rpod(rpod_env, "rm", "-f", "-t", "0", "st")
    r = run_rpod(rpod_env, "stats", "--no-stream", "nonesuch")
    assert r.returncode == 125 and 'no container with name or ID "nonesuch" found' in r.stderr
