"""``rpod system ...``: info, reset, migrate, prune, df."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

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


def _size(n: float) -> str:
    """``8.091MB``, ``0B``: go-units ``HumanSize`` as ``podman system df`` prints it."""
    from rpod.humanize import human_size

    return human_size(n, 4).replace(" ", "")


@app.command("prune")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all unused data")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<key>=<value>')")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--volumes", is_flag=True, help="Prune volumes")
def prune(all_: bool, filters: tuple[str, ...], force: bool, volumes: bool) -> None:
    """Remove unused data: stopped containers, dangling (-a: unused) images, unused layers (and volumes)."""
    from rpod.cli.common import parse_filters
    from rpod.cli.container_more import confirm, dir_size, prune_containers
    from rpod.image.manage import cleanup_unused, containers_using
    from rpod.image.store import ImageStore

    if not force:
        images = ("all images without at least one container associated to them" if all_
                  else "all dangling images")
        vols = "\t- all volumes not used by at least one container\n" if volumes else ""
        if not confirm("WARNING! This command removes:\n\t- all stopped containers\n"
                       f"\t- all networks not used by at least one container\n{vols}\t- {images}\n"
                       "\t- all dangling build cache\n\nAre you sure you want to continue?"):
            return
    p = paths()
    reclaimed = 0
    removed = prune_containers(parse_filters(list(filters)))
    if removed:
        write("Deleted Containers\n" + "".join(cid + "\n" for cid, _ in removed))
        reclaimed += sum(size for _, size in removed)
    if volumes:
        from rpod.container.state import containers_using_volume
        from rpod.volume.volumes import VolumeStore

        vstore = VolumeStore(p, in_use=lambda n: containers_using_volume(p, n))
        sizes = {v.name: dir_size(str(p.volumes / v.name / "_data")) for v in vstore.list()}
        names = vstore.prune()
        if names:
            write("Deleted Volumes\n" + "".join(n + "\n" for n in names))
            reclaimed += sum(sizes.get(n, 0) for n in names)
    store = ImageStore(p)
    used = containers_using(p)
    doomed = [r for r in store.list() if r.id not in used and (all_ or not r.names)]
    for r in doomed:
        store.delete(r.id)
        reclaimed += r.size
    if doomed:
        write("Deleted Images\n" + "".join(r.id + "\n" for r in doomed))
    cleanup_unused(p)
    write(f"Total reclaimed space: {_size(reclaimed)}\n")


@app.command("df")
@click.option("--format", "fmt", help="Pretty-print images using a Go template")
@click.option("--verbose", "-v", is_flag=True, help="Show detailed information on disk usage")
def df(fmt: str | None, verbose: bool) -> None:
    """Show rpod disk usage: images, containers and local volumes."""
    from rpod.format import render_list

    usage = _disk_usage()
    if verbose:
        if fmt:
            raise click.UsageError("cannot combine --format and --verbose flags")
        _df_verbose(usage)
        return
    rows = []
    for kind, items in (("Images", usage["images"]), ("Containers", usage["containers"]),
                        ("Local Volumes", usage["volumes"])):
        total = sum(i["size"] for i in items)
        free = sum(i["size"] for i in items if not i["active"])
        pct = int(round(100 * free / total)) if total else 0
        rows.append({"Type": kind, "Total": len(items), "Active": sum(1 for i in items if i["active"]),
                     "RawSize": total, "RawReclaimable": free, "Size": _size(total),
                     "Reclaimable": f"{_size(free)} ({pct}%)"})
    default = "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
    headers = {"Type": "TYPE", "Total": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
    write(render_list(fmt or default, rows, headers=headers))


def _disk_usage() -> dict[str, list[dict[str, Any]]]:
    """Per-object sizes and whether each is in use, for ``system df``."""
    from rpod.cli.container_more import dir_size
    from rpod.container.state import ContainerStore
    from rpod.image.store import ImageStore

    p = paths()
    cstore = ContainerStore(p)
    istore = ImageStore(p)
    states = list(cstore.iter_states())
    by_image: dict[str, int] = {}
    for rec, _st in states:
        by_image[rec.image_id] = by_image.get(rec.image_id, 0) + 1
    layer_users: dict[str, int] = {}
    records = istore.list()
    for r in records:
        for d in set(r.layers):
            layer_users[d] = layer_users.get(d, 0) + 1
    images = []
    for r in records:
        shared = sum(int(istore.layer_info(d).get("size", 0)) for d in set(r.layers) if layer_users[d] > 1)
        images.append({"rec": r, "size": r.size, "shared": shared, "containers": by_image.get(r.id, 0),
                       "active": by_image.get(r.id, 0) > 0})
    prefix = str(p.volumes) + os.sep
    volume_links: dict[str, int] = {}
    containers = []
    for rec, st in states:
        vols = [m["source"] for m in rec.mounts if str(m.get("source", "")).startswith(prefix)]
        for src in vols:
            name = os.path.basename(os.path.dirname(src))
            volume_links[name] = volume_links.get(name, 0) + 1
        containers.append({"rec": rec, "state": st, "size": dir_size(str(cstore.dir(rec.id) / "upper")),
                           "volumes": len(vols), "active": st.running})
    volumes = []
    from rpod.volume.volumes import VolumeStore

    for name in sorted(v.name for v in VolumeStore(p).list()):
        volumes.append({"name": name, "links": volume_links.get(name, 0),
                        "size": dir_size(str(p.volumes / name / "_data")), "active": name in volume_links})
    return {"images": images, "containers": containers, "volumes": volumes}


def _df_verbose(usage: dict[str, list[dict[str, Any]]]) -> None:
    import time

    from rpod.format import render_list
    from rpod.humanize import human_duration, parse_time

    now = time.time()

    def ago(ts: str) -> str:
        try:
            return human_duration(now - parse_time(ts))
        except Exception:
            return ""

    irows = []
    for i in usage["images"]:
        r = i["rec"]
        repo, _, tag = (r.names[0].rpartition(":") if r.names else ("<none>", "", "<none>"))
        irows.append({"Repository": repo, "Tag": tag, "ID": r.short_id, "Created": ago(r.created),
                      "Size": _size(i["size"]), "SharedSize": _size(i["shared"]),
                      "UniqueSize": _size(i["size"] - i["shared"]), "Containers": i["containers"]})
    crows = []
    for c in usage["containers"]:
        rec = c["rec"]
        crows.append({"ContainerID": rec.short_id, "Image": rec.image_id[:12],
                      "Command": " ".join(rec.command), "LocalVolumes": c["volumes"], "Size": _size(c["size"]),
                      "Created": ago(rec.created), "Status": c["state"].status, "Names": rec.name})
    vrows = [{"VolumeName": v["name"], "Links": v["links"], "Size": _size(v["size"])} for v in usage["volumes"]]
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
