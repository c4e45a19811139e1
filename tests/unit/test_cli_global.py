"""The CLI where scripts look: Podman's global options, cobra's ``--flag=BOOL``, usage errors, bare
``rpod``, ``rpod version``, help layout, hints only at a terminal, logrus warning format."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def rpod(*args: str, env: dict[str, str] | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("RPOD_")}
    if tmp is not None:
        e.update(HOME=str(tmp), XDG_DATA_HOME=str(tmp / "data"), XDG_RUNTIME_DIR=str(tmp), XDG_CONFIG_HOME=str(tmp))
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "rpod", *args], env=e, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_bare_rpod_prints_usage_then_podmans_error() -> None:
    r = rpod()
    assert r.returncode == 125
    assert r.stdout.startswith("Manage pods, containers and images\n") and "\nUsage:\n  rpod [options] [command]" in r.stdout
    assert r.stderr == "Error: missing command 'rpod COMMAND'\n"
    r = rpod("image")
    assert r.returncode == 125 and r.stderr == "Error: missing command 'rpod image COMMAND'\n"
    assert "Available Commands:" in r.stdout


def test_usage_errors_in_cobras_words() -> None:
    r = rpod("bad", "--invalid")
    assert (r.returncode, r.stderr) == (125, "Error: unknown flag: --invalid\nSee 'rpod --help'\n")
    r = rpod("nosuch")
    assert (r.returncode, r.stderr) == (125, "Error: unrecognized command `rpod nosuch`\n"
                                             "Try 'rpod --help' for more information\n")
    r = rpod("images", "--bogus")
    assert r.stderr == "Error: unknown flag: --bogus\nSee 'rpod images --help'\n"


def test_version_in_podmans_layout() -> None:
    out = rpod("version").stdout
    assert re.search(r"^Version:\s+[1-9][0-9.]+$", out, re.M), out
    assert re.search(r"^Go Version:\s+\S", out, re.M) and re.search(r"^API Version:\s+\S", out, re.M)
    built = re.search(r"^Built:\s+(.*)$", out, re.M)[1]
    assert int(subprocess.run(["date", f"--date={built}", "+%s"], capture_output=True, text=True).stdout) > 1546300800
    assert re.fullmatch(r"rpod version [1-9][0-9.]+\n", rpod("-v").stdout)


@pytest.mark.parametrize(("args", "code", "stderr"), [
    (["--log-level=telepathic", "version"], 1,
     'Log Level "telepathic" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic\n'),
    (["--debug", "--log-level=error", "version"], 1, "Setting --log-level and --debug is not allowed\n"),
    (["--events-backend=bogus", "version"], 125,
     'Error: configuring runtime: "bogus" is not a valid events backend: invalid argument\n'),
    (["--cgroup-manager=bogus", "version"], 125,
     "Error: configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument\n"),
    (["--runtime=idonotexist", "version"], 125, 'Error: default OCI runtime "idonotexist" not found: invalid argument\n'),
])
def test_global_options_are_checked(args: list[str], code: int, stderr: str) -> None:
    r = rpod(*args)
    assert (r.returncode, r.stderr) == (code, stderr)


def test_remote_options_are_refused_clearly() -> None:
    for args in (["--remote", "info"], ["--url", "unix:/x", "info"], ["-c", "conn", "info"]):
        r = rpod(*args)
        assert r.returncode == 125 and r.stderr.startswith("Error: rpod has no remote mode"), r.stderr
    r = rpod("--remote")  # no command: usage, as Podman
    assert r.returncode == 125 and "Usage:" in r.stdout


def test_global_options_accepted_and_applied(tmp_path: Path) -> None:
    r = rpod("--storage-opt=", "--storage-driver=vfs", "--log-level=debug", "--namespace", "x", "--tmpdir",
             str(tmp_path), "--conmon", "/usr/bin/conmon", "--syslog", "--hooks-dir", str(tmp_path),
             "info", "--format", "{{.Store.GraphRoot}}", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    r = rpod("--root", str(tmp_path / "store"), "--volumepath", str(tmp_path / "vols"), "info", "--format",
             "{{.Store.GraphRoot}} {{.Store.VolumePath}}", tmp=tmp_path)
    assert r.stdout == f"{tmp_path / 'store'} {tmp_path / 'vols'}\n", r.stderr
    r = rpod("--noout", "version")
    assert (r.returncode, r.stdout) == (0, "")
    r = rpod("--config", "foo", "version")
    assert r.returncode == 0 and "Version:" in r.stdout
    assert re.fullmatch(r'time="[^"]+" level=warning msg="The --config flag is ignored by Podman. '
                        r'Exists for Docker compatibility"\n', r.stderr), r.stderr  # logrus' form in a pipe


def test_boolean_flags_take_cobra_values(tmp_path: Path) -> None:
    base = rpod("ps", "-a", "--no-trunc", tmp=tmp_path)
    assert base.returncode == 0, base.stderr
    for args in (["ps", "-a=false"], ["ps", "-a=true", "--no-trunc=false"], ["ps", "--all=1", "--no-trunc=t"],
                 ["ps", "--quiet=false"], ["--noout=false", "ps"]):
        r = rpod(*args, tmp=tmp_path)
        assert r.returncode == 0, (args, r.stderr)
    r = rpod("ps", "--all=maybe", tmp=tmp_path)
    assert r.returncode == 125 and 'invalid argument "maybe" for "-a, --all" flag' in r.stderr


def test_hints_only_at_a_terminal_or_when_asked(tmp_path: Path) -> None:
    r = rpod("tag", tmp=tmp_path)  # a usage error: rpod's hint points at --help
    assert r.returncode == 125 and r.stderr.startswith("Error: ") and "Hint:" not in r.stderr, r.stderr
    asked = rpod("tag", env={"RPOD_HINTS": "1"}, tmp=tmp_path)
    assert asked.stderr.startswith(r.stderr.rstrip("\n")) and "\nHint: usage: rpod tag [options] IMAGE TARGET...; see 'rpod tag --help'" in asked.stderr


def test_help_sorted_with_examples_and_grouped() -> None:
    out = rpod("run", "--help").stdout
    assert out.startswith("Run a command in a new container\n")
    assert "\nUsage:\n  rpod run [options] IMAGE [COMMAND [ARG...]]\n" in out
    assert "\nExamples:\n  rpod run --rm alpine echo hello\n" in out
    common, other = out.split("\nOptions:\n")[1].split("\nOther options:\n")
    for block in (common, other):
        longs = re.findall(r"^\s+(?:-\w, )?--([\w-]+)", block, re.M)
        assert longs == sorted(longs) and len(longs) > 5, longs
    assert "--detach" in common and "--name" in common and "--oom-score-adj" in other
    for cmd in (["exec"], ["ps"], ["pull"], ["generate", "systemd"]):
        assert "\nExamples:\n" in rpod(*cmd, "--help").stdout, cmd
    stop = rpod("stop", "--help").stdout
    assert "\nUsage:\n  rpod stop [options] CONTAINER [CONTAINER...]\n" in stop
    # stats without a container shows them all (and streams): its usage says so, as Podman's (015-help)
    assert "\nUsage:\n  rpod stats [options] [CONTAINER...]\n" in rpod("stats", "--help").stdout
    longs = re.findall(r"^\s+(?:-\w, )?--([\w-]+)", stop.split("Options:\n")[1], re.M)
    assert longs == sorted(longs)


def test_global_options_are_podmans() -> None:
    out = rpod("--help").stdout
    for flag in ("--cgroup-manager", "--conmon", "--connection", "--events-backend", "--hooks-dir", "--identity",
                 "--log-level", "--namespace", "--network-cmd-path", "--network-config-dir", "--noout", "--remote",
                 "--root", "--runroot", "--runtime", "--runtime-flag", "--ssh", "--storage-driver", "--storage-opt",
                 "--syslog", "--tmpdir", "--url", "--version", "--volumepath"):
        assert re.search(rf"^\s+(?:-\w, )?{flag}\b", out, re.M), flag


def test_help_command_and_remote_in_help() -> None:
    assert rpod("help", "image").stdout == rpod("image", "--help").stdout
    assert "Available Commands:" in rpod("help").stdout
    assert re.search(r"^\s+-r, --remote\b", rpod("--help").stdout, re.M)
    assert " --remote " not in rpod("--url", "x", "--help").stdout
    assert " --remote " not in rpod("--help", env={"CONTAINER_HOST": "unix:/x"}).stdout


def test_log_levels_print_podmans_start_up_lines(tmp_path: Path) -> None:
    r = rpod("--log-level=debug", "version", tmp=tmp_path)
    assert re.search(r' level=info msg=".* filtering at log level debug"', r.stderr), r.stderr
    assert ' level=debug msg="Using graph root ' in r.stderr
    for quiet in ("warn", "warning", "error"):
        assert " level=" not in rpod(f"--log-level={quiet}", "version", tmp=tmp_path).stderr
    assert " level=debug " in rpod("-D", "version", tmp=tmp_path).stderr
