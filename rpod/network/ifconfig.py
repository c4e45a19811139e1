"""What the network holder (``rpod.network.holder``) runs inside a container's network
namespace: the interface's address, MAC and routes (pyroute2, from a forked child that joined
the namespace), and the MACs it hands out."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from typing import Any

from rootless import syscalls


def in_netns(pid: int, fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` in a forked child that joined ``pid``'s network namespace."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(r)
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            syscalls.setns(fd, syscalls.CLONE_NEWNET)
            fn(*args)
            code = 0
        except BaseException as e:  # noqa: BLE001
            with contextlib.suppress(OSError):
                os.write(w, f"{e.__class__.__name__}: {e}".encode())
        finally:
            os._exit(code)
    os.close(w)
    err = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        err += chunk
    os.close(r)
    _, status = os.waitpid(child, 0)
    if status != 0:
        raise RuntimeError(f"configuring the container's interface failed: {err.decode(errors='replace')}")


def configure_container_if(ifname: str, ip: str, prefix: int, mac: str, gateway: str) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=ifname)[0]
        if mac:
            ipr.link("set", index=idx, address=mac)
        kw = {}
        if ":" not in ip and prefix < 31:  # the broadcast address too, as netavark sets it (``ip a`` shows brd)
            kw["broadcast"] = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).broadcast_address)
        ipr.addr("add", index=idx, address=ip, prefixlen=prefix, **kw)
        ipr.link("set", index=idx, state="up")
        lo = ipr.link_lookup(ifname="lo")
        if lo:
            ipr.link("set", index=lo[0], state="up")
        if gateway:
            ipr.route("add", dst="0.0.0.0/0", gateway=gateway)


def default_route(gateway: str) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        ipr.route("replace", dst="0.0.0.0/0", gateway=gateway)


def random_mac() -> str:
    """A random locally administered unicast MAC (netavark's choice: a new one each connection)."""
    b = bytearray(os.urandom(6))
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)
