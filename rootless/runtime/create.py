"""Parent side of ``create`` and ``exec``: fork, map the user namespace, relay hooks, collect the pid.

Process tree of ``create`` (the caller is ``api.create``, e.g. rpod's monitor, a child subreaper)::

    caller ── fork ──▶ intermediate (unshare user ns; parent writes maps; unshare mount/pid/...)
                          └─ fork ──▶ container init = pid 1 (mounts, pivot_root, ..., waits on exec.fifo)
    intermediate sends the init's host pid and exits; the caller reaps it, so the init is
    re-parented to the nearest child subreaper: the caller itself when it set PR_SET_CHILD_SUBREAPER.

``exec`` has the same shape: the intermediate joins the init's namespaces (setns) and forks the
new process, which is then re-parented to the caller in the same way.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Sequence

from rootless.idmap import write_id_maps
from rootless.runtime import init, log
from rootless.runtime.errors import ContainerError
from rootless.runtime.sync import Channel, SyncClosed
from rootless.subid import IdMap

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any


def _connect_console(path: str | None) -> int:
    if not path:
        return -1
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise ContainerError(f"cannot connect to the console socket {path}: {e.strerror}") from e
    return sock.detach()


def _maps(config: dict[str, Any]) -> tuple[list[IdMap], list[IdMap]]:
    linux = config.get("linux") or {}
    uids = [IdMap.from_oci(m) for m in linux.get("uidMappings") or []] or [IdMap(0, os.geteuid(), 1)]
    gids = [IdMap.from_oci(m) for m in linux.get("gidMappings") or []] or [IdMap(0, os.getegid(), 1)]
    return uids, gids


def _child_stdio(stdio: Sequence[int | None] | None) -> None:
    if not stdio:
        return
    for target, fd in enumerate(stdio):
        if fd is not None and fd != target:
            os.dup2(fd, target)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _fork(target: Callable[[Channel], None], stdio: Sequence[int | None] | None,
          keep_fds: Sequence[int]) -> tuple[int, Channel]:
    parent_end, child_end = Channel.pair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            parent_end.close()
            _child_stdio(stdio)
            for fd in keep_fds:
                if fd >= 0:
                    os.set_inheritable(fd, True)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            target(child_end)
        finally:
            os._exit(1)
    child_end.close()
    return pid, parent_end


def _error_from(msg: dict[str, Any]) -> ContainerError:
    return ContainerError(msg.get("message") or "container setup failed", hint=msg.get("hint"),
                          exit_code=int(msg.get("exit_code") or 1))


def _fork_with_console(target: Callable[[Channel], None], opts: init.InitOptions,
                       stdio: Sequence[int | None] | None, console_socket: str | None) -> tuple[int, Channel]:
    """Connect the console socket (if any), fork ``target`` with the preserved fds; the
    console connection is the child's alone afterwards."""
    opts.console_fd = _connect_console(console_socket)
    keep = list(range(3, 3 + opts.preserve_fds))
    try:
        return _fork(target, stdio, keep)
    finally:
        if opts.console_fd >= 0:
            os.close(opts.console_fd)


def spawn_container(config: dict[str, Any], opts: init.InitOptions, *, stdio: Sequence[int | None] | None,
                    console_socket: str | None,
                    on_hooks: Callable[[int], dict[str, Any]]) -> int:
    """Fork the container; return the init's host pid once it waits on the exec fifo.

    ``on_hooks(pid)`` runs the createRuntime hooks and returns the state JSON for the init.
    """
    uid_map, gid_map = _maps(config)
    pid, chan = _fork_with_console(lambda ch: init.intermediate(config, ch, opts), opts, stdio, console_socket)
    init_pid = 0
    try:
        while True:
            try:
                msg = chan.recv()
            except SyncClosed:
                raise ContainerError("the container init exited during setup without saying why") from None
            kind = msg["type"]
            if kind == "map-request":
                try:
                    write_id_maps(pid, uid_map, gid_map)
                except Exception as e:
                    chan.send("error", message=str(e))
                    raise ContainerError(str(e), hint=getattr(e, "hint", None)) from e
                chan.send("map-done")
            elif kind == "pid":
                init_pid = int(msg["pid"])
                _reap(pid)
                pid = 0
            elif kind == "hooks":
                try:
                    state = on_hooks(init_pid)
                except ContainerError as e:
                    chan.send("error", message=str(e))
                    raise
                chan.send("hooks-done", state=state)
            elif kind == "ready":
                for w in msg.get("warnings") or []:
                    log.warn(w)
                return init_pid
            elif kind == "error":
                raise _error_from(msg)
    except BaseException:
        if init_pid:
            try:
                os.kill(init_pid, signal.SIGKILL)
            except OSError:
                pass
        raise
    finally:
        chan.close()
        if pid:
            _reap(pid)


def spawn_exec(config: dict[str, Any], process: dict[str, Any], opts: init.InitOptions, *,
               stdio: Sequence[int | None] | None, console_socket: str | None) -> int:
    """Start ``process`` in the namespaces of the running container; return its host pid."""
    pid, chan = _fork_with_console(lambda ch: init.exec_intermediate(config, process, ch, opts), opts, stdio,
                                   console_socket)
    new_pid = 0
    try:
        while True:
            try:
                msg = chan.recv()
            except SyncClosed:
                raise ContainerError("the exec process exited during setup without saying why") from None
            if msg["type"] == "pid":
                new_pid = int(msg["pid"])
                _reap(pid)
                pid = 0
            elif msg["type"] == "ready":
                return new_pid
            elif msg["type"] == "error":
                raise _error_from(msg)
    finally:
        chan.close()
        if pid:
            _reap(pid)
