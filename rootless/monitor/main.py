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

This module is the process's entry (leave the CLI, receive and check the configuration);
``rootless.monitor.loop`` is the monitor itself, ``rootless.monitor.runtimes`` drives the runtime.
"""

from __future__ import annotations

import os
import sys

from rootless import minijson
from rootless.monitor import exitfile, lean, stdio
from rootless.monitor.config import ConfigError, MonitorConfig
from rootless.monitor.loop import Monitor, become_subreaper
from rootless.monitor.runtimes import InProcessRuntime

# The monitor stays for the container's whole life: every module it imports costs memory in
# every container (dataclasses ~1.5 MB, subprocess+tempfile ~1.3 MB, typing ~0.6 MB), so
# those are imported only where used, and annotations are never evaluated.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

AWAIT_CHECK_MS = 500  # how often a monitor awaiting its configuration checks that its CLI lives


def daemonize() -> None:
    """Leave the CLI: fork (the CLI reaps our parent at once) and start a new session."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()


def _report_fd(fd: int, obj: dict[str, Any]) -> None:
    """One JSON line on the sync socket (best effort: the CLI may be gone)."""
    if fd >= 0:
        with lean.suppress(OSError):
            stdio.write_all(fd, minijson.dumps(obj).encode() + b"\n")


def config_failed(text: str, error: ConfigError) -> int:
    """A command line the schema refuses: say so on the sync socket (the CLI reports it), on
    stderr, and in the exit file when the container directory is known."""
    try:
        data = minijson.loads(text)
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    fd = data.get("sync_fd")
    _report_fd(fd if type(fd) is int else -1, {"error": str(error), "exit_code": 125})
    with lean.suppress(OSError):
        sys.stderr.write(f"rootless.monitor: {error}\n")
    if isinstance(data.get("container_dir"), str) and data["container_dir"]:
        with lean.suppress(OSError):
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
    for fd in (cfg.sync_fd, cfg.stdin_fd, cfg.stdout_fd, cfg.stderr_fd, *(cfg.preserve_fds or ())):
        if fd >= 0:
            with lean.suppress(OSError):
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
                                                           cfg.stderr_fd, *(cfg.preserve_fds or ())) if fd >= 0))
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
        with lean.suppress(Exception):
            exitfile.write_exit_file(cfg.container_dir, -1, None, exitfile.iso_now(),
                                     error=f"monitor failed: {e.__class__.__name__}: {e}")
        return 1
