"""Real test images: OCI image layouts built in Python, pushed to test registries with skopeo.

Every image is deterministic (fixed mtimes, sorted entries, deterministic compression), so its
digests are the same on every run and tests can assert exactly what ends up in rpod's store.

``build_images(workdir, cache_dir)`` returns ``{name: TestImage}``; ``push_image`` copies one
image (all its tags, all platforms, digests preserved) to a registry.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import shutil
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.tarbuild import Entry, build_tar, compress, dir_entries, retar_tarball, truncated_tar

if TYPE_CHECKING:
    from tests.support.registry import Registry

def _shared_images() -> Path:
    """``$RPOD_TEST_ROOTFS_DIR``, else ``shared/images`` beside the repository, else /work/shared/images."""
    env = os.environ.get("RPOD_TEST_ROOTFS_DIR")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3] / "shared" / "images"
    return beside if beside.is_dir() else Path("/work/shared/images")


SHARED_IMAGES = _shared_images()
ALPINE_X86_64 = SHARED_IMAGES / "alpine-3.20.3" / "alpine-minirootfs-3.20.3-x86_64.tar.gz"
ALPINE_AARCH64 = SHARED_IMAGES / "alpine-3.20.3" / "alpine-minirootfs-3.20.3-aarch64.tar.gz"
BUSYBOX_AMD64 = SHARED_IMAGES / "busybox-glibc" / "rootfs-amd64.tar.gz"

LARGE_IMAGE_VERSION = "large-v1"

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CREATED = "2024-09-06T22:20:07Z"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Compact JSON bytes with sorted keys (stable digests)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- descriptions


@dataclass(frozen=True)
class ExpectedEntry:
    """What one path of a merged rootfs must look like (ownership as seen inside the container)."""

    kind: str  # file | dir | symlink | fifo
    mode: int | None = None  # stat.S_IMODE bits (incl. setuid/setgid/sticky); None for symlinks
    uid: int = 0
    gid: int = 0
    content: bytes | None = None  # files only
    target: str | None = None  # symlinks only


@dataclass(frozen=True)
class RootfsExpectation:
    """The merged root filesystem of an image: paths present (relative, no leading ``/``),
    paths that must be absent, and groups of paths that must be the same inode."""

    present: dict[str, ExpectedEntry]
    absent: tuple[str, ...]
    hardlinks: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class PlatformImage:
    """One single-platform manifest and what it references."""

    platform: str  # "linux/amd64", "linux/arm64/v8"
    manifest_digest: str
    manifest_media_type: str
    manifest: dict[str, Any]
    config_digest: str
    config: dict[str, Any]
    diff_ids: tuple[str, ...]
    layer_digests: tuple[str, ...]
    layer_media_types: tuple[str, ...]
    layer_sizes: tuple[int, ...]

    @property
    def image_id(self) -> str:
        """Podman's image id: the config digest without ``sha256:``."""
        return self.config_digest.split(":", 1)[1]


@dataclass(frozen=True)
class TestImage:
    """A built test image: its OCI layout on disk and every digest a test may assert."""

    __test__ = False  # not a pytest test class

    name: str  # repository path, e.g. "alpine" or "hostile/dotdot"
    tags: tuple[str, ...]
    layout: Path
    digest: str  # digest of what the tags point to (a manifest, or an index/list)
    media_type: str
    platforms: dict[str, PlatformImage]
    purpose: str = ""
    rootfs: RootfsExpectation | None = None
    tag_digests: dict[str, str] = field(default_factory=dict)  # tag -> digest it points to

    @property
    def tag(self) -> str:
        """The first (main) tag."""
        return self.tags[0]

    @property
    def is_index(self) -> bool:
        """True when the tags point to an OCI index or Docker manifest list."""
        return self.media_type in INDEX_TYPES

    @property
    def native(self) -> PlatformImage:
        """The linux/amd64 image (what a pull on this machine selects)."""
        return self.platforms["linux/amd64"]

    @property
    def manifest_digest(self) -> str:
        """Digest of the linux/amd64 manifest (equals ``digest`` for single-manifest images)."""
        return self.native.manifest_digest

    @property
    def config_digest(self) -> str:
        return self.native.config_digest

    @property
    def image_id(self) -> str:
        return self.native.image_id

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return self.native.diff_ids

    @property
    def layer_digests(self) -> tuple[str, ...]:
        return self.native.layer_digests

    def reference(self, registry_address: str, tag: str | None = None) -> str:
        """``HOST:PORT/NAME:TAG`` of this image on a registry."""
        return f"{registry_address}/{self.name}:{tag or self.tag}"


def _read_blob(layout: Path, digest: str) -> bytes:
    algo, hexd = digest.split(":", 1)
    return (layout / "blobs" / algo / hexd).read_bytes()


def _platform_of(config: dict[str, Any]) -> str:
    parts = [config["os"], config["architecture"]]
    if config.get("variant"):
        parts.append(config["variant"])
    return "/".join(parts)


def _describe_manifest(layout: Path, digest: str, media_type: str) -> PlatformImage:
    manifest = json.loads(_read_blob(layout, digest))
    config_digest = manifest["config"]["digest"]
    config = json.loads(_read_blob(layout, config_digest))
    layers = manifest["layers"]
    return PlatformImage(
        platform=_platform_of(config),
        manifest_digest=digest,
        manifest_media_type=media_type,
        manifest=manifest,
        config_digest=config_digest,
        config=config,
        diff_ids=tuple(config["rootfs"]["diff_ids"]),
        layer_digests=tuple(layer["digest"] for layer in layers),
        layer_media_types=tuple(layer["mediaType"] for layer in layers),
        layer_sizes=tuple(layer["size"] for layer in layers),
    )


def describe_layout(layout: Path, name: str, tags: Sequence[str], **kwargs: Any) -> TestImage:
    """Read an OCI layout back and describe the image its first tag points to."""
    index = json.loads((layout / "index.json").read_text())
    by_tag = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}
    top = by_tag[tags[0]]
    platforms: dict[str, PlatformImage] = {}
    if top["mediaType"] in INDEX_TYPES:
        for m in json.loads(_read_blob(layout, top["digest"]))["manifests"]:
            p = _describe_manifest(layout, m["digest"], m["mediaType"])
            platforms[p.platform] = p
    else:
        p = _describe_manifest(layout, top["digest"], top["mediaType"])
        platforms[p.platform] = p
    return TestImage(name=name, tags=tuple(tags), layout=layout, digest=top["digest"],
                     media_type=top["mediaType"], platforms=platforms,
                     tag_digests={t: by_tag[t]["digest"] for t in tags}, **kwargs)


# --------------------------------------------------------------------------- layout writing


@dataclass(frozen=True)
class Layer:
    """One layer to write: its uncompressed tar and how to compress it."""

    tar: bytes
    compression: str = "gzip"  # gzip | zstd | none
    created_by: str = "/bin/sh -c #(nop) ADD file:{diff_id} in / "  # {diff_id} -> this layer's diff_id hex
    level: int | None = None


class LayoutWriter:
    """Writes an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        self._tags: list[dict[str, Any]] = []

    def blob(self, data: bytes, media_type: str) -> dict[str, Any]:
        """Store ``data`` and return its descriptor."""
        digest = sha256_digest(data)
        path = self.root / "blobs" / "sha256" / digest.split(":", 1)[1]
        if not path.exists():
            path.write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def image(
        self,
        layers: Sequence[Layer],
        *,
        cmd: Sequence[str] | None = ("/bin/sh",),
        env: Sequence[str] = (DEFAULT_PATH,),
        architecture: str = "amd64",
        variant: str | None = None,
        docker: bool = False,
        config_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write layers, config and manifest of one image; return the manifest descriptor."""
        layer_descs, diff_ids, history = [], [], []
        for layer in layers:
            media_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER[layer.compression]
            if docker and layer.compression != "gzip":
                raise ValueError("Docker schema2 layers are gzip here")
            layer_descs.append(self.blob(compress(layer.tar, layer.compression, layer.level), media_type))
            diff_ids.append(sha256_digest(layer.tar))
            created_by = layer.created_by.replace("{diff_id}", diff_ids[-1].split(":", 1)[1])
            history.append({"created": CREATED, "created_by": created_by})
        container_config: dict[str, Any] = {"Env": list(env)}
        if cmd is not None:
            container_config["Cmd"] = list(cmd)
            history.append({"created": CREATED, "created_by": f"/bin/sh -c #(nop)  CMD {json.dumps(list(cmd))}",
                            "empty_layer": True})
        config: dict[str, Any] = {
            "architecture": architecture,
            "os": "linux",
            "created": CREATED,
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
        if variant:
            config["variant"] = variant
        if config_extra:
            config.update(config_extra)
        config_desc = self.blob(canonical_json(config), DOCKER_CONFIG if docker else OCI_CONFIG)
        manifest_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        manifest = {"schemaVersion": 2, "mediaType": manifest_type, "config": config_desc, "layers": layer_descs}
        desc = self.blob(canonical_json(manifest), manifest_type)
        desc["platform"] = {"architecture": architecture, "os": "linux"}
        if variant:
            desc["platform"]["variant"] = variant
        return desc

    def index(self, manifests: Sequence[dict[str, Any]], *, docker: bool = False) -> dict[str, Any]:
        """Write an OCI index (or Docker manifest list) of ``manifests``; return its descriptor."""
        media_type = DOCKER_LIST if docker else OCI_INDEX
        body = {"schemaVersion": 2, "mediaType": media_type, "manifests": list(manifests)}
        return self.blob(canonical_json(body), media_type)

    def tag(self, desc: dict[str, Any], *tags: str) -> None:
        """Name ``desc`` in ``index.json`` under each of ``tags``."""
        for tag in tags:
            entry = {k: v for k, v in desc.items() if k != "platform"}
            entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
            self._tags.append(entry)

    def close(self) -> None:
        """Write ``index.json`` and ``oci-layout``."""
        (self.root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        (self.root / "index.json").write_bytes(
            canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self._tags})
        )


# --------------------------------------------------------------------------- image recipes


def _variant_layer(label: str, compression: str = "gzip") -> Layer:
    """A one-file layer (``/etc/rpod-variant``) that makes variant images distinct from alpine."""
    tar = build_tar([*dir_entries("etc"), Entry("etc/rpod-variant", data=f"{label}\n".encode())])
    return Layer(tar, compression, created_by=f"/bin/sh -c echo {label} > /etc/rpod-variant")


def _layered_layers() -> tuple[list[bytes], RootfsExpectation]:
    """Three layers on top of alpine exercising every tar/overlay feature, and the merged result."""
    long_dir = "opt/long/" + "d" * 70
    long_file = f"{long_dir}/{'f' * 60}.txt"
    l2 = build_tar([
        *dir_entries("etc", "etc/rpod-layered"),
        Entry("etc/rpod-layered/abs-link", "symlink", linkname="/etc/rpod-layered/keep.txt"),
        Entry("etc/rpod-layered/keep.txt", data=b"keep\n"),
        Entry("etc/rpod-layered/modified.txt", data=b"v1\n"),
        Entry("etc/rpod-layered/remove-me.txt", data=b"remove me\n"),
        *dir_entries("home"),
        Entry("home/user", "dir", mode=0o750, uid=1000, gid=1000),
        Entry("home/user/.profile", data=b"export PS1='$ '\n", uid=1000, gid=1000),
        *dir_entries("opt", "opt/app"),
        Entry("opt/app/a", data=b"a\n"),
        Entry("opt/app/b", data=b"b\n"),
        *dir_entries("opt/app/subdir"),
        Entry("opt/app/subdir/c", data=b"c\n"),
        Entry("opt/app-link", "symlink", linkname="app"),
        *dir_entries("opt/dir-to-file"),
        Entry("opt/dir-to-file/x", data=b"x\n"),
        *dir_entries("opt/hl"),
        Entry("opt/hl/linked", data=b"hardlinked content\n", mode=0o640),
        Entry("opt/hl/original", "hardlink", linkname="opt/hl/linked", mode=0o640),
        Entry("opt/kind-change", data=b"i was a file\n"),
        *dir_entries("opt/long", long_dir),
        Entry(long_file, data=b"long path\n"),
        Entry("opt/long-link", "symlink", linkname="/" + long_file),
        *dir_entries("opt/trash"),
        Entry("opt/trash/x", data=b"trash\n"),
        *dir_entries("srv"),
        Entry("srv/setgid", "dir", mode=0o2775),
        Entry("srv/sticky", "dir", mode=0o1777),
        *dir_entries("usr", "usr/local", "usr/local/bin"),
        Entry("usr/local/bin/busybox-link", "symlink", linkname="../../../bin/busybox"),
        Entry("usr/local/bin/setuid-tool", data=b"#!/bin/sh\necho setuid\n", mode=0o4755),
        *dir_entries("var", "var/nobody"),
        Entry("var/nobody/data", data=b"nobody's\n", mode=0o600, uid=65534, gid=65534),
        *dir_entries("var/rpod"),
        Entry("var/rpod/fifo", "fifo", mode=0o620),
    ])
    l3 = build_tar([
        *dir_entries("etc"),
        Entry("etc/.wh.motd"),
        *dir_entries("etc/rpod-layered"),
        Entry("etc/rpod-layered/.wh.remove-me.txt"),
        Entry("etc/rpod-layered/modified.txt", data=b"v2\n"),
        *dir_entries("opt"),
        Entry("opt/.wh.trash"),
    ])
    l4 = build_tar([
        *dir_entries("opt", "opt/app"),
        Entry("opt/app/.wh..wh..opq"),
        Entry("opt/app/new.txt", data=b"new\n"),
        Entry("opt/dir-to-file", data=b"now a file\n"),
        *dir_entries("opt/kind-change"),
        Entry("opt/kind-change/inner", data=b"inner\n"),
    ])
    f, d, s = "file", "dir", "symlink"
    present = {
        "bin/busybox": ExpectedEntry(f, 0o755),
        "bin/sh": ExpectedEntry(s, target="/bin/busybox"),
        "etc/rpod-layered": ExpectedEntry(d, 0o755),
        "etc/rpod-layered/keep.txt": ExpectedEntry(f, 0o644, content=b"keep\n"),
        "etc/rpod-layered/modified.txt": ExpectedEntry(f, 0o644, content=b"v2\n"),
        "etc/rpod-layered/abs-link": ExpectedEntry(s, target="/etc/rpod-layered/keep.txt"),
        "home/user": ExpectedEntry(d, 0o750, 1000, 1000),
        "home/user/.profile": ExpectedEntry(f, 0o644, 1000, 1000, content=b"export PS1='$ '\n"),
        "opt/app": ExpectedEntry(d, 0o755),
        "opt/app/new.txt": ExpectedEntry(f, 0o644, content=b"new\n"),
        "opt/app-link": ExpectedEntry(s, target="app"),
        "opt/dir-to-file": ExpectedEntry(f, 0o644, content=b"now a file\n"),
        "opt/hl/linked": ExpectedEntry(f, 0o640, content=b"hardlinked content\n"),
        "opt/hl/original": ExpectedEntry(f, 0o640, content=b"hardlinked content\n"),
        "opt/kind-change": ExpectedEntry(d, 0o755),
        "opt/kind-change/inner": ExpectedEntry(f, 0o644, content=b"inner\n"),
        long_file: ExpectedEntry(f, 0o644, content=b"long path\n"),
        "opt/long-link": ExpectedEntry(s, target="/" + long_file),
        "srv/setgid": ExpectedEntry(d, 0o2775),
        "srv/sticky": ExpectedEntry(d, 0o1777),
        "usr/local/bin/busybox-link": ExpectedEntry(s, target="../../../bin/busybox"),
        "usr/local/bin/setuid-tool": ExpectedEntry(f, 0o4755, content=b"#!/bin/sh\necho setuid\n"),
        "var/nobody/data": ExpectedEntry(f, 0o600, 65534, 65534, content=b"nobody's\n"),
        "var/rpod/fifo": ExpectedEntry("fifo", 0o620),
    }
    absent = (
        "etc/motd", "etc/rpod-layered/remove-me.txt", "etc/rpod-layered/.wh.remove-me.txt",
        "opt/trash", "opt/.wh.trash", "opt/app/a", "opt/app/b", "opt/app/subdir",
        "opt/app/.wh..wh..opq", "opt/dir-to-file/x", "etc/.wh.motd",
    )
    expectation = RootfsExpectation(present, absent, hardlinks=(("opt/hl/linked", "opt/hl/original"),))
    return [l2, l3, l4], expectation


def _hostile_layers() -> dict[str, tuple[str, bytes]]:
    """``{name: (what it tests, uncompressed layer tar)}`` for the unpack-safety images."""
    return {
        "hostile/dotdot": (
            "entries whose names climb out of the rootfs with '..' (../rpod-hostile-dotdot and "
            "a/../../rpod-hostile-dotdot2); unpack must reject them or keep them inside DEST",
            build_tar(sort=False, entries=[
                Entry("ok.txt", data=b"ok\n"),
                Entry("../rpod-hostile-dotdot", data=b"escaped\n"),
                *dir_entries("a"),
                Entry("a/../../rpod-hostile-dotdot2", data=b"escaped\n"),
            ]),
        ),
        "hostile/abs-symlink-escape": (
            "symlink evil -> / then a file evil/tmp/rpod-hostile-abs-escape written through it; "
            "the host's /tmp/rpod-hostile-abs-escape must never be created",
            build_tar(sort=False, entries=[
                Entry("evil", "symlink", linkname="/"),
                Entry("evil/tmp/rpod-hostile-abs-escape", data=b"escaped\n"),
            ]),
        ),
        "hostile/hardlink-escape": (
            "hard links to /etc/passwd (absolute) and ../../../../../../../../etc/passwd (relative); "
            "unpack must not link to any host file outside DEST",
            build_tar(sort=False, entries=[
                Entry("passwd-abs", "hardlink", linkname="/etc/passwd"),
                Entry("passwd-rel", "hardlink", linkname="../../../../../../../../etc/passwd"),
            ]),
        ),
        "hostile/symlink-then-write-through": (
            "symlink link -> ../../../../../../../../tmp, then file link/rpod-hostile-write-through; "
            "the host's /tmp/rpod-hostile-write-through must never be created",
            build_tar(sort=False, entries=[
                Entry("link", "symlink", linkname="../../../../../../../../tmp"),
                Entry("link/rpod-hostile-write-through", data=b"escaped\n"),
            ]),
        ),
        "hostile/device-node": (
            "a char device dev/rpod-null (1:3) and a block device dev/rpod-sda (8:0), then ok.txt; "
            "rootless unpack cannot mknod: it must skip (and report) or refuse, never crash half-way",
            build_tar(sort=False, entries=[
                *dir_entries("dev"),
                Entry("dev/rpod-null", "char", mode=0o666, devmajor=1, devminor=3),
                Entry("dev/rpod-sda", "block", mode=0o660, devmajor=8, devminor=0),
                Entry("ok.txt", data=b"ok\n"),
            ]),
        ),
        "hostile/absurd-size": (
            "a file header claiming 1 GiB followed by 512 bytes and end of stream (truncated tar); "
            "unpack must fail cleanly, not hang or leave a layer",
            truncated_tar("big.bin", 1 << 30, b"x" * 512),
        ),
    }


def _large_layers() -> list[bytes]:
    """~30k files, ~150 MB uncompressed, in 4 layers; seeded, half random (so gzip has work)."""
    rng = random.Random(20240906)
    layers = []
    for n in range(4):
        entries = [*dir_entries("data", f"data/l{n}")]
        for d in range(75):
            entries.append(Entry(f"data/l{n}/d{d:03}", "dir"))
            for i in range(100):
                size = rng.randint(256, 6000)
                half = size // 2
                pattern = f"layer {n} dir {d} file {i}\n".encode()
                data = rng.randbytes(half) + (pattern * (size // len(pattern) + 1))[: size - half]
                entries.append(Entry(f"data/l{n}/d{d:03}/f{i:03}.bin", data=data))
        entries.append(Entry(f"data/l{n}/big", "dir"))
        for b in range(5):
            size = 3 * 1024 * 1024
            data = rng.randbytes(size // 2) + bytes(size - size // 2)
            entries.append(Entry(f"data/l{n}/big/blob{b}.bin", data=data))
        layers.append(build_tar(entries))
    return layers


def _build_large(dest: Path, alpine_tar: bytes) -> None:
    writer = LayoutWriter(dest)
    layers = [Layer(alpine_tar)]
    layers += [Layer(t, level=1, created_by=f"/bin/sh -c generate layer {i}") for i, t in enumerate(_large_layers())]
    writer.tag(writer.image(layers), "latest")
    writer.close()


def cached_large_layout(cache_root: Path, alpine_tar: bytes) -> Path:
    """The ``large:latest`` layout, built once per machine under ``cache_root`` (flock-guarded)."""
    cache_root.mkdir(parents=True, exist_ok=True)
    final = cache_root / LARGE_IMAGE_VERSION
    with open(cache_root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "index.json").exists():
            tmp = cache_root / f".{LARGE_IMAGE_VERSION}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            _build_large(tmp, alpine_tar)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
    return final


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/rpod-test-images`` or ``~/.cache/rpod-test-images``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rpod-test-images"


def build_images(workdir: Path, cache_root: Path | None = None) -> dict[str, TestImage]:
    """Build every test image as an OCI layout under ``workdir``; ``{name: TestImage}``."""
    for src in (ALPINE_X86_64, ALPINE_AARCH64, BUSYBOX_AMD64):
        if not src.is_file():
            raise FileNotFoundError(f"test rootfs tarball {src} is missing (see /work/shared/images/README.md)")
    alpine_tar = retar_tarball(ALPINE_X86_64)
    alpine_layer = Layer(alpine_tar)
    images: dict[str, TestImage] = {}

    def new(name: str) -> LayoutWriter:
        return LayoutWriter(workdir / name.replace("/", "_"))

    def done(writer: LayoutWriter, name: str, tags: Sequence[str], **kwargs: Any) -> None:
        writer.close()
        images[name] = describe_layout(writer.root, name, tags, **kwargs)

    w = new("alpine")
    w.tag(w.image([alpine_layer]), "3.20", "latest", "3.20.3")
    done(w, "alpine", ("3.20", "latest", "3.20.3"), purpose="official alpine:3.20.3 (FROM scratch, ADD, CMD)")

    w = new("multiarch")
    arm_tar = retar_tarball(ALPINE_AARCH64)
    amd = w.image([alpine_layer])
    arm = w.image([Layer(arm_tar, created_by=alpine_layer.created_by)], architecture="arm64", variant="v8")
    w.tag(w.index([amd, arm]), "latest")
    done(w, "multiarch", ("latest",), purpose="OCI index: linux/amd64 + linux/arm64/v8 alpine")

    w = new("busybox")
    w.tag(w.image([Layer(retar_tarball(BUSYBOX_AMD64))],
                  cmd=("sh",)), "latest")
    done(w, "busybox", ("latest",), purpose="official busybox (glibc): 400+ hard links to one binary")

    w = new("layered")
    tars, expectation = _layered_layers()
    extra = [Layer(t, created_by=f"/bin/sh -c layered step {i}") for i, t in enumerate(tars, start=2)]
    w.tag(w.image([alpine_layer, *extra]), "latest")
    done(w, "layered", ("latest",), purpose="whiteouts, opaque dir, links, setuid, owners, fifo, long names",
         rootfs=expectation)

    w = new("zstd")
    w.tag(w.image([Layer(alpine_tar, "zstd", alpine_layer.created_by), _variant_layer("zstd", "zstd")]), "latest")
    done(w, "zstd", ("latest",), purpose="alpine + 1 layer, zstd-compressed (application/vnd.oci.image.layer.v1.tar+zstd)")

    w = new("plain")
    w.tag(w.image([Layer(alpine_tar, "none", alpine_layer.created_by), _variant_layer("plain", "none")]), "latest")
    done(w, "plain", ("latest",), purpose="alpine + 1 layer, uncompressed (application/vnd.oci.image.layer.v1.tar)")

    w = new("docker-v2s2")
    single = w.image([alpine_layer, _variant_layer("docker-v2s2")], docker=True)
    w.tag(w.index([single], docker=True), "latest")
    w.tag(single, "single")
    done(w, "docker-v2s2", ("latest", "single"),
         purpose="Docker schema2: 'latest' is a manifest list, 'single' the amd64 manifest itself")

    for name, (purpose, tar) in _hostile_layers().items():
        w = new(name)
        w.tag(w.image([Layer(tar, created_by=f"/bin/sh -c #(nop) ADD {name} / ")], cmd=None), "latest")
        done(w, name, ("latest",), purpose=purpose)

    large = cached_large_layout(cache_root or default_cache_root(), alpine_tar)
    images["large"] = describe_layout(large, "large", ("latest",), purpose="~30k files, ~150 MB in 5 layers")
    return images



def export_dir(image: TestImage, tag: str, dest: Path) -> Path:
    """Write the image ``tag`` points to in skopeo's ``dir:`` format (which, unlike ``oci:``,
    accepts Docker schema2 manifests and manifest lists); returns ``dest``."""
    index = json.loads((image.layout / "index.json").read_text())
    top = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "version").write_text("Directory Transport Version: 1.1\n")
    (dest / "manifest.json").write_bytes(_read_blob(image.layout, top["digest"]))
    manifests = [top["digest"]]
    if top["mediaType"] in INDEX_TYPES:
        children = [m["digest"] for m in json.loads(_read_blob(image.layout, top["digest"]))["manifests"]]
        for child in children:
            (dest / f"{child.split(':', 1)[1]}.manifest.json").write_bytes(_read_blob(image.layout, child))
        manifests = children
    for digest in manifests:
        manifest = json.loads(_read_blob(image.layout, digest))
        for desc in [manifest["config"], *manifest["layers"]]:
            target = dest / desc["digest"].split(":", 1)[1]
            if not target.exists():
                os.link(image.layout / "blobs" / "sha256" / target.name, target)
    return dest


def _is_docker(image: TestImage) -> bool:
    types = [image.media_type, *(p.manifest_media_type for p in image.platforms.values())]
    return any(t.startswith("application/vnd.docker.") for t in types)


def push_image(image: TestImage, registry: Registry, workdir: Path, *, name: str | None = None) -> None:
    """Copy every tag of ``image`` (all platforms, digests preserved) to ``registry`` with skopeo.

    OCI images go from their ``oci:`` layout, Docker schema2 ones through a ``dir:`` export.
    ``name`` overrides the repository name on the registry.
    """
    from tests.support.registry import skopeo

    for tag in image.tags:
        if _is_docker(image):
            src = f"dir:{export_dir(image, tag, workdir / 'dir-exports' / image.name / tag)}"
        else:
            src = f"oci:{image.layout}:{tag}"
        skopeo(["copy", "--quiet", "--all", "--preserve-digests", *registry.skopeo_args("dest"),
                src, f"docker://{registry.address}/{name or image.name}:{tag}"], workdir)


class ImageSet(dict[str, TestImage]):
    """``{name: TestImage}`` plus where they are pushed: ``registry`` (the default one) and any
    other registry ``push_to`` was asked for."""

    def __init__(self, images: dict[str, TestImage], registry: Registry, workdir: Path) -> None:
        super().__init__(images)
        self.registry = registry
        self.workdir = workdir
        self._pushed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def ref(self, name: str, tag: str | None = None, registry: Registry | None = None) -> str:
        """``HOST:PORT/NAME:TAG`` of image ``name`` on ``registry`` (default: the HTTP one)."""
        return self[name].reference((registry or self.registry).address, tag)

    def push_to(self, registry: Registry, *names: str) -> None:
        """Push images ``names`` (default: all) to ``registry`` unless already there (in parallel)."""
        todo = []
        with self._lock:
            for name in names or tuple(self):
                key = (registry.address, name)
                if key not in self._pushed:
                    self._pushed.add(key)
                    todo.append(name)
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(lambda n: push_image(self[n], registry, self.workdir), todo))
        except BaseException:
            with self._lock:
                self._pushed.difference_update((registry.address, n) for n in todo)
            raise
