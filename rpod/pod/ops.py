"""What a pod verb does to its containers: start (infra first), stop/kill (infra last), remove
(dependents first, the infra last, then the record), and the inspect document."""

from __future__ import annotations

import contextlib
from typing import Any

from rpod.errors import RpodError, StateConflict
from rpod.paths import Paths
from rpod.pod.store import PodRecord, PodStore, container_state, members, status


def _event(paths: Paths, pod: PodRecord, action: str) -> None:
    from rpod.events import record

    record(paths, "pod", action, id=pod.id, name=pod.name)


def start_order(paths: Paths, pod: PodRecord) -> list[Any]:
    """Members with the ones others depend on (the infra) first."""
    from rpod.container.namespaces import dependencies

    ctrs = members(paths, pod.id)
    ids = {c.id for c in ctrs}
    done: list[Any] = []
    left = sorted(ctrs, key=lambda c: c.created)
    while left:
        ready = [c for c in left if not (set(dependencies(c.options)) & ids) - {d.id for d in done}]
        if not ready:  # a cycle cannot be made, but never loop forever
            ready = left[:1]
        done += ready
        left = [c for c in left if c not in ready]
    return done


def start(paths: Paths, pod: PodRecord) -> list[tuple[Any, BaseException]]:
    """Start every member that is not running; (record, error) of those that failed."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    errors: list[tuple[Any, BaseException]] = []
    service = store.load(pod.service_container_id) if pod.service_container_id else None
    for rec in [*([service] if service else []), *start_order(paths, pod)]:  # the service container first
        if store.state(rec.id).running:
            continue
        try:
            started = lifecycle.start(paths, rec, None)
            if started.sync:
                started.sync.close()
        except RpodError as e:
            errors.append((rec, e))
    _event(paths, pod, "start")
    return errors


def stop(paths: Paths, pod: PodRecord, timeout: int | None = None) -> list[tuple[Any, BaseException]]:
    """Stop the members, the infra last."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    errors: list[tuple[Any, BaseException]] = []
    order = [r for r in reversed(start_order(paths, pod)) if store.state(r.id).running]
    infra = [r for r in order if r.id == pod.infra_id]
    members = [r for r in order if r.id != pod.infra_id]

    def one(rec: Any) -> None:
        try:
            lifecycle.stop(paths, rec, timeout)
        except RpodError as e:
            errors.append((rec, e))

    if len(members) > 1:  # the members at once (each waits for its own exit), as Podman
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(8, len(members))) as pool:
            list(pool.map(one, members))
    else:
        for rec in members:
            one(rec)
    for rec in infra:  # then the infra: the members' namespaces go with it
        one(rec)
    stop_idle_service(paths, pod)
    _event(paths, pod, "stop")
    return errors


def stop_idle_service(paths: Paths, pod: PodRecord) -> None:
    """Stop the pod's service container once no pod it serves has a running member (Podman)."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    if not pod.service_container_id:
        return
    store = ContainerStore(paths)
    service = store.load(pod.service_container_id)
    if service is None or not store.state(service.id).running:
        return
    for other in served_pods(paths, service.id):
        if any(store.state(c.id).running for c in members(paths, other.id) if c.id != other.infra_id):
            return
    with contextlib.suppress(RpodError):
        lifecycle.stop(paths, service, 0)


def served_pods(paths: Paths, service_id: str) -> list[PodRecord]:
    """The pods whose service container ``service_id`` is."""
    return [p for p in PodStore(paths).list() if p.service_container_id == service_id]


def apply_exit_policy(paths: Paths, pod_id: str) -> None:
    """``--exit-policy=stop``: once no member (other than the infra) runs, stop the infra."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    pod = PodStore(paths).load(pod_id)
    if pod is None:
        return
    store = ContainerStore(paths)
    ctrs = members(paths, pod.id)
    if any(store.state(c.id).running for c in ctrs if c.id != pod.infra_id):
        return
    infra = store.load(pod.infra_id) if pod.infra_id else None
    if pod.exit_policy == "stop" and infra is not None and store.state(infra.id).running:
        with contextlib.suppress(RpodError):
            lifecycle.stop(paths, infra)
    stop_idle_service(paths, pod)


def kill(paths: Paths, pod: PodRecord, signum: int) -> list[tuple[Any, BaseException]]:
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    errors: list[tuple[Any, BaseException]] = []
    running = [r for r in start_order(paths, pod) if store.state(r.id).running]
    for rec in reversed(running):  # nothing running: nothing to signal, as Podman (exit 0)
        try:
            lifecycle.signal_container(paths, rec, signum)
        except RpodError as e:
            errors.append((rec, e))
    _event(paths, pod, "kill")
    return errors


def remove(paths: Paths, pod: PodRecord, *, force: bool = False, timeout: int | None = None) -> None:
    """Remove the pod's containers (dependents first, the infra last) and the pod."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    order = list(reversed(start_order(paths, pod)))
    if not force:  # a running infra is no obstacle (Podman's checkReadyForRemoval): it is stopped below
        for rec in order:
            if rec.id != pod.infra_id and store.state(rec.id).running:
                raise StateConflict(
                    f"pod {pod.id} has containers that are not ready to be removed: cannot remove container "
                    f"{rec.id} as it is running - running or paused containers cannot be removed without "
                    "force: container state improper", exit_code=125)
    if force:
        with contextlib.suppress(RpodError):
            stop(paths, pod, timeout)
    for rec in order:
        if store.load(rec.id) is not None:
            lifecycle.remove(paths, rec, force=force or rec.id == pod.infra_id, timeout=timeout, volumes=True)
    import shutil

    shutil.rmtree(paths.root / "kube" / pod.id, ignore_errors=True)  # kube play's ConfigMap/Secret files
    PodStore(paths).remove(pod)
    _event(paths, pod, "remove")
    service = store.load(pod.service_container_id) if pod.service_container_id else None
    if service is not None and not served_pods(paths, service.id):  # its last pod: it goes too
        lifecycle.remove(paths, service, force=True, timeout=0)


def inspect(paths: Paths, pod: PodRecord) -> dict[str, Any]:
    """Podman 4.3's ``pod inspect`` document."""
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    ctrs = members(paths, pod.id)
    infra_opts = pod.infra_options or {}
    nets = infra_opts.get("network") or ""
    ns_of = {"net": "net", "ipc": "ipc", "uts": "uts", "pid": "pid", "cgroup": "cgroup"}
    doc: dict[str, Any] = {
        "Id": pod.id, "Name": pod.name, "Created": pod.created, "CreateCommand": pod.create_command or None,
        "ExitPolicy": pod.exit_policy, "State": status(paths, pod, ctrs), "Hostname": pod.hostname,
        "Labels": pod.labels or None, "CreateCgroup": False, "CreateInfra": pod.infra,
    }
    doc["InfraContainerID"] = pod.infra_id
    if pod.infra:
        doc["InfraConfig"] = {
            "PortBindings": _port_bindings(infra_opts.get("publish") or []), "HostNetwork": nets == "host",
            "StaticIP": "", "StaticMAC": "", "NoManageResolvConf": False,
            "DNSServer": infra_opts.get("dns") or None, "DNSSearch": None, "DNSOption": None,
            "NoManageHosts": False, "HostAdd": infra_opts.get("add_host") or None,
            "Networks": [n for n in nets.split(",") if n] if nets and ":" not in nets and nets not in (
                "host", "none", "slirp4netns", "pasta") else [],
            "NetworkOptions": None,
            "pid_ns": "private", "userns": infra_opts.get("userns") or "host",
            "uts_ns": "private",
        }
    doc["SharedNamespaces"] = [ns_of[k] for k in ("uts", "ipc", "net", "pid", "cgroup") if k in pod.share] or None
    doc["NumContainers"] = len(ctrs)
    doc["Containers"] = [{"Id": c.id, "Name": c.name, "State": container_state(store, c.id)}
                         for c in sorted(ctrs, key=lambda c: c.created)]
    return doc


def _port_bindings(publish: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in publish:
        parts = spec.rsplit(":", 2)
        ctr = parts[-1] if "/" in parts[-1] else parts[-1] + "/tcp"
        host = parts[-2] if len(parts) >= 2 else ""
        ip = parts[0] if len(parts) == 3 else ""
        out.setdefault(ctr, []).append({"HostIp": ip, "HostPort": host})
    return out
