"""Image destinations other than a registry: OCI layouts, archives and ``dir:``, as containers/image
writes them (``push``'s ``oci:``, ``oci-archive:``, ``docker-archive:``, ``dir:`` and ``save``).

Writers go through a sink (a directory or a tar stream, which may be stdout), so ``oci:DIR`` and
``oci-archive:FILE`` share one code path.  Docker archives hold each layer uncompressed as
``<diffid>.tar`` (decompressed from the stored blob while written), the config as
``<id>.json``, ``manifest.json`` and ``repositories``; OCI layouts the blobs as they are.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rpod.errors import UsageError
from rpod.image import mediatypes as mt
from rpod.image.source import Blob, ImageSource

TRANSPORTS = ("docker", "oci", "oci-archive", "docker-archive", "dir")
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass
class Destination:
    transport: str
    path: str = ""  # directory or file
    reference: str = ""  # registry ref (docker) or the name inside an archive/layout


def parse_destination(text: str) -> Destination:
    """``docker://REF``, ``oci:DIR[:REF]``, ``oci-archive:FILE[:REF]``, ``docker-archive:FILE[:REF]``,
    ``dir:DIR``, or a bare registry reference."""
    if text.startswith("docker://"):
        return Destination("docker", reference=text[len("docker://"):])
    transport, sep, rest = text.partition(":")
    if sep and transport in TRANSPORTS and transport != "docker":
        if not rest:
            raise UsageError(f"invalid destination {text!r}: no path after {transport}:")
        if transport == "dir":
            return Destination("dir", rest)
        path, _, ref = rest.partition(":")
        return Destination(transport, path, ref)
    if sep and transport in ("containers-storage", "docker-daemon", "sif"):
        raise UsageError(f"transport {transport!r} is not supported by rpod")
    return Destination("docker", reference=text)


class DirSink:
    """Writes entries as files below a directory."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def has(self, name: str) -> bool:
        return (self.root / name).exists()

    def add_bytes(self, name: str, data: bytes) -> None:
        from rpod.storefile import atomic_write

        atomic_write(self.root / name, data, 0o644)

    def add_stream(self, name: str, stream: IO[bytes], size: int) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            while chunk := stream.read(1 << 20):
                f.write(chunk)
        os.chmod(tmp, 0o644)
        os.rename(tmp, target)

    def add_symlink(self, name: str, target: str) -> None:
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, self.root / name)

    def read(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        pass


class TarSink:
    """Writes entries into an uncompressed tar stream (a file or stdout), owned by root, mtime 0."""

    def __init__(self, out: IO[bytes], layout: bool = False):
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.names: set[str] = set()
        # an OCI layout is untarred by its readers (skopeo, as the user): the user's ids, directories
        # first; a Docker archive is read in place: root-owned, read-only entries, as Podman writes them
        self.layout = layout
        self.ids = (os.getuid(), os.getgid()) if layout else (0, 0)

    def has(self, name: str) -> bool:
        return name in self.names

    def _dirs(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i]) + "/"
            if d not in self.names:
                self.names.add(d)
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                info.uid, info.gid = self.ids
                self.tar.addfile(info)

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        if self.layout:
            self._dirs(name)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644 if self.layout else 0o444, 0
        info.uid, info.gid = self.ids
        return info

    def add_bytes(self, name: str, data: bytes) -> None:
        self.names.add(name)
        self.tar.addfile(self._info(name, len(data)), io.BytesIO(data))

    def add_stream(self, name: str, stream: IO[bytes], size: int) -> None:
        self.names.add(name)
        self.tar.addfile(self._info(name, size), stream)

    def add_symlink(self, name: str, target: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        self.names.add(name)
        self.tar.addfile(info)

    def read(self, name: str) -> bytes | None:
        return None

    def close(self) -> None:
        self.tar.close()


def _blob_name(digest: str) -> str:
    algo, _, hexd = digest.partition(":")
    return f"blobs/{algo}/{hexd}"


def _add_blob(sink: Any, blob: Blob, name: str, progress: Any, kind: str = "blob") -> None:
    if sink.has(name):
        progress.blob_done(blob.digest, skipped=True, kind=kind)
        return
    progress.blob_start(blob.digest, blob.size, kind=kind)
    if blob.data is not None:
        sink.add_bytes(name, blob.data)
    else:
        with blob.open() as f:
            sink.add_stream(name, f, blob.size)
    progress.blob_done(blob.digest, kind=kind)


def write_oci(sink: Any, images: list[tuple[ImageSource, list[str]]], progress: Any) -> None:
    """An OCI image layout: ``oci-layout``, ``index.json``, ``blobs/`` (added to an existing index)."""
    old = sink.read("index.json")
    index = json.loads(old) if old else {"schemaVersion": 2, "manifests": []}
    sink.add_bytes("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    for src, names in images:
        for blob in src.layers:
            _add_blob(sink, blob, _blob_name(blob.digest), progress)
        _add_blob(sink, src.config, _blob_name(src.config.digest), progress, kind="config")
        progress.message("Writing manifest to image destination")
        digest = src.manifest_digest
        if not sink.has(_blob_name(digest)):
            sink.add_bytes(_blob_name(digest), src.manifest)
        for name in names or [""]:
            entry: dict[str, Any] = {"mediaType": src.manifest_type, "digest": digest, "size": len(src.manifest)}
            if name:
                entry["annotations"] = {REF_NAME: name}
                index["manifests"] = [m for m in index["manifests"]
                                      if (m.get("annotations") or {}).get(REF_NAME) != name]
            index["manifests"].append(entry)
        progress.message("Storing signatures")
    sink.add_bytes("index.json", json.dumps(index, separators=(",", ":")).encode())


def write_docker_archive(sink: Any, images: list[tuple[ImageSource, list[str]]], progress: Any) -> None:
    """``docker save`` format: uncompressed ``<diffid>.tar`` layers, ``<id>.json`` configs,
    ``manifest.json`` and ``repositories``."""
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for src, names in images:
        layer_files = []
        for blob in src.layers:
            name = blob.diff_id.partition(":")[2] + ".tar"
            layer_files.append(name)
            if sink.has(name):
                progress.blob_done(blob.digest, skipped=True)
                continue
            progress.blob_start(blob.digest, blob.size)
            with blob.open_uncompressed() as f:
                sink.add_stream(name, f, blob.uncompressed_size)
            progress.blob_done(blob.digest)
        config_name = src.record.id + ".json"
        if not sink.has(config_name):
            sink.add_bytes(config_name, src.config.data or b"")
        progress.blob_done(src.config.digest, kind="config")
        progress.message("Writing manifest to image destination")
        manifest.append({"Config": config_name, "RepoTags": names, "Layers": layer_files})
        top = src.diff_ids[-1].partition(":")[2] if src.diff_ids else src.record.id
        for n in names:
            repo, _, tag = n.rpartition(":")
            repositories.setdefault(repo, {})[tag] = top
        progress.message("Storing signatures")
    sink.add_bytes("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    if repositories:
        sink.add_bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())


def write_dir(root: Path, src: ImageSource, progress: Any) -> None:
    """The ``dir:`` transport: blobs named by their hex digest, ``manifest.json``, ``version``."""
    sink = DirSink(root)
    sink.add_bytes("version", b"Directory Transport Version: 1.1\n")
    for blob in src.layers + [src.config]:
        _add_blob(sink, blob, blob.digest.partition(":")[2], progress,
                  kind="config" if blob is src.config else "blob")
    progress.message("Writing manifest to image destination")
    sink.add_bytes("manifest.json", src.manifest)
    progress.message("Storing signatures")


def open_output(path: str) -> tuple[IO[bytes], Any]:
    """A file to write an archive to (``-`` or empty: stdout); returns (stream, close)."""
    import sys

    if path in ("", "-", "/dev/stdout"):
        return sys.stdout.buffer, sys.stdout.buffer.flush
    f = open(path, "wb")  # noqa: SIM115
    return f, f.close


def write_to(dest: Destination, images: list[tuple[ImageSource, list[str]]], progress: Any) -> None:
    """Write ``images`` to a non-registry destination."""
    if dest.transport == "dir":
        if len(images) != 1:
            raise UsageError("the dir: transport holds one image")
        write_dir(Path(dest.path), images[0][0], progress)
        return
    if dest.transport == "oci":
        write_oci(DirSink(Path(dest.path)), images, progress)
        return
    out, close = open_output(dest.path)
    sink = TarSink(out, layout=dest.transport == "oci-archive")
    try:
        if dest.transport == "oci-archive":
            write_oci(sink, images, progress)
        elif dest.transport == "docker-archive":
            write_docker_archive(sink, images, progress)
        else:
            raise UsageError(f"unsupported destination transport {dest.transport!r}")
    finally:
        sink.close()
        close()


def docker_format_needed(dest: Destination) -> str | None:
    """The manifest format a destination implies (docker archives hold v2s2)."""
    return "docker" if dest.transport == "docker-archive" else None


__all__ = ["Destination", "parse_destination", "write_to", "mt"]
