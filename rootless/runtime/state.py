"""Runtime state on disk: ``STATE_ROOT/<id>/state.json`` (+ ``exec.fifo`` and a copy of the config).

The status is never stored: it is computed from the init pid, its start time (field 22 of
``/proc/PID/stat``, so a reused pid is not mistaken for the container) and the exec fifo
(present until ``start`` consumed it).
"""

from __future__ import annotations

import json
import os
import re

from rootless.atomicfile import write_atomic
from rootless.procinfo import proc_start_time  # noqa: F401 - part of this module's API
from rootless.runtime.errors import ContainerError, NoSuchContainer

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.0.2"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}$")


def default_root() -> str:
    """``$XDG_RUNTIME_DIR/rpod-runtime``, or ``/tmp/rpod-runtime-$UID``."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return os.path.join(xdg, "rpod-runtime")
    return f"/tmp/rpod-runtime-{os.getuid()}"


def check_id(container_id: str) -> None:
    if not ID_RE.match(container_id):
        raise ContainerError(
            f"invalid container id {container_id!r}",
            hint="use letters, digits and . _ + - (at most 255 characters), not starting with a symbol",
        )


def container_dir(state_root: str, container_id: str) -> str:
    check_id(container_id)
    return os.path.join(state_root, container_id)


def fifo_path(state_root: str, container_id: str) -> str:
    return os.path.join(container_dir(state_root, container_id), "exec.fifo")


class ContainerState:
    """What the runtime remembers about one container (``state.json`` holds its ``__dict__``)."""

    def __init__(self, id: str, bundle: str, pid: int = 0, start_time: int = 0,  # noqa: A002 - the OCI name
                 created: str = "", annotations: dict[str, str] | None = None, own_pidns: bool = True):
        self.id = id
        self.bundle = bundle
        self.pid = pid
        self.start_time = start_time
        self.created = created
        self.annotations = annotations if annotations is not None else {}
        self.own_pidns = own_pidns

    def alive(self) -> bool:
        return self.pid > 0 and proc_start_time(self.pid) == self.start_time

    def status(self, state_root: str) -> str:
        if not self.alive():
            return "stopped"
        return "created" if os.path.exists(fifo_path(state_root, self.id)) else "running"

    def oci(self, state_root: str) -> dict[str, Any]:
        """The OCI state JSON (runtime.md)."""
        status = self.status(state_root)
        out: dict[str, Any] = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "status": status,
            "pid": self.pid if status != "stopped" else 0,
            "bundle": self.bundle,
            "rootfs": "",
            "created": self.created,
            "owner": "",
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out


def save(state_root: str, st: ContainerState) -> None:
    write_atomic(os.path.join(container_dir(state_root, st.id), "state.json"), json.dumps(dict(vars(st))).encode())


def save_config(state_root: str, container_id: str, config: dict) -> None:
    write_atomic(os.path.join(container_dir(state_root, container_id), "config.json"), json.dumps(config).encode())


def load(state_root: str, container_id: str) -> ContainerState:
    """The saved state; raises ``NoSuchContainer``."""
    path = os.path.join(container_dir(state_root, container_id), "state.json")
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise NoSuchContainer(f"container {container_id!r} does not exist (no {path})") from None
    except (OSError, ValueError) as e:
        raise ContainerError(f"cannot read the state of container {container_id!r}: {e}") from e
    return ContainerState(**data)


def load_config(state_root: str, container_id: str) -> dict:
    try:
        with open(os.path.join(container_dir(state_root, container_id), "config.json"), "rb") as f:
            return json.load(f)
    except OSError:
        return {}


def list_ids(state_root: str) -> list[str]:
    try:
        names = os.listdir(state_root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if os.path.exists(os.path.join(state_root, n, "state.json")))
