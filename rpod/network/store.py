"""User-defined networks: one JSON file per network under ``<data root>/networks/`` (Podman's
``podman network inspect`` document, netavark style), plus Podman's built-in ``podman`` network.

Subnets come from Podman's rootless pool, ``10.89.N.0/24`` (``N`` = the first free one), the
gateway is ``.1``, interface names ``podman1``, ``podman2``...  Nothing here runs a process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpod.errors import RpodError, StateConflict, UsageError

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
DEFAULT_NAME = "podman"
DEFAULT_ID = hashlib.sha256(DEFAULT_NAME.encode()).hexdigest()  # Podman: a network's id is sha256(name)
POOL = ipaddress.ip_network("10.89.0.0/16")


class NoSuchNetwork(RpodError):
    """No network by that name or id."""

    def __init__(self, message: str, hint: str | None = None, ref: str = ""):
        super().__init__(message, hint)
        self.ref = ref


@dataclass
class NetworkRecord:
    name: str
    id: str
    driver: str = "bridge"
    network_interface: str = ""
    created: str = ""
    subnets: list[dict[str, str]] = field(default_factory=list)  # [{"subnet", "gateway"}]
    ipv6_enabled: bool = False
    internal: bool = False
    dns_enabled: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] = field(default_factory=lambda: {"driver": "host-local"})

    @property
    def gateway(self) -> str:
        return self.subnets[0]["gateway"] if self.subnets else ""

    @property
    def subnet(self) -> str:
        return self.subnets[0]["subnet"] if self.subnets else ""

    def to_json(self) -> dict[str, Any]:
        """Podman's key order; ``labels``/``options`` only when set (as Podman omits empty ones)."""
        d: dict[str, Any] = {"name": self.name, "id": self.id, "driver": self.driver,
                             "network_interface": self.network_interface, "created": self.created,
                             "subnets": self.subnets, "ipv6_enabled": self.ipv6_enabled, "internal": self.internal,
                             "dns_enabled": self.dns_enabled}
        if self.labels:
            d["labels"] = self.labels
        if self.options:
            d["options"] = self.options
        d["ipam_options"] = self.ipam_options
        return d

    def template_view(self) -> dict[str, Any]:
        """The Go struct field names ``--format`` templates use (``{{.Name}}``, ``{{.Subnets}}``...)."""
        return {"Name": self.name, "ID": self.id, "Driver": self.driver, "NetworkInterface": self.network_interface,
                "Created": self.created, "Subnets": [{"Subnet": s["subnet"], "Gateway": s["gateway"]}
                                                     for s in self.subnets],
                "IPv6Enabled": self.ipv6_enabled, "Internal": self.internal, "DNSEnabled": self.dns_enabled,
                "Labels": self.labels, "Options": self.options, "IPAMOptions": self.ipam_options}

    def holder_view(self) -> dict[str, Any]:
        """What the network holder needs to build the bridge."""
        net = ipaddress.ip_network(self.subnet)
        return {"name": self.name, "iface": self.network_interface, "subnet": self.subnet,
                "gateway": self.gateway, "prefix": net.prefixlen, "internal": self.internal,
                "dns": self.dns_enabled}


def default_network() -> NetworkRecord:
    """Podman's built-in ``podman`` network (10.88.0.0/16 on podman0)."""
    return NetworkRecord(name=DEFAULT_NAME, id=DEFAULT_ID, network_interface="podman0",
                         created="2026-01-01T00:00:00.000000000Z",
                         subnets=[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}], dns_enabled=False)


class NetworkStore:
    """The user's networks (``paths.root/networks``)."""

    def __init__(self, paths: Any):
        self.dir = Path(paths.root) / "networks"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.dir / ".lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def _path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def list(self) -> list[NetworkRecord]:
        out = [default_network()]  # sorted by name below, as Podman lists them
        if self.dir.is_dir():
            for p in sorted(self.dir.glob("*.json")):
                with contextlib.suppress(OSError, ValueError, TypeError):
                    data = json.loads(p.read_text())
                    known = set(NetworkRecord.__dataclass_fields__)
                    out.append(NetworkRecord(**{k: v for k, v in data.items() if k in known}))
        return sorted(out, key=lambda n: n.name)

    def get(self, ref: str) -> NetworkRecord:
        """By name, full id or unique id prefix; raises ``NoSuchNetwork``."""
        nets = self.list()
        for n in nets:
            if n.name == ref or n.id == ref:
                return n
        matches = [n for n in nets if len(ref) >= 3 and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NoSuchNetwork(f"unable to find network with name or ID {ref}: network not found",
                            hint="list networks with `rpod network ls`, create one with `rpod network create NAME`",
                            ref=ref)

    def create(self, name: str | None, *, subnet: str | None = None, gateway: str | None = None,
               internal: bool = False, labels: dict[str, str] | None = None, driver: str = "bridge",
               disable_dns: bool = False, options: dict[str, str] | None = None,
               ignore: bool = False) -> NetworkRecord:
        from rootless.monitor.exitfile import iso_now  # the timestamps rpod and the monitor write

        if driver != "bridge":
            raise UsageError(f"unsupported driver {driver}: rootless rpod networks are bridges")
        with self.locked():
            nets = self.list()
            if name is None:
                used = {n.name for n in nets}
                name = next(f"podman{i}" for i in range(1, 10000) if f"podman{i}" not in used)
            if not NAME_RE.fullmatch(name):
                raise UsageError(f"network name {name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
            for n in nets:
                if n.name == name:
                    if ignore:
                        return n
                    raise StateConflict(f"network name {name} already used: network already exists")
            net = self._pick_subnet(nets, subnet)
            gw = gateway or str(next(net.hosts()))
            if ipaddress.ip_address(gw) not in net:
                raise UsageError(f"gateway {gw} is not in subnet {net}")
            ifaces = {n.network_interface for n in nets}
            iface = next(f"podman{i}" for i in range(1, 10000) if f"podman{i}" not in ifaces)
            rec = NetworkRecord(name=name, id=hashlib.sha256(name.encode()).hexdigest(),  # Podman's id
                                network_interface=iface, created=iso_now(),
                                subnets=[{"subnet": str(net), "gateway": gw}], internal=internal,
                                dns_enabled=not disable_dns, labels=dict(labels or {}), options=dict(options or {}))
            tmp = self._path(name).with_suffix(".tmp")
            tmp.write_text(json.dumps(rec.to_json(), indent=1))
            os.replace(tmp, self._path(name))
            return rec

    @staticmethod
    def _pick_subnet(nets: list[NetworkRecord], subnet: str | None) -> ipaddress.IPv4Network:
        taken = [ipaddress.ip_network(n.subnet) for n in nets if n.subnet] + host_routes()
        if subnet:
            try:
                net = ipaddress.ip_network(subnet, strict=False)
            except ValueError:
                raise UsageError(f"invalid subnet {subnet!r}") from None
            if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen > 30:
                raise UsageError(f"subnet {subnet} must be an IPv4 network of /30 or larger")
            for t in taken:
                if net.overlaps(t):
                    raise StateConflict(f"subnet {net} is already used on the host or by another config")
            return net
        for cand in POOL.subnets(new_prefix=24):
            if not any(cand.overlaps(t) for t in taken):
                return cand
        raise RpodError("no free subnet left in 10.89.0.0/16", hint="remove networks or give --subnet")

    def remove(self, rec: NetworkRecord) -> None:
        if rec.name == DEFAULT_NAME:
            raise StateConflict(f"default network {DEFAULT_NAME} cannot be removed")
        with self.locked(), contextlib.suppress(FileNotFoundError):
            self._path(rec.name).unlink()


def host_routes(path: str = "/proc/net/route") -> list[ipaddress.IPv4Network]:
    """The host's IPv4 routes (not the default one): a network there would shadow them for the
    containers (their traffic to those addresses would stay on the bridge), as Podman checks."""
    import socket
    import struct

    out = []
    try:
        with open(path) as f:
            next(f, None)
            for line in f:
                cols = line.split()
                if len(cols) < 8:
                    continue
                dest = socket.inet_ntoa(struct.pack("<I", int(cols[1], 16)))
                mask = socket.inet_ntoa(struct.pack("<I", int(cols[7], 16)))
                net = ipaddress.ip_network(f"{dest}/{mask}", strict=False)
                if net.prefixlen:
                    out.append(net)
    except (OSError, ValueError):
        pass
    return out
