"""Root of the ``rpod`` command line: global options, lazy command table, exit codes.

Commands live in ``rpod.cli.<noun>`` as click commands; only the module of
the command being run is imported, so ``rpod run`` does not pay for ``pull``'s
``requests`` or ``network``'s ``pyroute2``.  Every error leaves through
``main()``, which prints ``Error: ...`` on stderr and maps it to Podman's exit
codes (125 for rpod's own failures, the container's code otherwise).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from rpod import __version__
from rpod.cli.cobra import CobraCommandMixin
from rpod.cli.common import print_error
from rpod.cli.globals import global_options
from rpod.cli.helpfmt import PodmanHelpMixin, adopt
from rpod.errors import EXIT_ENGINE

# name -> (module, command, summary).  ``command`` is the name of the command in the module's ``app``
# group (or in its ``top_level`` group, for commands that exist only at the top level); None means
# the module's ``app`` is itself the group (``image``, ``volume``...).  Aliases (``images`` =
# ``image ls``, ``rmi`` = ``image rm``, ``ps`` = ``container ps``) point at the one definition.
COMMANDS: dict[str, tuple[str, str | None, str]] = {
    "pull": ("rpod.cli.image", "pull", "Pull an image from a registry"),
    "images": ("rpod.cli.image", "ls", "List images in local storage"),
    "rmi": ("rpod.cli.image", "rm", "Remove one or more images from local storage"),
    "tag": ("rpod.cli.image", "tag", "Add an additional name to a local image"),
    "untag": ("rpod.cli.image", "untag", "Remove a name from a local image"),
    "image": ("rpod.cli.image", None, "Manage images"),
    "build": ("rpod.cli.build", "build", "Build an image using instructions from Containerfiles"),
    "commit": ("rpod.cli.commit", "commit", "Create new image based on the changed container"),
    "buildx": ("rpod.cli.buildx", None, "Build images (buildx compatibility)"),
    "import": ("rpod.cli.ship", "import", "Import a tarball to create a filesystem image"),
    "push": ("rpod.cli.ship", "push", "Push an image to a specified destination"),
    "save": ("rpod.cli.ship", "save", "Save image(s) to an archive"),
    "load": ("rpod.cli.ship", "load", "Load image(s) from a tar archive"),
    "history": ("rpod.cli.ship", "history", "Show history of a specified image"),
    "search": ("rpod.cli.ship", "search", "Search registry for image"),
    "manifest": ("rpod.cli.manifest", None, "Manipulate manifest lists and image indexes"),
    "login": ("rpod.cli.login", "login", "Log in to a container registry"),
    "logout": ("rpod.cli.login", "logout", "Log out of a container registry"),
    "info": ("rpod.cli.system", "info", "Display rpod related system information"),
    "version": ("rpod.cli.system", "version", "Display the rpod version information"),
    "unshare": ("rpod.cli.system", "unshare", "Run a command in a modified user namespace"),
    "system": ("rpod.cli.system", None, "Manage rpod"),
    "events": ("rpod.cli.events", "events", "Show rpod events"),
    "volume": ("rpod.cli.volume", None, "Manage volumes"),
    "network": ("rpod.cli.network", None, "Manage networks"),
    "run": ("rpod.cli.run", "run", "Run a command in a new container"),
    "create": ("rpod.cli.run", "create", "Create but do not start a container"),
    "start": ("rpod.cli.run", "start", "Start one or more containers"),
    "attach": ("rpod.cli.run", "attach", "Attach to a running container"),
    "container": ("rpod.cli.container", None, "Manage containers"),
    "ps": ("rpod.cli.container", "ps", "List containers"),
    "rm": ("rpod.cli.container", "rm", "Remove one or more containers"),
    "stop": ("rpod.cli.container", "stop", "Stop one or more containers"),
    "kill": ("rpod.cli.container", "kill", "Send a signal to one or more containers"),
    "wait": ("rpod.cli.container", "wait", "Wait for containers to stop and print their exit codes"),
    "logs": ("rpod.cli.container", "logs", "Fetch the logs of one or more containers"),
    "inspect": ("rpod.cli.container", "inspect", "Display the configuration of containers"),
    "exec": ("rpod.cli.container", "exec", "Run a process in a running container"),
    "restart": ("rpod.cli.container", "restart", "Restart one or more containers"),
    "rename": ("rpod.cli.container", "rename", "Rename an existing container"),
    "update": ("rpod.cli.update", "update", "Update an existing container"),
    "port": ("rpod.cli.container", "port", "List port mappings or a specific mapping for the container"),
    "pause": ("rpod.cli.container", "pause", "Pause all the processes in one or more containers"),
    "unpause": ("rpod.cli.container", "unpause", "Unpause the processes in one or more containers"),
    "top": ("rpod.cli.container", "top", "Display the running processes of a container"),
    "stats": ("rpod.cli.stats", "stats", "Display a live stream of container resource usage statistics"),
    "cp": ("rpod.cli.container_files", "cp", "Copy files/folders between a container and the local filesystem"),
    "diff": ("rpod.cli.container_files", "diff", "Display the changes to the object's file system"),
    "export": ("rpod.cli.container_files", "export", "Export container's filesystem contents as a tar archive"),
    "healthcheck": ("rpod.cli.healthcheck", None, "Manage health checks on containers"),
    "generate": ("rpod.cli.generate", None, "Generate structured data based on containers"),
    "quadlet": ("rpod.cli.quadlet", "quadlet", "Turn Quadlet .container/.volume/.network files into systemd units"),
    "pod": ("rpod.cli.pod", None, "Manage pods"),
    "kube": ("rpod.cli.kube", None, "Play containers, pods or volumes from a structured file"),
    "play": ("rpod.cli.kube", "play", "Play containers, pods or volumes from a structured file"),
    "secret": ("rpod.cli.secret", None, "Manage secrets"),
    "compose": ("rpod.cli.compose", "compose", "Run compose workloads via an external provider such as podman-compose"),
    "auto-update": ("rpod.cli.autoupdate", "auto-update",
                    "Auto update containers according to their auto-update policy"),
    "completion": ("rpod.cli.completion", "completion", "Generate shell autocompletions"),
    "help": ("rpod.cli.helpcmd", "help", "Help about any command"),
}
HIDDEN = {"__complete", "__completeNoDesc"}
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _cobra_args(cmd: click.Command, args: list[str]) -> list[str]:
    """Accept cobra's ``--flag=true|false`` on every boolean flag of ``cmd`` (see rpod.cli.globals)."""
    from rpod.cli.globals import bool_values

    interspersed = (cmd.context_settings or {}).get("allow_interspersed_args", cmd.allow_interspersed_args)
    return bool_values(cmd, args, stop_at_positional=isinstance(cmd, click.Group) or not interspersed)


class CobraGroupMixin:
    """Resolves subcommands as cobra does: Podman's errors, ``--flag=BOOL``, Podman's help layout."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:  # type: ignore[attr-defined]
            known = {o for p in self.params for o in p.opts + p.secondary_opts}  # type: ignore[attr-defined]
            flag = next((a.split("=")[0] for a in args[1:] if a.startswith("-") and a.split("=")[0] not in known), None)
            if flag:  # cobra parses the flags first
                raise click.exceptions.NoSuchOption(flag, ctx=ctx)
            raise UnknownCommand(f"unrecognized command `{ctx.command_path} {args[0]}`", ctx)
        name, cmd, rest = super().resolve_command(ctx, args)  # type: ignore[misc]
        if name:  # for errors click raises without a context (a flag's missing value)
            _RESOLVED[0] = f"{ctx.command_path} {name}"
        adopt(cmd, (CobraGroupMixin,) if isinstance(cmd, click.Group) else (CobraCommandMixin,))
        if cmd is not None and not isinstance(cmd, click.Group):
            rest = _cobra_args(cmd, rest)
        return name, cmd, rest

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing and not getattr(self, "invoke_without_command", False):
            raise MissingCommand(ctx)
        rest = super().parse_args(ctx, args)  # type: ignore[misc]
        if not ctx.resilient_parsing and not getattr(ctx, "_protected_args", None) and not ctx.args \
                and not getattr(self, "invoke_without_command", False):
            raise MissingCommand(ctx)  # only options (``rpod --remote``): usage, as Podman
        return rest


_RESOLVED = ["rpod"]  # the command path last resolved (its first word: the program name)


class UnknownCommand(click.exceptions.UsageError):
    """``rpod nosuch``: ``Error: unrecognized command `rpod nosuch```."""


class MissingCommand(click.exceptions.UsageError):
    """A command group run without a subcommand: usage on stdout, Podman's error, 125."""

    def __init__(self, ctx: click.Context):
        super().__init__(f"missing command '{ctx.command_path} COMMAND'", ctx)


class LazyGroup(CobraGroupMixin, PodmanHelpMixin, click.Group):
    """A group that imports a command's module only when that command runs.

    Why click and not typer: typer 0.29 builds a pydantic TypeAdapter for every
    parameter, which costs ~150 ms for a command with ``run``'s ~80 flags; click,
    which typer is built on, parses the same flags in a few milliseconds (see
    docs/decisions.md).
    """

    table = COMMANDS  # name -> (..., summary): what completion lists without importing a module

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, command, summary = entry
        module = importlib.import_module(module_name)
        group: click.Group = module.app
        if command is None:
            group.name = cmd_name
            group.help = group.help or summary
            return group
        top_level = getattr(module, "top_level", None)
        if top_level is not None and command in top_level.commands:
            return top_level.commands[command]
        return group.get_command(ctx, command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands from the table, without importing their modules."""
        from rpod.cli.helpfmt import write_command_rows

        write_command_rows(formatter, [(name, summary) for name, (_, _, summary) in sorted(COMMANDS.items())])


def program_name() -> str:
    """The name rpod was run as (``podman`` when installed under that name, as a drop-in):
    what usage lines, ``See '... --help'`` and ``-v`` say; ``rpod`` under ``python -m rpod``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    ok = name[:1].isalpha() and not name.endswith(".py") and name.replace("-", "").isalnum()
    return name if ok else "rpod"  # (python -m rpod: __main__.py; python -c: -c)


def _version_callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(f"{program_name()} version {__version__}")
        ctx.exit(0)


@click.group(cls=LazyGroup, context_settings=CONTEXT, options_metavar="[options]",
             subcommand_metavar="[command]",
             help="Manage pods, containers and images\n\nrpod: rootless, daemonless, Podman-compatible containers.")
@global_options
@click.option("--version", "-v", is_flag=True, expose_value=False, is_eager=True, callback=_version_callback,
              help="version for rpod")
def app(**opts: Any) -> None:
    """Global options shared by every command (rpod.cli.globals applies them)."""
    from rpod.cli.globals import apply

    apply(opts)


def _hide_remote(argv: list[str]) -> None:
    """Podman leaves ``--remote`` out of ``--help`` once a connection is named (CONTAINER_HOST,
    CONTAINER_CONNECTION, --url, --connection)."""
    from rpod.cli.globals import remote_requested

    named = {"--url", "--connection", "-c", "--host", "-H"}
    if remote_requested() or any(a.split("=")[0] in named for a in argv):
        for p in app.params:
            if isinstance(p, click.Option) and "--remote" in p.opts:
                p.hidden = True


def _usage_error(e: click.exceptions.ClickException) -> None:
    """A flag or argument error in Podman's (cobra's) words: ``Error: unknown flag: --x`` + ``See '...'``."""
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else _RESOLVED[0]
    msg = e.format_message()
    if isinstance(e, click.exceptions.NoSuchOption):
        msg = f"unknown flag: {e.option_name}"
    elif isinstance(e, click.exceptions.BadOptionUsage) and "requires an argument" in msg:
        name = e.option_name
        msg = f"flag needs an argument: '{name.lstrip('-')}' in {name}" if not name.startswith("--") \
            else f"flag needs an argument: {name}"
    elif isinstance(e, UnknownCommand):
        print_error(msg)
        sys.stderr.write(f"Try '{path} --help' for more information\n")
        return
    else:
        pieces = " ".join(ctx.command.collect_usage_pieces(ctx)) if ctx is not None else ""
        print_error(msg, f"usage: {path} {pieces}; see '{path} --help'" if pieces else f"see '{path} --help'")
        return
    print_error(msg)
    sys.stderr.write(f"See '{path} --help'\n")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in HIDDEN:  # cobra's completion protocol: every word verbatim (even "--")
        from rpod.cli.completion import answer

        return answer(app, list(argv[1:]), descriptions=argv[0] == "__complete")
    _hide_remote(argv)
    from rpod.cli.exits import guarded

    return guarded(lambda: _click_main(argv))


def _click_main(argv: list[str]) -> Any:
    """click's part of :func:`main`: its own exceptions; the rest leave through rpod.cli.exits."""
    try:
        return app.main(args=_cobra_args(app, list(argv)), prog_name=program_name(), standalone_mode=False)
    except MissingCommand as e:  # usage on stdout, then Podman's error
        sys.stdout.write(e.ctx.get_help() + "\n")
        sys.stdout.flush()
        print_error(e.format_message())
        return EXIT_ENGINE
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        sys.stderr.write("Error: aborted\n")
        return EXIT_ENGINE
    except click.exceptions.ClickException as e:
        _usage_error(e)
        return EXIT_ENGINE
