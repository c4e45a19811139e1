"""Fetch one layer in a single streaming pass: HTTP → sha256 → decompress → sha256 → tar → disk.

The compressed bytes are also appended to ``partial/<hex>`` so an interrupted
download resumes with a ``Range`` request (the saved prefix is replayed locally
through the same pipeline).  The tar stream goes into a ``rootless.unpack``
helper that runs as root in a user namespace and writes the files into a
scratch directory; only after both digests match and the helper has synced the
filesystem is the directory renamed into ``layers/`` (a layer there is always
complete).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rootless import userns
from rootless.procinfo import pid_alive
from rootless.subid import Mapping
from rpod.errors import DigestMismatch, LayerError, RegistryError, UnsupportedMediaType
from rpod.log import debug
from rpod.paths import Paths
from rpod.storefile import atomic_write_json, fsync_dir

CHUNK = 64 << 10
RESUME_TRIES = 4  # consecutive failures without progress before giving up
MAX_RESUMES = 100


class _Gzip:
    """gzip stream decompressor that handles multi-member files."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(wbits=31)

    def __call__(self, data: bytes) -> bytes:
        out = self._d.decompress(data)
        while self._d.eof and self._d.unused_data:
            rest = self._d.unused_data
            self._d = zlib.decompressobj(wbits=31)
            out += self._d.decompress(rest)
        return out

    def finish(self) -> bytes:
        return self._d.flush()


class _Zstd:
    def __init__(self) -> None:
        import zstandard

        self._d = zstandard.ZstdDecompressor().decompressobj()

    def __call__(self, data: bytes) -> bytes:
        return self._d.decompress(data)

    def finish(self) -> bytes:
        return b""


class _Plain:
    def __call__(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


def decompressor(compression: str | None) -> Callable[[bytes], bytes]:
    if compression == "gzip":
        return _Gzip()
    if compression == "zstd":
        return _Zstd()
    if compression is None:
        return _Plain()
    raise UnsupportedMediaType(f"unsupported layer compression {compression!r}")


@dataclass
class LayerJob:
    """One layer to fetch: its descriptor in the manifest and its diff_id in the config."""

    digest: str
    size: int
    media_type: str
    compression: str | None
    diff_id: str
    helper: subprocess.Popen | None = None
    scratch: Path | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class Helper:
    """A running unpack helper and the scratch directory it writes into."""

    proc: subprocess.Popen
    scratch: Path


def spawn_helper(paths: Paths, mapping: Mapping, name: str) -> Helper:
    """Create ``tmp/<name>/diff`` and start an unpack helper on it (call from the main thread)."""
    paths.tmp.mkdir(parents=True, exist_ok=True)
    scratch = paths.tmp / name
    (scratch / "diff").mkdir(parents=True)
    args = [str(scratch / "diff")]
    if mapping.mode == "single":
        args.append("--squash-ids")
    proc = userns.popen(
        userns.python_entry("rootless.unpack", *args),
        mapping,
        mount_ns=False,
        die_with_parent=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:  # a 1 MiB pipe lets the download run ahead of the helper instead of ping-ponging 64 KiB
        import fcntl

        fcntl.fcntl(proc.stdin.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ
    except OSError:
        pass
    return Helper(proc, scratch)


def spawn_spare(paths: Paths, mapping: Mapping) -> Helper:
    """A helper started before the layers are known, so its start-up overlaps the registry round trips."""
    return spawn_helper(paths, mapping, f"spare.{os.getpid()}.{secrets.token_hex(4)}")


def start_helper(paths: Paths, job: LayerJob, mapping: Mapping, spare: Helper | None = None) -> None:
    """Give ``job`` a helper: the spare one if there is one, else a new one."""
    helper = spare or spawn_helper(paths, mapping, f"{job.diff_id.partition(':')[2]}.{secrets.token_hex(4)}")
    job.helper, job.scratch = helper.proc, helper.scratch


def discard_helper(helper: Helper, mapping: Mapping) -> None:
    """Stop an unused helper and remove its (empty) scratch directory."""
    if helper.proc.poll() is None:
        helper.proc.kill()
    helper.proc.communicate()
    userns.remove_tree(helper.scratch, mapping)


def sweep_scratch(paths: Paths, diff_id: str, mapping: Mapping) -> None:
    """Remove scratch dirs a killed pull left for this layer (caller holds the layer lock),
    and spare helpers' dirs whose pull is gone."""
    hexd = diff_id.partition(":")[2]
    if not paths.tmp.is_dir():
        return
    for entry in os.scandir(paths.tmp):
        if entry.name.startswith(hexd + "."):
            userns.remove_tree(entry.path, mapping)
        elif entry.name.startswith("spare."):
            pid = entry.name.split(".")[1]
            if pid.isdigit() and not pid_alive(int(pid)):
                userns.remove_tree(entry.path, mapping)


class LayerLimit(LayerError):
    """A layer goes beyond a bound (size, expansion, free space): refused, its partial data removed."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one layer, from the environment (``RPOD_MAX_LAYER_RATIO``, ``RPOD_MAX_LAYER_SIZE``,
    ``RPOD_MAX_BLOB_SIZE``, ``RPOD_MIN_FREE_SPACE``, in bytes or with a K/M/G/T suffix)."""

    ratio: float = 200.0  # uncompressed / compressed, checked once ``ratio_after`` bytes are unpacked
    ratio_after: int = 64 << 20
    max_unpacked: int = 64 << 30  # uncompressed bytes of one layer
    max_blob: int = 16 << 30  # compressed bytes of a layer whose descriptor has no size
    reserve: int = 1 << 30  # free space the store's filesystem keeps

    @classmethod
    def from_env(cls) -> Limits:
        env = os.environ
        d = cls()
        return cls(ratio=float(env.get("RPOD_MAX_LAYER_RATIO") or d.ratio), ratio_after=d.ratio_after,
                   max_unpacked=_bytes(env.get("RPOD_MAX_LAYER_SIZE"), d.max_unpacked),
                   max_blob=_bytes(env.get("RPOD_MAX_BLOB_SIZE"), d.max_blob),
                   reserve=_bytes(env.get("RPOD_MIN_FREE_SPACE"), d.reserve))


def _bytes(text: str | None, default: int) -> int:
    if not text:
        return default
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        return int(float(t.rstrip("KMGT")) * mult)
    except ValueError:
        return default


FREE_CHECK_EVERY = 32 << 20  # statvfs the store once per this many unpacked bytes


class _Pipeline:
    """Hashes, decompresses and forwards bytes to the helper, counting as it goes."""

    def __init__(self, job: LayerJob, sink: IO[bytes], on_bytes: Callable[[int], None],
                 limits: Limits | None = None, store_dir: Path | None = None):
        self.limits = limits or Limits()
        self.store_dir = store_dir
        self._next_free_check = 0
        self.job = job
        self.sink = sink
        self.on_bytes = on_bytes
        self.compressed = hashlib.sha256()
        self.uncompressed = hashlib.sha256()
        self.decompress = decompressor(job.compression)
        self.received = 0
        self.unpacked = 0

    def feed(self, chunk: bytes) -> None:
        self.compressed.update(chunk)
        self.received += len(chunk)
        if self.received > self.job.size > 0:
            raise DigestMismatch(
                f"layer {self.job.digest}: the registry sent more than the {self.job.size} bytes the manifest declares"
            )
        if not self.job.size and self.received > self.limits.max_blob:
            raise LayerLimit(f"layer {self.job.digest}: its descriptor has no size and the registry sent more "
                             f"than {self.limits.max_blob} bytes (RPOD_MAX_BLOB_SIZE)",
                             hint="raise RPOD_MAX_BLOB_SIZE if you trust it")
        try:
            data = self.decompress(chunk)
        except Exception as e:  # zlib.error, zstd.ZstdError: the bytes are not what the digest promises
            raise DigestMismatch(
                f"layer {self.job.digest}: the {self.job.compression} data is corrupt ({e})",
                hint="the registry served corrupt data; try again or report it to the registry owner",
            ) from e
        if data:
            self._write(data)
        self.on_bytes(len(chunk))

    def _write(self, data: bytes) -> None:
        self.uncompressed.update(data)
        self.unpacked += len(data)
        self._bound()
        self.sink.write(data)

    def _bound(self) -> None:
        """Refuse a decompression bomb: too large, too compressed, or eating the disk's reserve."""
        lim, n, digest = self.limits, self.unpacked, self.job.digest
        if n > lim.max_unpacked:
            raise LayerLimit(f"layer {digest}: expands to more than {lim.max_unpacked} bytes (RPOD_MAX_LAYER_SIZE)",
                             hint="raise RPOD_MAX_LAYER_SIZE if you trust the image")
        if n > lim.ratio_after and n > lim.ratio * max(self.received, 1):
            raise LayerLimit(f"layer {digest}: {self.received} compressed bytes expand to more than {n} "
                             f"(over {lim.ratio:g} times): refused as a decompression bomb (RPOD_MAX_LAYER_RATIO)",
                             hint="raise RPOD_MAX_LAYER_RATIO if you trust the image")
        if self.store_dir is not None and n >= self._next_free_check:
            self._next_free_check = n + FREE_CHECK_EVERY
            try:
                st = os.statvfs(self.store_dir)
            except OSError:
                return
            free = st.f_bavail * st.f_frsize
            if free < lim.reserve + FREE_CHECK_EVERY:
                raise LayerLimit(f"layer {digest}: unpacking it would leave less than {lim.reserve} bytes free "
                                 f"on the store's filesystem ({free} free; RPOD_MIN_FREE_SPACE)",
                                 hint="free some space (rpod system prune) or lower RPOD_MIN_FREE_SPACE")

    def finish(self) -> None:
        tail = self.decompress.finish()  # type: ignore[attr-defined]
        if tail:
            self._write(tail)


def _close_and_collect(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    """Close the helper's stdin (end of the tar stream) and collect its output."""
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        proc.stdin = None
    return proc.communicate()


def _helper_failure(job: LayerJob) -> LayerError:
    assert job.helper is not None
    _, err = _close_and_collect(job.helper)
    text = err.decode(errors="replace").strip().removeprefix("rpod-unpack: ") or f"exit {job.helper.returncode}"
    return LayerError(f"layer {job.digest}: {text}",
                      hint="the image's layer is malformed or hostile; nothing was written outside the store")


def fetch_layer(paths: Paths, client: Any, repo: str, job: LayerJob, on_bytes: Callable[[int], None]) -> None:
    """Download, verify and unpack ``job`` into the store (runs in a worker thread)."""
    assert job.helper is not None and job.helper.stdin is not None and job.scratch is not None
    paths.partial.mkdir(parents=True, exist_ok=True)
    partial = paths.partial / job.digest.partition(":")[2]
    have = partial.stat().st_size if partial.exists() else 0
    if have >= job.size > 0:  # a complete-looking leftover is re-verified by fetching anew
        have = 0
    pipe = _Pipeline(job, job.helper.stdin, on_bytes, Limits.from_env(), paths.tmp)
    try:
        _download(client, repo, job, partial, have, pipe)
        debug(f"layer {job.digest[:19]}: downloaded {pipe.received} bytes")
    except BrokenPipeError:
        partial.unlink(missing_ok=True)  # the helper refused the layer: nothing of it is worth resuming
        raise _helper_failure(job) from None
    except (DigestMismatch, LayerLimit):  # nothing of it is worth resuming
        partial.unlink(missing_ok=True)
        job.helper.kill()
        job.helper.wait()
        raise
    except Exception:
        job.helper.kill()
        job.helper.wait()
        raise
    try:
        out, err = _close_and_collect(job.helper)
    except BrokenPipeError:
        partial.unlink(missing_ok=True)
        raise _helper_failure(job) from None
    debug(f"layer {job.digest[:19]}: unpacked")
    _verify(job, pipe, partial, err)
    _commit(paths, job, pipe, partial, out)


def _download(client: Any, repo: str, job: LayerJob, partial: Path, have: int, pipe: _Pipeline) -> None:
    """Feed the blob to ``pipe`` (and save it in ``partial``), first what ``partial`` already
    holds when the registry resumes from there; a broken connection resumes where it stopped."""
    stream = client.open_blob(repo, job.digest, offset=have)
    with open(partial, "ab" if have and stream.partial else "wb") as saved:
        if have and stream.partial:
            with open(partial, "rb") as old:
                while block := old.read(CHUNK):
                    pipe.feed(block)
        tries = resumes = 0
        mark = pipe.received
        while True:
            try:
                for chunk in stream.iter_chunks(CHUNK):
                    saved.write(chunk)
                    pipe.feed(chunk)
                break
            except DigestMismatch:
                raise
            except (OSError, RegistryError) as e:
                if isinstance(e, BrokenPipeError):
                    raise
                stream.close()
                tries = 1 if pipe.received > mark else tries + 1
                mark = pipe.received
                resumes += 1
                if tries > RESUME_TRIES or resumes > MAX_RESUMES:
                    raise RegistryError(f"layer {job.digest}: download kept failing: {e}",
                                        hint="run the pull again: it resumes where it stopped") from e
                time.sleep(0.1 * 2 ** (tries - 1))
                saved.flush()
                stream = client.open_blob(repo, job.digest, offset=pipe.received)
                if pipe.received and not stream.partial:
                    raise RegistryError(f"layer {job.digest}: the registry cannot resume the download",
                                        hint="run the pull again") from e
        stream.close()
    pipe.finish()


def _verify(job: LayerJob, pipe: _Pipeline, partial: Path, err: bytes) -> None:
    """The helper unpacked it, and both digests are the ones the manifest and config name."""
    assert job.helper is not None
    if job.helper.returncode != 0:
        partial.unlink(missing_ok=True)
        text = err.decode(errors="replace").strip().removeprefix("rpod-unpack: ")
        raise LayerError(f"layer {job.digest}: {text or 'unpack failed'}",
                         hint="the image's layer is malformed or hostile; nothing was written outside the store")
    got = "sha256:" + pipe.compressed.hexdigest()
    if got != job.digest or (job.size > 0 and pipe.received != job.size):
        partial.unlink(missing_ok=True)
        raise DigestMismatch(f"layer {job.digest}: downloaded {pipe.received} bytes with digest {got}, "
                             f"expected {job.size} bytes with digest {job.digest}",
                             hint="the registry served corrupt data; try again or report it to the registry owner")
    diff = "sha256:" + pipe.uncompressed.hexdigest()
    if diff != job.diff_id:
        raise DigestMismatch(f"layer {job.digest}: uncompressed digest {diff} does not match the config's "
                             f"diff_id {job.diff_id}", hint="the image is corrupt: its config and layers disagree")


def _commit(paths: Paths, job: LayerJob, pipe: _Pipeline, partial: Path, out: bytes) -> None:
    """``layer.json`` beside the unpacked tree, then the scratch dir renamed into the store."""
    assert job.scratch is not None
    try:
        job.stats = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    except (ValueError, IndexError):
        job.stats = {}
    # keep the verified compressed bytes: push and save send them as they are (localstore)
    _fsync_file(partial)
    os.rename(partial, job.scratch / "blob")
    atomic_write_json(job.scratch / "layer.json", {
        "diff_id": job.diff_id,
        "compressed_digest": job.digest,
        "compressed_size": pipe.received,
        "media_type": job.media_type,
        "size": pipe.unpacked,
        "created": time.time(),
        "stats": job.stats,
        "blob": True,
    }, 0o644)
    target = paths.layer_dir(job.diff_id)
    paths.layers.mkdir(parents=True, exist_ok=True)
    os.rename(job.scratch, target)
    fsync_dir(paths.layers)
    job.scratch = None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
