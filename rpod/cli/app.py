"""Root of the ``rpod`` command line: global options, lazy command table, exit codes.

Commands live in ``rpod.cli.<module>`` as small Typer apps; only the module of
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
from rpod.errors import EXIT_ENGINE, RpodError

# name -> (module, summary).  A module's ``app`` (a click.Group) holds the command under that
# name; for command groups (``image``, ``volume``...) the module's ``app`` is the group itself.
COMMANDS: dict[str, tuple[str, str]] = {
    "pull": ("rpod.cli.images", "Pull an image from a registry"),
    "images": ("rpod.cli.images", "List images in local storage"),
    "rmi": ("rpod.cli.images", "Remove one or more images from local storage"),
    "tag": ("rpod.cli.images", "Add an additional name to a local image"),
    "untag": ("rpod.cli.images", "Remove a name from a local image"),
    "login": ("rpod.cli.login", "Log in to a container registry"),
    "logout": ("rpod.cli.login", "Log out of a container registry"),
    "image": ("rpod.cli.image_group", "Manage images"),
    "info": ("rpod.cli.system", "Display rpod related system information"),
    "version": ("rpod.cli.system", "Display the rpod version information"),
    "unshare": ("rpod.cli.system", "Run a command in a modified user namespace"),
    "system": ("rpod.cli.system_group", "Manage rpod"),
    "volume": ("rpod.cli.volume", "Manage volumes"),
    "network": ("rpod.cli.network", "Manage networks"),
    "run": ("rpod.cli.run", "Run a command in a new container"),
    "create": ("rpod.cli.run", "Create but do not start a container"),
    "start": ("rpod.cli.run", "Start one or more containers"),
    "attach": ("rpod.cli.run", "Attach to a running container"),
    "ps": ("rpod.cli.containers", "List containers"),
    "rm": ("rpod.cli.containers", "Remove one or more containers"),
    "stop": ("rpod.cli.containers", "Stop one or more containers"),
    "kill": ("rpod.cli.containers", "Send a signal to one or more containers"),
    "wait": ("rpod.cli.containers", "Wait for containers to stop and print their exit codes"),
    "logs": ("rpod.cli.containers", "Fetch the logs of one or more containers"),
    "inspect": ("rpod.cli.containers", "Display the configuration of containers"),
    "exec": ("rpod.cli.containers", "Run a process in a running container"),
    "restart": ("rpod.cli.containers", "Restart one or more containers"),
    "container": ("rpod.cli.container_group", "Manage containers"),
    "rename": ("rpod.cli.container_more", "Rename an existing container"),
    "port": ("rpod.cli.container_more", "List port mappings or a specific mapping for the container"),
    "pause": ("rpod.cli.container_more", "Pause all the processes in one or more containers"),
    "unpause": ("rpod.cli.container_more", "Unpause the processes in one or more containers"),
    "top": ("rpod.cli.container_more", "Display the running processes of a container"),
    "events": ("rpod.cli.events", "Show rpod events"),
    "cp": ("rpod.cli.cp", "Copy files/folders between a container and the local filesystem"),
    "diff": ("rpod.cli.cp", "Display the changes to the object's file system"),
    "export": ("rpod.cli.cp", "Export container's filesystem contents as a tar archive"),
    "healthcheck": ("rpod.cli.healthcheck", "Manage health checks on containers"),
    "generate": ("rpod.cli.generate", "Generate structured data based on containers"),
    "quadlet": ("rpod.cli.quadlet", "Turn Quadlet .container/.volume/.network files into systemd units"),
    "pod": ("rpod.cli.pod", "Manage pods"),
    "secret": ("rpod.cli.secret", "Manage secrets"),
    "compose": ("rpod.cli.compose", "Run compose workloads via an external provider such as podman-compose"),
    "auto-update": ("rpod.cli.autoupdate", "Auto update containers according to their auto-update policy"),
}
GROUPS = {"image", "system", "volume", "container", "network", "generate", "healthcheck", "pod", "secret"}
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs.

    Why click and not typer: typer 0.29 builds a pydantic TypeAdapter for every
    parameter, which costs ~150 ms for a command with ``run``'s ~80 flags; click,
    which typer is built on, parses the same flags in a few milliseconds (see
    docs/decisions.md).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        group: click.Group = module.app
        if cmd_name in GROUPS:
            group.name = cmd_name
            group.help = group.help or entry[1]
            return group
        return group.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands from the table, without importing their modules."""
        rows = [(name, summary) for name, (_, summary) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _version_callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(f"rpod version {__version__}")
        ctx.exit(0)


@click.group(cls=LazyGroup, context_settings=CONTEXT, no_args_is_help=True,
             help="rpod: rootless, daemonless, Podman-compatible containers")
@click.option("--root", "root_dir", help="Storage root (default ~/.local/share/rpod)")
@click.option("--runroot", help="Runtime state root (default $XDG_RUNTIME_DIR/rpod)")
@click.option("--log-level", default="warn", show_default=True, help="Log level: debug, info, warn, error")
@click.option("--version", "-v", is_flag=True, expose_value=False, is_eager=True, callback=_version_callback,
              help="Print the version")
def app(root_dir: str | None, runroot: str | None, log_level: str) -> None:
    """Global options shared by every command."""
    if root_dir:
        os.environ["RPOD_ROOT"] = root_dir
    if runroot:
        os.environ["RPOD_RUNROOT"] = runroot
    os.environ["RPOD_LOG_LEVEL"] = log_level


def print_error(err: BaseException, hint: str | None = None) -> None:
    """Write ``Error: ...`` (and the hint) to stderr, as Podman does."""
    msg = str(err) or err.__class__.__name__
    sys.stderr.write(f"Error: {msg}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
    sys.stderr.flush()


def _report(message: str, hint: str | None, exit_code: int) -> int:
    """Print an error, turned into the host gap behind it (and its fix) when there is one."""
    from rpod.hostcheck import explain

    message, hint, exit_code = explain(message, hint, exit_code)
    print_error(RuntimeError(message), hint)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        rv: Any = app.main(args=argv, prog_name="rpod", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except RpodError as e:
        partial = getattr(e, "output", None)  # a template prints what it rendered before failing
        if partial:
            sys.stdout.write(partial)
            sys.stdout.flush()
        return _report(e.message, e.hint, e.exit_code)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        sys.stderr.write("Error: aborted\n")
        return EXIT_ENGINE
    except click.exceptions.ClickException as e:
        ctx = getattr(e, "ctx", None)  # a usage error: point at the command's help, as Podman does
        print_error(e.format_message(), f"see '{ctx.command_path} --help'" if ctx is not None else None)
        return EXIT_ENGINE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``rpod images | head``): not an error worth a traceback
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as e:  # an unexpected bug: say so, keep exit code contract
        from rootless.errors import RootlessError

        if isinstance(e, RootlessError):
            return _report(e.message, e.hint, EXIT_ENGINE)
        if os.environ.get("RPOD_LOG_LEVEL") == "debug":
            raise
        print_error(f"internal error: {e.__class__.__name__}: {e}",
                    "rerun with --log-level=debug for a traceback and report it")
        return EXIT_ENGINE
