"""Volumes: ``-v``/``--mount``/``--tmpfs`` parsing and the named-volume store.

Parsing turns each flag into a ``MountRequest`` (pure).  ``resolve_mounts`` turns requests into
OCI mount entries, creating named and anonymous volumes on the way.  Named volumes live in
``<store>/volumes/<name>/_data`` with ``volume.json`` beside it.

Option notes (Podman's spelling):
- ``z``/``Z`` (SELinux relabel) are accepted and ignored: rpod does not use SELinux labels.
- ``U`` asks to chown the source to the container's user: ``MountRequest.chown`` is set and
  the engine does it in the user namespace.
- ``O`` (overlay volumes) and ``idmap`` are not supported yet and are refused (exit 125).
- ``copy``/``nocopy``: named volumes get the image's content at the destination on first use
  (``copy_up``), unless ``nocopy``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rpod.errors import NoSuchVolume, StateConflict, StoreError, UsageError
from rpod.paths import Paths
from rpod.records import field, field_names, record

VOLUME_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable")
_FLAG_PAIRS = {"nosuid": "suid", "nodev": "dev", "noexec": "exec"}
_LOCAL_DRIVER_OPTS = {"o", "type", "device", "uid", "gid", "UID", "GID", "size", "inodes", "nocopy", "copy"}
TMPFS_DEFAULT_OPTIONS = ["rw", "noexec", "nosuid", "nodev"]


@record
class MountRequest:
    """One user-requested mount before volumes are resolved to host paths."""

    type: str  # "bind" | "volume" | "tmpfs"
    destination: str
    source: str = ""  # host path (bind), volume name (volume, "" = anonymous)
    options: list[str] = field(default_factory=list)  # OCI mount options (ro, nosuid, rprivate...)
    chown: bool = False  # ":U": chown the source to the container's user
    copy_up: bool = True  # volumes: copy the image's content on first use
    volume_options: dict[str, str] = field(default_factory=dict)  # --mount volume-opt=

    @property
    def readonly(self) -> bool:
        return "ro" in self.options


def _check_destination(dst: str, flag: str) -> str:
    if not dst.startswith("/"):
        raise UsageError(f"invalid container path {dst!r} in {flag}: it must be an absolute path")
    return os.path.normpath(dst).replace("//", "/")


def check_volume_name(name: str) -> str:
    """Raise ``UsageError`` unless ``name`` is a valid volume name."""
    if not VOLUME_NAME_RE.fullmatch(name):
        raise UsageError(f"invalid volume name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                         hint="a host directory must be given as an absolute path or one starting with '.'")
    return name


def _apply_options(req: MountRequest, opts: Sequence[str], flag: str) -> None:
    """Fold ``-v`` style options into ``req`` (validates conflicts)."""
    seen: dict[str, str] = {}

    def once(kind: str, value: str) -> None:
        if kind in seen and seen[kind] != value:
            raise UsageError(f"conflicting options {seen[kind]!r} and {value!r} in {flag}")
        seen[kind] = value

    for o in opts:
        if not o:
            continue
        if o in ("ro", "rw"):
            once("rw", o)
        elif o in ("z", "Z"):
            once("label", o)  # SELinux relabel: accepted, no-op
        elif o == "U":
            req.chown = True
        elif o == "O":
            raise UsageError(f"overlay volumes (':O') are not supported by rpod yet ({flag})",
                             hint="use a bind mount, or a named volume")
        elif o.startswith("idmap"):
            raise UsageError(f"idmapped mounts ({o!r}) are not supported by rpod yet ({flag})")
        elif o in ("copy", "nocopy"):
            once("copy", o)
            req.copy_up = o == "copy"
        elif o in ("bind", "rbind"):
            once("bind", o)
        elif o in PROPAGATIONS:
            once("propagation", o)
        elif o in _FLAG_PAIRS or o in _FLAG_PAIRS.values():
            key = o if o in _FLAG_PAIRS else next(k for k, v in _FLAG_PAIRS.items() if v == o)
            once(key, o)
        else:
            raise UsageError(f"invalid option {o!r} in {flag}",
                             hint="valid: ro, rw, z, Z, U, copy, nocopy, bind, rbind, nosuid, suid, nodev, "
                                  "dev, noexec, exec, private, shared, slave (and r* variants)")
    out: list[str] = []
    if req.type == "bind":
        out.append(seen.get("bind", "rbind"))
    out.append(seen.get("rw", "rw"))
    for key in ("nosuid", "nodev", "noexec"):
        if key in seen:
            out.append(seen[key])
    if req.type != "tmpfs":
        out.append(seen.get("propagation", "rprivate"))
    req.options = out


def parse_volume(spec: str, cwd: str | None = None) -> MountRequest:
    """``-v [SRC:]DST[:OPTS]``: a bind mount when SRC is a path (``/...`` or ``.``-relative,
    made absolute against ``cwd``), a named volume when SRC is a name, an anonymous volume when
    only DST is given."""
    flag = f"-v {spec}"
    parts = spec.split(":")
    if not spec or len(parts) > 3 or any(p == "" for p in parts[:2]):
        raise UsageError(f"invalid volume specification {spec!r}: expected [SRC:]DST[:OPTIONS]")
    if len(parts) == 1:
        src, dst, opts = "", parts[0], ""
    elif len(parts) == 2 and not parts[1].startswith("/"):
        src, dst, opts = "", parts[0], parts[1]  # "/data:ro": an anonymous volume with options
    else:
        src, dst = parts[0], parts[1]
        opts = parts[2] if len(parts) == 3 else ""
    dst = _check_destination(dst, flag)
    if src.startswith(("/", ".")):
        source = os.path.normpath(os.path.join(cwd or os.getcwd(), src))
        req = MountRequest("bind", dst, source)
    else:
        req = MountRequest("volume", dst, check_volume_name(src) if src else "")
    _apply_options(req, opts.split(",") if opts else [], flag)
    return req


def _mount_bool(key: str, value: str | None, flag: str) -> bool:
    if value is None or value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise UsageError(f"invalid value {value!r} for {key} in {flag}: use true or false")


def parse_mount(spec: str, cwd: str | None = None) -> MountRequest:
    """``--mount type=bind|volume|tmpfs,src=...,dst=...[,ro][,...]``."""
    flag = f"--mount {spec}"
    fields: dict[str, str | None] = {}
    for item in spec.split(","):
        if not item:
            continue
        k, sep, v = item.partition("=")
        fields[k.strip().lower() if k.strip() not in ("U",) else "U"] = v if sep else None
    mtype = fields.pop("type", None)
    if mtype not in ("bind", "volume", "tmpfs"):
        raise UsageError(f"invalid {flag}: type must be bind, volume or tmpfs")
    src = next((fields.pop(k) or "" for k in ("source", "src") if k in fields), "")
    dst = next((fields.pop(k) or "" for k in ("destination", "dst", "target") if k in fields), "")
    if not dst:
        raise UsageError(f"invalid {flag}: the destination (dst=) is required")
    dst = _check_destination(dst, flag)
    opts: list[str] = []
    req = MountRequest(mtype, dst)
    tmpfs_opts: list[str] = []
    for key, value in fields.items():
        if key in ("ro", "readonly"):
            opts.append("ro" if _mount_bool(key, value, flag) else "rw")
        elif key == "rw":
            opts.append("rw" if _mount_bool(key, value, flag) else "ro")
        elif key in ("relabel", "consistency"):
            continue  # SELinux relabel and Docker-for-Mac consistency: no-ops
        elif key in ("u", "U", "chown"):
            req.chown = _mount_bool(key, value, flag)
        elif key == "bind-propagation" and mtype == "bind":
            opts.append(value or "")
        elif key == "bind-nonrecursive" and mtype == "bind":
            if _mount_bool(key, value, flag):
                opts.append("bind")
        elif key in ("volume-nocopy", "nocopy") and mtype == "volume":
            req.copy_up = not _mount_bool(key, value, flag)
        elif key == "volume-opt" and mtype == "volume":
            k2, _, v2 = (value or "").partition("=")
            req.volume_options[k2] = v2
        elif key == "tmpfs-size" and mtype == "tmpfs":
            tmpfs_opts.append(f"size={value}")
        elif key == "tmpfs-mode" and mtype == "tmpfs":
            tmpfs_opts.append(f"mode={value}")
        elif key in ("notmpcopyup", "tmpcopyup") and mtype == "tmpfs":
            tmpfs_opts.append(key)
        elif key in ("nosuid", "suid", "nodev", "dev", "noexec", "exec") and value is None:
            opts.append(key)
        else:
            raise UsageError(f"invalid option {key!r} in {flag}")
    if mtype == "tmpfs":
        if src:
            raise UsageError(f"invalid {flag}: a tmpfs mount has no source")
        req.options = _tmpfs_options(opts + tmpfs_opts)
        return req
    if mtype == "bind":
        if not src:
            raise UsageError(f"invalid {flag}: a bind mount needs src=")
        req.source = os.path.normpath(os.path.join(cwd or os.getcwd(), src))
    else:
        req.source = check_volume_name(src) if src else ""
    _apply_options(req, opts, flag)
    return req


def _tmpfs_options(opts: Sequence[str]) -> list[str]:
    """Podman's default tmpfs options, overridden by the given ones (``exec`` removes ``noexec``...)."""
    out = list(TMPFS_DEFAULT_OPTIONS)
    for o in opts:
        if not o:
            continue
        key = o.partition("=")[0]
        opposite = {"rw": "ro", "ro": "rw", "exec": "noexec", "noexec": "exec", "suid": "nosuid",
                    "nosuid": "suid", "dev": "nodev", "nodev": "dev"}.get(o)
        if opposite in out:
            out.remove(opposite)
        out = [x for x in out if x.partition("=")[0] != key or "=" not in o]
        if o not in out:
            out.append(o)
    # Podman's default: the image's content at the mount point is copied into the new tmpfs
    # (the runtime does it); ``notmpcopyup`` turns that off and is not passed on
    if "notmpcopyup" in out:
        return [o for o in out if o not in ("notmpcopyup", "tmpcopyup")]
    if "tmpcopyup" not in out:
        out.append("tmpcopyup")
    return out


def parse_tmpfs(spec: str) -> MountRequest:
    """``--tmpfs /path[:opt,opt...]`` (default options rw,noexec,nosuid,nodev)."""
    dst, _, opts = spec.partition(":")
    dst = _check_destination(dst, f"--tmpfs {spec}")
    return MountRequest("tmpfs", dst, "tmpfs", _tmpfs_options(opts.split(",") if opts else []))


def parse_all(volumes: Sequence[str] = (), mounts: Sequence[str] = (), tmpfs: Sequence[str] = (),
              cwd: str | None = None) -> list[MountRequest]:
    """Every mount flag of one container; a destination given twice is an error (as Podman)."""
    reqs = [parse_volume(v, cwd) for v in volumes] + [parse_mount(m, cwd) for m in mounts]
    reqs += [parse_tmpfs(t) for t in tmpfs]
    seen: dict[str, MountRequest] = {}
    out: list[MountRequest] = []
    for r in reqs:
        prev = seen.get(r.destination)
        if prev is not None:
            if prev == r:  # the same mount given twice: once is enough (Podman)
                continue
            raise UsageError(f"{r.destination}: duplicate mount destination")
        seen[r.destination] = r
        out.append(r)
    return out


# ----------------------------------------------------------------------------- volume store
@record
class Volume:
    """One named volume (``volume.json``)."""

    name: str
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = ""
    mountpoint: str = ""
    anonymous: bool = False
    needs_copy_up: bool = True
    needs_chown: bool = True

    def inspect(self, mount_count: int = 0) -> dict[str, Any]:
        """Podman's ``volume inspect`` object."""
        return {
            "Name": self.name,
            "Driver": self.driver,
            "Mountpoint": self.mountpoint,
            "CreatedAt": self.created,
            "Labels": dict(self.labels),
            "Scope": "local",
            "Options": dict(self.options),
            "MountCount": mount_count,
            "NeedsCopyUp": self.needs_copy_up,
            "NeedsChown": self.needs_chown,
            "Anonymous": self.anonymous,
        }


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat()


def backing(options: dict[str, str]) -> str:
    """What a local volume is backed by: "tmpfs", "bind" (a host directory) or "" (its _data)."""
    kind = options.get("type", "")
    if kind == "tmpfs":
        return "tmpfs"
    if kind == "bind" or "bind" in options.get("o", "").split(","):
        return "bind"
    return ""


def _check_backing(options: dict[str, str]) -> None:
    """``-o type=tmpfs`` and ``-o type=bind,device=DIR`` are mounts rootless rpod can make; a
    block device or another file system type is not."""
    kind = backing(options)
    if kind == "bind":
        device = options.get("device", "")
        if not device or not os.path.exists(device):
            raise UsageError(f"invalid volume option device for driver 'local': stat {device}: "
                             "no such file or directory")
    elif kind != "tmpfs" and (options.get("device") or options.get("type")):
        raise UsageError("volumes backed by a device or a file system type (-o device=, -o type=) need a "
                         "mount that rootless rpod cannot do", hint="use -o type=tmpfs, -o type=bind or a plain volume")


class VolumeStore:
    """Named volumes under ``paths.volumes``.  Writes hold ``volumes/volumes.lock``."""

    def __init__(self, paths: Paths, in_use: Callable[[str], list[str]] | None = None):
        self.paths = paths
        self.root = paths.volumes
        self._in_use = in_use or (lambda _name: [])

    def _lock(self) -> Any:
        from rpod.storefile import locked

        return locked(self.root / "volumes.lock")

    def _dir(self, name: str) -> Path:
        return self.root / name

    def _load(self, name: str) -> Volume | None:
        from rpod.storefile import read_json

        try:
            data = read_json(self._dir(name) / "volume.json")
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"volume {name}: cannot read volume.json: {e}") from e
        if not isinstance(data, dict):
            return None
        known = field_names(Volume)
        return Volume(**{k: v for k, v in data.items() if k in known})

    def _save(self, vol: Volume) -> None:
        from rpod.storefile import atomic_write_json

        atomic_write_json(self._dir(vol.name) / "volume.json", vol.__dict__)

    def exists(self, name: str) -> bool:
        return (self._dir(name) / "volume.json").is_file()

    def get(self, name: str) -> Volume:
        """The volume called ``name``; raises ``NoSuchVolume``."""
        vol = self._load(name) if VOLUME_NAME_RE.fullmatch(name) else None
        if vol is None:
            raise NoSuchVolume(f'no volume with name "{name}" found: no such volume',
                               hint="list volumes with 'rpod volume ls'")
        return vol

    def list(self) -> list[Volume]:
        """Every volume, by name."""
        if not self.root.is_dir():
            return []
        vols = []
        for d in sorted(self.root.iterdir()):
            if not d.name.startswith(".") and d.is_dir() and (d / "volume.json").is_file():
                vol = self._load(d.name)
                if vol is not None:
                    vols.append(vol)
        return vols

    def create(self, name: str | None = None, *, driver: str = "local", labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, ignore_existing: bool = False) -> Volume:
        """Create a volume (a random 64-hex name when ``name`` is None: an anonymous volume)."""
        if driver != "local":
            raise UsageError(f"volume driver {driver!r} is not supported: rpod has only 'local'")
        options = dict(options or {})
        for k in options:
            if k not in _LOCAL_DRIVER_OPTS:
                raise UsageError(f"invalid volume option {k!r} for the local driver",
                                 hint="valid: " + ", ".join(sorted(_LOCAL_DRIVER_OPTS)))
        _check_backing(options)
        anonymous = name is None
        name = name if name is not None else os.urandom(32).hex()
        check_volume_name(name)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock():
            if self.exists(name):
                if ignore_existing:
                    return self.get(name)
                raise StateConflict(f"volume with name {name} already exists: volume already exists",
                                    hint="choose another name or use --ignore")
            d = self._dir(name)
            (d / "_data").mkdir(parents=True, exist_ok=True)
            os.chmod(d / "_data", 0o755)
            vol = Volume(name, driver, dict(labels or {}), options, _now(), str(d / "_data"), anonymous,
                         needs_copy_up=options.get("nocopy") is None, needs_chown=True)
            self._save(vol)
        _event(self.paths, "create", name)
        return vol

    def update(self, vol: Volume) -> None:
        """Persist a changed record (``needs_copy_up``/``needs_chown`` after first use)."""
        with self._lock():
            self._save(vol)

    def users(self, name: str) -> list[str]:
        """Ids of the containers using the volume (asked through ``in_use``)."""
        return list(self._in_use(name))

    def remove(self, name: str, force: bool = False) -> None:
        """Remove a volume; one in use needs ``force`` (the caller removes those containers)."""
        vol = self.get(name)
        users = self.users(name)
        if users and not force:
            raise StateConflict(f"volume {name} is being used by the following container(s): "
                                f"{', '.join(users)}: volume is being used",
                                hint="remove those containers first, or use rm -f")
        with self._lock():
            d = self._dir(vol.name)
            trash = self.root / f".removing-{vol.name}-{os.getpid()}"
            os.rename(d, trash)  # gone from listings at once, even if the data removal fails below
            _remove_tree(trash)
        _event(self.paths, "remove", vol.name)

    def prune(self, *, filters: Callable[[Volume], bool] | None = None) -> list[str]:
        """Remove every volume not used by a container (and matching ``filters``); the names removed."""
        removed = []
        for vol in self.list():
            if (filters is None or filters(vol)) and not self.users(vol.name):
                self.remove(vol.name)
                removed.append(vol.name)
        for name in removed:  # Podman: a remove event for each, then a prune event for each
            _event(self.paths, "prune", name)
        return removed


def _event(paths: Paths, action: str, name: str) -> None:
    """A ``volume`` event in the per-user events log (as Podman: name only, no attributes)."""
    from rpod.events import record

    record(paths, "volume", action, name=name, attributes=None)


def _remove_tree(path: Path) -> None:
    """Remove a tree that may hold files of subordinate ids (falls back to the user namespace)."""
    try:
        shutil.rmtree(path)
        return
    except OSError:
        pass
    from rootless.subid import default_mapping
    from rootless.userns import remove_tree

    remove_tree(path, default_mapping())


# --------------------------------------------------------------------------- OCI mounts
def resolve_mounts(reqs: Sequence[MountRequest], store: VolumeStore) -> tuple[list[dict[str, Any]], list[Volume]]:
    """OCI mount entries for the requests, creating missing named/anonymous volumes.

    Returns the entries and the volumes used (the engine records them, then runs ``copy_up`` and
    ``:U`` chowns for those that need it).  A missing bind source is an error, as in Podman."""
    entries: list[dict[str, Any]] = []
    used: list[Volume] = []
    for r in reqs:
        if r.type == "tmpfs":
            entries.append({"destination": r.destination, "type": "tmpfs", "source": "tmpfs",
                            "options": list(r.options)})
            continue
        if r.type == "bind":
            if not os.path.exists(r.source):
                raise UsageError(f"statfs {r.source}: no such file or directory",
                                 hint="create the host directory first, or use a named volume")
            source = r.source
        else:
            if r.source and store.exists(r.source):
                vol = store.get(r.source)
            else:
                vol = store.create(r.source or None, options=r.volume_options, ignore_existing=True)
            used.append(vol)
            source = vol.mountpoint
            kind = backing(vol.options)
            if kind == "tmpfs":  # -o type=tmpfs: a fresh tmpfs at each start (its -o options added)
                extra = [o for o in vol.options.get("o", "").split(",") if o]
                entries.append({"destination": r.destination, "type": "tmpfs", "source": "tmpfs",
                                "options": [*[o for o in r.options if o not in ("z", "Z")], *extra]})
                continue
            if kind == "bind":  # -o type=bind -o device=DIR: that directory
                source = vol.options["device"]
        opts = list(r.options)
        if r.type == "volume" and "rbind" not in opts and "bind" not in opts:
            opts.insert(0, "rbind")
        entries.append({"destination": r.destination, "type": "bind", "source": source, "options": opts})
    return entries, used


_COPY_UP_CODE = r"""
import os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from rootless.overlay import mount_overlay
import json
lower, merged, rel, dest, driver = json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
mount_overlay(lower, None, None, merged, driver)
src = os.path.join(merged, rel)
if os.path.isdir(src):
    sys.exit(subprocess.call(["cp", "-a", "--", src + "/.", dest]))
"""


def _has_entries(path: str) -> bool:
    """Whether a layer's directory holds anything (one we may not read, owned by a subordinate
    id, counts as holding something: the copy, done in the user namespace, will see)."""
    try:
        return os.path.isdir(path) and bool(os.listdir(path))
    except OSError:
        return True


def copy_up(vol: Volume, layer_dirs: Sequence[Path | str], container_path: str, scratch: Path,
            driver: str = "kernel", mapping: Any = None) -> bool:
    """Copy the image's content at ``container_path`` into an empty volume, keeping ownership
    (done as root in a fresh user namespace over a read-only overlay of ``layer_dirs``, lowest
    first).  Returns whether the copy-up is done: False while the image has nothing at that
    path (no directory, or an empty one: a later container may still bring content, as
    Podman); True once there was content, copied or not (a volume already holding files is
    never copied into).  The caller then marks ``needs_copy_up`` False (``VolumeStore.update``)."""
    from rpod.image.layerfs import find_in_layers

    data = Path(vol.mountpoint)
    if not vol.needs_copy_up:
        return True
    top_first = list(reversed([str(d) for d in layer_dirs]))
    found = find_in_layers(top_first, container_path) if top_first else None
    if found is None or not found.is_dir():
        return False
    rel = container_path.strip("/")
    if not any(_has_entries(os.path.join(d, rel)) for d in top_first):
        return False
    if any(data.iterdir()):
        return True
    import subprocess  # here only: `run`/`create` import this module for every container

    from rootless.subid import default_mapping
    from rootless.userns import PACKAGE_PARENT, run

    scratch.mkdir(parents=True, exist_ok=True)
    merged = scratch / f"copyup-{os.getpid()}"
    merged.mkdir(exist_ok=True)
    try:
        argv = [sys.executable, "-I", "-S", "-c", _COPY_UP_CODE, PACKAGE_PARENT,
                json.dumps([str(d) for d in layer_dirs]), str(merged), container_path.lstrip("/"),
                str(data), driver]
        proc = run(argv, mapping or default_mapping(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise StoreError(f"cannot copy {container_path} of the image into volume {vol.name}: "
                             f"{(proc.stderr or '').strip() or f'exit {proc.returncode}'}")
    finally:
        try:
            merged.rmdir()
        except OSError:
            pass
    return True
