"""``rpod system ...``: info, reset, migrate."""

from __future__ import annotations

import shutil
import sys

import click

from rpod.cli import system as sysmod
from rpod.cli.common import paths, write

app = click.Group("system", help="Manage rpod", no_args_is_help=True)
app.add_command(sysmod.info, "info")


@app.command("reset")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
def reset(force: bool) -> None:
    """Remove every container, image, volume and all state of this user's store."""
    from rootless.subid import default_mapping
    from rootless.userns import remove_tree

    p = paths()
    if not force:
        if not sys.stdin.isatty():
            raise click.UsageError("refusing to reset without a terminal to confirm: use --force")
        sys.stderr.write(f"WARNING! This will remove all containers, images and volumes under {p.root}\n"
                         "Are you sure you want to continue? [y/N] ")
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    _stop_all_containers()
    mapping = default_mapping()
    for d in (p.root, p.runroot):
        if d.exists():
            remove_tree(d, mapping)
    shutil.rmtree(p.runroot, ignore_errors=True)


def _stop_all_containers() -> None:
    """Remove every container first (killing running ones), so nothing writes into the store being removed."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    p = paths()
    for rec in ContainerStore(p).list():
        try:
            lifecycle.remove(p, rec, force=True, timeout=0)
        except Exception as e:  # reset goes on: the store is removed below anyway
            sys.stderr.write(f"WARN: removing container {rec.name}: {e}\n")


@app.command("migrate")
def migrate() -> None:
    """Nothing to migrate: rpod reads the id maps fresh on every command (kept for Podman scripts)."""
    write("")
