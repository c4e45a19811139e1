"""``--preserve-fds`` and systemd socket activation (``LISTEN_FDS``): the caller's fds 3, 4, ...
reach the container's process through the monitor and the runtime, and the LISTEN_* variables
go into its environment at each start (``LISTEN_PID=1``), as Podman's 030-run/250-systemd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.rpodcli import RpodEnv, ok, run_rpod

NONE = ("--network", "none")


def _run_with_fds(env: dict[str, str], fds: dict[int, Path], *args: str,
                  extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``rpod ARGS`` with each file of ``fds`` open (read-only) at its number in the CLI."""
    opened = {n: os.open(p, os.O_RDONLY) for n, p in fds.items()}

    def place() -> None:
        for n, fd in opened.items():
            os.dup2(fd, n)

    try:
        return subprocess.run([sys.executable, "-m", "rpod", *args], env={**env, **(extra_env or {})},
                              stdin=subprocess.DEVNULL, text=True, capture_output=True, timeout=120,
                              cwd=env.get("HOME"), pass_fds=tuple(fds), preexec_fn=place)  # noqa: PLW1509
    finally:
        for fd in opened.values():
            os.close(fd)


def test_preserve_fds_reach_the_container(module_env: RpodEnv, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("three\n")
    b.write_text("four\n")
    r = ok(_run_with_fds(module_env, {3: a, 4: b}, "run", "--rm", "-i", *NONE, "--preserve-fds=2", "alpine",
                         "sh", "-c", "cat <&4; cat <&3; ls /proc/self/fd"))
    lines = r.stdout.split()
    assert lines[:2] == ["four", "three"], r.stdout
    fds = {int(x) for x in lines[2:]}
    assert {0, 1, 2, 3, 4} <= fds and max(fds) <= 5, r.stdout  # (5: ls's own directory) nothing more leaked
    # detached too: the monitor holds them until the runtime hands them over
    cid = ok(_run_with_fds(module_env, {3: a}, "run", "-d", *NONE, "--preserve-fds", "1", "alpine",
                           "sh", "-c", "cat <&3")).stdout.strip()
    ok(run_rpod(module_env, "wait", cid))
    assert ok(run_rpod(module_env, "logs", cid)).stdout == "three\n"
    ok(run_rpod(module_env, "rm", cid))
    # without them, no fd 3 in the container
    r = _run_with_fds(module_env, {3: a}, "run", "--rm", *NONE, "alpine", "sh", "-c", "cat <&3")
    assert r.returncode != 0 and r.stdout == ""


def test_preserve_fds_must_be_open(module_env: RpodEnv, tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.write_text("x\n")
    r = _run_with_fds(module_env, {3: a}, "run", "--rm", *NONE, "--preserve-fds=2", "alpine", "true")
    assert r.returncode == 125
    assert r.stderr == ("Error: file descriptor 4 is not available - the preserve-fds option requires that "
                        "file descriptors must be passed\n")


def test_listen_environment_at_run_and_start(module_env: RpodEnv, tmp_path: Path) -> None:
    sock = tmp_path / "s"
    sock.write_text("activated\n")
    listen = {"LISTEN_PID": "100", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "listen_fdnames"}
    script = "printenv | grep ^LISTEN_ | sort; cat <&3"
    r = ok(_run_with_fds(module_env, {3: sock}, "run", "--rm", *NONE, "alpine", "sh", "-c", script,
                         extra_env=listen))
    assert r.stdout == "LISTEN_FDNAMES=listen_fdnames\nLISTEN_FDS=1\nLISTEN_PID=1\nactivated\n"
    cid = ok(run_rpod(module_env, "create", *NONE, "alpine", "sh", "-c", script)).stdout.strip()
    r = ok(_run_with_fds(module_env, {3: sock}, "start", "--attach", cid, extra_env=listen))
    assert r.stdout == "LISTEN_FDNAMES=listen_fdnames\nLISTEN_FDS=1\nLISTEN_PID=1\nactivated\n"
    # the next start without them: no LISTEN_* left over from the previous one
    r = run_rpod(module_env, "start", "--attach", cid)
    assert "LISTEN_" not in r.stdout
    # --env LISTEN_FDNAMES of the user's own stays
    r = ok(run_rpod(module_env, "run", "--rm", *NONE, "--env", "LISTEN_FDNAMES=mine", "alpine", "printenv",
                    "LISTEN_FDNAMES"))
    assert r.stdout == "mine\n"
    ok(run_rpod(module_env, "rm", cid))
