"""Mount a container's root filesystem from unpacked layers: kernel overlayfs or fuse-overlayfs.

``mount_overlay`` is called by a process that is already root in the user namespace and
has its own mount namespace (the runtime, before ``pivot_root``).  ``lowerdirs`` are given
**lowest layer first**, in the order of ``ImageStore.layer_dirs`` (overlay itself wants the
topmost first; this module reverses them).

Kernel driver: overlayfs with ``userxattr`` (Linux >= 5.11; whiteouts are 0:0 character
devices, the opaque marker is ``user.overlay.opaque=y``, as ``rootless.unpack`` writes them).
The legacy ``mount(2)`` copies at most one page (4095 bytes) of options, about 35 layers with
store paths; longer option strings go through the new mount API with one ``lowerdir+`` per
layer (Linux >= 6.8).  Overlayfs itself stacks at most 500 lower layers.

Fuse driver: ``fuse-overlayfs`` (>= 1.8 reads the same on-disk format).  It stays running as
a daemon until the mount is unmounted: call ``unmount`` when done, or the daemon keeps its
mount namespace alive.

``probe_driver`` finds out which driver works (``python -m rootless.overlay probe DIR`` in a
fresh user namespace does the experiment); ``idmapped_mount_supported`` tests whether an
overlay mounted in the namespace can be idmapped.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
from collections.abc import Sequence

from rootless import syscalls
from rootless.errors import RootlessError

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

KERNEL = "kernel"
FUSE = "fuse"
MOUNT_DATA_MAX = 4095  # mount(2) copies one page of options, NUL included
MAX_LOWER_LAYERS = 500  # OVL_MAX_STACK
FUSE_DEVICE = "/dev/fuse"
FUSE_NOT_ACCESSIBLE = "cannot open /dev/fuse read-write: permission denied"
FUSE_FIX = "as root: chmod 0666 /dev/fuse (the mode udev gives it on a normal system)"
NO_DRIVER_HINT = (
    "use Linux >= 5.13 (kernel overlayfs in a user namespace, option userxattr), or install "
    "fuse-overlayfs (as root: apt-get install fuse-overlayfs) and make /dev/fuse mode 0666"
)


def escape_path(path: str) -> str:
    """Escape ``\\``, ``:`` and ``,`` in a path for overlay's option string."""
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def kernel_options(lowerdirs: Sequence[str], upperdir: str | None, workdir: str | None) -> str:
    """The ``mount(2)`` data string for kernel overlayfs (``lowerdirs`` lowest first)."""
    opts = "lowerdir=" + ":".join(escape_path(d) for d in reversed(lowerdirs))
    if upperdir is not None:
        opts += f",upperdir={escape_path(upperdir)},workdir={escape_path(workdir or '')}"
    return opts + ",userxattr"


def _id_mapping(maps: Sequence[Any]) -> str:
    """``container:host:size`` triples joined by ``:`` (fuse-overlayfs' uidmapping format)."""
    out = []
    for m in maps:
        if isinstance(m, dict):
            out += [m["containerID"], m["hostID"], m["size"]]
        else:
            out += [m.container_id, m.host_id, m.size]
    return ":".join(str(v) for v in out)


def fuse_options(lowerdirs: Sequence[str], upperdir: str | None, workdir: str | None,
                 uid_map: Sequence[Any] | None = None, gid_map: Sequence[Any] | None = None) -> str:
    """The ``-o`` argument of fuse-overlayfs (``lowerdirs`` lowest first)."""
    for d in [*lowerdirs, upperdir or "", workdir or ""]:
        if ":" in d or "," in d:
            raise RootlessError(f"fuse-overlayfs cannot use the path {d!r}: it contains ':' or ','",
                                hint="move the storage to a path without ':' and ','")
    opts = "lowerdir=" + ":".join(reversed(lowerdirs))
    if upperdir is not None:
        opts += f",upperdir={upperdir},workdir={workdir}"
    if uid_map:
        opts += f",uidmapping={_id_mapping(uid_map)}"
    if gid_map:
        opts += f",gidmapping={_id_mapping(gid_map)}"
    return opts


def topmost_once(lowerdirs: Sequence[str]) -> list[str]:
    """A layer that occurs twice in a stack (an image with the same layer, e.g. an empty RUN
    layer, at two places) kept only at its highest place: overlayfs refuses a directory used
    twice (ELOOP), and the view is the same, since the higher copy covers whatever the layers
    between the two made of the paths it holds (lowest first in, lowest first out)."""
    seen: set[str] = set()
    out: list[str] = []
    for d in reversed(lowerdirs):
        if d not in seen:
            seen.add(d)
            out.append(d)
    out.reverse()
    return out


def mount_overlay(lowerdirs: list[str], upperdir: str | None, workdir: str | None, target: str,
                  driver: str = KERNEL, uid_map: Sequence[Any] | None = None,
                  gid_map: Sequence[Any] | None = None) -> None:
    """Mount the layers ``lowerdirs`` (lowest first) with ``upperdir``/``workdir`` on ``target``.

    ``upperdir``/``workdir`` None gives a read-only mount.  ``uid_map``/``gid_map`` (``IdMap``s
    or OCI dicts) are passed to fuse-overlayfs as ``uidmapping``/``gidmapping``: an id
    ``container_id + k`` stored on disk is presented as ``host_id + k`` (the kernel driver
    ignores them).  Raises ``RootlessError``.
    """
    if (upperdir is None) != (workdir is None):
        raise RootlessError("overlay: upperdir and workdir must be given together")
    if driver not in (KERNEL, FUSE):
        raise RootlessError(f"unknown overlay driver {driver!r} (expected 'kernel' or 'fuse')")
    lowerdirs = topmost_once(lowerdirs)
    if len(lowerdirs) > MAX_LOWER_LAYERS:
        raise RootlessError(f"overlay: {len(lowerdirs)} layers is more than the {MAX_LOWER_LAYERS} overlayfs stacks",
                            hint="squash the image into fewer layers")
    if not lowerdirs:
        if upperdir is None:
            raise RootlessError("overlay: no layers and no upper directory to mount")
        _bind(upperdir, target, readonly=False)  # an image without layers: everything lives in upper
        return
    if upperdir is None and len(lowerdirs) == 1:
        _bind(lowerdirs[0], target, readonly=True)  # overlay needs two lowers without an upper
        return
    if driver == KERNEL:
        _mount_kernel(lowerdirs, upperdir, workdir, target)
    else:
        _mount_fuse(lowerdirs, upperdir, workdir, target, uid_map, gid_map)


def _bind(source: str, target: str, readonly: bool) -> None:
    try:
        syscalls.mount(source, target, None, syscalls.MS_BIND)
        if readonly:
            syscalls.mount(None, target, None, syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY)
    except OSError as e:
        raise RootlessError(f"cannot bind mount {source} on {target}: {e.strerror}") from e


def _mount_kernel(lowerdirs: list[str], upperdir: str | None, workdir: str | None, target: str) -> None:
    data = kernel_options(lowerdirs, upperdir, workdir)
    if len(data.encode()) <= MOUNT_DATA_MAX:
        try:
            syscalls.mount("overlay", target, "overlay", 0, data)
        except OSError as e:
            raise RootlessError(
                f"cannot mount overlay on {target}: {e.strerror}",
                hint="the kernel needs overlayfs with userxattr in user namespaces (Linux >= 5.13); "
                "otherwise use the fuse-overlayfs driver",
            ) from e
        return
    _mount_kernel_fsconfig(lowerdirs, upperdir, workdir, target)


def _fs_context_messages(fd: int) -> str:
    """The kernel's messages queued on a filesystem context fd."""
    msgs = []
    while True:
        try:
            msg = os.read(fd, 1024)
        except OSError:
            break
        if not msg:
            break
        msgs.append(msg.decode(errors="replace").removeprefix("e ").strip())
    return "; ".join(msgs)


def _mount_kernel_fsconfig(lowerdirs: list[str], upperdir: str | None, workdir: str | None, target: str) -> None:
    """Many layers: the new mount API, one ``lowerdir+`` per layer (no page-size limit)."""
    try:
        ctx = syscalls.fsopen("overlay")
    except OSError as e:
        raise RootlessError(f"cannot mount overlay on {target}: {e.strerror}") from e
    step = "lowerdir+"
    try:
        for d in reversed(lowerdirs):
            syscalls.fsconfig(ctx, syscalls.FSCONFIG_SET_STRING, "lowerdir+", d)
        if upperdir is not None:
            step = "upperdir"
            syscalls.fsconfig(ctx, syscalls.FSCONFIG_SET_STRING, "upperdir", upperdir)
            step = "workdir"
            syscalls.fsconfig(ctx, syscalls.FSCONFIG_SET_STRING, "workdir", workdir)
        step = "userxattr"
        syscalls.fsconfig(ctx, syscalls.FSCONFIG_SET_FLAG, "userxattr")
        step = "create"
        syscalls.fsconfig(ctx, syscalls.FSCONFIG_CMD_CREATE)
        step = "fsmount"
        mnt = syscalls.fsmount(ctx)
        try:
            step = "move_mount"
            syscalls.move_mount(mnt, "", syscalls.AT_FDCWD, target, syscalls.MOVE_MOUNT_F_EMPTY_PATH)
        finally:
            os.close(mnt)
    except OSError as e:
        detail = _fs_context_messages(ctx) or e.strerror
        hint = None
        if step == "lowerdir+" and e.errno == errno.EINVAL:
            hint = (f"{len(lowerdirs)} layers do not fit in mount(2)'s one-page option string and this kernel "
                    "lacks overlay's lowerdir+ option (Linux >= 6.8); use the fuse-overlayfs driver")
        raise RootlessError(f"cannot mount overlay on {target} ({step}): {detail}", hint=hint) from e
    finally:
        os.close(ctx)


def check_fuse_device(path: str = FUSE_DEVICE) -> None:
    """Raise ``RootlessError`` unless this process can open /dev/fuse read-write."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            raise RootlessError(FUSE_NOT_ACCESSIBLE, hint=FUSE_FIX) from e
        raise RootlessError(f"cannot open {path}: {e.strerror}",
                            hint="load the fuse module as root: modprobe fuse") from e


def _mount_fuse(lowerdirs: list[str], upperdir: str | None, workdir: str | None, target: str,
                uid_map: Sequence[Any] | None, gid_map: Sequence[Any] | None) -> None:
    import shutil
    import subprocess  # the kernel driver (every container) needs neither

    exe = shutil.which("fuse-overlayfs") or next(
        (p for p in ("/usr/bin/fuse-overlayfs", "/usr/local/bin/fuse-overlayfs") if os.path.exists(p)), None)
    if exe is None:
        raise RootlessError("fuse-overlayfs is not installed", hint="as root: apt-get install fuse-overlayfs")
    check_fuse_device()
    opts = fuse_options(lowerdirs, upperdir, workdir, uid_map, gid_map)
    proc = subprocess.run([exe, "-o", opts, target], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RootlessError(f"fuse-overlayfs could not mount {target}: "
                            f"{proc.stderr.strip() or f'exit status {proc.returncode}'}")


def unmount(target: str) -> None:
    """Unmount ``target`` (lazily when busy); for fuse-overlayfs this also ends its daemon."""
    try:
        syscalls.umount2(target)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise RootlessError(f"cannot unmount {target}: {e.strerror}") from e
        syscalls.umount2(target, syscalls.MNT_DETACH)


# ---------------------------------------------------------------- probes (run inside the namespace)
def _make_probe_layers(base: str) -> tuple[list[str], str]:
    """Two tiny layers: the top one deletes ``a`` (whiteout) and makes ``d`` opaque."""
    bottom, top = os.path.join(base, "l0"), os.path.join(base, "l1")
    for d in (bottom, top, f"{bottom}/d", f"{top}/d", f"{bottom}/keep"):
        os.makedirs(d)
    for f in (f"{bottom}/a", f"{bottom}/b", f"{bottom}/d/x", f"{top}/d/y"):
        with open(f, "w") as fh:
            fh.write("probe\n")
    os.mknod(f"{top}/a", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    os.setxattr(f"{top}/d", "user.overlay.opaque", b"y")
    return [bottom, top], os.path.join(base, "expected")


def _check_merged(merged: str) -> None:
    """Raise ``RootlessError`` unless ``merged`` shows whiteout, opaque and copy-up semantics."""
    top = sorted(os.listdir(merged))
    if top != ["b", "d", "keep"]:
        raise RootlessError(f"whiteout not honoured: the merged view lists {top}, expected ['b', 'd', 'keep']")
    inner = sorted(os.listdir(os.path.join(merged, "d")))
    if inner != ["y"]:
        raise RootlessError(f"opaque directory not honoured: d lists {inner}, expected ['y']")
    with open(os.path.join(merged, "new"), "w") as fh:
        fh.write("upper\n")
    os.unlink(os.path.join(merged, "b"))
    with open(os.path.join(merged, "keep", "f"), "w") as fh:
        fh.write("copy-up\n")
    if sorted(os.listdir(merged)) != ["d", "keep", "new"]:
        raise RootlessError(f"writes through the overlay misbehave: {sorted(os.listdir(merged))}")


def _try_driver(base: str, driver: str) -> str | None:
    """Mount a probe overlay with ``driver``; None when it works, else the error text."""
    root = os.path.join(base, driver)
    lowers, _ = _make_probe_layers(root)
    upper, work, merged = (os.path.join(root, n) for n in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        os.mkdir(d)
    try:
        mount_overlay(lowers, upper, work, merged, driver)
    except RootlessError as e:
        return f"{e}" + (f" ({e.hint})" if e.hint else "")
    try:
        _check_merged(merged)
    except (RootlessError, OSError) as e:
        return str(e)
    finally:
        try:
            unmount(merged)
        except RootlessError:
            pass
    return None


def _probe(scratch: str) -> dict[str, Any]:
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="overlay-probe.", dir=scratch)
    result: dict[str, Any] = {"driver": None}
    try:
        kerr = _try_driver(base, KERNEL)
        if kerr is None:
            result["driver"] = KERNEL
            return result
        result["kernel_error"] = kerr
        ferr = _try_driver(base, FUSE)
        if ferr is None:
            result["driver"] = FUSE
        else:
            result["fuse_error"] = ferr
        return result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _nested_userns_fd() -> tuple[int, int]:
    """(pid, fd) of a child sitting in a new user namespace mapping its 0..999 to our 1..1000."""
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            os.close(w2)
            syscalls.unshare(syscalls.CLONE_NEWUSER)
            os.write(w, b"1")
            os.read(r2, 1)  # until the parent closes its end
        finally:
            os._exit(0)
    os.close(w)
    os.close(r2)
    os.read(r, 1)
    os.close(r)
    for kind in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{kind}", "w") as f:
            f.write("0 1 1000\n")
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    os.close(w2)  # the child exits; the namespace lives on through fd
    os.waitpid(pid, 0)
    return pid, fd


def _idmap_onto(source: str, target: str, userns_fd: int) -> str:
    """Idmapped clone of the mount at ``source`` attached at ``target``; '' on success or the error."""
    try:
        tree = syscalls.open_tree(syscalls.AT_FDCWD, source, syscalls.OPEN_TREE_CLONE | syscalls.OPEN_TREE_CLOEXEC)
    except OSError as e:
        return f"open_tree: {e.strerror}"
    try:
        syscalls.mount_setattr(tree, "", syscalls.AT_EMPTY_PATH, attr_set=syscalls.MOUNT_ATTR_IDMAP,
                               userns_fd=userns_fd)
        syscalls.move_mount(tree, "", syscalls.AT_FDCWD, target, syscalls.MOVE_MOUNT_F_EMPTY_PATH)
    except OSError as e:
        return str(e)
    finally:
        os.close(tree)
    return ""


def _idmap_probe(scratch: str) -> dict[str, Any]:
    """Can an overlay (or a plain layer dir) mounted here be idmapped? Both experiments, reported."""
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="idmap-probe.", dir=scratch)
    result: dict[str, Any] = {}
    try:
        lowers, _ = _make_probe_layers(base)
        names = ("merged", "mapped", "mapped2", "tmpfs", "mapped3")
        merged, mapped, mapped2, tmpfs, mapped3 = (os.path.join(base, n) for n in names)
        for d in (merged, mapped, mapped2, tmpfs, mapped3):
            os.mkdir(d)
        _, ns_fd = _nested_userns_fd()
        try:
            mount_overlay(lowers, None, None, merged, KERNEL)
            err = _idmap_onto(merged, mapped, ns_fd)
            if not err:
                uid = os.stat(os.path.join(mapped, "b")).st_uid
                # the fs's id 0 is the nested namespace's 0, which is our 1
                err = "" if uid == 1 else f"idmapped, but files show uid {uid} instead of 1"
            result["overlay"] = err or "ok"
            err = _idmap_onto(lowers[0], mapped2, ns_fd)
            result["layer_dir"] = err or "ok"
            syscalls.mount("tmpfs", tmpfs, "tmpfs", 0, "size=64k")  # a filesystem the namespace owns
            result["tmpfs"] = _idmap_onto(tmpfs, mapped3, ns_fd) or "ok"
        finally:
            os.close(ns_fd)
            for d in (mapped3, tmpfs, mapped2, mapped, merged):
                try:
                    syscalls.umount2(d, syscalls.MNT_DETACH)
                except OSError:
                    pass
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return result


def probe_driver(scratch_dir: str, mapping: Any) -> str:
    """``"kernel"`` or ``"fuse"``: the overlay driver that works for this user (cache the answer).

    Mounts two tiny layers with a whiteout and an opaque directory in a fresh user and
    mount namespace (under ``scratch_dir``) and checks the merged view.  Raises
    ``RootlessError`` naming both fixes when neither driver works.
    """
    result = _run_probe("probe", scratch_dir, mapping)
    driver = result.get("driver")
    if driver in (KERNEL, FUSE):
        return driver
    raise RootlessError(
        "no usable overlay filesystem: kernel overlayfs: "
        f"{result.get('kernel_error', '?')}; fuse-overlayfs: {result.get('fuse_error', '?')}",
        hint=NO_DRIVER_HINT,
    )


def idmapped_mount_supported(scratch_dir: str, mapping: Any) -> tuple[bool, dict[str, str]]:
    """Whether an overlay mounted in the user namespace can be idmapped (open_tree + mount_setattr).

    Returns ``(supported, details)``; ``details`` has the outcome ("ok" or the error) for the
    overlay mount (``"overlay"``), for a bind mount of a layer directory (``"layer_dir"``) and, as
    a control, for a tmpfs mounted in the namespace (``"tmpfs"``).  On Linux 6.18: overlay EINVAL
    (overlayfs is not idmappable), layer_dir EPERM (its filesystem belongs to the initial
    namespace), tmpfs ok -- so ``--userns=keep-id`` needs fuse-overlayfs' uidmapping or a copy.
    """
    result = _run_probe("idmap-probe", scratch_dir, mapping)
    return result.get("overlay") == "ok", result


def _run_probe(command: str, scratch_dir: str, mapping: Any) -> dict[str, Any]:
    import subprocess

    from rootless import userns  # not needed by the runtime's mount path

    proc = userns.run(userns.python_entry("rootless.overlay", command, scratch_dir), mapping,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RootlessError(f"the overlay probe failed (exit {proc.returncode}): "
                            f"{proc.stderr.strip() or proc.stdout.strip() or 'no output'}") from None


def main(argv: list[str] | None = None) -> int:
    """``probe DIR`` / ``idmap-probe DIR``: run as root in a fresh user+mount namespace; prints JSON."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("probe", "idmap-probe"):
        print("usage: rootless.overlay probe|idmap-probe SCRATCH_DIR", file=sys.stderr)
        return 2
    result = _probe(args[1]) if args[0] == "probe" else _idmap_probe(args[1])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
