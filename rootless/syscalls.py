"""The only ctypes user: thin wrappers over Linux syscalls the stdlib lacks.

Each wrapper raises ``OSError`` with the errno, like the ``os`` module does.
Other modules of ``rootless`` add nothing ctypes-related elsewhere: new calls go here.
"""

from __future__ import annotations

import ctypes
import os

try:  # find_library runs ldconfig (~20 ms): try the glibc soname first
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - non-glibc systems
    import ctypes.util  # ~7 ms of imports (shutil, subprocess, tempfile): only here

    _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

# clone flags (linux/sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "cgroup": CLONE_NEWCGROUP,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "time": CLONE_NEWTIME,
}
# names of the files under /proc/PID/ns for each OCI namespace type
NAMESPACE_PROC_NAMES = {
    "mount": "mnt",
    "cgroup": "cgroup",
    "uts": "uts",
    "ipc": "ipc",
    "user": "user",
    "pid": "pid",
    "network": "net",
    "time": "time",
}

# mount flags (linux/mount.h)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

# prctl options
PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# new mount API
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_IDMAP = 0x100000

_NR = {  # x86_64 and aarch64 share the numbers of the new syscalls
    "pidfd_open": 434,
    "open_tree": 428,
    "move_mount": 429,
    "mount_setattr": 442,
    "openat2": 437,
    "pidfd_send_signal": 424,
}
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _check(ret: int, what: str = "") -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}" if what else os.strerror(err))
    return ret


def unshare(flags: int) -> None:
    """unshare(2)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2) on an open namespace file descriptor."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def _b(s: str | bytes | None) -> bytes | None:
    if s is None:
        return None
    return s if isinstance(s, bytes) else os.fsencode(s)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2)."""
    ret = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
    _check(ret, f"mount {source or fstype} on {target}")


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    _check(_libc.pivot_root(_b(new_root), _b(put_old)), "pivot_root")


def sethostname(name: str) -> None:
    data = name.encode()
    _check(_libc.sethostname(data, ctypes.c_size_t(len(data))), "sethostname")


def setdomainname(name: str) -> None:
    data = name.encode()
    _check(_libc.setdomainname(data, ctypes.c_size_t(len(data))), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2) with integer arguments."""
    return _check(
        _libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg2),
            ctypes.c_ulong(arg3),
            ctypes.c_ulong(arg4),
            ctypes.c_ulong(arg5),
        ),
        "prctl",
    )


def syncfs(fd: int) -> None:
    """syncfs(2): flush the whole filesystem that holds ``fd``."""
    _check(_libc.syncfs(ctypes.c_int(fd)), "syncfs")


def pidfd_open(pid: int) -> int:
    """pidfd_open(2): a file descriptor that becomes readable when ``pid`` exits."""
    return _check(_syscall(_NR["pidfd_open"], ctypes.c_int(pid), ctypes.c_uint(0)), "pidfd_open")


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    _check(
        _syscall(_NR["pidfd_send_signal"], ctypes.c_int(pidfd), ctypes.c_int(sig), None, ctypes.c_uint(0)),
        "pidfd_send_signal",
    )


def open_tree(dirfd: int, path: str, flags: int) -> int:
    """open_tree(2)."""
    return _check(
        _syscall(_NR["open_tree"], ctypes.c_int(dirfd), _b(path), ctypes.c_uint(flags)), "open_tree"
    )


def move_mount(from_dirfd: int, from_path: str, to_dirfd: int, to_path: str, flags: int) -> None:
    """move_mount(2)."""
    _check(
        _syscall(
            _NR["move_mount"],
            ctypes.c_int(from_dirfd),
            _b(from_path),
            ctypes.c_int(to_dirfd),
            _b(to_path),
            ctypes.c_uint(flags),
        ),
        "move_mount",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mount_setattr(dirfd: int, path: str, flags: int, attr_set: int = 0, attr_clr: int = 0,
                  propagation: int = 0, userns_fd: int = 0) -> None:
    """mount_setattr(2), e.g. to idmap a detached mount (``MOUNT_ATTR_IDMAP`` + ``userns_fd``)."""
    attr = _MountAttr(attr_set, attr_clr, propagation, userns_fd)
    _check(
        _syscall(
            _NR["mount_setattr"],
            ctypes.c_int(dirfd),
            _b(path),
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        "mount_setattr",
    )


# capabilities --------------------------------------------------------------
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capget(pid: int = 0) -> tuple[int, int, int]:
    """Return (effective, permitted, inheritable) capability masks of ``pid`` (0: self)."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(hdr), data), "capget")
    join = lambda a, b: a | (b << 32)  # noqa: E731
    return (
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    )


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's effective, permitted and inheritable capability masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i, shift in enumerate((0, 32)):
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(hdr), data), "capset")


# --- added for rootless.overlay: the new mount API (fsopen/fsconfig/fsmount) ---------------
AT_FDCWD = -100
FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_SET_FD = 5
FSCONFIG_CMD_CREATE = 6
_NR.update({"fsopen": 430, "fsconfig": 431, "fsmount": 432})


def fsopen(fstype: str, flags: int = FSOPEN_CLOEXEC) -> int:
    """fsopen(2): a filesystem context fd (read it for the kernel's error messages)."""
    return _check(_syscall(_NR["fsopen"], _b(fstype), ctypes.c_uint(flags)), f"fsopen {fstype}")


def fsconfig(fd: int, cmd: int, key: str | None = None, value: str | None = None, aux: int = 0) -> None:
    """fsconfig(2) with a string value (or none, for flags and commands); ``aux`` is the fd for SET_FD."""
    _check(
        _syscall(_NR["fsconfig"], ctypes.c_int(fd), ctypes.c_uint(cmd), _b(key), _b(value), ctypes.c_int(aux)),
        f"fsconfig {key or cmd}",
    )


def fsmount(fd: int, flags: int = FSMOUNT_CLOEXEC, attr_flags: int = 0) -> int:
    """fsmount(2): a detached mount of a created filesystem context (attach it with move_mount)."""
    return _check(_syscall(_NR["fsmount"], ctypes.c_int(fd), ctypes.c_uint(flags), ctypes.c_uint(attr_flags)),
                  "fsmount")
