"""The files rpod bind-mounts over the image's: ``/etc/hosts``, ``/etc/resolv.conf``,
``/etc/hostname`` and ``/run/.containerenv``.

Content builders are pure (tested on strings); ``write_etc_files`` writes them into a
container's directory and returns the paths for ``SpecContext``.

``/etc/hosts`` follows Podman's layout with no base file by default instead of a copy of the
host's (containers.conf's ``base_hosts_file`` names one): ``--add-host`` entries, the base
file's, localhost lines, ``host.containers.internal``, then the container's address with its
hostname and name.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from rpod.errors import UsageError
from rpod.records import record

SLIRP_DNS = "10.0.2.3"
SLIRP_GATEWAY = "10.0.2.2"
SLIRP_CONTAINER_IP = "10.0.2.100"
HOST_RESOLV_CONF = "/etc/resolv.conf"


def parse_add_host(value: str, host_gateway: str = SLIRP_GATEWAY) -> tuple[str, str]:
    """``--add-host NAME:IP`` (or ``NAME=IP``; IPv6 allowed after the first ``:``) → (name, ip);
    ``host-gateway`` is ``host_gateway`` (the address ``host.containers.internal`` gets)."""
    sep = "=" if "=" in value else ":"
    name, found, ip = value.partition(sep)
    ip = ip.strip("[]")
    if not found or not name:
        raise UsageError(f"invalid --add-host {value!r}: expected HOST:IP")
    if ip == "host-gateway":
        return name, host_gateway
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise UsageError(f"invalid --add-host {value!r}: {ip!r} is not an IP address") from None
    return name, ip


HostEntry = tuple[str, list[str]]  # (address, names)


def parse_hosts(text: str) -> list[HostEntry]:
    """The entries of a hosts file (comments dropped; an address without names skipped)."""
    entries = []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) >= 2:
            entries.append((fields[0], fields[1:]))
    return entries


def hosts_content(hostname: str, name: str | None = None, add_hosts: Sequence[str] = (),
                  network: str = "none", container_ip: str | None = None,
                  host_gateway: str | None = None, base: Sequence[HostEntry] = (),
                  internal_ip: str = "", more_ips: Sequence[str] = ()) -> str:
    """``/etc/hosts`` for a container, in Podman's order (containers/common ``etchosts.New``):
    ``--add-host`` entries, the base file's (``base_hosts_file``), then localhost,
    ``host.containers.internal`` and the container's own address, each with only the names not
    already listed (a base entry for the container's name wins).  ``host_gateway``: the address
    of ``host.containers.internal`` (default slirp's 10.0.2.2; Podman uses the host's own address
    when slirp4netns cannot reach the host's loopback); ``internal_ip``: containers.conf's
    ``host_containers_internal_ip`` ("none": no such entry); ``more_ips``: the container's
    addresses on its other networks."""
    gateway = host_gateway or SLIRP_GATEWAY
    if internal_ip and internal_ip != "none":
        gateway = internal_ip
    user: list[HostEntry] = []
    for entry in add_hosts:
        host, ip = parse_add_host(entry, gateway)
        user.append((ip, [host]))
    user += base
    own: list[HostEntry] = [("127.0.0.1", ["localhost", "localhost.localdomain"]),
                            ("::1", ["localhost", "localhost.localdomain"])]
    if internal_ip != "none" and (internal_ip or network.startswith("slirp4netns")
                                  or (network == "bridge" and host_gateway)):
        own.append((gateway, ["host.containers.internal", "host.docker.internal"]))
    if network != "host":
        ip = container_ip or (SLIRP_CONTAINER_IP if network.startswith("slirp4netns") else "127.0.0.1")
        names = [hostname] + ([name] if name else [])  # both, even when equal (Podman)
        own += [(addr, names) for addr in (ip, *more_ips)]  # one line per network (user networks)
    taken = {n for _ip, names in user for n in names}
    lines = [f"{ip}\t{' '.join(names)}" for ip, names in user]
    for ip, names in own:
        free = [n for n in names if n not in taken]
        if free:
            lines.append(f"{ip}\t{' '.join(free)}")
    return "\n".join(lines) + "\n"


def add_localhost_entry(text: str, hostname: str, name: str | None) -> str:
    """A hosts file shared from the container whose network namespace this one joins, with
    ``127.0.0.1 HOSTNAME NAME`` for this one (the names not listed yet), as Podman adds it."""
    taken = {n for _ip, names in parse_hosts(text) for n in names}
    free = [n for n in dict.fromkeys([hostname] + ([name] if name else [])) if n not in taken]
    if not free:
        return text
    return (text if text.endswith("\n") or not text else text + "\n") + f"127.0.0.1\t{' '.join(free)}\n"


def hosts_without(text: str, ip: str, names: Sequence[str]) -> str:
    """``text`` without the entries for ``ip`` that list one of ``names`` (Podman's
    ``etchosts.Remove``: comments and spacing of the kept lines normalised)."""
    kept = [(a, n) for a, n in parse_hosts(text) if not (a == ip and set(n) & set(names))]
    return "".join(f"{a}\t{' '.join(n)}\n" for a, n in kept)


def hosts_with(text: str, ip: str, names: Sequence[str], own_ips: Sequence[str] = ()) -> str:
    """``text`` plus ``IP NAMES`` for a newly connected network: all names when the container's
    entries for its other addresses (``own_ips``) are there, else only the names not listed yet
    (Podman's ``AddIfExists``/``Add``)."""
    entries = parse_hosts(text)
    if not any(a in own_ips and set(n) & set(names) for a, n in entries):
        taken = {n for _a, ns in entries for n in ns}
        names = [n for n in names if n not in taken]
    if not names:
        return text
    return (text if text.endswith("\n") or not text else text + "\n") + f"{ip}\t{' '.join(names)}\n"


def resolv_with_nameserver(text: str, server: str, add: bool) -> str:
    """``resolv.conf`` with ``server`` added as its first nameserver (``add``) or removed."""
    lines = [ln for ln in text.splitlines() if ln.split()[:2] != ["nameserver", server]]
    if add:
        at = next((i for i, ln in enumerate(lines) if ln.startswith("nameserver")), len(lines))
        lines.insert(at, f"nameserver {server}")
    return "\n".join(lines) + ("\n" if lines else "")


def rewrite_in_place(path: Path, text: str) -> None:
    """Replace a bind-mounted file's content keeping its inode (a running container sees it)."""
    with open(path, "r+", encoding="utf-8") as f:
        f.write(text)
        f.truncate()


def base_hosts(setting: str, image_file: Callable[[], str | None]) -> list[HostEntry]:
    """containers.conf's ``base_hosts_file``: a path, ``image`` (the image's ``/etc/hosts``,
    read through ``image_file``), ``none`` or "" (rpod's own layout, no base)."""
    if setting in ("", "none"):
        return []
    if setting == "image":
        return parse_hosts(image_file() or "")
    try:
        return parse_hosts(Path(setting).read_text(encoding="utf-8", errors="replace"))
    except OSError as e:
        raise UsageError(f"base_hosts_file {setting!r} in containers.conf cannot be read: {e.strerror}") from None


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def resolv_conf_content(host_text: str, network: str = "none", dns: Sequence[str] = (),
                        dns_search: Sequence[str] = (), dns_option: Sequence[str] = ()) -> str:
    """``/etc/resolv.conf`` from the host's, Podman-style.

    Loopback nameservers (systemd-resolved's 127.0.0.53...) cannot be reached from a new network
    namespace: with slirp4netns they are replaced by slirp's DNS forwarder (10.0.2.3), with
    ``--network none`` they are dropped; ``--network host`` keeps the file as is.  ``--dns``,
    ``--dns-search`` and ``--dns-option`` replace the corresponding host lines (``--dns-search=.``
    clears the search list)."""
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for raw in host_text.splitlines():
        words = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    if network != "host":
        servers = [s for s in servers if not _is_loopback(s)]
        if network.startswith("slirp4netns"):  # slirp's forwarder first, as Podman (it reaches the host's)
            servers.insert(0, SLIRP_DNS)
    if dns:
        for d in dns:
            try:
                ipaddress.ip_address(d)
            except ValueError:
                raise UsageError(f"invalid --dns {d!r}: not an IP address") from None
        servers = list(dns)
    if dns_search:
        search = [] if list(dns_search) == ["."] else list(dns_search)
    if dns_option:
        options = list(dns_option)
    lines = []
    if search:
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {s}" for s in servers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + ("\n" if lines else "")


def hostname_content(hostname: str) -> str:
    """``/etc/hostname``."""
    return hostname + "\n"


def containerenv_content(*, engine: str = "rpod", version: str = "", cid: str = "", name: str = "",
                         image: str = "", image_id: str = "", rootless: bool = True) -> str:
    """``/run/.containerenv``, in Podman's key="value" format (tools test for the file)."""
    rows = [("engine", f"{engine}-{version}" if version else engine), ("name", name), ("id", cid),
            ("image", image), ("imageid", image_id)]
    text = "".join(f'{k}="{v}"\n' for k, v in rows)
    return text + f"rootless={1 if rootless else 0}\n"


@record
class EtcFiles:
    """Paths of the generated files (None: not generated, the image's file is used)."""

    hosts: Path | None = None
    resolv_conf: Path | None = None
    hostname: Path | None = None
    containerenv: Path | None = None


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def write_etc_files(directory: Path, *, hostname: str, name: str | None = None, network: str = "none",
                    add_hosts: Sequence[str] = (), dns: Sequence[str] = (), dns_search: Sequence[str] = (),
                    dns_option: Sequence[str] = (), containerenv: str | None = None,
                    host_resolv_conf: str = HOST_RESOLV_CONF, base_hosts: Sequence[HostEntry] = (),
                    internal_ip: str = "") -> EtcFiles:
    """Write hosts, resolv.conf, hostname (and .containerenv when given) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        host_text = Path(host_resolv_conf).read_text(encoding="utf-8", errors="replace")
    except OSError:
        host_text = ""
    files = EtcFiles(
        hosts=_write(directory / "hosts", hosts_content(hostname, name, add_hosts, network, base=base_hosts,
                                                        internal_ip=internal_ip)),
        resolv_conf=_write(directory / "resolv.conf",
                           resolv_conf_content(host_text, network, dns, dns_search, dns_option)),
        hostname=_write(directory / "hostname", hostname_content(hostname)),
    )
    if containerenv is not None:
        files.containerenv = _write(directory / ".containerenv", containerenv)
    return files
