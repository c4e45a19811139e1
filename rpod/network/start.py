"""A container's network at ``start``, before its monitor is spawned: ``monitor_spec`` checks
``/dev/net/tun`` and the host ports (a taken port is a 125 error before anything runs), points
``config.json`` at the namespaces to join (``container:``, user networks), rewrites
``/etc/hosts`` with what is only known now, and returns the ``network`` object for the monitor
(``rootless.netsetup``, schema ``rootless.monitor.config.NETWORK``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rootless import ctrfiles
from rpod.errors import HostSetupError, StateConflict
from rpod.network.plan import load, patch_namespaces
from rpod.network.ports import check_free

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

PeerLookup = Callable[[str], tuple[int, Path]]
"""``peer(container_id) -> (pid of its init, 0 when not running; its container directory)``:
how ``--network container:ID`` finds the container whose namespaces it joins."""


def monitor_spec(paths: Any, record: Any, cdir: Path, peer: PeerLookup) -> dict[str, Any] | None:
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
            raise HostSetupError(f"{tool} is not installed: --network {p.mode} needs it",
                            hint=f"apt-get install {'slirp4netns' if tool == 'slirp4netns' else 'passt'}, "
                                 "or run with --network none")
    if p.mode == "slirp4netns":
        rewrite_hosts(cdir, record, "slirp4netns")
        return {"mode": "slirp4netns", "options": p.options, "ports": [m.monitor() for m in p.port_mappings]}
    if p.mode == "pasta":
        return {"mode": "pasta", "args": p.args, "ports": [m.monitor() for m in p.port_mappings]}
    if p.mode == "container":
        _join_container(cdir, record, p.container, peer)
        return None
    if p.mode == "bridge":
        from rpod.network import bridge

        spec, attached = bridge.prepare_start(paths, record, cdir, p)
        if attached:
            ips = [a["ip"] for a in attached.values()]
            rewrite_hosts(cdir, record, "bridge", ips[0], ips[1:])
        return spec
    return None


def _join_container(cdir: Path, record: Any, peer_id: str, peer: PeerLookup) -> None:
    """``--network container:ID`` (and a pod's members): its user and network namespaces, and
    (as Podman) its ``resolv.conf`` and ``hosts``, with this container's own localhost entry."""
    from rpod.network.etcfiles import add_localhost_entry

    pid, peer_dir = peer(peer_id)
    if not pid:
        raise StateConflict(f"cannot join the network of container {peer_id[:12]}: it is not running",
                            hint="start it first")
    patch_namespaces(cdir, f"/proc/{pid}/ns/user", f"/proc/{pid}/ns/net")
    for name in ("resolv.conf", "hosts"):
        src, dst = peer_dir / ctrfiles.USERDATA / name, cdir / ctrfiles.USERDATA / name
        if src.exists() and dst.exists():
            text = src.read_text()
            if name == "hosts":  # Podman adds the joining container as 127.0.0.1 (same namespace)
                text = add_localhost_entry(text, record.hostname or record.id[:12], record.name)
            _replace(dst, text)


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


def rewrite_hosts(cdir: Path, record: Any, network: str, container_ip: str | None = None,
                  more_ips: list[str] | None = None) -> None:
    """Regenerate ``userdata/hosts`` at start: the container's address (user networks, a slirp4netns
    ``cidr=``) and ``host.containers.internal`` (the host's address now) are only known then."""
    from rpod.network.etcfiles import hosts_content

    hosts = cdir / ctrfiles.HOSTS
    if not hosts.exists():
        return
    p = load(cdir)
    slirp_opts = p.options if p else {}
    gateway = None if not slirp_opts.get("allow_host_loopback") else slirp_addresses(slirp_opts)[1]
    if network == "slirp4netns" and container_ip is None:
        container_ip = slirp_addresses(slirp_opts)[0]
    _replace(hosts, hosts_content(record.hostname or record.id[:12], record.name, record.options.add_host,
                                  network=network, container_ip=container_ip,
                                  host_gateway=gateway or host_address(),
                                  base=[(e[0], e[1:]) for e in (p.hosts_base if p else [])],
                                  internal_ip=p.internal_ip if p else "", more_ips=more_ips or []))
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
        raise HostSetupError(str(e), hint=e.hint) from None

