"""How the monitor creates, starts and deletes its container: ``InProcessRuntime`` (rpod's
runtime core in a forked child of the monitor, the default) or ``CliRuntime`` (an OCI runtime
CLI such as crun, ``--runtime``)."""

from __future__ import annotations

import _signal as signal
import os
import sys

from rootless import ctrfiles, minijson, sockio
from rootless.monitor import lean
from rootless.monitor.config import MonitorConfig

# The monitor stays for the container's whole life: every module it imports costs memory in
# every container (dataclasses ~1.5 MB, subprocess+tempfile ~1.3 MB, typing ~0.6 MB), so
# those are imported only where used, and annotations are never evaluated.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import subprocess
    from typing import Any


class RuntimeError_(Exception):
    """The runtime failed to create or start the container; ``exit_code`` is 125, 126 or 127."""

    def __init__(self, message: str, exit_code: int = 125):
        super().__init__(message)
        self.exit_code = exit_code


def _classify(message: str, default: int = 125) -> int:
    low = message.lower()
    if "not found" in low or "no such file" in low:
        return 127
    if "permission denied" in low or "exec format" in low or "is a directory" in low:
        return 126
    return default


class InProcessRuntime:
    """The runtime core (``rootless.runtime.api``) run in a forked child of the monitor, which
    exits once the container started: the container's init is reparented to us (subreaper), and
    the monitor never imports the runtime nor keeps its garbage (~4 MB per container).

    The child (``runtime_child``) imports the runtime, then serves ``create`` (stdio fds passed
    with SCM_RIGHTS), ``start`` and ``delete`` orders, one JSON line each, on a socket pair.
    ``prefork()`` starts one before the monitor has its configuration, so the runtime's ~20 ms
    import overlaps the CLI writing the bundle; later orders fork a fresh child.
    """

    _preforked: _socket.socket | None = None
    _preforked_pid = 0

    def __init__(self, cfg: MonitorConfig):
        self.cfg = cfg
        self.child = 0
        self.chan: _socket.socket | None = None

    @classmethod
    def prefork(cls, close: tuple[int, ...] = ()) -> None:
        cls._preforked_pid, cls._preforked = _fork_runtime_child(close)

    @classmethod
    def discard_prefork(cls) -> None:
        if cls._preforked is not None:
            cls._preforked.close()
            cls._preforked = None
            with lean.suppress(ChildProcessError):
                os.waitpid(cls._preforked_pid, 0)

    def _order(self, msg: dict[str, Any], fds: tuple[int, ...] = ()) -> dict[str, Any]:
        if self.chan is None:
            if InProcessRuntime._preforked is not None:
                self.child, self.chan = InProcessRuntime._preforked_pid, InProcessRuntime._preforked
                InProcessRuntime._preforked = None
            else:
                self.child, self.chan = _fork_runtime_child()
        c = self.cfg
        data = minijson.dumps({**msg, "id": c.id, "bundle": c.bundle, "state_root": c.state_root}).encode() + b"\n"
        try:
            lean.send_fds(self.chan, data, list(fds)) if fds else self.chan.sendall(data)
            reply = sockio.recv_line(self.chan)
        except OSError:
            reply = b""
        out = minijson.loads(reply) if reply.strip() else {"error": "the runtime exited without a word", "exit_code": 125}
        if "error" in out:
            self._finish_child()
            raise RuntimeError_(str(out["error"]), int(out.get("exit_code") or 125))
        return out

    def _finish_child(self) -> None:
        if self.chan is not None:
            self.chan.close()  # the child exits on EOF
            self.chan = None
        if self.child:
            with lean.suppress(ChildProcessError):
                os.waitpid(self.child, 0)
            self.child = 0

    def create(self, stdio_fds: tuple[int, int, int], console_socket: str | None) -> int:
        preserved = self.cfg.preserve_fds or []
        order = {"cmd": "create", "console_socket": console_socket, "preserve": [fd >= 0 for fd in preserved]}
        fds = (*stdio_fds, *(fd for fd in preserved if fd >= 0))
        return int(self._order(order, fds)["pid"])

    def start(self) -> None:
        self._order({"cmd": "start"})
        self._finish_child()

    def delete(self) -> None:
        with lean.suppress(Exception):
            self._order({"cmd": "delete"})
        self._finish_child()


def _fork_runtime_child(close: tuple[int, ...] = ()) -> tuple[int, _socket.socket]:
    ours, theirs = lean.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        for fd in close:  # e.g. the sync socket: the CLI must see EOF when the monitor dies
            with lean.suppress(OSError):
                os.close(fd)
        code = 1
        try:
            code = runtime_child(theirs)
        finally:
            os._exit(code)
    theirs.close()
    return pid, ours


def runtime_child(chan: _socket.socket) -> int:
    """The forked runtime: serve orders from the monitor until ``start``/``delete`` or EOF."""
    # the container's processes start with every signal at its default, as crun leaves them: not
    # the interpreter's ignored SIGPIPE/SIGXFSZ, nor what the user's shell ignored (``nohup rpod run``
    # ignores SIGHUP, and a shell in the container cannot trap a signal ignored at its start)
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # (the C library's reserved real-time signals)
            pass
    from rootless.runtime import api

    while True:
        data, fds = lean.recv_fds(chan, 65536, 253)  # stdio + --preserve-fds (SCM_MAX_FD)
        if not data:
            return 0
        data = sockio.recv_line(chan, data)
        if not data.endswith(b"\n"):
            return 0
        msg = minijson.loads(data)
        try:
            if msg["cmd"] == "create":
                present = msg.get("preserve") or []
                if present:
                    chan, fds = _place_preserved(chan, fds, present)
                reply: dict[str, Any] = {"pid": api.create(msg["id"], msg["bundle"], msg["state_root"],
                                                           stdio=tuple(fds[:3]), console_socket=msg["console_socket"],
                                                           preserve_fds=len(present))}
                for fd in fds[:3]:
                    os.close(fd)
            elif msg["cmd"] == "start":
                api.start(msg["id"], msg["state_root"])
                reply = {"started": True}
            else:
                api.delete(msg["id"], msg["state_root"], force=True)
                reply = {"deleted": True}
        except Exception as e:  # the runtime's errors carry exit_code when they know it
            ec = getattr(e, "exit_code", None)
            reply = {"error": str(e) or e.__class__.__name__, "exit_code": ec if ec in (125, 126, 127) else 125}
        chan.sendall(minijson.dumps(reply).encode() + b"\n")
        if msg["cmd"] != "create" or "error" in reply:
            return 0


def _place_preserved(chan: _socket.socket, fds: list[int], present: list[bool]) -> tuple[_socket.socket, list[int]]:
    """Put the preserved fds (``fds[3:]``, one per true ``present``) at 3, 4, ... in this
    process, where the runtime hands them to the container; the order socket and the stdio
    fds move above them first, and a number the CLI had no fd at stays closed."""
    import _socket
    import fcntl

    top = 3 + len(present)

    def lift(fd: int) -> int:
        if fd >= top:
            return fd
        new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, top)
        os.close(fd)
        return new

    if chan.fileno() < top:
        chan = _socket.socket(fileno=lift(chan.detach()))
    fds = [lift(fd) for fd in fds]
    extras = iter(fds[3:])
    for i, there in enumerate(present):
        if there:
            fd = next(extras)
            os.dup2(fd, 3 + i)
            os.close(fd)
        else:
            with lean.suppress(OSError):
                os.close(3 + i)
    return chan, fds[:3]


class CliRuntime:
    """An OCI runtime binary (crun, runc, ``python -m rootless.runtime``); its init is reparented to us."""

    def __init__(self, cfg: MonitorConfig):
        self.cfg = cfg
        self.base = [*cfg.runtime, "--root", cfg.state_root]  # type: ignore[misc]

    def _run(self, args: list[str], stdio_fds: tuple[int, int, int] | None = None, userns: Any = None) -> None:
        import subprocess
        import tempfile

        # errors go to a file: a pipe would be held open by the container's init forever
        with tempfile.TemporaryFile() as err:
            kw: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": err}
            if stdio_fds:
                kw.update(stdin=stdio_fds[0], stdout=stdio_fds[1], stderr=stdio_fds[2])
            log = os.path.join(self.cfg.run_dir, ctrfiles.RUNTIME_LOG)
            argv = [*self.base, "--log", f"file:{log}", *args]
            if userns is not None:
                proc = _run_in_userns(argv, userns, kw)
            else:
                proc = subprocess.run(argv, check=False, **kw)
            if proc.returncode != 0:
                err.seek(0)
                msg = err.read().decode(errors="replace").strip()
                with lean.suppress(OSError), open(log) as f:
                    msg = msg or f.read().strip()
                msg = msg or f"{args[0]} failed"
                raise RuntimeError_(msg, _classify(msg))

    def create(self, stdio_fds: tuple[int, int, int], console_socket: str | None) -> int:
        if self.cfg.preserve_fds:
            raise RuntimeError_("--preserve-fds and LISTEN_FDS need rpod's built-in runtime (not --runtime)")
        pid_file = os.path.join(self.cfg.run_dir, ctrfiles.CONTAINER_PID)
        args = ["create", "--bundle", self.cfg.bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        userns = _rootfs_userns(self.cfg)
        if userns is not None:
            args += ["--config", userns["config"]]
        self._run([*args, self.cfg.id], stdio_fds, userns)
        with open(pid_file) as f:
            return int(f.read().strip())

    def start(self) -> None:
        self._run(["start", self.cfg.id])

    def delete(self) -> None:
        import subprocess

        with lean.suppress(Exception):
            subprocess.run([*self.base, "delete", "--force", self.cfg.id], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_SHIM = r"""
import os, sys, json
sys.path.insert(0, sys.argv[1])
from rootless.overlay import mount_overlay
spec = json.loads(sys.argv[2])
mount_overlay(list(spec["lowerdir"]), spec["upperdir"], spec["workdir"], sys.argv[3], spec.get("driver", "kernel"))
os.execvp(sys.argv[4], sys.argv[4:])
"""


def _rootfs_userns(cfg: MonitorConfig) -> dict[str, Any] | None:
    """For an OCI runtime CLI and an rpod bundle (overlay annotation, own user namespace): the
    mapping and a config variant without the user namespace, for ``_run_in_userns``.  The runtime
    cannot mount rpod's overlay, so it is mounted beforehand in a user namespace the runtime then
    runs in as root (as Podman rootless does with crun)."""
    import json  # an OCI runtime CLI only: the default path never imports json (rootless.minijson)

    with open(os.path.join(cfg.bundle, ctrfiles.SPEC)) as f:
        config = json.load(f)
    overlay = (config.get("annotations") or {}).get("run.rpod.overlay")
    linux = config.get("linux") or {}
    if not overlay or not any(ns.get("type") == "user" for ns in linux.get("namespaces") or []):
        return None
    uid_map, gid_map = linux.pop("uidMappings", []), linux.pop("gidMappings", [])
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns.get("type") != "user"]
    rootfs = config["root"]["path"]
    if not os.path.isabs(rootfs):
        rootfs = os.path.join(cfg.bundle, rootfs)
    path = os.path.join(cfg.run_dir, ctrfiles.RUNTIME_SPEC)
    with open(path, "w") as f:
        json.dump(config, f)
    return {"config": path, "uid_map": uid_map, "gid_map": gid_map, "overlay": overlay, "rootfs": rootfs}


def _run_in_userns(argv: list[str], userns: dict[str, Any], kw: dict[str, Any]) -> subprocess.CompletedProcess:
    """Run the runtime CLI ``argv`` as root of a new user and mount namespace with the overlay mounted."""
    import subprocess

    from rootless.subid import IdMap, Mapping
    from rootless.userns import PACKAGE_PARENT, popen

    mapping = Mapping(tuple(IdMap.from_oci(m) for m in userns["uid_map"]),
                      tuple(IdMap.from_oci(m) for m in userns["gid_map"]), "subid")
    shim = [sys.executable, "-I", "-S", "-c", _SHIM, PACKAGE_PARENT, userns["overlay"], userns["rootfs"], *argv]
    with popen(shim, mapping, **kw) as proc:
        proc.wait()
    return subprocess.CompletedProcess(shim, proc.returncode)
