"""The runtime as a library: OCI ``create``/``start``/``state``/``kill``/``delete``, ``exec`` and ``run``.

rpod's monitor calls these in-process.  ``create`` returns the host pid of the container init,
which then blocks on ``STATE_ROOT/<id>/exec.fifo`` until ``start``.  The intermediate process
exits right after forking the init and ``create`` reaps it, so a caller that set
``PR_SET_CHILD_SUBREAPER`` becomes the init's parent and can ``waitpid`` it (see
``rootless.runtime.create`` for the process tree).  Errors raise ``ContainerError`` whose
``exit_code`` is 127/126 when the executable is missing/not executable.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import time
from collections.abc import Sequence

from rootless import syscalls
from rootless.runtime import bundle as bundle_mod
from rootless.runtime import create as create_mod
from rootless.runtime import init, log
from rootless.runtime import state as _state
from rootless.runtime.errors import ContainerError
from rootless.runtime.hooks import CREATE_TIME, hooks_of, run_hooks

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

Stdio = Sequence[int | None] | None


def _resources_requested(config: dict[str, Any]) -> bool:
    res = (config.get("linux") or {}).get("resources") or {}
    return any(v for k, v in res.items() if k != "devices")


def create(container_id: str, bundle: str, state_root: str, stdio: Stdio = None,
           console_socket: str | None = None, pid_file: str | None = None, preserve_fds: int = 0,
           config_path: str | None = None) -> int:
    """Create the container (everything but the user's ``execve``); return its init's host pid.
    ``config_path``: a configuration to use instead of the bundle's ``config.json``."""
    bundle = os.path.abspath(bundle)
    cdir = _state.container_dir(state_root, container_id)
    config = bundle_mod.load(bundle, config_path)
    os.makedirs(state_root, mode=0o700, exist_ok=True)
    try:
        os.mkdir(cdir, 0o700)
    except FileExistsError:
        raise ContainerError(f"container {container_id!r} already exists",
                             hint=f"delete it first: python -m rootless.runtime delete {container_id}") from None
    try:
        if _resources_requested(config):
            log.warn("resource limits are not enforced: cgroup v2 is not delegated to this user")
        fifo = _state.fifo_path(state_root, container_id)
        os.mkfifo(fifo, 0o600)
        _state.save_config(state_root, container_id, config)
        st = _state.ContainerState(
            id=container_id, bundle=bundle, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            annotations=dict(config.get("annotations") or {}),
            own_pidns=any(ns["type"] == "pid" and not ns.get("path") for ns in bundle_mod.namespaces(config)),
        )

        def on_hooks(pid: int) -> dict[str, Any]:
            hook_state = {**st.oci(state_root), "status": "created", "pid": pid}
            for kind in CREATE_TIME:
                run_hooks(hooks_of(config, kind), hook_state, kind)
            return hook_state

        opts = init.InitOptions(container_id, bundle, fifo_path=fifo, preserve_fds=preserve_fds)
        pid = create_mod.spawn_container(config, opts, stdio=stdio, console_socket=console_socket,
                                         on_hooks=on_hooks)
        st.pid = pid
        st.start_time = _state.proc_start_time(pid) or 0
        _state.save(state_root, st)
        if pid_file:
            _write_pid_file(pid_file, pid)
        return pid
    except BaseException:
        _remove_dir(cdir)
        raise


def _write_pid_file(path: str, pid: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


def _remove_dir(cdir: str) -> None:
    try:
        for name in os.listdir(cdir):
            os.unlink(os.path.join(cdir, name))
        os.rmdir(cdir)
    except FileNotFoundError:
        pass


def start(container_id: str, state_root: str) -> None:
    """Let the created container ``execve`` the user's process, then run the poststart hooks."""
    st = _state.load(state_root, container_id)
    status = st.status(state_root)
    if status != "created":
        raise ContainerError(f"container {container_id!r} is {status}, not created: cannot start it")
    fifo = _state.fifo_path(state_root, container_id)
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise ContainerError(f"container {container_id!r} is not waiting to start (its init is gone)") from e
        raise ContainerError(f"cannot open {fifo}: {e.strerror}") from e
    try:
        os.unlink(fifo)
        os.write(fd, b"0")
    finally:
        os.close(fd)
    config = _state.load_config(state_root, container_id)
    poststart = hooks_of(config, "poststart")
    if poststart:
        try:
            run_hooks(poststart, {**st.oci(state_root), "status": "running"}, "poststart")
        except ContainerError as e:
            log.warn(str(e))


def state(container_id: str, state_root: str) -> dict[str, Any]:
    """The OCI state JSON of the container."""
    return _state.load(state_root, container_id).oci(state_root)


def _pidns_members(pid: int) -> list[int]:
    try:
        target = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return [pid]
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") == target:
                out.append(int(name))
        except OSError:
            continue
    return out


def parse_signal(sig: str | int) -> int:
    """``9``, ``KILL``, ``SIGKILL`` -> 9."""
    if isinstance(sig, int):
        return sig
    s = sig.strip().upper()
    if s.isdigit():
        return int(s)
    name = s if s.startswith("SIG") else "SIG" + s
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ContainerError(f"unknown signal {sig!r}") from None


def kill(container_id: str, state_root: str, sig: str | int = signal.SIGTERM, all_processes: bool = False) -> None:
    """Send ``sig`` to the container init (or, with ``all_processes``, to every process of its pid ns)."""
    signum = parse_signal(sig)
    st = _state.load(state_root, container_id)
    status = st.status(state_root)
    if status not in ("created", "running"):
        raise ContainerError(f"container {container_id!r} is {status}: cannot send it a signal")
    targets = _pidns_members(st.pid) if all_processes and st.own_pidns else [st.pid]
    for pid in targets:
        _signal_pid(pid, signum, st.start_time if pid == st.pid else None)


def _signal_pid(pid: int, signum: int, start_time: int | None) -> None:
    try:
        pidfd = syscalls.pidfd_open(pid)
    except OSError:
        return
    try:
        if start_time is not None and _state.proc_start_time(pid) != start_time:
            return  # the pid was reused
        syscalls.pidfd_send_signal(pidfd, signum)
    except OSError as e:
        if e.errno != errno.ESRCH:
            raise ContainerError(f"cannot signal process {pid}: {e.strerror}") from e
    finally:
        os.close(pidfd)


def _wait_gone(pid: int, start_time: int, timeout: float = 10.0) -> None:
    try:
        pidfd = syscalls.pidfd_open(pid)
    except OSError:
        return
    try:
        if _state.proc_start_time(pid) != start_time:
            return
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)


def delete(container_id: str, state_root: str, force: bool = False) -> None:
    """Remove a stopped (or created) container; ``force`` kills a running one first.  Runs poststop hooks."""
    st = _state.load(state_root, container_id)
    status = st.status(state_root)
    if status == "running" and not force:
        raise ContainerError(f"container {container_id!r} is running: stop it first or use --force")
    if status != "stopped":
        for pid in _pidns_members(st.pid) if st.own_pidns else [st.pid]:
            _signal_pid(pid, signal.SIGKILL, st.start_time if pid == st.pid else None)
        _wait_gone(st.pid, st.start_time)
    config = _state.load_config(state_root, container_id)
    oci = st.oci(state_root)
    _remove_dir(_state.container_dir(state_root, container_id))
    poststop = hooks_of(config, "poststop")
    if poststop:
        try:
            run_hooks(poststop, {**oci, "status": "stopped"}, "poststop")
        except ContainerError as e:
            log.warn(str(e))


def exec_process(container_id: str, state_root: str, process: dict[str, Any], stdio: Stdio = None,
                 console_socket: str | None = None, pid_file: str | None = None, preserve_fds: int = 0) -> int:
    """Start ``process`` (an OCI ``process`` object) inside the container; return its host pid."""
    st = _state.load(state_root, container_id)
    status = st.status(state_root)
    if status not in ("created", "running"):
        raise ContainerError(f"container {container_id!r} is {status}: cannot exec in it")
    config = _state.load_config(state_root, container_id)
    if not process.get("args"):
        raise ContainerError("exec: process.args must not be empty")
    opts = init.InitOptions(container_id, st.bundle, preserve_fds=preserve_fds, join_pid=st.pid)
    pid = create_mod.spawn_exec(config, process, opts, stdio=stdio, console_socket=console_socket)
    if pid_file:
        _write_pid_file(pid_file, pid)
    return pid


def exec_defaults(container_id: str, state_root: str, args: list[str], tty: bool = False) -> dict[str, Any]:
    """An exec ``process`` built from the container's own ``process`` with new ``args``."""
    base = dict(_state.load_config(state_root, container_id).get("process") or {})
    base.pop("rlimits", None)
    base.pop("oomScoreAdj", None)
    base["args"] = list(args)
    base["terminal"] = tty
    return base


def wait_status(pid: int) -> int:
    """Wait for our child ``pid``; return its exit code, or 128+signal when it was killed."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def become_subreaper() -> None:
    """Make the calling process the reaper of the containers it creates."""
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)


def run(container_id: str, bundle: str, state_root: str, stdio: Stdio = None, console_socket: str | None = None,
        detach: bool = False, pid_file: str | None = None, preserve_fds: int = 0) -> int:
    """create + start; without ``detach`` wait, delete, and return the exit code (128+signal if killed)."""
    if not detach:
        become_subreaper()
    pid = create(container_id, bundle, state_root, stdio, console_socket, pid_file, preserve_fds)
    try:
        start(container_id, state_root)
    except BaseException:
        delete(container_id, state_root, force=True)
        raise
    if detach:
        return 0
    forward = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
    old = {s: signal.signal(s, lambda signum, _f: _forward(pid, signum)) for s in forward}
    try:
        code = wait_status(pid)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    delete(container_id, state_root, force=True)
    return code


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass
