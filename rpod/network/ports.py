"""Published ports: ``-p [IP:][HOSTPORT:]CTRPORT[/tcp|udp]`` (with ranges), ``-P``/``--expose``,
free-port checks and the strings kept in the container record (``HOST:CTR/PROTO`` or
``IP:HOST:CTR/PROTO``, one per port, host port always concrete)."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable, Sequence

from rpod.errors import RpodError, UsageError
from rpod.records import record

PROTOS = ("tcp", "udp")


class PortInUse(RpodError):
    """A host port to publish is already taken (exit 125, before the container starts)."""


@record(frozen=True)
class PortMapping:
    host_ip: str
    host_port: int  # 0: pick a free one at create
    container_port: int
    proto: str = "tcp"

    def record(self) -> str:
        """The record string (``ip:host:ctr/proto``; no ip part when bound to every address)."""
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        head = f"{ip}:" if ip else ""
        return f"{head}{self.host_port}:{self.container_port}/{self.proto}"

    def monitor(self) -> dict[str, object]:
        return {"proto": self.proto, "host_ip": self.host_ip, "host_port": self.host_port,
                "container_port": self.container_port}

    @classmethod
    def from_record(cls, text: str) -> PortMapping:
        body, _, proto = text.partition("/")
        parts = body.rsplit(":", 2)
        ip, host, ctr = parts if len(parts) == 3 else ["", *parts] if len(parts) == 2 else ["", "0", *parts]
        return cls(ip.strip("[]"), int(host or 0), int(ctr), proto or "tcp")


def _port_range(text: str, what: str, spec: str) -> list[int]:
    lo, sep, hi = text.partition("-")
    try:
        first, last = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise UsageError(f"invalid -p {spec!r}: {what} port {text!r} is not a number or range") from None
    if not (0 < first <= last <= 65535):
        raise UsageError(f"invalid -p {spec!r}: {what} ports must be 1-65535 (and a range low-high)")
    return list(range(first, last + 1))


def parse_publish(spec: str) -> list[PortMapping]:
    """One ``-p`` value → its mappings (host port 0 = random).  Raises ``UsageError``."""
    body, _, protos = spec.partition("/")
    proto_list = [p for p in (protos or "tcp").split(",") if p]
    for p in proto_list:
        if p not in PROTOS:
            raise UsageError(f"invalid -p {spec!r}: protocol {p!r} is not tcp or udp",
                             hint="rootless rpod publishes tcp and udp ports")
    ip = ""
    if body.startswith("["):  # [IPv6]:host:ctr
        end = body.find("]")
        ip, body = body[1:end], body[end + 2:]
        parts = ["", *body.split(":")] if body.count(":") == 1 else ["", "", body]
        parts = parts[-2:]
        host_txt, ctr_txt = (parts[0], parts[1])
    else:
        parts = body.split(":")
        if len(parts) == 1:
            host_txt, ctr_txt = "", parts[0]
        elif len(parts) == 2:
            host_txt, ctr_txt = parts
        elif len(parts) == 3:
            ip, host_txt, ctr_txt = parts
        else:
            raise UsageError(f"invalid -p {spec!r}: expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise UsageError(f"invalid -p {spec!r}: {ip!r} is not an IP address") from None
    ctrs = _port_range(ctr_txt, "container", spec)
    hosts = _port_range(host_txt, "host", spec) if host_txt else [0] * len(ctrs)
    if len(hosts) != len(ctrs):
        raise UsageError(f"invalid -p {spec!r}: the host and container port ranges differ in length")
    return [PortMapping(ip, h, c, p) for p in proto_list for h, c in zip(hosts, ctrs, strict=True)]


def exposed_ports(image_exposed: Iterable[str], expose: Sequence[str]) -> list[tuple[int, str]]:
    """Image ``ExposedPorts`` keys plus ``--expose PORT[-PORT][/proto]`` → (port, proto), sorted."""
    out: set[tuple[int, str]] = set()
    for item in [*image_exposed, *expose]:
        port, _, proto = str(item).partition("/")
        proto = proto or "tcp"
        if proto not in PROTOS:
            raise UsageError(f"invalid --expose {item!r}: protocol must be tcp or udp")
        for n in _port_range(port, "exposed", str(item)):
            out.add((n, proto))
    return sorted(out)


def _family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ip and ":" in ip else socket.AF_INET


def check_free(mapping: PortMapping) -> None:
    """Raise ``PortInUse`` when ``mapping``'s host port cannot be bound on the host now."""
    kind = socket.SOCK_STREAM if mapping.proto == "tcp" else socket.SOCK_DGRAM
    addr = mapping.host_ip or "0.0.0.0"
    with socket.socket(_family(addr), kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, mapping.host_port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"cannot publish port {mapping.host_port}/{mapping.proto} on {addr}: bind: address already in use",
                    hint=f"another process (or container) holds {addr}:{mapping.host_port}; choose another host port "
                         f"with -p HOSTPORT:{mapping.container_port}") from None
            raise PortInUse(f"cannot publish port {mapping.host_port}/{mapping.proto} on {addr}: {e.strerror}",
                            hint="ports below 1024 need net.ipv4.ip_unprivileged_port_start lowered") from None


def random_free_port(ip: str, proto: str, taken: set[int]) -> int:
    """A host port that is free now on ``ip`` for ``proto`` (the kernel's ephemeral choice)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    for _ in range(50):
        with socket.socket(_family(ip), kind) as s:
            s.bind((ip or "0.0.0.0", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port
    raise RpodError("cannot find a free host port to publish", hint="give the host port explicitly with -p")


def resolve(publish: Sequence[str], publish_all: bool, image_exposed: Iterable[str],
            expose: Sequence[str]) -> list[PortMapping]:
    """Every mapping of ``-p`` and ``-P``, random host ports chosen, duplicates refused."""
    maps: list[PortMapping] = []
    for spec in publish:
        maps += parse_publish(spec)
    if publish_all:
        have = {(m.container_port, m.proto) for m in maps}
        maps += [PortMapping("", 0, port, proto) for port, proto in exposed_ports(image_exposed, expose)
                 if (port, proto) not in have]
    taken = {m.host_port for m in maps if m.host_port}
    out: list[PortMapping] = []
    seen: set[tuple[str, int, str]] = set()
    for m in maps:
        if not m.host_port:
            m = PortMapping(m.host_ip, random_free_port(m.host_ip, m.proto, taken), m.container_port, m.proto)
            taken.add(m.host_port)
        key = (m.host_ip, m.host_port, m.proto)
        if key in seen:
            raise UsageError(f"host port {m.host_port}/{m.proto} is published twice")
        seen.add(key)
        out.append(m)
    return out


def inspect_ports(records: Sequence[str], exposed: Iterable[tuple[int, str]] = ()) -> dict[str, list[dict[str, str]] | None]:
    """``.NetworkSettings.Ports`` / ``.HostConfig.PortBindings``: ``{"80/tcp": [{"HostIp", "HostPort"}]}``."""
    out: dict[str, list[dict[str, str]] | None] = {f"{p}/{proto}": None for p, proto in exposed}
    for text in records:
        try:
            m = PortMapping.from_record(text)
        except ValueError:
            continue
        entry = out.get(f"{m.container_port}/{m.proto}") or []
        entry.append({"HostIp": m.host_ip, "HostPort": str(m.host_port)})
        out[f"{m.container_port}/{m.proto}"] = entry
    return out


def ps_text(records: Sequence[str]) -> str:
    """``ps``'s PORTS column as Podman prints it: ``0.0.0.0:8080->80/tcp, ...`` (consecutive
    ports folded into ranges: ``0.0.0.0:8000-8002->80-82/tcp``)."""
    maps = []
    for text in records:
        try:
            maps.append(PortMapping.from_record(text))
        except ValueError:
            continue
    maps.sort(key=lambda m: (m.proto, m.host_ip, m.container_port))
    groups: list[list[PortMapping]] = []
    for m in maps:
        last = groups[-1][-1] if groups else None
        if (last and last.proto == m.proto and last.host_ip == m.host_ip
                and m.host_port == last.host_port + 1 and m.container_port == last.container_port + 1):
            groups[-1].append(m)
        else:
            groups.append([m])
    out = []
    for g in groups:
        ip = g[0].host_ip or "0.0.0.0"
        host = f"{g[0].host_port}" + (f"-{g[-1].host_port}" if len(g) > 1 else "")
        ctr = f"{g[0].container_port}" + (f"-{g[-1].container_port}" if len(g) > 1 else "")
        out.append(f"{ip}:{host}->{ctr}/{g[0].proto}")
    return ", ".join(out)
