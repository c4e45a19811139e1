"""Behaviours Podman 4.3.1's own system tests (test/system/*.bats) check, on real containers:
``start --all``/``--filter`` and their errors, what ``start`` prints. Each expected line is
Podman's, observed on this machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod


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
