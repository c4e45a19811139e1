"""Where a build step's files come from: a RUN in a real rootless container, or COPY/ADD/WORKDIR
through ``rootless.layerdiff``'s apply mode; either way the overlay upper dir becomes a layer.

RUN uses rpod's own run machinery (``create.create``/``lifecycle.start``: the monitor, the runtime
core, slirp4netns by default); the step's output goes to the build's stdout/stderr and its
last lines are kept for the error message of a failing step.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rootless import ctrfiles
from rpod.errors import RpodError
from rpod.image.localstore import LocalLayer, add_layer_from_tar
from rpod.log import debug
from rpod.paths import Paths

# mount points the runtime makes in a container's root: never part of a RUN's layer when empty
RUNTIME_MOUNTS = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv", "/run/secrets",
                  "/dev", "/proc", "/sys", "/run", "/etc/mtab")


@dataclass
class RunSpec:
    image_id: str
    argv: list[str]
    env: list[str]
    workdir: str = "/"
    user: str = ""
    network: str | None = None
    mounts: list[str] = field(default_factory=list)  # --mount values
    tmpfs: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)  # mount targets to leave out of the layer
    quiet: bool = False
    ulimits: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
    out_fd: int = 1
    err_fd: int = 2
    extra: dict[str, list[str]] = field(default_factory=dict)
    keep: bool = False  # build --rm=false: the step's container stays


@dataclass
class RunResult:
    code: int
    tail: list[str]
    layer: LocalLayer | None


def _pump(fd: int, sink: int | None, tail: deque[str]) -> None:
    partial = b""
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            try:
                data = f.read(65536)
            except OSError:
                break
            if not data:
                break
            if sink is not None:
                with contextlib.suppress(OSError):
                    os.write(sink, data)
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            tail.extend(x.decode(errors="replace") for x in lines)
    if partial:
        tail.append(partial.decode(errors="replace"))


def run_step(paths: Paths, spec: RunSpec, compression: str, mtime: int | None, layer: bool = True) -> RunResult:
    """Run ``spec`` in a container; on success store its upper dir as a layer."""
    from rpod.container import lifecycle
    from rpod.container.create import create as create_container
    from rpod.container.monitorspawn import StdioRequest, spawn_monitor
    from rpod.container.options import RunOptions

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    tail: deque[str] = deque(maxlen=10)
    io = StdioRequest(stdin_fd=-1, stdout_fd=out_w, stderr_fd=err_w)
    spawn = spawn_monitor(io)
    os.close(out_w)
    os.close(err_w)
    sinks = (None, None) if spec.quiet else (spec.out_fd, spec.err_fd)
    pumps = [threading.Thread(target=_pump, args=(r, s, tail), daemon=True)
             for r, s in ((out_r, sinks[0]), (err_r, sinks[1]))]
    for t in pumps:
        t.start()
    opts = RunOptions(image=spec.image_id, entrypoint=json.dumps(spec.argv), env=list(spec.env),
                      workdir=spec.workdir or "/", user=spec.user or None, network=spec.network,
                      mounts=list(spec.mounts), tmpfs=list(spec.tmpfs), pull="never", log_driver="passthrough",
                      ulimit=list(spec.ulimits), dns=list(spec.dns), dns_search=list(spec.dns_search),
                      add_host=list(spec.add_host), image_volume="ignore",  # a step writes into VOLUME dirs
                      **{k: list(v) for k, v in spec.extra.items()})
    record = None
    spare = None
    try:
        try:
            record = create_container(paths, opts, cid=spawn.cid)
        except BaseException:
            spawn.cancel()
            raise
        _ACTIVE[record.id] = record
        started = lifecycle.start(paths, record, io, spawn)
        spare = spare_helper(paths) if layer else None  # its start-up overlaps the step
        code = lifecycle.wait_started(paths, started)
        if started.sync is not None:
            started.sync.close()
        result = RunResult(code, [], None)
        if code == 0 and layer:  # while the monitor exits and the output pumps drain
            upper = paths.container_dir(record.id) / ctrfiles.UPPER
            result.layer = layer_from_upper(paths, str(upper), [*RUNTIME_MOUNTS, *spec.exclude], compression, mtime,
                                            spare=spare)
            spare = None
        t0 = time.perf_counter()
        for t in pumps:
            t.join(timeout=5)
        debug(f"build RUN: output pumps joined in {(time.perf_counter() - t0) * 1000:.0f} ms")
        result.tail = list(tail)
        return result
    finally:
        if spare is not None:
            discard_spare(spare)
        if record is not None:
            _ACTIVE.pop(record.id, None)
            if not spec.keep:
                _remove_later(paths, record)


def spare_helper(paths: Paths) -> Any:
    """An unpack helper for the step's layer, started now (``add_layer_from_tar(spare=)``)."""
    from rpod.image.layerfetch import spawn_spare
    from rpod.image.localstore import _mapping

    try:
        return spawn_spare(paths, _mapping())
    except (OSError, RpodError):
        return None  # add_layer_from_tar starts its own


def discard_spare(spare: Any) -> None:
    from rpod.image.layerfetch import discard_helper
    from rpod.image.localstore import _mapping

    with contextlib.suppress(Exception):
        discard_helper(spare, _mapping())


_PENDING: list[threading.Thread] = []


_ACTIVE: dict[str, Any] = {}  # RUN containers of this build that are running now (id -> record)


def _remove_later(paths: Paths, record: Any) -> None:
    """Remove a RUN step's container in the background (the next step need not wait for it)."""
    from rpod.container import lifecycle

    def remove() -> None:
        with contextlib.suppress(Exception):
            lifecycle.remove(paths, record, force=True, timeout=0)

    t = threading.Thread(target=remove, daemon=True)
    t.start()
    _PENDING.append(t)


def finish_cleanups() -> None:
    """Wait for the background removals (the build's end)."""
    while _PENDING:
        _PENDING.pop().join(timeout=60)


def abort_steps(paths: Paths) -> None:
    """The build is stopping on an error or a signal: kill and remove the RUN containers still
    running (in this thread: the process is about to exit, background removals would die)."""
    from rpod.container import lifecycle

    for record in list(_ACTIVE.values()):
        with contextlib.suppress(Exception):
            lifecycle.remove(paths, record, force=True, timeout=0)
        _ACTIVE.pop(record.id, None)


class _Chained:
    """``first`` then the rest of ``rest`` (a pipe already read from)."""

    def __init__(self, first: bytes, rest: IO[bytes]) -> None:
        self.first = first
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.first:
            data, self.first = self.first, b""
            return data
        return self.rest.read(n)


def _helper(cfg: dict[str, Any], stdin: Any) -> Any:
    import subprocess

    from rootless.subid import default_mapping
    from rootless.userns import popen, python_entry

    return popen(python_entry("rootless.layerdiff", json.dumps(cfg)), default_mapping(), die_with_parent=True,
                 stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _store(paths: Paths, proc: Any, compression: str, skip_empty: bool, spare: Any = None) -> LocalLayer | None:
    """Store the helper's tar as a layer (None when ``skip_empty`` and it has no entry)."""
    layer = None
    try:
        head = proc.stdout.read(512)
        if not head:
            err = proc.stderr.read().decode(errors="replace").strip()
            proc.wait()
            raise RpodError(err.removeprefix("rpod-layerdiff: ") or f"the layer helper failed (exit {proc.returncode})")
        if not (skip_empty and (not head or head == b"\0" * len(head))):
            layer = add_layer_from_tar(paths, _Chained(head, proc.stdout), compression,  # type: ignore[arg-type]
                                       spare=spare)
            spare = None
        else:
            while proc.stdout.read(1 << 20):
                pass
    finally:
        if spare is not None:
            discard_spare(spare)
        err = proc.stderr.read().decode(errors="replace").strip()
        rc = proc.wait()
    if rc != 0:
        raise RpodError(err.removeprefix("rpod-layerdiff: ") or f"the layer helper failed (exit {rc})")
    return layer


def layer_from_upper(paths: Paths, upper: str, exclude: list[str], compression: str, mtime: int | None,
                     skip_empty: bool = False, spare: Any = None) -> LocalLayer | None:
    """An upper dir (or a layer dir) → a stored layer.  When the user can read all of it (the
    common case: files made by the container's root are the user's), it is read here, with the
    host ids mapped back; else by the helper in the user namespace."""
    import subprocess

    from rootless.layerdiff import readable_tree

    if readable_tree(upper):
        return _layer_in_process(paths, upper, exclude, compression, mtime, skip_empty, spare)
    proc = _helper({"upper": upper, "exclude": exclude, "mtime": mtime}, subprocess.DEVNULL)
    return _store(paths, proc, compression, skip_empty, spare)


def _layer_in_process(paths: Paths, upper: str, exclude: list[str], compression: str, mtime: int | None,
                      skip_empty: bool, spare: Any = None) -> LocalLayer | None:
    from rootless.layerdiff import write_layer
    from rootless.subid import default_mapping

    mapping = default_mapping()
    r, w = os.pipe()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with os.fdopen(w, "wb") as out:
                write_layer(upper, out, exclude, mtime, [tuple(m) for m in mapping.uid_map],
                            [tuple(m) for m in mapping.gid_map])
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    with os.fdopen(r, "rb") as stream:
        head = stream.read(512)
        layer = None
        if not (skip_empty and (not head or head == b"\0" * len(head))):
            layer = add_layer_from_tar(paths, _Chained(head, stream), compression, spare=spare)  # type: ignore[arg-type]
            spare = None
        else:
            while stream.read(1 << 20):
                pass
    if spare is not None:
        discard_spare(spare)
    t.join()
    if errors:
        raise RpodError(f"cannot read the container's changes: {errors[0]}")
    return layer


def apply_step(paths: Paths, layer_dirs: list[Path], apply: dict[str, Any], tar: IO[bytes] | None,
               compression: str, mtime: int | None, skip_empty: bool = False) -> LocalLayer | None:
    """Extract ``tar`` at ``apply['dest']`` on top of ``layer_dirs``; the change as a layer."""
    import subprocess
    import tempfile

    from rootless.subid import default_mapping
    from rootless.userns import remove_tree
    from rpod.sysinfo import overlay_driver

    driver, err = overlay_driver(paths)
    if not driver:
        raise RpodError(f"no overlay driver works: {err}")
    paths.tmp.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"build-{os.getpid()}-", dir=paths.tmp))  # pid: reclaimable after a kill
    try:
        for sub in ("upper", "work", "root"):
            (scratch / sub).mkdir(mode=0o755)
        overlay = {"lowerdir": [str(d) for d in layer_dirs], "upperdir": str(scratch / "upper"),
                   "workdir": str(scratch / "work"), "driver": driver}
        if not layer_dirs:  # FROM scratch: overlay needs a lower layer
            (scratch / "empty").mkdir()
            overlay["lowerdir"] = [str(scratch / "empty")]
        cfg = {"upper": str(scratch / "upper"), "exclude": [], "mtime": mtime, "apply": {**apply, "has_tar": tar is not None},
               "overlay": overlay, "target": str(scratch / "root")}
        proc = _helper(cfg, tar if tar is not None else subprocess.DEVNULL)
        return _store(paths, proc, compression, skip_empty, spare_helper(paths))
    finally:
        remove_tree(scratch, default_mapping())
