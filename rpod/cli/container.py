"""``rpod container ...`` and the top-level container commands (``ps``, ``rm``, ``stop``, ``kill``,
``wait``, ``logs``, ``inspect``, ``exec``, ``restart``, ``rename``, ``port``, ``pause``,
``unpause``, ``top``): flags in, one engine call, the report out.

``run``/``create``/``start``/``attach`` live in ``rpod.cli.run``, ``cp``/``diff``/``export`` in
``rpod.cli.container_files``: the group imports them only when one of them runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from rpod.cli.common import HELP, NounGroup, parse_filters, report_items, write
from rpod.cli.fast import commands

_LAZY = {name: "rpod.cli.run" for name in ("run", "create", "start", "attach")}
_LAZY.update({name: "rpod.cli.container_files" for name in ("cp", "diff", "export")})
_LAZY["commit"] = "rpod.cli.commit"

app = NounGroup("container", help="Manage containers", lazy=_LAZY, no_args_is_help=True)


# -------------------------------------------------------------------------------------------- ps
def _ps_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("-a", "--all", "all_", is_flag=True, help="Show all containers"),
        click.option("-q", "--quiet", is_flag=True, help="Print the IDs only"),
        click.option("-l", "--latest", is_flag=True, help="The latest created container"),
        click.option("-n", "--last", default=-1, help="The n last created containers"),
        click.option("--no-trunc", is_flag=True, help="Do not truncate the output"),
        click.option("-f", "--filter", "filters", multiple=True, help="Filter KEY=VALUE"),
        click.option("--format", "fmt", help="Go template or json"),
        click.option("--sort", default="created", help="Sort by created, id, names, status, image, command"),
        click.option("--noheading", is_flag=True, help="Do not print the header row"),
        click.option("-s", "--size", is_flag=True, help="Display the total file sizes"),
        click.option("--external", is_flag=True, hidden=True),
        click.option("-p", "--pod", is_flag=True, help="Print the ID and name of the pod of each container"),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


@app.command("ps", context_settings=HELP)
@_ps_options
def ps_cmd(all_: bool, quiet: bool, latest: bool, last: int, no_trunc: bool, filters: tuple[str, ...],
           fmt: str | None, sort: str, noheading: bool, size: bool, external: bool, pod: bool) -> None:
    """List containers."""
    commands.ps(all_, quiet, latest, last, no_trunc, filters, fmt, sort, noheading, size, external, pod)


app.add_command(ps_cmd, "ls")
app.add_command(ps_cmd, "list")


# --------------------------------------------------------------------------------- rm / stop / kill
@app.command("rm", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-f", "--force", is_flag=True, help="Stop and remove running containers")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all containers")
@click.option("-i", "--ignore", is_flag=True, help="Ignore missing containers")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes")
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL with --force")
@click.option("-l", "--latest", is_flag=True, help="The latest created container")
@click.option("--cidfile", "cidfiles", multiple=True, help="Read the container ID from this file")
@click.option("--depend", is_flag=True, help="Remove the container and the containers that depend on it")
def rm_cmd(containers: tuple[str, ...], force: bool, all_: bool, ignore: bool, volumes: bool,
           timeout: int | None, latest: bool, cidfiles: tuple[str, ...], depend: bool) -> None:
    """Remove one or more containers."""
    commands.rm(containers, force, all_, ignore, volumes, timeout, latest, cidfiles, depend)


@app.command("stop", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Stop all running containers")
@click.option("-i", "--ignore", is_flag=True, help="Ignore missing containers")
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL")
@click.option("--timeout", "timeout", type=int, default=None, hidden=True)  # Docker's name, as Podman
@click.option("-l", "--latest", is_flag=True, help="The latest created container")
@click.option("--cidfile", "cidfiles", multiple=True, help="Read the container ID from this file")
def stop_cmd(containers: tuple[str, ...], all_: bool, ignore: bool, timeout: int | None, latest: bool,
             cidfiles: tuple[str, ...]) -> None:
    """Stop one or more containers."""
    commands.stop(containers, all_, ignore, timeout, latest, cidfiles)


@app.command("kill", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-s", "--signal", "sig", default="KILL", help="Signal to send (default KILL)")
@click.option("-a", "--all", "all_", is_flag=True, help="Signal all running containers")
@click.option("-l", "--latest", is_flag=True, help="The latest created container")
def kill_cmd(containers: tuple[str, ...], sig: str, all_: bool, latest: bool) -> None:
    """Send a signal to one or more containers."""
    commands.kill(containers, sig, all_, latest)


@app.command("restart", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL")
@click.option("-a", "--all", "all_", is_flag=True, help="Restart all containers")
@click.option("--running", is_flag=True, help="Restart running containers only (with --all)")
def restart_cmd(containers: tuple[str, ...], timeout: int | None, all_: bool, running: bool) -> None:
    """Restart one or more containers."""
    from rpod.engine import containers as engine

    if not containers and not all_:
        from rpod.errors import UsageError

        raise UsageError("you must provide at least one name or id")
    report_items(engine.restart(engine.RestartOptions(refs=list(containers), all=all_, running=running,
                                                      timeout=timeout)))


@app.command("wait", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("--condition", multiple=True, default=("stopped",), help="stopped, exited, running, created")
@click.option("-i", "--interval", default="250ms", hidden=True)
@click.option("-l", "--latest", is_flag=True, help="The latest created container")
@click.option("--ignore", is_flag=True, help="Ignore containers that do not exist (print -1)")
def wait_cmd(containers: tuple[str, ...], condition: tuple[str, ...], interval: str, latest: bool,
             ignore: bool) -> None:
    """Wait for containers to stop and print their exit codes."""
    commands.wait(containers, condition, interval, latest, ignore)


# ---------------------------------------------------------------------------------- logs / inspect
@app.command("logs", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-f", "--follow", is_flag=True, help="Follow the log output")
@click.option("--since", help="Only logs since this time")
@click.option("--until", help="Only logs until this time")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--tail", default=-1, help="Number of lines to show from the end")
@click.option("-l", "--latest", is_flag=True, help="The latest created container")
@click.option("-n", "--names", is_flag=True, help="Prefix lines with container names, not IDs (several containers)")
@click.option("--details", is_flag=True, hidden=True)
@click.option("--color", is_flag=True, help="Accepted for compatibility (rpod prints no colours)")
def logs_cmd(containers: tuple[str, ...], follow: bool, since: str | None, until: str | None,
             timestamps: bool, tail: int, latest: bool, names: bool, details: bool, color: bool) -> None:
    """Fetch the logs of one or more containers."""
    commands.logs(containers, follow, since, until, timestamps, tail, latest, names, details, color)


@app.command("inspect", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-f", "--format", "fmt", help="Go template or json")
@click.option("-l", "--latest", is_flag=True, help="The latest created container")
@click.option("-s", "--size", is_flag=True, help="Display the total file size")
@click.option("-t", "--type", "kind", default="all", type=click.Choice(["all", "container", "image"]),
              help="Only this kind of object")
def inspect_cmd(containers: tuple[str, ...], fmt: str | None, latest: bool, size: bool, kind: str) -> None:
    """Display the configuration of containers and images (containers first, as Podman)."""
    commands.inspect(containers, fmt, latest, size, kind)


# --------------------------------------------------------------------------------- exec and others
@app.command("exec", context_settings={**HELP, "allow_interspersed_args": False})
@click.argument("container")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("-u", "--user", help="Username or UID[:GID]")
@click.option("-w", "--workdir", help="Working directory")
@click.option("-d", "--detach", is_flag=True, help="Run in the background")
@click.option("--env-file", "env_files", multiple=True, help="Read in a file of environment variables")
@click.option("--privileged", is_flag=True, help="No effect: the process gets the container's privileges")
def exec_cmd(container: str, command: tuple[str, ...], interactive: bool, tty: bool, env: tuple[str, ...],
             user: str | None, workdir: str | None, detach: bool, env_files: tuple[str, ...],
             privileged: bool) -> None:
    """Run a process in a running container."""
    raise click.exceptions.Exit(commands.exec_(container, command, interactive, tty, env, user, workdir, detach,
                                               env_files, privileged))


@app.command("exists", context_settings=HELP)
@click.argument("name")
@click.option("--external", is_flag=True,
              help="Also external containers (rpod keeps no containers outside its store: the same set)")
def exists_cmd(name: str, external: bool) -> None:
    """Exit 0 when the container exists, 1 when not."""
    from rpod.engine import containers as engine

    if not engine.exists(name):
        raise click.exceptions.Exit(1)


@app.command("cleanup", hidden=True, context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("--rm", is_flag=True, help="Remove the container")
def cleanup_cmd(containers: tuple[str, ...], rm: bool) -> None:
    """Clean up after a container exited (the monitor runs this for --rm)."""
    from rpod.engine import containers as engine

    engine.cleanup(list(containers), rm)


@app.command("rename", context_settings=HELP)
@click.argument("container")
@click.argument("new_name")
def rename_cmd(container: str, new_name: str) -> None:
    """Rename an existing container."""
    from rpod.engine import containers as engine

    engine.rename(container, new_name)


@app.command("prune", context_settings=HELP)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<key>=<value>')")
def prune_cmd(force: bool, filters: tuple[str, ...]) -> None:
    """Remove all non running containers."""
    from rpod.cli.common import confirm
    from rpod.engine import containers as engine

    if not force and not confirm("WARNING! This will remove all non running containers.\n"
                                 "Are you sure you want to continue?"):
        return
    for r in engine.prune(parse_filters(filters)):
        write(r.id + "\n")


@app.command("port", context_settings=HELP)
@click.argument("container", required=False)
@click.argument("private_port", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Display port information for all containers")
@click.option("-l", "--latest", is_flag=True, help="Act on the latest container")
def port_cmd(container: str | None, private_port: str | None, all_: bool, latest: bool) -> None:
    """List port mappings or a specific mapping for the container."""
    commands.port(container, private_port, all_, latest)


@app.command("pause", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Pause all running containers")
def pause_cmd(containers: tuple[str, ...], all_: bool) -> None:
    """Pause all the processes in one or more containers (needs a delegated cgroup v2)."""
    from rpod.engine import containers as engine

    engine.pause(list(containers), all_)


@app.command("unpause", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Unpause all paused containers")
def unpause_cmd(containers: tuple[str, ...], all_: bool) -> None:
    """Unpause the processes in one or more containers (needs a delegated cgroup v2)."""
    from rpod.engine import containers as engine

    engine.unpause(list(containers), all_)


@app.command("top", context_settings={**HELP, "ignore_unknown_options": True})
@click.argument("container")
@click.argument("descriptors", nargs=-1, type=click.UNPROCESSED)
@click.option("-l", "--latest", is_flag=True, help="Act on the latest container")
def top_cmd(container: str, descriptors: tuple[str, ...], latest: bool) -> None:
    """Display the running processes of a container."""
    from rpod.engine.containers_top import top

    rows = top(container, list(descriptors), latest)
    widths = [max(12, max(len(r[i]) for r in rows) + 2) for i in range(len(rows[0]))]
    for r in rows:
        write("".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + r[-1] + "\n")




def _add_runlabel() -> None:
    from rpod.cli.runlabel import runlabel_cmd

    app.add_command(runlabel_cmd, "runlabel")


_add_runlabel()
