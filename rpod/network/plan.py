"""A container's network, decided at ``create`` and connected at ``start``.

``plan()`` turns ``--network``/``-p``/``-P``/``--dns*`` into a ``NetworkPlan`` kept in the
container's ``network.json``; ``monitor_spec()`` runs in ``start`` before the monitor is spawned:
it checks ``/dev/net/tun`` and the host ports (a taken port is a 125 error before anything
runs), points ``config.json`` at the namespaces to join (``container:``, user networks) and
returns the ``network`` object for the monitor (``rootless.netsetup``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rootless import ctrfiles
from rpod.errors import RpodError, StateConflict, UsageError
from rpod.network.ports import PortMapping, check_free, resolve

PLAN_FILE = "network.json"
PORTLESS = ("none", "host", "container", "ns")
DNS_DOMAIN = "dns.podman"


@dataclass
class NetworkPlan:
    mode: str  # slirp4netns | pasta | none | host | container | ns | bridge
    options: dict[str, Any] = field(default_factory=dict)  # slirp4netns options
    args: list[str] = field(default_factory=list)  # pasta arguments
    ports: list[str] = field(default_factory=list)  # PortMapping.record() strings
    container: str = ""  # container: target id
    ns_path: str = ""
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # bridge: name -> {"aliases": [...]}
    warnings: list[str] = field(default_factory=list)

    @property
    def etc_network(self) -> str:
        """The network name ``rpod.container.etcfiles`` understands."""
        return {"container": "none", "ns": "none"}.get(self.mode, self.mode)

    @property
    def spec_network(self) -> str:
        return "host" if self.mode == "host" else self.mode

    def etc_dns(self, paths: Any, dns: list[str], dns_search: list[str]) -> tuple[list[str], list[str]]:
        """(--dns, --dns-search) for resolv.conf: user networks use their gateways' DNS responder."""
        if self.mode != "bridge" or dns:
            return dns, dns_search
        from rpod.network.store import NetworkStore

        store = NetworkStore(paths)
        servers = [net.gateway for net in map(store.get, self.networks) if net.dns_enabled]
        if not servers:  # no DNS responder (--disable-dns, the default network): the host's servers
            return dns, dns_search
        return servers, dns_search or [DNS_DOMAIN]

    @property
    def port_mappings(self) -> list[PortMapping]:
        return [PortMapping.from_record(p) for p in self.ports]


def default_mode() -> str:
    """Podman's rootless default: slirp4netns."""
    return "slirp4netns"


def plan(paths: Any, opts: Any, image_config: dict[str, Any]) -> NetworkPlan:
    """The plan for ``opts`` (``RunOptions``).  Raises ``UsageError`` for bad values."""
    value = opts.network or default_mode()
    mode, _, rest = value.partition(":")
    inner = image_config.get("config") if isinstance(image_config.get("config"), dict) else image_config
    exposed = list(((inner or {}).get("ExposedPorts") or {}).keys())
    p = NetworkPlan(mode=mode)
    if mode == "private":
        p.mode = default_mode()
    elif mode == "slirp4netns":
        from rootless.slirp import NetworkSetupError, parse_options

        try:
            p.options = parse_options(rest)
        except NetworkSetupError as e:
            raise UsageError(str(e), hint=e.hint) from None
        if p.options.get("cidr"):
            import ipaddress

            try:
                cidr = ipaddress.ip_network(p.options["cidr"], strict=False)
            except ValueError:
                cidr = None
            if not isinstance(cidr, ipaddress.IPv4Network) or cidr.prefixlen > 25:
                raise UsageError(f"invalid slirp4netns option cidr={p.options['cidr']}: an IPv4 network of /25 or larger")
        for key in ("outbound_addr", "outbound_addr6"):
            if p.options.get(key):
                p.options[key] = _outbound(p.options[key], key)
        if p.options.get("port_handler") == "rootlesskit":
            raise UsageError("port_handler=rootlesskit is not available in rpod",
                             hint="rpod publishes through slirp4netns's own forwarder (port_handler=slirp4netns), "
                                  "which keeps the client's source address")
    elif mode == "pasta":
        p.args = [a for a in rest.split(",") if a]
    elif mode == "container":
        if not rest:
            raise UsageError(f"invalid --network {value!r}: container: needs a container name or id")
        from rpod.container.state import ContainerStore

        p.container = ContainerStore(paths).get(rest).id
    elif mode == "ns":
        if not rest.startswith("/"):
            raise UsageError(f"invalid --network {value!r}: ns: needs an absolute path to a network namespace")
        p.ns_path = rest
    elif mode in ("none", "host"):
        pass
    else:
        from rpod.container.options import split_network
        from rpod.network.store import DEFAULT_NAME, NetworkStore

        store = NetworkStore(paths)
        aliases = list(getattr(opts, "network_alias", None) or [])
        p.mode = "bridge"
        first, net_opts = split_network(value)  # Podman 4: NAME:alias=a,ip=x,mac=y,interface_name=z
        for name in ([first] if net_opts else value.split(",")):
            name = DEFAULT_NAME if name == "bridge" else name  # Podman: bridge = the default network
            store.get(name)  # NoSuchNetwork when absent
            extra = [a for a in net_opts.get("alias", "").split(",") if a]
            p.networks[name] = {"aliases": [*aliases, *extra]}
            for key in ("ip", "mac"):
                if net_opts.get(key):
                    p.networks[name][key] = net_opts[key]
        if getattr(opts, "ip", None):
            if len(p.networks) != 1:
                raise UsageError("--ip can only be set for a single network",
                                 hint="use NETWORK:ip=ADDR on each network instead")
            import ipaddress

            try:
                ipaddress.IPv4Address(opts.ip)
            except ValueError:
                raise UsageError(f"{opts.ip} is not an IPv4 address") from None
            next(iter(p.networks.values()))["ip"] = opts.ip
        if getattr(opts, "ip6", None):
            raise UsageError("--ip6 is not available: rpod's user networks have no IPv6 yet")
    if p.mode in ("bridge", "container") and getattr(opts, "runtime", None) not in (None, "", "rpod"):
        raise UsageError(f"--runtime {opts.runtime} cannot be combined with --network {value}",
                         hint="these containers join a shared user namespace, which rpod's runtime core "
                              "does and an OCI runtime CLI run in its own namespace cannot")
    if p.mode in ("bridge", "container") and (getattr(opts, "userns", "") or getattr(opts, "uidmap", None)):
        raise UsageError(f"--userns/--uidmap cannot be combined with --network {value}",
                         hint="such containers join a shared user namespace (the network's or the other "
                              "container's), whose id mapping they must use")
    mac = getattr(opts, "mac_address", None)
    if mac:
        import re

        if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", mac):
            raise UsageError(f"invalid --mac-address {mac!r}: expected six hex bytes like 02:42:ac:11:00:02")
        if p.mode == "slirp4netns":
            p.options["mac"] = mac
        elif p.mode == "bridge":
            for net in p.networks.values():
                net.setdefault("mac", mac)
        else:
            p.warnings.append(f"--mac-address is ignored with --network {p.mode}")
    maps = resolve(opts.publish, opts.publish_all, exposed, getattr(opts, "expose", None) or [])
    if maps and p.mode in PORTLESS:
        p.warnings.append("Port mappings have been discarded as one of the Host, Container, Pod, and None "
                          "network modes are in use")
        maps = []
    v6 = [m for m in maps if ":" in m.host_ip]
    if v6 and p.mode in ("slirp4netns", "bridge"):
        raise UsageError(f"cannot publish on {v6[0].host_ip}: slirp4netns's forwarder binds IPv4 host addresses only",
                         hint="leave the address out (-p HOST:CTR binds 0.0.0.0) or use --network pasta for IPv6")
    p.ports = [m.record() for m in maps]
    return p


def save(cdir: Path, p: NetworkPlan) -> None:
    from rpod.storefile import atomic_write_json

    atomic_write_json(cdir / PLAN_FILE, asdict(p))


def load(cdir: Path) -> NetworkPlan | None:
    try:
        data = json.loads((cdir / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None
    known = set(NetworkPlan.__dataclass_fields__)
    return NetworkPlan(**{k: v for k, v in data.items() if k in known})


def _patch_namespaces(cdir: Path, user_path: str | None, net_path: str | None) -> None:
    """Point ``config.json``'s user/network namespaces at ``/proc/PID/ns/*`` paths (resolved at
    start: the pid of a namespace's holder changes between runs)."""
    from rpod.storefile import atomic_write_json

    cfg_path = cdir / ctrfiles.SPEC
    spec = json.loads(cfg_path.read_text())
    nss = (spec.get("linux") or {}).get("namespaces") or []
    for ns in nss:
        if ns.get("type") == "user":
            ns.pop("path", None)
            if user_path:
                ns["path"] = user_path
        if ns.get("type") == "network":
            ns.pop("path", None)
            if net_path:
                ns["path"] = net_path
    atomic_write_json(cfg_path, spec)


def monitor_spec(paths: Any, record: Any, cdir: Path) -> dict[str, Any] | None:
    """Prepare the start of ``record``'s network; the monitor's ``network`` object (or None)."""
    p = load(cdir)
    if p is None:
        return None
    if p.mode in ("slirp4netns", "pasta", "bridge"):
        _check_tun()
        for m in p.port_mappings:
            check_free(m)
    if p.mode in ("slirp4netns", "pasta"):
        import shutil

        tool = "slirp4netns" if p.mode == "slirp4netns" else "pasta"
        if not shutil.which(tool):
            raise RpodError(f"{tool} is not installed: --network {p.mode} needs it",
                            hint=f"apt-get install {'slirp4netns' if tool == 'slirp4netns' else 'passt'}, "
                                 "or run with --network none")
    if p.mode == "slirp4netns":
        rewrite_hosts(cdir, record, "slirp4netns")
        return {"mode": "slirp4netns", "options": p.options, "ports": [m.monitor() for m in p.port_mappings]}
    if p.mode == "pasta":
        return {"mode": "pasta", "args": p.args, "ports": [m.monitor() for m in p.port_mappings]}
    if p.mode == "container":
        from rpod.container.state import ContainerStore

        store = ContainerStore(paths)
        st = store.state(p.container)
        if not st.running or not st.pid:
            raise StateConflict(f"cannot join the network of container {p.container[:12]}: it is not running",
                                hint="start it first")
        _patch_namespaces(cdir, f"/proc/{st.pid}/ns/user", f"/proc/{st.pid}/ns/net")
        for name in ("resolv.conf", "hosts"):  # as Podman: the network's owner's files
            src, dst = store.dir(p.container) / ctrfiles.USERDATA / name, cdir / ctrfiles.USERDATA / name
            if src.exists() and dst.exists():
                _replace(dst, src.read_text())
        return None
    if p.mode == "bridge":
        from rpod.network import bridge

        return bridge.prepare_start(paths, record, cdir, p)
    return None


def _outbound(value: str, key: str) -> str:
    """``outbound_addr=`` takes an address or, as Podman, an interface name (its IPv4 address)."""
    import ipaddress

    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    addr = _iface_address(value) if key == "outbound_addr" else None
    if not addr:
        raise UsageError(f"invalid slirp4netns option {key}={value}: not an address nor an interface with one")
    return addr


def _iface_address(name: str) -> str | None:
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", name.encode()[:15], socket.AF_INET, b"\0" * 14)
        try:
            return socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, req)[20:24])  # SIOCGIFADDR
        except OSError:
            return None


def host_address() -> str | None:
    """The host's first non-loopback IPv4 address on an interface that is up (what Podman gives
    ``host.containers.internal`` when the container cannot use slirp's 10.0.2.2 → host loopback)."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _idx, name in socket.if_nameindex():
            req = struct.pack("16sH14s", name.encode()[:15], socket.AF_INET, b"\0" * 14)
            try:
                flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), 0x8913, req)[:18])[1]  # SIOCGIFFLAGS
                if not flags & 1 or flags & 8:  # IFF_UP, IFF_LOOPBACK
                    continue
                addr = socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, req)[20:24])  # SIOCGIFADDR
            except OSError:
                continue
            if not addr.startswith("127."):
                return addr
    return None


def slirp_addresses(options: dict[str, Any]) -> tuple[str, str, str]:
    """(container, gateway, dns) addresses of slirp4netns for its ``cidr`` (.100, .2, .3)."""
    import ipaddress

    net = ipaddress.ip_network(options.get("cidr") or "10.0.2.0/24", strict=False)
    return str(net[100]), str(net[2]), str(net[3])


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def rewrite_hosts(cdir: Path, record: Any, network: str, container_ip: str | None = None) -> None:
    """Regenerate ``userdata/hosts`` at start: the container's address (user networks, a slirp4netns
    ``cidr=``) and ``host.containers.internal`` (the host's address now) are only known then."""
    from rpod.container.etcfiles import hosts_content

    hosts = cdir / ctrfiles.HOSTS
    if not hosts.exists():
        return
    opts = record.options or {}
    p = load(cdir)
    slirp_opts = p.options if p else {}
    gateway = None if not slirp_opts.get("allow_host_loopback") else slirp_addresses(slirp_opts)[1]
    if network == "slirp4netns" and container_ip is None:
        container_ip = slirp_addresses(slirp_opts)[0]
    _replace(hosts, hosts_content(record.hostname or record.id[:12], record.name, opts.get("add_host") or [],
                                  network=network, container_ip=container_ip,
                                  host_gateway=gateway or host_address()))
    resolv = cdir / ctrfiles.RESOLV_CONF
    if network == "slirp4netns" and slirp_opts.get("cidr") and resolv.exists():
        dns = slirp_addresses(slirp_opts)[2]
        text = resolv.read_text()
        _replace(resolv, text.replace("nameserver 10.0.2.3\n", f"nameserver {dns}\n"))


def _check_tun() -> None:
    from rootless.slirp import NetworkSetupError, check_tun

    try:
        check_tun()
    except NetworkSetupError as e:
        raise RpodError(str(e), hint=e.hint) from None

