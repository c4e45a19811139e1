"""slirp4netns driver: user-mode networking for a network namespace the user owns.

Started by the monitor once the container's init exists (blocked on the exec fifo) and before
``start``: ``slirp4netns --configure --mtu=65520 --disable-host-loopback ... --ready-fd R
--exit-fd E --api-socket S PID tap0``.  slirp4netns joins the init's user and network
namespaces, creates ``tap0`` (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3) and writes to the
ready fd.  It exits when the exit fd's write end, held only by the monitor, closes: when the
container exits (``Slirp.close``) or the monitor dies.  Published ports go through its API
socket (``add_hostfwd``); libslirp's forwarder keeps a non-loopback client's source address.

Stdlib only, and C modules only (it runs inside the monitor's ``python -I -S`` for the
container's whole life: ``subprocess``, ``json``, ``dataclasses``, ``typing``, ``socket`` would cost
~4 MB in every networked container, docs/performance.md).
"""

from __future__ import annotations

import _socket
import os
import select
import time

from rootless import minijson
from rootless.errors import RootlessError
from rootless.procspawn import Child, spawn, which

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TUN = "/dev/net/tun"
TAP = "tap0"
DEFAULT_MTU = 65520
API_SOCKET = "slirp4netns.sock"
LOG_FILE = "slirp4netns.log"
READY_TIMEOUT = 10.0
BOOL_OPTIONS = ("allow_host_loopback", "enable_ipv6", "enable_sandbox", "enable_seccomp", "disable_dns")
STR_OPTIONS = ("outbound_addr", "outbound_addr6", "cidr", "port_handler", "mac")
INT_OPTIONS = ("mtu",)


class NetworkSetupError(RootlessError):
    """The container's network could not be set up (exit code 125)."""

    exit_code = 125


def check_tun(path: str = TUN) -> None:
    """Raise ``NetworkSetupError`` with the fix when ``/dev/net/tun`` cannot be opened read-write."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        raise NetworkSetupError(
            f"{path} is not usable by this user ({e.strerror}): slirp4netns and pasta need it for the "
            "container's tap device",
            hint=f"as root: chmod 0666 {TUN} (the mode udev gives it), or `modprobe tun` if it is missing; "
                 "or run with --network none|host") from e
    os.close(fd)


def parse_options(text: str) -> dict[str, Any]:
    """``allow_host_loopback=true,mtu=1500,...`` (the part after ``slirp4netns:``) → a dict.
    Raises ``NetworkSetupError`` for unknown keys or bad values."""
    out: dict[str, Any] = {}
    for item in filter(None, (text or "").split(",")):
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if key in BOOL_OPTIONS:
            low = value.lower() if sep else "true"
            if low not in ("true", "false"):
                raise NetworkSetupError(f"invalid slirp4netns option {item!r}: {key} is true or false")
            out[key] = low == "true"
        elif key in INT_OPTIONS:
            if not value.isdigit() or not 68 <= int(value) <= 65521:
                raise NetworkSetupError(f"invalid slirp4netns option {item!r}: mtu is 68..65521")
            out[key] = int(value)
        elif key in STR_OPTIONS and sep and value:
            if key == "port_handler" and value not in ("slirp4netns", "rootlesskit"):
                raise NetworkSetupError(f"invalid slirp4netns option {item!r}: port_handler is slirp4netns or rootlesskit")
            out[key] = value
        else:
            raise NetworkSetupError(
                f"unknown slirp4netns option {item!r}",
                hint="use allow_host_loopback=, enable_ipv6=, mtu=, outbound_addr=, outbound_addr6=, cidr=, "
                     "port_handler=, enable_sandbox=, enable_seccomp=")
    return out


def binary() -> str:
    found = which("slirp4netns")
    if not found:
        raise NetworkSetupError("slirp4netns is not installed", hint="apt-get install slirp4netns, or use --network none")
    return found


def argv_for(exe: str, target: str, opts: dict[str, Any], *, ready_fd: int, exit_fd: int, api_socket: str | None,
             netns_type: str = "pid", userns_path: str | None = None, tap: str = TAP) -> list[str]:
    """The slirp4netns command line for ``target`` (a pid, or a netns path with ``netns_type="path"``)."""
    argv = [exe, "--configure", f"--mtu={opts.get('mtu', DEFAULT_MTU)}", f"--ready-fd={ready_fd}",
            f"--exit-fd={exit_fd}"]
    if not opts.get("allow_host_loopback"):
        argv.append("--disable-host-loopback")
    if opts.get("enable_ipv6"):
        argv.append("--enable-ipv6")
    if opts.get("enable_sandbox", True):
        argv.append("--enable-sandbox")
    if opts.get("enable_seccomp", True):
        argv.append("--enable-seccomp")
    if opts.get("disable_dns"):
        argv.append("--disable-dns")
    for key in ("outbound_addr", "outbound_addr6", "cidr"):
        if opts.get(key):
            argv.append(f"--{key.replace('_', '-')}={opts[key]}")
    if opts.get("mac"):
        argv.append(f"--macaddress={opts['mac']}")
    if api_socket:
        argv.append(f"--api-socket={api_socket}")
    if netns_type != "pid":
        argv.append(f"--netns-type={netns_type}")
    if userns_path:
        argv.append(f"--userns-path={userns_path}")
    return [*argv, target, tap]


class Slirp:
    """A running slirp4netns; ``close()`` makes it exit (closing the exit fd) and reaps it."""

    def __init__(self, proc: Child, exit_w: int, run_dir: str, api: bool = True) -> None:
        self.proc = proc
        self.exit_w = exit_w
        self.run_dir = run_dir
        self.api = api
        self.fwd_ids: list[int] = []

    def request(self, obj: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """One API request (JSON in, JSON out) over the API socket in ``run_dir``."""
        return api_request(self.run_dir, obj, timeout)

    def add_hostfwd(self, proto: str, host_addr: str, host_port: int, guest_port: int) -> int:
        """Forward ``host_addr:host_port`` to the guest's ``guest_port``; returns the forward id."""
        reply = self.request({"execute": "add_hostfwd", "arguments": {
            "proto": proto, "host_addr": host_addr or "0.0.0.0", "host_port": int(host_port),
            "guest_port": int(guest_port)}})
        if "error" in reply:
            desc = (reply.get("error") or {}).get("desc", reply)
            raise NetworkSetupError(
                f"cannot publish {host_addr or '0.0.0.0'}:{host_port}/{proto} through slirp4netns: {desc}",
                hint=f"is port {host_port}/{proto} already in use on the host? choose another one with -p")
        fid = int((reply.get("return") or {}).get("id", 0))
        self.fwd_ids.append(fid)
        return fid

    def release(self) -> None:
        """Free the published ports now (``remove_hostfwd``, well under a millisecond each) and tell
        slirp4netns to exit, without waiting: its exit takes 15-30 ms because closing the tap
        device waits for an RCU grace period (``synchronize_net``), which the container's exit
        code need not wait for.  The caller (a subreaper) reaps it later."""
        for fid in self.fwd_ids:
            try:
                self.request({"execute": "remove_hostfwd", "arguments": {"id": fid}}, timeout=1.0)
            except NetworkSetupError:
                pass
        self.fwd_ids = []
        if self.exit_w >= 0:
            try:
                os.close(self.exit_w)
            except OSError:
                pass
            self.exit_w = -1

    def close(self, timeout: float = 2.0) -> None:
        """``release()`` and wait until slirp4netns is gone (killed after ``timeout``)."""
        self.release()
        # wait on a pidfd (polling waitpid would sleep in steps)
        try:
            pidfd = os.pidfd_open(self.proc.pid)
        except OSError:  # already reaped (the monitor reaps every child)
            return
        try:
            if not select.select([pidfd], [], [], timeout)[0]:
                self.proc.kill()
                select.select([pidfd], [], [], 1.0)
        finally:
            os.close(pidfd)
        self.proc.poll()


def api_request(run_dir: str, obj: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to the slirp4netns API socket in ``run_dir`` (through ``/proc/self/fd``,
    so long run directories do not hit the 108-byte socket path limit)."""
    dfd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            s.settimeout(timeout)
            s.connect(f"/proc/self/fd/{dfd}/{API_SOCKET}")
            s.sendall(minijson.dumps(obj).encode())
            s.shutdown(_socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
    except OSError as e:
        raise NetworkSetupError(f"slirp4netns API socket in {run_dir}: {e.strerror or e}") from e
    finally:
        os.close(dfd)
    try:
        return minijson.loads(data or b"{}")
    except ValueError as e:
        raise NetworkSetupError(f"slirp4netns API answered {data[:200]!r}") from e


def start(target: str, run_dir: str, opts: dict[str, Any] | None = None, *, netns_type: str = "pid",
          userns_path: str | None = None, api: bool = True, timeout: float = READY_TIMEOUT) -> Slirp:
    """Start slirp4netns for ``target`` and wait until it has configured the tap device.

    Its stderr goes to ``run_dir/slirp4netns.log``; on failure the log's tail is in the error.
    The sandbox and seccomp filter are on unless asked off; where they do not work (an old
    kernel, a restricted mount namespace) it runs once more without them."""
    opts = dict(opts or {})
    kw = {"netns_type": netns_type, "userns_path": userns_path, "api": api, "timeout": timeout}
    try:
        return _start(target, run_dir, opts, **kw)  # type: ignore[arg-type]
    except NetworkSetupError:
        if "enable_sandbox" in opts and "enable_seccomp" in opts:
            raise
        return _start(target, run_dir, {"enable_sandbox": False, "enable_seccomp": False, **opts}, **kw)  # type: ignore[arg-type]


def _start(target: str, run_dir: str, opts: dict[str, Any], *, netns_type: str, userns_path: str | None,
           api: bool, timeout: float) -> Slirp:
    check_tun()
    exe = binary()
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    dfd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY)
    log_path = os.path.join(run_dir, LOG_FILE)
    try:
        os.unlink(os.path.join(run_dir, API_SOCKET))
    except FileNotFoundError:
        pass
    sock = f"/proc/self/fd/{dfd}/{API_SOCKET}" if api else None
    argv = argv_for(exe, target, opts, ready_fd=ready_w, exit_fd=exit_r, api_socket=sock,
                    netns_type=netns_type, userns_path=userns_path)
    try:
        with open(log_path, "ab") as log:
            offset = log.tell()  # the log is appended to across restarts: this run's lines only
            proc = spawn(argv, log.fileno(), log.fileno(), pass_fds=(ready_w, exit_r, dfd))
    except OSError as e:
        for fd in (ready_r, ready_w, exit_r, exit_w, dfd):
            os.close(fd)
        raise NetworkSetupError(f"cannot run slirp4netns: {e.strerror}") from e
    for fd in (ready_w, exit_r, dfd):
        os.close(fd)
    slirp = Slirp(proc, exit_w, run_dir, api)
    try:
        _wait_ready(ready_r, proc, log_path, timeout, offset)
    except BaseException:
        slirp.close(0.5)
        raise
    finally:
        os.close(ready_r)
    return slirp


def _wait_ready(ready_r: int, proc: Child, log_path: str, timeout: float, offset: int = 0) -> None:
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise NetworkSetupError(f"slirp4netns did not get ready within {timeout:.0f} s: {_tail(log_path, offset=offset)}")
        r, _, _ = select.select([ready_r], [], [], left)
        if r:
            data = os.read(ready_r, 16)
            if data:
                return
            raise NetworkSetupError(f"slirp4netns failed: {_tail(log_path, offset=offset) or f'exit {proc.wait()}'}")


def _tail(path: str, limit: int = 600, offset: int = 0) -> str:
    """Why slirp4netns failed, from its log (this run's part, from ``offset``): the lines before
    a usage text it printed (the real reason, e.g. ``unrecognized option``), never the usage."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln for ln in text.splitlines() if ln.strip() and "experimental" not in ln]
    usage = next((i for i, ln in enumerate(lines) if ln.startswith("Usage:")), None)
    if usage is not None:
        lines = lines[:usage] or ["slirp4netns rejected its command line (it printed its usage)"]
        return " | ".join(lines)[:limit]
    return " | ".join(lines)[-limit:]
