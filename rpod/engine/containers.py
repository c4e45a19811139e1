"""Containers: list, remove, stop, kill, wait, restart, rename, port, prune...

Start is in ``containers_start``, inspect in ``containers_inspect``, logs in ``containers_logs``,
top in ``containers_top``,
exec in ``containers_exec``, create/run/attach in ``containers_run``, cp/diff/export in
``containers_files``; the verbs' option classes in ``containers_options``.
Every function takes an optional ``paths`` (the store; default: ``rpod.engine.types.store()``).
"""

from __future__ import annotations

from collections.abc import Iterable

from rpod.engine.types import paths_or_default
from rpod.errors import NoSuchContainer, RpodError, StateConflict, UsageError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.engine.containers_options import (
        KillOptions,
        PruneReport,
        RemoveOptions,
        RestartOptions,
        StopOptions,
        WaitOptions,
    )
    from rpod.engine.items import ItemReport
    from rpod.paths import Paths

_OPTIONS = ("RemoveOptions", "StopOptions", "KillOptions", "RestartOptions", "WaitOptions", "PruneReport")
_LISTING = ("ListOptions", "PsRow", "ps", "status_text", "health", "dir_size", "image_sizes", "sizes")


def __getattr__(name: str) -> object:
    """The verbs' option classes (``containers_options``) and the listing (``containers_list``),
    made on first use."""
    if name in _OPTIONS:
        from rpod.engine import containers_options

        return getattr(containers_options, name)
    if name in _LISTING:
        from rpod.engine import containers_list

        return getattr(containers_list, name)
    if name == "start":  # the verb moved to containers_start; the engine's Python API keeps its name
        from rpod.engine import containers_start

        return containers_start.start
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

WAIT_CONDITIONS = ("configured", "created", "exited", "paused", "running", "stopped", "stopping", "removing")


def container_store(paths: Paths | None = None) -> Any:
    """The domain's container store (``rpod.container.state.ContainerStore``)."""
    from rpod.container.state import ContainerStore

    return ContainerStore(paths_or_default(paths))


def _each(refs: Iterable[str], fn: Any, ignore_missing: bool = False) -> list[ItemReport]:
    """Apply ``fn(ref) -> ItemReport`` to each ref, catching each item's error in its report."""
    from rpod.engine.items import ItemReport

    out: list[ItemReport] = []
    for ref in refs:
        try:
            out.append(fn(ref))
        except NoSuchContainer as e:
            if not ignore_missing:
                out.append(ItemReport(ref, error=e))
        except RpodError as e:
            out.append(ItemReport(ref, error=e))
    return out


def cidfile_refs(cidfiles: Iterable[str], ignore: bool) -> list[str]:
    """The ids written in ``--cidfile`` files; with ``ignore`` a missing file is skipped
    (a unit's ExecStopPost after the container already went away)."""
    refs = []
    for path in cidfiles:
        try:
            with open(path) as f:
                cid = f.read().strip()
        except FileNotFoundError:
            if ignore:
                continue
            raise UsageError(f"reading CIDFile: open {path}: no such file or directory") from None
        if cid:
            refs.append(cid)
    return refs



def exists(ref: str, paths: Paths | None = None) -> bool:
    """Whether a container with that name or (short) id exists."""
    try:
        container_store(paths).get(ref)
    except NoSuchContainer:
        return False
    return True


def resolve(refs: Iterable[str], latest: bool = False, paths: Paths | None = None) -> list[Any]:
    """Container records for names/ids (or the latest created); raises ``NoSuchContainer``."""
    store = container_store(paths)
    if latest:
        return [store.latest()]
    return [store.get(r) for r in refs]


# --------------------------------------------------------------------------------- rm / stop / kill
def _dependents(store: Any, rec: Any) -> list[Any]:
    """Containers that depend on ``rec`` (its namespaces, ``--requires``), dependents' own first."""
    from rpod.container.namespaces import dependents

    out: list[Any] = []
    for cid in dependents(store.paths, rec.id):
        dep = store.load(cid)
        if dep is not None:
            out += [d for d in _dependents(store, dep) if d.id not in {o.id for o in out}] + [dep]
    return out


def remove_records(paths: Paths, records: Iterable[Any], *, force: bool = True, timeout: int | None = 0,
                   volumes: bool = False) -> None:
    """Remove containers (stopping running ones when ``force``): what rmi -f, network rm -f,
    volume rm -f and system reset do to the containers in their way.  A pod's infra container
    takes its pod with it, all the pod's containers included (Podman's removePod there)."""
    from rpod.container import lifecycle
    from rpod.container.namespaces import record_option
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    for rec in records:
        if store.load(rec.id) is None:  # went with a pod removed before it
            continue
        if record_option(rec, "pod"):
            from rpod.pod.store import PodStore, pod_info

            pod_id, _name, is_infra = pod_info(paths, rec)
            pod = PodStore(paths).load(pod_id) if is_infra else None
            if pod is not None:
                from rpod.pod import ops

                ops.remove(paths, pod, force=True, timeout=timeout)
                continue
        lifecycle.remove(paths, rec, force=force, timeout=timeout, volumes=volumes)


def _infra_of(p: Paths, rec: Any, opts: RemoveOptions) -> list[str] | None:
    """A pod's infra: ``rm --all``/``--depend`` remove its pod (as Podman; the ids of all its
    containers are returned), naming it alone is refused.  None for any other container."""
    from rpod.container.namespaces import record_option

    if not record_option(rec, "pod"):
        return None
    from rpod.pod.store import PodStore, members, pod_info

    pod_id, _name, is_infra = pod_info(p, rec)
    if not is_infra:
        return None
    if not opts.all and not opts.depend:
        raise RpodError(f"container {rec.id} is the infra container of pod {pod_id} and cannot be removed "
                        "without removing the pod")
    from rpod.pod import ops

    pod = PodStore(p).load(pod_id)
    if pod is None:
        return [rec.id]
    ids = [c.id for c in members(p, pod.id)]
    ops.remove(p, pod, force=opts.force, timeout=opts.timeout)
    return ids


def remove(opts: RemoveOptions, paths: Paths | None = None) -> list[ItemReport]:
    """Remove containers; one report per container (Podman's rm exit codes: 1 missing, 2 running)."""
    from rpod.container import lifecycle
    from rpod.engine.items import ItemReport

    p = paths_or_default(paths)
    store = container_store(p)
    refs = [r.id for r in store.list()] if opts.all else [store.latest().id] if opts.latest else list(opts.refs)
    refs += cidfile_refs(opts.cidfiles, opts.ignore)
    if not refs and not opts.all and not opts.cidfiles:
        raise UsageError("rm requires at least one container name or ID (or --all)")

    def one(ref: str) -> ItemReport:
        rec = store.get(ref)
        lines = []
        if getattr(rec.options, "is_service", False):
            from rpod.pod.ops import served_pods

            served = served_pods(p, rec.id)
            if served:
                raise RpodError(f"container {rec.id} is the service container of pod(s) "
                                f"{', '.join(s.id for s in served)} and cannot be removed without removing the pod(s)")
        pod_ids = _infra_of(p, rec, opts)
        if pod_ids is not None:
            return ItemReport(ref, rec.id, text=pod_ids)
        if opts.depend:
            for dep in _dependents(store, rec):
                lifecycle.remove(p, dep, force=opts.force, timeout=opts.timeout, volumes=opts.volumes)
                lines.append(dep.id)
        lifecycle.remove(p, rec, force=opts.force, timeout=opts.timeout, volumes=opts.volumes)
        lines.append(rec.id if opts.all or opts.latest or opts.depend else ref)
        return ItemReport(ref, rec.id, text=lines)

    reports = _each(refs, one, opts.ignore or opts.force)  # Podman: --force also ignores missing containers
    for r in reports:
        if isinstance(r.error, NoSuchContainer):
            r.error.exit_code = 1
        elif isinstance(r.error, StateConflict):
            r.error.exit_code = 2
    return reports


def stop(opts: StopOptions, paths: Paths | None = None) -> list[ItemReport]:
    """Stop containers (``timeout`` seconds, then SIGKILL); stopping a stopped one is a no-op."""
    from rpod.container import lifecycle
    from rpod.engine.items import ItemReport

    p = paths_or_default(paths)
    store = container_store(p)
    if opts.all:
        refs = [r.id for r in store.list()]
    else:
        refs = [store.latest().id] if opts.latest else list(opts.refs)
        refs += cidfile_refs(opts.cidfiles, opts.ignore)
        if not refs and not opts.cidfiles:
            raise UsageError("stop requires at least one container name or ID (or --all)")

    def one(ref: str) -> ItemReport:
        rec = store.get(ref)
        lifecycle.stop(p, rec, opts.timeout)
        return ItemReport(ref, rec.id)

    return _each(refs, one, opts.ignore)


def kill(opts: KillOptions, paths: Paths | None = None) -> list[ItemReport]:
    """Send a signal to containers (``all``: the running ones)."""
    from rpod.container import lifecycle
    from rpod.container.options import parse_signal
    from rpod.engine.items import ItemReport

    p = paths_or_default(paths)
    signum = parse_signal(opts.signal)
    store = container_store(p)
    refs = [r.id for r, st in store.iter_states() if st.running] if opts.all else \
        [store.latest().id] if opts.latest else list(opts.refs)
    if not refs and not opts.all:
        raise UsageError("kill requires at least one container name or ID (or --all)")

    def one(ref: str) -> ItemReport:
        rec = store.get(ref)
        lifecycle.signal_container(p, rec, signum)
        return ItemReport(ref, rec.id)

    return _each(refs, one)


def restart(opts: RestartOptions, paths: Paths | None = None) -> list[ItemReport]:
    """Stop then start containers (``all``: every one; with ``running``, the running ones)."""
    from rpod.container import lifecycle
    from rpod.engine.items import ItemReport

    p = paths_or_default(paths)
    store = container_store(p)
    refs = [r.id for r, st in store.iter_states() if st.running or not opts.running] if opts.all \
        else list(opts.refs)

    def one(ref: str) -> ItemReport:
        rec = store.get(ref)
        lifecycle.stop(p, rec, opts.timeout)
        rec.restart_count += 1
        store.save(rec)
        started = lifecycle.start(p, rec, None)
        if started.sync:
            started.sync.close()
        return ItemReport(ref, rec.id, text=[rec.id if opts.all else ref])

    return _each(refs, one)


def wait(opts: WaitOptions, paths: Paths | None = None) -> list[int]:
    """Block until each container meets a condition; their exit codes (-1 when not exited)."""
    from rpod.container import lifecycle

    p = paths_or_default(paths)
    for c in opts.conditions:
        if c not in WAIT_CONDITIONS:
            raise UsageError(f"unknown container state: {c}: invalid argument")
    conds = tuple({"stopped": "exited", "configured": "created"}.get(c, c) for c in opts.conditions)
    if not opts.refs and not opts.latest:
        raise UsageError("requires at least one container name or ID (or --all/--latest)")
    codes = []
    refs = opts.refs
    if opts.ignore:
        from rpod.container.state import ContainerStore

        store = ContainerStore(p)
        known = []
        for ref in refs:
            try:
                known.append(store.get(ref).id)
            except RpodError:
                codes.append(-1)
        if not known:
            return codes
        refs = known
    store = container_store(p)
    for rec in resolve(refs, opts.latest, p):
        st = store.state(rec.id)
        if "exited" in conds and st.status == "created":  # never started (or failed to): not running, as Podman
            codes.append(st.exit_code)
            continue
        st = lifecycle.wait_exit(p, rec.id, conditions=conds)
        codes.append(st.exit_code if st.status in ("exited", "removed") else -1)
    return codes


# ------------------------------------------------------------------------------ start / misc
def rename(ref: str, new_name: str, paths: Paths | None = None) -> None:
    """Give a container a new name."""
    store = container_store(paths)
    store.rename(store.get(ref), new_name)


def cleanup(refs: list[str], rm: bool, paths: Paths | None = None) -> None:
    """After a container exited (the monitor runs ``container cleanup``): tidy up, remove with ``rm``."""
    from rpod.container import lifecycle

    p = paths_or_default(paths)
    store = container_store(p)
    for ref in refs:
        try:
            rec = store.get(ref)
            lifecycle.cleanup(p, rec, rm)
        except NoSuchContainer:
            continue
        from rpod.container.namespaces import record_option

        pod = record_option(rec, "pod")
        if pod:  # a pod member exited: --exit-policy=stop stops the infra after the last one
            from rpod.pod.ops import apply_exit_policy

            apply_exit_policy(p, pod)


def healthcheck_run(ref: str, paths: Paths | None = None) -> bool:
    """Run the container's healthcheck now (through its monitor); True when healthy."""
    from rpod.container.service import healthcheck_run as run_check

    p = paths_or_default(paths)
    result = run_check(p, container_store(p).get(ref))
    return int(result.get("exit_code", 1)) == 0


_PAUSE_V1 = "can not pause containers on rootless containers with cgroup V1: this container does not have a cgroup"


def pause(refs: list[str], all_: bool = False, paths: Paths | None = None) -> None:
    """Freeze containers: rootless rpod has no cgroup of its own to freeze (Podman's cgroup v1 error)."""
    store = container_store(paths)
    if not refs and not all_:
        raise UsageError("pause requires at least one container name or ID (or --all)")
    for ref in list(refs) or [r.id for r, st in store.iter_states() if st.running]:
        rec = store.get(ref)
        if not store.state(rec.id).running:
            raise StateConflict(f'"{rec.id}" is not running, can\'t pause: container state improper')
        raise StateConflict(_PAUSE_V1, hint="rootless rpod has no cgroup of its own to freeze")


def unpause(refs: list[str], all_: bool = False, paths: Paths | None = None) -> None:
    """Thaw containers: never paused here (see ``pause``)."""
    if not refs and not all_:
        raise UsageError("unpause requires at least one container name or ID (or --all)")
    store = container_store(paths)
    for ref in refs:
        store.get(ref)
        raise StateConflict("unpause is not supported for cgroupv1 rootless containers")


# ----------------------------------------------------------------------------------------- port
def _port_line(spec: str) -> str:
    """``[ip:][host:]ctr[/proto]`` → ``ctr/proto -> ip:host``, as ``podman port`` prints."""
    body, _, proto = spec.partition("/")
    parts = body.rsplit(":", 2)
    ctr = parts[-1]
    host = parts[-2] if len(parts) >= 2 and parts[-2] else ctr
    ip = parts[0] if len(parts) == 3 and parts[0] else "0.0.0.0"
    return f"{ctr}/{proto or 'tcp'} -> {ip}:{host}"


def port(ref: str | None, private_port: str | None = None, all_: bool = False, latest: bool = False,
         paths: Paths | None = None) -> list[tuple[str, str]]:
    """Published ports of running containers as (short id, ``ctr/proto -> ip:host``) pairs;
    with ``private_port`` only ``ip:host`` of that port."""
    store = container_store(paths)
    if all_:
        recs = [r for r, st in store.iter_states() if st.running]
    elif latest:
        recs = [store.latest()]
    elif ref:
        recs = [store.get(ref)]
    else:
        raise UsageError("you must supply a running container name or ID")
    out = []
    for rec in recs:
        if not store.state(rec.id).running:  # Podman shows the ports of running containers only
            continue
        lines = [_port_line(p) for p in rec.ports]
        if private_port:
            want = private_port if "/" in private_port else private_port + "/tcp"
            lines = [ln.split(" -> ", 1)[1] for ln in lines if ln.startswith(want + " ")]
            if not lines and not all_:
                raise UsageError(f'failed to find published port "{private_port}"')
        out += [(rec.short_id, ln) for ln in lines]
    return out


# ---------------------------------------------------------------------------------------- prune
def prune(filters: dict[str, list[str]] | None = None, paths: Paths | None = None) -> list[PruneReport]:
    """Remove the containers that do not run and match ``filters`` (label, label!, until)."""
    from rpod.container import lifecycle
    from rpod.engine import containers_list as cl
    from rpod.engine import filters as flt

    p = paths_or_default(paths)
    filters = filters or {}
    flt.check_prune(filters)
    store = container_store(p)
    from rpod.engine.containers_options import PruneReport

    removed: list[PruneReport] = []
    for rec, st in list(store.iter_states()):
        if st.running or not flt.prune(rec.labels, cl.created_ts(rec.created), filters):
            continue
        size = cl.dir_size(str(store.dir(rec.id)))
        try:
            lifecycle.remove(p, rec, force=False)
        except StateConflict:
            continue  # it was started meanwhile
        removed.append(PruneReport(rec.id, size))
    return removed


def update_resources(ref: str, memory: str | None = None, cpus: float | None = None, pids_limit: int | None = None,
                     paths: Paths | None = None) -> tuple[str, str | None, str]:
    """``update``: record new resource limits for a container (``inspect`` shows them; they apply
    where limits can be enforced).  Returns its id and, when this host cannot enforce them, why
    and the fix."""
    from rpod.container.options import parse_memory
    from rpod.hostfacts import LIMITS_FIX, resource_limits_note

    p = paths_or_default(paths)
    store = container_store(p)
    rec = store.get(ref)
    if memory is not None:
        parse_memory(memory)
        rec.options.memory = memory
    if cpus is not None:
        if cpus < 0:
            raise UsageError(f"invalid --cpus {cpus}: must not be negative")
        rec.options.cpus = cpus
    if pids_limit is not None:
        rec.options.pids_limit = pids_limit
    if memory is None and cpus is None and pids_limit is None:
        return rec.id, None, ""
    note = resource_limits_note()
    if note:
        rec.warnings = [note]
    store.save(rec)
    return rec.id, note, LIMITS_FIX
