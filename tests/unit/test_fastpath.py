"""The click-free fast path of the everyday commands (rpod.cli.fast) parses exactly as click does.

Each command line runs through click's own ``app.main`` (cobra rewrite, count checks, ``--latest``
conflicts included) with the root's and the command's callbacks replaced by probes that record
their keyword arguments; the fast parser must give the same arguments, or hand the command line to
click (None).  It may never accept what click refuses.
"""

from __future__ import annotations

from typing import Any

import click
import pytest

from rpod.cli.fast import gen, plan

CASES: dict[str, list[list[str]]] = {
    "ps": [[], ["-a"], ["-aq"], ["--all"], ["--all=false"], ["-a=true"], ["--all=maybe"], ["-n", "3"], ["-n3"],
           ["--last=2"], ["--last", "x"], ["-f", "name=a", "--filter=status=running", "-fid=1"],
           ["--format", "{{.ID}}"], ["--format={{.Names}}"], ["--format", "json"], ["--format="],
           ["--sort", "names", "--noheading"], ["-s", "-p"], ["--latest"], ["-l", "-a"], ["--bogus"], ["-h"],
           ["--help"], ["-q", "extra"], ["--format"], ["-aqn2"], ["--no-trunc=true"], ["--external"], ["--", "x"],
           ["--"], ["-a", "--", "-q"], ["-ax"], ["--format", "-a"], ["--format", "--help"], ["-n", "-1"],
           ["--quiet=0", "--size=1"], ["-"], ["--all", "--all"]],
    "container ps": [["-a"], ["--noheading=true", "-q"]],
    "container ls": [["-qa"], ["--format", "{{.Names}}"]],
    "container list": [[]],
    "images": [[], ["-a"], ["-qa"], ["alpine"], ["alpine", "-q"], ["--filter", "dangling=true", "-f", "reference=x"],
               ["--format", "{{.ID}}"], ["--digests", "--no-trunc"], ["-n"], ["--sort=size"], ["a", "b"],
               ["--noheading=false"], ["-fdangling=true"], ["--format=json", "-a"]],
    "image ls": [["-q"], ["busybox"]],
    "image list": [["--all=1"]],
    "inspect": [["c1"], ["c1", "c2", "-f", "{{.Id}}"], ["--format={{.Name}}", "c1"], ["-t", "container", "c1"],
                ["--type=image", "x"], ["--type", "bogus", "x"], ["-l"], ["-l", "c1"], ["-s", "c1"],
                ["-fjson", "c1"], ["--size=false", "c1"], [], ["-t"], ["c1", "--", "-x"]],
    "container inspect": [["c1", "--format", "{{.State.Status}}"]],
    "image inspect": [["x"], [], ["-f", "{{.Id}}", "x", "y"], ["--format=json", "x"]],
    "logs": [["c"], ["-f", "c"], ["--tail", "5", "c"], ["--tail=x", "c"], ["-t", "--since", "1h", "c"],
             ["-n", "a", "b"], ["-ft", "c"], ["--tail=-1", "--until", "2020-01-01", "c"], ["-l"], ["-l", "c"],
             ["--follow=true", "c"], ["--color", "--details", "c"]],
    "container logs": [["c", "-f"]],
    "stop": [["c"], ["-t", "0", "c"], ["--time=3", "c"], ["--timeout", "2", "c"], ["-t", "1", "--timeout", "2", "c"],
             ["-a"], ["-ai"], ["--cidfile", "f1", "--cidfile", "f2"], ["-l"], ["-t"], ["-t0", "a", "b"],
             ["--all=true", "--ignore=false"], ["-l", "-a"], ["c", "-t", "x"]],
    "container stop": [["-t", "1", "c"]],
    "start": [["c"], ["-a", "c"], ["--sig-proxy=false", "-ai", "c"], ["--all"], ["-f", "status=exited"],
              ["--detach-keys", "ctrl-a", "c"], ["--attach=true", "c"], [], ["a", "b", "--interactive=false"]],
    "container start": [["c"]],
    "rm": [["c"], ["-f", "c"], ["-fv", "c"], ["-t", "3", "-f", "c"], ["--depend", "c"], ["-a"], ["--all=true"],
           ["-i", "c", "d"], ["--cidfile=x"], ["-l"], ["-l", "c"], ["-ft", "2", "c"], ["--time", "x", "c"]],
    "container rm": [["-f", "c"]],
    "exec": [["c", "true"], ["c", "ls", "-la"], ["-it", "c", "sh"],
             ["-e", "A=1", "--env", "B=2", "-u", "0", "-w", "/", "c", "env"], ["-d", "c", "sleep", "1"], ["c"],
             ["--", "c", "x"], ["-i=false", "c", "x"], ["--privileged", "c", "x"], ["c", "--tty=false"], [],
             ["--env-file", "f", "c", "x"], ["-ti", "c", "--help"], ["-h", "c", "x"], ["c", "--", "x"],
             ["-l", "c"], ["--user=1:1", "c", "id"], ["-eX", "c", "env"], ["--tty=maybe", "c"]],
    "container exec": [["-i", "c", "cat"]],
    "kill": [["c"], ["-s", "TERM", "c"], ["--signal=HUP", "c"], ["-s9", "c"], ["-a"], ["-l", "-a"], ["-s"]],
    "container kill": [["c"]],
    "wait": [["c"], ["--condition", "running", "--condition", "exited", "c"], ["-i", "1s", "c"], ["--ignore", "a", "b"],
             ["--condition=stopped", "-l"], ["--interval"]],
    "container wait": [["c"]],
    "port": [["c"], ["c", "80"], ["-a"], ["-l"], ["-l", "80"], ["a", "b", "c"], ["--all=true"]],
    "container port": [["c", "80/tcp"]],
    "version": [[], ["-f", "{{.Client.Version}}"], ["--format=json"], ["x"], ["-f"]],
}
GLOBALS = [[], ["--root", "/tmp/x"], ["--root=/tmp/x", "--runroot", "/tmp/y"], ["--log-level", "debug"],
           ["--log-level=bogus"], ["--debug"], ["-D"], ["--storage-driver", "vfs"], ["--version"], ["-v"], ["--help"],
           ["-h"], ["--noout"], ["--remote=false"], ["--hooks-dir", "a", "--hooks-dir", "b"], ["--max-workers", "3"],
           ["--max-workers", "x"], ["--storage-opt="], ["--debug=true", "--syslog=false"], ["--bogus"], ["--"],
           ["--runtime", "crun", "--runtime-flag", "x"], ["-c", "x"], ["--tmpdir"]]
# click accepts these; the fast path hands them to click (documented in rpod.cli.fast.parse)
ALLOWED_FALLBACKS = {("stop", "-t", "1", "--timeout", "2", "c"), ("--", "ps", "-a"), ("--", "container", "ls", "-q"),
                     ("--", "image", "ls"), ("--", "exec", "c", "true")}


def _click(argv: list[str], words: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any] | None:
    """What click's front door hands the root's and the command's callbacks, or None: it refuses."""
    from rpod.cli.app import _cobra_args, app

    seen: dict[str, Any] = {}
    monkeypatch.setattr(app, "callback", lambda **kw: seen.__setitem__("glob", kw))
    try:
        leaf = gen._resolve(words)
    except AssertionError:
        leaf = None
    if leaf is not None:
        monkeypatch.setattr(leaf, "callback", lambda **kw: seen.__setitem__("params", kw))
    try:
        app.main(args=_cobra_args(app, list(argv)), prog_name="rpod", standalone_mode=False)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, Exception):
        return None
    return (seen["glob"], seen["params"]) if "params" in seen else None


def _check(argv: list[str], words: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    expected = _click(argv, words, monkeypatch)
    capsys.readouterr()
    got = plan(argv)
    if expected is None:
        assert got is None, f"the fast path accepts what click refuses: {argv}"
        return
    if got is None:
        assert tuple(argv) in ALLOWED_FALLBACKS, f"{argv} falls back to click"
        return
    body, glob, params = got
    assert body == gen.ROUTES[words]
    assert (glob, params) == expected, argv


@pytest.mark.parametrize("words,args", [(w, a) for w, cases in CASES.items() for a in cases],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_fast_parser_matches_click(words: str, args: list[str], monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    _check([*words.split(), *args], words, monkeypatch, capsys)


@pytest.mark.parametrize("glob", GLOBALS, ids=" ".join)
@pytest.mark.parametrize("words,args", [("ps", ["-a"]), ("container", ["ls", "-q"]), ("image", ["ls"]),
                                        ("exec", ["c", "true"])])
def test_global_options_match_click(glob: list[str], words: str, args: list[str], monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture) -> None:
    route = words if words not in ("container", "image") else f"{words} {args[0]}"
    _check([*glob, words, *args], route, monkeypatch, capsys)


def test_odd_command_lines_fall_back() -> None:
    for argv in (["container"], ["container", "--help", "ps"], ["image"], ["nosuch"], ["pull", "x"], [],
                 ["__complete", "ps", ""], ["help", "ps"]):
        assert plan(argv) is None, argv


def test_table_is_generated_from_the_click_commands() -> None:
    """Add a flag to a click command and forget ``python -m rpod.cli.fast.gen``: this fails."""
    assert gen.TABLE.read_text() == gen.render(gen.build()), "run python -m rpod.cli.fast.gen"


def test_no_fastpath_and_completion_env_force_click(monkeypatch: pytest.MonkeyPatch) -> None:
    from rpod.cli import fast

    assert fast.enabled()
    monkeypatch.setenv("RPOD_NO_FASTPATH", "1")
    assert not fast.enabled() and fast.main(["version"]) is None
    monkeypatch.delenv("RPOD_NO_FASTPATH")
    monkeypatch.setenv("_RPOD_COMPLETE", "bash_complete")
    assert not fast.enabled()
