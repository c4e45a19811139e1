"""``rpod generate systemd``: systemd units for containers (Podman 4.3.1's output)."""

from __future__ import annotations

import json
import os
import sys

import click

from rpod.errors import UsageError

HELP = {"help_option_names": ["-h", "--help"]}

app = click.Group(help="Generate structured data based on containers", context_settings=HELP)


def run_flag_takes_value(flag: str) -> bool:
    """Whether a ``run``/``create`` flag consumes the next word (from the run flag table)."""
    from rpod.cli.run import RUN_FLAGS

    table = _VALUE_FLAGS.get("table")
    if table is None:
        table = {n for names, _f, kind, _h in RUN_FLAGS if kind != "flag" for n in names}
        table |= {"--sig-proxy", "--read-only-tmpfs"}
        _VALUE_FLAGS["table"] = table
    return flag in table


_VALUE_FLAGS: dict[str, set[str]] = {}


@app.command("systemd", context_settings=HELP)
@click.argument("container")
@click.option("--new/--no-new", default=False, help="Create a new container on start and remove it on stop")
@click.option("-n", "--name", "use_name", is_flag=True, help="Use the container name instead of its ID")
@click.option("-f", "--files", is_flag=True, help="Write .service files into the current directory")
@click.option("--restart-policy", default=None, help="systemd Restart= policy (default on-failure)")
@click.option("--restart-sec", type=int, default=None, help="systemd RestartSec=")
@click.option("--stop-timeout", "-t", "--time", "stop_timeout", type=int, default=None,
              help="Stop timeout override (default: the container's, 10)")
@click.option("--start-timeout", type=int, default=None, help="systemd TimeoutStartSec=")
@click.option("--container-prefix", default="container", show_default=True, help="Unit name prefix")
@click.option("--pod-prefix", default="pod", show_default=True, help="Unit name prefix of a pod")
@click.option("--separator", default="-", show_default=True, help="Between the prefix and the name or ID")
@click.option("--no-header", is_flag=True, help="Skip the header with version and date")
@click.option("--template", is_flag=True, help="A template unit (NAME@.service, %i/%I specifiers); implies --new")
@click.option("-e", "--env", multiple=True, help="Environment=K=V lines for the unit")
@click.option("--wants", multiple=True, help="Wants= dependencies")
@click.option("--after", multiple=True, help="After= ordering")
@click.option("--requires", multiple=True, help="Requires= dependencies")
@click.option("--format", "fmt", default="", help="json: a JSON object of unit name -> content")
def systemd_cmd(container: str, new: bool, use_name: bool, files: bool, restart_policy: str | None,
                restart_sec: int | None, stop_timeout: int | None, start_timeout: int | None,
                container_prefix: str, pod_prefix: str, separator: str, no_header: bool, template: bool, env: tuple[str, ...],
                wants: tuple[str, ...], after: tuple[str, ...], requires: tuple[str, ...], fmt: str) -> None:
    """Generate a systemd unit file for a container."""
    from rpod.engine import systemd

    if fmt and fmt != "json":
        raise UsageError(f"unknown --format {fmt!r}: only json is supported")
    source = click.get_current_context().get_parameter_source("new")
    if template and not new and source == click.core.ParameterSource.COMMANDLINE:
        raise UsageError("--template cannot be set with --new=false")
    opts = systemd.generate_options(
        new=new, use_name=use_name, restart_policy=restart_policy, restart_sec=restart_sec,
        stop_timeout=stop_timeout, start_timeout=start_timeout, container_prefix=container_prefix,
        separator=separator, no_header=no_header, template=template, env=list(env), wants=list(wants),
        after=list(after), requires=list(requires))
    units, warnings = systemd.generate_units(container, opts, run_flag_takes_value, pod_flag_takes_value,
                                             pod_prefix=pod_prefix)
    for warning in warnings:
        from rpod.cli.common import warn

        warn(warning)
    if files:
        written = systemd.write_units(units, os.getcwd())
        if fmt == "json":
            sys.stdout.write(json.dumps({u.name: w for u, w in zip(units, written, strict=True)}, indent=1) + "\n")
        else:
            sys.stdout.write("".join(w + "\n" for w in written))
        return
    if fmt == "json":
        sys.stdout.write(json.dumps({u.name: u.text for u in units}, indent=1) + "\n")
        return
    sys.stdout.write("".join(u.text for u in units))


def pod_flag_takes_value(flag: str) -> bool:
    """Whether a ``pod create`` flag consumes the next word (from its click options)."""
    from rpod.cli.pod import create_cmd

    for param in create_cmd.params:
        if isinstance(param, click.Option) and flag in param.opts + param.secondary_opts:
            return not param.is_flag
    return False


@app.command("kube", context_settings=HELP)
@click.argument("refs", nargs=-1, required=True, metavar="{CONTAINER...|POD...|VOLUME...}")
@click.option("-s", "--service", is_flag=True, help="Also generate a Service (NodePort) for each pod")
@click.option("-f", "--filename", help="Write the YAML to this file")
@click.pass_context
def kube_cmd(ctx: click.Context, refs: tuple[str, ...], service: bool, filename: str | None) -> None:
    """Generate Kubernetes YAML from containers, pods or volumes, in the layout podman generate kube writes."""
    from rpod.cli.kube import generate_cmd

    ctx.invoke(generate_cmd, refs=refs, service=service, filename=filename)
