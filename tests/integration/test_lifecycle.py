"""Container lifecycle verbs on real containers: exec, stop/kill/restart/rm, logs options, ps filters."""

from __future__ import annotations

import time

from tests.support.rpodcli import RpodEnv, ok, run_rpod, wait_for_log


def test_exec_codes_env_user_workdir(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "box", "alpine", "sleep", "1000"))
    try:
        r = ok(run_rpod(env, "exec", "-e", "X=1", "-w", "/tmp", "-u", "nobody", "box", "sh", "-c",
                        "echo $X; pwd; id -un; ps -o pid | tail -n +2 | wc -l"))
        lines = r.stdout.split()
        assert lines[:3] == ["1", "/tmp", "nobody"]
        assert run_rpod(env, "exec", "box", "sh", "-c", "exit 4").returncode == 4
        assert run_rpod(env, "exec", "box", "no-such-cmd").returncode == 127
        assert run_rpod(env, "exec", "box", "/etc").returncode == 126
        assert ok(run_rpod(env, "exec", "-i", "box", "cat", input="piped\n")).stdout == "piped\n"
        assert run_rpod(env, "exec", "box").returncode == 255  # Podman 4.3.1: a session that cannot start
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "box"))
    r = run_rpod(env, "exec", "box", "true")
    assert r.returncode == 125


def test_exec_in_stopped_container_is_255(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "done", "alpine", "true"))
    r = run_rpod(env, "exec", "done", "true")
    assert r.returncode == 255  # Podman 4.3.1 (since 2.x): the exec session's -1
    assert "can only create exec sessions on running containers" in r.stderr


def test_stop_uses_stop_signal_and_timeout(env: RpodEnv) -> None:
    # sh as PID 1 ignores SIGTERM: stop waits -t seconds, then SIGKILL (137)
    ok(run_rpod(env, "run", "-d", "--name", "stubborn", "alpine", "sh", "-c", "while :; do sleep 0.1; done"))
    t0 = time.monotonic()
    r = ok(run_rpod(env, "stop", "-t", "1", "stubborn"))
    assert 1 <= time.monotonic() - t0 < 30  # (the upper bound: a loaded CI machine)
    assert "resorting to SIGKILL" in r.stderr
    assert ok(run_rpod(env, "inspect", "-f", "{{.State.ExitCode}}", "stubborn")).stdout == "137\n"
    # a process that handles the stop signal exits with its own code, at once
    ok(run_rpod(env, "run", "-d", "--name", "polite", "--stop-signal", "USR1", "--stop-timeout", "90", "alpine",
                "sh", "-c",
                "trap 'exit 9' USR1; echo trapped; while :; do sleep 0.1; done"))
    wait_for_log(env, "polite", "trapped")
    t0 = time.monotonic()
    ok(run_rpod(env, "stop", "polite"))
    assert time.monotonic() - t0 < 45  # at once, not after the 90 s stop timeout
    assert ok(run_rpod(env, "wait", "polite")).stdout == "9\n"
    # stopping a stopped container is fine; --ignore skips missing ones
    ok(run_rpod(env, "stop", "polite"))
    assert run_rpod(env, "stop", "missing").returncode == 125
    ok(run_rpod(env, "stop", "--ignore", "missing"))


def test_kill_signal_rm_force_and_restart(env: RpodEnv) -> None:
    cid = ok(run_rpod(env, "run", "-d", "--name", "k", "alpine", "sleep", "1000")).stdout.strip()
    r = run_rpod(env, "rm", "k")
    assert r.returncode == 2 and "as it is running" in r.stderr  # Podman 4.3.1: rm of a running container
    ok(run_rpod(env, "restart", "-t", "0", "k"))
    assert ok(run_rpod(env, "inspect", "-f", "{{.State.Running}} {{.RestartCount}}", "k")).stdout == "true 1\n"
    ok(run_rpod(env, "kill", "-s", "TERM", "k"))
    # sleep as PID 1 has no TERM handler: the kernel does not deliver it; KILL works
    ok(run_rpod(env, "kill", "k"))
    assert ok(run_rpod(env, "wait", "k")).stdout == "137\n"
    r = run_rpod(env, "kill", "k")
    assert r.returncode == 125
    ok(run_rpod(env, "rm", "-f", cid[:8]))
    assert run_rpod(env, "container", "exists", "k").returncode == 1


def test_logs_tail_timestamps_follow(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "lg", "alpine", "sh", "-c", "for i in 1 2 3 4; do echo line$i; done"))
    assert ok(run_rpod(env, "logs", "--tail", "2", "lg")).stdout == "line3\nline4\n"
    ts = ok(run_rpod(env, "logs", "-t", "lg")).stdout.splitlines()
    assert len(ts) == 4 and ts[0].endswith(" line1") and ts[0][4] == "-" and "T" in ts[0].split()[0]
    ok(run_rpod(env, "run", "-d", "--name", "fl", "alpine", "sh", "-c", "echo a; sleep 0.5; echo b"))
    assert ok(run_rpod(env, "logs", "-f", "fl")).stdout == "a\nb\n"


def test_ps_filters_and_formats(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "one", "-l", "team=a", "alpine", "true"))
    assert run_rpod(env, "run", "--name", "two", "alpine", "sh", "-c", "exit 2").returncode == 2
    ok(run_rpod(env, "run", "-d", "--name", "three", "alpine", "sleep", "100"))
    try:
        header = ok(run_rpod(env, "ps")).stdout.splitlines()[0]
        assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
        assert ok(run_rpod(env, "ps", "--format", "{{.Names}}")).stdout == "three\n"
        assert ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}}")).stdout == "one\ntwo\nthree\n"  # oldest first
        assert ok(run_rpod(env, "ps", "-a", "--filter", "label=team=a", "--format", "{{.Names}}")).stdout == "one\n"
        assert ok(run_rpod(env, "ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}")).stdout == "two\n"
        assert ok(run_rpod(env, "ps", "-a", "--filter", "status=exited", "-n", "1",
                           "--format", "{{.Names}} {{.Status}}")).stdout.startswith("two Exited (2) ")
        assert ok(run_rpod(env, "ps", "-l", "-q")).stdout.strip() == \
            ok(run_rpod(env, "inspect", "-f", "{{.Id}}", "three")).stdout.strip()[:12]
        full = ok(run_rpod(env, "ps", "--no-trunc", "-q")).stdout.strip()
        assert len(full) == 64
    finally:
        ok(run_rpod(env, "rm", "-a", "-f", "-t", "0"))
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""
