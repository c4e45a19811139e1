"""``rpod update``: change a container's resource limits (Podman 4.3's ``update``)."""

from __future__ import annotations

import sys

import click

app = click.Group()


@app.command("update", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container")
@click.option("-m", "--memory", default=None, help="Memory limit (format: <number>[<unit>], where unit = b, k, m or g)")
@click.option("--cpus", type=float, default=None, help="Number of CPUs. The default is 0.000 which means no limit")
@click.option("--pids-limit", type=int, default=None, help="Tune container pids limit (set -1 for unlimited)")
def update_cmd(container: str, memory: str | None, cpus: float | None, pids_limit: int | None) -> None:
    """Update the cgroup configuration of a given container."""
    from rpod.engine.containers import update_resources

    cid, note, fix = update_resources(container, memory=memory, cpus=cpus, pids_limit=pids_limit)
    if note:  # as `run` says it: the limits are recorded, this host does not enforce them
        from rpod.log import hint

        sys.stderr.write(note + "\n")
        hint(fix)
    sys.stdout.write(cid + "\n")
