"""The monitor's network step: between the runtime's ``create`` and ``start``, connect the
container's network namespace (slirp4netns, pasta, or a user-defined network's holder) and
publish its ports; ``close()`` undoes it when the container exits.  Stdlib only.

``spec`` is the ``network`` object of the monitor config, written by the engine::

    {"mode": "slirp4netns", "options": {...}, "ports": [{"proto", "host_ip", "host_port", "container_port"}]}
    {"mode": "pasta", "args": [...], "ports": [...]}
    {"mode": "bridge", "holder_dir": DIR, "request": {...}}     # see rpod.network.holder
"""

from __future__ import annotations

import _socket
import os

from rootless import minijson
from rootless.slirp import NetworkSetupError
from rootless.sockio import recv_line

# imported by the monitor of every networked container, for the container's life: C modules
# only (no json/socket/contextlib/typing; docs/performance.md, "The monitor's memory")
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOLDER_SOCKET = "holder.sock"


class Attachment:
    """What ``attach`` set up; ``close()`` is idempotent."""

    def __init__(self) -> None:
        self.closers: list[Any] = []

    def close(self) -> None:
        while self.closers:
            try:
                self.closers.pop()()
            except Exception:  # noqa: BLE001,S110 - undo as much as possible
                pass


def attach(spec: dict[str, Any] | None, pid: int, run_dir: str) -> Attachment:
    """Set up the network of the container whose init is ``pid``.  Raises ``NetworkSetupError``."""
    att = Attachment()
    if not spec:
        return att
    mode = spec.get("mode")
    ports = list(spec.get("ports") or [])
    try:
        if mode == "slirp4netns":
            from rootless import slirp

            s = slirp.start(str(pid), run_dir, spec.get("options") or {})
            att.closers.append(s.release)  # ports freed at once; the monitor reaps slirp4netns
            for p in ports:
                s.add_hostfwd(p.get("proto", "tcp"), p.get("host_ip") or "", int(p["host_port"]),
                              int(p["container_port"]))
        elif mode == "pasta":
            from rootless import pasta

            pa = pasta.start(pid, run_dir, list(spec.get("args") or []), ports)
            att.closers.append(pa.close)
        elif mode == "bridge":
            request = {**(spec.get("request") or {}), "op": "attach", "pid": pid, "monitor": os.getpid()}
            holder_call(spec["holder_dir"], request)
            detach = {"op": "detach", "container": request.get("container")}
            att.closers.append(lambda: holder_call(spec["holder_dir"], detach, timeout=5))
        else:
            raise NetworkSetupError(f"unknown network mode {mode!r}")
    except BaseException:
        att.close()
        raise
    return att


def holder_call(holder_dir: str, request: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
    """One JSON request/answer with a network holder over its socket in ``holder_dir``."""
    dfd = os.open(holder_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            s.settimeout(timeout)
            s.connect(f"/proc/self/fd/{dfd}/{HOLDER_SOCKET}")
            s.sendall(minijson.dumps(request).encode() + b"\n")
            data = recv_line(s)
        finally:
            s.close()
    except OSError as e:
        raise NetworkSetupError(f"the network holder did not answer: {e.strerror or e}",
                                hint="the network's holder process is gone; start the container again") from e
    finally:
        os.close(dfd)
    try:
        reply = minijson.loads(data or b"{}")
    except ValueError as e:
        raise NetworkSetupError(f"the network holder answered {data[:200]!r}") from e
    if reply.get("error"):
        raise NetworkSetupError(f"network: {reply['error']}", hint=reply.get("hint"))
    return reply
