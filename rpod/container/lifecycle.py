"""A container's life after ``create`` (``rpod.container.create``): start (spawn the monitor),
wait, stop, kill, remove, clean up; ``exec`` is in ``rpod.container.execute``.

``start`` spawns ``rootless.monitor`` (a fresh ``python -I -S``), which creates and starts the
container through ``rootless.runtime.api`` and outlives the CLI.  A created container has no
monitor: ``rpod start`` spawns it (simplest correct design: no idle process per created container).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rootless import ctrfiles
from rootless.monitor import exitfile
from rpod.container.monitorspawn import MonitorSpawn, StdioRequest, spawn_monitor  # noqa: F401 - API
from rpod.container.options import RunOptions
from rpod.container.state import ContainerRecord, ContainerState, ContainerStore
from rpod.errors import (
    ContainerCannotInvoke,
    ContainerCommandNotFound,
    RpodError,
    StateConflict,
    UsageError,
)
from rpod.events import container_event
from rpod.log import debug
from rpod.paths import Paths

POLL = 0.02


def _now_iso() -> str:
    return exitfile.iso_now()


def runtime_state_root(paths: Paths) -> str:
    return str(paths.runtime_state)


# ------------------------------------------------------------------------------------------- start
@dataclass
class Started:
    """A started container: its pid and the sync socket to its monitor (None once closed)."""

    record: ContainerRecord
    pid: int
    sync: socket.socket | None
    terminal: bool
    detached: bool = False  # the user typed the detach keys (foreground -it)


def _options(record: ContainerRecord) -> RunOptions:
    """A copy of the record's options, for one start to adjust."""
    return replace(record.options)


def _peer(store: ContainerStore) -> Any:
    """``--network container:ID``: the pid of that container's init (0 when not running) and its dir."""
    def peer(cid: str) -> tuple[int, Path]:
        st = store.state(cid)
        return (st.pid if st.running else 0), store.dir(cid)
    return peer


def exit_command(paths: Paths, cid: str, rm: bool = True) -> list[str]:
    """What the monitor runs to remove an ``--rm`` container when no CLI is there to do it (and,
    without ``rm``, after a pod member exits: its pod's ``--exit-policy`` is applied)."""
    return [sys.executable, "-m", "rpod", "--root", str(paths.root), "--runroot", str(paths.runroot),
            "container", "cleanup", *(["--rm"] if rm else []), cid]


PREVIOUS_MONITOR_GRACE = 30.0  # seconds a start waits for the last run's monitor to finish


def _await_previous_monitor(store: ContainerStore, cid: str) -> None:
    """Let the previous run's monitor finish before a new start: after the exit file it still
    deletes the runtime state and runs the exit command (``container cleanup``), which would
    otherwise land on the new run (a stop followed at once by a start, a pod restart)."""
    mon = exitfile.read_monitor_file(str(store.dir(cid))) or {}
    pid, start = mon.get("monitor_pid"), mon.get("monitor_start")
    if pid == os.getpid() or not exitfile.process_alive(pid, start):
        return
    deadline = time.monotonic() + PREVIOUS_MONITOR_GRACE
    while exitfile.process_alive(pid, start) and time.monotonic() < deadline:
        time.sleep(0.01)
    if exitfile.process_alive(pid, start):
        debug(f"the monitor {pid} of the previous run of {cid[:12]} is still finishing; starting anyway")


def _terminal_and_rechown(cdir: Path, opts: RunOptions) -> bool:
    """Whether the bundle asks for a terminal; ``:U`` sources chowned again if they changed owner;
    this start's LISTEN_* variables in the process environment (socket activation)."""
    with open(cdir / ctrfiles.SPEC, "rb") as f:
        spec = json.load(f)
    from rpod.container.listenfds import apply_listen_env

    apply_listen_env(cdir / ctrfiles.SPEC, spec, list(opts.env or []))
    if opts.volumes or opts.mounts:
        from rpod.container.chown import rechown_at_start

        rechown_at_start(opts, spec)
    return bool((spec.get("process") or {}).get("terminal"))


def _preflight(cdir: Path, record: ContainerRecord) -> None:
    """What must hold before a start: no ``--runtime-flag`` for the built-in runtime (as crun
    refuses a flag it does not know); a ``--workdir`` that exists."""
    if os.environ.get("RPOD_RUNTIME_FLAGS") and not getattr(record.options, "runtime", None) \
            and not os.environ.get("RPOD_OCI_RUNTIME"):
        from rpod.errors import ContainerCannotInvoke

        raise ContainerCannotInvoke(f"the built-in runtime takes no flags: --runtime-flag "
                                    f"{os.environ['RPOD_RUNTIME_FLAGS']} (use --runtime crun to pass flags)")
    if getattr(record.options, "workdir", None):
        from rpod.container.workdir import check_workdir

        check_workdir(cdir, record)


def log_path(cdir: Path, opts: Any) -> str:
    """Where the k8s-file log of a container is (``--log-opt path=`` or its directory's ``ctr.log``)."""
    from rpod.container.options import log_settings

    return log_settings(list(getattr(opts, "log_opt", None) or [])).path or str(cdir / ctrfiles.LOG)


def start(paths: Paths, record: ContainerRecord, io: StdioRequest | None = None,
          spawn: MonitorSpawn | None = None) -> Started:
    """Configure the monitor (``spawn``, started early with the same ``io``, or one started here),
    which creates and starts the container; wait for its pid or its error."""
    store = ContainerStore(paths)
    st = store.state(record.id)
    if st.running:
        raise StateConflict(f"container {record.id} is already running: container state improper")
    if not st.restarting:
        _await_previous_monitor(store, record.id)
    _preflight(store.dir(record.id), record)
    store.reset_runtime(record.id)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(store.dir(record.id) / ctrfiles.DIED_MARK)
    shutil_rm_runtime(paths, record.id)
    opts = _options(record)
    cdir = store.dir(record.id)
    run_dir = store.run_dir(record.id)
    run_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    from rpod.container import namespaces
    from rpod.container.options import log_settings
    from rpod.network.start import monitor_spec

    namespaces.start_dependencies(paths, record, lambda dep: _start_detached(paths, dep))
    network = monitor_spec(paths, record, cdir, _peer(store))  # tun, free host ports, namespaces to join
    namespaces.join_at_start(paths, record, cdir)
    terminal = _terminal_and_rechown(cdir, opts)
    log_driver = {"json-file": "k8s-file", None: "k8s-file"}.get(opts.log_driver, opts.log_driver)
    if log_driver == "passthrough" and (io is None or opts.detach):
        raise UsageError("--log-driver passthrough needs a foreground container (no -d)")
    if spawn is None:
        from rpod.container.listenfds import fds_to_preserve

        spawn = spawn_monitor(io, record.id, fds_to_preserve(int(opts.preserve_fds or 0)))
    logs = log_settings(list(opts.log_opt or []))  # --log-opt, parsed once
    cfg: dict[str, Any] = {
        "id": record.id, "bundle": str(cdir), "state_root": runtime_state_root(paths),
        "container_dir": str(cdir), "run_dir": str(run_dir), "sync_fd": spawn.sync_fd,
        "terminal": terminal, "log_driver": log_driver, "log_path": logs.path or str(cdir / ctrfiles.LOG),
        "log_size_max": logs.size_max, "timeout": opts.timeout or 0,
        "remove": bool(opts.rm), "exit_command": exit_command(paths, record.id) if opts.rm else (
            exit_command(paths, record.id, rm=False) if opts.pod else None),
        "network": network,
    }
    from rpod.container import service

    cfg.update(service.monitor_config(paths, record, opts, cdir, log_driver))
    runtime = record.options.runtime
    if runtime:
        cfg["runtime"] = resolve_runtime(runtime)
    elif os.environ.get("RPOD_OCI_RUNTIME"):
        cfg["runtime"] = os.environ["RPOD_OCI_RUNTIME"].split()
    cfg.update(spawn.fds)
    if io is not None:
        if io.stdin_fd >= 0:
            cfg["stdin"] = "inherit"
            if terminal:  # the monitor reads the terminal: it watches for the detach keys
                cfg["detach_keys"] = _detach_keys_hex(opts.detach_keys)
        elif io.keep_stdin_open:
            cfg["stdin"] = "pipe"
    elif opts.interactive:
        cfg["stdin"] = "pipe"
    ours = spawn.configure(cfg)
    debug(f"container {record.short_id}: monitor configured")
    msg = read_message(ours)
    debug(f"container {record.short_id}: monitor reported {msg}")
    if msg is None:
        ours.close()
        ex = exitfile.read_exit_file(str(cdir)) or {}
        raise RpodError(f"the container monitor died before starting the container: {ex.get('error', 'no report')}")
    if "error" in msg:
        ours.close()
        raise_for_code(str(msg["error"]), int(msg.get("exit_code", 125)))
    container_event(paths, record, "start")
    write_monitor_pidfile(cdir)
    return Started(record, int(msg["pid"]), ours, terminal)


def _start_detached(paths: Paths, record: ContainerRecord) -> None:
    """Start a dependency in the background (``--requires``, a namespace's owner)."""
    started = start(paths, record, None)
    if started.sync:
        started.sync.close()


def write_monitor_pidfile(cdir: Path) -> None:
    """Write the monitor's pid to ``<container dir>/userdata/conmon.pid`` (the ``PIDFile=`` of a
    ``generate systemd`` unit without ``--new``: ``rpod start`` returns, the monitor stays)."""
    mon = exitfile.read_monitor_file(str(cdir)) or {}
    if mon.get("monitor_pid"):
        path = cdir / ctrfiles.MONITOR_PIDFILE
        with contextlib.suppress(OSError):
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(f"{mon['monitor_pid']}\n")
            os.replace(tmp, path)


def resolve_runtime(name: str) -> list[str] | None:
    """``--runtime``: the argv prefix of an OCI runtime CLI (a name on PATH or a path); None for
    ``rpod`` (the in-process runtime).  Raises ``UsageError`` when it cannot be found."""
    import shutil

    if name == "rpod":
        return None
    found = shutil.which(name)
    if not found:
        raise UsageError(f"cannot find OCI runtime {name!r}: not on PATH and not an executable path",
                         hint="install it (e.g. crun) or give its full path with --runtime")
    return [found]


def shutil_rm_runtime(paths: Paths, cid: str, exited: bool = False) -> None:
    """Remove leftover runtime state of a previous run of ``cid`` (``exited``: its init is known
    to be gone, so there is nothing to kill and no need to import the runtime)."""
    import shutil

    d = paths.runtime_state / cid
    if d.exists():
        if not exited:
            with contextlib.suppress(Exception):
                from rootless.runtime import api

                api.delete(cid, str(paths.runtime_state), force=True)
        shutil.rmtree(d, ignore_errors=True)


def raise_for_code(message: str, code: int) -> None:
    if code == 127:
        raise ContainerCommandNotFound(f"{message}: OCI runtime attempted to invoke a command that was not found")
    if code == 126:
        raise ContainerCannotInvoke(f"{message}: OCI runtime permission denied error")
    raise RpodError(message)


def read_message(sock: socket.socket) -> dict[str, Any] | None:
    """One JSON line from the monitor, None on EOF."""
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            chunk = sock.recv(1)
        except InterruptedError:
            continue
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    try:
        return json.loads(buf)
    except ValueError:
        return None


def _detach_keys_hex(spec: str | None) -> str:
    from rootless.monitor.detach import DEFAULT, parse

    try:
        return parse(DEFAULT if spec is None else spec).hex()
    except ValueError as e:
        raise UsageError(str(e)) from None


def wait_started(paths: Paths, started: Started) -> int:
    """Foreground: the exit code the monitor reports (or the exit file if the monitor died);
    0 with ``started.detached`` set when the user typed the detach keys (the container runs on)."""
    msg = read_message(started.sync) if started.sync else None
    debug(f"container {started.record.short_id}: exit {msg}")
    if msg is not None and msg.get("detached"):
        started.detached = True
        return 0
    if msg is not None and "exit_code" in msg:
        code = int(msg["exit_code"])
    else:
        st = wait_exit(paths, started.record.id, timeout=5)
        code = st.exit_code if st.status == "exited" else 125
    record_died(paths, started.record, code)
    return code


def record_died(paths: Paths, record: ContainerRecord, exit_code: int) -> None:
    """The ``died`` event, once per run (whichever CLI observes the exit first records it)."""
    try:
        fd = os.open(ContainerStore(paths).dir(record.id) / ctrfiles.DIED_MARK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(fd)
    container_event(paths, record, "died", exit_code=exit_code)


def ack_removed(started: Started) -> None:
    """Tell the monitor the CLI removed the ``--rm`` container itself."""
    if started.sync is not None:
        with contextlib.suppress(OSError):
            started.sync.sendall(b"removed\n")
        started.sync.close()
        started.sync = None


# -------------------------------------------------------------------------------------- wait/stop
def wait_exit(paths: Paths, cid: str, timeout: float | None = None,
              conditions: tuple[str, ...] = ("exited",)) -> ContainerState:
    """Poll until the container reaches one of ``conditions`` (or ``timeout`` seconds pass)."""
    store = ContainerStore(paths)
    end = None if timeout is None else time.monotonic() + timeout
    fast_until = 0.0
    while True:
        st = store.state(cid)
        if st.status in conditions and not st.restarting:  # the monitor restarts it: not stopped yet
            return st
        if store.load(cid) is None:
            return ContainerState("removed", exit_code=-1)
        now = time.monotonic()
        if end is not None and now >= end:
            return st
        if now >= fast_until and conditions == ("exited",) and st.status == "running":
            if _block_until_init_exits(store, cid, min(now + 1.0, end or now + 1.0)):
                fast_until = time.monotonic() + FAST_WINDOW  # the monitor records the exit right after
            continue
        time.sleep(FAST_POLL if now < fast_until else POLL)


FAST_POLL, FAST_WINDOW = 0.002, 0.5


def _block_until_init_exits(store: ContainerStore, cid: str, until: float) -> bool:
    """Sleep until the container's init exits (its pidfd becomes readable) or ``until``, instead
    of waking every POLL: ``stop`` returns as soon as the monitor records the exit.  True when
    the init is gone (at once when it is not the container's any more, checked by start time)."""
    import select

    mon = exitfile.read_monitor_file(str(store.dir(cid))) or {}
    pid = int(mon.get("pid", 0) or 0)
    try:
        pidfd = os.pidfd_open(pid) if pid > 0 else -1
    except OSError:
        pidfd = -1
    if pidfd < 0:
        time.sleep(POLL)
        return True
    try:
        if exitfile.proc_start_time(pid) != mon.get("pid_start"):
            return True
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(0, int((until - time.monotonic()) * 1000))))
    finally:
        os.close(pidfd)


def signal_container(paths: Paths, record: ContainerRecord, sig: int) -> None:
    """Send ``sig`` to the container's init (checked by start time, so a recycled pid is safe)."""
    from rpod.container.service import mark_stopped

    store = ContainerStore(paths)
    mark_stopped(store.dir(record.id))  # an explicit stop/kill: the monitor must not restart it
    mon = exitfile.read_monitor_file(str(store.dir(record.id))) or {}
    st = store.state(record.id)
    if not (st.status == "running" or (st.status == "stopping" and st.pid)):  # a stop in progress: still alive
        raise StateConflict(f"can only kill running containers. {record.id} is in state {st.status}: "
                            "container state improper")
    from rootless import syscalls

    pid = int(mon.get("pid", 0))
    try:
        pidfd = syscalls.pidfd_open(pid)
    except OSError:
        return
    try:
        if exitfile.proc_start_time(pid) == mon.get("pid_start"):
            syscalls.pidfd_send_signal(pidfd, sig)
            container_event(paths, record, "kill")
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def stop(paths: Paths, record: ContainerRecord, timeout: int | None = None) -> ContainerState:
    """Stop signal, then SIGKILL after ``timeout`` seconds (the record's stop timeout by default)."""
    from rpod import log
    from rpod.container.service import mark_stopped

    store = ContainerStore(paths)
    mark_stopped(store.dir(record.id))
    st = store.state(record.id)
    if st.restarting:  # in the back-off gap: the monitor sees the mark and gives up, or has just restarted it
        end = time.monotonic() + 5
        while st.restarting and time.monotonic() < end:
            time.sleep(POLL)
            st = store.state(record.id)
    if st.status == "stopping" and not st.pid:  # the container is gone; its monitor is finishing up
        return wait_exit(paths, record.id, timeout=30)
    if st.status not in ("running", "stopping"):  # (stopping: another stop waits; this one acts too)
        return st
    t = record.stop_timeout if timeout is None else timeout
    mark = store.dir(record.id) / ctrfiles.STOPPING  # the status reads "stopping" while we wait
    exitfile.write_json_atomic(str(mark), {"pid": os.getpid(), "pid_start": exitfile.proc_start_time(os.getpid())})
    try:
        if t > 0:
            with contextlib.suppress(StateConflict):
                signal_container(paths, record, record.stop_signal)
            st = wait_exit(paths, record.id, timeout=t)
            if st.status == "exited":
                return _stopped(paths, record, st)
            signame = signal.Signals(record.stop_signal).name \
                if record.stop_signal in signal.Signals._value2member_map_ else str(record.stop_signal)
            log.warn(f"StopSignal {signame} failed to stop container {record.name} in {t} seconds, "
                     "resorting to SIGKILL", once=False)
        with contextlib.suppress(StateConflict):
            signal_container(paths, record, signal.SIGKILL)
        return _stopped(paths, record, wait_exit(paths, record.id, timeout=30))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(mark)


def _stopped(paths: Paths, record: ContainerRecord, st: ContainerState) -> ContainerState:
    if st.status == "exited":
        record_died(paths, record, st.exit_code)
        container_event(paths, record, "stop")
    return st


def remove(paths: Paths, record: ContainerRecord, *, force: bool = False, timeout: int | None = None,
           volumes: bool = False) -> None:
    """Remove a container (``force`` stops a running one first; ``volumes`` also removes its
    anonymous volumes, as ``rm -v``)."""
    from rpod.container import namespaces
    from rpod.container.namespaces import dependents

    deps = dependents(paths, record.id)
    if deps:
        raise RpodError(f"container {record.id} has dependent containers which must be removed before it: "
                        f"{', '.join(deps)}: container already exists")  # Podman: 125, not rm's 2
    store = ContainerStore(paths)
    st = store.state(record.id)
    if st.running:
        if not force:
            raise StateConflict(
                f"cannot remove container {record.id} as it is running - running or paused containers "
                "cannot be removed without force: container state improper",
                hint=f"stop it first (rpod stop {record.name}) or use rpod rm -f")
        stop(paths, record, timeout)
    elif st.status == "exited":
        record_died(paths, record, st.exit_code)
    shutil_rm_runtime(paths, record.id)
    store.remove(record)
    if namespaces.record_option(record, "ipc") == "shareable":
        import shutil

        from rpod.container.namespaces import shared_shm_dir

        shutil.rmtree(shared_shm_dir(paths, record.id), ignore_errors=True)
    container_event(paths, record, "remove")
    if volumes:
        remove_anonymous_volumes(paths, record)


def remove_anonymous_volumes(paths: Paths, record: ContainerRecord) -> None:
    """Remove the anonymous volumes the (removed) container mounted and no other container uses."""
    from rpod.container.state import containers_using_volume
    from rpod.volume.volumes import VolumeStore

    prefix = str(paths.volumes) + os.sep
    names = [os.path.basename(os.path.dirname(m["source"])) for m in record.mounts
             if str(m.get("source", "")).startswith(prefix)]
    if not names:
        return
    vstore = VolumeStore(paths, in_use=lambda n: containers_using_volume(paths, n))
    for name in names:
        with contextlib.suppress(RpodError):
            if vstore.get(name).anonymous and not vstore.users(name):
                vstore.remove(name)


def cleanup(paths: Paths, record: ContainerRecord, rm: bool) -> None:
    """After the container exited: drop runtime state; with ``rm`` remove the container."""
    store = ContainerStore(paths)
    st = store.state(record.id)
    shutil_rm_runtime(paths, record.id, exited=not st.running)
    if st.status == "exited":
        record_died(paths, record, st.exit_code)
    if rm:
        if st.running:
            return
        store.remove(record)
        container_event(paths, record, "remove")
        remove_anonymous_volumes(paths, record)  # --rm removes anonymous volumes, as in Podman
