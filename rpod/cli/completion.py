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


# what an argument names, read from its usage token (``CONTAINER``, ``{CONTAINER...|POD...}``), as
# Podman's per-command completion functions follow their usage lines
_TOKEN_KINDS = (("CONTAINER", "container"), ("POD", "pod"), ("IMAGE", "image"), ("NETWORK", "network"),
                ("VOLUME", "volume"), ("SECRET", "secret"), ("REGISTRY", "registry"))
# tokens of a host path or a command line: the shell's own file completion (directive Default)
_PATHLIKE = ("PATH", "CONTEXT", "FILE", "COMMAND", "ARG", "URI", "SOURCE", "OUTPUT_DIR")


def _arg_kinds(path: list[str], param: click.Argument) -> list[str] | None:
    """The kinds of object a positional argument names; [] for a host path (file completion);
    None for a word rpod cannot suggest (a new name, a label)."""
    from rpod.cli.helpfmt import arg_usage

    if path and path[0] == "container":
        path = path[1:]
    group = path[0] if len(path) > 1 else ""
    cmd = path[-1] if path else ""
    name = param.name or ""
    if name in ("src", "dest"):
        return ["cp"]
    token = arg_usage(param).upper()
    kinds = [kind for word, kind in _TOKEN_KINDS if word in token]
    if kinds:
        return kinds
    if any(word in token for word in _PATHLIKE) or name in ("command", "descriptors"):
        return []
    if name in ("name", "names") and cmd not in ("create", "untag", "pull", "import"):
        if group in ("network", "volume"):
            return [group]
        if group == "image" or cmd == "rmi":
            return ["image"]
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
    if kind == "pod":
        return names.pod_names(p), NOFILE
    if kind == "secret":
        return names.secret_names(p), NOFILE
    if kind == "registry":
        return names.registry_names(), NOFILE
    if kind == "cp":  # Podman's AutocompleteCpCommand
        if ":" in incomplete:  # a path in the container, read from its layers
            ctr, _, inside = incomplete.partition(":")
            found, nospace = names.container_paths(p, ctr, inside)
            return [f"{ctr}:{f}" for f in found], NOSPACE if nospace else 0
        ctrs = names.container_names(p)
        if any(c.startswith(incomplete) for c in ctrs):
            return [f"{n}:" for n in ctrs], NOSPACE
        return [], 0  # a host path
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
    return _positional(obj, ctx, path, inc)


def _positional(param: click.Parameter, ctx: click.Context, path: list[str],
                inc: str) -> tuple[list[tuple[str, str]], int]:
    """Candidates for a positional argument."""
    cmd = [w for w in path if w != "container"]
    if cmd in (["run"], ["create"]) and param.name == "command":  # Podman's AutocompleteCreateRun
        from rpod.engine import completion as names

        image = ctx.params.get("image")
        if image:
            found, nospace = names.image_paths(None, image, inc)
            return [(w, "") for w in found], NOSPACE if nospace else 0
        return [], 0
    if isinstance(param, click.Argument) and param.nargs == -1:  # "IMAGE [IMAGE]": at most two, as its usage says
        from rpod.cli.helpfmt import arg_usage

        token = arg_usage(param)
        if "..." not in token and len(ctx.params.get(param.name or "") or ()) >= len(token.split()):
            return [], NOFILE
    kinds = _arg_kinds(path, param) if isinstance(param, click.Argument) else None
    if kinds is None:  # a new name, a label...: nothing to suggest
        return [], NOFILE
    if not kinds:  # a path or a command line: the shell's own file completion
        return [], 0
    rows: list[tuple[str, str]] = []
    directive = NOFILE
    for kind in kinds:
        found, directive = _objects(kind, path, inc)
        rows += [(w, "") for w in found if kind == "cp" or w.startswith(inc)]
        if kind == "volume":
            directive = NOFILE  # (``-v`` takes host paths too; a VOLUME argument does not)
    return rows, directive


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
