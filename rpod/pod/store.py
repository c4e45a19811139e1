"""Pod records: ``<root>/pods/<id>.json`` and the name index ``<root>/pod-names/<name>`` (a
symlink to the id, created with ``symlink(2)`` so that of two concurrent creates one wins).

A pod is a group of containers that may share namespaces held by its infra container (net, ipc,
uts by default, as Podman).  The record keeps what the user asked for; which containers belong
to the pod is read from the containers' own records (``options["pod"]``), and the pod's status
is derived from their states every time (``status()``), never stored.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rpod.errors import RpodError, UsageError
from rpod.paths import Paths
from rpod.storefile import atomic_write_json, locked, read_json

DEFAULT_SHARE = ["cgroup", "ipc", "net", "uts"]  # Podman 4's --share default
SHAREABLE = ("cgroup", "ipc", "net", "pid", "uts", "none")


class NoSuchPod(RpodError):
    """No pod by that name or id."""

    exit_code = 1  # replaced where Podman uses 125


@dataclass
class PodRecord:
    """What rpod knows about a pod."""

    id: str
    name: str
    created: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    infra: bool = True
    infra_id: str = ""
    infra_image: str = ""
    infra_command: list[str] = field(default_factory=list)
    share: list[str] = field(default_factory=lambda: list(DEFAULT_SHARE))
    share_parent: bool = True
    hostname: str = ""
    exit_policy: str = "continue"
    create_command: list[str] = field(default_factory=list)
    infra_options: dict[str, Any] = field(default_factory=dict)  # network, publish, dns... (inspect)
    service_container_id: str = ""  # kube play --service-container: started and stopped with the pods

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PodRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def parse_share(value: str) -> list[str]:
    """``--share`` → namespace kinds; ``+ipc`` adds to the default; ``""``/``none`` shares nothing."""
    if value.startswith("+"):
        extra = parse_share(value[1:])
        return sorted(set(DEFAULT_SHARE) | set(extra))
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    for k in kinds:
        if k not in SHAREABLE:
            raise UsageError(f"invalid kernel namespace to share: {k}. Options are: cgroup, ipc, net, pid, uts or none")
    return [] if kinds == ["none"] else sorted(set(kinds))


class PodStore:
    """All pods of one store."""

    def __init__(self, paths: Paths):
        self.paths = paths
        self.dir = paths.root / "pods"
        self.names_dir = paths.root / "pod-names"
        self.lock_path = paths.root / "pods.lock"

    def lock(self) -> Any:
        return locked(self.lock_path)

    def _file(self, pid: str) -> Path:
        return self.dir / f"{pid}.json"

    def ids(self) -> list[str]:
        try:
            return [n[:-5] for n in os.listdir(self.dir) if n.endswith(".json")]
        except FileNotFoundError:
            return []

    def load(self, pid: str) -> PodRecord | None:
        d = read_json(self._file(pid), None)
        return PodRecord.from_dict(d) if isinstance(d, dict) else None

    def list(self) -> list[PodRecord]:
        """Every pod, newest first."""
        out = [p for p in map(self.load, self.ids()) if p is not None]
        out.sort(key=lambda p: p.created, reverse=True)
        return out

    def name_owner(self, name: str) -> str | None:
        try:
            return os.readlink(self.names_dir / name)
        except OSError:
            return None

    def lookup(self, ref: str) -> PodRecord | None:
        owner = self.name_owner(ref) if ref and "/" not in ref else None
        if owner:
            rec = self.load(owner)
            if rec is not None:
                return rec
        ids = [i for i in self.ids() if i.startswith(ref)] if ref else []
        if len(ids) > 1:
            raise UsageError(f"more than one result for pod ID {ref}: use a longer prefix")
        return self.load(ids[0]) if ids else None

    def get(self, ref: str) -> PodRecord:
        rec = self.lookup(ref)
        if rec is None:
            raise NoSuchPod(f"no pod with name or ID {ref} found: no such pod", exit_code=125)
        return rec

    def create(self, rec: PodRecord) -> PodRecord:
        from rpod.container.names import valid_name

        if not valid_name(rec.name):
            raise UsageError(f"names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument: {rec.name!r}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.names_dir.mkdir(parents=True, exist_ok=True)
        with self.lock():
            try:
                os.symlink(rec.id, self.names_dir / rec.name)
            except FileExistsError:
                raise RpodError(f"adding pod to state: name \"{rec.name}\" is in use: pod already exists",
                                exit_code=125) from None
            atomic_write_json(self._file(rec.id), asdict(rec))
        return rec

    def save(self, rec: PodRecord) -> None:
        atomic_write_json(self._file(rec.id), asdict(rec))

    def remove(self, rec: PodRecord) -> None:
        with self.lock():
            if self.name_owner(rec.name) == rec.id:
                os.unlink(self.names_dir / rec.name)
            try:
                os.unlink(self._file(rec.id))
            except FileNotFoundError:
                pass


def members(paths: Paths, pod_id: str) -> list[Any]:
    """The pod's container records (infra included), newest first."""
    from rpod.container.namespaces import record_option
    from rpod.container.state import ContainerStore

    return [r for r in ContainerStore(paths).list() if record_option(r, "pod") == pod_id]


def pod_status(states: list[str]) -> str:
    """Podman's pod status from its containers' states (infra included)."""
    if not states:
        return "Created"
    n = len(states)
    count = {s: states.count(s) for s in set(states)}
    running = count.get("running", 0)
    exited = count.get("exited", 0) + count.get("stopped", 0)
    if running == n:
        return "Running"
    if running:
        return "Degraded"
    if count.get("paused", 0) == n:
        return "Paused"
    if exited == n:
        return "Exited"
    if exited:
        return "Stopped"
    if count.get("created", 0) == n:
        return "Created"
    return "Error"


def status(paths: Paths, pod: PodRecord, ctrs: list[Any] | None = None) -> str:
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    ctrs = members(paths, pod.id) if ctrs is None else ctrs
    return pod_status([container_state(store, c.id) for c in ctrs])


def pod_info(paths: Paths, rec: Any) -> tuple[str, str, bool]:
    """(pod id, pod name, is the pod's infra) of a container record in a pod."""
    from rpod.container.namespaces import record_option

    pod_id = record_option(rec, "pod") or ""
    pod = PodStore(paths).load(pod_id) if pod_id else None
    return pod_id, pod.name if pod else "", bool(pod and pod.infra_id == rec.id)


def container_state(store: Any, cid: str) -> str:
    """A container's state word as pods count it (``stopping`` counts as running)."""
    st = store.state(cid)
    word = "running" if st.status == "stopping" else st.status
    paused = getattr(st, "paused", False)
    return "paused" if paused else word
