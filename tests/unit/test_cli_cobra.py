"""The rules Podman's own ``015-help`` and ``300-cli-parsing`` tests check on every command:
cobra's argument-count errors, ``--latest`` conflicts, ``Options:`` only with ``[options]``,
one line per command under ``Available Commands``, and the program name rpod runs as."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, tmp: Path, argv0: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPOD_")}
    env.update(HOME=str(tmp), XDG_DATA_HOME=str(tmp / "data"), XDG_RUNTIME_DIR=str(tmp), XDG_CONFIG_HOME=str(tmp))
    code = "import sys; from rpod.cli.app import main; sys.exit(main())"
    if argv0:
        code = f"import sys; sys.argv[0] = {argv0!r}; " + code.removeprefix("import sys; ")
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.parametrize(("args", "message"), [
    (("system", "df", "x"), "Error: `rpod system df` takes no arguments"),
    (("volume", "exists", "a", "b"), "Error: accepts 1 arg(s), received 2"),
    (("completion", "x0", "x1"), "Error: accepts 1 arg(s), received 2"),
    (("image", "diff", "a", "b", "c"), "Error: accepts between 1 and 2 arg(s), received 3"),
    (("tag",), "Error: requires at least 2 arg(s), only received 0"),
    (("tag", "x"), "Error: requires at least 2 arg(s), only received 1"),
    (("stop", "-l", "c1"), "Error: --latest and containers cannot be used together"),
    (("stop", "--all", "--latest"), "Error: --all and --latest cannot be used together"),
    (("pod", "stop", "-l", "p1"), "Error: --latest and pods cannot be used together"),
    (("restart",), "Error: you must provide at least one name or id"),
])
def test_argument_errors_in_cobras_words(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    r = run(*args, tmp=tmp_path)
    assert (r.returncode, r.stderr.splitlines()[0]) == (125, message), r.stderr


def test_help_layout_rules(tmp_path: Path) -> None:
    r = run("tag", "--help", tmp=tmp_path)
    usage = r.stdout.split("Usage:\n")[1].splitlines()[0]
    assert "[options]" not in usage and "Options:" not in r.stdout  # --help alone: no Options section
    assert "Options:" in run("stop", "--help", tmp=tmp_path).stdout
    r = run("help", "--help", tmp=tmp_path)
    assert r.stdout.split("Usage:\n")[1].splitlines()[0] == "  rpod help [command]"
    # every line under Available Commands starts with a command (no wrapped descriptions), no aliases
    for group in ((), ("system",), ("container",), ("volume",)):
        out = run(*group, "--help", tmp=tmp_path).stdout
        block = out.split("Available Commands:\n")[1].split("\n\n")[0]
        names = [ln.split()[0] for ln in block.splitlines() if ln.strip()]
        assert all(re.fullmatch(r"[a-z][a-z0-9-]*", n) for n in names), names
        if group == ("container",):
            assert "list" in names and "ps" in names and "ls" not in names
        if group == ("volume",):
            assert "ls" in names and "list" not in names and "remove" not in names


def test_program_name_is_the_name_run_as(tmp_path: Path) -> None:
    r = run("-v", tmp=tmp_path, argv0="/usr/local/bin/podman")
    assert re.fullmatch(r"podman version \S+\n", r.stdout)
    r = run("run", "-h", tmp=tmp_path, argv0="/usr/local/bin/podman")
    assert r.stderr == "Error: flag needs an argument: 'h' in -h\nSee 'podman run --help'\n"
    r = run("attach", "--help", tmp=tmp_path, argv0="/usr/local/bin/podman")
    assert "\nUsage:\n  podman attach [options] CONTAINER\n" in r.stdout
    assert run("-v", tmp=tmp_path).stdout.startswith("rpod version ")  # python -c: rpod


def test_volume_mount_needs_unshare(tmp_path: Path) -> None:
    r = run("volume", "mount", "myvol", tmp=tmp_path, argv0="/usr/bin/podman")
    assert (r.returncode, r.stderr) == (
        125, 'Error: cannot run command "podman volume mount" in rootless mode, must execute `podman unshare` first\n')
    assert run("volume", "mount", tmp=tmp_path).stderr == "Error: requires at least 1 arg(s), only received 0\n"
