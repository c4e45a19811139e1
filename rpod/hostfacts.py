"""Facts about the host that creating and running containers depends on: the cgroup version
(whether resource limits can be enforced) and the overlay driver (probed once, cached).
Below the domain packages: ``rpod.container`` and ``rpod info`` (``rpod.sysinfo``) both read them."""

from __future__ import annotations

import os

from rpod.paths import Paths


def host_arch() -> str:
    """This machine's architecture as OCI images name it (``amd64``, ``arm64``...)."""
    m = os.uname().machine  # what platform.machine() returns, without importing platform
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


def cgroup_version() -> str:
    """``v2`` on a pure cgroup2 host, ``v1`` otherwise (hybrid layouts count as v1, as Podman does)."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[1] == "/sys/fs/cgroup":
                    return "v2" if parts[2] == "cgroup2" else "v1"
    except OSError:
        pass
    return "v1"


def resource_limits_note() -> str | None:
    """Why resource limits are not enforced here, or None when they could be."""
    if cgroup_version() != "v2":
        return "Resource limits are not supported and ignored on cgroups V1 rootless systems"
    return ("resource limits need a cgroup v2 subtree delegated to this user (systemd --user with Delegate=yes); "
            "none is delegated here, so limits are not enforced")


LIMITS_FIX = "use a host with cgroup v2 and systemd user delegation (Delegate=yes) to enforce them"


def overlay_driver(paths: Paths) -> tuple[str, str]:
    """The overlay driver in use (``kernel`` or ``fuse``), probed once and cached; and the error if none."""
    cache = paths.cache / "overlay-driver"
    forced = os.environ.get("RPOD_OVERLAY_DRIVER")
    if forced in ("kernel", "fuse"):
        return forced, ""
    try:
        return cache.read_text().strip(), ""
    except OSError:
        pass
    from rootless.errors import RootlessError
    from rootless.overlay import probe_driver
    from rootless.subid import default_mapping

    paths.ensure()
    scratch = paths.tmp
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        driver = probe_driver(str(scratch), default_mapping())
    except RootlessError as e:
        return "", str(e)
    paths.cache.mkdir(parents=True, exist_ok=True)
    from rpod.storefile import atomic_write

    atomic_write(cache, driver.encode() + b"\n", 0o644)
    return driver, ""
