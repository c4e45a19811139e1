"""The engine's side of the host checks (``rootless.hostgaps``): errors before work, and the gap
behind a failure that happened anyway.

- ``check_runtime`` runs on the ``run``/``create`` path: stat and small /sys reads only.
- ``explain`` is called at the CLI edge on every error: when the error's text points at a host
  gap that is really there (the probe runs only now, after the failure), the user gets the gap
  and its exact fix instead of the raw runtime message, and exit code 125.
"""

from __future__ import annotations

import os

from rootless import hostgaps
from rpod.errors import EXIT_ENGINE, HostSetupError


def _raise(gap: hostgaps.Gap) -> None:
    raise HostSetupError(gap.what, hint=gap.fix)


def check_runtime(runtime: str | None) -> None:
    """``--runtime crun``: crun refuses some cgroup layouts rpod's own runtime runs on."""
    if not runtime:
        return
    name = os.path.basename(runtime.split()[0])
    if name in hostgaps.PACKAGES and "/" not in runtime:
        gap = hostgaps.binary_gap(name, f"--runtime {name}")
        if gap:
            _raise(gap)
    if name == "crun":
        gap = hostgaps.crun_cgroup_gap()
        if gap:
            _raise(gap)


def check_fuse_driver(driver: str) -> None:
    """The fuse-overlayfs driver needs ``/dev/fuse`` read-write and the binary."""
    if driver == "fuse":
        gap = hostgaps.device_gap(hostgaps.FUSE) or hostgaps.binary_gap("fuse-overlayfs", "the fuse overlay driver")
        if gap:
            _raise(gap)


def explain(message: str, hint: str | None, exit_code: int) -> tuple[str, str | None, int]:
    """``(message, hint, exit code)`` to print for an error: the host gap behind it when there is one."""
    gap = hostgaps.explain(message)
    if gap is None:
        return message, hint, exit_code
    command = gap.fix.split(" (")[0].split(";")[0]
    if hint and command in hint:  # the error already names this fix
        return message, hint, EXIT_ENGINE
    what = gap.what if gap.what in message else f"{gap.what}: {message}"
    return what, gap.fix, EXIT_ENGINE


def info_warnings(*, id_range: bool, overlay_driver: str) -> list[str]:
    """Every host gap that applies now, as ``rpod info`` warnings (``what; fix: command``)."""
    gaps = hostgaps.host_gaps(fuse_driver=overlay_driver == "fuse", id_range=id_range)
    return [str(g) for g in gaps]
