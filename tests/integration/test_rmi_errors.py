"""``rmi`` errors as Podman 4.3.1 prints them (010-images "rmi -af removes all containers and pods"):
one error as ``Error: ...``, several joined go-multierror style, exit 2 when an image is in use."""

from __future__ import annotations

from tests.support.rpodcli import RpodEnv, ok, run_rpod

INUSE = "image is in use by a container: consider listing external containers and force-removing image"


def test_rmi_in_use_errors_single_and_joined(env: RpodEnv) -> None:
    ok(run_rpod(env, "create", "--name", "ua", "alpine", "true"))
    r = run_rpod(env, "rmi", "alpine")
    assert r.returncode == 2 and r.stderr == f"Error: image used by ua: {INUSE}\n"
    ok(run_rpod(env, "create", "--name", "ub", "layered", "true"))
    r = run_rpod(env, "rmi", "-a")
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0] == "Error: 2 errors occurred:"
    assert sorted(lines[1:]) == [f"\t* image used by ua: {INUSE}", f"\t* image used by ub: {INUSE}"]
    r = run_rpod(env, "rmi", "nosuch1", "nosuch2")
    assert r.returncode == 1 and r.stderr.startswith("Error: 2 errors occurred:\n\t* ")
    r = ok(run_rpod(env, "rmi", "-af"))
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
