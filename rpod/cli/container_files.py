"""``rpod cp``, ``rpod diff`` and ``rpod export`` (also under ``rpod container``)."""

from __future__ import annotations

import json
import sys

import click

from rpod.cli.common import HELP, write
from rpod.errors import UsageError

app = click.Group()


@app.command("cp", context_settings=HELP)
@click.argument("src")
@click.argument("dest")
@click.option("-a", "--archive", is_flag=True, default=True,
              help="Chown copied files to the primary uid/gid of the destination container. (default true)")
@click.option("--overwrite", is_flag=True, help="Allow to overwrite directories with non-directories and vice versa")
@click.option("--extract", is_flag=True, hidden=True, help="Deprecated (a no-op, as in Podman)")
@click.option("--pause", is_flag=True, default=True, hidden=True, help="Deprecated (a no-op, as in Podman)")
def cp_cmd(src: str, dest: str, archive: bool, overwrite: bool, extract: bool, pause: bool) -> None:
    """Copy files/folders between a container and the local filesystem.

    SRC and DEST are [CONTAINER:]PATH; "-" is a tar archive on stdin (as SRC) or stdout (as DEST).
    """
    from rpod.engine.containers_files import copy

    del extract, pause  # accepted for scripts written for Docker/older Podman; nothing to do
    copy(src, dest, archive=archive, overwrite=overwrite)


@app.command("diff", context_settings=HELP)
@click.argument("container", required=False)
@click.option("--format", "fmt", help="Change the output format (json)")
@click.option("-l", "--latest", is_flag=True, help="Act on the latest container")
def diff_cmd(container: str | None, fmt: str | None, latest: bool) -> None:
    """Inspect changes to the container's file systems."""
    from rpod.engine.containers_files import diff

    changes = diff(container, latest)
    if fmt:
        if fmt.strip() != "json":
            raise UsageError(f"invalid --format {fmt!r}: only json is supported")
        doc: dict[str, list[str]] = {}
        for key, kind in (("changed", "C"), ("added", "A"), ("deleted", "D")):
            items = [p for k, p in changes if k == kind]
            if items:
                doc[key] = items
        write(json.dumps(doc, indent=5) + "\n")
        return
    write("".join(f"{k} {p}\n" for k, p in changes))


@app.command("export", context_settings=HELP)
@click.argument("container")
@click.option("-o", "--output", help="Write to a specified file (default: stdout, which must be redirected)")
def export_cmd(container: str, output: str | None) -> None:
    """Export a container's filesystem contents as a tar archive."""
    from rpod.engine.containers_files import export

    if output:
        with open(output, "wb") as f:
            export(container, f)
        return
    if sys.stdout.isatty():
        raise UsageError("refusing to export to terminal. Use -o flag or redirect")
    export(container, sys.stdout.buffer)
