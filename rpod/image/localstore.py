"""Adding locally made content to the store: layers from a tar stream, images from a config.

The primitives ``build``, ``commit``, ``import`` and ``load`` share.

``add_layer_from_tar`` reads an uncompressed layer tar once: each chunk is hashed (the
diff_id), written to an unpack helper (``rootless.unpack`` as root in the user namespace,
so the tar's container ids land as the store's sub-ids) and compressed into ``blob`` beside
the helper's ``diff/`` (the compressed digest hashed on the way).  The scratch directory is
``tmp/spare.<pid>.<rand>`` (swept when that pid is gone, like pull's spare helpers); under
the layer's lock it is renamed to ``layers/<diffid>`` or, when the layer is already there,
thrown away: a ``kill -9`` at any point leaves either no layer or a complete one.

Every layer keeps its compressed blob as ``layers/<diffid>/blob`` (pull keeps the bytes it
downloaded there too), described by ``layer.json``'s ``compressed_digest``/``media_type``:
``push`` and ``save`` send those exact bytes, so a pulled image pushes with the same layer
digests and diff_ids (docs/decisions.md, "Pushing what was pulled").

``add_image`` writes the config and manifest blobs and records the image in
``images.json`` (``ImageStore.put``: atomically, under the store lock).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rpod.errors import LayerError, UsageError
from rpod.image import mediatypes as mt
from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths
from rpod.storefile import atomic_write_json, fsync_dir, locked, read_json

CHUNK = 1 << 20
BLOB_NAME = "blob"
GZIP_LEVEL = 6  # as containers/image (pgzip's default)


@dataclass
class LocalLayer:
    """A layer in the store: its uncompressed digest, and the compressed blob kept for push."""

    diff_id: str
    digest: str  # of the compressed blob
    size: int  # of the compressed blob
    media_type: str  # OCI media type of the blob (converted for docker manifests)
    uncompressed_size: int = 0

    def descriptor(self, fmt: str = "oci") -> dict[str, Any]:
        return {"mediaType": layer_media_type(self.media_type, fmt), "digest": self.digest, "size": self.size}


def layer_media_type(media_type: str, fmt: str) -> str:
    """The blob's media type in an ``oci`` or ``docker`` manifest."""
    comp = mt.layer_compression(media_type)
    if fmt == "docker":
        return {None: mt.DOCKER_LAYER, "gzip": mt.DOCKER_LAYER_GZIP, "zstd": mt.DOCKER_LAYER_ZSTD}[comp]
    return {None: mt.OCI_LAYER, "gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}[comp]


class _Compressor:
    """Streaming compressor for ``gzip``, ``zstd`` or ``none``."""

    def __init__(self, compression: str, level: int | None = None):
        self.kind = compression
        if compression == "gzip":
            self._c: Any = zlib.compressobj(GZIP_LEVEL if level is None else level, zlib.DEFLATED, 31)
        elif compression == "zstd":
            import zstandard

            self._c = zstandard.ZstdCompressor(level=3 if level is None else level).compressobj()
        elif compression in ("none", ""):
            self._c = None
        else:
            raise UsageError(f"unsupported compression format {compression!r}: use gzip, zstd or none")

    @property
    def media_type(self) -> str:
        return {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}.get(self.kind, mt.OCI_LAYER)

    def __call__(self, data: bytes) -> bytes:
        return data if self._c is None else self._c.compress(data)

    def finish(self) -> bytes:
        return b"" if self._c is None else self._c.flush()


class _HashWriter:
    """Writes to a file, hashing and counting."""

    def __init__(self, f: IO[bytes]):
        self.f = f
        self.h = hashlib.sha256()
        self.n = 0

    def write(self, data: bytes) -> None:
        if data:
            self.h.update(data)
            self.n += len(data)
            self.f.write(data)


def _mapping() -> Any:
    from rootless.subid import default_mapping

    return default_mapping()


def layer_blob(paths: Paths, diff_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The kept compressed blob of a layer and its ``layer.json``, or None when the layer has none."""
    info = read_json(paths.layer_dir(diff_id) / "layer.json", {}) or {}
    path = paths.layer_dir(diff_id) / BLOB_NAME
    if info.get("blob") and path.is_file():
        return path, info
    return None


def local_layer(paths: Paths, diff_id: str) -> LocalLayer | None:
    """The ``LocalLayer`` of a stored layer that has its blob."""
    found = layer_blob(paths, diff_id)
    if found is None:
        return None
    _, info = found
    return LocalLayer(diff_id, info["compressed_digest"], int(info["compressed_size"]),
                      mt.base_type(info["media_type"]), int(info.get("size") or 0))


def add_layer_from_tar(paths: Paths, stream: IO[bytes], compression: str = "gzip",
                       on_bytes: Callable[[int], None] | None = None, level: int | None = None,
                       lease: Any = None, spare: Any = None) -> LocalLayer:
    """Store the uncompressed layer tar read from ``stream`` (see the module docstring).

    ``lease`` (``rpod.image.lease.Lease``): the layer is added to it before its lock is released,
    so a concurrent ``rmi``/prune cannot remove it before the caller's image is recorded.
    ``spare``: an unpack helper the caller started earlier (``layerfetch.spawn_spare``: a build
    starts it while its step runs, hiding the helper's start-up); it is used up either way."""
    from rootless.userns import remove_tree
    from rpod.image import layerfetch

    paths.ensure()
    comp = _Compressor(compression, level)
    mapping = _mapping()
    helper = spare or layerfetch.spawn_spare(paths, mapping)
    scratch = helper.scratch
    try:
        diff_id, unpacked, blob, stats = _feed(helper, stream, comp, scratch / BLOB_NAME, on_bytes)
        layer = LocalLayer(diff_id, "sha256:" + blob.h.hexdigest(), blob.n, comp.media_type, unpacked)
        scratch = _commit_layer(paths, scratch, layer, stats, lease)  # type: ignore[assignment]
        return local_layer(paths, diff_id) or layer
    finally:
        if helper.proc.poll() is None:
            helper.proc.kill()
            helper.proc.wait()
        if scratch is not None and scratch.exists():
            remove_tree(scratch, mapping)


class PendingLayer:
    """A layer whose tar is already in its scratch ``blob`` and being unpacked by a helper in a
    thread (``load``: the archive stream goes on to the next layer meanwhile); ``result()``
    waits and commits it."""

    def __init__(self, paths: Paths, helper: Any, mapping: Any, diff_id: str, size: int, lease: Any):
        import threading

        self.paths, self.helper, self.mapping, self.lease = paths, helper, mapping, lease
        self.diff_id, self.size = diff_id, size
        self.error: BaseException | None = None
        self.stats: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._unpack, daemon=True)
        self.thread.start()

    def _unpack(self) -> None:
        try:
            with open(self.helper.scratch / BLOB_NAME, "rb") as f:
                diff_id, _, _, self.stats = _feed(self.helper, f, _Compressor("none"), None, None)
            if diff_id != self.diff_id:
                raise LayerError(f"layer {self.diff_id} changed while it was unpacked")
        except BaseException as e:  # re-raised by result()
            self.error = e

    def result(self) -> LocalLayer:
        from rootless.userns import remove_tree

        self.thread.join()
        scratch: Path | None = self.helper.scratch
        try:
            if self.error is not None:
                raise self.error
            digest = "sha256:" + self.diff_id.partition(":")[2]
            layer = LocalLayer(self.diff_id, digest, self.size, mt.OCI_LAYER, self.size)
            scratch = _commit_layer(self.paths, scratch, layer, self.stats, self.lease)  # type: ignore[arg-type]
            return local_layer(self.paths, self.diff_id) or layer
        finally:
            if self.helper.proc.poll() is None:
                self.helper.proc.kill()
                self.helper.proc.wait()
            if scratch is not None and scratch.exists():
                remove_tree(scratch, self.mapping)


def start_layer_from_tar(paths: Paths, stream: IO[bytes], lease: Any = None,
                         on_bytes: Callable[[int], None] | None = None) -> PendingLayer:
    """Copy an uncompressed layer tar into a scratch ``blob`` (kept as it is, hashed on the way),
    then unpack it in the background; call ``result()`` to wait and commit."""
    from rpod.image import layerfetch

    paths.ensure()
    mapping = _mapping()
    helper = layerfetch.spawn_spare(paths, mapping)
    h = hashlib.sha256()
    n = 0
    try:
        with open(helper.scratch / BLOB_NAME, "wb") as f:
            while chunk := stream.read(CHUNK):
                h.update(chunk)
                n += len(chunk)
                f.write(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        from rootless.userns import remove_tree

        helper.proc.kill()
        helper.proc.wait()
        remove_tree(helper.scratch, mapping)
        raise
    return PendingLayer(paths, helper, mapping, "sha256:" + h.hexdigest(), n, lease)


def add_layer_from_blob(paths: Paths, stream: IO[bytes], media_type: str,
                        on_bytes: Callable[[int], None] | None = None, lease: Any = None) -> LocalLayer:
    """Store a layer from its compressed blob (``load`` of an OCI archive): the bytes are kept as
    they are (so the manifest's digests stay), decompressed on the way to the unpack helper."""
    from rootless.userns import remove_tree
    from rpod.image import layerfetch

    paths.ensure()
    decompress = layerfetch.decompressor(mt.layer_compression(media_type))
    mapping = _mapping()
    helper = layerfetch.spawn_spare(paths, mapping)
    scratch = helper.scratch

    class _Reader:  # the decompressed view of ``stream``, hashing the compressed bytes read
        def __init__(self) -> None:
            self.blob = hashlib.sha256()
            self.n = 0
            self.file = open(scratch / BLOB_NAME, "wb")  # noqa: SIM115

        def read(self, size: int) -> bytes:
            while True:
                raw = stream.read(size)
                if not raw:
                    return decompress.finish()  # type: ignore[attr-defined]
                self.blob.update(raw)
                self.n += len(raw)
                self.file.write(raw)
                out = decompress(raw)
                if out:
                    return out

    reader = _Reader()
    try:
        with reader.file:
            diff_id, unpacked, _, stats = _feed(helper, reader, _Compressor("none"), None, on_bytes)
            reader.file.flush()
            os.fsync(reader.file.fileno())
        layer = LocalLayer(diff_id, "sha256:" + reader.blob.hexdigest(), reader.n, mt.base_type(media_type), unpacked)
        scratch = _commit_layer(paths, scratch, layer, stats, lease)
        return local_layer(paths, diff_id) or layer
    finally:
        if helper.proc.poll() is None:
            helper.proc.kill()
            helper.proc.wait()
        if scratch is not None and scratch.exists():
            remove_tree(scratch, mapping)


def _commit_layer(paths: Paths, scratch: Path, layer: LocalLayer, stats: dict[str, Any],
                  lease: Any = None) -> Path | None:
    """Move a complete scratch layer into ``layers/`` (or adopt only its blob); returns what is left."""
    from rpod.image.layerfetch import sweep_scratch

    hexd = layer.diff_id.partition(":")[2]
    with locked(paths.locks / f"layer-{hexd}.lock"):
        sweep_scratch(paths, layer.diff_id, _mapping())  # what killed pulls/imports left
        if lease is not None:
            lease.add([layer.diff_id])
        target = paths.layer_dir(layer.diff_id)
        if (target / "layer.json").exists():
            if local_layer(paths, layer.diff_id) is None:
                _adopt_blob(paths, layer.diff_id, scratch / BLOB_NAME, layer)  # an old layer without a blob
            return scratch
        atomic_write_json(scratch / "layer.json", _layer_json(layer, stats), 0o644)
        paths.layers.mkdir(parents=True, exist_ok=True)
        os.rename(scratch, target)
        fsync_dir(paths.layers)
        return None


class _PipeFeeder:
    """Writes chunks to the unpack helper's stdin from a thread, so compressing and hashing here
    overlap with the helper writing files (zlib, hashlib and pipe writes release the GIL)."""

    def __init__(self, sink: IO[bytes]):
        import queue
        import threading

        self.sink = sink
        self.q: Any = queue.Queue(maxsize=16)
        self.broken = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.q.get()) is not None:
            if self.broken:
                continue
            try:
                self.sink.write(chunk)
            except (BrokenPipeError, ValueError, OSError):
                self.broken = True  # the helper failed: its message is collected by the caller

    def write(self, chunk: bytes) -> None:
        self.q.put(chunk)

    def close(self) -> None:
        self.q.put(None)
        self.thread.join()
        try:
            self.sink.close()
        except BrokenPipeError:
            pass


def _feed(helper: Any, stream: Any, comp: _Compressor, blob_path: Path | None,
          on_bytes: Callable[[int], None] | None) -> tuple[str, int, _HashWriter, dict[str, Any]]:
    """Copy ``stream`` to the helper and the compressed blob; returns (diff_id, size, blob, stats)."""
    uncompressed = hashlib.sha256()
    total = 0
    feeder = _PipeFeeder(helper.proc.stdin)
    with open(blob_path or os.devnull, "wb") as f:
        blob = _HashWriter(f)
        if blob_path is None:
            comp = _Compressor("none")
            blob.write = lambda data: None  # type: ignore[method-assign]
        try:
            while (chunk := stream.read(CHUNK)) and not feeder.broken:
                uncompressed.update(chunk)
                total += len(chunk)
                feeder.write(chunk)
                blob.write(comp(chunk))
                if on_bytes:
                    on_bytes(len(chunk))
            blob.write(comp.finish())
            f.flush()
            if blob_path is not None:
                os.fsync(f.fileno())
        finally:
            feeder.close()
        helper.proc.stdin = None
        out, err = helper.proc.communicate()
    if helper.proc.returncode != 0:
        text = err.decode(errors="replace").strip().removeprefix("rpod-unpack: ")
        raise LayerError(f"cannot store the layer: {text or 'unpack failed'}",
                         hint="the layer tar is malformed; nothing was written outside the store")
    try:
        stats = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    except (ValueError, IndexError):
        stats = {}
    return "sha256:" + uncompressed.hexdigest(), total, blob, stats


def _layer_json(layer: LocalLayer, stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "diff_id": layer.diff_id,
        "compressed_digest": layer.digest,
        "compressed_size": layer.size,
        "media_type": layer.media_type,
        "size": layer.uncompressed_size,
        "created": time.time(),
        "stats": stats,
        "blob": True,
    }


def _adopt_blob(paths: Paths, diff_id: str, blob: Path, layer: LocalLayer) -> None:
    """Give a stored layer that lacks one (pulled by an older rpod) this blob (caller holds its lock)."""
    target = paths.layer_dir(diff_id)
    info = read_json(target / "layer.json", {}) or {}
    os.rename(blob, target / BLOB_NAME)
    info.update(_layer_json(layer, info.get("stats") or {}))
    atomic_write_json(target / "layer.json", info, 0o644)


def config_bytes(config: dict[str, Any]) -> bytes:
    """The config as stored and pushed (compact JSON, as Go's encoder writes it)."""
    return json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()


def make_manifest(config_digest: str, config_size: int, layers: list[LocalLayer], fmt: str = "oci",
                  annotations: dict[str, str] | None = None) -> tuple[bytes, str]:
    """An image manifest (``oci`` or ``docker`` v2s2) for these blobs: (bytes, media type)."""
    if fmt not in ("oci", "docker"):
        raise UsageError(f"unrecognized image type {fmt!r}")
    media = mt.OCI_MANIFEST if fmt == "oci" else mt.DOCKER_MANIFEST
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media,
                           "config": {"mediaType": mt.OCI_CONFIG if fmt == "oci" else mt.DOCKER_CONFIG,
                                      "digest": config_digest, "size": config_size},
                           "layers": [layer.descriptor(fmt) for layer in layers]}
    if annotations and fmt == "oci":
        doc["annotations"] = annotations
    return json.dumps(doc, separators=(",", ":")).encode(), media


def add_image(paths: Paths, config: dict[str, Any], layers: list[LocalLayer], names: list[str],
              fmt: str = "oci", annotations: dict[str, str] | None = None, lease: Any = None) -> ImageRecord:
    """Write ``config`` and a manifest for ``layers`` and record the image under ``names``.

    ``config["rootfs"]["diff_ids"]`` is set from ``layers`` (lowest first).  Names must be
    fully qualified (``localhost/app:latest``); they move from any image that had them.
    """
    config = dict(config)
    config["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
    return add_image_bytes(paths, config_bytes(config), layers, names, fmt, annotations, lease=lease)


def add_image_bytes(paths: Paths, cbytes: bytes, layers: list[LocalLayer], names: list[str], fmt: str = "oci",
                    annotations: dict[str, str] | None = None, manifest: bytes | None = None,
                    manifest_type: str = "", lease: Any = None) -> ImageRecord:
    """``add_image`` for a config whose exact bytes must stay (``load``: the image ID is their digest);
    ``manifest`` (with its ``manifest_type``) is kept when given, else one is made."""
    store = ImageStore(paths.ensure())
    config = json.loads(cbytes)
    want = (config.get("rootfs") or {}).get("diff_ids") or []
    if want != [layer.diff_id for layer in layers]:
        raise LayerError(f"the config lists diff_ids {want} but the layers are "
                         f"{[layer.diff_id for layer in layers]}", hint="the image is corrupt")
    cdigest = "sha256:" + hashlib.sha256(cbytes).hexdigest()
    if manifest is None:
        manifest, manifest_type = make_manifest(cdigest, len(cbytes), layers, fmt, annotations)
    mdigest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    if lease is not None:  # before they exist: a clean-up between write and record keeps them
        lease.add([cdigest, mdigest])
    store.write_blob(cdigest, cbytes)
    store.write_blob(mdigest, manifest)
    from rpod.image.store import split_name

    record = ImageRecord(
        id=cdigest.partition(":")[2],
        names=list(dict.fromkeys(names)),
        digest=mdigest,
        repo_digests=list(dict.fromkeys(f"{split_name(n)[0]}@{mdigest}" for n in names)),
        layers=[layer.diff_id for layer in layers],
        manifest_digest=mdigest,
        manifest_type=manifest_type,
        created=str(config.get("created") or ""),
        size=sum(layer.uncompressed_size for layer in layers),
        architecture=str(config.get("architecture") or ""),
        os=str(config.get("os") or ""),
        pulled_at=time.time(),
    )
    return store.put(record)
