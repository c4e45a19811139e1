"""The store as a whole: version, info, events, disk usage, prune, reset, unshare; and how an
error is explained (the host gap behind it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rpod.engine.host import explain, version
from rpod.engine.types import paths_or_default

__all__ = ["explain", "version"]

if TYPE_CHECKING:
    from rpod.paths import Paths


@dataclass
class InfoReport:
    """``info``: the document (``doc``, JSON view) and its Go template view (``view``)."""

    doc: dict[str, Any]
    view: Any
    yaml: str


def info(paths: Paths | None = None) -> InfoReport:
    """Host, store and registries, as ``podman info``."""
    from rpod.sysinfo import gather, go_view, to_yaml

    doc = gather(paths_or_default(paths))
    return InfoReport(doc, go_view(doc), to_yaml(doc))


# --------------------------------------------------------------------------------------- events
@dataclass
class EventsOptions:
    """``events``: filters, a time window (RFC 3339, UNIX seconds or a duration ago), follow."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    since: str | None = None
    until: str | None = None
    stream: bool = True


def events(opts: EventsOptions, paths: Paths | None = None) -> Iterator[dict[str, Any]]:
    """Events of the per-user log as Podman's JSON objects (plus ``ns``); with ``stream`` new ones
    as they come (until ``until``), across a rotation of the file."""
    from rpod import events as evlog
    from rpod.engine import filters as flt
    from rpod.errors import RpodError

    if evlog.backend() == "none":
        raise RpodError('cannot read events with the "none" backend')
    flt.check_keys_events(opts.filters)
    since_ns, until_ns = (_time_ns(t) for t in (opts.since, opts.until))
    log = paths_or_default(paths).events_log
    try:
        f = open(log, encoding="utf-8", errors="replace")  # noqa: SIM115 - followed below
    except FileNotFoundError:
        if not opts.stream or until_ns is not None:
            return
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch(mode=0o600)
        f = open(log, encoding="utf-8", errors="replace")  # noqa: SIM115
    try:
        if opts.stream and opts.since is None and opts.until is None:
            f.seek(0, os.SEEK_END)  # Podman: a stream without --since/--until shows new events only
        pending = ""
        while True:
            chunk = f.read()
            if chunk:
                lines = (pending + chunk).split("\n")
                pending = lines.pop()
                for ev in evlog.parse_lines(lines):
                    # strictly after --since, strictly before --until (Podman's filters); the file
                    # is read to its end: its times need not be in order (a rotation's is later
                    # than the event after it)
                    if (since_ns is not None and ev["ns"] <= since_ns) or (until_ns is not None and ev["ns"] >= until_ns):
                        continue
                    if flt.event(ev, opts.filters):
                        yield ev
                continue
            if not opts.stream or (until_ns is not None and time.time_ns() > until_ns):
                return
            if _replaced(f, log):  # rotated (this file read to its end): the new one holds what follows
                f.close()
                f = open(log, encoding="utf-8", errors="replace")  # noqa: SIM115
                pending = ""
                continue
            time.sleep(0.2)
    finally:
        f.close()


def _time_ns(value: str | None) -> int | None:
    """``--since``/``--until`` in nanoseconds: an RFC 3339 time to the nanosecond (events are
    that precise), else ``time_arg``'s UNIX seconds or duration ago."""
    from rpod import events as evlog
    from rpod.duration import time_arg

    exact = evlog.time_ns(value) if value else None
    if exact is not None:
        return exact
    t = time_arg(value)
    return None if t is None else int(t * 1e9)


def _replaced(f: Any, log: Any) -> bool:
    """The log at ``log`` is no longer the file ``f`` reads (a rotation renamed a new one there)."""
    try:
        return os.stat(log).st_ino != os.fstat(f.fileno()).st_ino
    except OSError:
        return False


def event_line(ev: dict[str, Any]) -> str:
    """Podman's default ``events`` line for an event."""
    from rpod import events as evlog

    return evlog.human_line(ev)


# ------------------------------------------------------------------------------------ disk usage
@dataclass
class DiskUsage:
    """``system df``: per image, container and volume: its size and whether it is in use."""

    images: list[dict[str, Any]] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)


def df(paths: Paths | None = None) -> DiskUsage:
    """Sizes of what the store holds (``rec`` keys hold the domain records)."""
    from rootless import ctrfiles
    from rpod.engine.containers import container_store, dir_size
    from rpod.engine.volumes import volume_store
    from rpod.image.store import ImageStore

    p = paths_or_default(paths)
    cstore, istore = container_store(p), ImageStore(p)
    states = list(cstore.iter_states())
    by_image: dict[str, int] = {}
    for rec, _st in states:
        by_image[rec.image_id] = by_image.get(rec.image_id, 0) + 1
    layer_users: dict[str, int] = {}
    records = istore.list()
    for r in records:
        for d in set(r.layers):
            layer_users[d] = layer_users.get(d, 0) + 1
    usage = DiskUsage()
    for r in records:
        shared = sum(int(istore.layer_info(d).get("size", 0)) for d in set(r.layers) if layer_users[d] > 1)
        usage.images.append({"rec": r, "size": r.size, "shared": shared, "containers": by_image.get(r.id, 0),
                             "active": by_image.get(r.id, 0) > 0})
    prefix = str(p.volumes) + os.sep
    volume_links: dict[str, int] = {}
    for rec, st in states:
        vols = [m["source"] for m in rec.mounts if str(m.get("source", "")).startswith(prefix)]
        for src in vols:
            name = os.path.basename(os.path.dirname(src))
            volume_links[name] = volume_links.get(name, 0) + 1
        usage.containers.append({"rec": rec, "state": st, "size": dir_size(str(cstore.dir(rec.id) / ctrfiles.UPPER)),
                                 "volumes": len(vols), "active": st.running})
    for name in sorted(v.name for v in volume_store(p).list()):
        usage.volumes.append({"name": name, "links": volume_links.get(name, 0),
                              "size": dir_size(str(p.volumes / name / "_data")), "active": name in volume_links})
    return usage


# ---------------------------------------------------------------------------------- prune / reset
@dataclass
class PruneReport:
    """``system prune``: what went, and the bytes freed."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    reclaimed: int = 0


def prune(all_: bool = False, volumes: bool = False, filters: dict[str, list[str]] | None = None,
          paths: Paths | None = None) -> PruneReport:
    """Stopped containers, (with ``volumes``) unused volumes, dangling (``all_``: unused) images."""
    from rpod.engine import containers, images
    from rpod.engine import volumes as vols

    p = paths_or_default(paths)
    report = PruneReport()
    for c in containers.prune(filters or {}, p):
        report.containers.append(c.id)
        report.reclaimed += c.size
    if volumes:
        for name, size in vols.prune(None, p):
            report.volumes.append(name)
            report.reclaimed += size
    for i in images.prune(all_, None, p):
        report.images.append(i.id)
        report.reclaimed += i.size
    return report


def reset(paths: Paths | None = None, warn: Any = None) -> None:
    """Remove every container (killing running ones), image, volume and all state of the store;
    ``warn(text)`` hears about containers that could not be removed cleanly."""
    import shutil

    from rootless.subid import default_mapping
    from rootless.userns import remove_tree
    from rpod.container import lifecycle
    from rpod.engine.containers import container_store

    p = paths_or_default(paths)
    for rec in container_store(p).list():
        try:
            lifecycle.remove(p, rec, force=True, timeout=0)
        except Exception as e:  # reset goes on: the store is removed below anyway
            if warn is not None:
                warn(f"removing container {rec.name}: {e}")
    mapping = default_mapping()
    for d in (p.root, p.runroot):
        if d.exists():
            remove_tree(d, mapping)
    shutil.rmtree(p.runroot, ignore_errors=True)


def unshare(argv: list[str], paths: Paths | None = None, rootless_netns: bool = False) -> int:
    """Run ``argv`` in a user namespace with the user's subordinate id map (as root there), with
    Podman's ``CONTAINERS_*`` variables; its exit code (255 when killed by a signal).  With
    ``rootless_netns``: in the user networks' namespaces (the network holder's user and network
    namespaces), where the containers' addresses are reachable.
    Raises ``FileNotFoundError`` when ``argv[0]`` does not exist."""
    from rootless import userns
    from rootless.subid import default_mapping

    p = paths_or_default(paths)
    env = dict(os.environ, CONTAINERS_GRAPHROOT=str(p.root), CONTAINERS_RUNROOT=str(p.runroot),
               RPOD_UNSHARE="1", _CONTAINERS_ROOTLESS_UID=str(os.getuid()),
               _CONTAINERS_ROOTLESS_GID=str(os.getgid()))
    if rootless_netns:
        import subprocess

        from rpod.network.bridge import join_holder_namespaces

        proc = subprocess.Popen(argv, env=env, preexec_fn=join_holder_namespaces(p))  # noqa: PLW1509 - setns only
    else:
        proc = userns.popen(argv, default_mapping(), env=env)
    rc = proc.wait()
    return rc if rc >= 0 else 255


# ---------------------------------------------------------------------------------- check
@dataclass
class CheckOptions:
    repair: bool = False  # remove damaged images and leftovers, fix name links
    force: bool = False  # also remove containers using damaged images
    quick: bool = False  # skip hashing blobs
    max_age: str = "24h"  # unused layers older than this (a Go duration) are leftovers of cancelled pulls


@dataclass
class Finding:
    kind: str  # image | layer | container | name | directory | store
    ident: str
    problem: str
    repaired: bool = False


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.findings if not f.repaired]


def check(opts: CheckOptions, paths: Paths | None = None) -> CheckReport:
    """``system check``: images, layers, container records and name links (repaired with
    ``opts.repair``; containers of damaged images removed too with ``opts.force``)."""
    from rpod import duration
    from rpod.container import check as ccheck
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore
    from rpod.engine.images import containers_by_image
    from rpod.image import check as icheck

    paths = paths_or_default(paths)
    max_age = duration.parse(opts.max_age, "--max")
    cstore = ContainerStore(paths)
    report = CheckReport()
    for p in ccheck.check(cstore, repair=opts.repair):
        report.findings.append(Finding(p.kind, p.ident, p.problem, p.repaired))
    problems = icheck.check(paths, containers_by_image(paths), quick=opts.quick, max_age=max_age)
    if opts.repair:
        if opts.force:
            for p in problems:
                for name in p.users if p.kind == "image" else []:
                    lifecycle.remove(paths, cstore.get(name), force=True, timeout=0)
        icheck.repair(paths, problems, opts.force)
    for p in problems:
        extra = f" (used by {', '.join(p.users)}: use --force)" if p.users and not p.repaired else ""
        report.findings.append(Finding(p.kind, p.ident, p.problem + extra, p.repaired))
    return report
