"""The network holder: the one process that owns the user's container networks while any
container is attached to one, and exits after the last one leaves.

Started by ``rpod.network.bridge.ensure_holder`` as ``python -m rpod.network.holder STATE_DIR
READY_FD`` (a normal interpreter: it needs pyroute2) through ``rootless.userns.popen``, so it is
root in its own user namespace ``U`` (the user's subuid map, like every rpod namespace).  Then:

- it forks an *anchor* (``unshare(CLONE_NEWNET)``, then sleeps; dies with us): the anchor's
  network namespace ``N`` holds one bridge per user network (``podmanN``, gateway address);
- it starts one slirp4netns for ``N`` (from the host network namespace, so its sockets are the
  host's), then joins ``N`` itself: IPv4 forwarding on, proxy ARP on ``tap0`` (libslirp then
  talks to the bridge addresses directly: outbound traffic and published ports need no NAT),
  and ``ip rule ... prohibit`` between the subnets of different networks (isolation);
- containers on user networks are created *inside U* (their ``config.json`` joins
  ``/proc/HOLDER/ns/user``) with their own network namespace; on ``attach`` it creates a veth
  pair (the peer directly in the container's namespace as ``eth0``, ``eth1``...), puts the host
  end on the bridge and, from a forked child that joins the container's namespace, sets the
  address, MAC and default route.  All netlink work is pyroute2's;
- it answers DNS on each gateway (port 53) with the names and aliases of the containers on that
  network (``rpod.network.dns``), forwarding other names to slirp's resolver (10.0.2.3);
- published ports of such containers are ``add_hostfwd`` rules to the container's address.

Control: one JSON request per connection on ``STATE_DIR/holder.sock`` (ops ``reserve``,
``attach``, ``detach``, ``connect``, ``disconnect``, ``status``).  The container's death is
seen through a pidfd.  It exits (closing slirp4netns's exit fd; the anchor gets SIGKILL through
its parent-death signal) when nothing is attached or reserved and it can take ``holder.lock``
without waiting (the CLI holds that lock from "is a holder running?" until its reservation).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import selectors
import signal
import socket
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from rootless import slirp, syscalls
from rootless.sockio import recv_line
from rpod.network import dns
from rpod.network.ifconfig import configure_container_if, default_route, in_netns, random_mac

SOCKET = "holder.sock"
LOCK = "holder.lock"
INFO = "holder.json"
RESERVE_TTL = 60.0
UPSTREAM_DNS = ("10.0.2.3", 53)
SLIRP_OPTIONS = {"mtu": 65520}  # --disable-host-loopback (default), sandbox + seccomp


def log(msg: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} holder[{os.getpid()}]: {msg}\n")
    sys.stderr.flush()


@dataclass
class Endpoint:
    network: str
    ip: str
    mac: str = ""
    aliases: list[str] = field(default_factory=list)
    ifname: str = ""
    host_if: str = ""


@dataclass
class Member:
    container: str
    name: str
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    pid: int = 0
    pidfd: int = -1
    expires: float = 0.0  # reservation deadline while not attached
    fwd_ids: list[int] = field(default_factory=list)
    keeper_fd: int = -1  # pidfd of the container's monitor: the member (and us) stay while it lives
    ports: list[dict[str, Any]] = field(default_factory=list)  # published, to the first network's address


class Holder:
    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        self.sel = selectors.DefaultSelector()
        self.networks: dict[str, dict[str, Any]] = {}  # name -> holder_view + "dns_sock"
        self.members: dict[str, Member] = {}
        self.ipr: Any = None
        self.slirp: slirp.Slirp | None = None
        self.anchor = 0
        self.pending: dict[int, tuple[socket.socket, socket.socket, Any, float]] = {}

    # ---------------------------------------------------------------- setup
    def start(self) -> None:
        self.anchor = _fork_anchor()
        self.slirp = slirp.start(f"/proc/{self.anchor}/ns/net", self.state_dir, SLIRP_OPTIONS, netns_type="path")
        fd = os.open(f"/proc/{self.anchor}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        syscalls.setns(fd, syscalls.CLONE_NEWNET)
        os.close(fd)
        from pyroute2 import IPRoute

        self.ipr = IPRoute()
        self.ipr.link("set", index=self._index("lo"), state="up")
        _sysctl("net/ipv4/ip_forward", "1")
        _sysctl("net/ipv4/conf/tap0/proxy_arp", "1")
        self.listener = _bind_unix(self.state_dir, SOCKET)
        self.sel.register(self.listener, selectors.EVENT_READ, ("control", None))

    def _index(self, ifname: str) -> int:
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            raise LookupError(f"no interface {ifname}")
        return found[0]

    def ensure_network(self, view: dict[str, Any]) -> dict[str, Any]:
        name = view["name"]
        if name in self.networks:
            return self.networks[name]
        iface = view["iface"]
        if not self.ipr.link_lookup(ifname=iface):
            self.ipr.link("add", ifname=iface, kind="bridge")
        idx = self._index(iface)
        with contextlib.suppress(Exception):
            self.ipr.addr("add", index=idx, address=view["gateway"], prefixlen=int(view["prefix"]))
        self.ipr.link("set", index=idx, state="up")
        net = dict(view)
        mine = ipaddress.ip_network(view["subnet"])
        for other in self.networks.values():  # no routing between different networks
            theirs = other["subnet"]
            for src, dst in ((str(mine), theirs), (theirs, str(mine))):
                with contextlib.suppress(Exception):
                    self.ipr.rule("add", src=src.split("/")[0], src_len=int(src.split("/")[1]),
                                  dst=dst.split("/")[0], dst_len=int(dst.split("/")[1]), action="FR_ACT_PROHIBIT",
                                  priority=100)
        if view.get("internal"):
            with contextlib.suppress(Exception):  # internal: nothing leaves the bridge's subnet
                self.ipr.rule("add", src=str(mine.network_address), src_len=mine.prefixlen,
                              action="FR_ACT_PROHIBIT", priority=200)
                self.ipr.rule("add", dst=str(mine.network_address), dst_len=mine.prefixlen,
                              action="FR_ACT_TO_TBL", table=254, priority=150)
        if view.get("dns", True):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((view["gateway"], 53))
            s.setblocking(False)
            net["dns_sock"] = s
            self.sel.register(s, selectors.EVENT_READ, ("dns", name))
        self.networks[name] = net
        log(f"network {name}: {iface} {view['gateway']}/{view['prefix']}")
        return net

    # ---------------------------------------------------------------- ops
    def op_reserve(self, req: dict[str, Any]) -> dict[str, Any]:
        cid = req["container"]
        m = self.members.get(cid) or Member(cid, req.get("name") or cid[:12])
        m.expires = time.monotonic() + RESERVE_TTL if not m.pid else 0.0
        m.name = req.get("name") or m.name
        out = {}
        for view in req["networks"]:
            net = self.ensure_network(view)
            ep = m.endpoints.get(view["name"])
            if ep is None:
                ep = Endpoint(view["name"], self._free_ip(net, view.get("ip") or ""),
                              view.get("mac") or random_mac(), list(view.get("aliases") or []))
                m.endpoints[view["name"]] = ep
            out[view["name"]] = {"ip": ep.ip, "prefix": net["prefix"], "gateway": net["gateway"], "mac": ep.mac,
                                 "iface": net["iface"]}
        self.members[cid] = m
        if req.get("client") and not m.pid:  # the CLI that reserved: if it dies before any attach, drop
            with contextlib.suppress(OSError):
                fd = os.pidfd_open(int(req["client"]))
                self.sel.register(fd, selectors.EVENT_READ, ("client-gone", (cid, fd)))
        return {"networks": out}

    def _free_ip(self, net: dict[str, Any], wanted: str = "") -> str:
        used = {ep.ip for m in self.members.values() for ep in m.endpoints.values() if ep.network == net["name"]}
        used.add(net["gateway"])
        if wanted:  # --ip / ip=: a static address
            if ipaddress.ip_address(wanted) not in ipaddress.ip_network(net["subnet"]):
                raise RuntimeError(f"requested static ip {wanted} not in any subnet on network {net['name']}")
            if wanted in used:
                raise RuntimeError(f"IPAM error: requested ip address {wanted} is already allocated "
                                   f"to another container on network {net['name']}")
            return wanted
        # host-local's order: the next free address after the last one handed out, wrapping
        hosts = [str(h) for h in ipaddress.ip_network(net["subnet"]).hosts()]
        last = net.get("last_ip")
        start = hosts.index(last) + 1 if last in hosts else 0
        for ip in hosts[start:] + hosts[:start]:
            if ip not in used:
                net["last_ip"] = ip
                return ip
        raise RuntimeError(f"network {net['name']} has no free address left")

    def op_attach(self, req: dict[str, Any]) -> dict[str, Any]:
        cid = req["container"]
        m = self.members.get(cid)
        if m is None:  # a restart by the monitor (the previous run was detached)
            self.op_reserve(req)
            m = self.members[cid]
        m.pid = int(req["pid"])
        m.expires = 0.0
        for i, ep in enumerate(m.endpoints.values()):
            self._plug(m, ep, i == 0)
        with contextlib.suppress(OSError):
            m.pidfd = os.pidfd_open(m.pid)
            self.sel.register(m.pidfd, selectors.EVENT_READ, ("died", cid))
        if req.get("monitor") and m.keeper_fd < 0:  # a restart by the monitor must find us here
            with contextlib.suppress(OSError):
                m.keeper_fd = os.pidfd_open(int(req["monitor"]))
                self.sel.register(m.keeper_fd, selectors.EVENT_READ, ("monitor-gone", cid))
        m.ports = list(req.get("ports") or [])
        self._forward(m)
        log(f"attached {m.name} ({cid[:12]}) pid {m.pid}: "
            + ", ".join(f"{ep.network}={ep.ip}" for ep in m.endpoints.values()))
        return {"ok": True}

    def _plug(self, m: Member, ep: Endpoint, default_route: bool) -> None:
        if ep.host_if and self.ipr.link_lookup(ifname=ep.host_if):
            return
        net = self.networks[ep.network]
        used = {e.ifname for e in m.endpoints.values() if e.ifname and e is not ep}
        ep.ifname = ep.ifname if ep.ifname and ep.ifname not in used else next(
            f"eth{i}" for i in range(64) if f"eth{i}" not in used)  # a reload plugs it again by its name
        ep.host_if = "veth" + format(zlib.crc32(f"{m.container}/{ep.network}".encode()), "08x")
        self.ipr.link("add", ifname=ep.host_if, kind="veth", peer={"ifname": ep.ifname, "net_ns_pid": m.pid})
        idx = self._index(ep.host_if)
        self.ipr.link("set", index=idx, master=self._index(net["iface"]), state="up")
        in_netns(m.pid, configure_container_if, ep.ifname, ep.ip, int(net["prefix"]), ep.mac,
                  net["gateway"] if default_route else "")

    def _forward(self, m: Member) -> None:
        """(Re)publish ``m``'s ports to its first network's address (they follow it on connect,
        disconnect and reload)."""
        self._unforward(m)
        first = next(iter(m.endpoints.values()), None)
        for p in m.ports if first is not None else []:
            reply = self.slirp.request({"execute": "add_hostfwd", "arguments": {  # type: ignore[union-attr]
                "proto": p.get("proto", "tcp"), "host_addr": p.get("host_ip") or "0.0.0.0",
                "host_port": int(p["host_port"]), "guest_addr": first.ip, "guest_port": int(p["container_port"])}})
            if "error" in reply:
                raise RuntimeError(f"cannot publish {p.get('host_ip') or '0.0.0.0'}:{p['host_port']}/"
                                   f"{p.get('proto', 'tcp')}: {(reply.get('error') or {}).get('desc', reply)}")
            m.fwd_ids.append(int((reply.get("return") or {}).get("id", 0)))

    def _unforward(self, m: Member) -> None:
        for fid in m.fwd_ids:
            with contextlib.suppress(Exception):
                self.slirp.request({"execute": "remove_hostfwd", "arguments": {"id": fid}})  # type: ignore[union-attr]
        m.fwd_ids = []

    def op_detach(self, req: dict[str, Any]) -> dict[str, Any]:
        """The container stopped: unplug it, free its ports and names.  Its addresses stay
        reserved while its monitor lives (an automatic restart attaches again)."""
        m = self.members.get(req["container"])
        if m is None:
            return {"ok": True}
        for ep in m.endpoints.values():
            if ep.host_if:
                with contextlib.suppress(Exception):
                    self.ipr.link("del", index=self._index(ep.host_if))
                ep.host_if = ep.ifname = ""
        self._unforward(m)
        _close_watch(self.sel, m.pidfd)
        m.pidfd, m.pid = -1, 0
        if m.keeper_fd < 0 or req.get("final"):
            self._drop(m)
        log(f"detached {m.name} ({m.container[:12]})")
        return {"ok": True}

    def client_gone(self, cid: str, fd: int) -> None:
        """The CLI that reserved addresses exited: a start that failed before attaching."""
        _close_watch(self.sel, fd)
        m = self.members.get(cid)
        if m is not None and not m.pid and m.keeper_fd < 0:
            self._drop(m)
            log(f"reservation of {cid[:12]} dropped: its CLI exited without a start")

    def monitor_gone(self, cid: str) -> None:
        """The monitor died: a container still running keeps its network until it dies too."""
        m = self.members.get(cid)
        if m is None:
            return
        _close_watch(self.sel, m.keeper_fd)
        m.keeper_fd = -1
        if not m.pid:
            self._drop(m)

    def _drop(self, m: Member) -> None:
        _close_watch(self.sel, m.keeper_fd)
        _close_watch(self.sel, m.pidfd)
        m.keeper_fd = m.pidfd = -1
        self.members.pop(m.container, None)

    def _unplug(self, m: Member, eps: list[Endpoint]) -> None:
        for ep in eps:
            if ep.host_if:
                with contextlib.suppress(Exception):
                    self.ipr.link("del", index=self._index(ep.host_if))
            m.endpoints.pop(ep.network, None)

    def op_connect(self, req: dict[str, Any]) -> dict[str, Any]:
        m = self.members.get(req["container"])
        if m is None or not m.pid:
            raise RuntimeError("the container is not attached to this holder")
        out = self.op_reserve({**req, "name": m.name})
        ep = m.endpoints[req["networks"][0]["name"]]
        self._plug(m, ep, len(m.endpoints) == 1)
        if len(m.endpoints) == 1:
            self._forward(m)
        return out

    def op_disconnect(self, req: dict[str, Any]) -> dict[str, Any]:
        m = self.members.get(req["container"])
        if m is not None and req["network"] in m.endpoints:
            was_first = next(iter(m.endpoints)) == req["network"]
            self._unplug(m, [m.endpoints[req["network"]]])
            first = next(iter(m.endpoints.values()), None)
            if was_first and m.pid:  # the default route and the published ports move to the next network
                if first is not None:
                    in_netns(m.pid, default_route, self.networks[first.network]["gateway"])
                self._forward(m)
        return {"ok": True}

    def op_reload(self, req: dict[str, Any]) -> dict[str, Any]:
        """``network reload``: plug again any interface the container lost (same address and
        MAC) and publish its ports again."""
        m = self.members.get(req["container"])
        if m is None or not m.pid:
            raise RuntimeError("the container is not attached to this holder")
        for i, ep in enumerate(m.endpoints.values()):
            self._plug(m, ep, i == 0)
        self._forward(m)
        return {"networks": {n: ep.ip for n, ep in m.endpoints.items()}}

    def op_status(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "members": {cid: {"name": m.name, "pid": m.pid, "networks": {
            n: ep.ip for n, ep in m.endpoints.items()}} for cid, m in self.members.items()}}

    # ---------------------------------------------------------------- loop
    def records(self, network: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for m in self.members.values():
            ep = m.endpoints.get(network)
            if ep is None or not m.pid:
                continue
            for n in {m.name, m.container[:12], *ep.aliases}:
                out.setdefault(n.lower(), []).append(ep.ip)
        return out

    def on_dns(self, sock: socket.socket, network: str) -> None:
        try:
            query, peer = sock.recvfrom(4096)
        except BlockingIOError:
            return
        reply = dns.answer(query, self.records(network))
        if reply is None:
            self.forward(query, sock, peer)
            return
        with contextlib.suppress(OSError):
            sock.sendto(reply, peer)

    def forward(self, query: bytes, sock: socket.socket, peer: Any) -> None:
        """Relay a query for a name that is not ours to slirp's resolver, without blocking the loop."""
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.setblocking(False)
        try:
            up.sendto(query, UPSTREAM_DNS)
        except OSError:
            up.close()
            return
        self.pending[up.fileno()] = (up, sock, peer, time.monotonic() + 5.0)
        self.sel.register(up, selectors.EVENT_READ, ("upstream", None))

    def on_upstream(self, up: socket.socket) -> None:
        entry = self.pending.pop(up.fileno(), None)
        with contextlib.suppress(Exception):
            self.sel.unregister(up)
        with contextlib.suppress(OSError):
            data = up.recv(4096)
            if entry is not None:
                entry[1].sendto(data, entry[2])
        up.close()

    def expire_forwards(self) -> None:
        now = time.monotonic()
        for fd, (up, _s, _p, deadline) in list(self.pending.items()):
            if deadline < now:
                self.pending.pop(fd, None)
                with contextlib.suppress(Exception):
                    self.sel.unregister(up)
                up.close()

    def on_control(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(5)
            data = b""
            with contextlib.suppress(OSError):
                data = recv_line(conn)
            try:
                req = json.loads(data)
                reply = getattr(self, f"op_{req['op']}")(req)
            except Exception as e:  # every failure goes back to the caller
                log(f"request failed: {e.__class__.__name__}: {e}")
                reply = {"error": f"{e}"}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def idle(self) -> bool:
        now = time.monotonic()
        for cid, m in list(self.members.items()):
            if not m.pid and m.expires and m.expires < now:
                self.members.pop(cid)
        return not self.members

    def loop(self) -> None:
        lock = os.open(os.path.join(self.state_dir, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        while True:
            for key, _ in self.sel.select(1.0):
                kind, arg = key.data
                if kind == "control":
                    self.on_control()
                elif kind == "dns":
                    self.on_dns(key.fileobj, arg)  # type: ignore[arg-type]
                elif kind == "died":
                    self.op_detach({"container": arg})
                elif kind == "monitor-gone":
                    self.monitor_gone(arg)
                elif kind == "client-gone":
                    self.client_gone(*arg)
                elif kind == "upstream":
                    self.on_upstream(key.fileobj)  # type: ignore[arg-type]
            self.expire_forwards()
            if self.idle():
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a CLI is about to reserve
                if self.idle():
                    for name in (INFO, SOCKET):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(os.path.join(self.state_dir, name))
                    log("no container left: exiting")
                    os.close(lock)  # a new holder may start while this one winds down
                    return
                fcntl.flock(lock, fcntl.LOCK_UN)

    def stop(self) -> None:
        if self.slirp is not None:
            self.slirp.release()  # it exits on its own (closing tap0 takes a grace period)
        if self.anchor:
            with contextlib.suppress(OSError):
                os.kill(self.anchor, signal.SIGKILL)


# -------------------------------------------------------------------- helpers
def _close_watch(sel: selectors.BaseSelector, fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(Exception):
            sel.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)


def _fork_anchor() -> int:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the anchor
        try:
            os.close(r)
            syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
            syscalls.unshare(syscalls.CLONE_NEWNET)
            os.write(w, b"1")
            os.close(w)
            for fd in range(3, 256):
                with contextlib.suppress(OSError):
                    os.close(fd)
            while True:
                signal.pause()
        finally:
            os._exit(0)
    os.close(w)
    ok = os.read(r, 1)
    os.close(r)
    if ok != b"1":
        raise RuntimeError("the network namespace anchor failed to start")
    return pid


def _sysctl(key: str, value: str) -> None:
    with open(f"/proc/sys/{key}", "w") as f:
        f.write(value)


def _bind_unix(directory: str, name: str) -> socket.socket:
    dfd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, name))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.bind(f"/proc/self/fd/{dfd}/{name}")
        s.listen(16)
        s.setblocking(False)
        return s
    finally:
        os.close(dfd)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state_dir, ready_fd = args[0], int(args[1])
    holder = Holder(state_dir)
    try:
        holder.start()
    except BaseException as e:
        log(f"setup failed: {e.__class__.__name__}: {e}")
        with contextlib.suppress(OSError):
            os.write(ready_fd, json.dumps({"error": f"{e}"}).encode())
        holder.stop()
        return 1
    info = {"pid": os.getpid(), "anchor": holder.anchor}
    with open(os.path.join(state_dir, INFO + ".tmp"), "w") as f:
        json.dump(info, f)
    os.replace(os.path.join(state_dir, INFO + ".tmp"), os.path.join(state_dir, INFO))
    os.write(ready_fd, json.dumps(info).encode())
    os.close(ready_fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        holder.loop()
    finally:
        holder.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
