"""--restart done by the monitor: back-off, retry limit, restart counts, stop/kill end it for good."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.procs import alive, pids_mentioning, wait_until
from tests.support.rpodcli import RpodEnv, inspect_format, ok, run_rpod, wait_for_log


def _cid(env: RpodEnv, name: str) -> str:
    return inspect_format(env, name, "{{.Id}}")


def _assert_nothing_left(cid: str, *pids: int) -> None:
    assert wait_until(lambda: not pids_mentioning(cid), 60), f"processes left for {cid}: {pids_mentioning(cid)}"
    for pid in pids:
        assert not alive(pid), f"pid {pid} still alive"


def test_on_failure_restarts_with_backoff_and_gives_up(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "crash", "--restart", "on-failure:3", "alpine",
                "sh", "-c", "echo run; exit 3"))
    # rpod wait returns once the monitor gave up (not at the first exit)
    r = ok(run_rpod(env, "wait", "crash", timeout=60))
    assert r.stdout == "3\n"
    assert inspect_format(env, "crash", "{{.RestartCount}} {{.State.Status}} {{.State.Restarting}} "
                    "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}") \
        == "3 exited false on-failure 3"
    assert ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}} {{.Restarts}}")).stdout == "crash 3\n"
    # four runs, each in the log; the gaps between them grow (100 ms, 200 ms, 400 ms back-off)
    lines = ok(run_rpod(env, "logs", "-t", "crash")).stdout.splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines] == ["run"] * 4
    from rpod.humanize import parse_time

    stamps = [parse_time(ln.split(" ", 1)[0]) for ln in lines]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4, gaps
    assert gaps[2] > gaps[0], gaps
    # every exit is an event: died x4 (3 by the monitor, the last by the CLI), restart x3
    events = [json.loads(ln) for ln in ok(run_rpod(env, "events", "--stream=false", "--format", "json",
                                                   "--filter", "container=crash")).stdout.splitlines()]
    actions = [e["Status"] for e in events]
    assert actions.count("restart") == 3, actions
    assert actions.count("died") == 4, actions
    assert all(e.get("ContainerExitCode") == 3 for e in events if e["Status"] == "died")
    _assert_nothing_left(_cid(env, "crash"))


def test_on_failure_does_not_restart_success(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "fine", "--restart", "on-failure", "alpine", "true"))
    assert ok(run_rpod(env, "wait", "fine")).stdout == "0\n"
    _assert_nothing_left(_cid(env, "fine"))  # the monitor is gone: it decided not to restart
    assert inspect_format(env, "fine", "{{.RestartCount}} {{.State.Status}}") == "0 exited"


def test_always_restarts_a_killed_init_until_rpod_stop(env: RpodEnv, tmp_path: Path) -> None:
    pidfile = tmp_path / "ctr.pid"
    monfile = tmp_path / "mon.pid"
    ok(run_rpod(env, "run", "-d", "--name", "svc", "--restart", "always", "--pidfile", str(pidfile),
                "--conmon-pidfile", str(monfile), "alpine", "sleep", "1000"))
    cid = _cid(env, "svc")
    mon = int(monfile.read_text())
    first = int(pidfile.read_text())
    assert inspect_format(env, "svc", "{{.State.Pid}} {{.State.ConmonPid}}") == f"{first} {mon}"
    # a crash (SIGKILL from outside rpod): the same monitor starts it again, --pidfile follows
    import os
    import signal

    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: pidfile.read_text().strip() != str(first)
                      and inspect_format(env, "svc", "{{.State.Status}}") == "running", 10)
    second = int(pidfile.read_text())
    assert alive(second) and int(monfile.read_text()) == mon and alive(mon)
    assert inspect_format(env, "svc", "{{.RestartCount}}") == "1"
    assert "Up " in ok(run_rpod(env, "ps", "--format", "{{.Status}}")).stdout
    # rpod stop ends it for good: no restart, no monitor, no container process
    ok(run_rpod(env, "stop", "-t", "2", "svc"))
    _assert_nothing_left(cid, mon, second)  # the monitor is gone: nothing can restart it any more
    assert inspect_format(env, "svc", "{{.State.Status}} {{.State.Restarting}}") == "exited false"
    # rpod start makes it a service again (the stop intent is forgotten)
    ok(run_rpod(env, "start", "svc"))
    pid3 = int(inspect_format(env, "svc", "{{.State.Pid}}"))
    os.kill(pid3, signal.SIGKILL)
    assert wait_until(lambda: inspect_format(env, "svc", "{{.State.Pid}}") not in ("0", str(pid3)), 60)
    # rpod kill is an explicit stop too
    ok(run_rpod(env, "kill", "svc"))
    assert ok(run_rpod(env, "wait", "svc")).stdout == "137\n"
    _assert_nothing_left(cid)
    assert inspect_format(env, "svc", "{{.State.Status}}") == "exited"


def test_stop_during_backoff_of_a_crash_loop(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "loop", "--restart", "always", "alpine", "sh", "-c", "exit 1"))
    cid = _cid(env, "loop")
    assert wait_until(lambda: int(inspect_format(env, "loop", "{{.RestartCount}}")) >= 3, 90)
    # during a back-off gap ps -a says so (status exited, restarting)
    seen = set()
    end = time.monotonic() + 60
    while time.monotonic() < end and "Restarting" not in "".join(seen):
        seen.add(ok(run_rpod(env, "ps", "--format", "{{.Status}}")).stdout)
    assert any(s.startswith("Restarting (1)") for s in seen), seen
    ok(run_rpod(env, "stop", "-t", "1", "loop"))
    count = inspect_format(env, "loop", "{{.RestartCount}}")
    _assert_nothing_left(cid)
    assert inspect_format(env, "loop", "{{.State.Status}} {{.State.Restarting}} {{.RestartCount}}") \
        == f"exited false {count}"
    ok(run_rpod(env, "rm", "loop"))


def test_rm_force_on_a_restarting_container(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "gone", "--restart", "always", "alpine", "sh", "-c", "sleep 0.2; exit 2"))
    cid = _cid(env, "gone")
    assert wait_until(lambda: int(inspect_format(env, "gone", "{{.RestartCount}}")) >= 1, 90)
    r = run_rpod(env, "rm", "gone")
    assert r.returncode != 0  # it is (about to be) running again
    ok(run_rpod(env, "rm", "-f", "-t", "1", "gone"))
    _assert_nothing_left(cid)


def test_sigterm_to_the_monitor_stops_for_good(env: RpodEnv, tmp_path: Path) -> None:
    """systemd stops a unit by signalling its main pid (the monitor, MAINPID): the container gets
    the signal and exits, and the restart policy does not bring it back."""
    import os
    import signal

    monfile = tmp_path / "mon.pid"
    ok(run_rpod(env, "run", "-d", "--name", "unit", "--restart", "always", "--conmon-pidfile", str(monfile),
                "alpine", "sh", "-c", "trap 'exit 7' TERM; echo trapped; while :; do sleep 0.1; done"))
    cid = _cid(env, "unit")
    mon = int(monfile.read_text())
    wait_for_log(env, "unit", "trapped")  # sh installed its trap
    os.kill(mon, signal.SIGTERM)
    assert ok(run_rpod(env, "wait", "unit", timeout=20)).stdout == "7\n"
    _assert_nothing_left(cid, mon)
    assert inspect_format(env, "unit", "{{.State.Status}} {{.RestartCount}}") == "exited 0"


def test_foreground_run_stays_attached_until_the_monitor_gives_up(env: RpodEnv) -> None:
    r = run_rpod(env, "run", "--name", "fg", "--restart", "on-failure:2", "alpine", "sh", "-c", "echo try; exit 4")
    assert (r.returncode, r.stdout) == (4, "try\ntry\ntry\n"), r
    assert inspect_format(env, "fg", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
