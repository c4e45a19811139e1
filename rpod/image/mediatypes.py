"""OCI and Docker media types, and choosing a platform's manifest from an index.

Platform choice follows containers/image (Podman): the wanted platform defaults to the
host's (``x86_64`` → ``amd64``, ``aarch64`` → ``arm64``, ``armv7l`` → ``arm``/``v7``); variants
are tried from the wanted one down its compatibility chain (``arm``: v8, v7, v6, v5;
``arm64``: v8; ``amd64``: v4, v3, v2, v1 as far as the CPU supports), then an entry without
variant.  On ``arm64`` a missing variant means ``v8``; ``amd64`` entries without variant are
the ``v1`` baseline.
"""

from __future__ import annotations

import json
import platform as _platform
from functools import lru_cache
from typing import Any

from rpod.errors import PlatformNotFound, UsageError

# OCI image-spec
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

# Docker image manifest v2 schema 2
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
# schema 1 (deprecated, signed) — recognised only to say it is unsupported
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
_GZIP_LAYERS = frozenset(
    {OCI_LAYER_GZIP, OCI_LAYER_NONDIST_GZIP, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER_GZIP}
)
_ZSTD_LAYERS = frozenset({OCI_LAYER_ZSTD, OCI_LAYER_NONDIST_ZSTD, DOCKER_LAYER_ZSTD})
_PLAIN_LAYERS = frozenset({OCI_LAYER, OCI_LAYER_NONDIST, DOCKER_LAYER, DOCKER_FOREIGN_LAYER})
LAYER_TYPES = _GZIP_LAYERS | _ZSTD_LAYERS | _PLAIN_LAYERS
FOREIGN_LAYER_TYPES = frozenset(
    {
        DOCKER_FOREIGN_LAYER,
        DOCKER_FOREIGN_LAYER_GZIP,
        OCI_LAYER_NONDIST,
        OCI_LAYER_NONDIST_GZIP,
        OCI_LAYER_NONDIST_ZSTD,
    }
)

#: What to send in ``Accept`` when fetching a manifest, preferred first.
MANIFEST_ACCEPT = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ALL_MANIFEST_TYPES = MANIFEST_ACCEPT


def base_type(media_type: str | None) -> str:
    """``media_type`` without parameters (``; charset=utf-8``) and surrounding blanks, lower-cased."""
    return (media_type or "").split(";", 1)[0].strip().lower()


def is_index(media_type: str | None) -> bool:
    """An OCI image index or Docker manifest list."""
    return base_type(media_type) in INDEX_TYPES


def is_manifest(media_type: str | None) -> bool:
    """A single-platform OCI or Docker schema 2 image manifest."""
    return base_type(media_type) in MANIFEST_TYPES


def is_layer(media_type: str | None) -> bool:
    return base_type(media_type) in LAYER_TYPES


def is_foreign_layer(media_type: str | None) -> bool:
    """Docker foreign / OCI non-distributable layers (usually fetched from ``urls``)."""
    return base_type(media_type) in FOREIGN_LAYER_TYPES


def layer_compression(media_type: str | None) -> str | None:
    """``"gzip"``, ``"zstd"`` or ``None`` (uncompressed tar); raise UsageError for non-layer types."""
    mt = base_type(media_type)
    if mt in _GZIP_LAYERS:
        return "gzip"
    if mt in _ZSTD_LAYERS:
        return "zstd"
    if mt in _PLAIN_LAYERS:
        return None
    from rpod.errors import UnsupportedMediaType

    raise UnsupportedMediaType(f"unsupported layer media type {media_type!r}")


def sniff_manifest_type(content: bytes | dict[str, Any], header_type: str | None = None) -> str:
    """The manifest's media type: its ``mediaType`` field, else the HTTP one, else guessed from its shape."""
    header = base_type(header_type)
    if header in INDEX_TYPES | MANIFEST_TYPES:
        return header
    try:
        doc = json.loads(content) if isinstance(content, bytes | bytearray | str) else content
    except ValueError:
        return header
    if not isinstance(doc, dict):
        return header
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return base_type(mt)
    if doc.get("schemaVersion") == 1:
        return DOCKER_MANIFEST_V1_SIGNED if "signatures" in doc else DOCKER_MANIFEST_V1
    if "manifests" in doc:
        return OCI_INDEX
    if "layers" in doc and "config" in doc:
        return OCI_MANIFEST
    return header


# --------------------------------------------------------------------------- platforms
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8l": "arm",
    "armv7l": "arm",
    "armv7": "arm",
    "armhf": "arm",
    "armv6l": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
    "x86": "386",
    "ppc64el": "ppc64le",
}
_MACHINE_VARIANT = {
    "armv8l": "v8",
    "armv7l": "v7",
    "armv7": "v7",
    "armhf": "v7",
    "armv6l": "v6",
    "armel": "v6",
}
COMPATIBILITY = {
    "arm": ["v8", "v7", "v6", "v5"],
    "arm64": ["v8"],
    "amd64": ["v4", "v3", "v2", "v1"],
}
_AMD64_LEVELS = {  # x86-64 micro-architecture levels by /proc/cpuinfo flags
    "v2": {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"},
    "v3": {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
    "v4": {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}


def normalize_arch(arch: str) -> str:
    """Go/OCI architecture name for ``arch`` (``x86_64`` → ``amd64``, ``aarch64`` → ``arm64``)."""
    a = arch.strip().lower()
    return _ARCH_ALIASES.get(a, a)


def normalize_variant(arch: str, variant: str | None) -> str:
    """``8`` → ``v8``; ``arm64`` without variant is ``v8``; ``amd64`` ``v1`` is the baseline (``""``)."""
    v = (variant or "").strip().lower()
    if v and v[0].isdigit():
        v = "v" + v
    if arch == "arm64" and v == "":
        v = "v8"
    if arch == "amd64" and v == "v1":
        v = ""
    return v


@lru_cache(maxsize=1)
def _amd64_level() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags: set[str] = set()
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        return "v1"
    level = "v1"
    for name in ("v2", "v3", "v4"):
        if _AMD64_LEVELS[name] <= flags:
            level = name
        else:
            break
    return level


def host_platform() -> tuple[str, str, str]:
    """``(os, arch, variant)`` of this machine in OCI terms."""
    machine = _platform.machine().lower()
    arch = normalize_arch(machine)
    variant = _MACHINE_VARIANT.get(machine, "")
    if arch == "arm64":
        variant = "v8"
    elif arch == "amd64":
        variant = _amd64_level()
    return "linux", arch, variant


def parse_platform(value: str) -> tuple[str, str, str | None]:
    """Parse ``--platform OS/ARCH[/VARIANT]``."""
    parts = value.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"invalid platform {value!r}: expected OS/ARCH[/VARIANT], e.g. linux/arm64")
    os_, arch = parts[0].lower(), normalize_arch(parts[1])
    return os_, arch, (parts[2] if len(parts) == 3 else None)


def _wanted_variants(arch: str, variant: str | None) -> list[str | None]:
    """Variants to try in order; ``None`` means any variant (only when none was asked for)."""
    chain = COMPATIBILITY.get(arch, [])
    asked = variant is not None
    if variant is None:
        _, host_arch, host_variant = host_platform()
        variant = host_variant if host_arch == arch else ""
    v = normalize_variant(arch, variant)
    if arch == "amd64" and not v and asked:
        v = "v1"
    out: list[str | None] = []
    if v and v in chain:
        out.extend(normalize_variant(arch, x) for x in chain[chain.index(v) :])
    elif v:
        out.append(v)
    if "" not in out:
        out.append("")
    if not asked and arch != "amd64":
        out.append(None)
    return out


def _platform_of(desc: dict[str, Any]) -> tuple[str, str, str] | None:
    p = desc.get("platform")
    if not isinstance(p, dict):
        return None
    os_, arch = str(p.get("os", "")).lower(), normalize_arch(str(p.get("architecture", "")))
    if not os_ or not arch or os_ == "unknown" or arch == "unknown":
        return None  # attestation manifests and the like
    return os_, arch, normalize_variant(arch, p.get("variant"))


def platform_string(os_: str, arch: str, variant: str | None = None) -> str:
    return f"{os_}/{arch}" + (f"/{variant}" if variant else "")


def available_platforms(index: dict[str, Any]) -> list[str]:
    """``os/arch[/variant]`` of every image entry of an index, in order."""
    out = []
    for d in index.get("manifests", []) or []:
        if isinstance(d, dict) and (p := _platform_of(d)):
            out.append(platform_string(*p))
    return out


def select_platform(
    index_json: bytes | str | dict[str, Any],
    os: str = "linux",
    arch: str | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """The descriptor in ``index_json`` for the wanted platform (host architecture by default).

    Raises :class:`PlatformNotFound` listing what the index offers.
    """
    index = json.loads(index_json) if isinstance(index_json, bytes | bytearray | str) else index_json
    os_ = os.lower()
    want_arch = normalize_arch(arch) if arch else host_platform()[1]
    manifests = [d for d in index.get("manifests", []) or [] if isinstance(d, dict)]
    for v in _wanted_variants(want_arch, variant):
        for d in manifests:
            p = _platform_of(d)
            if p is not None and p[0] == os_ and p[1] == want_arch and (v is None or p[2] == v):
                return d
    wanted = platform_string(os_, want_arch, normalize_variant(want_arch, variant) if variant else None)
    available = available_platforms(index)
    raise PlatformNotFound(
        f"no image for platform {wanted} in the manifest list; available: {', '.join(available) or 'none'}",
        hint="choose one of the available platforms with --platform OS/ARCH[/VARIANT]",
    )
