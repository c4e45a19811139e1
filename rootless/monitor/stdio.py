"""Container stdio for the monitor: k8s-file logs, the console socket, window sizes, attach packets.

Attach protocol (``SOCK_SEQPACKET`` socket ``attach`` in the container's run dir):
the monitor sends ``STDOUT``/``STDERR`` + bytes; a client sends ``STDIN`` + bytes,
``STDIN_EOF``, ``RESIZE`` + ``b"rows cols"``, or first ``CONTROL`` to say it wants
no output (the foreground CLI uses that to forward window sizes).  The monitor
closes every client when the container has exited.
"""

from __future__ import annotations

import array
import fcntl
import os
import socket
import struct
import termios

from rootless import ctrfiles
from rootless.monitor.exitfile import iso_now

STDIN, STDOUT, STDERR, STDIN_EOF, RESIZE, CONTROL = b"\x00", b"\x01", b"\x02", b"\x04", b"\x05", b"\x07"
HEALTHCHECK = b"\x08"  # client: run a healthcheck now; monitor: its JSON result
ATTACH_SOCKET = ctrfiles.ATTACH_SOCKET
MAX_PACKET = 32768
STREAM_NAMES = {STDOUT: "stdout", STDERR: "stderr"}


class LogWriter:
    """Appends chunks to a k8s-file log: ``<timestamp> <stream> F|P <text>`` per line.

    ``F`` marks a line that ended with a newline, ``P`` a partial one whose
    continuation follows in the next record of the same stream (Podman's format).
    """

    def __init__(self, path: str | None, size_max: int = 0):
        self.fd = -1
        self.size_max = size_max  # --log-opt max-size: start the file over beyond it, as conmon does
        self.size = 0
        if path:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        if self.fd < 0 or not data:
            return
        ts = iso_now().encode()
        head = ts + b" " + stream.encode() + b" "
        out = []
        for line in data.splitlines(keepends=True):
            if line.endswith(b"\n"):
                out.append(head + b"F " + line.rstrip(b"\r\n").rstrip(b"\r") + b"\n")
            else:
                out.append(head + b"P " + line + b"\n")
        if self.size_max > 0:  # record by record, as conmon: the file never passes the limit by more than one
            pending: list[bytes] = []
            for rec in out:
                if self.size + len(rec) > self.size_max:
                    write_all(self.fd, b"".join(pending))
                    pending = []
                    os.ftruncate(self.fd, 0)
                    self.size = 0
                pending.append(rec)
                self.size += len(rec)
            out = pending
        write_all(self.fd, b"".join(out))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def parse_log_line(line: bytes) -> tuple[str, str, bool, bytes] | None:
    """Split one k8s-file record into (timestamp, stream, is_full_line, text)."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else b""
    return parts[0].decode(), parts[1].decode(), parts[2] == b"F", text


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (blocking fds; EAGAIN on a non-blocking one drops the rest)."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]


def read_ready(fd: int, size: int = 4096) -> bytes | None:
    """One read from a non-blocking ``fd`` the selector said is readable: the bytes, ``b""`` at
    the end (EOF, or EIO once a pty's last slave closed), ``None`` when nothing is there after all."""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def write_all_waiting(fd: int, data: bytes) -> None:
    """``write_all`` that waits on a non-blocking ``fd`` (a pty master) instead of dropping the rest."""
    import select

    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except (BlockingIOError, InterruptedError):
            select.select([], [fd], [], 1.0)


def copy_to_end_in_thread(src: int, master: int) -> None:
    """Copy ``src`` to a pty ``master`` to its end, then ^D (end of input on the terminal), in a
    thread that waits when the pty is full while the caller keeps draining the pty's output."""
    import threading

    w = os.dup(master)  # its own fd: the caller may close master (and its number be reused) first

    def copy() -> None:
        try:
            while data := os.read(src, 65536):
                write_all_waiting(w, data)
            write_all_waiting(w, b"\x04")
        except OSError:
            pass
        finally:
            os.close(w)

    threading.Thread(target=copy, daemon=True).start()


def recv_fd(sock: socket.socket) -> int:
    """Receive one file descriptor sent with SCM_RIGHTS (the pty master from the runtime)."""
    fds = array.array("i")
    msg, anc, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        raise OSError("the runtime sent no terminal file descriptor on the console socket")
    for extra in fds[1:]:
        os.close(extra)
    return fds[0]


def send_fd(sock: socket.socket, fd: int, msg: bytes = b"pty") -> None:
    sock.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def get_winsize(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of the terminal ``fd``, None when it is not a terminal."""
    try:
        data = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols = struct.unpack("HHHH", data)[:2]
    return rows, cols


def set_winsize(fd: int, rows: int, cols: int) -> None:
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    except OSError:
        pass


def connect_attach(run_dir: str) -> socket.socket:
    """Connect to a container's attach socket (path length safe: goes through /proc/self/fd)."""
    dfd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{dfd}/{ATTACH_SOCKET}")
        except OSError:
            sock.close()
            raise
        return sock
    finally:
        os.close(dfd)


def bind_attach(run_dir: str) -> socket.socket:
    """Create and listen on the attach socket inside ``run_dir``."""
    dfd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        path = f"/proc/self/fd/{dfd}/{ATTACH_SOCKET}"
        try:
            os.unlink(os.path.join(run_dir, ATTACH_SOCKET))
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sock.bind(path)
        sock.listen(8)
        sock.setblocking(False)
        return sock
    finally:
        os.close(dfd)


class RawTerminal:
    """Context manager: put terminal ``fd`` in raw mode (no-op when it is not a terminal)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.saved: list | None = None

    def __enter__(self) -> RawTerminal:
        import tty

        if os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSAFLUSH, self.saved)


def copy_terminal(master: int, interactive: bool, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
    """Copy between the caller's terminal and a pty ``master`` until the pty's last slave closes.

    Used by ``exec -t``: raw mode on the caller's terminal, the master follows its size.
    """
    import selectors
    import signal

    size = get_winsize(stdin_fd) or get_winsize(stdout_fd)
    if size:
        set_winsize(master, *size)

    def on_winch(*_a: object) -> None:
        sz = get_winsize(stdin_fd) or get_winsize(stdout_fd)
        if sz:
            set_winsize(master, *sz)

    old = signal.signal(signal.SIGWINCH, on_winch)
    sel = selectors.DefaultSelector()
    sel.register(master, selectors.EVENT_READ)
    if interactive and os.isatty(stdin_fd):
        sel.register(stdin_fd, selectors.EVENT_READ)
    elif interactive:  # a pipe, a file or /dev/null (which epoll refuses)
        copy_to_end_in_thread(stdin_fd, master)
    try:
        with RawTerminal(stdin_fd if interactive else -1) if interactive and os.isatty(stdin_fd) else _Null():
            while True:
                for key, _ in sel.select():
                    if key.fd == master:
                        try:
                            data = os.read(master, 65536)
                        except OSError:
                            data = b""
                        if not data:
                            return
                        write_all(stdout_fd, data)
                    else:
                        data = os.read(stdin_fd, 65536)
                        if not data:
                            sel.unregister(stdin_fd)
                            write_all(master, b"\x04")
                            continue
                        write_all(master, data)
    finally:
        signal.signal(signal.SIGWINCH, old)
        sel.close()
        os.close(master)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        return None
