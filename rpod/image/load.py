"""``rpod load``: images from a docker-archive or oci-archive (file or stdin, gzip/zstd/xz/plain).

One pass over the tar stream, whatever order its members come in: layer members go straight
into the store as they are read (``localstore``; a Docker archive's ``.tar`` layers and an OCI
archive's blobs are kept as they are: compressing 100+ MB at load time would cost more than the
load itself, and ``push`` gzips uncompressed layers as Podman does), small JSON members are kept
in memory; at the end ``manifest.json`` (Docker) or ``index.json`` (OCI) says which configs
and layers make which image.  Every config's diff_ids are checked against the layers
(``add_image_bytes``), so a mangled archive cannot record a wrong image.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import IO, Any

from rpod.errors import RpodError
from rpod.image import mediatypes as mt
from rpod.image.localstore import LocalLayer, add_image_bytes, add_layer_from_blob, start_layer_from_tar
from rpod.image.store import ImageRecord
from rpod.paths import Paths

MAX_JSON = 32 << 20
PARALLEL_UNPACK = 3


@dataclass
class Loaded:
    records: list[ImageRecord] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # "Loaded image: ..." lines


@dataclass
class _Archive:
    json: dict[str, bytes] = field(default_factory=dict)
    layers: dict[str, LocalLayer] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    lease: Any = None
    pending: dict[str, Any] = field(default_factory=dict)  # member name -> PendingLayer

    def finish(self, progress: Any) -> None:
        """Wait for the layers still unpacking (all of them, even after a failure)."""
        errors = []
        for name, p in list(self.pending.items()):
            try:
                self.layers[name] = p.result()
                progress.blob_done(self.layers[name].digest)
            except BaseException as e:
                errors.append(e)
            del self.pending[name]
        if errors:
            raise errors[0]

    def layer(self, name: str) -> LocalLayer:
        seen = 0
        while name in self.links and seen < 16:
            name, seen = self.links[name], seen + 1
        if name not in self.layers:
            raise RpodError(f"the archive has no layer {name!r}", hint="the archive is incomplete or corrupt")
        return self.layers[name]


def load_archive(paths: Paths, stream: IO[bytes], progress: Any) -> Loaded:
    """Load every image in the archive read from ``stream``."""
    from rpod.image.compression import open_decompressed

    plain, _ = open_decompressed(stream)
    from rpod.image.lease import Lease

    progress.message("Getting image source signatures")
    with Lease(paths.ensure(), "load") as lease:
        arch = _Archive(lease=lease)
        try:
            try:
                with tarfile.open(fileobj=plain, mode="r|") as tar:
                    for member in tar:
                        _read_member(paths, tar, member, arch, progress)
            finally:
                arch.finish(progress)
        except (tarfile.TarError, EOFError) as e:
            raise RpodError(f"payload does not match any of the supported image formats: {e}",
                            hint="load takes a docker-archive or oci-archive (podman save, docker save)") from e
        if "manifest.json" in arch.json:
            return _docker(paths, arch, progress)
        if "index.json" in arch.json:
            return _oci(paths, arch, progress)
    raise RpodError("payload does not match any of the supported image formats: the archive has neither "
                    "manifest.json (docker-archive) nor index.json (oci-archive)")


def _read_member(paths: Paths, tar: tarfile.TarFile, member: tarfile.TarInfo, arch: _Archive,
                 progress: Any) -> None:
    name = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
    if member.issym() or member.islnk():
        target = member.linkname if member.islnk() else posixpath.join(posixpath.dirname(name), member.linkname)
        arch.links[name] = posixpath.normpath(target).removeprefix("./")
        return
    if not member.isfile():
        return
    f = tar.extractfile(member)
    assert f is not None
    head = io.BufferedReader(f, 1 << 20)  # type: ignore[arg-type]
    first = head.peek(8)[:8]
    if first.lstrip()[:1] in (b"{", b"[") or member.size == 0 or name.endswith(("VERSION", "oci-layout")):
        if member.size > MAX_JSON:
            raise RpodError(f"archive member {name} is {member.size} bytes of JSON, more than rpod accepts")
        arch.json[name] = head.read()
        return
    progress.blob_start(name, member.size)
    on = lambda n: progress.blob_advance(name, n)  # noqa: E731
    if name.startswith("blobs/"):
        from rpod.image.compression import detect

        kind = detect(first)
        media = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}.get(kind or "", mt.OCI_LAYER)
        layer = add_layer_from_blob(paths, head, media, on, lease=arch.lease)
    else:
        if len(arch.pending) >= PARALLEL_UNPACK:  # bound the helpers (and scratch copies) at once
            arch.finish(progress)
        # kept as it is (gzipped if ever pushed), unpacked while the stream goes on to the next layer
        arch.pending[name] = start_layer_from_tar(paths, head, arch.lease, on)
        return
    arch.layers[name] = layer
    progress.blob_done(layer.digest)


def _qualify(name: str) -> str:
    from rpod.errors import InvalidReference
    from rpod.image.reference import parse_qualified

    try:
        ref = parse_qualified(name)
    except InvalidReference as e:
        raise RpodError(f"the archive names an image {name!r}: {e}") from e
    return f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}"


def _docker(paths: Paths, arch: _Archive, progress: Any) -> Loaded:
    out = Loaded()
    try:
        entries = json.loads(arch.json["manifest.json"])
    except ValueError as e:
        raise RpodError(f"manifest.json of the archive is not valid JSON: {e}") from e
    for entry in entries:
        config = arch.json.get(posixpath.normpath(entry.get("Config", "")))
        if config is None:
            raise RpodError(f"the archive has no config {entry.get('Config')!r}")
        layers = [arch.layer(posixpath.normpath(n)) for n in entry.get("Layers") or []]
        names = [_qualify(n) for n in entry.get("RepoTags") or []]
        progress.blob_done("sha256:" + hashlib.sha256(config).hexdigest(), kind="config")  # as Podman lists it
        progress.message("Writing manifest to image destination")
        rec = add_image_bytes(paths, config, layers, names, fmt="docker", lease=arch.lease)
        progress.message("Storing signatures")
        out.records.append(rec)
        out.names += names or ["sha256:" + rec.id]
    return out


def _oci(paths: Paths, arch: _Archive, progress: Any) -> Loaded:
    from rpod.image.localstore import make_manifest

    out = Loaded()
    index = json.loads(arch.json["index.json"])
    for desc in index.get("manifests") or []:
        mbytes = arch.json.get("blobs/" + desc["digest"].replace(":", "/"))
        if mbytes is None or not mt.is_manifest(desc.get("mediaType")):
            continue
        doc = json.loads(mbytes)
        cdesc = doc["config"]
        config = arch.json.get("blobs/" + cdesc["digest"].replace(":", "/"))
        if config is None:
            raise RpodError(f"the archive has no config {cdesc['digest']}")
        layers = [arch.layer("blobs/" + d["digest"].replace(":", "/")) for d in doc.get("layers") or []]
        ref = (desc.get("annotations") or {}).get("org.opencontainers.image.ref.name", "")
        names = [_qualify(ref)] if ref and ("/" in ref or ":" in ref) else []
        if [x.digest for x in layers] != [d["digest"] for d in doc.get("layers") or []]:
            mbytes, media = make_manifest(cdesc["digest"], len(config), layers, "oci")
        else:
            media = mt.base_type(desc.get("mediaType")) or mt.OCI_MANIFEST
        progress.blob_done(cdesc["digest"], kind="config")
        progress.message("Writing manifest to image destination")
        rec = add_image_bytes(paths, config, layers, names, manifest=mbytes, manifest_type=media, lease=arch.lease)
        progress.message("Storing signatures")
        out.records.append(rec)
        out.names += names or ["sha256:" + rec.id]
    if not out.records:
        raise RpodError("the OCI archive lists no image manifest")
    return out
