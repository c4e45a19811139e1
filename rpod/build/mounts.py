"""``RUN --mount=...``: parse the specs (at prepare time, for the cache key) and turn them into
the step container's ``--mount``/``--tmpfs`` values (at run time).

- ``type=bind``: a path of the context, or with ``from=STAGE|IMAGE`` of that stage's or image's
  root file system.  A ``from=`` source is materialized in the store's scratch dir (a
  ``rootless.archive`` get piped into ``rootless.unpack``) and bound read-only unless ``rw``;
  writes to a ``rw`` bind never reach the source (as BuildKit and buildah).
- ``type=cache``: a directory in the user's store (``build-cache-mounts/<id>``, ``id`` defaulting
  to the target) that survives builds; created with ``uid``/``gid``/``mode`` (0755), seeded from
  ``from=``'s ``source`` when new; ``sharing=locked`` serialises steps on it, ``private`` gives a
  throwaway directory when another step holds it, ``shared`` (the default) neither.
- ``type=tmpfs``, ``type=secret``: as run ``--tmpfs`` and a read-only bind of the secret file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import posixpath
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rpod.build import imageconfig as ic
from rpod.errors import RpodError, UsageError

if TYPE_CHECKING:
    from rpod.build.executor import Builder, State


@dataclass
class MountSpec:
    kind: str
    target: str
    options: dict[str, str] = field(default_factory=dict)
    src_dirs: list[Path] = field(default_factory=list)  # from=: the stage's or image's layer dirs
    src_id: str = ""


@dataclass
class RunMounts:
    specs: list[MountSpec]
    secrets: list[str]  # ready --mount values (secret binds)
    exclude: list[str]  # mount targets left out of the layer
    key: list[str]  # what the step's cache key must cover


def _true(kv: dict[str, str], *names: str) -> bool:
    return any(kv.get(n, "").lower() in ("true", "1", "") and n in kv for n in names)


def source_of(b: Builder, frm: str, what: str) -> tuple[list[Path], str]:
    """The layer dirs and id of the stage or image a ``--from``/``from=`` value names."""
    from rpod.build.stages import stage_ref

    ref = stage_ref(b.plan.all_stages, frm)
    if ref is not None:
        if ref not in b.results:
            raise UsageError(f"{what}: stage {frm!r} is not built before this one")
        st = b.results[ref]
        return b.layer_dirs(st), st.image_id or ""
    from rpod.image.pull import ensure_image

    try:
        rec = ensure_image(b.paths, frm, b.opts.pull)
    except RpodError as e:
        raise UsageError(f"{what}: no stage or image found with that name ({e.message})") from None
    if b.lease is not None:
        b.lease.add([*rec.layers, "sha256:" + rec.id])
    return [b.paths.layer_dir(d) / "diff" for d in rec.layers], rec.id


def parse_mounts(b: Builder, values: list[str], state: State) -> RunMounts:
    """The ``--mount`` flags of a RUN instruction."""
    out = RunMounts([], [], [], [])
    workdir = ic.inner(state.config).get("WorkingDir") or "/"
    for spec in values:
        kv: dict[str, str] = {}
        for part in spec.split(","):
            k, eq, v = part.partition("=")
            kv[k.strip().lower()] = v.strip() if eq else ""
        kind = kv.get("type", "bind")
        target = kv.get("target") or kv.get("dst") or kv.get("destination") or ""
        if kind == "secret":
            sid = kv.get("id") or posixpath.basename(target)
            target = target or f"/run/secrets/{sid}"
            src = b.opts.secrets.get(sid)
            if src is None:
                if kv.get("required") in ("true", "1", ""):
                    raise UsageError(f"secret {sid!r} is required but was not given with --secret id={sid},src=...")
                continue
            out.secrets.append(f"type=bind,src={src},dst={target},ro")
            out.exclude.append(target)
            out.key.append(f"secret:{sid}:{target}")
            continue
        if kind not in ("bind", "cache", "tmpfs"):
            raise UsageError(f"--mount={spec}: unsupported mount type {kind!r}")
        if not target:
            raise UsageError(f"--mount={spec}: a target is required")
        m = MountSpec(kind, posixpath.join(workdir, target), kv)
        if kv.get("from"):
            m.src_dirs, m.src_id = source_of(b, b.x(kv["from"], state), f"--mount={spec}")
        out.specs.append(m)
        out.exclude.append(m.target)
        out.key.append(json.dumps([kind, m.target, sorted(kv.items()), m.src_id]))
    return out


def _materialize(b: Builder, m: MountSpec, dest: Path) -> Path:
    """Copy ``source`` (default ``/``) of ``m``'s stage or image into the new dir ``dest``;
    the path to bind (a file or a directory under ``dest``)."""
    import subprocess

    from rootless.subid import default_mapping
    from rootless.userns import popen, python_entry
    from rpod.build.copying import read_line
    from rpod.sysinfo import overlay_driver

    source = posixpath.join("/", kv_source(m.options) or "/")
    driver, _ = overlay_driver(b.paths)
    scratch = Path(tempfile.mkdtemp(prefix=f"build-mntsrc-{os.getpid()}-", dir=b.paths.tmp))
    mapping = default_mapping()
    try:
        for sub in ("upper", "root"):
            (scratch / sub).mkdir()
        cfg = {"op": "get", "path": source,
               "overlay": {"lowerdir": [str(d) for d in m.src_dirs] or [str(scratch / "upper")],
                           "upperdir": str(scratch / "upper"), "driver": driver},
               "target": str(scratch / "root")}
        get = popen(python_entry("rootless.archive", json.dumps(cfg)), mapping, die_with_parent=True,
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        try:
            line = read_line(get.stdout.fileno())  # type: ignore[union-attr]
            info = json.loads(line) if line else {"error": "failed", "message": get.stderr.read().decode()}  # type: ignore[union-attr]
            if "error" in info:
                raise UsageError(f"--mount from={m.options.get('from')}: {source}: "
                                 f"{info.get('message') or 'no such file or directory'}")
            unpack = popen(python_entry("rootless.unpack", str(dest)), mapping, die_with_parent=True,
                           stdin=get.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            _, err = unpack.communicate()
            if unpack.returncode != 0:
                raise RpodError(f"--mount from={m.options.get('from')}: {err.decode(errors='replace').strip()}")
        finally:
            get.kill()
            get.wait()
    finally:
        from rootless.userns import remove_tree

        remove_tree(scratch, mapping)
    if info.get("contents") or source == "/":
        return dest
    return dest / info["name"]


def kv_source(kv: dict[str, str]) -> str:
    return kv.get("source") or kv.get("src") or ""


def _cache_dir(b: Builder, m: MountSpec, stack: contextlib.ExitStack) -> Path:
    """The persistent directory of a cache mount (made, seeded and locked as its options say)."""
    kv = m.options
    cid = hashlib.sha256((kv.get("id") or m.target).encode()).hexdigest()[:32]
    base = b.paths.root / "build-cache-mounts"
    base.mkdir(parents=True, exist_ok=True)
    d = base / cid
    sharing = kv.get("sharing", "shared")
    if sharing not in ("shared", "private", "locked"):
        raise UsageError(f"--mount type=cache: invalid sharing mode {sharing!r}")
    lock_fd = os.open(base / f"{cid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    stack.callback(os.close, lock_fd)
    if sharing == "locked":
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
    elif sharing == "private":
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # in use: a throwaway cache of our own
            d = Path(tempfile.mkdtemp(prefix=f"build-cache-{os.getpid()}-", dir=b.paths.tmp))
            stack.callback(_remove, d)
            _init_cache(b, m, d, fresh=True)
            return d
    else:
        fcntl.flock(lock_fd, fcntl.LOCK_SH)  # creation below happens once
    if not d.exists():
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if not d.exists():
            new = Path(tempfile.mkdtemp(prefix=f"{cid}.new-", dir=base))
            _init_cache(b, m, new, fresh=True)
            os.rename(new, d)
        if sharing == "shared":
            fcntl.flock(lock_fd, fcntl.LOCK_SH)
    return d


def _init_cache(b: Builder, m: MountSpec, d: Path, fresh: bool) -> None:
    kv = m.options
    if m.src_dirs or kv.get("from"):
        scratch = Path(tempfile.mkdtemp(prefix=f"build-seed-{os.getpid()}-", dir=b.paths.tmp))
        try:
            seeded = _materialize(b, m, scratch)
            if seeded.is_dir():
                for child in os.listdir(seeded):
                    os.rename(seeded / child, d / child)
        finally:
            _remove(scratch)
    mode = int(kv["mode"], 8) if kv.get("mode") else 0o755
    os.chmod(d, mode)
    uid, gid = int(kv.get("uid") or 0), int(kv.get("gid") or 0)
    if uid or gid:
        import subprocess

        from rootless.subid import default_mapping
        from rootless.userns import popen

        proc = popen(["chown", f"{uid}:{gid}", str(d)], default_mapping(), stderr=subprocess.PIPE)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RpodError(f"--mount type=cache: cannot set the owner {uid}:{gid}: {err.decode().strip()}")


def _remove(path: Path) -> None:
    from rootless.subid import default_mapping
    from rootless.userns import remove_tree

    with contextlib.suppress(OSError, RpodError):
        remove_tree(path, default_mapping())


def run_mounts(b: Builder, rm: RunMounts, stack: contextlib.ExitStack) -> tuple[list[str], list[str]]:
    """The step container's ``--mount`` and ``--tmpfs`` values; what they need is released by
    ``stack`` (materialized sources removed, cache locks dropped) when the step ends."""
    mounts, tmpfs = list(rm.secrets), []
    for m in rm.specs:
        kv = m.options
        ro = _true(kv, "ro", "readonly")
        if m.kind == "tmpfs":
            tmpfs.append(m.target)
            continue
        if m.kind == "cache":
            src = _cache_dir(b, m, stack)
        elif kv.get("from"):
            b.paths.tmp.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f"build-mnt-{os.getpid()}-", dir=b.paths.tmp))
            stack.callback(_remove, scratch)
            src = _materialize(b, m, scratch)
            ro = not _true(kv, "rw", "readwrite")
        else:
            from rpod.build.context import check_inside

            rel = check_inside(kv_source(kv) or ".")
            src = b.opts.context / rel if rel else b.opts.context
            ro = not _true(kv, "rw", "readwrite")
        mounts.append(f"type=bind,src={src},dst={m.target}" + (",ro" if ro else ""))
    return mounts, tmpfs
