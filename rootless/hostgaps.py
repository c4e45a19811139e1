"""The gaps between this host and a stock systemd/udev Debian that break rootless containers.

Each check returns a ``Gap`` (what is wrong, and the exact command that fixes it) or None.
Checks are cheap (stat, access, reading a /proc or /sys file; never a subprocess), so the
``run`` path can call the ones it needs before doing any work; ``explain`` turns the text of
a failure that happened anyway into the gap behind it.  Stdlib only: the kernel side
(``python -I -S``) and the engine both use it.
"""

from __future__ import annotations

import os
import stat

TUN = "/dev/net/tun"
FUSE = "/dev/fuse"
CGROUP_UNIFIED = "/sys/fs/cgroup/unified"

# binary -> the Debian package that ships it
PACKAGES = {
    "slirp4netns": "slirp4netns",
    "pasta": "passt",
    "fuse-overlayfs": "fuse-overlayfs",
    "catatonit": "catatonit",
    "newuidmap": "uidmap",
    "newgidmap": "uidmap",
    "crun": "crun",
    "runc": "runc",
}
DEVICE_USERS = {TUN: "slirp4netns and pasta need it for the container's tap device",
                FUSE: "fuse-overlayfs needs it"}
DEVICE_NUMBERS = {TUN: "c 10 200", FUSE: "c 10 229"}
USERNS_SYSCTLS = {  # file -> (sysctl name, the value that disables, the fix's value)
    "/proc/sys/kernel/unprivileged_userns_clone": ("kernel.unprivileged_userns_clone", "0", "1"),
    "/proc/sys/user/max_user_namespaces": ("user.max_user_namespaces", "0", "28633"),
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": (
        "kernel.apparmor_restrict_unprivileged_userns", "1", "0"),
}


class Gap:
    """One thing this host lacks: ``what`` failed or will fail, ``fix`` is the command to run.
    (A plain class, not a dataclass: every CLI error is explained through this module.)"""

    __slots__ = ("what", "fix")

    def __init__(self, what: str, fix: str) -> None:
        self.what = what
        self.fix = fix

    def __eq__(self, other: object) -> bool:
        return type(other) is Gap and (self.what, self.fix) == (other.what, other.fix)

    def __hash__(self) -> int:
        return hash((self.what, self.fix))

    def __repr__(self) -> str:
        return f"Gap(what={self.what!r}, fix={self.fix!r})"

    def __str__(self) -> str:
        return f"{self.what}; fix: {self.fix}"


def device_gap(path: str) -> Gap | None:
    """``/dev/net/tun`` or ``/dev/fuse`` that this user cannot open read-write (udev makes them 0666)."""
    uses = DEVICE_USERS.get(path, "rootless containers need it")
    try:
        st = os.stat(path)
    except OSError:
        return Gap(f"{path} does not exist ({uses})",
                   f"as root: modprobe {'tun' if path == TUN else 'fuse'}, or "
                   f"mknod -m 0666 {path} {DEVICE_NUMBERS.get(path, '')}".rstrip())
    if os.access(path, os.R_OK | os.W_OK):
        return None
    return Gap(f"{path} is mode {stat.S_IMODE(st.st_mode):04o}, not usable by this user ({uses})",
               f"as root: chmod 0666 {path} (the mode udev gives it on a normal system)")


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def userns_gap() -> Gap | None:
    """A sysctl that forbids unprivileged user namespaces, or None."""
    for path, (name, bad, good) in USERNS_SYSCTLS.items():
        if _read(path) == bad:
            return Gap(f"unprivileged user namespaces are disabled on this host ({name}={bad})",
                       f"as root: sysctl -w {name}={good} (and put '{name}={good}' in /etc/sysctl.d/userns.conf)")
    return None


def userns_failure(err: int) -> Gap:
    """Why ``unshare(CLONE_NEWUSER)`` failed with ``err`` (reads the sysctls once it has failed)."""
    gap = userns_gap()
    if gap:
        return gap
    import errno as errno_

    if err == errno_.ENOSPC:
        return Gap("cannot create a user namespace: the per-user limit is reached (user.max_user_namespaces)",
                   "as root: sysctl -w user.max_user_namespaces=28633")
    return Gap(f"cannot create a user namespace: {os.strerror(err)} (is rpod itself running in a "
               "container or under a seccomp filter that forbids unshare?)",
               "run rpod on the host, or allow unshare(CLONE_NEWUSER) in the outer sandbox")


def idmap_helper_gap(name: str) -> Gap | None:
    """``newuidmap``/``newgidmap`` missing, or neither setuid root nor carrying file capabilities."""
    import shutil

    path = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
    if not path:
        return Gap(f"{name} is not installed: it maps the subordinate id range into the user namespace",
                   "as root: apt-get install uidmap")
    try:
        st = os.stat(path)
    except OSError as e:
        return Gap(f"{path}: {e.strerror}", "as root: apt-get install --reinstall uidmap")
    if st.st_uid == 0 and st.st_mode & stat.S_ISUID:
        return None
    try:
        if os.getxattr(path, "security.capability"):
            return None
    except OSError:
        pass
    return Gap(f"{path} is neither setuid root nor has file capabilities (mode {stat.S_IMODE(st.st_mode):04o}), "
               "so it cannot write the id maps",
               f"as root: apt-get install --reinstall uidmap (or chmod u+s {path})")


def binary_gap(name: str, needed_for: str) -> Gap | None:
    """A helper binary missing from PATH, with the Debian package that ships it."""
    import shutil

    if shutil.which(name):
        return None
    return Gap(f"{name} is not installed: {needed_for} needs it",
               f"as root: apt-get install {PACKAGES.get(name, name)}")


def cgroup_hybrid_controllers() -> list[str]:
    """The controllers cgroup2 holds in a hybrid (v1 + ``/sys/fs/cgroup/unified``) layout."""
    text = _read(os.path.join(CGROUP_UNIFIED, "cgroup.controllers"))
    return text.split() if text else []


def crun_cgroup_gap() -> Gap | None:
    """crun (1.8.1) refuses a hybrid cgroup layout whose cgroup2 holds any controller."""
    held = cgroup_hybrid_controllers()
    if not held:
        return None
    mounts = " && ".join(f"mkdir -p /sys/fs/cgroup/{c} && mount -t cgroup -o {c} none /sys/fs/cgroup/{c}"
                         for c in held)
    return Gap(f"crun refuses this hybrid cgroup layout: cgroup2 ({CGROUP_UNIFIED}) holds the "
               f"{', '.join(held)} controller{'s' if len(held) > 1 else ''}, which systemd would have moved "
               "to a v1 hierarchy",
               f"as root: {mounts} (if /sys/fs/cgroup is read-only, first: mount -o remount,rw /sys/fs/cgroup); "
               "or run without --runtime (rpod's own runtime does not mind)")


def explain(message: str) -> Gap | None:
    """The host gap behind a failure's text (from the runtime, the monitor or a helper), or None."""
    low = message.lower()
    if "hybrid mode not supported" in low or "unified/cgroup.controllers" in low:
        return crun_cgroup_gap() or Gap(message, "as root: mount a v1 hierarchy for every controller listed in "
                                                  f"{CGROUP_UNIFIED}/cgroup.controllers")
    for dev in (TUN, FUSE):
        if dev in message:
            gap = device_gap(dev)
            if gap:
                return gap
    for helper in ("newuidmap", "newgidmap"):
        if helper in message:
            gap = idmap_helper_gap(helper)
            if gap:
                return gap
    if "unshare" in low or "user namespace" in low:
        gap = userns_gap()
        if gap:
            return gap
    return None


def host_gaps(*, fuse_driver: bool, id_range: bool) -> list[Gap]:
    """Every gap that applies to this user now (for ``rpod info``'s warnings); ``id_range``: the
    user has a subordinate id range (which needs newuidmap/newgidmap)."""
    gaps = [userns_gap()]
    if id_range:
        gaps += [idmap_helper_gap("newuidmap"), idmap_helper_gap("newgidmap")]
    gaps.append(device_gap(TUN))
    gaps.append(binary_gap("slirp4netns", "the default network (--network slirp4netns)"))
    gaps.append(binary_gap("catatonit", "--init"))
    if fuse_driver:
        gaps.append(device_gap(FUSE))
        gaps.append(binary_gap("fuse-overlayfs", "the overlay driver on this kernel"))
    import shutil

    if shutil.which("crun"):
        gaps.append(crun_cgroup_gap())
    return [g for g in gaps if g]
