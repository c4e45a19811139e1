"""The click-free fast path (rpod.cli.fast) prints, fails and exits exactly as the click path
(``RPOD_NO_FASTPATH=1``) on the same store: ps with formats and filters, images, inspect --format,
logs, exec exit codes, port, wait, stop/start/rm, missing containers and usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def _both(env: RpodEnv, *args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    fast = run_rpod(env, *args)
    slow = run_rpod({**env, "RPOD_NO_FASTPATH": "1"}, *args)
    return fast, slow


def same(env: RpodEnv, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``rpod ARGS`` both ways; assert the same exit code, stdout and stderr; the fast run."""
    fast, slow = _both(env, *args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr), args
    return fast


@pytest.fixture(scope="module")
def store(module_env: RpodEnv) -> Iterator[RpodEnv]:
    """fp-run (running sleep, a port), fp-new (created), fp-done (exited 3 after printing on both streams)."""
    e = module_env
    ok(run_rpod(e, "run", "-d", "--name", "fp-run", "--label", "tier=a", "-p", "127.0.0.1::8080", "alpine",
                "sleep", "1000"))
    ok(run_rpod(e, "create", "--name", "fp-new", "alpine", "true"))
    done = run_rpod(e, "run", "--name", "fp-done", "alpine", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert done.returncode == 3, done.stderr
    yield e
    run_rpod(e, "rm", "-f", "-a", "-t", "0")


@pytest.mark.parametrize("args", [
    ("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.State}}"),
    ("ps", "-aq"),
    ("ps", "-q", "--no-trunc"),
    ("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"),
    ("ps", "-a", "-f", "label=tier=a", "--format=table {{.Names}}\t{{.Ports}}"),
    ("ps", "--all=true", "--noheading", "--sort", "names", "--format", "{{.Names}}"),
    ("container", "ls", "-a", "--format", "{{.Names}}"),
    ("images",),
    ("images", "-q"),
    ("images", "--format", "json"),
    ("image", "ls", "alpine", "--noheading"),
    ("inspect", "fp-run"),
    ("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "fp-run", "fp-done"),
    ("container", "inspect", "-f", "{{.Name}}", "fp-new"),
    ("inspect", "--type", "image", "--format", "{{.Id}}", "alpine"),
    ("image", "inspect", "--format", "{{.Os}}", "alpine"),
    ("inspect", "fp-run", "nosuch"),
    ("inspect", "nosuch"),
    ("logs", "fp-done"),
    ("logs", "--tail", "1", "fp-done"),
    ("exec", "fp-run", "sh", "-c", "echo hi; exit 7"),
    ("exec", "-e", "X=1", "fp-run", "sh", "-c", "echo $X"),
    ("exec", "fp-run", "nosuchcommand"),
    ("exec", "fp-new", "true"),
    ("exec", "nosuch", "true"),
    ("port", "fp-run"),
    ("port", "fp-run", "8080"),
    ("wait", "fp-done"),
    ("kill", "nosuch"),
    ("stop", "nosuch"),
    ("start", "nosuch"),
    ("rm", "nosuch"),
    ("version", "--format", "{{.Client.Version}}"),
    ("ps", "--bogus"),
    ("ps", "extra"),
    ("stop", "-t"),
    ("inspect", "-l", "fp-run"),
    ("--log-level=bogus", "ps"),
    ("ps", "--all=maybe"),
    ("exec",),
])
def test_fast_path_prints_and_exits_as_click(store: RpodEnv, args: tuple[str, ...]) -> None:
    r = same(store, *args)
    if args[:2] == ("exec", "fp-run") and "exit" in args[-1]:
        assert r.returncode == 7 and r.stdout == "hi\n"  # the container's own code
    if "nosuch" in args:
        assert r.returncode != 0 and "nosuch" in r.stderr


def test_global_root_option_takes_the_fast_path_too(store: RpodEnv) -> None:
    root = store["XDG_DATA_HOME"] + "/rpod"
    r = same(store, "--root", root, "ps", "-a", "--format", "{{.Names}}")
    assert "fp-run" in r.stdout
    assert same(store, "--root", str(store.base / "empty"), "ps", "-aq").stdout == ""


def test_stop_start_rm_as_click(store: RpodEnv) -> None:
    """The mutating commands: each path acts on its own twin container; outputs equal with the names swapped."""
    e = store
    for name in ("fp-x1", "fp-x2"):
        ok(run_rpod(e, "run", "-d", "--name", name, "alpine", "sleep", "1000"))
    runs = {}
    for name, env in (("fp-x1", e), ("fp-x2", {**e, "RPOD_NO_FASTPATH": "1"})):
        out = []
        for args in (("stop", "-t", "0", name), ("start", name), ("kill", name), ("wait", name),
                     ("rm", name), ("rm", name)):
            r = run_rpod(env, *args)
            out.append((r.returncode, r.stdout.replace(name, "NAME"), r.stderr.replace(name, "NAME")))
        runs[name] = out
    assert runs["fp-x1"] == runs["fp-x2"]
    assert runs["fp-x1"][0][:2] == (0, "NAME\n") and runs["fp-x1"][-1][0] != 0


@pytest.mark.parametrize("args", [("ps", "-a"), ("images",), ("inspect", "fp-run"), ("version",)])
def test_broken_pipe_as_click(store: RpodEnv, args: tuple[str, ...]) -> None:
    """A reader that went away before the output (its end of the pipe closed): the same exit both ways."""
    def run(env: dict[str, str]) -> tuple[int, str]:
        r, w = os.pipe()
        os.close(r)
        try:
            p = subprocess.run([sys.executable, "-m", "rpod", *args], env=env, stdout=w, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, cwd=env["HOME"], timeout=60)
        finally:
            os.close(w)
        return p.returncode, p.stderr

    assert run(store) == run({**store, "RPOD_NO_FASTPATH": "1"})
