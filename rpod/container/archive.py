"""Files in and out of containers: ``cp`` (both directions, tar on ``-``), ``export`` and ``diff``.

The container side runs in a ``rootless.archive`` helper (see its docstring and
docs/decisions.md): a running container is entered with ``setns`` (its live tree, volumes
included), a stopped one gets its overlay mounted in a fresh user namespace.  Every
container path is resolved inside the container's root.  The host side runs here, as the
user, with the same path rules and the same safe extractor.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from rootless import ctrfiles
from rootless.archive import CopyError, extract_into, open_tar_input, plan_put, source_info, write_tar
from rpod.container.state import ContainerRecord, ContainerStore
from rpod.errors import NoSuchContainer, RpodError, UsageError
from rpod.log import debug
from rpod.paths import Paths


@dataclass
class Location:
    """One side of ``cp``: a container path (``container`` set), a host path, or ``-``."""

    path: str
    container: str | None = None

    @property
    def stream(self) -> bool:
        return self.container is None and self.path == "-"


def parse_location(arg: str) -> Location:
    """``CONTAINER:PATH``, a host path (``/...``, ``./...`` or without ``:``) or ``-``."""
    if arg == "-" or arg.startswith(("/", ".")) or ":" not in arg:
        return Location(arg)
    name, _, path = arg.partition(":")
    if not name:
        raise UsageError(f"invalid copy location {arg!r}: the container name is empty")
    return Location(path or ".", name)


# ------------------------------------------------------------------------------- helper process
def _spec(store: ContainerStore, rec: ContainerRecord) -> dict[str, Any]:
    with open(store.dir(rec.id) / ctrfiles.SPEC) as f:
        return json.load(f)


def _mapping(spec: dict[str, Any]) -> Any:
    from rootless.subid import IdMap, Mapping, default_mapping

    linux = spec.get("linux") or {}
    um, gm = linux.get("uidMappings") or [], linux.get("gidMappings") or []
    if um and gm:
        return Mapping(tuple(map(IdMap.from_oci, um)), tuple(map(IdMap.from_oci, gm)), "subid")
    return default_mapping()


def _mount_config(spec: dict[str, Any], with_binds: bool) -> dict[str, Any]:
    ann = (spec.get("annotations") or {}).get("run.rpod.overlay")
    if not ann:
        raise RpodError("the container has no overlay root file system to copy from")
    binds = []
    if with_binds:
        for m in spec.get("mounts") or []:
            opts = m.get("options") or []
            if m.get("type") == "bind" and m.get("source") and ("bind" in opts or "rbind" in opts):
                if m["destination"] in ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv"):
                    continue
                binds.append({"source": m["source"], "destination": m["destination"], "readonly": "ro" in opts})
    return {"overlay": json.loads(ann), "target": (spec.get("root") or {}).get("path"), "binds": binds}


class Helper:
    """A running ``rootless.archive`` helper for one container."""

    def __init__(self, paths: Paths, rec: ContainerRecord, op: str, *, live: bool = True,
                 stdin: Any = subprocess.PIPE, **cfg: Any):
        from rootless.userns import popen, python_entry

        store = ContainerStore(paths)
        spec = _spec(store, rec)
        self.spec = spec
        state = store.state(rec.id)
        config: dict[str, Any] = {"op": op, **cfg}
        if config.get("path") and not config["path"].startswith("/"):  # relative to the working directory
            import posixpath

            config["path"] = posixpath.join((spec.get("process") or {}).get("cwd") or "/", config["path"])
        kwargs = {"stdin": stdin, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        debug(f"copy helper for {rec.id[:12]} ({op}, {state.status})")
        if live and state.status in ("running", "stopping") and state.pid:
            config["enter_pid"] = state.pid
            self.proc = subprocess.Popen(python_entry("rootless.archive", json.dumps(config)), **kwargs)
        else:
            config.update(_mount_config(spec, with_binds=live))
            self.proc = popen(python_entry("rootless.archive", json.dumps(config)), _mapping(spec),
                              die_with_parent=True, **kwargs)

    @property
    def stdout(self) -> BinaryIO:
        return self.proc.stdout  # type: ignore[return-value]

    def reply(self) -> dict[str, Any]:
        """The helper's JSON line (``{"error": ...}`` when it failed before writing it)."""
        line = self.proc.stdout.readline() if self.proc.stdout else b""
        debug("copy helper replied")
        if not line:
            self.proc.wait()
            err = (self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else "")
            return {"error": "failed", "message": err or f"the copy helper exited with status {self.proc.returncode}"}
        try:
            return json.loads(line)
        except ValueError:
            return {"error": "failed", "message": f"unexpected output from the copy helper: {line[:200]!r}"}

    def finish(self) -> None:
        """Wait for the helper; raise if it failed after its reply."""
        rest = self.proc.stdout.read() if self.proc.stdout else b""
        err = self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else ""
        rc = self.proc.wait()
        if rc != 0:
            try:
                msg = json.loads(rest.splitlines()[-1]).get("message") if rest.strip() else None
            except (ValueError, IndexError, AttributeError):
                msg = None
            raise RpodError(f"copying failed: {msg or err or f'helper exit status {rc}'}")

    def close(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _exists_error(msg: str, side: str, hint: str | None) -> RpodError:
    """Podman's words for a directory in the way of a non-directory (or the reverse): its copy
    runs both ends at once and joins their errors (``1 error occurred:``)."""
    return RpodError(f"1 error occurred:\n\t* copying to {side}: {msg}", hint=hint)


def _raise(reply: dict[str, Any], path: str, where: str) -> None:
    kind, msg = reply.get("error"), reply.get("message") or "failed"
    if kind == "exists":
        raise _exists_error(msg, "container", reply.get("hint"))
    if kind == "notfound":
        raise RpodError(f'"{path}" could not be found on {where}: {msg}')
    if kind == "failed":
        hint = reply.get("hint")
        if "Read-only file system" in msg:
            hint = "the container's root file system is read-only (--read-only): copy into a volume or a tmpfs"
        raise RpodError(f"copying {path} on {where} failed: {msg}", hint=hint)
    raise RpodError(msg, hint=reply.get("hint"))


def _owner(spec: dict[str, Any]) -> list[int]:
    user = (spec.get("process") or {}).get("user") or {}
    return [int(user.get("uid", 0)), int(user.get("gid", 0))]


# ------------------------------------------------------------------------------------------ cp
def copy(paths: Paths, src: Location, dest: Location, *, archive: bool = True, overwrite: bool = False,
         stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    """``rpod cp SRC DEST``: Podman's semantics for files, directories, ``dir/.``, trailing ``/``
    and ``-`` (a tar stream on stdin or stdout)."""
    store = ContainerStore(paths)
    if src.container is None and dest.container is None:
        if src.stream or dest.stream:
            raise UsageError("one of the paths must be a container path: CONTAINER:PATH")
        raise UsageError("copying between two host paths is not supported: one of them must be CONTAINER:PATH")
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer

    def get(name: str) -> ContainerRecord:
        try:
            return store.get(name)
        except NoSuchContainer:
            raise NoSuchContainer(f'container "{name}" does not exist') from None  # Podman's cp wording

    if dest.container is not None:
        if src.container is not None:
            srec = get(src.container)
            _container_to_container(paths, srec, src, get(dest.container), dest, archive, overwrite)
            return
        _copy_in(paths, get(dest.container), src, dest, archive, overwrite, stdin)
        return
    _copy_out(paths, get(src.container or ""), src, dest, overwrite, stdout)


def _finish_put(h: Helper, path: str, where: str) -> None:
    """The helper's answer to a copy in: its error as rpod's, else wait for it to end."""
    reply = h.reply()
    if "error" in reply:
        _raise(reply, path, where)
    h.finish()


def _copy_in(paths: Paths, rec: ContainerRecord, src: Location, dest: Location, archive: bool,
             overwrite: bool, stdin: IO[bytes]) -> None:
    where = f"container {dest.container}"
    if src.stream:
        # the helper reads the user's stdin itself: no copy through this process
        h = Helper(paths, rec, "put", stdin=stdin, path=dest.path, src=None, overwrite=overwrite,
                   owner=None)
        try:
            _finish_put(h, dest.path, where)
        finally:
            h.close()
        return
    try:
        info = source_info(src.path)
    except CopyError as e:
        raise RpodError(f'"{src.path}" could not be found on the host: {e.message}') from None
    real = info.pop("real")
    spec = _spec(ContainerStore(paths), rec)
    h = Helper(paths, rec, "put", path=dest.path, src=info, overwrite=overwrite,
               owner=_owner(spec) if archive else None)
    try:
        try:
            assert h.proc.stdin is not None
            write_tar(h.proc.stdin, real, info["name"], info["contents"])  # type: ignore[arg-type]
            h.proc.stdin.close()
        except BrokenPipeError:
            pass  # the helper refused the destination: its reply says why
        except OSError as e:
            raise RpodError(f"cannot read {src.path}: {e.strerror}") from None
        _finish_put(h, dest.path, where)
    finally:
        h.close()


def _copy_out(paths: Paths, rec: ContainerRecord, src: Location, dest: Location, overwrite: bool,
              stdout: IO[bytes]) -> None:
    h = Helper(paths, rec, "get", stdin=subprocess.DEVNULL, path=src.path)
    try:
        info = h.reply()
        if "error" in info:
            _raise(info, src.path, f"container {src.container}")
        if dest.stream:
            shutil.copyfileobj(h.stdout, stdout, 1 << 20)
            stdout.flush()
        else:
            _check_host_destination(dest.path)
            try:
                target, rename, mkdir = plan_put(dest.path, info)
            except CopyError as e:
                if e.kind == "notfound":
                    raise RpodError(f'"{dest.path}" could not be found on the host: {e.message}') from None
                raise RpodError(e.message) from None
            try:
                extract_into(h.stdout, target, squash=True, rename=rename, overwrite=overwrite, mkdir=mkdir,
                             shown_root="/")
            except CopyError as e:
                if e.kind == "exists":
                    raise _exists_error(e.message, "host", e.hint) from None
                raise RpodError(e.message, hint=e.hint) from None
            except Exception as e:  # UnpackError (hostile content) or OSError on the host
                raise RpodError(f"cannot copy into {dest.path}: {e}") from None
        h.finish()
    finally:
        h.close()


def _check_host_destination(path: str) -> None:
    """Podman copies out only into a directory or a regular file (symlinks followed; for a path
    that does not exist yet, its parent): ``/dev/stdout`` or a fifo is refused, ``-`` is the way
    to write to stdout."""
    shown = os.path.abspath(path) + ("/" if path.endswith("/") and path != "/" else "")
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if path.endswith("/"):
            return  # plan_put: not found
        shown = os.path.dirname(os.path.abspath(path))
        try:
            st = os.stat(shown)
        except OSError:
            return  # plan_put: not found
    except OSError:
        return
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise RpodError(f'invalid destination: "{shown}" must be a directory or a regular file')


def _container_to_container(paths: Paths, srec: ContainerRecord, src: Location, drec: ContainerRecord,
                            dest: Location, archive: bool, overwrite: bool) -> None:
    g = Helper(paths, srec, "get", stdin=subprocess.DEVNULL, path=src.path)
    try:
        info = g.reply()
        if "error" in info:
            _raise(info, src.path, f"container {src.container}")
        spec = _spec(ContainerStore(paths), drec)
        p = Helper(paths, drec, "put", path=dest.path, src=info, overwrite=overwrite,
                   owner=_owner(spec) if archive else None)
        try:
            # through this process: the reply line was read with a buffer that may hold tar data too
            try:
                shutil.copyfileobj(g.stdout, p.proc.stdin, 1 << 20)  # type: ignore[arg-type]
                p.proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass  # the destination was refused: its reply says why
            reply = p.reply()
            if "error" in reply:
                _raise(reply, dest.path, f"container {dest.container}")
            p.finish()
        finally:
            p.close()
        g.finish()
    finally:
        g.close()


# -------------------------------------------------------------------------------------- export
def export(paths: Paths, rec: ContainerRecord, out: IO[bytes]) -> None:
    """Write a tar of the container's root file system (image layers + its changes, no volumes)."""
    h = Helper(paths, rec, "export", live=False, stdin=subprocess.DEVNULL)
    try:
        reply = h.reply()
        if "error" in reply:
            raise RpodError(f"cannot export container {rec.name}: {reply.get('message')}")
        shutil.copyfileobj(h.stdout, out, 1 << 20)
        out.flush()
        rc = h.proc.wait()
        if rc != 0:
            err = h.proc.stderr.read().decode(errors="replace").strip() if h.proc.stderr else ""
            raise RpodError(f"cannot export container {rec.name}: {err or f'helper exit status {rc}'}")
    finally:
        h.close()


# ---------------------------------------------------------------------------------------- diff
def diff(paths: Paths, rec: ContainerRecord) -> list[tuple[str, str]]:
    """The container's changes to its image: ``[(kind, path)]``, kind ``A``/``C``/``D``."""
    from rootless.changes import changes

    spec = _spec(ContainerStore(paths), rec)
    ann = (spec.get("annotations") or {}).get("run.rpod.overlay")
    if not ann:
        return []
    overlay = json.loads(ann)
    lowers = list(reversed(overlay.get("lowerdir") or []))
    try:
        return changes(overlay["upperdir"], lowers)
    except PermissionError:
        pass  # files of other container users: read them as root of the container's namespace
    from rootless.userns import python_entry, run

    proc = run(python_entry("rootless.changes", overlay["upperdir"], json.dumps(lowers)), _mapping(spec),
               mount_ns=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RpodError(f"cannot read the changes of container {rec.name}: {proc.stderr.strip()}")
    return [tuple(c) for c in json.loads(proc.stdout)]  # type: ignore[misc]


def overlay_layers(paths: Paths, rec: ContainerRecord) -> list[str]:
    """The container's file system as overlay stacks it, top first: its writable layer, then its
    image's layers; empty when the container has no overlay (``--rootfs``)."""
    try:
        spec = _spec(ContainerStore(paths), rec)
    except (OSError, ValueError):
        return []
    ann = (spec.get("annotations") or {}).get("run.rpod.overlay")
    if not ann:
        return []
    overlay = json.loads(ann)
    return [overlay["upperdir"], *reversed(overlay.get("lowerdir") or [])]  # (lowerdir: lowest first)


__all__ = ["diff", "overlay_layers", "Location", "copy", "export", "open_tar_input", "parse_location"]
