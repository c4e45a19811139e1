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

    return set(RunOptions.__dataclass_fields__)


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


def start(ref: str, attach: bool = False, stdin: bool = False) -> StartedIO | None:
    """Start a container; with ``attach``, its output comes through pipes (none lost: the monitor
    writes them from the first byte), its stdin from a pipe with ``stdin``."""
    from rpod.container import lifecycle
    from rpod.container.monitorspawn import StdioRequest

    p = store()
    rec = container(ref)
    if container_state(rec.id).running:
        raise StateConflict(f"container {rec.id} is already running: container state improper")
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

    container(ref)  # a missing container is an error here, even with force
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
    return str(container_dir(cid) / "ctr.log")


def read_log_records(cid: str, offset: int = 0) -> tuple[list[tuple[str, str, bytes]], int]:
    """(timestamp, stream, bytes) of whole log records from ``offset``; and the offset after them.
    A partial line's pieces come as they are (the caller joins nothing: bytes are bytes)."""
    from rootless.monitor.stdio import parse_log_line

    try:
        with open(log_path(cid), "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    out = []
    for line in data[:end].split(b"\n"):
        parsed = parse_log_line(line)
        if parsed:
            ts, stream, full, text = parsed
            out.append((ts, stream, text + (b"\n" if full else b"")))
    return out, offset + end


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


def network_view(cid: str) -> dict[str, Any]:
    """``{"mode", "ports", "settings"}`` of a container (Podman's inspect pieces)."""
    from rpod.network.inspect import container_network

    rec = container(cid)
    return container_network(container_dir(rec.id), rec)


def health(cid: str) -> dict[str, Any] | None:
    from rpod.container.service import read_health

    return read_health(container_dir(cid))


def human_duration(seconds: float) -> str:
    from rpod.humanize import human_duration as hd

    return hd(seconds)


# -------------------------------------------------------------------------------------------- images
def docker_name(name: str) -> str:
    """Docker clients spell Docker Hub names out (``docker.io/library/alpine``): give rpod's
    short-name resolution (registries.conf) the name the user typed."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def images() -> list[Any]:
    from rpod.image.store import ImageStore

    return ImageStore(store()).list()


def image(name: str) -> Any:
    """An image by id, full name or short name (``NoSuchImage``)."""
    from rpod.engine import images as ei

    return ei.resolve(store(), docker_name(name))


def image_inspect(rec: Any) -> dict[str, Any]:
    from rpod.image.reports import inspect_image
    from rpod.image.store import ImageStore

    return inspect_image(ImageStore(store()), rec)


def image_in_use() -> dict[str, list[str]]:
    from rpod.engine import images as ei

    return ei.containers_by_image(store())


class PullEvents:
    """Pull progress as Docker's JSON lines, handed to ``emit`` (one dict per event)."""

    def __init__(self, emit: Any):
        self.emit = emit
        self.sizes: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def message(self, text: str) -> None:
        self.emit({"status": text})

    def blob_start(self, digest: str, size: int, kind: str = "blob") -> None:
        self.sizes[digest], self.done[digest] = size, 0
        self.emit({"status": "Pulling fs layer", "progressDetail": {}, "id": _short(digest)})

    def blob_advance(self, digest: str, nbytes: int) -> None:
        self.done[digest] = self.done.get(digest, 0) + nbytes
        self.emit({"status": "Downloading", "id": _short(digest),
                   "progressDetail": {"current": self.done[digest], "total": self.sizes.get(digest, 0)}})

    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None:
        self.emit({"status": "Already exists" if skipped else "Download complete", "progressDetail": {},
                   "id": _short(digest)})

    def close(self) -> None:
        pass


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def pull(name: str, emit: Any, platform: str | None = None, creds: str | None = None) -> Any:
    """Pull ``name`` reporting progress through ``emit(dict)``; the image record."""
    from rpod.image.pull import Puller, PullOptions, parse_platform

    opts = PullOptions(creds=creds)
    if platform:
        opts.os, opts.arch, opts.variant = parse_platform(platform)
    return Puller(store(), opts, PullEvents(emit)).pull(docker_name(name))  # type: ignore[arg-type]


def tag(name: str, target: str) -> None:
    from rpod.engine import images as ei

    ei.tag(docker_name(name), [target], store())


def remove_image(name: str, force: bool) -> tuple[list[str], list[str]]:
    """(untagged, deleted)."""
    from rpod.engine import images as ei

    image(name)  # missing: an error even with force (Docker's 404)
    reports = ei.remove(ei.RemoveOptions(names=[docker_name(name)], force=force), store())
    _raise_first(reports)
    lines = [ln for r in reports for ln in r.lines()]
    return ([ln.removeprefix("Untagged: ") for ln in lines if ln.startswith("Untagged: ")],
            [ln.removeprefix("Deleted: ") for ln in lines if ln.startswith("Deleted: ")])


def prune_images(all_: bool, filters: dict[str, list[str]] | None = None) -> list[tuple[str, int]]:
    from rpod.engine import images as ei

    return [(r.id, r.size) for r in ei.prune(all_, filters, store())]


def image_config(rec: Any) -> dict[str, Any]:
    from rpod.image.store import ImageStore

    return ImageStore(store()).config(rec)


# -------------------------------------------------------------------------------------------- system
def info() -> dict[str, Any]:
    from rpod.sysinfo import gather

    return gather(store())


def version() -> str:
    from rpod import __version__

    return __version__


def host_arch() -> str:
    from rpod.image.pull import host_arch as ha

    return ha()


def events_path() -> Path:
    return store().events_log


def parse_events(lines: list[str]) -> list[dict[str, Any]]:
    from rpod.events import parse_lines

    return list(parse_lines(lines))


def debug(message: str) -> None:
    from rpod.log import debug as d

    d(message)


# -------------------------------------------------------------------------------- build, push, load
def _chunk_reader(chunks: Iterator[bytes]) -> Any:
    """A buffered file object over an iterator of byte chunks (a request body streamed to a reader)."""
    import io

    class Raw(io.RawIOBase):
        def __init__(self) -> None:
            self.pending = b""

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            while not self.pending:
                try:
                    self.pending = next(chunks)
                except StopIteration:
                    return 0
            n = min(len(b), len(self.pending))
            b[:n] = self.pending[:n]
            self.pending = self.pending[n:]
            return n

    return io.BufferedReader(Raw(), 65536)


def build(chunks: Iterator[bytes], emit: Any, *, dockerfile: str, tags: list[str], build_args: dict[str, str],
          labels: dict[str, str], target: str | None, no_cache: bool, pull: bool, quiet: bool,
          rm: bool, force_rm: bool, platform: str | None) -> Any:
    """Build from a tar context (a request body); progress lines through ``emit(str)``."""
    import shutil

    from rpod.engine import builds

    req = builds.BuildRequest(context="-", file=dockerfile or None, stdin=_chunk_reader(chunks))  # type: ignore[arg-type]
    context, text, cf_path, scratch = builds.prepare_context(req, store())
    try:
        opts = builds.BuildOptions(context=context, containerfile=text, containerfile_path=cf_path,
                                   tags=builds.normalize_names(tags), commit_name=tags[0] if tags else "",
                                   target=target or None, build_args=build_args, labels=labels, fmt="docker",
                                   no_cache=no_cache, pull="always" if pull else "missing", quiet=quiet, rm=rm,
                                   force_rm=force_rm, platform=platform or None)
        return builds.build(opts, emit, store())
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def push(name: str, emit: Any, creds: str | None) -> str:
    """Push a local image to its registry; the manifest digest."""
    from rpod.engine import image_ship
    from rpod.image.push import PushOptions

    return image_ship.push(docker_name(name), "", PushOptions(creds=creds), PullEvents(emit), store())


def load(chunks: Iterator[bytes], emit: Any) -> list[str]:
    """Load a docker-archive/oci-archive (a request body); the names (or ids) loaded."""
    import tempfile

    from rpod.engine import image_ship

    p = store()
    p.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=p.tmp, prefix="api-load-", suffix=".tar") as f:
        for c in chunks:
            f.write(c)
        f.flush()
        loaded = image_ship.load(f.name, PullEvents(emit), p)
    return [n for rec in loaded.records for n in (rec.names or ["sha256:" + rec.id])]


def save(names: list[str]) -> Iterator[bytes]:
    """A docker-archive of ``names``, streamed (written to a scratch file first, then read back)."""
    import tempfile

    from rpod.engine import image_ship
    from rpod.progress import QuietProgress

    p = store()
    p.tmp.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=p.tmp, prefix="api-save-", suffix=".tar")
    os.close(fd)
    os.unlink(path)
    image_ship.save([docker_name(n) for n in names], "docker-archive", path, True, QuietProgress(), paths=p)

    def chunks() -> Iterator[bytes]:
        try:
            with open(path, "rb") as f:
                while data := f.read(65536):
                    yield data
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    return chunks()
