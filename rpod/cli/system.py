"""``rpod system ...`` (info, df, prune, reset, migrate, events) and the top-level ``info``,
``version`` and ``unshare``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from rpod.cli.common import NounGroup, confirm, parse_filters, write
from rpod.cli.fast import commands

app = NounGroup("system", help="Manage rpod", lazy={"events": "rpod.cli.events"}, no_args_is_help=True)
top_level = click.Group()  # commands only at the top level (``rpod version``, ``rpod unshare``)


@top_level.command("version")
@click.option("--format", "-f", "fmt", help="Go template or json")
def version(fmt: str | None) -> None:
    """Display the rpod version information."""
    commands.version(fmt)


@app.command("info")
@click.option("--format", "-f", "fmt", help="Go template or json")
def info(fmt: str | None) -> None:
    """Display rpod related system information."""
    from rpod.engine import system

    report = system.info()
    if fmt == "":  # -f '': an empty template, as Podman renders it
        write("\n")
        return
    if fmt:
        from rpod.format import render_one
        from rpod.format.report import is_json

        write(render_one(fmt, report.doc if is_json(fmt) else report.view, name="info", json_indent=2))
    else:
        write(report.yaml + "\n")


@top_level.command("unshare", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
@click.option("--rootless-netns", "--rootless-cni", "rootless_netns", is_flag=True,
              help="Join the rootless network namespace of the user networks (reach containers by IP)")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[COMMAND [ARG...]]")
def unshare(rootless_netns: bool, command: tuple[str, ...]) -> None:
    """Run a command in a user namespace with the user's subordinate id map (as root there)."""
    from rpod.engine import system

    argv = list(command) or [os.environ.get("SHELL") or "/bin/sh"]
    try:
        rc = system.unshare(argv, rootless_netns=rootless_netns)
    except FileNotFoundError:
        sys.stderr.write(f'Error: exec: "{argv[0]}": executable file not found in $PATH\n')
        raise click.exceptions.Exit(127) from None
    raise click.exceptions.Exit(rc)


@app.command("reset")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
def reset(force: bool) -> None:
    """Remove every container, image, volume and all state of this user's store."""
    from rpod.engine import system
    from rpod.engine.types import store

    if not force:
        if not sys.stdin.isatty():
            raise click.UsageError("refusing to reset without a terminal to confirm: use --force")
        if not confirm(f"WARNING! This will remove all containers, images and volumes under {store().root}\n"
                       "Are you sure you want to continue?"):
            return
    system.reset(warn=lambda text: sys.stderr.write(f"WARN: {text}\n"))


@app.command("migrate")
def migrate() -> None:
    """Nothing to migrate: rpod reads the id maps fresh on every command (kept for Podman scripts)."""
    write("")


def _size(n: float) -> str:
    """``8.091MB``, ``0B``: go-units ``HumanSize`` as ``podman system df`` prints it."""
    from rpod.format.human import human_size

    return human_size(n, 4).replace(" ", "")


@app.command("prune")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all unused data")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<key>=<value>')")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--volumes", is_flag=True, help="Prune volumes")
def prune(all_: bool, filters: tuple[str, ...], force: bool, volumes: bool) -> None:
    """Remove unused data: stopped containers, dangling (-a: unused) images, unused layers (and volumes)."""
    from rpod.engine import system

    if not force:
        images = ("all images without at least one container associated to them" if all_
                  else "all dangling images")
        vols = "\t- all volumes not used by at least one container\n" if volumes else ""
        if not confirm("WARNING! This command removes:\n\t- all stopped containers\n"
                       f"\t- all networks not used by at least one container\n{vols}\t- {images}\n"
                       "\t- all dangling build cache\n\nAre you sure you want to continue?"):
            return
    report = system.prune(all_, volumes, parse_filters(filters))
    for title, items in (("Containers", report.containers), ("Volumes", report.volumes),
                         ("Images", report.images)):
        if items:
            write(f"Deleted {title}\n" + "".join(i + "\n" for i in items))
    write(f"Total reclaimed space: {_size(report.reclaimed)}\n")


@app.command("df")
@click.option("--format", "fmt", help="Pretty-print images using a Go template")
@click.option("--verbose", "-v", is_flag=True, help="Show detailed information on disk usage")
def df(fmt: str | None, verbose: bool) -> None:
    """Show rpod disk usage: images, containers and local volumes."""
    from rpod.engine import system
    from rpod.format import render_list

    usage = system.df()
    if verbose:
        if fmt:
            raise click.UsageError("cannot combine --format and --verbose flags")
        _df_verbose(usage)
        return
    rows = []
    for kind, items in (("Images", usage.images), ("Containers", usage.containers),
                        ("Local Volumes", usage.volumes)):
        total = sum(i["size"] for i in items)
        free = sum(i["size"] for i in items if not i["active"])
        pct = int(round(100 * free / total)) if total else 0
        rows.append({"Type": kind, "Total": len(items), "Active": sum(1 for i in items if i["active"]),
                     "RawSize": total, "RawReclaimable": free, "Size": _size(total),
                     "Reclaimable": f"{_size(free)} ({pct}%)"})
    default = "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
    headers = {"Type": "TYPE", "Total": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
    write(render_list(fmt or default, rows, headers=headers))


def _df_verbose(usage: Any) -> None:
    from rpod.format import render_list
    from rpod.format.human import ago

    irows = []
    for i in usage.images:
        r = i["rec"]
        repo, _, tag = (r.names[0].rpartition(":") if r.names else ("<none>", "", "<none>"))
        irows.append({"Repository": repo, "Tag": tag, "ID": r.short_id, "Created": ago(r.created),
                      "Size": _size(i["size"]), "SharedSize": _size(i["shared"]),
                      "UniqueSize": _size(i["size"] - i["shared"]), "Containers": i["containers"]})
    crows = []
    for c in usage.containers:
        rec = c["rec"]
        crows.append({"ContainerID": rec.short_id, "Image": rec.image_id[:12],
                      "Command": " ".join(rec.command), "LocalVolumes": c["volumes"], "Size": _size(c["size"]),
                      "Created": ago(rec.created), "Status": c["state"].status, "Names": rec.name})
    vrows = [{"VolumeName": v["name"], "Links": v["links"], "Size": _size(v["size"])} for v in usage.volumes]
    write("Images space usage:\n\n")
    write(render_list("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}\t{{.SharedSize}}\t"
                      "{{.UniqueSize}}\t{{.Containers}}", irows,
                      headers={"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Created": "CREATED",
                               "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                               "Containers": "CONTAINERS"}))
    write("\nContainers space usage:\n\n")
    write(render_list("table {{.ContainerID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
                      "{{.Created}}\t{{.Status}}\t{{.Names}}", crows,
                      headers={"ContainerID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
                               "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "Created": "CREATED",
                               "Status": "STATUS", "Names": "NAMES"}))
    write("\nLocal Volumes space usage:\n\n")
    write(render_list("table {{.VolumeName}}\t{{.Links}}\t{{.Size}}", vrows,
                      headers={"VolumeName": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}))


@app.command("check")
@click.option("--repair", "-r", is_flag=True, help="Remove damaged images and leftovers, fix container names")
@click.option("--force", "-f", is_flag=True, help="Also remove containers that use damaged images")
@click.option("--quick", "-q", is_flag=True, help="Skip time-consuming checks (blob digests)")
@click.option("--max", "-m", "max_age", default="24h", help="Unused layers older than this are leftovers")
def check(repair: bool, force: bool, quick: bool, max_age: str) -> None:
    """Check the consistency of image and container storage (Podman 5's ``system check``)."""
    from rpod.engine import system
    from rpod.errors import StoreError

    report = system.check(system.CheckOptions(repair=repair, force=force, quick=quick, max_age=max_age))
    for f in report.findings:
        write(f"{'repaired' if f.repaired else 'damaged'} {f.kind} {f.ident}: {f.problem}\n")
    if report.unrepaired:
        raise StoreError(f"{len(report.unrepaired)} problem(s) found in the store: rpod system check --repair "
                         "fixes them",
                         hint="run rpod system check --repair (--force to remove containers of damaged images)")


@app.command("service", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("uri", required=False)
@click.option("-t", "--time", "seconds", type=int, default=5, show_default=True,
              help="Seconds of inactivity before the service exits (0: never)")
@click.option("--cors", default=None, help="Set CORS headers (Access-Control-Allow-Origin) to this value")
@click.option("--log-level", default=None, hidden=True, help="The global --log-level, after the command")
def service(uri: str | None, seconds: int, cors: str | None, log_level: str | None) -> None:
    """Serve the Docker- and Podman-compatible REST API (socket-activated by systemd, or on URI)."""
    from rpod.api.service import run

    if log_level is not None:  # Podman's --log-level is persistent: `podman system service --log-level=debug`
        from rpod.cli.globals import apply_log_level

        apply_log_level(log_level)

    if seconds < 0:
        raise click.UsageError("--time must be 0 or more seconds")
    run(uri, seconds, cors)
