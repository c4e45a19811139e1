"""Type checks of what a registry sends, before rpod uses any of it (OCI image-spec types).

Podman decodes manifests and configs into Go structs, so a ``"Cmd": {"sh": 1}`` or an
``"Entrypoint": "echo pwned"`` fails the pull (exit 125) instead of running something else than
the image says; rpod checks the same types here.  Digests become file names (``partial/<hex>``,
``layers/<hex>``), so they must be ``sha256:`` and 64 lowercase hex digits, nothing else.
"""

from __future__ import annotations

import re
from typing import Any

from rpod.errors import UnsupportedMediaType

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")

_STR, _BOOL, _INT = "a string", "a boolean", "an integer"
_STRS, _OBJ, _STRMAP = "an array of strings", "an object", "an object of strings"
# image config "config" section: Go type of each field (github.com/opencontainers/image-spec)
_CONFIG_FIELDS = {
    "User": _STR, "ExposedPorts": _OBJ, "Env": _STRS, "Entrypoint": _STRS, "Cmd": _STRS,
    "Volumes": _OBJ, "WorkingDir": _STR, "Labels": _STRMAP, "StopSignal": _STR, "ArgsEscaped": _BOOL,
    "Healthcheck": _OBJ, "OnBuild": _STRS, "Shell": _STRS, "StopTimeout": _INT,
}
_TOP_FIELDS = {"architecture": _STR, "os": _STR, "variant": _STR, "created": _STR, "author": _STR,
               "os.version": _STR, "os.features": _STRS, "config": _OBJ, "rootfs": _OBJ}
_HEALTH_FIELDS = {"Test": _STRS, "Interval": _INT, "Timeout": _INT, "StartPeriod": _INT, "Retries": _INT}


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(type(v), "null")


def _ok(value: Any, kind: str) -> bool:
    if value is None:
        return True  # JSON null decodes to Go's zero value, as in Podman
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _STRS:
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if kind == _STRMAP:
        return isinstance(value, dict) and all(isinstance(x, str) for x in value.values())
    return isinstance(value, dict)


def _check_fields(doc: dict[str, Any], fields: dict[str, str], where: str, what: str) -> None:
    for key, kind in fields.items():
        if key in doc and not _ok(doc[key], kind):
            raise UnsupportedMediaType(
                f"{what}: cannot unmarshal {_json_type(doc[key])} into {where}{key}: it must be {kind}",
                hint="the image's configuration is malformed or hostile; it was not stored")


def check_config(doc: dict[str, Any], what: str) -> None:
    """Refuse an image config whose fields have other types than the image spec's."""
    _check_fields(doc, _TOP_FIELDS, "", what)
    inner = doc.get("config") or {}
    _check_fields(inner, _CONFIG_FIELDS, "config.", what)
    if isinstance(inner.get("Healthcheck"), dict):
        _check_fields(inner["Healthcheck"], _HEALTH_FIELDS, "config.Healthcheck.", what)
    for key in ("ExposedPorts", "Volumes"):
        if isinstance(inner.get(key), dict) and not all(isinstance(v, dict | type(None)) for v in inner[key].values()):
            raise UnsupportedMediaType(f"{what}: config.{key} must map names to objects")
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids")
    if diff_ids is not None and not (isinstance(diff_ids, list) and all(isinstance(d, str) and DIGEST_RE.fullmatch(d)
                                                                         for d in diff_ids)):
        raise UnsupportedMediaType(f"{what}: rootfs.diff_ids must be an array of sha256 digests")
    history = doc.get("history")
    if history is not None and not (isinstance(history, list) and all(isinstance(h, dict) for h in history)):
        raise UnsupportedMediaType(f"{what}: history must be an array of objects")


def check_descriptor(desc: Any, what: str) -> dict[str, Any]:
    """A descriptor with a sha256 digest (a file name later), a string media type, a size >= 0."""
    if not isinstance(desc, dict):
        raise UnsupportedMediaType(f"{what}: a descriptor must be an object")
    digest = desc.get("digest")
    if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
        raise UnsupportedMediaType(f"{what}: invalid digest {str(digest)[:80]!r}: rpod accepts sha256 digests only")
    size = desc.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise UnsupportedMediaType(f"{what}: invalid size {str(size)[:40]!r} in the descriptor of {digest}")
    if not isinstance(desc.get("mediaType", ""), str):
        raise UnsupportedMediaType(f"{what}: the media type of {digest} is not a string")
    return desc


def check_manifest(doc: dict[str, Any], what: str) -> None:
    """An image manifest: a config descriptor and an array of layer descriptors."""
    check_descriptor(doc.get("config"), f"{what}: config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise UnsupportedMediaType(f"{what}: layers must be an array of descriptors")
    for i, d in enumerate(layers):
        check_descriptor(d, f"{what}: layer {i}")
