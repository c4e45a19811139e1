"""A start right after a stop: the previous run's monitor is still finishing (deleting the runtime
state, running the pod member's ``container cleanup``) and must not land on the new run."""

from __future__ import annotations

from tests.support.rpodcli import RpodEnv, inspect_format, ok, run_rpod

NONE = ["--network", "none"]


def test_pod_member_restarts_back_to_back(env: RpodEnv) -> None:
    ok(run_rpod(env, "pod", "create", "--name", "rr"))
    try:
        ok(run_rpod(env, "run", "-d", "--pod", "rr", "--name", "rr-m", "alpine", "sleep", "1000"))
        for i in range(6):
            r = run_rpod(env, "restart", "-t", "0", "rr-m")
            assert r.returncode == 0, f"restart {i}: {r.stderr}"
            assert inspect_format(env, "rr-m", "{{.State.Status}}") == "running", f"after restart {i}"
            assert ok(run_rpod(env, "exec", "rr-m", "echo", f"alive-{i}")).stdout == f"alive-{i}\n"
        for i in range(4):
            ok(run_rpod(env, "pod", "stop", "-t", "0", "rr"))
            r = run_rpod(env, "pod", "start", "rr")
            assert r.returncode == 0, f"pod start {i}: {r.stdout}{r.stderr}"
            assert ok(run_rpod(env, "exec", "rr-m", "echo", f"pod-{i}")).stdout == f"pod-{i}\n"
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "rr"))


def test_plain_container_stop_then_start_at_once(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "ss", *NONE, "alpine", "sleep", "1000"))
    try:
        for i in range(6):
            ok(run_rpod(env, "stop", "-t", "0", "ss"))
            r = run_rpod(env, "start", "ss")
            assert r.returncode == 0, f"start {i}: {r.stderr}"
            assert ok(run_rpod(env, "exec", "ss", "echo", f"up-{i}")).stdout == f"up-{i}\n"
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "ss"))
