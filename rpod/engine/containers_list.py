"""``ps``: the container listing (rows, sizes, health), read from the store without locking."""

from __future__ import annotations

import os
import time

from rootless import ctrfiles
from rpod.engine.types import paths_or_default
from rpod.errors import RpodError, UsageError
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.paths import Paths


@record
class ListOptions:
    """``ps``: which containers, in which order."""

    all: bool = False
    latest: bool = False
    last: int = -1
    no_trunc: bool = False
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "created"
    size: bool = False


def status_text(st: Any) -> str:
    """``Up 3 minutes``, ``Exited (0) 2 seconds ago``, ``Created``: Podman's STATUS column."""
    from rpod.humanize import human_duration, parse_time

    now = time.time()
    if st.status in ("running", "stopping"):
        return f"Up {human_duration(now - parse_time(st.started_at))}" if st.started_at else "Up"
    if st.status == "exited":
        ago = human_duration(now - parse_time(st.finished_at)) + " ago" if st.finished_at else ""
        word = "Restarting" if st.restarting else "Exited"  # in the restart back-off gap (Docker's word)
        return f"{word} ({st.exit_code}) {ago}".rstrip()
    return "Created"


def health(paths: Paths, rec: Any, st: Any) -> dict[str, Any]:
    """``State.Health``: the monitor's health log while it runs a healthcheck for the container."""
    if not getattr(rec, "healthcheck", None):
        return {"Status": "", "FailingStreak": 0, "Log": None}
    from rpod.container.service import read_health

    return read_health(paths.container_dir(rec.id)) or {"Status": "starting" if st.running else "",
                                                         "FailingStreak": 0, "Log": None}


def created_ts(value: str) -> float:
    from rpod.humanize import parse_time

    return parse_time(value)


class PsRow:
    """One ``ps`` row; attribute names are Podman's template fields."""

    def __init__(self, paths: Paths, rec: Any, st: Any, no_trunc: bool):
        from rpod.humanize import since

        cmd = " ".join(rec.command)
        self.ID = rec.id if no_trunc else rec.id[:12]
        self.Id = rec.id
        self.Image = rec.image_name
        self.ImageID = rec.image_id
        self.Command = cmd if no_trunc or len(cmd) <= 20 else cmd[:17] + "..."
        self.CreatedHuman = since(created_ts(rec.created))
        self.CreatedAt = rec.created
        self.Created = int(created_ts(rec.created))
        self.RunningFor = self.CreatedHuman
        self.Status = status_text(st)
        hc = health(paths, rec, st)
        if hc.get("Status") and st.status == "running":
            self.Status += f" ({hc['Status']})"
        self.Restarts = rec.restart_count + st.restart_count
        self.State = st.status
        ports = rec.ports or _joined_ports(paths, rec)
        if ports:  # the ports module (ipaddress, socket) only when there is something to print
            from rpod.network.ports import ps_text

            self.Ports = ps_text(ports)
        else:
            self.Ports = ""
        self.Names = rec.name
        self.Labels = dict(rec.labels)
        self.Mounts = [m.get("destination", "") for m in rec.mounts]
        self.Pid = st.pid
        self.ExitCode = st.exit_code
        self.Exited = st.status == "exited"
        self.ExitedAt = int(created_ts(st.finished_at)) if st.finished_at else 0
        self.StartedAt = int(created_ts(st.started_at)) if st.started_at else 0
        self.Networks: list[str] = []
        self.Pod, self.PodName, self.IsInfra = "", "", False
        from rpod.container.namespaces import record_option

        if record_option(rec, "pod"):  # the pod module only for containers in a pod
            from rpod.pod.store import pod_info

            pod_id, self.PodName, self.IsInfra = pod_info(paths, rec)
            self.Pod = pod_id if no_trunc else pod_id[:12]
        self.Size = ""  # filled by ps -s
        self.SizeRw = 0
        self.SizeRootFs = 0

    def json(self, size: bool = False) -> dict[str, Any]:
        """Podman's ``ps --format json`` object."""
        skip = ("ID", "CreatedHuman", "RunningFor", "Size", "SizeRw", "SizeRootFs")
        d = {k: v for k, v in vars(self).items() if k not in skip}
        d["Names"] = [self.Names]
        d["Command"] = None
        d["Size"] = {"rootFsSize": self.SizeRootFs, "rwSize": self.SizeRw} if size else None
        return d


# Podman 4.3.1 lists the oldest first (observed: ``ps -a`` and ``--sort created|runningfor``)
_SORT_KEYS = {"created": lambda r: created_ts(r.CreatedAt), "id": lambda r: r.Id, "names": lambda r: r.Names,
              "status": lambda r: r.State, "image": lambda r: r.Image, "command": lambda r: r.Command,
              "runningfor": lambda r: created_ts(r.CreatedAt), "size": lambda r: r.SizeRw}


def dir_size(path: str) -> int:
    """Bytes of the regular files under ``path`` (unreadable parts count as 0)."""
    total = 0
    for root, _dirs, files in os.walk(path, onerror=lambda e: None):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue
    return total


def image_sizes(paths: Paths) -> dict[str, int]:
    """Image id → size, for ``ps -s`` and ``inspect -s``."""
    from rpod.image.store import ImageStore

    try:
        return {r.id: int(r.size or 0) for r in ImageStore(paths).list()}
    except RpodError:
        return {}


def sizes(paths: Paths, rec: Any, by_image: dict[str, int]) -> tuple[int, int]:
    """(bytes written by the container, size of its image): Podman's rwSize and rootFsSize."""
    return dir_size(str(paths.container_dir(rec.id) / ctrfiles.UPPER)), by_image.get(rec.image_id, 0)


def ps(opts: ListOptions, paths: Paths | None = None) -> list[PsRow]:
    """The containers ``ps`` shows, as rows (running ones unless ``all``/filters/latest/last)."""
    from rpod.engine import filters as flt

    p = paths_or_default(paths)
    if opts.sort not in _SORT_KEYS:
        raise UsageError(f'invalid argument "{opts.sort}" for "--sort" flag: "{opts.sort}" is not a valid value.  '
                         'Choose from: "command, created, id, image, names, runningfor, size, status"')
    for key in opts.filters:
        if key not in flt.CONTAINER_KEYS:
            raise UsageError(f"invalid filter {key!r}: use name, id, status, label, exited, ancestor or health")
    flt.check_restart_policies(opts.filters.get("restart-policy", []))
    flt.check_container_states(opts.filters.get("status", []))
    rows = []
    from rpod.container.state import ContainerStore

    for rec, st in ContainerStore(p).iter_states():
        # as Podman: a filter does not imply --all, except status= (Docker's rule)
        if not opts.all and not opts.filters.get("status") and not opts.latest and opts.last < 0 \
                and not st.running:
            continue
        if not flt.container(rec, st, opts.filters, lambda r=rec, s=st: health(p, r, s).get("Status") or ""):
            continue
        rows.append(PsRow(p, rec, st, opts.no_trunc))
    if opts.size or opts.sort == "size":
        from rpod.humanize import human_size

        by_image = image_sizes(p)
        for r in rows:
            r.SizeRw, r.SizeRootFs = dir_size(str(p.container_dir(r.Id) / ctrfiles.UPPER)), by_image.get(r.ImageID, 0)
            if opts.size:
                r.Size = (f"{human_size(r.SizeRw).replace(' ', '')} "
                          f"(virtual {human_size(r.SizeRootFs).replace(' ', '')})")
    if opts.latest or opts.last >= 0:  # the newest N, then listed in the --sort order
        rows.sort(key=lambda r: created_ts(r.CreatedAt), reverse=True)
        rows = rows[:1] if opts.latest else rows[:opts.last]
    rows.sort(key=_SORT_KEYS[opts.sort])
    return rows


def _joined_ports(paths: Paths, rec: Any) -> list[Any]:
    """``--network container:X`` (a pod's members): X's published ports, as Podman's ps shows them."""
    from rpod.container.namespaces import record_option
    from rpod.container.state import ContainerStore

    network = str(record_option(rec, "network") or "")
    if not network.startswith("container:"):
        return []
    owner = ContainerStore(paths).load(network.partition(":")[2])
    return list(owner.ports) if owner is not None else []
