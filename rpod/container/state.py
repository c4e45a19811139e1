"""Container records (``containers/<id>/container.json``), the name index and the derived status.

rpod writes ``container.json`` (what the user asked for) under ``containers.lock``; the monitor
alone writes ``monitor.json`` (which processes run the container) and ``exit`` (how it ended).
The status is computed from those files every time, never stored, so it cannot get stuck:

* ``exit`` present                                   → exited (its code); ``restarting`` too when
  ``restart.json`` says its monitor (alive) will start it again after the back-off
* ``monitor.json`` from this boot, container alive   → running
* ``monitor.json`` from this boot, monitor alive     → stopping (the monitor is finishing up)
* ``monitor.json`` but both processes gone, or from an earlier boot → exited, code -1, with an error
* nothing                                            → created

Names: ``container-names/<name>`` is a symlink to the id, created with ``symlink(2)``, which
fails if it exists: of two concurrent ``--name x`` creates exactly one wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rootless import ctrfiles
from rootless.monitor import exitfile
from rpod.container.names import generate_name, valid_name
from rpod.errors import NoSuchContainer, StateConflict, UsageError
from rpod.paths import Paths
from rpod.storefile import atomic_write_json, locked, read_json

RECORD = ctrfiles.RECORD


@dataclass
class ContainerRecord:
    """What rpod knows about a container independently of whether it runs."""

    id: str
    name: str
    image_id: str = ""
    image_name: str = ""
    created: str = ""  # RFC 3339 with nanoseconds
    command: list[str] = field(default_factory=list)  # process args as run
    options: dict[str, Any] = field(default_factory=dict)  # RunOptions as given
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    hostname: str = ""
    stop_signal: int = 15
    stop_timeout: int = 10
    restart_count: int = 0
    env: list[str] = field(default_factory=list)
    workdir: str = "/"
    user: str = ""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. resource limits asked but not enforced
    healthcheck: dict[str, Any] | None = None  # Podman's Config.Healthcheck (Test, Interval ns...), resolved
    create_command: list[str] = field(default_factory=list)  # the CLI argv that created it (inspect CreateCommand)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContainerRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class ContainerState:
    """The derived runtime state."""

    status: str  # created | running | stopping | exited
    pid: int = 0
    exit_code: int = 0
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    monitor_pid: int = 0
    restarting: bool = False  # exited, and the monitor restarts it after the back-off (--restart)
    restart_count: int = 0  # automatic restarts by the monitor since the last ``rpod start``

    @property
    def running(self) -> bool:
        """Running, or about to be again: start/rm/prune treat it as running."""
        return self.status in ("running", "stopping") or self.restarting


def new_id() -> str:
    """64 random hex digits, as Podman's container ids."""
    return os.urandom(32).hex()


class ContainerStore:
    """All containers of one store."""

    def __init__(self, paths: Paths):
        self.paths = paths
        self.lock_path = paths.root / "containers.lock"
        self.names_dir = paths.root / "container-names"

    # ---- files --------------------------------------------------------------------------------
    def dir(self, cid: str) -> Path:
        return self.paths.container_dir(cid)

    def run_dir(self, cid: str) -> Path:
        return self.paths.run_containers / cid

    def lock(self) -> Any:
        return locked(self.lock_path)

    # ---- records ------------------------------------------------------------------------------
    def name_owner(self, name: str) -> str | None:
        try:
            return os.readlink(self.names_dir / name)
        except OSError:
            return None

    def create(self, record: ContainerRecord) -> ContainerRecord:
        """Store a new record, claiming its name (``StateConflict`` when the name is taken)."""
        if not valid_name(record.name):
            raise UsageError(f"container name {record.name!r} is invalid: use [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        self.paths.ensure()
        self.names_dir.mkdir(mode=0o700, exist_ok=True)
        with self.lock():
            try:
                os.symlink(record.id, self.names_dir / record.name)
            except FileExistsError:
                other = self.name_owner(record.name) or "another container"
                raise StateConflict(
                    f'creating container storage: the container name "{record.name}" is already in use by '
                    f"{other}. You have to remove that container to be able to reuse that name: "
                    "that name is already in use",
                    hint=f"remove it (rpod rm {record.name}) or use --replace") from None
            try:
                self.dir(record.id).mkdir(parents=True, mode=0o700)
                atomic_write_json(self.dir(record.id) / RECORD, asdict(record))
            except BaseException:
                os.unlink(self.names_dir / record.name)
                raise
        return record

    def rename(self, record: ContainerRecord, new_name: str) -> ContainerRecord:
        """Give ``record`` the name ``new_name`` atomically (``StateConflict`` when it is taken)."""
        if not valid_name(new_name):
            raise UsageError("names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")
        self.names_dir.mkdir(mode=0o700, exist_ok=True)
        with self.lock():
            current = self.load(record.id)
            if current is None:
                raise NoSuchContainer(f'no container with name or ID "{record.name}" found: no such container')
            if current.name == new_name:
                return current
            try:
                os.symlink(current.id, self.names_dir / new_name)
            except FileExistsError:
                raise StateConflict(
                    f"renaming container {current.id}: name {new_name} already in use, cannot rename "
                    f"container {current.id}: container already exists") from None
            old = current.name
            current.name = new_name
            try:
                atomic_write_json(self.dir(current.id) / RECORD, asdict(current))
            except BaseException:
                os.unlink(self.names_dir / new_name)
                raise
            if self.name_owner(old) == current.id:
                os.unlink(self.names_dir / old)
        return current

    def save(self, record: ContainerRecord) -> None:
        with self.lock():
            atomic_write_json(self.dir(record.id) / RECORD, asdict(record))

    def load(self, cid: str) -> ContainerRecord | None:
        data = read_json(self.dir(cid) / RECORD)
        return ContainerRecord.from_dict(data) if isinstance(data, dict) else None

    def ids(self) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.paths.containers)
                    if e.is_dir() and (Path(e.path) / RECORD).exists()]
        except FileNotFoundError:
            return []

    def list(self) -> list[ContainerRecord]:
        """Every container, newest first."""
        out = [r for r in (self.load(cid) for cid in self.ids()) if r is not None]
        out.sort(key=lambda r: r.created, reverse=True)
        return out

    def get(self, ref: str) -> ContainerRecord:
        """By full id, name or unique id prefix; ``NoSuchContainer`` otherwise."""
        if not ref:
            raise NoSuchContainer('no container with name or ID "" found: no such container')
        owner = self.name_owner(ref) if valid_name(ref) else None
        for cid in (ref, owner):
            if cid and len(cid) == 64:
                rec = self.load(cid)
                if rec is not None:
                    return rec
        matches = [cid for cid in self.ids() if cid.startswith(ref)]
        if len(matches) == 1:
            rec = self.load(matches[0])
            if rec is not None:
                return rec
        if len(matches) > 1:
            raise NoSuchContainer(f'more than one result for container "{ref}": use more of the ID')
        raise NoSuchContainer(f'no container with name or ID "{ref}" found: no such container')

    def latest(self) -> ContainerRecord:
        records = self.list()
        if not records:
            raise NoSuchContainer("no containers to choose the latest from: no such container")
        return records[0]

    def generate_name(self) -> str:
        return generate_name(lambda n: self.name_owner(n) is not None)

    def iter_states(self) -> Iterator[tuple[ContainerRecord, ContainerState]]:
        for rec in self.list():
            yield rec, self.state(rec.id)

    # ---- status -------------------------------------------------------------------------------
    def state(self, cid: str) -> ContainerState:
        """Derive the status from the exit file, the monitor file and the boot id."""
        cdir = str(self.dir(cid))
        ex = exitfile.read_exit_file(cdir)
        mon = exitfile.read_monitor_file(cdir)
        started = (mon or {}).get("started_at", "")
        restarts = int((mon or {}).get("restart_count", 0))
        if ex is not None:
            rs = exitfile.read_json(os.path.join(cdir, ctrfiles.RESTART))
            if rs is None and exitfile.read_exit_file(cdir) is None:
                # the monitor restarted it between our two reads (it removes the exit file, then
                # restart.json): derive again rather than report a final exit
                return self.state(cid)
            gap = rs is not None and exitfile.process_alive(rs.get("monitor_pid"), rs.get("monitor_start"))
            return ContainerState("exited", exit_code=int(ex.get("exit_code", -1)), started_at=started,
                                  finished_at=ex.get("exited_at", ""), error=ex.get("error", ""),
                                  restarting=gap, restart_count=restarts,
                                  monitor_pid=int(rs["monitor_pid"]) if gap and rs else 0)
        if mon is None:
            return ContainerState("created")
        same_boot = mon.get("boot_id") == exitfile.boot_id()
        if same_boot:
            if exitfile.process_alive(mon.get("pid"), mon.get("pid_start")):
                return ContainerState("running", pid=int(mon["pid"]), started_at=started,
                                      monitor_pid=int(mon.get("monitor_pid", 0)), restart_count=restarts)
            if exitfile.process_alive(mon.get("monitor_pid"), mon.get("monitor_start")):
                return ContainerState("stopping", started_at=started, monitor_pid=int(mon["monitor_pid"]))
            ex = exitfile.read_exit_file(cdir)  # the monitor may have finished since we looked
            if ex is not None:
                return ContainerState("exited", exit_code=int(ex.get("exit_code", -1)), started_at=started,
                                      finished_at=ex.get("exited_at", ""), error=ex.get("error", ""))
            why = "the container's monitor died without recording an exit code"
        else:
            why = "the host rebooted while the container was running"
        return ContainerState("exited", exit_code=-1, started_at=started, error=why)

    def reset_runtime(self, cid: str) -> None:
        """Forget the previous run (before a new start): exit file, monitor file, run dir."""
        cdir = self.dir(cid)
        for name in ctrfiles.RUNTIME_FILES:
            try:
                os.unlink(cdir / name)
            except FileNotFoundError:
                pass
        import shutil  # lazily, as below: listing containers (`ps`) does not need it

        shutil.rmtree(self.run_dir(cid), ignore_errors=True)

    def remove(self, record: ContainerRecord) -> None:
        """Delete the record, its files (as root in the user namespace when needed) and its name."""
        import shutil

        from rootless.subid import default_mapping
        from rootless.userns import remove_tree

        with self.lock():
            if self.name_owner(record.name) == record.id:
                os.unlink(self.names_dir / record.name)
            cdir = self.dir(record.id)
            try:
                os.unlink(cdir / RECORD)  # from now on the container is gone for everyone
            except FileNotFoundError:
                pass
        shutil.rmtree(self.run_dir(record.id), ignore_errors=True)
        shutil.rmtree(self.paths.runtime_state / record.id, ignore_errors=True)
        remove_tree(cdir, default_mapping())


def containers_using_volume(paths: Paths, name: str) -> list[str]:
    """Ids of the containers whose record mounts volume ``name``."""
    source = str(paths.volumes / name / "_data")
    return [rec.id for rec in ContainerStore(paths).list()
            if any(m.get("source") == source for m in rec.mounts)]
