"""Pods: ``create``, ``start``, ``stop``, ``restart``, ``kill``, ``rm``, ``prune``, ``ps`` rows,
``inspect``, ``exists`` (the engine side of ``rpod pod ...``).  Per-pod verbs return one
``PodReport`` per pod with its error, so a front end prints them through one loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rpod.engine.types import paths_or_default
from rpod.errors import RpodError
from rpod.paths import Paths
from rpod.pod.create import PodOptions, create_pod
from rpod.pod.store import NoSuchPod, PodRecord, PodStore

__all__ = ["PodOptions", "PodReport", "create", "exists", "inspect", "kill", "prune", "ps", "restart", "rm",
           "start", "stop"]


@dataclass
class PodReport:
    """The outcome of one verb on one pod: ``id`` on success, ``error`` otherwise."""

    ref: str
    id: str = ""
    error: BaseException | None = None
    errors: list[tuple[Any, BaseException]] = field(default_factory=list)  # per container


def create(paths: Paths | None, opts: PodOptions) -> PodRecord:
    paths = paths_or_default(paths)
    return create_pod(paths, opts)


def _pods(paths: Paths | None, refs: list[str], all_: bool = False, latest: bool = False) -> list[tuple[str, Any]]:
    store = PodStore(paths)
    if all_:
        return [(p.id, p) for p in store.list()]
    if latest:
        pods = store.list()
        if not pods:
            raise NoSuchPod("no pods to act on: no such pod", exit_code=125)
        return [(pods[0].id, pods[0])]
    out: list[tuple[str, Any]] = []
    for ref in refs:
        try:
            out.append((ref, store.get(ref)))
        except RpodError as e:
            out.append((ref, e))
    return out


def _each(paths: Paths | None, refs: list[str], fn: Any, *, all_: bool = False, latest: bool = False,
          ignore: bool = False) -> list[PodReport]:
    reports = []
    for ref, pod in _pods(paths, refs, all_, latest):
        if isinstance(pod, BaseException):
            if not (ignore and isinstance(pod, NoSuchPod)):
                reports.append(PodReport(ref, error=pod))
            continue
        try:
            errs = fn(pod) or []
            reports.append(PodReport(ref, id=pod.id, errors=errs))
        except RpodError as e:
            reports.append(PodReport(ref, error=e))
    return reports


def start(paths: Paths | None, refs: list[str], *, all_: bool = False, latest: bool = False) -> list[PodReport]:
    paths = paths_or_default(paths)
    from rpod.pod import ops

    return _each(paths, refs, lambda p: ops.start(paths, p), all_=all_, latest=latest)


def stop(paths: Paths | None, refs: list[str], *, timeout: int | None = None, all_: bool = False,
         latest: bool = False, ignore: bool = False) -> list[PodReport]:
    paths = paths_or_default(paths)
    from rpod.pod import ops

    return _each(paths, refs, lambda p: ops.stop(paths, p, timeout), all_=all_, latest=latest, ignore=ignore)


def restart(paths: Paths | None, refs: list[str], *, all_: bool = False, latest: bool = False) -> list[PodReport]:
    paths = paths_or_default(paths)
    from rpod.pod import ops

    def one(p: PodRecord) -> list[Any]:
        return ops.stop(paths, p) + ops.start(paths, p)

    return _each(paths, refs, one, all_=all_, latest=latest)


def kill(paths: Paths | None, refs: list[str], signal: str | int, *, all_: bool = False,
         latest: bool = False) -> list[PodReport]:
    paths = paths_or_default(paths)
    from rpod.container.options import parse_signal
    from rpod.pod import ops

    signum = parse_signal(signal)
    return _each(paths, refs, lambda p: ops.kill(paths, p, signum), all_=all_, latest=latest)


def rm(paths: Paths | None, refs: list[str], *, force: bool = False, timeout: int | None = None, all_: bool = False,
       latest: bool = False, ignore: bool = False) -> list[PodReport]:
    """Remove pods (Podman: a missing one is exit 1 for ``pod rm``)."""
    paths = paths_or_default(paths)
    from rpod.pod import ops

    reports = _each(paths, refs, lambda p: ops.remove(paths, p, force=force, timeout=timeout), all_=all_,
                    latest=latest, ignore=ignore)
    for r in reports:
        if isinstance(r.error, NoSuchPod):
            r.error.exit_code = 1
    return reports


def clone(paths: Paths | None, ref: str, *, name: str | None = None, destroy: bool = False,
          start_pod: bool = False) -> PodRecord:
    """``pod clone``: a new pod with ``ref``'s configuration (not its containers); ``destroy``
    removes the original first (its name can then be reused), ``start_pod`` starts the clone."""
    from rpod.pod import ops
    from rpod.pod.create import clone_options

    paths = paths_or_default(paths)
    old = PodStore(paths).get(ref)
    opts = clone_options(old, name)
    if destroy:
        ops.remove(paths, old, force=True)
    new = create_pod(paths, opts)
    if start_pod:
        ops.start(paths, new)
    return new


def prune(paths: Paths | None) -> list[PodReport]:
    """Remove every pod none of whose containers runs."""
    paths = paths_or_default(paths)
    from rpod.pod import ops
    from rpod.pod.store import status

    gone = [p for p in PodStore(paths).list() if status(paths, p) in ("Created", "Exited", "Stopped", "Error")]
    return _each(paths, [p.id for p in gone], lambda p: ops.remove(paths, p, force=True))


def exists(paths: Paths | None, ref: str) -> bool:
    paths = paths_or_default(paths)
    return PodStore(paths).lookup(ref) is not None


def inspect(paths: Paths | None, ref: str | None, *, latest: bool = False) -> dict[str, Any]:
    paths = paths_or_default(paths)
    from rpod.pod import ops

    pod = _pods(paths, [ref or ""], latest=latest)[0][1]
    if isinstance(pod, BaseException):
        raise pod
    return ops.inspect(paths, pod)


@dataclass
class PodRow:
    """One ``pod ps`` row; attribute names are Podman's template fields."""

    ID: str
    Name: str
    Status: str
    Created: str
    InfraID: str
    NumberOfContainers: int
    Labels: dict[str, str]
    Networks: list[str]
    ContainerNames: str
    ContainerIds: str
    ContainerStatuses: str
    CreatedAt: str
    Cgroup: str = ""
    Namespace: str = ""
    Containers: list[dict[str, Any]] = field(default_factory=list)


def ps(paths: Paths | None, filters: dict[str, list[str]], *, no_trunc: bool = False) -> list[PodRow]:
    paths = paths_or_default(paths)
    from rpod.container.state import ContainerStore
    from rpod.humanize import parse_time, since
    from rpod.pod.store import container_state, members, pod_status

    store = ContainerStore(paths)
    rows = []
    for pod in PodStore(paths).list():
        ctrs = sorted(members(paths, pod.id), key=lambda c: c.created)
        states = [container_state(store, c.id) for c in ctrs]
        stat = pod_status(states)
        if not _pod_matches(pod, ctrs, stat, filters):
            continue
        short = (lambda i: i) if no_trunc else (lambda i: i[:12])  # noqa: E731
        net = (pod.infra_options or {}).get("network") or ""
        rows.append(PodRow(
            ID=short(pod.id), Name=pod.name, Status=stat, Created=since(parse_time(pod.created)),
            InfraID=short(pod.infra_id) if pod.infra_id else "", NumberOfContainers=len(ctrs),
            Labels=pod.labels, Networks=[n for n in net.split(",") if n and ":" not in n],
            ContainerNames=",".join(c.name for c in ctrs), ContainerIds=",".join(short(c.id) for c in ctrs),
            ContainerStatuses=",".join(states), CreatedAt=pod.created,
            Containers=[{"Id": c.id, "Names": c.name, "Status": s, "RestartCount": 0}
                        for c, s in zip(ctrs, states, strict=True)]))
    return rows


def _pod_matches(pod: PodRecord, ctrs: list[Any], stat: str, filters: dict[str, list[str]]) -> bool:
    import re

    for key, values in filters.items():
        if key == "name":
            ok = any(re.search(v, pod.name) for v in values)
        elif key == "id":
            ok = any(pod.id.startswith(v) for v in values)
        elif key == "status":
            ok = stat.lower() in [v.lower() for v in values]
        elif key == "label":
            ok = any(_has_label(pod.labels, v) for v in values)
        elif key == "ctr-names":
            ok = any(c.name == v for c in ctrs for v in values)
        elif key == "ctr-ids":
            ok = any(c.id.startswith(v) for c in ctrs for v in values)
        elif key == "ctr-number":
            ok = str(len(ctrs)) in values
        else:
            from rpod.errors import UsageError

            raise UsageError(f"{key} is an invalid filter",
                             hint="valid filters: name, id, status, label, ctr-names, ctr-ids, ctr-number")
        if not ok:
            return False
    return True


def _has_label(labels: dict[str, str], spec: str) -> bool:
    k, sep, v = spec.partition("=")
    return k in labels and (not sep or labels[k] == v)
