"""Engine verbs the API service needs that the engine modules do not offer (yet): the API front end
(``rpod.api``) calls these instead of the domain packages.

Everything here is what the CLI does, shaped for a long-lived multi-threaded process: output goes
to fds the caller gives (pipes the API frames), never to this process's stdio; nothing installs
signal handlers or becomes a subreaper (``exec`` runs ``rpod exec`` as a child for that reason).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpod.errors import NoSuchContainer, StateConflict, UsageError
from rpod.paths import Paths


def store() -> Paths:
    return Paths.default()


# ------------------------------------------------------------------------------------- containers
def containers() -> list[tuple[Any, Any]]:
    """(record, state) of every container, newest first."""
    from rpod.container.state import ContainerStore

    return list(ContainerStore(store()).iter_states())


def container(ref: str) -> Any:
    from rpod.container.state import ContainerStore

    return ContainerStore(store()).get(ref)


def container_state(cid: str) -> Any:
    from rpod.container.state import ContainerStore

    return ContainerStore(store()).state(cid)


def container_dir(cid: str) -> Path:
    return store().container_dir(cid)


def run_options_fields() -> set[str]:
    from rpod.container.options import RunOptions
    from rpod.records import field_names

    return field_names(RunOptions)


def create(fields: dict[str, Any]) -> Any:
    """Create a container from ``RunOptions`` fields (pulling its image when missing)."""
    from rpod.container.options import RunOptions
    from rpod.engine import containers_run

    return containers_run.create(RunOptions(**fields), create_command=["rpod", "system", "service"], quiet=True,
                                 paths=store())


@dataclass
class StartedIO:
    """A container started with pipes for its stdio: the caller reads ``stdout``/``stderr``
    (``stderr`` is -1 with a terminal) and writes ``stdin`` (-1 unless asked)."""

    stdout: int = -1
    stderr: int = -1
    stdin: int = -1
    extra: list[int] = field(default_factory=list)


class _Prespawned:
    """A monitor started at create time (the client said it will attach), with its stdio pipes."""

    def __init__(self, cid: str, stdin: bool):
        from rpod.container.monitorspawn import StdioRequest, spawn_monitor

        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin else (-1, -1)
        self.io = StdioRequest(stdin_fd=in_r, stdout_fd=out_w, stderr_fd=err_w)
        try:
            self.spawn = spawn_monitor(self.io, cid)  # the monitor holds its own copies of the fds
        finally:
            for fd in (out_w, err_w, in_r):
                if fd >= 0:
                    os.close(fd)
        self.ours = StartedIO(stdout=out_r, stderr=err_r, stdin=in_w)
        self.stdin = stdin

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            self.spawn.cancel()
        for fd in (self.ours.stdout, self.ours.stderr, self.ours.stdin):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


_prespawned: dict[str, _Prespawned] = {}
_prespawn_lock = __import__("threading").Lock()
PRESPAWN_TTL = 60.0  # a monitor nobody starts is let go


def prespawn(cid: str, stdin: bool) -> None:
    """Start the container's monitor now (``docker run`` creates, attaches, then starts: the
    monitor's interpreter starts while those requests come), as ``rpod run`` does first thing."""
    import threading

    pre = _Prespawned(cid, stdin)
    with _prespawn_lock:
        old = _prespawned.pop(cid, None)
        _prespawned[cid] = pre
    if old is not None:
        old.cancel()
    timer = threading.Timer(PRESPAWN_TTL, _drop_prespawned, (cid, pre))
    timer.daemon = True
    timer.start()


def _drop_prespawned(cid: str, pre: _Prespawned | None = None) -> None:
    with _prespawn_lock:
        cur = _prespawned.get(cid)
        if cur is None or (pre is not None and cur is not pre):
            return
        del _prespawned[cid]
    cur.cancel()


def _drain(fds: list[int]) -> None:
    """Read and drop output nobody attached to (the log has it)."""
    import threading

    def run() -> None:
        import selectors

        sel = selectors.DefaultSelector()
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        left = set(fds)
        while left:
            for key, _ in sel.select():
                fd = int(key.fd)
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(fd)
                    os.close(fd)
                    left.discard(fd)
        sel.close()

    threading.Thread(target=run, daemon=True).start()


def start(ref: str, attach: bool = False, stdin: bool = False) -> StartedIO | None:
    """Start a container; with ``attach``, its output comes through pipes (none lost: the monitor
    writes them from the first byte), its stdin from a pipe with ``stdin``."""
    from rpod.container import lifecycle
    from rpod.container.monitorspawn import StdioRequest

    p = store()
    rec = container(ref)
    if container_state(rec.id).running:
        raise StateConflict(f"container {rec.id} is already running: container state improper")
    with _prespawn_lock:
        pre = _prespawned.pop(rec.id, None)
    if pre is not None and (attach or not stdin):
        try:
            started = lifecycle.start(p, rec, pre.io, pre.spawn)
        except BaseException:
            pre.cancel()
            raise
        _watch_exit(p, rec, started)
        if attach:
            return pre.ours
        _drain([fd for fd in (pre.ours.stdout, pre.ours.stderr) if fd >= 0])
        if pre.ours.stdin >= 0:
            os.close(pre.ours.stdin)
        return None
    if pre is not None:
        pre.cancel()
    if not attach:
        _watch_exit(p, rec, lifecycle.start(p, rec, None))
        return None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe() if stdin else (-1, -1)
    io = StdioRequest(stdin_fd=in_r, stdout_fd=out_w, stderr_fd=err_w)
    try:
        started = lifecycle.start(p, rec, io)
    except BaseException:
        for fd in (out_r, err_r, in_w):
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in (out_w, err_w, in_r):
            if fd >= 0:
                os.close(fd)
    _watch_exit(p, rec, started)
    return StartedIO(stdout=out_r, stderr=err_r, stdin=in_w)


def _raise_first(reports: list[Any]) -> None:
    for r in reports:
        if r.error is not None:
            raise r.error


def _watch_exit(p: Paths, rec: Any, started: Any) -> None:
    """Hold the monitor's sync socket, as a foreground ``rpod run`` does: the exit code arrives
    there first, and an ``--rm`` container is removed here at once (the monitor's fallback, a
    ``container cleanup`` process, runs only if this service is gone by then)."""
    import threading

    from rpod.container import lifecycle

    if started.sync is None:
        return

    def watch() -> None:
        try:
            code = lifecycle.wait_started(p, started)
            _last_exit[rec.id] = code
            if rec.options.rm:
                with contextlib.suppress(Exception):
                    lifecycle.cleanup(p, rec, rm=True)
                lifecycle.ack_removed(started)
        except Exception:
            pass
        finally:
            if started.sync is not None:
                started.sync.close()

    threading.Thread(target=watch, daemon=True).start()


def stop(ref: str, timeout: int | None) -> None:
    from rpod.engine import containers as ec

    _raise_first(ec.stop(ec.StopOptions(refs=[ref], timeout=timeout), store()))


def kill(ref: str, sig: str) -> None:
    """Signal a running container (Docker: 409 when it does not run)."""
    from rpod.engine import containers as ec

    rec = container(ref)
    if not container_state(rec.id).running:
        raise StateConflict(f"can only kill running containers. {rec.id} is in state "
                            f"{container_state(rec.id).status}: container state improper")
    _raise_first(ec.kill(ec.KillOptions(refs=[rec.id], signal=sig), store()))


def remove(ref: str, force: bool, volumes: bool) -> None:
    from rpod.engine import containers as ec

    _drop_prespawned(container(ref).id)  # a missing container is an error here, even with force
    _raise_first(ec.remove(ec.RemoveOptions(refs=[ref], force=force, volumes=volumes,
                                            timeout=0 if force else None), store()))


def rename(ref: str, new_name: str) -> None:
    from rpod.engine import containers as ec

    ec.rename(ref, new_name, store())


def pause(ref: str) -> None:
    from rpod.engine import containers as ec

    ec.pause([ref], paths=store())


def unpause(ref: str) -> None:
    from rpod.engine import containers as ec

    ec.unpause([ref], paths=store())


def wait(ref: str, condition: str = "not-running", cancel: Any = None) -> tuple[int, str]:
    """Wait for Docker's ``condition`` (not-running, next-exit, removed); (exit code, error).
    ``cancel()`` true (the client went away) ends the wait with ``BrokenPipeError``."""
    from rpod.container.state import ContainerStore

    rec = container(ref)
    cs = ContainerStore(store())
    before = cs.state(rec.id)
    code, error = -1, ""
    while True:
        if cs.load(rec.id) is None:  # removed (an --rm container): the exit it had, if seen
            return (code if code != -1 else _last_exit.get(rec.id, 0)), error
        st = cs.state(rec.id)
        exited = st.status == "exited" and not st.restarting
        if exited:
            code, error = st.exit_code, st.error
            _last_exit[rec.id] = code
        if condition == "not-running" and (exited or st.status == "created"):
            return st.exit_code, st.error
        if condition == "next-exit" and exited and (before.status != "exited"
                                                    or st.finished_at != before.finished_at):
            return code, error
        if cancel is not None and cancel():
            raise BrokenPipeError("the client went away")
        time.sleep(0.05)


_last_exit: dict[str, int] = {}


def note_exit(cid: str, code: int) -> None:
    """Remember an exit code seen by an attach stream (an --rm container may vanish before wait)."""
    _last_exit[cid] = code


def prune_containers(filters: dict[str, list[str]] | None = None) -> list[tuple[str, int]]:
    from rpod.engine import containers as ec

    return [(r.id, r.size) for r in ec.prune(filters, store())]


# ------------------------------------------------------------------------------------------- logs
def log_path(cid: str) -> str:
    """The container's k8s-file log (``--log-opt path=`` honoured)."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    rec = ContainerStore(store()).load(cid)
    return lifecycle.log_path(container_dir(cid), rec.options if rec is not None else None)


def log_reader(cid: str) -> Any:
    """A ``containers_logs.LogReader`` of the container's log (held open while followed)."""
    from rpod.engine.containers_logs import LogReader

    return LogReader(log_path(cid))


def log_follow_done(cid: str) -> bool:
    from rpod.container.state import ContainerStore

    cs = ContainerStore(store())
    if cs.load(cid) is None:
        return True
    st = cs.state(cid)
    return st.status in ("exited", "created") and not st.restarting


def parse_time(value: str) -> float:
    from rpod.humanize import parse_time as pt

    return pt(value)


# ------------------------------------------------------------------------------------------- attach
def attach_socket(cid: str) -> Any:
    """A connection to a running container's attach socket (``rootless.monitor.stdio`` packets)."""
    from rootless.monitor import stdio as mstdio
    from rpod.container.state import ContainerStore

    cs = ContainerStore(store())
    return mstdio.connect_attach(str(cs.run_dir(cid)))


def attach_tags() -> dict[str, bytes]:
    from rootless.monitor import stdio as mstdio

    return {"stdin": mstdio.STDIN, "stdout": mstdio.STDOUT, "stderr": mstdio.STDERR, "eof": mstdio.STDIN_EOF,
            "resize": mstdio.RESIZE, "max": mstdio.MAX_PACKET.to_bytes(4, "big")}


def resize(cid: str, rows: int, cols: int) -> None:
    with contextlib.suppress(OSError):
        sock = attach_socket(cid)
        with sock:
            tags = attach_tags()
            from rootless.monitor import stdio as mstdio

            sock.send(mstdio.CONTROL)
            sock.send(tags["resize"] + f"{rows} {cols}".encode())


# -------------------------------------------------------------------------------------------- exec
def exec_popen(cid: str, cmd: list[str], *, tty: bool, stdin: bool, env: list[str], user: str | None,
               workdir: str | None, detach: bool = False) -> subprocess.Popen[bytes]:
    """``rpod exec`` as a child with pipes: the exec needs a subreaper and signal handlers, which a
    threaded service must not take on.  With ``tty`` the child gets a pty for its terminal."""
    if container_state(container(cid).id).status != "running":
        raise StateConflict("can only create exec sessions on running containers: container state improper")
    if not cmd:
        raise UsageError("must provide a non-empty command to start an exec session: invalid argument")
    argv = [sys.executable, "-m", "rpod", "exec"]
    argv += ["-i"] if stdin else []
    argv += ["-t"] if tty else []
    argv += ["-d"] if detach else []
    for e in env:
        argv += ["-e", e]
    if user:
        argv += ["-u", user]
    if workdir:
        argv += ["-w", workdir]
    argv += [cid, *cmd]
    if tty:
        import pty
        import tty as ttymod

        master, slave = pty.openpty()
        ttymod.setraw(slave)  # the bytes pass through untouched: the container's own pty does the rest
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                start_new_session=True)
        os.close(slave)
        proc.master = master  # type: ignore[attr-defined]
        return proc
    return subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)


def top(ref: str, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
    """``top``'s titles and rows: ``rpod top`` run as a child (its table split on columns)."""
    rec = container(ref)
    if not container_state(rec.id).running:
        raise StateConflict(f"top can only be used on running containers: {rec.id} is not running")
    r = subprocess.run([sys.executable, "-m", "rpod", "top", rec.id, *ps_args], capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        raise UsageError(r.stderr.strip().removeprefix("Error: ") or "top failed")
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    if not lines:
        return [], []
    titles = lines[0].split()
    rows = [ln.split(None, len(titles) - 1) for ln in lines[1:]]
    return titles, rows


# ------------------------------------------------------------------------------------------ archive
def archive_get(ref: str, path: str) -> tuple[dict[str, Any], Iterator[bytes]]:
    """``GET /archive``: a tar of ``path`` in the container (``rpod cp CTR:PATH -``) and its stat."""
    rec = container(ref)
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "cp", f"{rec.id}:{path}", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.read(65536)
    if not first:
        err = proc.stderr.read().decode() if proc.stderr else ""
        proc.wait()
        msg = err.strip().removeprefix("Error: ") or f"{path}: no such file or directory"
        raise NoSuchContainer(msg) if "no such" in msg.lower() else UsageError(msg)
    stat = _tar_first_stat(first, path)

    def chunks() -> Iterator[bytes]:
        try:
            yield first
            while True:
                data = proc.stdout.read(65536)  # type: ignore[union-attr]
                if not data:
                    break
                yield data
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait()

    return stat, chunks()


def _tar_first_stat(data: bytes, path: str) -> dict[str, Any]:
    """Docker's path stat from the archive's first member (pax headers read as tar does)."""
    import io
    import tarfile

    hdr = None
    with contextlib.suppress(tarfile.TarError, EOFError, OSError), \
            tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tf:
        hdr = tf.next()
    if hdr is None:
        return {"name": os.path.basename(path.rstrip("/")) or "/", "size": 0, "mode": 0, "mtime": "",
                "linkTarget": ""}
    mode = hdr.mode | (0x80000000 if hdr.isdir() else 0) | (0x8000000 if hdr.issym() else 0)
    return {"name": os.path.basename(hdr.name.rstrip("/")), "size": hdr.size, "mode": mode,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hdr.mtime)), "linkTarget": hdr.linkname}


def archive_put(ref: str, path: str, chunks: Iterator[bytes]) -> None:
    """``PUT /archive``: extract a tar stream at ``path`` in the container (``rpod cp - CTR:PATH``)."""
    rec = container(ref)
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "cp", "-", f"{rec.id}:{path}"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for c in chunks:
            proc.stdin.write(c)
    except BrokenPipeError:
        pass
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.close()
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.wait() != 0:
        msg = err.strip().removeprefix("Error: ")
        raise NoSuchContainer(msg) if "no such" in msg.lower() else UsageError(msg or "copying failed")


def network_view(rec: Any) -> dict[str, Any]:
    """``{"mode", "ports", "settings"}`` of a container record (Podman's inspect pieces)."""
    from rpod.network.inspect import container_network

    if isinstance(rec, str):
        rec = container(rec)
    return container_network(container_dir(rec.id), rec)


def health(cid: str) -> dict[str, Any] | None:
    from rpod.container.service import read_health

    return read_health(container_dir(cid))


def human_duration(seconds: float) -> str:
    from rpod.humanize import human_duration as hd

    return hd(seconds)


# -------------------------------------------------------------------------------------------- system
def info() -> dict[str, Any]:
    from rpod.sysinfo import gather

    return gather(store())


def version() -> str:
    from rpod import __version__

    return __version__


def host_arch() -> str:
    from rpod.hostfacts import host_arch as ha

    return ha()


def events_path() -> Path:
    return store().events_log


def parse_events(lines: list[str]) -> list[dict[str, Any]]:
    from rpod.events import parse_lines

    return list(parse_lines(lines))


def debug(message: str) -> None:
    from rpod.log import debug as d

    d(message)


from rpod.engine.api_images import (  # noqa: E402  the image verbs, one import away for the front end
    PullEvents,
    build,
    docker_name,
    image,
    image_config,
    image_in_use,
    image_inspect,
    images,
    load,
    prune_images,
    pull,
    push,
    remove_image,
    save,
    tag,
)

__all__ = ["PullEvents", "build", "docker_name", "image", "image_config", "image_in_use", "image_inspect",
           "images", "load", "prune_images", "pull", "push", "remove_image", "save", "tag"]
