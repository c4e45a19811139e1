"""Namespaces a container shares (``--ipc``/``--pid``/``--uts``/``--cgroupns``, pods) and its
start dependencies (``--requires``, ``container:`` targets, a pod's infra container).

At ``create``, ``resolve()`` turns names into ids in the options (so a renamed target stays the
target) and ``spec_modes()`` tells ``rpod.container.ocispec`` which namespaces to create, leave
out (``host``) or join (``container:``/``ns:``).  A ``container:`` join is a placeholder path
until ``start``, when ``join_at_start()`` points ``config.json`` at ``/proc/PID/ns/*`` of the
running target (its pid changes between runs) and at its user namespace: rootless, a namespace
can be joined only from the user namespace that owns it, so the container joins that too (as
with ``--network container:``).
"""

from __future__ import annotations

import json
from pathlib import Path

from rpod.errors import StateConflict, UsageError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

NS_OPTIONS = {"ipc": "ipc", "pid": "pid", "uts": "uts", "cgroupns": "cgroup"}  # flag -> OCI type
PLACEHOLDER = "/proc/0/ns/"


def resolve(paths: Any, opts: Any) -> None:
    """Container names → full ids in ``opts`` (``ipc``/``pid``/``uts``/``network`` ``container:``
    targets and ``requires``); raises ``NoSuchContainer`` for an unknown one."""
    from rpod.container.options import parse_ns_mode
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    for flag in NS_OPTIONS:
        value = getattr(opts, flag, None)
        if value:
            mode, arg = parse_ns_mode(value, flag)
            if mode == "container":
                donor = store.get(arg)
                if flag == "ipc" and (getattr(donor.options, "ipc", None) or "") in ("private", "none"):
                    raise UsageError(f"joining IPC of container {donor.id} is not allowed: non-shareable IPC "
                                     "(hint: use IpcMode:shareable for the donor container)")
                setattr(opts, flag, f"container:{donor.id}")
    if opts.network and opts.network.startswith("container:"):
        opts.network = f"container:{store.get(opts.network.partition(':')[2]).id}"
    reqs: list[str] = []
    for item in opts.requires or []:
        reqs += [store.get(n.strip()).id for n in item.split(",") if n.strip()]
    opts.requires = list(dict.fromkeys(reqs))


def spec_modes(opts: Any) -> dict[str, str]:
    """OCI namespace type → ``new`` | ``host`` | ``join`` | an absolute ``ns:`` path."""
    from rpod.container.options import parse_ns_mode

    out: dict[str, str] = {}
    for flag, kind in NS_OPTIONS.items():
        value = getattr(opts, flag, None)
        if not value:
            continue
        mode, arg = parse_ns_mode(value, flag)
        out[kind] = {"host": "host", "container": "join", "ns": arg}.get(mode, "new")
    return out


def option(options: Any, key: str) -> Any:
    """One flag of a container's options (a ``RunOptions`` or its stored dict)."""
    return options.get(key) if isinstance(options, dict) else getattr(options, key, None)


def record_option(rec: Any, key: str) -> Any:
    """``option`` of a ``ContainerRecord`` without typing its options."""
    raw = rec.__dict__.get("_options")
    if raw is None:
        return getattr(rec.options, key, None)
    return raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)


def targets(options: Any) -> dict[str, str]:
    """OCI namespace type → id of the container whose namespace this one joins."""
    out: dict[str, str] = {}
    for flag, kind in NS_OPTIONS.items():
        value = option(options, flag) or ""
        if value.startswith("container:"):
            out[kind] = value.partition(":")[2]
    net = option(options, "network") or ""
    if net.startswith("container:"):
        out["network"] = net.partition(":")[2]
    return out


def dependencies(options: Any) -> list[str]:
    """Ids of the containers this one needs running: ``--requires`` and namespace owners."""
    return list(dict.fromkeys([*(option(options, "requires") or []), *targets(options).values()]))


def dependents(paths: Any, cid: str) -> list[str]:
    """Ids of the containers that depend on ``cid`` (they block its removal, as in Podman)."""
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    me = store.load(cid)
    refs = {cid, cid[:12], *([me.name] if me else [])}  # ids since create resolves them; older records: names
    return [rec.id for rec in store.list() if rec.id != cid and refs & set(dependencies(_raw(rec)))]


def _raw(rec: Any) -> Any:
    """A record's options as stored (a dict until something typed them): scanning every record on
    each ``rm`` must not build a ``RunOptions`` per record."""
    raw = rec.__dict__.get("_options")
    return raw if raw is not None else rec.options


def join_at_start(paths: Any, record: Any, cdir: Path) -> None:
    """Point ``config.json``'s joined namespaces (and the user namespace) at the running owners."""
    joins = {k: v for k, v in targets(record.options).items() if k != "network"}
    if record_option(record, "ipc") == "shareable":  # its /dev/shm directory (the run root may be new)
        shared_shm_dir(paths, record.id).mkdir(parents=True, exist_ok=True)
    if not joins:
        return
    from rpod.container.state import ContainerStore
    from rpod.storefile import atomic_write_json

    store = ContainerStore(paths)
    pids: dict[str, int] = {}
    for kind, cid in joins.items():
        st = store.state(cid)
        if not st.running or not st.pid:
            rec = store.load(cid)
            raise StateConflict(f"cannot join the {kind} namespace of container "
                                f"{rec.name if rec else cid[:12]}: it is not running", hint="start it first")
        pids[kind] = st.pid
    from rootless import ctrfiles

    cfg_path = cdir / ctrfiles.SPEC
    spec = json.loads(cfg_path.read_text())
    nss = (spec.get("linux") or {}).get("namespaces") or []
    owner = next(iter(pids.values()))
    for ns in nss:
        kind = ns.get("type")
        if kind in pids:
            ns["path"] = f"/proc/{pids[kind]}/ns/{'cgroup' if kind == 'cgroup' else kind}"
        elif kind == "user" and not str(ns.get("path") or "").startswith("/proc/"):
            ns["path"] = f"/proc/{owner}/ns/user"
        elif kind == "user" and ns.get("path") != f"/proc/{owner}/ns/user":
            _same_userns(ns["path"], owner)
    if "ipc" in joins and record_option(store.get(joins["ipc"]), "ipc") == "shareable":
        use_shared_shm(spec, shared_shm_dir(paths, joins["ipc"]))  # the owner's /dev/shm, as Podman
    atomic_write_json(cfg_path, spec)


def shared_shm_dir(paths: Any, cid: str) -> Path:
    """``--ipc shareable`` (a pod's infra): its /dev/shm is this directory of the run root (a tmpfs
    under ``$XDG_RUNTIME_DIR``), bound in, so the containers that join its IPC namespace bind the
    same one (a tmpfs mounted inside its mount namespace cannot be bound from another)."""
    return Path(paths.runroot) / "shm" / cid


def use_shared_shm(spec: dict[str, Any], directory: Path) -> None:
    """Make ``directory`` (created if missing, mode 1777 as a tmpfs /dev/shm) the spec's /dev/shm."""
    import os

    directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.mkdir(exist_ok=True)
    os.chmod(directory, 0o1777)
    for m in spec.get("mounts") or []:
        if m.get("destination") == "/dev/shm":
            m.update({"type": "bind", "source": str(directory), "options": ["rbind", "rprivate", "nosuid",
                                                                            "noexec", "nodev"]})


def _same_userns(path: str, owner: int) -> None:
    import os

    try:
        same = os.stat(path).st_ino == os.stat(f"/proc/{owner}/ns/user").st_ino
    except OSError:
        same = True
    if not same:
        raise UsageError("cannot share namespaces of containers in different user namespaces",
                         hint="rootless, a namespace can only be joined from the user namespace that owns "
                              "it: put both containers on the same network (or in one pod)")


def start_dependencies(paths: Any, record: Any, start_one: Any) -> None:
    """Start the containers ``record`` depends on that are not running (``start_one(rec)``),
    dependencies of dependencies first, as Podman does."""
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    seen: set[str] = {record.id}

    def visit(rec: Any) -> None:
        for dep in dependencies(rec.options):
            if dep in seen:
                continue
            seen.add(dep)
            dep_rec = store.load(dep)
            if dep_rec is None:
                raise StateConflict(f"container {rec.name} depends on container {dep[:12]}, which no longer exists")
            visit(dep_rec)
            if not store.state(dep).running:
                start_one(dep_rec)

    visit(record)
