"""``rpod stats``: containers' resource usage, Podman's columns.  Rootless without cgroup v2
controllers Podman refuses ("stats is not supported in rootless mode without cgroups v2"); rpod
reports what ``/proc`` gives (``rpod.engine.containers_stats``), as its API service does."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from rpod.cli.common import HELP, write

HEADERS = {"ID": "ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
           "NetIO": "NET IO", "BlockIO": "BLOCK IO", "PIDS": "PIDS", "CPUTime": "CPU TIME", "AvgCPU": "AVG CPU %",
           "UpTime": "UPTIME", "ContainerID": "ID"}
app = click.Group()
DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t"
           "{{.PIDS}}\t{{.CPUTime}}\t{{.AvgCPU}}")


def _row(doc: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    """Podman's template fields from an engine ``stats_row``."""
    from rpod.engine.containers_stats import cpu_time
    from rpod.format.human import human_duration, human_size

    def size(n: float) -> str:
        return human_size(n, 4).replace(" ", "")

    return {**doc, "ID": doc["ContainerID"] if no_trunc else doc["ContainerID"][:12],
            "CPUPerc": f"{doc['CPU']:.2f}%", "AvgCPU": f"{doc['AvgCPU']:.2f}%",
            "MemUsage": f"{size(doc['MemUsage'])} / {size(doc['MemLimit'])}", "MemPerc": f"{doc['MemPerc']:.2f}%",
            "NetIO": f"{size(doc['NetInput'])} / {size(doc['NetOutput'])}",
            "BlockIO": f"{size(doc['BlockInput'])} / {size(doc['BlockOutput'])}", "PIDS": str(doc["PIDs"]),
            "CPUTime": cpu_time(doc["CPUNano"]), "UpTime": human_duration(doc["UpTime"] / 1e9)}


@app.command("stats", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (the default shows running ones)")
@click.option("--format", "fmt", help="Go template, json or table")
@click.option("--no-stream", is_flag=True, help="Print the first reading and exit")
@click.option("--no-reset", is_flag=True, help="Do not clear the screen between readings")
@click.option("--no-trunc", is_flag=True, help="Do not truncate IDs")
@click.option("-i", "--interval", type=int, default=5, show_default=True, help="Seconds between readings")
@click.option("-l", "--latest", is_flag=True, help="The latest created container")
def stats(containers: tuple[str, ...], all_: bool, fmt: str | None, no_stream: bool, no_reset: bool,
          no_trunc: bool, interval: int, latest: bool) -> None:
    """Display a live stream of container resource usage statistics."""
    from rpod.engine import containers_stats as es
    from rpod.errors import UsageError
    from rpod.format import render_list

    if interval < 1:
        raise UsageError("invalid interval, must be a positive number greater zero")
    refs = list(containers)
    if latest:
        from rpod.engine.containers import container_store

        refs = [container_store().latest().id]
    prev: dict[str, Any] = {}
    while True:
        readings = [r for r in es.sample(refs, all_=all_) if r.sample or all_ or refs]
        rows = [_row(es.stats_row(r, prev.get(r.id)), no_trunc) for r in readings]
        prev = {r.id: r.sample for r in readings if r.sample}
        if not no_stream and not no_reset and sys.stdout.isatty():
            write("\033[2J\033[H")
        if fmt and fmt.strip() == "json":
            import json

            write(json.dumps([es.stats_row(r) for r in readings], indent=4) + "\n")
        else:
            write(render_list(fmt or DEFAULT, rows, headers=HEADERS, name="stats"))
        if no_stream:
            return
        sys.stdout.flush()
        time.sleep(interval)
