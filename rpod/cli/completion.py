"""Shell completion: ``rpod completion bash|zsh|fish`` and cobra's hidden ``__complete`` protocol.

Podman's completion scripts (cobra's) call ``podman __complete ARGS... WORD`` (or
``__completeNoDesc``), which prints one candidate a line (``word<TAB>description``), then
``:DIRECTIVE`` (a bit set: 1 error, 2 no space, 4 no file completion, 8 filter by extension,
16 directories only) and, on stderr, ``Completion ended with directive: ...``.  rpod answers the
same protocol from its click definitions, so cobra-style scripts work with rpod, and the scripts
``rpod completion SHELL`` prints are small clients of it.  Objects are completed where Podman
completes them: containers (running ones for stop/exec/kill..., stopped ones for start), images,
networks, volumes.
"""

from __future__ import annotations

import sys

import click

app = click.Group()

ERROR, NOSPACE, NOFILE, FILTER_EXT, FILTER_DIRS = 1, 2, 4, 8, 16
_NAMES = {ERROR: "ShellCompDirectiveError", NOSPACE: "ShellCompDirectiveNoSpace",
          NOFILE: "ShellCompDirectiveNoFileComp", FILTER_EXT: "ShellCompDirectiveFilterFileExt",
          FILTER_DIRS: "ShellCompDirectiveFilterDirs"}

# container state a command completes (others complete every container)
_RUNNING = {"stop", "kill", "exec", "attach", "top", "pause", "port", "healthcheck"}
_STOPPED = {"start"}
# option values that name objects
_OPTION_KINDS = {"--network": "network", "--net": "network", "--volume": "volume", "-v": "volume",
                 "--volumes-from": "container", "--pod": "pod", "--log-level": "log-level",
                 "--events-backend": "events-backend", "--cgroup-manager": "cgroup-manager"}
_CHOICES = {"log-level": ["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"],
            "events-backend": ["file", "journald", "none"], "cgroup-manager": ["cgroupfs", "systemd"]}


def directive_name(d: int) -> str:
    if d == 0:
        return "ShellCompDirectiveDefault"
    return ", ".join(n for bit, n in _NAMES.items() if d & bit)


def _arg_kind(path: list[str], param: str) -> str | None:
    """The kind of object a positional argument names, from the command path and the argument."""
    if path and path[0] == "container":
        path = path[1:]
    group = path[0] if len(path) > 1 else ""
    cmd = path[-1] if path else ""
    if param in ("container", "containers"):
        return "container"
    if param in ("image", "images"):
        return "image"
    if param in ("network", "networks"):
        return "network"
    if param in ("volume", "volumes"):
        return "volume"
    if cmd == "create":
        return None  # a new name
    if param in ("name", "names"):
        if group in ("network", "volume"):
            return group
        if group == "image" or cmd in ("rmi", "pull"):
            return "image" if cmd != "pull" else None
        if cmd == "untag":
            return None
    if param in ("src", "dest"):
        return "cp"
    return None


def _container_state(path: list[str]) -> str:
    from rpod.engine import completion as names

    cmd = [p for p in path if p != "container"]
    first = cmd[0] if cmd else ""
    if first in _RUNNING:
        return names.RUNNING
    if first in _STOPPED:
        return names.NOT_RUNNING
    return names.ANY


def _objects(kind: str, path: list[str], incomplete: str) -> tuple[list[str], int]:
    """Candidates for one kind of object, and the directive."""
    from rpod.engine import completion as names

    p = None  # the invocation's store (--root/--runroot are in the environment)
    if kind == "container":
        return names.container_names(p, _container_state(path)), NOFILE
    if kind == "image":
        return names.image_names(p, incomplete), NOFILE
    if kind == "network":
        return names.network_names(p), NOFILE
    if kind == "volume":
        return names.volume_names(p), 0  # -v also takes host paths
    if kind == "cp":
        if ":" in incomplete:  # a path in the container: not listed
            return [], NOSPACE | NOFILE
        return [f"{n}:" for n in names.container_names(p)], NOSPACE
    if kind in _CHOICES:
        return list(_CHOICES[kind]), NOFILE
    return [], NOFILE


def _options(cmd: click.Command, ctx: click.Context, incomplete: str) -> list[tuple[str, str]]:
    out = []
    for p in cmd.get_params(ctx):
        if isinstance(p, click.Option) and not p.hidden:
            for o in p.opts + p.secondary_opts:
                if o.startswith(incomplete) and (incomplete.startswith("--") == o.startswith("--") or incomplete == "-"):
                    out.append((o, (p.help or "").split("\n")[0]))
    return sorted(out, key=lambda t: (not t[0].startswith("--"), t[0]))


def complete(root: click.Group, words: list[str]) -> tuple[list[tuple[str, str]], int]:
    """Candidates (word, description) and directive for ``rpod WORDS...`` whose last word is being typed."""
    from click.shell_completion import _resolve_context, _resolve_incomplete

    args, incomplete = words[:-1], (words[-1] if words else "")
    try:
        ctx = _resolve_context(root, {}, "rpod", list(args))
        obj, inc = _resolve_incomplete(ctx, list(args), incomplete)
    except Exception:
        return [], ERROR
    path = ctx.command_path.split()[1:]
    prefix = ""
    if isinstance(obj, click.Option) and incomplete.startswith("-") and "=" in incomplete:
        prefix = incomplete[: incomplete.index("=") + 1]
    if isinstance(obj, click.Command):
        if incomplete.startswith("-"):
            return _options(obj, ctx, incomplete), NOFILE
        if obj is root:  # the command table: no command module imported
            table = getattr(root, "table", {})
            return [(n, summary) for n, (*_, summary) in sorted(table.items()) if n.startswith(incomplete)], NOFILE
        if isinstance(obj, click.Group):
            rows = []
            for n in obj.list_commands(ctx):
                sub = obj.get_command(ctx, n)
                if sub is not None and not sub.hidden and n.startswith(incomplete):
                    rows.append((n, sub.get_short_help_str(80)))
            return rows, NOFILE
        return [], NOFILE
    if isinstance(obj, click.Option):
        kind = next((_OPTION_KINDS[o] for o in obj.opts if o in _OPTION_KINDS), None)
        if kind is None:
            if isinstance(obj.type, click.Choice):
                words_ = [str(c) for c in obj.type.choices]
                return [(prefix + w, "") for w in words_ if w.startswith(inc)], NOFILE
            return [], 0
        found, directive = _objects(kind, path, inc)
        return [(prefix + w, "") for w in found if w.startswith(inc)], directive
    kind = _arg_kind(path, obj.name or "")
    if kind is None:  # a path or a command line: the shell's own file completion; else a new name
        return [], 0 if obj.name in ("command", "output_dirs", "descriptors") else NOFILE
    found, directive = _objects(kind, path, inc)
    return [(w, "") for w in found if w.startswith(inc)], directive


def answer(root: click.Group, words: list[str], descriptions: bool) -> int:
    """Print the candidates for ``words`` under the command tree ``root`` in cobra's format; exit code 0."""
    try:
        rows, directive = complete(root, words)
    except Exception:  # a completion never shows a traceback to the shell
        rows, directive = [], ERROR
    out = sys.stdout
    for word, desc in rows:
        out.write(f"{word}\t{desc}\n" if descriptions and desc else f"{word}\n")
    out.write(f":{directive}\n")
    out.flush()
    sys.stderr.write(f"Completion ended with directive: {directive_name(directive)}\n")
    return 0


_HIDDEN = {"hidden": True, "context_settings": {"ignore_unknown_options": True, "allow_extra_args": True,
                                                "help_option_names": []}, "add_help_option": False}


@app.command("__complete", **_HIDDEN)
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
def complete_cmd(words: tuple[str, ...]) -> None:
    """Request shell completion choices for the specified command-line (cobra's protocol)."""
    answer(click.get_current_context().find_root().command, list(words), True)


@app.command("__completeNoDesc", **_HIDDEN)
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
def complete_nodesc_cmd(words: tuple[str, ...]) -> None:
    """The same, without descriptions."""
    answer(click.get_current_context().find_root().command, list(words), False)


@app.command("completion", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--file", "-f", "path", metavar="string", help="Output the completion to file rather than stdout.")
@click.option("--no-desc", is_flag=True, help="Don't include descriptions in the completion output.")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]), metavar="SHELL")
def completion_cmd(path: str | None, no_desc: bool, shell: str) -> None:
    """Generate shell autocompletions (bash, zsh or fish).

    \b
    Bash:  rpod completion bash > /etc/bash_completion.d/rpod   (or source <(rpod completion bash))
    Zsh:   rpod completion zsh > "${fpath[1]}/_rpod"
    Fish:  rpod completion fish > ~/.config/fish/completions/rpod.fish
    """
    from rpod.cli.completion_scripts import script

    text = script(shell, "rpod", no_desc)
    if path:
        with open(path, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
