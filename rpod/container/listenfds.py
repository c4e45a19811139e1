"""File descriptors the caller passes into a container: ``--preserve-fds N`` and systemd socket
activation (``LISTEN_FDS``), as Podman does (libpod's ``oci_conmon_common.go``: LISTEN_FDS counts
the fds unless ``--preserve-fds`` is given; ``container_internal_common.go``: the LISTEN_*
variables go into the container's environment at each start, ``LISTEN_PID`` as 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

LISTEN_KEYS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def check_passed(preserve_fds: int) -> None:
    """``--preserve-fds N``: fds 3 .. N+2 must be open in this process (Podman's check)."""
    from rpod.errors import RpodError

    for fd in range(3, 3 + preserve_fds):
        try:
            os.fstat(fd)
        except OSError:
            raise RpodError(f"file descriptor {fd} is not available - the preserve-fds option requires "
                            "that file descriptors must be passed") from None


def fds_to_preserve(preserve_fds: int) -> int:
    """How many of this process's fds (from 3) the container gets: ``--preserve-fds``, else
    ``LISTEN_FDS``."""
    value = os.environ.get("LISTEN_FDS")
    if not value:
        return preserve_fds
    if preserve_fds > 0:
        from rpod.log import warn

        warn("Ignoring LISTEN_FDS to preserve custom user-specified FDs")
        return preserve_fds
    try:
        return max(0, int(value))
    except ValueError:
        from rpod.errors import RpodError

        raise RpodError(f'converting LISTEN_FDS={value}: strconv.Atoi: parsing "{value}": invalid syntax') from None


def apply_listen_env(spec_path: Path, spec: dict, user_env: list[str]) -> None:
    """Give the bundle's process (``spec``, read from ``spec_path``) this start's LISTEN_*
    variables and drop an earlier start's, unless the user set them with ``--env``.  The file is
    rewritten only when they change."""
    process = spec.get("process") or {}
    env = list(process.get("env") or [])
    if not any(k in os.environ for k in LISTEN_KEYS) and not any(e.startswith("LISTEN_") for e in env):
        return
    ours = {key: ("1" if key == "LISTEN_PID" else os.environ[key]) for key in LISTEN_KEYS if key in os.environ}
    user_keys = {e.partition("=")[0] for e in user_env}
    kept = [e for e in env if e.partition("=")[0] not in LISTEN_KEYS or e.partition("=")[0] in user_keys]
    new = kept + [f"{k}={v}" for k, v in ours.items() if k not in user_keys]
    if new == env:
        return
    spec.setdefault("process", {})["env"] = new
    tmp = spec_path.with_name(spec_path.name + ".tmp")
    tmp.write_text(json.dumps(spec))
    os.replace(tmp, spec_path)
