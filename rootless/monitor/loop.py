"""The monitor of one container (``Monitor``): its stdio, the runtime's create and start, the
event loop (container output → CLI fds, log and attach clients; attach input → stdin; SIGCHLD;
timers) and the end (drain, exit file, ``--rm``).  The process around it is ``rootless.monitor.main``."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import time

from rootless import ctrfiles, minijson
from rootless.monitor import exitfile, stdio
from rootless.monitor.config import MonitorConfig
from rootless.monitor.runtimes import CliRuntime, InProcessRuntime, RuntimeError_

# The monitor stays for the container's whole life: every module it imports costs memory in
# every container (dataclasses ~1.5 MB, subprocess+tempfile ~1.3 MB, typing ~0.6 MB), so
# those are imported only where used, and annotations are never evaluated.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PR_SET_CHILD_SUBREAPER = 36
DRAIN_TIMEOUT = 2.0  # seconds to wait for output after the container's init exited
CLEANUP_ACK_TIMEOUT = 60.0


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
    timed_out: bool = False  # --timeout expired: the container was killed, its exit code is -1
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
            stdio.write_all(self.cfg.sync_fd, minijson.dumps(obj).encode() + b"\n")
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
            self.log = stdio.LogWriter(c.log_path if c.log_driver == "k8s-file" else None, c.log_size_max)
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
        if first and c.timeout > 0:
            self.timers.append((time.monotonic() + c.timeout, self.on_run_timeout))
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

    def on_run_timeout(self) -> None:
        """``--timeout``: as conmon, kill the container; its exit code becomes -1."""
        if self.signal_container(signal.SIGKILL):
            self.timed_out = True

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
                    sock.send(stdio.HEALTHCHECK + minijson.dumps(reply).encode())
            else:
                def answer(result: dict[str, Any], sock: socket.socket = sock) -> None:
                    with contextlib.suppress(OSError):
                        sock.send(stdio.HEALTHCHECK + minijson.dumps(result).encode())

                self.health.run_now(answer)

    # --- the end -----------------------------------------------------------------------------
    def finish(self, runtime: InProcessRuntime | CliRuntime) -> int:
        c = self.cfg
        signal.set_wakeup_fd(-1)
        code, sig = exitfile.decode_wait_status(self.exit_status or 0)
        if self.timed_out:
            code, sig = -1, None
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


def become_subreaper() -> None:
    """Orphans of the container (and an OCI runtime CLI's init) are reparented to us."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
