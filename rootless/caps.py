"""Linux capabilities: names <-> bits, and applying the five OCI capability sets to this process."""

from __future__ import annotations

from collections.abc import Iterable

from rootless import syscalls

CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
CAP_BITS = {name: i for i, name in enumerate(CAP_NAMES)}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def last_cap() -> int:
    """Highest capability number the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return len(CAP_NAMES) - 1


def to_mask(names: Iterable[str], *, strict: bool = False) -> int:
    """Bit mask of capability ``names`` (``CAP_`` prefix optional, any case).

    Names the kernel does not know are ignored (runc and crun do the same) unless ``strict``.
    """
    mask = 0
    top = last_cap()
    for raw in names:
        name = raw.upper()
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        bit = CAP_BITS.get(name)
        if bit is None or bit > top:
            if strict:
                raise ValueError(f"unknown capability {raw!r}")
            continue
        mask |= 1 << bit
    return mask


def to_names(mask: int) -> list[str]:
    """Capability names set in ``mask``."""
    return [name for i, name in enumerate(CAP_NAMES) if mask >> i & 1]


def masks_from_oci(caps: dict | None) -> dict[str, int]:
    """The five sets of an OCI ``process.capabilities`` object as masks (missing sets are empty)."""
    caps = caps or {}
    return {s: to_mask(caps.get(s) or []) for s in SETS}


def drop_bounding(keep: int) -> None:
    """Drop every capability not in ``keep`` from the bounding set (needs CAP_SETPCAP)."""
    for bit in range(last_cap() + 1):
        if not keep >> bit & 1:
            try:
                syscalls.prctl(syscalls.PR_CAPBSET_DROP, bit)
            except OSError as e:
                if e.errno != 22:  # EINVAL: unknown to this kernel
                    raise


def apply(masks: dict[str, int]) -> None:
    """Set effective/permitted/inheritable, then raise the ambient set.

    Call after the bounding set was dropped and after the uid switch (with keep-caps on).
    """
    syscalls.capset(masks["effective"], masks["permitted"], masks["inheritable"])
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    for bit in range(last_cap() + 1):
        # the kernel refuses ambient caps that are not permitted and inheritable: skip those
        if (masks["ambient"] & masks["permitted"] & masks["inheritable"]) >> bit & 1:
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, bit)
