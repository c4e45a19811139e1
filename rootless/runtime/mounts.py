"""The container's filesystem: rootfs, OCI ``mounts``, ``/dev``, ``pivot_root``, masked and read-only paths.

Runs in the container init, as root in the container's user and mount namespaces, before
``pivot_root`` (``prepare_rootfs``) and after it (``finish_rootfs``).

Rootless specifics:
- ``sysfs`` cannot be mounted without owning the network namespace and ``proc`` without owning the
  pid namespace: both fall back to a recursive bind of the host's, as crun does.
- ``cgroup`` mounts become a read-only recursive bind of the host's ``/sys/fs/cgroup`` (nothing is
  delegated to the user here, so a private cgroup tree would be empty anyway); skipped if that fails.
- ``mknod`` is impossible in a user namespace: devices are bind mounts of the host's nodes.
- a bind mount's ``ro``/``nosuid``/... needs a second ``MS_REMOUNT|MS_BIND``, and the kernel refuses
  to clear flags that are locked on the source, so the current flags are kept (``statvfs``).
"""

from __future__ import annotations

import errno
import os

from rootless import syscalls as sc

# option -> (flag, set?)  ("ro" sets MS_RDONLY, "rw" clears it)
_FLAGS: dict[str, tuple[int, bool]] = {
    "ro": (sc.MS_RDONLY, True), "rw": (sc.MS_RDONLY, False),
    "nosuid": (sc.MS_NOSUID, True), "suid": (sc.MS_NOSUID, False),
    "nodev": (sc.MS_NODEV, True), "dev": (sc.MS_NODEV, False),
    "noexec": (sc.MS_NOEXEC, True), "exec": (sc.MS_NOEXEC, False),
    "sync": (sc.MS_SYNCHRONOUS, True), "async": (sc.MS_SYNCHRONOUS, False),
    "dirsync": (sc.MS_DIRSYNC, True),
    "remount": (sc.MS_REMOUNT, True),
    "mand": (sc.MS_MANDLOCK, True), "nomand": (sc.MS_MANDLOCK, False),
    "noatime": (sc.MS_NOATIME, True), "atime": (sc.MS_NOATIME, False),
    "nodiratime": (sc.MS_NODIRATIME, True), "diratime": (sc.MS_NODIRATIME, False),
    "relatime": (sc.MS_RELATIME, True), "norelatime": (sc.MS_RELATIME, False),
    "strictatime": (sc.MS_STRICTATIME, True), "nostrictatime": (sc.MS_STRICTATIME, False),
    "bind": (sc.MS_BIND, True), "rbind": (sc.MS_BIND | sc.MS_REC, True),
    "silent": (sc.MS_SILENT, True), "loud": (sc.MS_SILENT, False),
    "nosymfollow": (sc.MS_NOSYMFOLLOW, True),
}
PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
_IGNORED = {"idmap", "ridmap", "copy-symlink", "z", "Z", "U"}
_ATIME = sc.MS_NOATIME | sc.MS_RELATIME | sc.MS_STRICTATIME
# statvfs f_flag bits -> mount flags (ST_RELATIME is 4096, not MS_RELATIME)
_ST_TO_MS = ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC),
             (1024, sc.MS_NOATIME), (2048, sc.MS_NODIRATIME), (4096, sc.MS_RELATIME))
DEFAULT_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_SYMLINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"))


class MountOptions:
    """Parsed OCI mount options (plain classes: dataclasses costs every runtime process ~5 ms)."""

    def __init__(self, flags: int = 0, propagation: list[int] | None = None, data: list[str] | None = None):
        self.flags = flags
        self.propagation = propagation if propagation is not None else []
        self.data = data if data is not None else []
        self.copyup = False  # tmpcopyup: the covered directory's content goes into the new tmpfs


def parse_options(options: list[str]) -> MountOptions:
    """Split OCI mount options into mount flags, propagation changes and filesystem data."""
    out = MountOptions()
    for opt in options:
        if opt in _FLAGS:
            flag, on = _FLAGS[opt]
            out.flags = out.flags | flag if on else out.flags & ~flag
        elif opt in PROPAGATION:
            out.propagation.append(PROPAGATION[opt])
        elif opt in ("tmpcopyup", "notmpcopyup"):
            out.copyup = opt == "tmpcopyup"
        elif opt in _IGNORED:
            continue
        else:
            out.data.append(opt)
    return out


def secure_join(root: str, path: str) -> str:
    """``root/path`` with symlinks resolved as if ``root`` were ``/`` (never escapes ``root``)."""
    from rootless.pathwalk import resolve

    def readlink(parts: list[str]) -> str | None:
        try:
            return os.readlink(os.path.join(root, *parts))
        except OSError:
            return None

    try:
        resolved = resolve(path, readlink)
    except OSError as e:
        raise OSError(errno.ELOOP, f"too many symlinks resolving {path} in {root}") from e
    return os.path.join(root, *resolved)


def current_flags(path: str) -> int:
    """The mount flags of the mount holding ``path`` (what a bind remount must keep)."""
    st = os.statvfs(path)
    return sum(ms for st_bit, ms in _ST_TO_MS if st.f_flag & st_bit)


def remount_bind(path: str, flags: int) -> None:
    """Apply ``flags`` (ro, nosuid, ...) to the bind mount at ``path``, keeping the locked ones."""
    cur = current_flags(path)
    keep = cur & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RDONLY)
    if not flags & _ATIME:
        keep |= cur & (_ATIME | sc.MS_NODIRATIME)
    want = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    try:
        sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | want | keep)
    except OSError as e:
        if e.errno != errno.EPERM or keep == cur:
            raise
        # some flag is locked that statvfs does not show: retry with every current flag
        sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | want | cur)


def _make_target(dest: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(dest, exist_ok=True)
        return
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if not os.path.lexists(dest):
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def bind(source: str, dest: str, flags: int = 0, recursive: bool = True) -> None:
    """Bind ``source`` on ``dest`` (created as a file or directory to match), then apply ``flags``."""
    _make_target(dest, os.path.isdir(source))
    sc.mount(source, dest, None, sc.MS_BIND | (sc.MS_REC if recursive else 0))
    if flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT):
        remount_bind(dest, flags)


class MountContext:
    """What mount decisions depend on."""

    def __init__(self, rootfs: str, bundle: str, mapped_gids: list[tuple[int, int]] | None = None,
                 warnings: list[str] | None = None):
        self.rootfs = rootfs
        self.bundle = bundle
        self.mapped_gids = mapped_gids if mapped_gids is not None else []  # (first, size) inside the ns
        self.warnings = warnings if warnings is not None else []

    def gid_mapped(self, gid: int) -> bool:
        return any(first <= gid < first + size for first, size in self.mapped_gids)


def read_gid_map() -> list[tuple[int, int]]:
    """``(first, size)`` ranges of gids valid in this process's user namespace."""
    try:
        with open("/proc/self/gid_map") as f:
            return [(int(line.split()[0]), int(line.split()[2])) for line in f if line.strip()]
    except OSError:
        return []


def submounts(path: str) -> list[str]:
    """Mount points strictly below ``path``, parents first (from /proc/self/mountinfo)."""
    prefix = path.rstrip("/") + "/"
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                out.append(point)
    return out


def _fallback_bind(host: str, dest: str, opts: MountOptions) -> None:
    """Recursive bind of ``host`` on ``dest``; the flags (e.g. ``ro``) go to every submount too."""
    sc.mount(host, dest, None, sc.MS_BIND | sc.MS_REC)
    if opts.flags:
        remount_bind(dest, opts.flags)
        for sub in submounts(dest):
            try:
                remount_bind(sub, opts.flags)
            except OSError:
                pass  # a submount we may not touch keeps its flags


def _tmpfs_copyup(source: str, dest: str, flags: int, data: str | None) -> None:
    """A tmpfs on ``dest`` holding a copy of what it covers (read-only only after the copy)."""
    from rootless.runtime.copyup import copy_up, open_source

    covered = open_source(dest)
    try:
        sc.mount(source, dest, "tmpfs", flags & ~sc.MS_RDONLY if covered >= 0 else flags, data)
    except OSError:
        if covered >= 0:
            os.close(covered)
        raise
    if covered < 0:
        return
    copy_up(covered, dest)
    if flags & sc.MS_RDONLY:
        sc.mount(source, dest, "tmpfs", flags | sc.MS_REMOUNT, data)


def mount_entry(m: dict, ctx: MountContext) -> None:
    """Perform one OCI ``mounts`` entry inside ``ctx.rootfs``."""
    mtype = m.get("type") or ""
    source = m.get("source") or mtype or "none"
    dest = secure_join(ctx.rootfs, m["destination"])
    opts = parse_options(list(m.get("options") or []))
    if mtype == "bind" or opts.flags & sc.MS_BIND:
        if not source.startswith("/"):
            source = os.path.join(ctx.bundle, source)
        bind(source, dest, opts.flags, recursive=bool(opts.flags & sc.MS_REC))
    else:
        _make_target(dest, True)
        flags = opts.flags
        data = list(opts.data)
        if mtype == "devpts":
            kept = []
            for d in data:
                if d.startswith("gid=") and not ctx.gid_mapped(int(d[4:])):
                    continue  # the tty group is not mapped in this namespace
                kept.append(d)
            data = kept
        try:
            if mtype in ("cgroup", "cgroup2"):
                _fallback_bind("/sys/fs/cgroup", dest, MountOptions(flags | sc.MS_RDONLY))
            elif opts.copyup and mtype == "tmpfs":
                _tmpfs_copyup(source, dest, flags, ",".join(data) or None)
            else:
                sc.mount(source, dest, mtype, flags, ",".join(data) or None)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EACCES, errno.EINVAL, errno.ENOENT):
                raise
            if mtype in ("sysfs", "proc", "mqueue"):
                host = {"sysfs": "/sys", "proc": "/proc", "mqueue": "/dev/mqueue"}[mtype]
                _fallback_bind(host, dest, opts)
            elif mtype in ("cgroup", "cgroup2"):
                ctx.warnings.append(f"cannot bind /sys/fs/cgroup on {m['destination']}: {e.strerror}; skipped")
                return
            else:
                raise
    for prop in opts.propagation:
        sc.mount(None, dest, None, prop)


def setup_dev(config: dict, ctx: MountContext) -> None:
    """Bind the standard device nodes (and ``linux.devices``) from the host, add the ``/dev`` symlinks."""
    dev = secure_join(ctx.rootfs, "/dev")
    os.makedirs(dev, exist_ok=True)
    paths = [f"/dev/{n}" for n in DEFAULT_DEVICES]
    for d in (config.get("linux") or {}).get("devices") or []:
        if d.get("path") and d["path"] not in paths:
            paths.append(d["path"])
    for path in paths:
        target = secure_join(ctx.rootfs, path)
        if os.path.exists(target) and os.path.ismount(target):
            continue
        if not os.path.exists(path):
            ctx.warnings.append(f"device {path} does not exist on the host; skipped")
            continue
        try:
            bind(path, target, sc.MS_NOSUID | sc.MS_NOEXEC, recursive=False)
        except OSError as e:
            ctx.warnings.append(f"cannot bind device {path}: {e.strerror}")
    for name, target in DEV_SYMLINKS:
        link = os.path.join(dev, name)
        if not os.path.lexists(link):
            os.symlink(target, link)
    ptmx = os.path.join(dev, "ptmx")
    if os.path.isdir(os.path.join(dev, "pts")) and os.path.ismount(os.path.join(dev, "pts")):
        if os.path.lexists(ptmx) and not os.path.ismount(ptmx):
            os.unlink(ptmx)
        if not os.path.lexists(ptmx):
            os.symlink("pts/ptmx", ptmx)


def _own_upper(upper: str, work: str) -> None:
    """The writable layer belongs to the container's root: the merged root directory shows its
    owner.  rpod makes it as the user, which is root with the default map; with another map
    (keep-id) that still maps the user, root here can chown it (else rpod has done it)."""
    st = os.stat(upper)
    if (st.st_uid, st.st_gid) != (0, 0):
        try:
            os.chown(upper, 0, 0)
            os.chown(work, 0, 0)
        except OSError:
            pass


def enter_base(config: dict, bundle: str) -> None:
    """``run.rpod.overlay``'s ``base`` (a map without the caller's id): change to it while still
    the caller, and name every path under it from there, as ``/proc/self/cwd/...`` (the root file
    system, the overlay's directories, bind sources), so the container's root reaches them
    without searching the caller's directories above it (``pivot`` leaves this directory last).
    Nothing without ``base``."""
    import json

    annotations = config.get("annotations") or {}
    spec = json.loads(annotations.get("run.rpod.overlay") or "{}")
    base = spec.get("base")
    if not base:
        return
    os.chdir(base)
    prefix = base.rstrip("/") + "/"

    def rel(path: str) -> str:
        return "/proc/self/cwd/" + path[len(prefix):] if path.startswith(prefix) else path

    config["root"]["path"] = rel(config["root"]["path"])
    spec["lowerdir"] = [rel(d) for d in spec.get("lowerdir") or []]
    for key in ("upperdir", "workdir"):
        if spec.get(key):
            spec[key] = rel(spec[key])
    annotations["run.rpod.overlay"] = json.dumps(spec)
    for m in config.get("mounts") or []:
        source = m.get("source") or ""
        if source and (m.get("type") == "bind" or "bind" in (m.get("options") or ()) or "rbind" in (m.get("options") or ())):
            m["source"] = rel(source if source.startswith("/") else os.path.join(bundle, source))


def prepare_rootfs(config: dict, ctx: MountContext) -> None:
    """Everything before ``pivot_root``: propagation, rootfs (overlay or bind), mounts, devices."""
    linux = config.get("linux") or {}
    prop = PROPAGATION.get(linux.get("rootfsPropagation") or "rprivate", sc.MS_PRIVATE | sc.MS_REC)
    sc.mount(None, "/", None, prop if prop & sc.MS_REC else prop | sc.MS_REC)
    overlay = (config.get("annotations") or {}).get("run.rpod.overlay")
    if overlay:
        import json

        from rootless.overlay import mount_overlay  # lazy: only rpod's own containers use it

        spec = json.loads(overlay)
        if spec.get("upperdir"):
            _own_upper(spec["upperdir"], spec["workdir"])
        mount_overlay(list(spec["lowerdir"]), spec["upperdir"], spec["workdir"], ctx.rootfs,
                      spec.get("driver", "kernel"))
    else:
        sc.mount(ctx.rootfs, ctx.rootfs, None, sc.MS_BIND | sc.MS_REC)
    for m in config.get("mounts") or []:
        try:
            mount_entry(m, ctx)
        except OSError as e:
            raise OSError(e.errno, f"mount {m.get('source', '')} on {m['destination']} "
                                   f"({m.get('type', 'bind')}): {e.strerror}") from e
    setup_dev(config, ctx)


def pivot(rootfs: str) -> None:
    """Make ``rootfs`` the root with the ``pivot_root(".", ".")`` trick and detach the old root."""
    os.chdir(rootfs)
    sc.pivot_root(".", ".")
    sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)  # keep the unmount from propagating to the host
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def mask_path(path: str) -> None:
    """Hide ``path``: ``/dev/null`` over a file, an empty read-only tmpfs over a directory."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)
            remount_bind(path, sc.MS_RDONLY)
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise


def readonly_path(path: str) -> None:
    """Make ``path`` a read-only bind of itself."""
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        raise
    remount_bind(path, sc.MS_RDONLY)


def finish_rootfs(config: dict) -> None:
    """After ``pivot_root``: masked paths, read-only paths, then ``root.readonly``."""
    linux = config.get("linux") or {}
    for p in linux.get("maskedPaths") or []:
        mask_path(p)
    for p in linux.get("readonlyPaths") or []:
        readonly_path(p)
    if (config.get("root") or {}).get("readonly"):
        remount_bind("/", sc.MS_RDONLY)
