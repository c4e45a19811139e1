"""A container's network, decided at ``create`` and connected at ``start``.

``plan()`` turns ``--network``/``-p``/``-P``/``--dns*`` into a ``NetworkPlan`` kept in the
container's ``network.json``; at ``start``, ``rpod.network.start.monitor_spec`` connects it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rootless import ctrfiles
from rpod.errors import UsageError
from rpod.network.ports import PortMapping, resolve
from rpod.records import asdict, field, field_names, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

PLAN_FILE = "network.json"
PORTLESS = ("none", "host", "container", "ns")
DNS_DOMAIN = "dns.podman"


@record
class NetworkPlan:
    mode: str  # slirp4netns | pasta | none | host | container | ns | bridge
    options: dict[str, Any] = field(default_factory=dict)  # slirp4netns options
    args: list[str] = field(default_factory=list)  # pasta arguments
    ports: list[str] = field(default_factory=list)  # PortMapping.record() strings
    container: str = ""  # container: target id
    ns_path: str = ""
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # bridge: name -> {"aliases": [...]}
    warnings: list[str] = field(default_factory=list)
    # /etc/hosts as containers.conf had it at create: base_hosts_file's entries ([ip, name...]),
    # host_containers_internal_ip; rewritten from these at each start
    hosts_base: list[list[str]] = field(default_factory=list)
    internal_ip: str = ""

    @property
    def etc_network(self) -> str:
        """The network name ``rpod.network.etcfiles`` understands."""
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


def plan(paths: Any, opts: Any, image_config: dict[str, Any],
         container_id: Callable[[str], str]) -> NetworkPlan:
    """The plan for ``opts`` (``RunOptions``); ``container_id`` resolves ``container:REF`` to an
    id (``NoSuchContainer``).  Raises ``UsageError`` for bad values."""
    value = opts.network or default_mode()
    mode, _, rest = value.partition(":")
    inner = image_config.get("config") if isinstance(image_config.get("config"), dict) else image_config
    exposed = list(((inner or {}).get("ExposedPorts") or {}).keys())
    p = NetworkPlan(mode=mode)
    if mode == "private":
        p.mode = default_mode()
    elif mode == "slirp4netns":
        p.options = _slirp_options(rest)
    elif mode == "pasta":
        p.args = [a for a in rest.split(",") if a]
    elif mode == "container":
        if not rest:
            raise UsageError(f"invalid --network {value!r}: container: needs a container name or id")
        p.container = container_id(rest)
    elif mode == "ns":
        if not rest.startswith("/"):
            raise UsageError(f"invalid --network {value!r}: ns: needs an absolute path to a network namespace")
        p.ns_path = rest
    elif mode not in ("none", "host"):
        _user_networks(paths, p, value, list(getattr(opts, "network_alias", None) or []))
        _static_ip(p, opts)
    _check_shared_userns(p, opts, value)
    _apply_mac(p, opts.mac_address)
    p.ports = _port_records(p, opts, exposed)
    return p


def _slirp_options(rest: str) -> dict[str, Any]:
    """``--network slirp4netns:OPTIONS``, checked (``cidr``, ``outbound_addr*``, ``port_handler``)."""
    from rootless.slirp import NetworkSetupError, parse_options

    try:
        options = parse_options(rest)
    except NetworkSetupError as e:
        raise UsageError(str(e), hint=e.hint) from None
    if options.get("cidr"):
        import ipaddress

        try:
            cidr = ipaddress.ip_network(options["cidr"], strict=False)
        except ValueError:
            cidr = None
        if not isinstance(cidr, ipaddress.IPv4Network) or cidr.prefixlen > 25:
            raise UsageError(f"invalid slirp4netns option cidr={options['cidr']}: an IPv4 network of /25 or larger")
    for key in ("outbound_addr", "outbound_addr6"):
        if options.get(key):
            options[key] = _outbound(options[key], key)
    if options.get("port_handler") == "rootlesskit":
        # rpod has one forwarder, slirp4netns's own: it serves either handler's ports (and keeps the
        # client's source address, which rootlesskit's would have rewritten)
        from rpod.log import debug

        debug("port_handler=rootlesskit: ports are published through slirp4netns's forwarder")
    return options


def _user_networks(paths: Any, p: NetworkPlan, value: str, aliases: list[str]) -> None:
    """``--network NAME[,NAME...]``: user-defined networks (``NoSuchNetwork`` when one is absent)."""
    from rpod.network.spec import split_network
    from rpod.network.store import DEFAULT_NAME, NetworkStore

    store = NetworkStore(paths)
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


def _static_ip(p: NetworkPlan, opts: Any) -> None:
    """``--ip`` (one user network) and ``--ip6`` (refused: no IPv6 on user networks yet)."""
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


def _check_shared_userns(p: NetworkPlan, opts: Any, value: str) -> None:
    """User networks and ``container:`` join a shared user namespace: no other runtime, no own map."""
    if p.mode in ("bridge", "container") and opts.runtime not in (None, "", "rpod"):
        raise UsageError(f"--runtime {opts.runtime} cannot be combined with --network {value}",
                         hint="these containers join a shared user namespace, which rpod's runtime core "
                              "does and an OCI runtime CLI run in its own namespace cannot")
    if p.mode in ("bridge", "container") and (opts.userns or opts.uidmap):
        raise UsageError(f"--userns/--uidmap cannot be combined with --network {value}",
                         hint="such containers join a shared user namespace (the network's or the other "
                              "container's), whose id mapping they must use")


def _apply_mac(p: NetworkPlan, mac: str | None) -> None:
    """``--mac-address``: slirp4netns's option, each user network's, else a warning."""
    if not mac:
        return
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


def _port_records(p: NetworkPlan, opts: Any, exposed: list[str]) -> list[str]:
    """``-p``/``-P`` as ``PortMapping.record()`` strings (none in the port-less modes)."""
    maps = resolve(opts.publish, opts.publish_all, exposed, opts.expose)
    if maps and p.mode in PORTLESS:
        p.warnings.append("Port mappings have been discarded as one of the Host, Container, Pod, and None "
                          "network modes are in use")
        maps = []
    v6 = [m for m in maps if ":" in m.host_ip]
    if v6 and p.mode in ("slirp4netns", "bridge"):
        raise UsageError(f"cannot publish on {v6[0].host_ip}: slirp4netns's forwarder binds IPv4 host addresses only",
                         hint="leave the address out (-p HOST:CTR binds 0.0.0.0) or use --network pasta for IPv6")
    return [m.record() for m in maps]


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


def save(cdir: Path, p: NetworkPlan) -> None:
    from rpod.storefile import atomic_write_json

    atomic_write_json(cdir / PLAN_FILE, asdict(p))


def load(cdir: Path) -> NetworkPlan | None:
    try:
        data = json.loads((cdir / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None
    known = field_names(NetworkPlan)
    return NetworkPlan(**{k: v for k, v in data.items() if k in known})


def patch_namespaces(cdir: Path, user_path: str | None, net_path: str | None) -> None:
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
