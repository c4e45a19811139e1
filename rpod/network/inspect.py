"""``inspect``'s network fields from a container's ``network.json`` (Podman's layout)."""

from __future__ import annotations

import json
from pathlib import Path

from rootless import ctrfiles
from rpod.network.plan import load
from rpod.network.ports import inspect_ports

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def container_network(cdir: Path, rec: Any) -> dict[str, Any]:
    """``{"mode", "ports", "settings"}``: the NetworkMode string, the port map and ``.NetworkSettings``."""
    p = load(cdir)
    ports = inspect_ports(rec.ports)
    settings: dict[str, Any] = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                                "MacAddress": "", "Bridge": "", "SandboxID": "", "HairpinMode": False,
                                "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": ports,
                                "SandboxKey": "", "Networks": {}}
    if p is None:
        return {"mode": rec.options.network or "none", "ports": ports, "settings": settings}
    mode = {"container": f"container:{p.container}", "ns": f"ns:{p.ns_path}"}.get(p.mode, p.mode)
    if p.mode == "bridge":
        mode = "bridge"
        try:
            attached = json.loads((cdir / ctrfiles.NETWORK_ATTACHED).read_text())
        except (OSError, ValueError):
            attached = {}
        for name, net in p.networks.items():
            a = attached.get(name) or {}
            settings["Networks"][name] = {
                "EndpointID": "", "Gateway": a.get("gateway", ""), "IPAddress": a.get("ip", ""),
                "IPPrefixLen": a.get("prefix", 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "MacAddress": a.get("mac", ""), "NetworkID": name,
                "DriverOpts": None, "IPAMConfig": None, "Links": None,
                "Aliases": [rec.id[:12], *net.get("aliases", [])]}
    else:  # Podman has no Networks key outside bridge networks
        settings.pop("Networks")
    return {"mode": mode, "ports": ports, "settings": settings}
