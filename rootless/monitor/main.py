"""conmon-like monitor: one per running container, outlives the CLI, owns stdio, logs and the exit code.

Started by the CLI as ``python -I -S`` (``rootless.userns.python_entry("rootless.monitor", CONFIG_JSON)``).
In order it: forks and ``setsid``s (the CLI reaps the first process at once), becomes a child
subreaper, sets up stdio, creates and starts the container through the runtime (in-process
``rootless.runtime.api`` by default, in a forked child: the container's init is reparented to us), reports
``{"pid": N}`` or ``{"error": ..., "exit_code": 125|126|127}`` on the sync socket, then runs
one event loop (container output → CLI fds, log and attach clients; attach input → stdin;
SIGCHLD; timers) until the container exits.  Then it drains the output, writes the exit
file, sends ``{"exit_code": N}`` on the sync socket (first, so the CLI is not kept waiting),
deletes the runtime state and, for
``--rm``, waits for the CLI to say it removed the container or runs the exit command itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import time

from rootless import ctrfiles, sockio
from rootless.monitor import exitfile, stdio
from rootless.monitor.config import ConfigError, MonitorConfig

# The monitor stays for the container's whole life: every module it imports costs memory in
# every container (dataclasses ~1.5 MB, subprocess+tempfile ~1.3 MB, typing ~0.6 MB), so
# those are imported only where used, and annotations are never evaluated.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from typing import Any

PR_SET_CHILD_SUBREAPER = 36
DRAIN_TIMEOUT = 2.0  # seconds to wait for output after the container's init exited
CLEANUP_ACK_TIMEOUT = 60.0
AWAIT_CHECK_MS = 500  # how often a monitor awaiting its configuration checks that its CLI lives


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

    _preforked: socket.socket | None = None
    _preforked_pid = 0

    def __init__(self, cfg: MonitorConfig):
        self.cfg = cfg
        self.child = 0
        self.chan: socket.socket | None = None

    @classmethod
    def prefork(cls, close: tuple[int, ...] = ()) -> None:
        cls._preforked_pid, cls._preforked = _fork_runtime_child(close)

    @classmethod
    def discard_prefork(cls) -> None:
        if cls._preforked is not None:
            cls._preforked.close()
            cls._preforked = None
            with contextlib.suppress(ChildProcessError):
                os.waitpid(cls._preforked_pid, 0)

    def _order(self, msg: dict[str, Any], fds: tuple[int, ...] = ()) -> dict[str, Any]:
        if self.chan is None:
            if InProcessRuntime._preforked is not None:
                self.child, self.chan = InProcessRuntime._preforked_pid, InProcessRuntime._preforked
                InProcessRuntime._preforked = None
            else:
                self.child, self.chan = _fork_runtime_child()
        c = self.cfg
        data = json.dumps({**msg, "id": c.id, "bundle": c.bundle, "state_root": c.state_root}).encode() + b"\n"
        try:
            socket.send_fds(self.chan, [data], list(fds)) if fds else self.chan.sendall(data)
            reply = sockio.recv_line(self.chan)
        except OSError:
            reply = b""
        out = json.loads(reply) if reply.strip() else {"error": "the runtime exited without a word", "exit_code": 125}
        if "error" in out:
            self._finish_child()
            raise RuntimeError_(str(out["error"]), int(out.get("exit_code") or 125))
        return out

    def _finish_child(self) -> None:
        if self.chan is not None:
            self.chan.close()  # the child exits on EOF
            self.chan = None
        if self.child:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.child, 0)
            self.child = 0

    def create(self, stdio_fds: tuple[int, int, int], console_socket: str | None) -> int:
        return int(self._order({"cmd": "create", "console_socket": console_socket}, stdio_fds)["pid"])

    def start(self) -> None:
        self._order({"cmd": "start"})
        self._finish_child()

    def delete(self) -> None:
        with contextlib.suppress(Exception):
            self._order({"cmd": "delete"})
        self._finish_child()


def _fork_runtime_child(close: tuple[int, ...] = ()) -> tuple[int, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        ours.close()
        for fd in close:  # e.g. the sync socket: the CLI must see EOF when the monitor dies
            with contextlib.suppress(OSError):
                os.close(fd)
        code = 1
        try:
            code = runtime_child(theirs)
        finally:
            os._exit(code)
    theirs.close()
    return pid, ours


def runtime_child(chan: socket.socket) -> int:
    """The forked runtime: serve orders from the monitor until ``start``/``delete`` or EOF."""
    # the container's processes must not inherit the interpreter's ignored signals
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    from rootless.runtime import api

    while True:
        data, fds, _flags, _addr = socket.recv_fds(chan, 65536, 3)
        if not data:
            return 0
        data = sockio.recv_line(chan, data)
        if not data.endswith(b"\n"):
            return 0
        msg = json.loads(data)
        try:
            if msg["cmd"] == "create":
                reply: dict[str, Any] = {"pid": api.create(msg["id"], msg["bundle"], msg["state_root"],
                                                           stdio=tuple(fds), console_socket=msg["console_socket"])}
                for fd in fds:
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
        chan.sendall(json.dumps(reply).encode() + b"\n")
        if msg["cmd"] != "create" or "error" in reply:
            return 0


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
                with contextlib.suppress(OSError), open(log) as f:
                    msg = msg or f.read().strip()
                msg = msg or f"{args[0]} failed"
                raise RuntimeError_(msg, _classify(msg))

    def create(self, stdio_fds: tuple[int, int, int], console_socket: str | None) -> int:
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

        with contextlib.suppress(Exception):
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


class Sink:
    """Where a container stream goes besides the log: the CLI's fd (foreground), if still open."""

    def __init__(self, fd: int, alive: bool = True) -> None:
        self.fd = fd
        self.alive = alive


class Monitor:
    """The monitor's state; the attributes below are the defaults (mutable ones set in __init__)."""

    pid: int = 0
    exit_status: int | None = None
    exited_ns: int = 0
    stdin_w: int = -1  # the container's stdin pipe (detached -i) or the pty master (terminal)
    detacher: Any = None  # a DetachMatcher on the CLI's terminal (foreground -it)
    master: int = -1
    open_streams: int = 0
    restart_count: int = 0
    started_ns: int = 0
    stop_requested: bool = False  # --health-on-failure=stop: no restart after this exit
    restart_requested: bool = False  # --health-on-failure=restart: restart after this exit
    exit_error: str | None = None
    sig_rfd: int = -1
    health: Any = None
    notify_proxy: Any = None

    def __init__(self, cfg: MonitorConfig) -> None:
        self.cfg = cfg
        self.sel = selectors.DefaultSelector()
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.clients: dict[int, tuple[socket.socket, bool]] = {}
        self.child_waiters: dict[int, Callable[[int], None]] = {}  # pid -> on wait status

    # --- reporting ---------------------------------------------------------------------------
    def report(self, obj: dict[str, Any]) -> bool:
        """Send one JSON line to the CLI; False when it is gone."""
        if self.cfg.sync_fd < 0:
            return False
        try:
            stdio.write_all(self.cfg.sync_fd, json.dumps(obj).encode() + b"\n")
            return True
        except OSError:
            return False

    # --- setup -------------------------------------------------------------------------------
    def setup_stdio(self) -> tuple[tuple[int, int, int], list[int]]:
        """The container's (stdin, stdout, stderr) and the fds to close once the runtime has them."""
        c = self.cfg
        to_close: list[int] = []
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        to_close.append(devnull)
        if c.terminal:
            return (devnull, devnull, devnull), to_close
        if c.stdin == "inherit" and c.stdin_fd >= 0:
            cin = c.stdin_fd
        elif c.stdin == "pipe":
            cin, self.stdin_w = os.pipe()
            to_close.append(cin)
        else:
            cin = devnull
        if c.log_driver == "passthrough" and c.stdout_fd >= 0:
            return (cin, c.stdout_fd, c.stderr_fd if c.stderr_fd >= 0 else c.stdout_fd), to_close
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        to_close += [out_w, err_w]
        self.add_stream(out_r, stdio.STDOUT)
        self.add_stream(err_r, stdio.STDERR)
        return (cin, out_w, err_w), to_close

    def add_stream(self, fd: int, kind: bytes) -> None:
        os.set_blocking(fd, False)
        self.sel.register(fd, selectors.EVENT_READ, ("stream", kind))
        self.open_streams += 1

    # --- main --------------------------------------------------------------------------------
    def run(self) -> int:
        c = self.cfg
        become_subreaper()
        os.makedirs(c.run_dir, mode=0o700, exist_ok=True)
        if c.log_driver == "journald" and c.journal_socket:
            from rootless.monitor.journal import JournalWriter

            self.log = JournalWriter(c.journal_socket, c.id, (c.events or {}).get("name", c.id[:12]))
        else:
            self.log = stdio.LogWriter(c.log_path if c.log_driver == "k8s-file" else None)
        self.sinks = {stdio.STDOUT: Sink(c.stdout_fd), stdio.STDERR: Sink(c.stderr_fd if c.stderr_fd >= 0
                                                                          else c.stdout_fd)}
        if c.log_driver == "passthrough":
            self.sinks = {}
        try:
            runtime: InProcessRuntime | CliRuntime = CliRuntime(c) if c.runtime else InProcessRuntime(c)
            if c.sdnotify == "container" and c.notify_socket and c.notify_dir:
                from rootless.monitor.notify import NotifyProxy

                self.notify_proxy = NotifyProxy(c.notify_dir, c.notify_socket, os.getpid())
                self.sel.register(self.notify_proxy.fileno(), selectors.EVENT_READ, ("call", self.on_notify))
            self.pid = self.create_and_start(runtime)
        except RuntimeError_ as e:
            self.report({"error": str(e), "exit_code": e.exit_code})
            exitfile.write_exit_file(c.container_dir, e.exit_code, None, exitfile.iso_now(), error=str(e))
            with contextlib.suppress(Exception):
                runtime.delete()  # type: ignore[possibly-undefined]
            self.close_network()
            return 1
        except Exception as e:
            self.report({"error": f"monitor: {e.__class__.__name__}: {e}", "exit_code": 125})
            return 1
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.attach_sock = stdio.bind_attach(c.run_dir)
        self.sel.register(self.attach_sock, selectors.EVENT_READ, ("listen", None))
        self.record_started()
        if c.conmon_pidfile:
            _write_pidfile(c.conmon_pidfile, os.getpid())
        self.report({"pid": self.pid})
        self.after_start(first=True)
        self.loop()
        if c.restart or (c.healthcheck or {}).get("on_failure") == "restart":
            from rootless.monitor import restart

            restart.supervise(self, runtime)
        return self.finish(runtime)

    def record_started(self) -> None:
        """``monitor.json``: which processes run the container now (rewritten at each restart)."""
        self.started_ns = time.time_ns()
        exitfile.write_json_atomic(os.path.join(self.cfg.container_dir, exitfile.MONITOR_FILE), {
            "monitor_pid": os.getpid(), "monitor_start": exitfile.proc_start_time(os.getpid()),
            "pid": self.pid, "pid_start": exitfile.proc_start_time(self.pid),
            "boot_id": exitfile.boot_id(), "started_at": exitfile.iso_now(self.started_ns),
            "restart_count": self.restart_count,
        })

    def after_start(self, first: bool = False) -> None:
        """After each (re)start: ``--pidfile``, sd_notify, the healthcheck timer."""
        c = self.cfg
        if c.pidfile:
            _write_pidfile(c.pidfile, self.pid)
        if first and c.notify_socket and c.sdnotify in ("conmon", "container", "healthy"):
            from rootless.monitor import notify

            if c.sdnotify == "conmon":
                notify.ready(c.notify_socket, os.getpid())
            else:  # container: its own READY=1 comes through the proxy; healthy: on_healthy
                notify.send(c.notify_socket, f"MAINPID={os.getpid()}\n")
        if c.healthcheck:
            if self.health is None:
                from rootless.monitor.health import HealthChecker

                self.health = HealthChecker(self, c.healthcheck)
            self.health.on_start()

    def on_healthy(self) -> None:
        """``--sdnotify=healthy``: READY=1 once the first healthcheck passed."""
        c = self.cfg
        if c.sdnotify == "healthy" and c.notify_socket and not getattr(self, "_ready_sent", False):
            from rootless.monitor import notify

            self._ready_sent = notify.send(c.notify_socket, "READY=1\n")

    def on_notify(self, _fd: int) -> None:
        self.notify_proxy.on_readable(_fd)

    def signal_container(self, sig: int) -> bool:
        """Send ``sig`` to the container's init (our child: its pid cannot be recycled unreaped)."""
        if self.exit_status is not None or self.pid <= 0:
            return False
        with contextlib.suppress(OSError):
            os.kill(self.pid, sig)
        return True

    def reset_streams(self) -> None:
        """Before a restart: drop the previous run's output pipes (if the drain timed out)."""
        for key in list(self.sel.get_map().values()):
            if key.data[0] == "stream":
                self.sel.unregister(key.fd)
                with contextlib.suppress(OSError):
                    os.close(key.fd)
        self.open_streams = 0

    def create_and_start(self, runtime: InProcessRuntime | CliRuntime) -> int:
        # the container's process must not inherit the interpreter's ignored signals
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        fds, to_close = self.setup_stdio()
        console_dir = console_path = None
        listener = None
        if self.cfg.terminal:
            console_dir = f"/tmp/rpod-cs-{os.urandom(6).hex()}"
            os.mkdir(console_dir, 0o700)
            console_path = os.path.join(console_dir, "console.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            listener.bind(console_path)
            listener.listen(1)
        try:
            pid = runtime.create(fds, console_path)
            if listener is not None:
                listener.settimeout(10)
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(10)
                    self.master = stdio.recv_fd(conn)
                self.stdin_w = self.master
                if self.cfg.stdin_fd >= 0 and self.cfg.stdout_fd >= 0:
                    size = stdio.get_winsize(self.cfg.stdin_fd) or stdio.get_winsize(self.cfg.stdout_fd)
                    if size:
                        stdio.set_winsize(self.master, *size)
                self.add_stream(os.dup(self.master), stdio.STDOUT)
            for fd in to_close:
                os.close(fd)
            self.attach_network(pid)
            runtime.start()
        except TimeoutError as e:
            raise RuntimeError_("the runtime never sent the terminal on the console socket") from e
        finally:
            if listener is not None:
                listener.close()
                with contextlib.suppress(OSError):
                    os.unlink(console_path)  # type: ignore[arg-type]
                    os.rmdir(console_dir)  # type: ignore[arg-type]
        if self.cfg.terminal and self.cfg.stdin == "inherit" and self.cfg.stdin_fd >= 0:
            # foreground -it: copy the CLI's terminal to the pty master (watching for the detach keys)
            if self.cfg.detach_keys:
                from rootless.monitor.detach import DetachMatcher

                self.detacher = DetachMatcher(bytes.fromhex(self.cfg.detach_keys))
            if os.isatty(self.cfg.stdin_fd):
                self.sel.register(self.cfg.stdin_fd, selectors.EVENT_READ, ("cli-stdin", None))
            else:  # -it in a script: a pipe, a file or /dev/null (which epoll refuses)
                self.copy_stdin_to_end(self.cfg.stdin_fd)
        return pid

    def copy_stdin_to_end(self, fd: int) -> None:
        """``-it`` with a pipe, a file or ``/dev/null`` as the CLI's stdin: a thread copies it to the
        pty, waiting when the pty is full (the loop must go on reading the pty's output meanwhile),
        then ends the input with ^D."""
        if self.stdin_w >= 0:
            stdio.copy_to_end_in_thread(fd, self.stdin_w)

    def attach_network(self, pid: int) -> None:
        """slirp4netns/pasta/user network for the created (not yet started) container."""
        self.close_network()  # a restart: the previous run's slirp4netns still holds the ports
        if not self.cfg.network:
            return
        from rootless import netsetup

        try:
            self.net = netsetup.attach(self.cfg.network, pid, self.cfg.run_dir)
        except netsetup.NetworkSetupError as e:
            raise RuntimeError_(f"{e}" + (f"\nHint: {e.hint}" if e.hint else "")) from e

    def loop(self) -> None:
        if self.sig_rfd < 0:  # once: loop() runs again after an automatic restart
            rfd, wfd = os.pipe()
            os.set_blocking(wfd, False)
            os.set_blocking(rfd, False)
            signal.set_wakeup_fd(wfd)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, lambda *_: None)
            self.sel.register(rfd, selectors.EVENT_READ, ("signal", None))
            self.sig_rfd = rfd
        self.reap()
        deadline = None
        while True:
            if self.exit_status is not None:
                if deadline is None:
                    deadline = time.monotonic() + DRAIN_TIMEOUT
                if self.open_streams <= 0 or time.monotonic() >= deadline:
                    break
            timeout = None
            now = time.monotonic()
            if self.timers:
                self.timers.sort(key=lambda t: t[0])
                timeout = max(0.0, self.timers[0][0] - now)
            if deadline is not None:
                timeout = min(timeout if timeout is not None else DRAIN_TIMEOUT, max(0.0, deadline - now))
            for key, _ev in self.sel.select(timeout):
                self.dispatch(key)
            while self.timers and self.timers[0][0] <= time.monotonic():
                _, fn = self.timers.pop(0)
                fn()

    def dispatch(self, key: selectors.SelectorKey) -> None:
        kind, arg = key.data
        if kind == "stream":
            self.on_output(key.fd, arg)
        elif kind == "signal":
            try:
                sigs = os.read(key.fd, 512)
            except BlockingIOError:
                sigs = b""
            for s in sigs:
                if s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP) and self.exit_status is None:
                    if s != signal.SIGHUP:  # e.g. systemd stopping the unit: no automatic restart
                        self.stop_requested = True
                    with contextlib.suppress(OSError):
                        os.kill(self.pid, s)
            self.reap()
        elif kind == "listen":
            self.accept_client()
        elif kind == "client":
            self.on_client(key.fd)
        elif kind == "cli-stdin":
            self.on_cli_stdin(key.fd)
        elif kind == "call":  # a service module's fd (healthcheck output, notify proxy)
            arg(key.fd)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid and self.exit_status is None:
                self.exit_status = status
                self.exited_ns = time.time_ns()
            elif pid in self.child_waiters:
                self.child_waiters.pop(pid)(status)

    def on_output(self, fd: int, kind: bytes) -> None:
        data = stdio.read_ready(fd, stdio.MAX_PACKET - 1)
        if data is None:
            return
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            self.open_streams -= 1
            return
        self.log.write(stdio.STREAM_NAMES[kind], data)
        sink = self.sinks.get(kind)
        if sink and sink.alive and sink.fd >= 0:
            try:
                stdio.write_all(sink.fd, data)
            except OSError:
                sink.alive = False
        for sock, wants_output in list(self.clients.values()):
            if wants_output:
                try:
                    sock.send(kind + data)
                except OSError:
                    self.drop_client(sock.fileno())

    def on_cli_stdin(self, fd: int) -> None:
        data = stdio.read_ready(fd)
        if data is None:
            return
        if not data:
            self.sel.unregister(fd)
            self.to_stdin(b"\x04")  # the CLI's stdin ended (a pipe): end of input on the container's terminal
            return
        if self.detacher is not None:
            data, detached = self.detacher.feed(data)
            self.to_stdin(data)
            if detached:
                self.detach_cli(fd)
            return
        self.to_stdin(data)

    def detach_cli(self, stdin_fd: int) -> None:
        """The user typed the detach keys: stop copying to and from the CLI and tell it; the
        container goes on (as after ``run -d``; at exit the monitor runs ``--rm`` itself)."""
        self.sel.unregister(stdin_fd)
        for sink in self.sinks.values():
            sink.alive = False
        self.report({"detached": True})
        if self.cfg.sync_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.cfg.sync_fd)
            self.cfg.sync_fd = -1

    def to_stdin(self, data: bytes) -> None:
        if self.stdin_w < 0:
            return
        try:
            stdio.write_all(self.stdin_w, data)
        except OSError:
            pass

    def accept_client(self) -> None:
        try:
            sock, _ = self.attach_sock.accept()
        except BlockingIOError:
            return
        self.clients[sock.fileno()] = (sock, True)
        self.sel.register(sock, selectors.EVENT_READ, ("client", None))

    def drop_client(self, fd: int) -> None:
        entry = self.clients.pop(fd, None)
        if entry:
            with contextlib.suppress(Exception):
                self.sel.unregister(entry[0])
            entry[0].close()

    def on_client(self, fd: int) -> None:
        sock, wants_output = self.clients[fd]
        try:
            pkt = sock.recv(stdio.MAX_PACKET)
        except OSError:
            pkt = b""
        if not pkt:
            self.drop_client(fd)
            return
        tag, body = pkt[:1], pkt[1:]
        if tag == stdio.STDIN:
            self.to_stdin(body)
        elif tag == stdio.STDIN_EOF:
            if self.stdin_w >= 0 and self.stdin_w != self.master:
                os.close(self.stdin_w)
                self.stdin_w = -1
            elif self.master >= 0:
                self.to_stdin(b"\x04")
        elif tag == stdio.RESIZE and self.master >= 0:
            with contextlib.suppress(ValueError):
                rows, cols = (int(x) for x in body.split())
                stdio.set_winsize(self.master, rows, cols)
        elif tag == stdio.CONTROL:
            self.clients[fd] = (sock, False)
        elif tag == stdio.HEALTHCHECK:
            self.clients[fd] = (sock, False)
            if self.health is None:
                reply = {"error": "no healthcheck"}
                with contextlib.suppress(OSError):
                    sock.send(stdio.HEALTHCHECK + json.dumps(reply).encode())
            else:
                def answer(result: dict[str, Any], sock: socket.socket = sock) -> None:
                    with contextlib.suppress(OSError):
                        sock.send(stdio.HEALTHCHECK + json.dumps(result).encode())

                self.health.run_now(answer)

    # --- the end -----------------------------------------------------------------------------
    def finish(self, runtime: InProcessRuntime | CliRuntime) -> int:
        c = self.cfg
        signal.set_wakeup_fd(-1)
        code, sig = exitfile.decode_wait_status(self.exit_status or 0)
        exitfile.write_exit_file(c.container_dir, code, sig, exitfile.iso_now(self.exited_ns or None),
                                 error=self.exit_error)
        self.log.close()
        if c.events:
            from rootless.monitor.eventlog import died_once

            died_once(c.container_dir, c.events, code)
        if self.notify_proxy is not None:
            self.notify_proxy.close()
        for fd in list(self.clients):
            self.drop_client(fd)
        self.attach_sock.close()
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(c.run_dir, ctrfiles.ATTACH_SOCKET))
        self.close_network()  # published ports are free once the CLI hears the exit code
        cli_there = self.report({"exit_code": code, "signal": sig})
        runtime.delete()
        if c.remove:
            if not (cli_there and self.wait_cleanup_ack()):
                self.run_exit_command()
        elif c.exit_command and not cli_there:
            self.run_exit_command()
        return 0

    def close_network(self) -> None:
        net = getattr(self, "net", None)
        if net is not None:
            net.close()
            self.net = None

    def wait_cleanup_ack(self) -> bool:
        """True when the CLI says it removed the container (foreground ``--rm``)."""
        import select

        fd = self.cfg.sync_fd
        end = time.monotonic() + CLEANUP_ACK_TIMEOUT
        buf = b""
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not r:
                return False
            try:
                chunk = os.read(fd, 256)
            except OSError:
                return False
            if not chunk:
                return False
            buf += chunk
            if b"removed" in buf:
                return True
        return False

    def run_exit_command(self) -> None:
        if not self.cfg.exit_command:
            return
        import subprocess

        with contextlib.suppress(OSError):
            subprocess.run(self.cfg.exit_command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, cwd="/")


def _write_pidfile(path: str, pid: int) -> None:
    """``--pidfile``/``--conmon-pidfile``: the pid, replaced atomically."""
    with contextlib.suppress(OSError):
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{pid}\n")
        os.rename(tmp, path)


def daemonize() -> None:
    """Leave the CLI: fork (the CLI reaps our parent at once) and start a new session."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()


def become_subreaper() -> None:
    """Orphans of the container (and an OCI runtime CLI's init) are reparented to us."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _report_fd(fd: int, obj: dict[str, Any]) -> None:
    """One JSON line on the sync socket (best effort: the CLI may be gone)."""
    if fd >= 0:
        with contextlib.suppress(OSError):
            stdio.write_all(fd, json.dumps(obj).encode() + b"\n")


def config_failed(text: str, error: ConfigError) -> int:
    """A command line the schema refuses: say so on the sync socket (the CLI reports it), on
    stderr, and in the exit file when the container directory is known."""
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    fd = data.get("sync_fd")
    _report_fd(fd if type(fd) is int else -1, {"error": str(error), "exit_code": 125})
    with contextlib.suppress(OSError):
        sys.stderr.write(f"rootless.monitor: {error}\n")
    if isinstance(data.get("container_dir"), str) and data["container_dir"]:
        with contextlib.suppress(OSError):
            exitfile.write_exit_file(data["container_dir"], -1, None, exitfile.iso_now(), error=str(error))
    return 2


def _wait_readable(fd: int, cli_pid: int, cli_start: int | None) -> bool:
    """Wait until ``fd`` is readable; False when the CLI died first (a copy of its end of the
    socket kept by some other process would otherwise keep us waiting forever)."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while not poller.poll(AWAIT_CHECK_MS):
        if cli_pid and not exitfile.process_alive(cli_pid, cli_start):
            return bool(poller.poll(0))  # it may have sent everything just before dying
    return True


def receive_config(fd: int, cli_pid: int = 0, cli_start: int | None = None) -> MonitorConfig | None:
    """``LENGTH\nJSON`` from the CLI on the sync socket; None on EOF or when the CLI died,
    ``ConfigError`` when the configuration does not match ``rootless.monitor.config.MONITOR``."""
    head = b""
    while not head.endswith(b"\n"):
        if not _wait_readable(fd, cli_pid, cli_start):
            return None
        c = os.read(fd, 1)
        if not c:
            return None
        head += c
    size, data = int(head), b""
    while len(data) < size:
        if not _wait_readable(fd, cli_pid, cli_start):
            return None
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return MonitorConfig.parse(data)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -I -S -c ... CONFIG_JSON``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: rootless.monitor CONFIG_JSON\n")
        return 2
    try:
        cfg = MonitorConfig.from_argv(args[0])
    except ConfigError as e:
        return config_failed(args[0], e)
    # the CLI's NOTIFY_SOCKET is ours to answer (cfg.notify_socket), never an OCI runtime's or a
    # child's: crun would bind its own proxy on it (Podman strips it for the runtime too)
    os.environ.pop("NOTIFY_SOCKET", None)
    for fd in (cfg.sync_fd, cfg.stdin_fd, cfg.stdout_fd, cfg.stderr_fd):
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, False)
    if cfg.detach_fork:
        daemonize()
    become_subreaper()
    os.chdir("/")
    # the monitor's own stdio must not keep the CLI's terminal or pipes open
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd not in (cfg.stdin_fd, cfg.stdout_fd, cfg.stderr_fd, cfg.sync_fd):
            os.dup2(null, fd)
    if null > 2:
        os.close(null)
    if cfg.await_config:
        # the runtime's import overlaps the CLI writing the bundle
        InProcessRuntime.prefork(close=tuple(fd for fd in (cfg.sync_fd, cfg.stdin_fd, cfg.stdout_fd,
                                                           cfg.stderr_fd) if fd >= 0))
        try:
            received = receive_config(cfg.sync_fd, cfg.cli_pid, cfg.cli_start)
        except ConfigError as e:
            InProcessRuntime.discard_prefork()
            _report_fd(cfg.sync_fd, {"error": str(e), "exit_code": 125})
            return 2
        if received is None or received.runtime:
            InProcessRuntime.discard_prefork()
        if received is None:
            return 0  # the CLI gave up (no container after all)
        cfg = received
    try:
        return Monitor(cfg).run()
    except Exception as e:  # last resort: leave a trace where the CLI and ps can see it
        with contextlib.suppress(Exception):
            exitfile.write_exit_file(cfg.container_dir, -1, None, exitfile.iso_now(),
                                     error=f"monitor failed: {e.__class__.__name__}: {e}")
        return 1
