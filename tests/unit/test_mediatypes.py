"""Media type helpers and platform selection from an image index."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rpod.errors import PlatformNotFound, UnsupportedMediaType, UsageError
from rpod.image import mediatypes as mt


def test_kinds() -> None:
    assert mt.is_index(mt.OCI_INDEX) and mt.is_index(mt.DOCKER_MANIFEST_LIST)
    assert mt.is_manifest(mt.OCI_MANIFEST) and mt.is_manifest(mt.DOCKER_MANIFEST + "; charset=utf-8")
    assert not mt.is_index(mt.OCI_MANIFEST) and not mt.is_manifest(mt.OCI_INDEX)
    assert not mt.is_manifest(None)
    assert mt.is_foreign_layer(mt.DOCKER_FOREIGN_LAYER_GZIP)
    assert not mt.is_foreign_layer(mt.DOCKER_LAYER_GZIP)


@pytest.mark.parametrize(
    "media_type,compression",
    [
        (mt.OCI_LAYER_GZIP, "gzip"),
        (mt.DOCKER_LAYER_GZIP, "gzip"),
        (mt.DOCKER_FOREIGN_LAYER_GZIP, "gzip"),
        (mt.OCI_LAYER_NONDIST_GZIP, "gzip"),
        (mt.OCI_LAYER_ZSTD, "zstd"),
        (mt.OCI_LAYER, None),
        (mt.DOCKER_LAYER, None),
        (mt.DOCKER_FOREIGN_LAYER, None),
    ],
)
def test_layer_compression(media_type: str, compression: str | None) -> None:
    assert mt.layer_compression(media_type) == compression


def test_layer_compression_rejects_unknown() -> None:
    with pytest.raises(UnsupportedMediaType, match="application/x-foo"):
        mt.layer_compression("application/x-foo")


def test_sniff_manifest_type() -> None:
    assert mt.sniff_manifest_type(
        b'{"mediaType": "%s"}' % mt.DOCKER_MANIFEST.encode(), "application/json"
    ) == (mt.DOCKER_MANIFEST)
    assert mt.sniff_manifest_type(b'{"schemaVersion": 2, "manifests": []}', "text/plain") == mt.OCI_INDEX
    assert (
        mt.sniff_manifest_type(b'{"schemaVersion": 2, "config": {}, "layers": []}', None) == mt.OCI_MANIFEST
    )
    assert (
        mt.sniff_manifest_type(b'{"schemaVersion": 1, "signatures": []}', None)
        == mt.DOCKER_MANIFEST_V1_SIGNED
    )
    assert mt.sniff_manifest_type(b"{}", mt.OCI_INDEX + "; charset=utf-8") == mt.OCI_INDEX


def desc(arch: str, variant: str | None = None, os: str = "linux", digest: str = "") -> dict[str, Any]:
    platform: dict[str, str] = {"os": os, "architecture": arch}
    if variant is not None:
        platform["variant"] = variant
    return {
        "mediaType": mt.OCI_MANIFEST,
        "digest": digest or f"sha256:{arch}{variant or ''}{os}",
        "size": 1,
        "platform": platform,
    }


def index(*descs: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": list(descs)}


ATTESTATION = {
    "mediaType": mt.OCI_MANIFEST,
    "digest": "sha256:att",
    "size": 1,
    "platform": {"os": "unknown", "architecture": "unknown"},
}


def pick(idx: dict[str, Any], **kw: Any) -> str:
    return mt.select_platform(idx, **kw)["digest"]


def test_select_by_arch() -> None:
    idx = index(
        ATTESTATION, desc("arm", "v7"), desc("amd64"), desc("arm64", "v8"), desc("amd64", os="windows")
    )
    assert pick(idx, arch="amd64") == "sha256:amd64linux"
    assert pick(idx, arch="x86_64") == "sha256:amd64linux"
    assert pick(idx, arch="aarch64") == "sha256:arm64v8linux"
    assert pick(idx, arch="arm64", variant="v8") == "sha256:arm64v8linux"
    assert pick(idx, arch="amd64", os="windows") == "sha256:amd64windows"
    # also accepts the raw JSON bytes
    assert pick(json.dumps(idx).encode(), arch="arm", variant="v7") == "sha256:armv7linux"


def test_arm64_without_variant_is_v8() -> None:
    idx = index(desc("arm64"))
    assert pick(idx, arch="arm64", variant="v8") == "sha256:arm64linux"
    assert pick(idx, arch="arm64") == "sha256:arm64linux"
    assert pick(index(desc("arm64", "8")), arch="arm64", variant="v8") == "sha256:arm648linux"


def test_arm_variant_compatibility_chain() -> None:
    idx = index(desc("arm", "v6"), desc("arm", "v7"))
    assert pick(idx, arch="arm", variant="v8") == "sha256:armv7linux"  # v8 runs v7 before v6
    assert pick(idx, arch="arm", variant="v7") == "sha256:armv7linux"
    assert pick(idx, arch="arm", variant="v6") == "sha256:armv6linux"
    with pytest.raises(PlatformNotFound):
        pick(idx, arch="arm", variant="v5")  # v5 cannot run v6 images


def test_amd64_variants() -> None:
    idx = index(desc("amd64", "v3", digest="sha256:v3"), desc("amd64", digest="sha256:base"))
    assert pick(idx, arch="amd64", variant="v3") == "sha256:v3"
    assert pick(idx, arch="amd64", variant="v4") == "sha256:v3"
    assert pick(idx, arch="amd64", variant="v2") == "sha256:base"
    assert pick(idx, arch="amd64", variant="v1") == "sha256:base"
    only_v3 = index(desc("amd64", "v3"))
    with pytest.raises(PlatformNotFound):
        pick(only_v3, arch="amd64", variant="v2")


def test_not_found_lists_platforms() -> None:
    idx = index(ATTESTATION, desc("arm", "v7"), desc("s390x"))
    with pytest.raises(PlatformNotFound) as ei:
        pick(idx, arch="amd64")
    msg = str(ei.value)
    assert "linux/amd64" in msg
    assert "available: linux/arm/v7, linux/s390x" in msg
    assert "unknown" not in msg
    assert "--platform" in (ei.value.hint or "")


def test_host_platform_default() -> None:
    os_, arch, _ = mt.host_platform()
    assert os_ == "linux"
    idx = index(desc(arch, mt.host_platform()[2] or None), desc("mips64le"))
    assert mt.select_platform(idx)["platform"]["architecture"] == arch


def test_parse_platform() -> None:
    assert mt.parse_platform("linux/arm64/v8") == ("linux", "arm64", "v8")
    assert mt.parse_platform("linux/x86_64") == ("linux", "amd64", None)
    for bad in ("linux", "linux/", "a/b/c/d"):
        with pytest.raises(UsageError):
            mt.parse_platform(bad)


def test_normalize() -> None:
    assert mt.normalize_arch("aarch64") == "arm64"
    assert mt.normalize_arch("x86_64") == "amd64"
    assert mt.normalize_arch("armv7l") == "arm"
    assert mt.normalize_variant("arm", "7") == "v7"
    assert mt.normalize_variant("arm64", None) == "v8"
    assert mt.normalize_variant("amd64", "v1") == ""
