"""pasta driver (Debian's ``passt`` package): user-mode networking that copies the host's addresses.

``pasta --config-net --netns /proc/PID/ns/net --userns /proc/PID/ns/user -t ... -u ...``
configures the container's namespace and daemonizes once it is ready (so the call returning
means ready); its pid goes to ``run_dir/pasta.pid`` and ``close()`` stops it.  Stdlib only.
"""

from __future__ import annotations

import os
import select
import time

from rootless.procspawn import spawn, which
from rootless.slirp import NetworkSetupError, check_tun

# imported by the monitor for the container's life: no subprocess/shutil/signal/dataclasses/typing
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SIGTERM = 15
TIMEOUT = 30.0

PID_FILE = "pasta.pid"


def port_args(ports: list[dict[str, Any]]) -> list[str]:
    """``-t``/``-u`` specs for published ports (``[ADDR/]HOST:CTR``), ``none`` when there are none."""
    out: dict[str, list[str]] = {"tcp": [], "udp": []}
    for p in ports:
        addr = f"{p['host_ip']}/" if p.get("host_ip") else ""
        out[p.get("proto", "tcp")].append(f"{addr}{p['host_port']}:{p['container_port']}")
    argv: list[str] = []
    for proto, flag in (("tcp", "-t"), ("udp", "-u")):
        for spec in out[proto] or ["none"]:
            argv += [flag, spec]
    return argv


class Pasta:
    """The daemonized pasta of one container; ``close()`` stops it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def close(self) -> None:
        if self.pid > 0:
            try:
                os.kill(self.pid, SIGTERM)
            except OSError:
                pass
            self.pid = 0


def _run(argv: list[str], timeout: float) -> tuple[int, bytes]:
    """Run ``argv`` to its end: (exit code, stdout and stderr); output until every holder of
    the pipe closed it, as ``subprocess.run(..., stdout=PIPE)``."""
    r, w = os.pipe()
    try:
        child = spawn(argv, w, w)
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    out, end = [], time.monotonic() + timeout
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                child.kill()
                child.wait()
                raise NetworkSetupError(f"pasta failed: it did not finish within {timeout:.0f} seconds")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            out.append(chunk)
    finally:
        os.close(r)
    return child.wait(), b"".join(out)


def start(pid: int, run_dir: str, extra: list[str], ports: list[dict[str, Any]]) -> Pasta:
    """Run pasta for the container init ``pid``; returns once the namespace is configured."""
    check_tun()
    exe = which("pasta")
    if not exe:
        raise NetworkSetupError("pasta is not installed", hint="apt-get install passt, or use --network slirp4netns")
    pid_file = os.path.join(run_dir, PID_FILE)
    argv = [exe, "--config-net", "--quiet", "--no-map-gw", "--pid", pid_file, *port_args(ports), *extra,
            "--netns", f"/proc/{pid}/ns/net", "--userns", f"/proc/{pid}/ns/user"]
    try:
        code, output = _run(argv, TIMEOUT)
    except OSError as e:
        raise NetworkSetupError(f"cannot run pasta: {e.strerror}") from e
    if code != 0:
        raise NetworkSetupError(f"pasta failed: {output.decode(errors='replace').strip()[-600:]}",
                                hint="is a published port already in use on the host?")
    try:
        with open(pid_file) as f:
            return Pasta(int(f.read().strip()))
    except (OSError, ValueError):
        return Pasta(0)
