"""A newcomer's first hour, offline: the quickstart's images, then the README's usage block as
written; completion of a container name in bash; man pages; help layout; cobra's flag syntax;
global options; hints only at a terminal.

The usage block is read from README.md (after ``<!-- usage-block -->``), so README and test
never drift.  No registry is configured: everything must work without one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import ALPINE_X86_64
from tests.support.rpodcli import RpodEnv, ok, run_rpod

REPO = Path(__file__).resolve().parents[2]
BIN = str(Path(sys.executable).parent)  # the venv's bin: the installed `rpod` command


def usage_block() -> str:
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- usage-block -->\n```sh\n(.*?)\n```", text, re.S)
    assert m, "README.md has no usage block after <!-- usage-block -->"
    return m[1]


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpodEnv]:
    """A fresh user's store with what the quickstart imports (contrib/quickstart-images.sh), no registry."""
    env = RpodEnv(tmp_path_factory.mktemp("newcomer"))
    env["PATH"] = f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    r = subprocess.run(["sh", str(REPO / "contrib" / "quickstart-images.sh")], capture_output=True, text=True,
                       env={**env, "ALPINE_TARBALL": str(ALPINE_X86_64), "BUSYBOX": "/bin/busybox"},
                       timeout=300, cwd=env.home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sha512 verified" in r.stdout, r.stdout
    yield env
    run_rpod(env, "rm", "-af", "-t", "0")
    run_rpod(env, "network", "rm", "-f", "appnet")
    env.cleanup()


def test_quickstart_images_have_plain_names(newcomer: RpodEnv) -> None:
    names = ok(run_rpod(newcomer, "images", "--format", "{{.Repository}}:{{.Tag}}")).stdout.split()
    assert {"localhost/alpine:3.20", "localhost/alpine:latest", "localhost/busybox:latest"} <= set(names)
    assert ok(run_rpod(newcomer, "run", "--rm", "alpine", "cat", "/etc/alpine-release")).stdout == "3.20.3\n"
    assert ok(run_rpod(newcomer, "run", "--rm", "busybox")).returncode == 0  # CMD sh, stdin closed


def test_readme_usage_block_runs_as_written(newcomer: RpodEnv, tmp_path: Path) -> None:
    script = tmp_path / "usage.sh"
    script.write_text("set -euo pipefail\n" + usage_block() + "\n")
    r = subprocess.run(["bash", str(script)], env=newcomer, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=600, cwd=newcomer.home)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    out = r.stdout
    assert "hello\n" in out and "data\n" in out and "hi\n" in out, out  # run, run -i, wget through the DNS
    assert "[/bin/sh]" in out and "api Up" in out and "(healthy)" in out, out
    assert re.search(r"80/tcp -> 127\.0\.0\.1:\d+", out), out  # rpod port srv
    assert "localhost/myalpine" not in ok(run_rpod(newcomer, "images")).stdout


def test_bash_completes_container_names_and_images(newcomer: RpodEnv, tmp_path: Path) -> None:
    ok(run_rpod(newcomer, "run", "-d", "--name", "tabme", "busybox", "sleep", "1000"))
    ok(run_rpod(newcomer, "create", "--name", "sleeper", "busybox", "true"))
    script = tmp_path / "rpod.bash"
    script.write_text(ok(run_rpod(newcomer, "completion", "bash")).stdout)

    def complete(*words: str) -> list[str]:
        prog = f"""source {script}
COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
__rpod_complete; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
        r = subprocess.run(["bash", "--norc", "-c", prog], env=newcomer, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return [w for w in r.stdout.splitlines() if w]

    assert complete("rpod", "stop", "ta") == ["tabme"]  # running containers only
    assert "sleeper" not in complete("rpod", "stop", "")
    assert "sleeper" in complete("rpod", "start", "") and "tabme" not in complete("rpod", "start", "")
    assert {"tabme", "sleeper"} <= set(complete("rpod", "rm", ""))
    assert "tabme" in complete("rpod", "logs", "") and "tabme" in complete("rpod", "exec", "")
    assert "localhost/alpine:3.20" in complete("rpod", "run", "")
    assert "localhost/busybox:latest" in complete("rpod", "rmi", "")
    assert "--detach" in complete("rpod", "run", "--de")
    assert {"image", "images"} <= set(complete("rpod", "ima"))
    ok(run_rpod(newcomer, "rm", "-f", "-t", "0", "tabme", "sleeper"))


def test_cobra_protocol_for_podman_style_scripts(newcomer: RpodEnv) -> None:
    ok(run_rpod(newcomer, "network", "create", "compnet"))
    ok(run_rpod(newcomer, "volume", "create", "compvol"))
    try:
        r = ok(run_rpod(newcomer, "__completeNoDesc", "network", "rm", ""))
        assert "compnet" in r.stdout.splitlines() and r.stdout.endswith(":4\n")
        assert r.stderr == "Completion ended with directive: ShellCompDirectiveNoFileComp\n"
        assert "compvol" in ok(run_rpod(newcomer, "__complete", "volume", "inspect", "")).stdout.splitlines()
        r = ok(run_rpod(newcomer, "__complete", "ps", "--"))
        assert r.stdout.startswith("--") and "--all\tShow all containers" in r.stdout
        r = ok(run_rpod(newcomer, "__complete", "run", "localhost/alpine:3.20", ""))  # the command: paths in the image
        assert "/etc/" in r.stdout.splitlines() and r.stdout.endswith(":2\n"), r.stdout
        r = ok(run_rpod(newcomer, "__complete", "version", ""))  # takes no argument
        assert r.stdout == ":4\n"
    finally:
        run_rpod(newcomer, "network", "rm", "compnet")
        run_rpod(newcomer, "volume", "rm", "compvol")


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_complete_at_a_terminal(newcomer: RpodEnv, tmp_path: Path, shell: str) -> None:
    from tests.support.tmux import terminal

    exe = shutil.which(shell)
    assert exe, f"{shell} is not installed (.ci/run installs it)"
    ok(run_rpod(newcomer, "run", "-d", "--name", f"in{shell}", "busybox", "sleep", "1000"))
    comp = tmp_path / "comp"
    comp.mkdir()
    if shell == "zsh":
        (comp / "_rpod").write_text(ok(run_rpod(newcomer, "completion", "zsh")).stdout)
        (tmp_path / ".zshrc").write_text(f"fpath=({comp} $fpath); autoload -Uz compinit; compinit -u; PS1='%% '\n")
        cmd = f"ZDOTDIR={tmp_path} exec zsh -i"
    else:
        (comp / "rpod.fish").write_text(ok(run_rpod(newcomer, "completion", "fish")).stdout)
        cmd = f"exec fish --no-config -C 'source {comp}/rpod.fish; function fish_prompt; echo \"% \"; end'"
    with terminal(tmp_path, dict(newcomer), cmd) as term:
        term.wait_prompt("%")
        term.send("rpod logs in", "Tab")
        term.wait_for(f"rpod logs in{shell}", what=f"{shell} completing the container name")
    ok(run_rpod(newcomer, "rm", "-f", "-t", "0", f"in{shell}"))


def test_every_command_has_a_man_page_that_renders(tmp_path: Path) -> None:
    from rpod.cli.manpages import generate

    man = shutil.which("man")
    assert man, "man-db is not installed (the quickstart and .ci/run install it)"
    pages = {p.name for p in generate(tmp_path)}
    helps = subprocess.run([sys.executable, "-m", "rpod", "--help"], capture_output=True, text=True).stdout
    commands = re.findall(r"^  (\S+)\s", helps.split("Available Commands:")[1].split("\n\n")[0], re.M)
    assert len(commands) > 40
    for c in commands:
        assert f"rpod-{c}.1" in pages, c
    assert {"rpod.1", "rpod-image-ls.1", "rpod-generate-systemd.1", "rpod-network-create.1"} <= pages
    for name in ("rpod.1", "rpod-run.1", "rpod-image-ls.1"):
        r = subprocess.run([man, "-l", str(tmp_path / name)], capture_output=True, text=True,
                           env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_STDERR": "1"}, timeout=60)
        assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
        assert "NAME" in r.stdout and "SYNOPSIS" in r.stdout
    run_page = subprocess.run([man, "-l", str(tmp_path / "rpod-run.1")], capture_output=True, text=True,
                              env={**os.environ, "MANWIDTH": "100"}).stdout
    assert "rpod run [options] IMAGE [COMMAND [ARG...]]" in run_page and "--detach" in run_page
    assert "EXAMPLES" in run_page and "rpod run --rm alpine echo hello" in run_page


def test_units_use_systemd_specifiers_not_this_shells_runtime_dir(newcomer: RpodEnv) -> None:
    env = {k: v for k, v in newcomer.items() if k != "XDG_RUNTIME_DIR"}  # e.g. a `su` shell: no runtime dir
    ok(run_rpod(env, "create", "--name", "unitctr", "busybox", "sleep", "1000"))
    try:
        for flags in (["--new"], []):
            unit = ok(run_rpod(env, "generate", "systemd", *flags, "unitctr")).stdout
            assert "RequiresMountsFor=%t/rpod\n" in unit, unit
            assert "/tmp/rpod-run" not in unit, unit
    finally:
        run_rpod(env, "rm", "-f", "unitctr")


def test_pull_progress_on_a_terminal(rpod_env: RpodEnv, tmp_path: Path) -> None:
    """Live bars (size, speed) while layers download, each finished as ``Copying blob ... done``
    before ``Writing manifest to image destination`` and the id; in a pipe, no bar at all."""
    from tests.support.tmux import terminal

    raw = tmp_path / "raw.log"
    cmd = f"read go; {sys.executable} -m rpod pull alpine; echo EXIT=$?; sleep 600"
    with terminal(tmp_path, dict(rpod_env), cmd, cols=140, rows=40) as term:
        subprocess.run([term.tmux, "-S", term.sock, "pipe-pane", "-o", f"cat >> {raw}"], check=True)
        term.send("go", "Enter")
        screen = term.wait_for("EXIT=", timeout=120, what="the pull to finish")
    assert "EXIT=0" in screen, screen
    lines = [ln.rstrip() for ln in screen.splitlines() if ln.strip()]
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(p)) for p in
             ("Trying to pull", "Getting image source signatures", "Copying blob", "Copying config",
              "Writing manifest to image destination")]
    assert order == sorted(order), lines
    blobs = [ln for ln in lines if ln.startswith("Copying blob")]
    assert blobs and all(re.fullmatch(r"Copying blob [0-9a-f]{12} done", b) for b in blobs), lines
    assert re.fullmatch(r"Copying config [0-9a-f]{12} done", lines[order[3]]), lines
    writing = order[4]
    assert re.fullmatch(r"[0-9a-f]{64}", lines[writing + 2]) and lines[writing + 1] == "Storing signatures", lines
    assert not any("[=" in ln or "[>" in ln for ln in lines), lines  # no bar left behind
    seen = raw.read_bytes().decode(errors="replace")
    assert re.search(r"Copying blob [0-9a-f]{12} \[[=>-]+\] [\d.]+\w*B / [\d.]+MiB \| [\d.]+\w*B/s", seen), seen[-2000:]
    piped = ok(run_rpod(rpod_env, "pull", "alpine"))
    assert "[" not in piped.stderr and "\x1b" not in piped.stderr, piped.stderr
