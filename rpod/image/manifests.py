"""Manifest lists (``rpod manifest ...``): multi-platform indexes built locally, then pushed.

A list lives in ``manifest-lists.json`` in the store (under the store lock, replaced
atomically): its names, a random ID (as Podman gives one), the index document as
``manifest inspect`` prints it (a Docker manifest list, as Podman 4.3.1 creates), and for
each entry where its manifest comes from — a local image (``containers-storage:``) or a
registry (``docker://``, the default, as Podman).  ``push`` copies every entry's blobs and
manifest (by digest) into the destination repository, then the list under its tag.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from rpod.errors import NoSuchImage, RpodError, UsageError
from rpod.image import mediatypes as mt
from rpod.paths import Paths
from rpod.storefile import atomic_write_json, locked, read_json


@dataclass
class ManifestList:
    id: str
    names: list[str]
    index: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)  # digest -> "local:<image id>" | "docker://ref@digest"
    created: str = ""  # RFC 3339 (lists made before this field: none)

    def index_bytes(self, fmt: str | None = None) -> tuple[bytes, str]:
        """The list as pushed: compact JSON, a Docker list (or an OCI index with ``--format oci``)."""
        doc = dict(self.index)
        doc["manifests"] = doc.get("manifests") or []
        if fmt == "oci":
            doc["mediaType"] = mt.OCI_INDEX
        return json.dumps(doc, separators=(",", ":")).encode(), doc["mediaType"]


def _db(paths: Paths) -> Any:
    return paths.root / "manifest-lists.json"


def _load(paths: Paths) -> list[ManifestList]:
    return [ManifestList(**d) for d in (read_json(_db(paths), {}) or {}).get("lists", [])]


def _save(paths: Paths, lists: list[ManifestList]) -> None:
    atomic_write_json(_db(paths), {"lists": [vars(x) for x in lists]})


def normalize(name: str) -> str:
    from rpod.image.manage import normalize_tag

    return normalize_tag(name)


def find(paths: Paths, name: str) -> ManifestList | None:
    """The local list called ``name`` (or with that ID), or None."""
    full = normalize(name) if not all(c in "0123456789abcdef" for c in name) or len(name) < 12 else name
    for m in _load(paths):
        if full in m.names or m.id.startswith(name):
            return m
    return None


def as_records(paths: Paths) -> list[Any]:
    """The local lists as image records for ``images`` (Podman 4.3.1 lists them as images: the
    list's ID, names, digest, creation time; its size the list document's)."""
    import hashlib

    from rpod.image.store import ImageRecord

    out = []
    for m in _load(paths):
        data, _ = m.index_bytes()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        out.append(ImageRecord(m.id, list(m.names), digest, [f"{n.rpartition(':')[0] or n}@{digest}" for n in m.names],
                               created=m.created, size=len(data)))
    return out


def get(paths: Paths, name: str) -> ManifestList:
    m = find(paths, name)
    if m is None:
        raise NoSuchImage(f"{name}: image is not a manifest list")
    return m


def _update(paths: Paths, name: str, change: Any) -> ManifestList:
    with locked(paths.store_lock):
        lists = _load(paths)
        m = next((x for x in lists if x.id == get(paths, name).id), None)
        assert m is not None
        change(m)
        _save(paths, lists)
        return m


def create(paths: Paths, name: str, amend: bool = False) -> ManifestList:
    full = normalize(name)
    paths.ensure()
    with locked(paths.store_lock):
        lists = _load(paths)
        existing = next((x for x in lists if full in x.names), None)
        if existing is not None:
            if amend:
                return existing
            raise RpodError(f'creating manifest list "{name}": image name "{full}" is already associated with '
                            f'image "{existing.id}"')
        import datetime

        now = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
        m = ManifestList(secrets.token_hex(32), [full], {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST,
                                                          "manifests": None}, created=now)
        lists.append(m)
        _save(paths, lists)
        return m


def remove_lists(paths: Paths, names: list[str]) -> list[ManifestList]:
    gone = [get(paths, n) for n in names]
    with locked(paths.store_lock):
        ids = {m.id for m in gone}
        _save(paths, [x for x in _load(paths) if x.id not in ids])
    return gone


@dataclass
class AddOptions:
    all: bool = False
    arch: str = ""
    os: str = ""
    variant: str = ""
    os_version: str = ""
    features: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    tls_verify: bool | None = None
    creds: str | None = None
    authfile: str | None = None


def _entries_local(paths: Paths, ref: str) -> list[tuple[dict[str, Any], str]]:
    from rpod.image.source import open_image, resolve_local

    rec = resolve_local(paths, ref)
    src = open_image(paths, rec)
    src.cleanup()
    platform = {"architecture": rec.architecture or "amd64", "os": rec.os or "linux"}
    variant = src.config_doc().get("variant")
    if variant:
        platform["variant"] = variant
    return [({"mediaType": src.manifest_type, "size": len(src.manifest), "digest": src.manifest_digest,
              "platform": platform}, f"local:{rec.id}")]


def _entries_remote(ref_text: str, opts: AddOptions) -> list[tuple[dict[str, Any], str]]:
    from rpod.image.push import PushOptions, client_for
    from rpod.image.reference import parse_qualified

    ref = parse_qualified(ref_text)
    client = client_for(ref.registry, ref.repository, PushOptions(tls_verify=opts.tls_verify, creds=opts.creds,
                                                                 authfile=opts.authfile))
    top = client.get_manifest(ref.repository, ref.manifest_ref, accept=mt.ALL_MANIFEST_TYPES)
    base = f"docker://{ref.registry}/{ref.repository}"
    if mt.is_index(top.media_type):
        doc = json.loads(top.content)
        if opts.all:
            return [(dict(d), f"{base}@{d['digest']}") for d in doc.get("manifests") or []]
        from rpod.hostfacts import host_arch

        d = mt.select_platform(doc, os=opts.os or "linux", arch=opts.arch or host_arch(), variant=opts.variant or None)
        return [(dict(d), f"{base}@{d['digest']}")]
    doc = json.loads(top.content)
    config = json.loads(client.fetch_blob(ref.repository, doc["config"]["digest"]))
    platform = {"architecture": config.get("architecture", ""), "os": config.get("os", "")}
    if config.get("variant"):
        platform["variant"] = config["variant"]
    return [({"mediaType": mt.base_type(top.media_type), "size": len(top.content), "digest": top.digest,
              "platform": platform}, f"{base}@{top.digest}")]


def add(paths: Paths, name: str, image: str, opts: AddOptions) -> ManifestList:
    """Add ``image`` (``containers-storage:``/``docker://``, default docker) to the list."""
    get(paths, name)
    if image.startswith("containers-storage:"):
        entries = _entries_local(paths, image.partition(":")[2])
    else:
        entries = _entries_remote(image.removeprefix("docker://"), opts)

    def change(m: ManifestList) -> None:
        manifests = [d for d in m.index.get("manifests") or [] if d["digest"] not in {e["digest"] for e, _ in entries}]
        for entry, source in entries:
            _apply(entry, opts)
            manifests.append(entry)
            m.sources[entry["digest"]] = source
        m.index["manifests"] = manifests

    return _update(paths, name, change)


def _apply(entry: dict[str, Any], opts: AddOptions) -> None:
    """--arch/--os/--variant/--os-version/--features/--annotation on one entry."""
    platform = entry.setdefault("platform", {})
    for key, value in (("architecture", opts.arch), ("os", opts.os), ("os.version", opts.os_version),
                       ("variant", opts.variant)):
        if value:
            platform[key] = value
    if opts.features:
        platform["features"] = list(opts.features)
    for a in opts.annotations:
        k, sep, v = a.partition("=")
        if not sep:
            raise UsageError(f"no value given for annotation {k!r}")
        entry.setdefault("annotations", {})[k] = v


def annotate(paths: Paths, name: str, digest: str, opts: AddOptions) -> ManifestList:
    def change(m: ManifestList) -> None:
        for d in m.index.get("manifests") or []:
            if d["digest"] == digest:
                _apply(d, opts)
                return
        raise NoSuchImage(f"{digest}: no such instance in manifest list {name}")

    return _update(paths, name, change)


def remove_instance(paths: Paths, name: str, digest: str) -> ManifestList:
    def change(m: ManifestList) -> None:
        left = [d for d in m.index.get("manifests") or [] if d["digest"] != digest]
        if len(left) == len(m.index.get("manifests") or []):
            raise NoSuchImage(f"removing from manifest list {name}: {digest}: no such instance")
        m.index["manifests"] = left or None
        m.sources.pop(digest, None)

    return _update(paths, name, change)
