"""Healthchecks on the monitor's own timer: status in inspect and ps, rpod healthcheck run,
start period, timeout, and --health-on-failure kill/restart/stop acting on real containers."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.images import ALPINE_X86_64, DEFAULT_PATH, Layer, LayoutWriter
from tests.support.procs import pids_mentioning, wait_until
from tests.support.registry import Registry, skopeo
from tests.support.rpodcli import RpodEnv, inspect_format, ok, run_rpod
from tests.support.tarbuild import retar_tarball


def _health(env: RpodEnv, name: str) -> dict:
    return json.loads(ok(run_rpod(env, "inspect", name)).stdout)[0]["State"]["Health"]


def test_healthy_then_unhealthy_inspect_ps_and_run(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
                "--health-retries", "2", "alpine", "sh", "-c", "touch /tmp/ok; sleep 1000"))
    try:
        doc = json.loads(ok(run_rpod(env, "inspect", "hc")).stdout)[0]
        assert doc["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 1_000_000_000,
                                                "Timeout": 30_000_000_000, "StartPeriod": 0, "Retries": 2}
        health = doc["State"]["Health"]
        # "starting" until the first check (1 s after the start; a loaded machine may run it first)
        assert health["Status"] == "starting" or (health["Status"] == "healthy" and health["Log"]), health
        assert wait_until(lambda: inspect_format(env, "hc", "{{.State.Health.Status}}") == "healthy", 60)
        assert inspect_format(env, "hc", "{{.State.Healthcheck.Status}}") == "healthy"  # Podman 4.3's name
        assert ok(run_rpod(env, "ps", "--format", "{{.Status}}")).stdout.strip().endswith("(healthy)")
        r = ok(run_rpod(env, "healthcheck", "run", "hc"))
        assert r.stdout == ""
        ok(run_rpod(env, "exec", "hc", "rm", "/tmp/ok"))
        r = run_rpod(env, "healthcheck", "run", "hc")
        assert (r.returncode, r.stdout) == (1, "unhealthy\n"), r
        assert wait_until(lambda: inspect_format(env, "hc", "{{.State.Health.Status}}") == "unhealthy", 60)
        h = _health(env, "hc")
        assert h["FailingStreak"] >= 2
        assert 1 <= len(h["Log"]) <= 5
        last = h["Log"][-1]
        assert last["ExitCode"] == 1 and last["Start"] <= last["End"]
        assert ok(run_rpod(env, "ps", "--format", "{{.Status}}")).stdout.strip().endswith("(unhealthy)")
        assert ok(run_rpod(env, "ps", "--filter", "health=unhealthy", "--format", "{{.Names}}")).stdout == "hc\n"
        assert ok(run_rpod(env, "ps", "--filter", "health=healthy", "--format", "{{.Names}}")).stdout == ""
        # --health-on-failure defaults to none: still running
        assert inspect_format(env, "hc", "{{.State.Status}}") == "running"
        events = ok(run_rpod(env, "events", "--stream=false", "--filter", "event=health_status",
                             "--format", "json")).stdout.splitlines()
        assert [json.loads(e).get("HealthStatus") for e in events] == ["healthy", "unhealthy"]
        # healthy again once the file is back
        ok(run_rpod(env, "exec", "hc", "touch", "/tmp/ok"))
        ok(run_rpod(env, "healthcheck", "run", "hc"))
        assert _health(env, "hc")["Status"] == "healthy" and _health(env, "hc")["FailingStreak"] == 0
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "hc"))


def test_healthcheck_run_errors(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "plain", "alpine", "sleep", "1000"))
    r = run_rpod(env, "healthcheck", "run", "plain")
    assert r.returncode == 125 and "has no defined healthcheck" in r.stderr
    ok(run_rpod(env, "rm", "-f", "-t", "0", "plain"))
    ok(run_rpod(env, "create", "--name", "idle", "--health-cmd", "true", "alpine", "sleep", "1"))
    r = run_rpod(env, "healthcheck", "run", "idle")
    assert r.returncode == 125 and "not running" in r.stderr
    assert run_rpod(env, "healthcheck", "run", "nosuch").returncode == 125
    r = run_rpod(env, "run", "-d", "--health-cmd", "true", "--health-interval", "soon", "alpine", "true")
    assert r.returncode == 125 and "--health-interval" in r.stderr


def test_interval_disable_start_period_and_timeout(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "manual", "--health-cmd", "[\"CMD\", \"test\", \"-f\", \"/tmp/ok\"]",
                "--health-interval", "disable", "--health-retries", "1", "--health-start-period", "60s",
                "alpine", "sleep", "1000"))
    ok(run_rpod(env, "run", "-d", "--name", "slow", "--health-cmd", "sleep 120", "--health-interval", "disable",
                "--health-timeout", "1s", "alpine", "sleep", "1000"))
    try:
        assert inspect_format(env, "manual", "{{json .Config.Healthcheck.Test}}") == '["CMD","test","-f","/tmp/ok"]'
        time.sleep(1.5)
        assert _health(env, "manual")["Log"] in (None, [])  # no timer: nothing ran by itself
        # a failure inside the start period is reported but does not count
        r = run_rpod(env, "healthcheck", "run", "manual")
        assert (r.returncode, r.stdout) == (1, "unhealthy\n")
        h = _health(env, "manual")
        assert (h["Status"], h["FailingStreak"], len(h["Log"])) == ("starting", 0, 1)
        ok(run_rpod(env, "exec", "manual", "touch", "/tmp/ok"))
        ok(run_rpod(env, "healthcheck", "run", "manual"))
        assert _health(env, "manual")["Status"] == "healthy"
        # a check that outlives --health-timeout is killed and fails
        t0 = time.monotonic()
        r = run_rpod(env, "healthcheck", "run", "slow")
        assert r.returncode == 1 and time.monotonic() - t0 < 60  # killed at 1 s, not after the check's 120 s
        assert "timed out" in _health(env, "slow")["Log"][-1]["Output"]
        # the killed check left nothing behind in the container
        assert "sleep 120" not in ok(run_rpod(env, "exec", "slow", "ps", "-o", "args")).stdout
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "manual", "slow"))


def test_on_failure_kill(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "k", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
                "--health-retries", "1", "--health-on-failure", "kill", "alpine", "sleep", "1000"))
    cid = inspect_format(env, "k", "{{.Id}}")
    assert ok(run_rpod(env, "wait", "k", timeout=30)).stdout == "137\n"
    assert inspect_format(env, "k", "{{.State.Status}} {{.RestartCount}}") == "exited 0"
    assert wait_until(lambda: not pids_mentioning(cid), 60)


def test_on_failure_restart_restarts_in_place(env: RpodEnv) -> None:
    # the first run never becomes healthy; the second (same upper dir: /tmp/once survives) does
    ok(run_rpod(env, "run", "-d", "--name", "r", "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
                "--health-retries", "1", "--health-on-failure", "restart", "--stop-timeout", "1", "alpine",
                "sh", "-c", "[ -f /tmp/once ] && touch /tmp/ok; touch /tmp/once; exec sleep 1000"))
    try:
        assert wait_until(lambda: inspect_format(env, "r", "{{.RestartCount}} {{.State.Health.Status}}") == "1 healthy", 30)
        assert inspect_format(env, "r", "{{.State.Status}}") == "running"
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "r"))


def test_on_failure_stop_wins_over_restart_always(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "s", "--restart", "always", "--health-cmd", "false",
                "--health-interval", "1s", "--health-retries", "1", "--health-on-failure", "stop", "alpine",
                "sleep", "1000"))
    cid = inspect_format(env, "s", "{{.Id}}")
    ok(run_rpod(env, "wait", "s", timeout=30))
    assert wait_until(lambda: not pids_mentioning(cid), 60)  # the monitor is gone: no restart can follow
    assert inspect_format(env, "s", "{{.State.Status}} {{.RestartCount}}") == "exited 0"



def test_image_healthcheck_is_honoured_and_no_healthcheck_disables_it(env: RpodEnv, registry: Registry,
                                                                      tmp_path: Path) -> None:
    """An image whose config has a ``Healthcheck`` (built here, pushed to the test registry with skopeo)."""
    w = LayoutWriter(tmp_path / "layout")
    hc = {"Test": ["CMD-SHELL", "test -f /etc/alpine-release"], "Interval": 1_000_000_000, "Retries": 2}
    desc = w.image([Layer(retar_tarball(ALPINE_X86_64))],
                   config_extra={"config": {"Env": [DEFAULT_PATH], "Cmd": ["sleep", "1000"], "Healthcheck": hc}})
    w.tag(desc, "latest")
    w.close()
    skopeo(["copy", "--quiet", *registry.skopeo_args("dest"), f"oci:{tmp_path / 'layout'}:latest",
            f"docker://{registry.address}/withhc:latest"], tmp_path)
    ok(run_rpod(env, "pull", "-q", "withhc"))
    ok(run_rpod(env, "run", "-d", "--name", "img", "withhc"))
    ok(run_rpod(env, "run", "-d", "--name", "off", "--no-healthcheck", "withhc"))
    ok(run_rpod(env, "run", "-d", "--name", "mine", "--health-retries", "5", "withhc"))
    try:
        got = json.loads(inspect_format(env, "img", "{{json .Config.Healthcheck}}"))
        assert got == {**hc, "Timeout": 30_000_000_000, "StartPeriod": 0}
        assert json.loads(inspect_format(env, "mine", "{{json .Config.Healthcheck}}"))["Retries"] == 5  # flag over image
        assert wait_until(lambda: inspect_format(env, "img", "{{.State.Health.Status}}") == "healthy", 60)
        assert inspect_format(env, "off", "{{json .Config.Healthcheck}}") == "null"
        assert run_rpod(env, "healthcheck", "run", "off").returncode == 125
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "img", "off", "mine"))


def test_healthcheck_with_crun(env: RpodEnv) -> None:
    """With --runtime crun the check runs through nsenter + crun exec."""
    ok(run_rpod(env, "run", "-d", "--name", "cr", "--runtime", "crun", "--health-cmd", "test -f /tmp/ok",
                "--health-interval", "disable", "alpine", "sh", "-c", "touch /tmp/ok; exec sleep 1000"))
    try:  # healthy once the container's touch ran
        assert wait_until(lambda: run_rpod(env, "healthcheck", "run", "cr").returncode == 0, 60)
        ok(run_rpod(env, "exec", "cr", "rm", "/tmp/ok"))
        r = run_rpod(env, "healthcheck", "run", "cr")
        assert (r.returncode, r.stdout) == (1, "unhealthy\n"), r
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "cr"))


def test_output_lines_joined_and_on_failure_needs_a_check(env: RpodEnv) -> None:
    """Podman 4.3.1 (220-healthcheck): the log's Output is the lines joined (no final newline);
    ``--health-on-failure`` without a healthcheck is refused."""
    ok(run_rpod(env, "run", "-d", "--name", "hco", "--health-cmd", "echo out; echo err >&2", "--health-interval",
                "disable", "alpine", "sleep", "1000"))
    try:
        ok(run_rpod(env, "healthcheck", "run", "hco"))
        assert _health(env, "hco")["Log"][-1]["Output"] == "out\nerr"
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "hco"))
    r = run_rpod(env, "create", "--health-on-failure=kill", "alpine")
    assert r.returncode == 125
    assert r.stderr == "Error: cannot set on-failure action to kill without a health check\n"


def test_healthcheck_run_returns_after_the_failure_action(env: RpodEnv) -> None:
    """220-healthcheck: ``healthcheck run`` of a failing check returns once the on-failure action
    took effect (restart: running again; kill: exited), as Podman does it in the same call."""
    for action, state in (("restart", "running"), ("kill", "exited")):
        name = f"hc-{action}"
        ok(run_rpod(env, "run", "-d", "--name", name, "--health-cmd", "test ! -e /uh-oh", "--health-interval",
                    "disable", "--health-retries", "1", "--health-on-failure", action, "alpine", "sh", "-c",
                    "rm -f /uh-oh; sleep 1000"))
        try:
            ok(run_rpod(env, "healthcheck", "run", name))
            ok(run_rpod(env, "exec", name, "touch", "/uh-oh"))
            r = run_rpod(env, "healthcheck", "run", name)
            assert (r.returncode, r.stdout) == (1, "unhealthy\n"), r
            assert inspect_format(env, name, "{{.State.Status}}") == state
        finally:
            ok(run_rpod(env, "rm", "-f", "-t", "0", name))
