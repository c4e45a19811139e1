"""Exit policy ``stop`` after an attached (``run`` without ``-d``) member exits: the pod is
Exited by itself, as Podman's 200-pod.bats expects (it waits 3 s; here the deadline is generous,
a loaded machine must not fail a wall-clock bound)."""

from __future__ import annotations

import time

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_exit_policy_stop_after_an_attached_member(env: RpodEnv) -> None:
    pod = ok(run_rpod(env, "pod", "create", "--exit-policy", "stop")).stdout.strip()
    try:
        ok(run_rpod(env, "run", "--pod", pod, "alpine", "true"))
        t0 = time.monotonic()
        state = ""
        while time.monotonic() - t0 < 60:
            state = ok(run_rpod(env, "pod", "inspect", pod, "--format", "{{.State}}")).stdout.strip()
            if state == "Exited":
                break
            time.sleep(0.2)
        assert state == "Exited", f"the pod is still {state!r} 60 s after its last member exited"
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", pod))
