"""A default rootless ``config.json``, like ``crun spec --rootless`` (the ``spec`` verb and the tests use it)."""

from __future__ import annotations

import os
from typing import Any

from rootless.subid import default_mapping

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def rootless_spec(args: list[str] | None = None, *, rootfs: str = "rootfs", terminal: bool = False,
                  full_map: bool = True) -> dict[str, Any]:
    """A rootless OCI config; ``full_map`` maps the subordinate ids (newuidmap) as Podman does,
    otherwise only the user's own uid/gid is mapped to root, like ``crun spec --rootless``."""
    if full_map:
        mapping = default_mapping()
        uid_map, gid_map = mapping.uid_map_oci(), mapping.gid_map_oci()
    else:
        uid_map = [{"containerID": 0, "hostID": os.getuid(), "size": 1}]
        gid_map = [{"containerID": 0, "hostID": os.getgid(), "size": 1}]
    caps = list(DEFAULT_CAPS)
    return {
        "ociVersion": "1.0.0",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args or ["sh"]),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "inheritable": [], "permitted": caps,
                             "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "rpod",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "uidMappings": uid_map,
            "gidMappings": gid_map,
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "user", "mount", "cgroup")],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
