"""User-defined networks, container side: find or start the network holder
(``rpod.network.holder``), reserve addresses, point the container at the holder's user namespace,
connect/disconnect running containers.  Never imports pyroute2 (the holder does)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rootless import ctrfiles
from rpod.errors import RpodError, StateConflict
from rpod.network.plan import NetworkPlan, load, patch_namespaces, save
from rpod.network.store import NetworkStore

SPAWN_TIMEOUT = 20.0


def state_dir(paths: Any) -> Path:
    return Path(paths.runroot) / "netns"


def _call(d: Path, request: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
    from rootless.netsetup import NetworkSetupError, holder_call

    try:
        return holder_call(str(d), request, timeout)
    except NetworkSetupError as e:
        raise RpodError(str(e), hint=e.hint) from None


def _alive(d: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((d / "holder.json").read_text())
        os.kill(int(info["pid"]), 0)
        _call(d, {"op": "status"}, timeout=5)
        return info
    except (OSError, ValueError, KeyError, RpodError):
        return None


def _spawn(d: Path) -> dict[str, Any]:
    from rootless.subid import default_mapping
    from rootless.userns import popen

    r, w = os.pipe()
    with open(d / "holder.log", "ab") as log:
        popen([sys.executable, "-m", "rpod.network.holder", str(d), str(w)], default_mapping(), mount_ns=False,
              pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd="/")
    os.close(w)
    data = b""
    end = time.monotonic() + SPAWN_TIMEOUT
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([r], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
    try:
        info = json.loads(data)
    except ValueError:
        info = {"error": f"no answer within {SPAWN_TIMEOUT:.0f} s"}
    if "error" in info:
        raise RpodError(f"cannot start the network holder: {info['error']}",
                        hint=f"see {d / 'holder.log'}; /dev/net/tun must be usable (chmod 0666 /dev/net/tun)")
    return info


@contextlib.contextmanager
def holder_session(paths: Any) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The running holder (started when there is none), with ``holder.lock`` held so it cannot
    exit before the caller's request has arrived."""
    d = state_dir(paths)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(d / "holder.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        info = _alive(d) or _spawn(d)
        yield d, info
    finally:
        os.close(fd)


def _views(paths: Any, networks: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    store = NetworkStore(paths)
    return [{**store.get(name).holder_view(), "aliases": list(net.get("aliases") or []), "mac": net.get("mac") or "",
             "ip": net.get("ip") or ""}
            for name, net in networks.items()]


def prepare_start(paths: Any, record: Any, cdir: Path, p: NetworkPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reserve the container's addresses and join the holder's user namespace; the monitor's
    ``network`` object (the monitor then asks the holder to attach) and the addresses reserved
    (``{network: {ip, gateway, prefix, mac}}``, also in ``network-attached.json``)."""
    views = _views(paths, p.networks)
    with holder_session(paths) as (d, info):
        reply = _call(d, {"op": "reserve", "container": record.id, "name": record.name, "networks": views,
                          "client": os.getpid()})
    attached = reply.get("networks") or {}
    _write_attached(cdir, attached)
    patch_namespaces(cdir, f"/proc/{info['pid']}/ns/user", None)
    return {"mode": "bridge", "holder_dir": str(d), "request": {
        "container": record.id, "name": record.name, "networks": views,
        "ports": [m.monitor() for m in p.port_mappings]}}, attached


def _write_attached(cdir: Path, attached: dict[str, Any]) -> None:
    from rpod.storefile import atomic_write_json

    atomic_write_json(cdir / ctrfiles.NETWORK_ATTACHED, attached)


def uses_network(cdir: Path, network: str) -> bool:
    """Whether the container in ``cdir`` is planned on the user network ``network``."""
    p = load(cdir)
    return p is not None and p.mode == "bridge" and network in p.networks


def connect(paths: Any, network: str, rec: Any, cdir: Path, running: bool, aliases: list[str]) -> None:
    """``network connect``: add ``network`` to the container ``rec`` (its directory ``cdir``;
    live when it is ``running``)."""
    NetworkStore(paths).get(network)
    p = load(cdir)
    if p is None or p.mode != "bridge":
        raise StateConflict(
            f"container {rec.id[:12]} is not on a user-defined network, so it cannot be connected to {network}",
            hint="rootless rpod connects only containers created with --network NETWORK: those share the "
                 "networks' user namespace (see docs/decisions.md)")
    if network in p.networks:
        raise StateConflict(f"container {rec.id} is already connected to network {network}")
    p.networks[network] = {"aliases": aliases}
    if running:
        views = _views(paths, {network: p.networks[network]})
        with holder_session(paths) as (d, _info):
            reply = _call(d, {"op": "connect", "container": rec.id, "networks": views})
        attached = _read_attached(cdir)
        new = (reply.get("networks") or {}).get(network) or {}
        _etc_update(paths, rec, cdir, network, new.get("ip") or "", True, [a.get("ip") for a in attached.values()])
        attached.update(reply.get("networks") or {})
        _write_attached(cdir, attached)
    save(cdir, p)


def disconnect(paths: Any, network: str, rec: Any, cdir: Path, running: bool) -> None:
    """``network disconnect``: remove ``network`` from the container ``rec``."""
    p = load(cdir)
    if p is None or network not in p.networks:
        raise StateConflict(f"container {rec.id} is not connected to network {network}")
    del p.networks[network]
    if running:
        with holder_session(paths) as (d, _info):
            _call(d, {"op": "disconnect", "container": rec.id, "network": network})
        attached = _read_attached(cdir)
        gone = attached.pop(network, None) or {}
        _etc_update(paths, rec, cdir, network, gone.get("ip") or "", False)
        _write_attached(cdir, attached)
    save(cdir, p)


def _etc_update(paths: Any, rec: Any, cdir: Path, network: str, ip: str, add: bool,
                own_ips: list[Any] | None = None) -> None:
    """A running container's ``/etc/hosts`` and ``resolv.conf`` after ``network connect``/
    ``disconnect`` (in place: they are bind-mounted): its entry for the network's address, the
    network's DNS responder as a nameserver (as Podman)."""
    from rpod.network import etcfiles

    names = [rec.hostname or rec.id[:12], rec.name]
    hosts = cdir / ctrfiles.HOSTS
    with contextlib.suppress(OSError):
        text = hosts.read_text()
        if ip:
            etcfiles.rewrite_in_place(hosts, etcfiles.hosts_with(text, ip, names, [i for i in own_ips or [] if i])
                                      if add else etcfiles.hosts_without(text, ip, names))
    try:
        net = NetworkStore(paths).get(network)
    except RpodError:  # removed meanwhile (network rm -f)
        return
    resolv = cdir / ctrfiles.RESOLV_CONF
    if net.dns_enabled:
        with contextlib.suppress(OSError):
            etcfiles.rewrite_in_place(resolv, etcfiles.resolv_with_nameserver(resolv.read_text(), net.gateway, add))


def _read_attached(cdir: Path) -> dict[str, Any]:
    try:
        return json.loads((cdir / ctrfiles.NETWORK_ATTACHED).read_text())
    except (OSError, ValueError):
        return {}


def reload(paths: Any, rec: Any, cdir: Path) -> None:
    """``network reload`` of a running container on user networks: its interfaces and published
    ports restored by the holder, with the same addresses and MACs."""
    p = load(cdir)
    if p is None or p.mode != "bridge":
        mode = p.mode if p is not None else "none"
        raise RpodError(f'"{mode}" is not supported: invalid network mode', exit_code=125)
    d = state_dir(paths)
    if _alive(d) is None:
        raise StateConflict(f"container {rec.id} network is not configured, refusing to reload: "
                            "container state improper")
    _call(d, {"op": "reload", "container": rec.id})


def join_holder_namespaces(paths: Any) -> Any:
    """A ``preexec_fn`` that moves the child into the holder's user and network namespaces
    (``unshare --rootless-netns``); the namespaces are opened now, so a missing holder is an
    error here (rpod keeps no such namespace while no container is on a user network)."""
    from rootless import syscalls

    info = _alive(state_dir(paths))
    if info is None:
        raise RpodError("no rootless network namespace: no container is running on a user network",
                        hint="start a container with --network NETWORK first")
    fds = [os.open(f"/proc/{info['pid']}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in ("user", "net")]

    def join() -> None:
        syscalls.setns(fds[0], syscalls.CLONE_NEWUSER)
        syscalls.setns(fds[1], syscalls.CLONE_NEWNET)

    return join

