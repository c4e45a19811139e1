"""pasta driver (Debian's ``passt`` package): user-mode networking that copies the host's addresses.

``pasta --config-net --netns /proc/PID/ns/net --userns /proc/PID/ns/user -t ... -u ...``
configures the container's namespace and daemonizes once it is ready (so the call returning
means ready); its pid goes to ``run_dir/pasta.pid`` and ``close()`` stops it.  Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

from rootless.slirp import NetworkSetupError, check_tun

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


@dataclass
class Pasta:
    pid: int

    def close(self) -> None:
        if self.pid > 0:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)
            self.pid = 0


def start(pid: int, run_dir: str, extra: list[str], ports: list[dict[str, Any]]) -> Pasta:
    """Run pasta for the container init ``pid``; returns once the namespace is configured."""
    check_tun()
    exe = shutil.which("pasta")
    if not exe:
        raise NetworkSetupError("pasta is not installed", hint="apt-get install passt, or use --network slirp4netns")
    pid_file = os.path.join(run_dir, PID_FILE)
    argv = [exe, "--config-net", "--quiet", "--no-map-gw", "--pid", pid_file, *port_args(ports), *extra,
            "--netns", f"/proc/{pid}/ns/net", "--userns", f"/proc/{pid}/ns/user"]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          check=False, cwd="/", timeout=30)
    if proc.returncode != 0:
        raise NetworkSetupError(f"pasta failed: {proc.stdout.decode(errors='replace').strip()[-600:]}",
                                hint="is a published port already in use on the host?")
    try:
        with open(pid_file) as f:
            return Pasta(int(f.read().strip()))
    except (OSError, ValueError):
        return Pasta(0)
