"""Behaviours Podman 4.3.1's own system tests (test/system/*.bats) check, on real containers:
``start --all``/``--filter`` and their errors, what ``start`` prints, ``ps --filter`` without
``-a``, ``wait`` on a never-started container, ``kill -s -N``, the ``stopping`` state and
``stop --timeout``. Each expected line is Podman's, observed on this machine."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.procs import wait_until
from tests.support.rpodcli import RpodEnv, ok, run_rpod, wait_for_log


@pytest.fixture(scope="module")
def env(module_env: RpodEnv) -> RpodEnv:
    return module_env


@pytest.fixture
def clean(env: RpodEnv) -> Iterator[RpodEnv]:
    """The module's store, emptied of containers after the test."""
    yield env
    run_rpod(env, "rm", "-f", "-a", "-t", "0")


def test_start_all_and_filter(clean: RpodEnv) -> None:
    env = clean
    done0 = ok(run_rpod(env, "run", "-d", "alpine", "true")).stdout.strip()
    done1 = ok(run_rpod(env, "run", "-d", "--restart=no", "alpine", "false")).stdout.strip()
    up = ok(run_rpod(env, "run", "-d", "--restart=always", "alpine", "sleep", "100")).stdout.strip()
    ok(run_rpod(env, "wait", done0, done1))
    # --filter with names: only the named containers among the matches, printed by ID
    assert ok(run_rpod(env, "start", "--filter", "restart-policy=always", done0)).stdout == ""
    assert ok(run_rpod(env, "start", "--filter", "restart-policy=none", done0)).stdout == done0 + "\n"
    ok(run_rpod(env, "wait", done0))
    assert ok(run_rpod(env, "start", "--filter", "restart-policy=no")).stdout == done1 + "\n"
    ok(run_rpod(env, "wait", done1))
    assert ok(run_rpod(env, "start", "--all", "--filter", "exited=1")).stdout == done1 + "\n"
    ok(run_rpod(env, "wait", done1))
    # --all: every container that is not running, by ID; the running one is not listed
    out = ok(run_rpod(env, "start", "--all")).stdout.split()
    assert sorted(out) == sorted([done0, done1]) and up not in out
    # a running container named on the command line is left alone and not printed
    assert ok(run_rpod(env, "start", up)).stdout == ""


def test_start_errors(clean: RpodEnv) -> None:
    env = clean
    r = run_rpod(env, "start", "--all", "12333")
    assert (r.returncode, r.stderr) == (
        125, "Error: either start all containers or the container(s) provided in the arguments\n")
    cid = ok(run_rpod(env, "create", "alpine", "true")).stdout.strip()
    r = run_rpod(env, "start", "--filter", "restart-policy=fakepolicy", cid)
    assert (r.returncode, r.stderr) == (125, "Error: fakepolicy invalid restart policy\n")
    r = run_rpod(env, "start")
    assert (r.returncode, r.stderr) == (125, "Error: start requires at least one argument\n")


def test_ps_filter_does_not_imply_all(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "runner", "alpine", "sleep", "100"))
    ok(run_rpod(env, "run", "--name", "stopped", "alpine", "true"))
    assert run_rpod(env, "run", "--name", "failed", "alpine", "false").returncode == 1
    ok(run_rpod(env, "create", "--name", "created", "alpine", "true"))
    fmt = ("--format", "{{.Names}}")
    assert ok(run_rpod(env, "ps", "--filter", "name=runner", *fmt)).stdout == "runner\n"
    assert ok(run_rpod(env, "ps", "--filter", "name=stopped", *fmt)).stdout == ""  # no -a: running only
    assert ok(run_rpod(env, "ps", "-a", "--filter", "name=stopped", *fmt)).stdout == "stopped\n"
    # status= is Docker's exception: it looks at every container; "stopped" matches exited ones
    out = ok(run_rpod(env, "ps", "--filter", "status=stopped", "--sort", "names", *fmt)).stdout
    assert out == "failed\nstopped\n"
    out = ok(run_rpod(env, "ps", "--filter", "status=exited", "--filter", "exited=1", *fmt)).stdout
    assert out == "failed\n"
    r = run_rpod(env, "ps", "--filter", "status=bogus")
    assert (r.returncode, r.stderr) == (125, "Error: unknown container state: bogus: invalid argument\n")


def test_wait_on_never_started_container_returns(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "create", "--name", "never", "alpine", "/no/such/command"))
    r = run_rpod(env, "wait", "never", timeout=60)
    assert (r.returncode, r.stdout) == (0, "0\n")
    assert run_rpod(env, "start", "never").returncode != 0
    assert run_rpod(env, "wait", "never", timeout=60).returncode == 0


def test_kill_signal_forms(clean: RpodEnv) -> None:
    env = clean
    script = ("trap 'echo got: 1' 1; trap 'echo got: 2' 2; trap 'echo got: 10' 10; echo READY; "
              "while ! test -e /stop; do sleep 0.05; done")
    ok(run_rpod(env, "run", "-d", "--name", "sig", "alpine", "sh", "-c", script))
    wait_for_log(env, "sig", "READY")
    for form, num in (("-1", 1), ("-INT", 2), ("-SIGUSR1", 10)):
        ok(run_rpod(env, "kill", "-s", form, "sig"))
        wait_for_log(env, "sig", f"got: {num}")
    for bad, shown in (("-0", "0"), ("-SIGBADSIG", "SIGBADSIG"), ("-", "")):
        r = run_rpod(env, "kill", "-s", bad, "nosuchcontainer")
        assert (r.returncode, r.stderr) == (125, f"Error: invalid signal: {shown}\n")
    r = run_rpod(env, "kill", "-s", "-65", "nosuchcontainer")
    assert (r.returncode, r.stderr) == (125, "Error: valid signals are 1 through 64\n")


def test_stop_shows_stopping_and_takes_timeout(clean: RpodEnv) -> None:
    env = clean
    script = "trap 'echo Received SIGTERM, ignoring' TERM; echo READY; while :; do sleep 0.2; done"
    ok(run_rpod(env, "run", "-d", "--name", "stopme", "alpine", "sh", "-c", script))
    wait_for_log(env, "stopme", "READY")
    stopper = subprocess.Popen([sys.executable, "-m", "rpod", "stop", "-t", "60", "stopme"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=env.get("HOME"))
    try:
        wait_for_log(env, "stopme", "Received SIGTERM, ignoring")
        assert wait_until(lambda: ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", "stopme")).stdout
                          == "stopping\n", timeout=30)
        assert "Up " in ok(run_rpod(env, "ps", "--format", "{{.Status}}")).stdout  # ps is not blocked
        ok(run_rpod(env, "kill", "stopme"))  # a stopping container can still be killed
        assert ok(run_rpod(env, "wait", "stopme")).stdout == "137\n"
    finally:
        stopper.wait(timeout=60)
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", "stopme")).stdout == "exited\n"
    # Docker's --timeout is stop's other name for --time
    ok(run_rpod(env, "run", "-d", "--name", "quick", "alpine", "sleep", "100"))
    assert ok(run_rpod(env, "stop", "--timeout=0", "quick")).stdout == "quick\n"
