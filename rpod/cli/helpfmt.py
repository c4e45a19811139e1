"""``--help`` laid out as Podman's (cobra's): summary, Description, Usage, Examples, Options.

Options are sorted by long name as Podman sorts them; on the commands with dozens of flags
(run, create) the everyday ones come first under ``Options:`` and the rest under
``Other options:``.  Usage lines name arguments in Podman's style (``CONTAINER [CONTAINER...]``).
The same data feeds the man pages (rpod.cli.manpages), so help and pages never disagree.
"""

from __future__ import annotations

from typing import Any

import click

EXAMPLES: dict[str, list[str]] = {
    "run": ["rpod run --rm alpine echo hello",
            "rpod run -it --name shell alpine sh",
            "rpod run -d --name web -p 8080:80 -v data:/data IMAGE",
            "echo input | rpod run --rm -i alpine cat"],
    "create": ["rpod create --name web -p 8080:80 IMAGE", "rpod start web"],
    "exec": ["rpod exec web ps", "rpod exec -it web sh", "rpod exec -e VAR=1 -w /tmp web env"],
    "ps": ["rpod ps", "rpod ps -a --format '{{.Names}} {{.Status}}'", "rpod ps -q --filter status=exited"],
    "build": ["rpod build -t myimage .", "rpod build -f Containerfile.dev -t dev ."],
    "pull": ["rpod pull alpine", "rpod pull --platform linux/arm64 registry.example.com/team/app:1.2",
             "rpod pull -q docker://busybox:latest"],
    "generate systemd": ["rpod generate systemd --new --name --files web",
                         "rpod generate systemd --restart-policy=always web > container-web.service"],
    "images": ["rpod images", "rpod images --format '{{.Repository}}:{{.Tag}} {{.Size}}'"],
    "logs": ["rpod logs -f web", "rpod logs --tail 10 web"],
    "completion": ["rpod completion bash > /etc/bash_completion.d/rpod",
                   "rpod completion zsh > /usr/local/share/zsh/site-functions/_rpod",
                   "rpod completion fish > ~/.config/fish/completions/rpod.fish"],
}

# run/create: the flags a newcomer looks for first; everything else is under "Other options"
COMMON = {"--detach", "--interactive", "--tty", "--name", "--rm", "--env", "--env-file", "--publish", "--volume",
          "--network", "--workdir", "--user", "--entrypoint", "--restart", "--hostname", "--label", "--pull",
          "--replace", "--userns", "--memory", "--cpus", "--health-cmd", "--mount", "--quiet", "--help",
          "--init", "--cap-add", "--cap-drop", "--platform", "--tls-verify", "--sdnotify", "--read-only"}
GROUPED = {"run", "create", "container run", "container create"}
# other names of a subcommand, not listed under "Available Commands" (cobra lists a command once)
ALIASES = {"container": {"ls"}, "image": {"ls", "umount"}, "pod": {"list", "ls"}, "volume": {"list", "remove"},
           "network": {"list", "remove"}, "secret": {"list"}}
_TYPES = {"TEXT": "string", "INTEGER": "int", "FLOAT": "float", "BOOLEAN": "bool"}


def command_key(ctx: click.Context) -> str:
    """``run``, ``generate systemd``: the command path without the program and ``container``."""
    parts = ctx.command_path.split()[1:]
    return " ".join(parts)


def examples(key: str) -> list[str]:
    return EXAMPLES.get(key) or EXAMPLES.get(key.removeprefix("container ").removeprefix("image "), [])


def arg_usage(p: click.Argument) -> str:
    if p.metavar:
        return p.metavar
    name = (p.name or "arg").upper()
    if p.nargs == -1:
        one = name[:-1] if name.endswith("S") and name not in ("ARGS",) else name
        if name == "COMMAND":
            return "[COMMAND [ARG...]]"
        return f"{one} [{one}...]" if p.required else f"[{one}...]"
    return name if p.required else f"[{name}]"


_OPTIONAL_CONTAINERS = {"stats"}  # none means all running: Podman's usage shows [CONTAINER...]


def usage_line(cmd: click.Command, ctx: click.Context) -> str:
    """``rpod stop [options] CONTAINER [CONTAINER...]`` (``[command]`` for groups)."""
    helps = set(ctx.help_option_names)
    has_options = any(isinstance(p, click.Option) and not p.hidden and not helps & set(p.opts)
                      for p in cmd.get_params(ctx))
    if isinstance(cmd, click.Group):
        return f"{ctx.command_path} {'[options] ' if has_options else ''}[command]"
    pieces = [ctx.command_path]
    if has_options:
        pieces.append("[options]")
    for p in cmd.params:
        if isinstance(p, click.Argument):
            u = arg_usage(p)
            if p.name == "containers" and not p.required and cmd.name not in _OPTIONAL_CONTAINERS:
                u = "CONTAINER [CONTAINER...]"  # one or --all/--latest: Podman shows the common case
            pieces.append(u)
    return " ".join(pieces)


def option_rows(cmd: click.Command, ctx: click.Context) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(everyday, other) option rows sorted by long name; ``other`` is empty unless grouped."""
    rows: list[tuple[str, str, str]] = []
    for p in cmd.get_params(ctx):
        if not isinstance(p, click.Option) or p.hidden:
            continue
        rec = p.get_help_record(ctx)
        if rec is None:
            continue
        left, text = rec
        if p.secondary_opts:  # pflag has no --no- forms: "--new / --no-new" shows as "--new"
            left = left.split(" / ")[0]
        for k, v in _TYPES.items():
            left = left.replace(f" {k}", f" {v}")
        longs = [o for o in p.opts + p.secondary_opts if o.startswith("--")]
        key = (longs[0] if longs else p.opts[0]).lstrip("-")
        rows.append((key, left if left.startswith("--") else left, text))
    rows.sort(key=lambda r: r[0])
    if command_key(ctx) not in GROUPED:
        return [(a, b) for _, a, b in rows], []
    common = [(a, b) for k, a, b in rows if f"--{k}" in COMMON]
    other = [(a, b) for k, a, b in rows if f"--{k}" not in COMMON]
    return common, other


def _indent_short(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``-d, --detach`` / ``    --name`` aligned as Podman aligns them."""
    return [(a if a.startswith("-") and not a.startswith("--") else "    " + a, b) for a, b in rows]


def format_help(cmd: click.Command, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """Podman's layout of ``--help``."""
    text = (cmd.help or "").strip()
    summary, _, rest = text.partition("\n")
    formatter.write_text(summary.rstrip("."))
    if rest.strip():
        formatter.write_paragraph()
        formatter.write("Description:\n")
        with formatter.indentation():
            formatter.write_text(rest.strip())
    formatter.write_paragraph()
    formatter.write(f"Usage:\n  {usage_line(cmd, ctx)}\n")
    if isinstance(cmd, click.Group):
        _format_commands(cmd, ctx, formatter)
    ex = examples(command_key(ctx))
    if ex:
        formatter.write_paragraph()
        formatter.write("Examples:\n")
        for line in ex:
            formatter.write(f"  {line.replace('rpod ', ctx.find_root().info_name + ' ', 1)}\n")
    common, other = option_rows(cmd, ctx)
    if all(left.lstrip().startswith("-h, --help") for left, _ in common) and not other:
        common = []  # only --help: no Options section, as cobra (the usage line has no [options])
    if common:
        with formatter.section("Options"):
            formatter.write_dl(_indent_short(common))
    if other:
        with formatter.section("Other options"):
            formatter.write_dl(_indent_short(other))


def _format_commands(cmd: click.Group, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    if getattr(type(cmd), "format_commands", None) is not click.Group.format_commands:
        cmd.format_commands(ctx, formatter)  # the root's table: no module imported
        return
    rows = []
    aliases = ALIASES.get(command_key(ctx), set())
    for name in cmd.list_commands(ctx):
        if name in aliases:
            continue
        sub = cmd.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            rows.append((name, sub.get_short_help_str(80).rstrip(".")))
    if rows:
        write_command_rows(formatter, rows)


def write_command_rows(formatter: click.HelpFormatter, rows: list[tuple[str, str]]) -> None:
    """``Available Commands:`` one line per command, never wrapped (scripts read the first word
    of each line, as Podman's own tests do)."""
    width = max(len(name) for name, _ in rows)
    formatter.write("\nAvailable Commands:\n")
    for name, summary in rows:
        formatter.write(f"  {name:<{width}}  {summary}\n".rstrip() + "\n")


class PodmanHelpMixin:
    """Gives any click command Podman's ``--help`` layout."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_help(self, ctx, formatter)  # type: ignore[arg-type]

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write(f"Usage:\n  {usage_line(self, ctx)}\n")  # type: ignore[arg-type]


def adopt(cmd: Any, mixins: tuple[type, ...] = ()) -> Any:
    """Give ``cmd`` (a click command or group) Podman's help layout and the given mixins, once."""
    if cmd is None:
        return cmd
    missing = [m for m in mixins if not isinstance(cmd, m)]
    if getattr(cmd, "_rpod_adopted", False):  # adopted for help first (help, man pages): add the mixins now
        if missing:
            cmd.__class__ = type(cmd.__class__.__name__, (*missing, cmd.__class__), {})
        return cmd
    bases = (*missing, PodmanHelpMixin, cmd.__class__)
    cmd.__class__ = type(f"Rpod{cmd.__class__.__name__}", bases, {})
    cmd._rpod_adopted = True
    cmd.options_metavar = "[options]"
    return cmd
