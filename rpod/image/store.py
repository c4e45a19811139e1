"""The per-user image store: content-addressed blobs, shared layers and image records.

Layout (see docs/architecture.md): ``blobs/sha256/<hex>`` holds manifests and
configs; ``layers/<diffid-hex>/{diff/,layer.json}`` one unpacked layer shared by
every image that has it; ``images.json`` the image records, replaced atomically
under ``store.lock``.  Readers never lock: a rename is atomic, so they see the
old or the new file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rpod.errors import DigestMismatch, NoSuchImage, StateConflict
from rpod.paths import Paths
from rpod.records import asdict, field, field_names, record
from rpod.storefile import atomic_write, atomic_write_json, locked, read_json

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DB_VERSION = 1


@record
class ImageRecord:
    """One image in the store.  ``id`` is the config digest's hex, as Podman's image ID."""

    id: str
    names: list[str] = field(default_factory=list)  # registry/repo:tag
    digest: str = ""  # digest of the manifest (or index) the image was pulled by
    repo_digests: list[str] = field(default_factory=list)  # registry/repo@sha256:...
    layers: list[str] = field(default_factory=list)  # diff_ids, lowest first
    manifest_digest: str = ""  # the platform manifest
    manifest_type: str = ""
    created: str = ""
    size: int = 0
    architecture: str = ""
    os: str = ""
    pulled_at: float = 0.0
    names_history: list[str] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageRecord:
        known = field_names(cls)
        return cls(**{k: v for k, v in d.items() if k in known})


def split_name(name: str) -> tuple[str, str]:
    """``registry/repo:tag`` → (``registry/repo``, ``tag``); digests stay in the repo part."""
    if "@" in name:
        return name.split("@", 1)[0], ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, ""


class ImageStore:
    """Image records and blobs of one store root."""

    def __init__(self, paths: Paths):
        self.paths = paths

    # records ----------------------------------------------------------
    def _load(self) -> list[ImageRecord]:
        data = read_json(self.paths.images_db, {"version": DB_VERSION, "images": []})
        return [ImageRecord.from_dict(d) for d in data.get("images", [])]

    def _save(self, records: list[ImageRecord]) -> None:
        atomic_write_json(self.paths.images_db, {"version": DB_VERSION, "images": [asdict(r) for r in records]})

    def lock(self):  # noqa: ANN201 - context manager
        """Exclusive store lock for read-modify-write of the image records."""
        return locked(self.paths.store_lock)

    def list(self) -> list[ImageRecord]:
        """Every image, newest first (as ``podman images`` lists them)."""
        return sorted(self._load(), key=lambda r: (r.created, r.pulled_at), reverse=True)

    def get(self, image_id: str) -> ImageRecord | None:
        for r in self._load():
            if r.id == image_id:
                return r
        return None

    def resolve(self, name: str, candidates: list[str] | Callable[[], list[str]] | None = None,
                unique_suffix_only: bool = False) -> ImageRecord:
        """Find an image by ID (full or unique prefix), full name, or short name.

        ``candidates`` are the fully qualified names a short name may stand for
        (from registries.conf; a function giving them is called only when the name itself is not
        found); without a match among them, any image whose
        repository path ends with the given name matches, as Podman does locally.
        With ``unique_suffix_only`` such a suffix match counts only when it is the
        only one (callers then retry with the candidates to break the tie).
        """
        records = self._load()
        key = name.removeprefix("sha256:")
        if len(key) >= 3 and all(c in "0123456789abcdef" for c in key):
            hits = [r for r in records if r.id.startswith(key)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise StateConflict(f"{name}: more than one image has this ID prefix", hint="give more characters")
        found = self._match_name(records, name, candidates or [], unique_suffix_only)
        if found:
            return found
        raise NoSuchImage(f"{name}: image not known")

    @staticmethod
    def _match_name(records: list[ImageRecord], name: str, candidates: list[str] | Callable[[], list[str]],
                    unique_suffix_only: bool = False) -> ImageRecord | None:
        if "@" in name:
            for r in records:
                if name in r.repo_digests or any(d.endswith("/" + name) for d in r.repo_digests):
                    return r
            return None
        repo, tag = split_name(name)
        tag = tag or "latest"
        exact = f"{repo}:{tag}"
        for r in records:
            if exact in r.names:
                return r
        if callable(candidates):  # read registries.conf only when the name itself is not here
            candidates = candidates()
        for w in (c if split_name(c)[1] else f"{c}:{tag}" for c in candidates):
            for r in records:
                if w in r.names:
                    return r
        # short name: any repository whose path ends with it (docker.io/library/alpine for "alpine")
        suffix = "/" + f"{repo}:{tag}"
        matches = [r for r in records if any(n.endswith(suffix) for n in r.names)]
        if unique_suffix_only and len(matches) > 1:
            return None
        return matches[0] if matches else None

    def put(self, record: ImageRecord) -> ImageRecord:
        """Add or update ``record``; its names are taken away from any other image."""
        with self.lock():
            records = self._load()
            existing = next((r for r in records if r.id == record.id), None)
            for r in records:
                if r is not existing:
                    moved = [n for n in r.names if n in record.names]
                    if moved:
                        r.names = [n for n in r.names if n not in record.names]
                        r.names_history = list(dict.fromkeys(moved + r.names_history))
            if existing:
                # the history as containers/storage keeps it: the names after the change, then the older ones
                existing.names_history = list(dict.fromkeys(existing.names + record.names + existing.names_history))
                existing.names = list(dict.fromkeys(existing.names + record.names))  # appended, as c/storage's AddNames
                existing.repo_digests = list(dict.fromkeys(record.repo_digests + existing.repo_digests))
                existing.pulled_at = record.pulled_at or existing.pulled_at
                if record.digest:
                    existing.digest = record.digest
                result = existing
            else:
                record.names_history = list(dict.fromkeys(record.names + record.names_history))
                records.append(record)
                result = record
            self._save(records)
            return result

    def add_name(self, image_id: str, name: str) -> None:
        self.put(ImageRecord(id=image_id, names=[name]))

    def remove_name(self, image_id: str, name: str | None = None) -> ImageRecord:
        """Remove one name (or all names when ``name`` is None) from an image."""
        with self.lock():
            records = self._load()
            rec = next((r for r in records if r.id == image_id), None)
            if rec is None:
                raise NoSuchImage(f"{image_id}: image not known")
            if name is None:
                rec.names = []
            elif name in rec.names:
                rec.names.remove(name)
            else:
                raise NoSuchImage(f"{name}: tag not known")
            rec.names_history = list(dict.fromkeys(rec.names + rec.names_history))
            self._save(records)
            return rec

    def delete(self, image_id: str) -> ImageRecord:
        """Drop an image record (its layers are removed by ``unused_layers`` cleanup)."""
        with self.lock():
            records = self._load()
            rec = next((r for r in records if r.id == image_id), None)
            if rec is None:
                raise NoSuchImage(f"{image_id}: image not known")
            records.remove(rec)
            self._save(records)
            return rec

    def used_layers(self) -> set[str]:
        return {d for r in self._load() for d in r.layers}

    # blobs ------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        return self.paths.blob(digest).exists()

    def read_blob(self, digest: str) -> bytes:
        try:
            return self.paths.blob(digest).read_bytes()
        except FileNotFoundError as e:
            raise NoSuchImage(f"blob {digest} is missing from the store",
                              hint="pull the image again") from e

    def write_blob(self, digest: str, data: bytes) -> Path:
        """Store ``data`` under ``digest`` after checking it really has that digest."""
        import hashlib  # lazily: loading OpenSSL costs ~2 ms that `images` and `run` never need

        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or hashlib.sha256(data).hexdigest() != hexd:
            raise DigestMismatch(f"content does not match digest {digest}")
        path = self.paths.blob(digest)
        if not path.exists():
            atomic_write(path, data, 0o644)
        return path

    def config(self, record: ImageRecord) -> dict[str, Any]:
        """The image's OCI config JSON."""
        return json.loads(self.read_blob("sha256:" + record.id))

    def manifest(self, record: ImageRecord) -> dict[str, Any]:
        return json.loads(self.read_blob(record.manifest_digest))

    # layers -----------------------------------------------------------
    def layer_present(self, diff_id: str) -> bool:
        return (self.paths.layer_dir(diff_id) / "layer.json").exists()

    def layer_info(self, diff_id: str) -> dict[str, Any]:
        return read_json(self.paths.layer_dir(diff_id) / "layer.json", {}) or {}

    def layer_dirs(self, record: ImageRecord) -> list[Path]:
        """The ``diff/`` directories of an image, lowest layer first."""
        dirs = []
        for d in record.layers:
            p = self.paths.layer_dir(d) / "diff"
            if not p.is_dir():
                raise NoSuchImage(f"layer {d} of image {record.short_id} is missing from the store",
                                  hint=f"pull the image again or remove it: rpod rmi {record.short_id}")
            dirs.append(p)
        return dirs

    def unused_layers(self, keep: set[str] | None = None) -> list[str]:
        """diff_ids of layer directories no image refers to."""
        used = self.used_layers() | (keep or set())
        if not self.paths.layers.is_dir():
            return []
        out = []
        for entry in os.scandir(self.paths.layers):
            d = "sha256:" + entry.name
            if d not in used:
                out.append(d)
        return out


def now() -> float:
    return time.time()
