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
    """Kill running containers first, so nothing keeps writing into the store being removed."""
    import json
    import os
    import signal

    p = paths()
    if not p.containers.is_dir():
        return
    for entry in os.scandir(p.containers):
        try:
            with open(os.path.join(entry.path, "container.json"), "rb") as f:
                rec = json.load(f)
        except (OSError, ValueError):
            continue
        for key in ("pid", "monitor_pid"):
            pid = rec.get(key) or (rec.get("state") or {}).get(key)
            if isinstance(pid, int) and pid > 1:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


@app.command("migrate")
def migrate() -> None:
    """Nothing to migrate: rpod reads the id maps fresh on every command (kept for Podman scripts)."""
    write("")
