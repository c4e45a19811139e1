"""The mistakes a new user makes, table-driven: rpod's exit code must be Podman 4.3.1's (measured
side by side on this machine, same registry, same mistake) and the message must name the problem.

One store for the module: alpine pulled, ``up`` running, ``stopped`` created and never started.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv, ok, run_rpod

NONE = ("--network", "none")

# (what the user did wrong, argv, Podman 4.3.1's exit code, words the message must contain)
CASES: list[tuple[str, list[str], int, list[str]]] = [
    ("typo in the image name", ["pull", "alpnie"], 125, ["alpnie", "manifest unknown", "Hint:"]),
    ("typo in the image name on run", ["run", "--rm", *NONE, "alpnie", "true"], 125, ["alpnie", "manifest unknown"]),
    ("a tag that does not exist", ["pull", "alpine:nosuchtag"], 125, ["alpine:nosuchtag", "manifest unknown"]),
    ("the registry is down", ["pull", "127.0.0.1:1/alpine"], 125, ["cannot reach registry 127.0.0.1:1"]),
    ("an invalid reference", ["pull", "UPPER/Case"], 125, ["must be lowercase"]),
    ("an unknown flag", ["run", "--foo", "alpine", "true"], 125, ["--foo", "rpod run --help"]),
    ("an unknown command", ["fooo"], 125, ["fooo", "rpod --help"]),
    ("run without an image", ["run"], 125, ["IMAGE"]),
    ("create without an image", ["create"], 125, ["IMAGE"]),
    ("exec into a stopped container", ["exec", "stopped", "true"], 255,
     ["can only create exec sessions on running containers", "container state improper"]),
    ("exec without a command", ["exec", "up"], 255, ["must provide a non-empty command"]),
    ("exec into a container that does not exist", ["exec", "nosuch", "true"], 125,
     ['no container with name or ID "nosuch" found']),
    ("exec of a command the image lacks", ["exec", "up", "nosuchcmd"], 127, ["nosuchcmd", "not found"]),
    ("exec of a directory", ["exec", "up", "/etc"], 126, ["/etc"]),
    ("exec in a working directory that does not exist", ["exec", "-w", "/nonexist", "up", "true"], 127,
     ["chdir `/nonexist`"]),
    ("exec as a user the image lacks", ["exec", "-u", "nosuchuser", "up", "true"], 255,
     ["unable to find user nosuchuser"]),
    ("rm of a running container", ["rm", "up"], 2, ["as it is running", "rpod stop up", "rm -f"]),
    ("rm of a container that does not exist", ["rm", "nosuch"], 1, ['no container with name or ID "nosuch"']),
    ("rm -f of a container that does not exist", ["rm", "-f", "nosuch"], 0, []),
    ("a name that is taken", ["create", "--name", "up", "alpine", "true"], 125,
     ['the container name "up" is already in use', "--replace"]),
    ("a bad --format field", ["ps", "--format", "{{.Foo}}"], 125, ["can't evaluate field Foo"]),
    ("an inspect --format field that does not exist", ["inspect", "--format", "{{.Nope}}", "up"], 125,
     ["can't evaluate field Nope"]),
    ("a nested inspect --format field that does not exist", ["inspect", "--format", "{{.State.Nope}}", "up"], 125,
     ["can't evaluate field Nope in type *define.InspectContainerState"]),
    ("an image inspect --format field that does not exist", ["image", "inspect", "--format", "{{.Nope}}", "alpine"],
     125, ["can't evaluate field Nope"]),
    ("a --format that does not parse", ["images", "--format", "{{.Repository"], 125, ["template: images:1"]),
    ("run of a command the image lacks", ["run", "--rm", *NONE, "alpine", "nosuchcmd"], 127,
     ["nosuchcmd", "not found"]),
    ("run of a directory", ["run", "--rm", *NONE, "alpine", "/etc"], 126, ["/etc"]),
    ("run as a user the image lacks", ["run", "--rm", *NONE, "--user", "nosuchuser", "alpine", "true"], 126,
     ["unable to find user nosuchuser"]),
    ("run with a group the image lacks", ["run", "--rm", *NONE, "--user", "0:nosuchgroup", "alpine", "true"], 126,
     ["unable to find group nosuchgroup"]),
    ("a working directory that is a file", ["run", "--rm", *NONE, "-w", "/etc/passwd", "alpine", "true"], 126,
     ["/etc/passwd"]),
    ("no command at all", ["run", "--rm", *NONE, "--entrypoint=", "alpine"], 125, ["no command"]),
    ("rmi of an image in use", ["rmi", "alpine"], 2, ["in use", "Hint:"]),
    ("rmi of an image that does not exist", ["rmi", "nosuch"], 1, ["nosuch: image not known"]),
    ("rmi -f of an image that does not exist", ["rmi", "-f", "nosuch"], 0, []),
    ("stop of a container that does not exist", ["stop", "nosuch"], 125, ["no such container"]),
    ("inspect of something that does not exist", ["inspect", "nosuch"], 125, ['no such object: "nosuch"']),
    ("logs of a container that does not exist", ["logs", "nosuch"], 125, ["no such container"]),
    ("a host port that is not a number", ["run", "--rm", "-p", "abc:80", "alpine", "true"], 125, ["abc"]),
    ("a restart policy that does not exist", ["run", "--restart", "sometimes", "alpine", "true"], 125,
     ["sometimes", "on-failure"]),
    ("a network that does not exist", ["run", "--rm", "--network", "nosuchnet", "alpine", "true"], 125,
     ["nosuchnet", "network not found", "rpod network ls"]),
    ("a volume that does not exist", ["volume", "rm", "nosuchvol"], 1, ["nosuchvol"]),
    ("a bind mount whose source does not exist", ["run", "--rm", "-v", "/nonexistent:/x", "alpine", "true"], 125,
     ["/nonexistent", "no such file or directory"]),
    ("-it without a terminal (stdin is /dev/null)", ["run", "--rm", *NONE, "-it", "alpine", "echo", "hi"], 0,
     ["The input device is not a TTY"]),
    ("exec -it without a terminal (stdin is /dev/null)", ["exec", "-it", "up", "echo", "hi"], 0, []),
    ("a size that does not parse", ["run", "--rm", "--memory", "lots", "alpine", "true"], 125, ["lots"]),
]


@pytest.fixture(scope="module")
def mistakes_env(tmp_path_factory: pytest.TempPathFactory, registry: Registry, images: ImageSet) -> Iterator[RpodEnv]:
    env = RpodEnv(tmp_path_factory.mktemp("errors"))
    env["RPOD_HINTS"] = "1"  # hints go to a terminal only; these tests read them from a pipe
    env.write_registries_conf(search=[registry.address], insecure=[registry.address])
    ok(run_rpod(env, "pull", "-q", "alpine"))
    ok(run_rpod(env, "run", "-d", "--name", "up", *NONE, "alpine", "sleep", "1000"))
    ok(run_rpod(env, "create", "--name", "stopped", *NONE, "alpine", "true"))
    yield env
    run_rpod(env, "rm", "-af", "-t", "0")
    env.cleanup()


def test_https_to_a_plain_http_registry(mistakes_env: RpodEnv, registry: Registry) -> None:
    """``localhost:PORT`` is not the insecure ``127.0.0.1:PORT`` of registries.conf: rpod tries HTTPS
    and must say the registry speaks plain HTTP (Podman: 'server gave HTTP response to HTTPS client')."""
    port = registry.address.rsplit(":", 1)[1]
    r = run_rpod(mistakes_env, "pull", f"localhost:{port}/alpine")
    assert r.returncode == 125, r.stderr
    assert f"cannot reach registry localhost:{port}: it answers in plain HTTP, not HTTPS" in r.stderr
    assert "--tls-verify=false" in r.stderr and "insecure = true" in r.stderr


@pytest.mark.parametrize(("mistake", "argv", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_mistake(mistakes_env: RpodEnv, mistake: str, argv: list[str], code: int, words: list[str]) -> None:
    r = run_rpod(mistakes_env, *argv)
    assert r.returncode == code, f"{mistake}: exit {r.returncode}, Podman exits {code}\n{r.stderr}"
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error: ")]
    if code == 0:
        assert errors == [], r.stderr
        assert all(w in r.stderr for w in words), r.stderr
        return
    assert len(errors) == 1, f"{mistake}: expected one Error: line\n{r.stderr}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, f"{mistake}: {w!r} missing from\n{r.stderr}"


def test_mistakes_leave_the_containers_as_they_were(mistakes_env: RpodEnv) -> None:
    """None of the mistakes above removed or stopped anything (rm/rmi without -f refused)."""
    r = ok(run_rpod(mistakes_env, "ps", "-a", "--format", "{{.Names}} {{.State}}"))
    states = dict(line.split() for line in r.stdout.splitlines())
    assert states.get("up") == "running", r.stdout
    assert states.get("stopped") == "created", r.stdout


@pytest.mark.parametrize("via", ["file", "pipe"])
@pytest.mark.parametrize("cmd", [["run", "--rm", *NONE, "-it", "alpine"], ["exec", "-it", "up"]])
def test_it_in_a_script_reads_stdin_to_its_end(mistakes_env: RpodEnv, tmp_path: Path, via: str,
                                               cmd: list[str]) -> None:
    """``-it`` with a file or a pipe as stdin: the container's terminal gets it all, then end of
    input (^D), so ``cat`` ends (before: a file failed with 'monitor: PermissionError', a pipe hung)."""
    data = tmp_path / "in.txt"
    data.write_text("line1\nline2\n")
    argv = [sys.executable, "-m", "rpod", *cmd, "cat"]
    with data.open() as f:
        stdin = {"stdin": f} if via == "file" else {"input": data.read_text()}
        r = subprocess.run(argv, env=mistakes_env, capture_output=True, text=True, timeout=60,
                           cwd=mistakes_env["HOME"], **stdin)
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("\r\n", "\n").count("line2\n") == 2, repr(r.stdout)  # the terminal's echo + cat


@pytest.mark.parametrize("via", ["file", "pipe"])
def test_it_in_a_script_loses_nothing_of_a_large_input(mistakes_env: RpodEnv, tmp_path: Path, via: str) -> None:
    """20 000 lines through the pty (more than its buffers hold): nothing dropped, input ends.
    (The terminal's echo of the input may be cut where the count is printed: it is the echo the
    line discipline had pending when the process exited, so the count carries a marker.)"""
    data = tmp_path / "big.txt"
    data.write_text("".join(f"{i}\n" for i in range(20000)))
    argv = [sys.executable, "-m", "rpod", "run", "--rm", *NONE, "-it", "alpine", "sh", "-c", 'echo "count=$(wc -l)"']
    with data.open() as f:
        stdin = {"stdin": f} if via == "file" else {"input": data.read_text()}
        r = subprocess.run(argv, env=mistakes_env, capture_output=True, text=True, timeout=120,
                           cwd=mistakes_env["HOME"], **stdin)
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("\r\n", "\n").endswith("count=20000\n"), repr(r.stdout[-200:])
