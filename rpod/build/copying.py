"""COPY and ADD: what to put where, then one ``rootless.layerdiff`` apply per step.

Sources from the context become one tar (``context.write_sources``) in the store's scratch
dir, with its content digest for the cache.  ADD also extracts local archives (gzip, bzip2,
xz, zstd or plain tar: the safe extractor refuses ``..`` entries and links that leave the
destination) and downloads ``http(s)://`` sources.  COPY ``--from`` a stage or an image reads
through a ``rootless.archive`` helper on that image's layers.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rpod.build import context as ctx
from rpod.errors import RpodError, UsageError
from rpod.image.localstore import LocalLayer

if TYPE_CHECKING:
    from rpod.build.executor import Builder, State
    from rpod.build.parser import Instruction


@dataclass
class Payload:
    tar_path: Path | None  # a tar to extract at the destination
    mode: str  # "into" a directory, or "file" (one file named ``name``)
    name: str = ""
    digest: str = ""
    describe: str = ""
    archives: list[Path] = field(default_factory=list)  # ADD: local archives to extract at dest


def _scratch(b: Builder) -> Path:
    b.paths.tmp.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"build-src-{os.getpid()}-", suffix=".tar", dir=b.paths.tmp)
    os.close(fd)
    return Path(name)


def _download(b: Builder, url: str) -> tuple[Path, str, int | None]:
    """ADD of a URL: the file, its name, its Last-Modified time."""
    import email.utils
    import urllib.parse

    import requests

    path = _scratch(b)
    try:
        with requests.get(url, stream=True, timeout=60) as r:
            if r.status_code >= 400:
                raise UsageError(f"{url}: the server answered {r.status_code} {r.reason}")
            with open(path, "wb") as f:
                for chunk in r.iter_content(1 << 20):
                    f.write(chunk)
            lm = r.headers.get("Last-Modified")
    except requests.RequestException as e:
        path.unlink(missing_ok=True)
        raise UsageError(f"{url}: cannot download: {e}") from None
    mtime = None
    if lm:
        try:
            mtime = int(email.utils.parsedate_to_datetime(lm).timestamp())
        except (TypeError, ValueError):
            mtime = None
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "index.html"
    return path, name, mtime


def context_payload(b: Builder, ins: Instruction, srcs: list[str], dest: str, env: dict[str, str],
                    mode: int | None) -> Payload:
    """The tar (and digest) of a COPY/ADD step's sources from the context, heredocs or URLs."""
    opts = b.opts
    out = _scratch(b)
    if ins.heredocs:
        docs = [(h.name, (_expand_heredoc(h.content, env) if h.expand else h.content).encode()) for h in ins.heredocs]
        with open(out, "wb") as f:
            res = ctx.write_heredocs(docs, f, chmod=mode, mtime=opts.timestamp)
        file_mode = res.single_file is not None and not dest.endswith("/")
        return Payload(out, "file" if file_mode else "into", res.single_file or "", res.digest,
                       "heredoc:" + ",".join(n for n, _ in docs))
    urls = [s for s in srcs if ins.cmd == "ADD" and s.startswith(("http://", "https://"))]
    local = [s for s in srcs if s not in urls]
    sources = ctx.resolve_sources(opts.context, local, b.ignore) if local else []
    archives: list[Path] = []
    if ins.cmd == "ADD":
        keep = []
        for s in sources:
            full = opts.context / s.rel
            if not s.is_dir and ctx.archive_kind(full):
                archives.append(full)
            else:
                keep.append(s)
        sources = keep
    import tarfile

    with open(out, "wb") as f:
        res = ctx.write_sources(opts.context, sources, b.ignore, f, chmod=mode, mtime=opts.timestamp)
    digests = [res.digest, *(ctx.file_digest(a) for a in archives)]
    single = res.single_file if not archives and not urls else None
    if urls:
        tf = tarfile.open(out, "a", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed below
        try:
            for url in urls:
                path, name, mtime = _download(b, url)
                try:
                    digests.append(ctx.file_digest(path))
                    ti = tf.gettarinfo(str(path), arcname=name)
                    ti.mode = mode if mode is not None else 0o600
                    ti.mtime = opts.timestamp if opts.timestamp is not None else (mtime or 0)
                    ti.uid = ti.gid = 0
                    ti.uname = ti.gname = ""
                    with open(path, "rb") as src:
                        tf.addfile(ti, src)
                finally:
                    path.unlink(missing_ok=True)
                if len(srcs) == 1:
                    single = name
        finally:
            tf.close()
    file_mode = single is not None and not dest.endswith("/") and len(srcs) == 1
    describe = ("file:" if single else "dir:") + res.digest.partition(":")[2][:16]
    import hashlib

    digest = "sha256:" + hashlib.sha256("\n".join(digests).encode()).hexdigest()
    return Payload(out, "file" if file_mode else "into", single or "", digest, describe, archives)


def _expand_heredoc(text: str, env: dict[str, str]) -> str:
    """Variables in an unquoted heredoc (``$VAR``, ``${VAR}``); everything else is kept."""
    import re

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name, "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, text)


def apply_payload(b: Builder, state: State, p: Payload, dest: str, owner: tuple[int, int] | None) -> LocalLayer:
    """Run the apply helper(s) for a prepared payload: one layer for the whole step."""
    from rpod.build.runner import apply_step

    try:
        if p.archives:
            return _apply_with_archives(b, state, p, dest, owner)
        with open(p.tar_path, "rb") as f:  # type: ignore[arg-type]
            layer = apply_step(b.paths, b.layer_dirs(state), {"dest": dest, "mode": p.mode, "name": p.name,
                                                              "owner": owner or [0, 0]},
                               f, b.opts.compression, b.opts.timestamp)
        assert layer is not None
        return layer
    finally:
        if p.tar_path is not None:
            p.tar_path.unlink(missing_ok=True)


def _apply_with_archives(b: Builder, state: State, p: Payload, dest: str,
                         owner: tuple[int, int] | None) -> LocalLayer:
    """ADD with archives: the plain files and each archive go into one tar stream, extracted once."""
    import tarfile

    from rootless.archive import open_tar_input
    from rpod.build.runner import apply_step

    combined = _scratch(b)
    try:
        with tarfile.open(combined, "w", format=tarfile.PAX_FORMAT) as out:
            with tarfile.open(p.tar_path, "r") as plain:  # type: ignore[arg-type]
                for ti in plain:
                    _add_member(out, ti, plain, owner or (0, 0))
            for arch in p.archives:
                with open(arch, "rb") as raw:
                    stream = open_tar_input(raw)  # type: ignore[arg-type]
                    with tarfile.open(fileobj=stream, mode="r|") as tin:  # type: ignore[arg-type]
                        for ti in tin:
                            _add_member(out, ti, tin, owner)
        dest_dir = dest if dest.endswith("/") else dest + "/"
        with open(combined, "rb") as f:
            layer = apply_step(b.paths, b.layer_dirs(state), {"dest": dest_dir, "mode": "into", "owner": None},
                               f, b.opts.compression, b.opts.timestamp)
        assert layer is not None
        return layer
    except tarfile.TarError as e:
        raise UsageError(f"cannot extract the archive: {e}") from None
    finally:
        combined.unlink(missing_ok=True)
        if p.tar_path is not None:
            p.tar_path.unlink(missing_ok=True)


def _add_member(out: Any, ti: Any, src: Any, owner: tuple[int, int] | None) -> None:
    from rootless.unpack import normalize_name

    normalize_name(ti.name)  # a '..' component: refused (UnpackError)
    if owner is not None:
        ti.uid, ti.gid = owner
        ti.uname = ti.gname = ""
    data = src.extractfile(ti) if ti.isreg() else None
    out.addfile(ti, data)


def read_line(fd: int) -> bytes:
    """One line from ``fd`` without reading past it (the rest goes to another process)."""
    out = bytearray()
    while True:
        ch = os.read(fd, 1)
        if not ch:
            return bytes(out)
        out += ch
        if ch == b"\n":
            return bytes(out)


def copy_from_image(b: Builder, state: State, src_dirs: list[Path], src: str | list[str], dest: str,
                    owner: tuple[int, int] | None, several: bool) -> LocalLayer:
    """COPY --from: a ``rootless.archive`` get on the source image, piped into the apply helper.
    ``src`` a list: several sources or globs in one tar (``getmany``), one layer."""
    import json
    import subprocess

    from rootless.subid import default_mapping
    from rootless.userns import popen, python_entry, remove_tree
    from rpod.build.runner import apply_step
    from rpod.sysinfo import overlay_driver

    driver, _ = overlay_driver(b.paths)
    scratch = Path(tempfile.mkdtemp(prefix=f"build-from-{os.getpid()}-", dir=b.paths.tmp))
    try:
        for sub in ("upper", "root"):
            (scratch / sub).mkdir()
        lowers = [str(d) for d in src_dirs] or [str(scratch / "upper")]
        many = isinstance(src, list)
        cfg = {"op": "getmany", "paths": [posixpath.join("/", s) for s in src]} if many else \
            {"op": "get", "path": posixpath.join("/", src)}
        cfg.update({
            "overlay": {"lowerdir": lowers, "upperdir": str(scratch / "upper"), "driver": driver},
            "target": str(scratch / "root")})
        proc = popen(python_entry("rootless.archive", json.dumps(cfg)), default_mapping(), die_with_parent=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        try:
            line = read_line(proc.stdout.fileno())  # type: ignore[union-attr]  # unbuffered: the tar follows
            info = json.loads(line) if line else {"error": "failed", "message": proc.stderr.read().decode()}  # type: ignore[union-attr]
            if "error" in info:
                msg = info.get("message") or "no such file or directory"
                raise UsageError(f"COPY --from: {msg}" if many else f"COPY --from: {src}: {msg}")
            if many and not info["dir"] and not dest.endswith("/"):  # one file matched
                apply = {"dest": dest, "mode": "file", "name": info["name"], "owner": owner}
            elif many:
                apply = {"dest": dest if dest.endswith("/") else dest + "/", "mode": "into", "owner": owner}
            elif info["dir"] and not info.get("contents"):
                real_dest = dest.rstrip("/") or "/"
                if real_dest == "/":
                    raise UsageError("COPY --from of a directory to / is not supported; copy DIR/. instead")
                apply = {"dest": real_dest, "mode": "dir", "name": info["name"], "owner": owner}
            elif info["dir"]:
                apply = {"dest": dest, "mode": "into", "owner": owner}
            else:
                into = dest.endswith("/") or several
                apply = {"dest": dest, "mode": "into" if into else "file", "name": info["name"], "owner": owner}
            layer = apply_step(b.paths, b.layer_dirs(state), apply, proc.stdout, b.opts.compression,
                               b.opts.timestamp)
        finally:
            proc.kill()
            proc.wait()
        assert layer is not None
        return layer
    except RpodError:
        raise
    finally:
        remove_tree(scratch, default_mapping())


