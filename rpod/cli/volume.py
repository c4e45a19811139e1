"""``rpod volume ...``: create, ls, inspect, rm, prune, exists, export, import (Podman's spelling and output)."""

from __future__ import annotations

import click

from rpod.cli.common import is_json, key_values, parse_filters, print_json, report_items, write

app = click.Group("volume", help="Manage volumes", no_args_is_help=True)

_LS_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME"}
_LS_DEFAULT = "table {{.Driver}}\t{{.Name}}"


@app.command("create")
@click.argument("name", required=False)
@click.option("--driver", "-d", default="local", show_default=True, help="Volume driver")
@click.option("--label", "-l", "labels", multiple=True, help="Set a label (KEY=VALUE)")
@click.option("--opt", "-o", "opts", multiple=True, help="Driver option (KEY=VALUE)")
@click.option("--ignore", is_flag=True, help="Do not fail if the volume already exists")
def create(name: str | None, driver: str, labels: tuple[str, ...], opts: tuple[str, ...], ignore: bool) -> None:
    """Create a new volume (a random name when NAME is omitted)."""
    from rpod.engine import volumes

    vol = volumes.create(volumes.CreateOptions(name=name, driver=driver, labels=key_values(labels, "--label"),
                                               options=key_values(opts, "--opt"), ignore=ignore))
    write(vol.name + "\n")


@app.command("ls")
@click.option("--quiet", "-q", is_flag=True, help="Print only volume names")
@click.option("--format", "fmt", help="Go template, json or table")
@click.option("--filter", "-f", "filters", multiple=True, help="Filter (name=, label=, driver=, dangling=)")
@click.option("--noheading", "-n", is_flag=True, help="Do not print headers")
def ls(quiet: bool, fmt: str | None, filters: tuple[str, ...], noheading: bool) -> None:
    """List volumes."""
    from rpod.engine import volumes

    rows = volumes.list_volumes(parse_filters(filters))
    if quiet and not fmt:
        write("".join(r["Name"] + "\n" for r in rows))
        return
    from rpod.format import render_list

    write(render_list(fmt or _LS_DEFAULT, rows, headers=_LS_HEADERS, noheading=noheading))


app.add_command(ls, "list")


@app.command("inspect")
@click.argument("names", nargs=-1)
@click.option("--format", "-f", "fmt", help="Go template or json")
@click.option("--all", "-a", "all_", is_flag=True, help="Inspect all volumes")
def inspect(names: tuple[str, ...], fmt: str | None, all_: bool) -> None:
    """Display detailed information on one or more volumes."""
    from rpod.engine import volumes

    report = volumes.inspect(list(names), all_)
    if fmt and not is_json(fmt) and fmt.strip() != "{{json .}}":
        from rpod.format import render_one

        for d in report.docs:
            write(render_one(fmt, d))
    else:
        print_json(report.docs)
    if report.errors:
        raise report.errors[0]


@app.command("rm")
@click.argument("names", nargs=-1)
@click.option("--force", "-f", is_flag=True, help="Remove the volume even if a container uses it")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all volumes")
@click.option("--time", "-t", "timeout", type=int, default=None,
              help="Seconds to wait before forcibly stopping running containers that use the volume")
def rm(names: tuple[str, ...], force: bool, all_: bool, timeout: int | None) -> None:
    """Remove one or more volumes."""
    from rpod.engine import volumes

    report_items(volumes.remove(list(names), force, all_, timeout=timeout))


app.add_command(rm, "remove")


@app.command("prune")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Only prune volumes matching (label=, name=...)")
def prune(force: bool, filters: tuple[str, ...]) -> None:
    """Remove all volumes not used by any container."""
    import sys

    from rpod.engine import volumes

    parsed = parse_filters(filters)
    if not force:  # Podman's prompt, on stdout: what would go, then the question
        write("WARNING! This will remove all volumes not used by at least one container. "
              "The following volumes will be removed:\n")
        names = volumes.prune_candidates(parsed)
        if not names:
            write("No dangling volumes found\n")
            return
        write("".join(n + "\n" for n in names) + "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower()[:1] != "y":
            return
    for name, _size in volumes.prune(parsed):
        write(name + "\n")


@app.command("exists")
@click.argument("name")
def exists(name: str) -> None:
    """Exit 0 when the volume exists, 1 when it does not."""
    from rpod.engine import volumes

    if not volumes.exists(name):
        raise click.exceptions.Exit(1)


@app.command("export")
@click.argument("name")
@click.option("--output", "-o", default="/dev/stdout", help="Write to a specified file (default: stdout, which must be redirected)")
def export(name: str, output: str) -> None:
    """Export volumes."""
    import sys

    from rpod.engine import volumes
    from rpod.errors import UsageError

    if output in ("/dev/stdout", "-"):
        if sys.stdout.isatty():
            raise UsageError("expects output path, use --output=[path]")
        sys.stdout.flush()
        volumes.export(name, sys.stdout.buffer)
        return
    with open(output, "wb") as f:
        volumes.export(name, f)


@app.command("import")
@click.argument("name")
@click.argument("source")
def import_cmd(name: str, source: str) -> None:
    """Import a tarball contents into a podman volume."""
    import sys

    from rpod.engine import volumes

    if source == "-":
        volumes.import_(name, sys.stdin.buffer)
        return
    with open(source, "rb") as f:
        volumes.import_(name, f)


def _require_unshare(command: str) -> None:
    """Podman's rule for rootless mounts: only inside ``unshare`` (rpod's local volumes need no
    mount: their mount point is their ``_data`` directory)."""
    import os

    from rpod.cli.app import program_name
    from rpod.errors import RpodError

    if os.geteuid() != 0 or not os.environ.get("RPOD_UNSHARE"):
        prog = program_name()
        raise RpodError(f'cannot run command "{prog} {command}" in rootless mode, must execute `{prog} unshare` first')


@app.command("mount")
@click.argument("names", nargs=-1, required=True)
def mount(names: tuple[str, ...]) -> None:
    """Mount volume filesystem."""
    from rpod.engine import volumes

    _require_unshare("volume mount")
    report = volumes.inspect(list(names))
    for d in report.docs:
        write(d["Mountpoint"] + "\n")
    if report.errors:
        raise report.errors[0]


@app.command("unmount")
@click.argument("names", nargs=-1, required=True)
def unmount(names: tuple[str, ...]) -> None:
    """Unmount volume."""
    from rpod.engine import volumes

    _require_unshare("volume unmount")
    report = volumes.inspect(list(names))
    for d in report.docs:
        write(d["Name"] + "\n")
    if report.errors:
        raise report.errors[0]
