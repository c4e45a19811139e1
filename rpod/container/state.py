"""Container records (``containers/<id>/container.json``), the name index and the derived status.

rpod writes ``container.json`` (what the user asked for) under ``containers.lock``; the monitor
alone writes ``monitor.json`` (which processes run the container) and ``exit`` (how it ended).
The status is computed from those files every time, never stored, so it cannot get stuck:

* ``exit`` present                                   → exited (its code); ``restarting`` too when
  ``restart.json`` says its monitor (alive) will start it again after the back-off
* ``monitor.json`` from this boot, container alive   → running, or stopping while an ``rpod stop``
  (alive, named in ``stopping.json``) waits for it to exit
* ``monitor.json`` from this boot, monitor alive     → stopping (the monitor is finishing up)
* ``monitor.json`` but both processes gone, or from an earlier boot → exited, code -1, with an error
* nothing                                            → created

Names: ``container-names/<name>`` is a symlink to the id, created with ``symlink(2)``, which
fails if it exists: of two concurrent ``--name x`` creates exactly one wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from rootless import ctrfiles
from rootless.monitor import exitfile
from rpod.container.names import generate_name, valid_name
from rpod.errors import NoSuchContainer, StateConflict, UsageError
from rpod.paths import Paths
from rpod.records import asdict, field, field_names, record
from rpod.storefile import REMOVING, abandoned_removals, atomic_write_json, locked, read_json

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.container.options import RunOptions

RECORD = ctrfiles.RECORD
# The version of container.json this code writes.  1 (no "version" key): ``options`` was read
# as a free dict; 2: ``version`` is written, ``options`` is read as a typed ``RunOptions``.  A
# record of any version is read (unknown keys dropped, missing ones defaulted) and written
# back as the current version.
RECORD_VERSION = 2


class _TypedOptions:
    """The record's ``options`` as a ``RunOptions``, converted from the stored dict on first read:
    ``ps`` lists records without ever reading their options, and importing
    ``rpod.container.options`` (a 90-field record) costs a short command 5-15 ms."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return None  # the field's default: an empty RunOptions on first read
        value = obj.__dict__[self.slot]
        if value is None or type(value) is dict:
            from rpod.container.options import RunOptions

            value = obj.__dict__[self.slot] = RunOptions.from_dict(value or {})
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value

NAME_LINK_MAX = 200  # longer names are linked by their digest (NAME_MAX is 255 bytes)


@record
class ContainerRecord:
    """What rpod knows about a container independently of whether it runs (``container.json``)."""

    id: str
    name: str
    image_id: str = ""
    image_name: str = ""
    created: str = ""  # RFC 3339 with nanoseconds
    command: list[str] = field(default_factory=list)  # process args as run
    options: RunOptions = _TypedOptions()  # type: ignore[assignment]  # the run/create flags as given
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
    version: int = RECORD_VERSION

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContainerRecord:
        """A record as stored, of any version (see ``RECORD_VERSION``)."""
        known = field_names(cls)
        fields = {k: v for k, v in d.items() if k in known}
        fields["options"] = dict(fields.get("options") or {})  # typed on first read
        fields["version"] = RECORD_VERSION  # what it is once read: saved back in this version's shape
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        """What ``container.json`` holds."""
        return asdict(self)


@record
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
    def link(self, name: str) -> Path:
        """The name link of ``name``: the name itself, or a digest of it when it is too long to be a
        file name (Podman accepts names of any length; ``~`` never starts a valid name)."""
        if len(name.encode()) <= NAME_LINK_MAX:
            return self.names_dir / name
        import hashlib

        return self.names_dir / ("~" + hashlib.sha256(name.encode()).hexdigest())

    def name_owner(self, name: str) -> str | None:
        try:
            return os.readlink(self.link(name))
        except OSError:
            return None

    def _stale_link(self, name: str) -> bool:
        """True when ``name``'s link points at no record of that name (a create, rename or rm
        killed between its two steps).  Call under the lock, where such a link cannot be in use."""
        owner = self.name_owner(name)
        if owner is None:
            return False
        rec = self.load(owner) if len(owner) == 64 and "/" not in owner else None
        return rec is None or rec.name != name

    def repair_name(self, name: str) -> bool:
        """Free ``name`` when its link is stale; True when it did."""
        with self.lock():
            if self._stale_link(name):
                os.unlink(self.link(name))
                return True
        return False

    def create(self, record: ContainerRecord) -> ContainerRecord:
        """Store a new record, claiming its name (``StateConflict`` when the name is taken).

        An empty ``record.name`` gets a generated one, chosen under the lock, so two concurrent
        creates never pick the same name."""
        if record.name and not valid_name(record.name):
            raise UsageError(f"container name {record.name!r} is invalid: use [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        self.paths.ensure()
        self.names_dir.mkdir(mode=0o700, exist_ok=True)
        with self.lock():
            if not record.name:
                record.name = generate_name(lambda n: self.name_owner(n) is not None)
            elif self._stale_link(record.name):
                os.unlink(self.link(record.name))
            try:
                os.symlink(record.id, self.link(record.name))
            except FileExistsError:
                other = self.name_owner(record.name) or "another container"
                raise StateConflict(
                    f'creating container storage: the container name "{record.name}" is already in use by '
                    f"{other}. You have to remove that container to be able to reuse that name: "
                    "that name is already in use",
                    hint=f"remove it (rpod rm {record.name}) or use --replace") from None
            try:
                self.dir(record.id).mkdir(parents=True, mode=0o700)
                atomic_write_json(self.dir(record.id) / RECORD, record.to_dict())
            except BaseException:
                os.unlink(self.link(record.name))
                raise
        self.reclaim()  # what a killed create/rm left behind (nothing to do, usually: two scandirs)
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
            if self._stale_link(new_name):
                os.unlink(self.link(new_name))
            try:
                os.symlink(current.id, self.link(new_name))
            except FileExistsError:
                raise StateConflict(
                    f"renaming container {current.id}: name {new_name} already in use, cannot rename "
                    f"container {current.id}: container already exists") from None
            old = current.name
            current.name = new_name
            try:
                atomic_write_json(self.dir(current.id) / RECORD, current.to_dict())
            except BaseException:
                os.unlink(self.link(new_name))
                raise
            if self.name_owner(old) == current.id:
                os.unlink(self.link(old))
        return current

    def save(self, record: ContainerRecord) -> None:
        with self.lock():
            atomic_write_json(self.dir(record.id) / RECORD, record.to_dict())

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
                if rec is not None and (cid == ref or rec.name == ref):
                    return rec
        if owner is not None:
            self.repair_name(ref)  # a link left by a killed create/rm: free the name
        matches = [cid for cid in self.ids() if cid.startswith(ref)]
        if len(matches) == 1:
            rec = self.load(matches[0])
            if rec is not None:
                return rec
        if len(matches) > 1:
            raise NoSuchContainer(f'more than one result for container "{ref}": use more of the ID')
        rec = self._relink(ref) if valid_name(ref) else None
        if rec is not None:
            return rec
        raise NoSuchContainer(f'no container with name or ID "{ref}" found: no such container')

    def _relink(self, name: str) -> ContainerRecord | None:
        """A record named ``name`` whose link a killed command removed: link it again (the miss
        path only: it reads every record)."""
        with self.lock():
            if self.name_owner(name) is not None:
                return None
            named = [r for r in self.list() if r.name == name]
            if len(named) > 1:
                raise StateConflict(f'{len(named)} containers are named "{name}" and none holds the name',
                                    hint="rpod system check --repair renames all but the oldest")
            if named:
                os.symlink(named[0].id, self.link(name))
                return named[0]
        return None

    def latest(self) -> ContainerRecord:
        records = self.list()
        if not records:
            raise NoSuchContainer("no containers to choose the latest from: no such container")
        return records[0]

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
                stopper = exitfile.read_json(os.path.join(cdir, ctrfiles.STOPPING))
                alive = stopper is not None and exitfile.process_alive(stopper.get("pid"), stopper.get("pid_start"))
                return ContainerState("stopping" if alive else "running", pid=int(mon["pid"]), started_at=started,
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
            cdir = self.dir(record.id)
            try:
                os.unlink(cdir / RECORD)  # from now on the container is gone for everyone
            except FileNotFoundError:
                pass
            if self.name_owner(record.name) == record.id:  # after the record: a kill in between
                os.unlink(self.link(record.name))          # leaves a stale link, repaired on sight
            doomed = self._doom(cdir, record.id)
        shutil.rmtree(self.run_dir(record.id), ignore_errors=True)
        shutil.rmtree(self.paths.runtime_state / record.id, ignore_errors=True)
        remove_tree(doomed, default_mapping())
        self.reclaim()

    def _doom(self, cdir: Path, cid: str) -> Path:
        """Move a container directory out of ``containers/`` (under the lock) into
        ``tmp/ctr-<id>.removing.<pid>``, where a later command finds it if this one is killed."""
        if not cdir.exists():
            return cdir
        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        doomed = self.paths.tmp / f"ctr-{cid}{REMOVING}{os.getpid()}"
        try:
            os.rename(cdir, doomed)
        except OSError:
            return cdir
        return doomed

    def orphans(self) -> list[str]:
        """Ids of ``containers/<id>/`` directories without a record (call under the lock)."""
        try:
            return [e.name for e in os.scandir(self.paths.containers)
                    if e.is_dir(follow_symlinks=False) and not (Path(e.path) / RECORD).exists()]
        except FileNotFoundError:
            return []

    def reclaim(self) -> list[Path]:
        """Finish what killed commands started: move container directories without a record into
        ``tmp/`` and remove them, with every ``tmp/*.removing*`` left by a dead process."""
        doomed: list[Path] = []
        if self.orphans():
            with self.lock():
                doomed = [self._doom(self.dir(cid), cid) for cid in self.orphans()]
        doomed += [p for p in abandoned_removals(self.paths) if p not in doomed]
        if doomed:  # rootless.userns (subprocess, ctypes) only when there is something to remove
            from rootless.subid import default_mapping
            from rootless.userns import remove_tree

            mapping = default_mapping()
            for path in doomed:
                remove_tree(path, mapping)
        return doomed


def containers_using_volume(paths: Paths, name: str) -> list[str]:
    """Ids of the containers whose record mounts volume ``name``."""
    source = str(paths.volumes / name / "_data")
    return [rec.id for rec in ContainerStore(paths).list()
            if any(m.get("source") == source for m in rec.mounts)]
