"""A stored image as something to copy out: its config, its layer blobs, a manifest in a format.

Layers are sent as the compressed blobs the store keeps (``localstore``), so the config (and so
the image ID and diff_ids) never change; the original manifest bytes are reused when they
already describe exactly those blobs in the wanted format (a pulled image pushes with its
manifest digest).  Asking for another compression re-compresses into ``tmp/`` first.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpod.errors import NoSuchImage, UsageError
from rpod.image import mediatypes as mt
from rpod.image.localstore import LocalLayer, layer_media_type, local_layer, make_manifest
from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths


@dataclass
class Blob:
    """One blob to copy: where its bytes are, and how it is described."""

    digest: str
    size: int
    media_type: str
    path: Path | None = None  # on disk (layers)
    data: bytes | None = None  # in memory (config, manifest)
    diff_id: str = ""  # layers: the uncompressed digest
    uncompressed_size: int = 0

    def open_uncompressed(self) -> Any:
        """The layer as an uncompressed tar stream."""
        from rpod.image.compression import open_decompressed

        return open_decompressed(self.open())[0]

    def open(self) -> Any:
        import io

        return io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")  # type: ignore[arg-type]


@dataclass
class ImageSource:
    record: ImageRecord
    config: Blob
    layers: list[Blob]
    manifest: bytes
    manifest_type: str
    diff_ids: list[str] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)

    @property
    def manifest_digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    def cleanup(self) -> None:
        for p in self.temp_files:
            p.unlink(missing_ok=True)

    def config_doc(self) -> dict[str, Any]:
        return json.loads(self.config.data or b"{}")


def format_of(manifest_type: str) -> str:
    return "docker" if mt.base_type(manifest_type) == mt.DOCKER_MANIFEST else "oci"


def open_image(paths: Paths, record: ImageRecord, fmt: str | None = None, compression: str | None = None,
               progress: Any = None, compress_plain: bool = False) -> ImageSource:
    """The image ``record`` ready to copy in ``fmt`` (``oci``/``docker``; default: as stored).
    ``compression`` re-compresses every layer stored otherwise; ``compress_plain`` gzips the
    layers stored uncompressed (``load`` keeps a Docker archive's tars as they are) for a push."""
    store = ImageStore(paths)
    if fmt not in (None, "", "oci", "docker", "v2s2"):
        raise UsageError(f"unsupported manifest type {fmt!r}: use oci, v2s2 or docker")
    fmt = {"v2s2": "docker"}.get(fmt or "", fmt) or format_of(record.manifest_type)
    cbytes = store.read_blob("sha256:" + record.id)
    config = Blob("sha256:" + record.id, len(cbytes), mt.OCI_CONFIG if fmt == "oci" else mt.DOCKER_CONFIG,
                  data=cbytes)
    src = ImageSource(record, config, [], b"", "", diff_ids=list(record.layers))
    layers: list[LocalLayer] = []
    for diff_id in record.layers:
        layer = local_layer(paths, diff_id)
        if layer is None:
            raise NoSuchImage(f"layer {diff_id} of image {record.short_id} has no stored blob to copy "
                              "(it was pulled by an older rpod)", hint=f"pull the image again: rpod pull "
                              f"{record.names[0] if record.names else record.short_id}")
        path = paths.layer_dir(diff_id) / "blob"
        stored = mt.layer_compression(layer.media_type)
        if not compression and compress_plain and stored is None:
            layer, path = _recompress(paths, layer, path, "gzip", progress)
            src.temp_files.append(path)
        elif compression and stored != _norm(compression):
            layer, path = _recompress(paths, layer, path, compression, progress)
            src.temp_files.append(path)
        layers.append(layer)
        src.layers.append(Blob(layer.digest, layer.size, layer_media_type(layer.media_type, fmt), path=path,
                               diff_id=diff_id, uncompressed_size=layer.uncompressed_size))
    src.manifest, src.manifest_type = _manifest(store, record, config, layers, fmt)
    return src


def _norm(compression: str) -> str | None:
    return None if compression in ("none", "") else compression


def _manifest(store: ImageStore, record: ImageRecord, config: Blob, layers: list[LocalLayer],
              fmt: str) -> tuple[bytes, str]:
    """The stored manifest when it describes exactly these blobs in ``fmt``, else a new one."""
    try:
        original = store.read_blob(record.manifest_digest) if record.manifest_digest else b""
        doc = json.loads(original) if original else {}
    except (NoSuchImage, ValueError):
        doc, original = {}, b""
    if doc and format_of(record.manifest_type) == fmt:
        same = [d.get("digest") for d in doc.get("layers") or []] == [x.digest for x in layers]
        if same and (doc.get("config") or {}).get("digest") == config.digest:
            return original, mt.base_type(record.manifest_type)
    annotations = doc.get("annotations") if fmt == "oci" else None
    return make_manifest(config.digest, config.size, layers, fmt, annotations)


def _recompress(paths: Paths, layer: LocalLayer, path: Path, compression: str,
                progress: Any) -> tuple[LocalLayer, Path]:
    """Re-compress a layer blob into ``tmp/`` (``--compression-format``)."""
    import secrets

    from rpod.image.compression import open_decompressed
    from rpod.image.localstore import CHUNK, _Compressor

    comp = _Compressor(compression)
    paths.tmp.mkdir(parents=True, exist_ok=True)
    out = paths.tmp / f"recompress.{os.getpid()}.{secrets.token_hex(4)}"
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as raw, open(out, "wb") as f:
        stream, _ = open_decompressed(raw)
        while chunk := stream.read(CHUNK):
            data = comp(chunk)
            h.update(data)
            n += len(data)
            f.write(data)
        data = comp.finish()
        h.update(data)
        n += len(data)
        f.write(data)
    return LocalLayer(layer.diff_id, "sha256:" + h.hexdigest(), n, comp.media_type, layer.uncompressed_size), out


def resolve_local(paths: Paths, name: str) -> ImageRecord:
    """A local image by name or ID (short names as ``images`` resolves them)."""
    from rpod.image.pull import local_candidates

    return ImageStore(paths).resolve(name, local_candidates(name))
