"""Image housekeeping the CLI asks for: tag, untag, remove, prune, and their layer cleanup."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rpod.errors import InvalidReference, NoSuchImage, StateConflict
from rpod.events import record as record_event
from rpod.image.store import ImageRecord, ImageStore, split_name
from rpod.paths import Paths
from rpod.storefile import REMOVING, locked, reclaim_removals, reclaim_scratch


def normalize_tag(name: str) -> str:
    """The name ``rpod tag`` stores: ``myimg`` → ``localhost/myimg:latest`` (as Podman)."""
    from rpod.image.reference import parse_reference

    if "@" in name:
        raise InvalidReference(f"{name}: a tag cannot contain a digest")
    first = name.split("/", 1)[0]
    qualified = "/" in name and ("." in first or ":" in first or first == "localhost")
    ref = parse_reference(name if qualified else f"localhost/{name}")
    return f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}"


@dataclass
class RemoveReport:
    untagged: list[str]
    deleted: list[str]


def remove_images(paths: Paths, names: Iterable[str], *, force: bool = False,
                  candidates_of: Callable[[str], list[str]] = lambda n: [],
                  users: dict[str, list[str]] | None = None,
                  remove_users: Callable[[list[str]], None] | None = None) -> RemoveReport:
    """``rpod rmi``: untag by name, delete when no name is left (or by id).  ``users`` maps an image
    id to the containers made from it: such an image needs ``force``, and ``remove_users(names)``
    (the engine's) removes those containers first."""
    store = ImageStore(paths)
    report = RemoveReport([], [])
    users = users or {}
    for name in names:
        rec = store.resolve(name, candidates_of(name))
        key = name.removeprefix("sha256:")
        is_id = rec.id.startswith(key) and len(key) >= 3 and all(c in "0123456789abcdef" for c in key)
        if "@" in name and [n for n in rec.names if n != name]:
            # a digested reference (repo@sha256:...) is one more name of a tagged image: untag only
            if name in rec.names:
                store.remove_name(rec.id, name)
            report.untagged.append(name)
            record_event(paths, "image", "untag", id=rec.id, name=name)
            continue
        if not is_id and len(rec.names) > 1:
            full = _full_name(rec, name, candidates_of(name))
            store.remove_name(rec.id, full)
            report.untagged.append(full)
            record_event(paths, "image", "untag", id=rec.id, name=full)
            continue
        if is_id and len(rec.names) > 1 and not force:
            raise StateConflict(
                f"unable to delete image {rec.id[:12]} by ID with more than one tag ({', '.join(rec.names)})",
                hint="please force removal: rpod rmi -f")
        using = users.get(rec.id, [])
        if using and not force:
            raise StateConflict(
                f"image used by {', '.join(using)}: image is in use by a container: "
                "consider listing external containers and force-removing image",
                hint="remove the containers first (rpod rm) or use rpod rmi -f")
        if using and force and remove_users is not None:
            remove_users(using)
        oldest_first = list(rec.names)  # the store keeps names in the order they were given (c/storage)
        report.untagged.extend(oldest_first)
        store.delete(rec.id)
        report.deleted.append(rec.id)
        for n in oldest_first:
            record_event(paths, "image", "untag", id=rec.id, name=n)
        record_event(paths, "image", "remove", id=rec.id, name=rec.id)
    cleanup_unused(paths)
    return report


def _full_name(rec: ImageRecord, name: str, candidates: list[str]) -> str:
    repo, tag = split_name(name)
    tag = tag or "latest"
    for want in [f"{repo}:{tag}", *candidates]:
        if want in rec.names:
            return want
    for n in rec.names:
        if n.endswith(f"/{repo}:{tag}"):
            return n
    raise NoSuchImage(f"{name}: image not known")


def cleanup_unused(paths: Paths) -> list[str]:
    """Remove layers and blobs no image refers to any more; returns the removed diff_ids."""
    from rootless.subid import default_mapping
    from rootless.userns import remove_tree
    from rpod.image.lease import leases, written_since

    reclaim_removals(paths)  # first finish what killed commands left (tmp/*.removing.<pid>)
    reclaim_scratch(paths)  # and their scratch (tmp/build-<pid>-*, spare.<pid>.*...)
    store = ImageStore(paths)
    removed = []
    with locked(paths.store_lock):
        protected, since = leases(paths)  # layers and blobs in-flight pulls and builds rely on
        unused = [d for d in store.unused_layers(keep=protected)
                  if not written_since(paths.layer_dir(d), since)]
        if unused:
            mapping = default_mapping()
            for diff_id in unused:
                hexd = diff_id.partition(":")[2]
                with locked(paths.locks / f"layer-{hexd}.lock", blocking=False) as free:
                    if not free:
                        continue  # a pull is writing it right now
                    target = paths.layer_dir(diff_id)
                    # rename first so a half-removed layer never looks present
                    doomed = paths.tmp / f"{hexd}{REMOVING}{os.getpid()}"
                    paths.tmp.mkdir(parents=True, exist_ok=True)
                    try:
                        os.rename(target, doomed)
                    except OSError:
                        continue
                    remove_tree(doomed, mapping)
                    removed.append(diff_id)
        records = store.list()
        keep = protected | {"sha256:" + r.id for r in records} | {r.manifest_digest for r in records} | {
            r.digest for r in records}
        blob_dir = paths.blobs / "sha256"
        if blob_dir.is_dir():
            for entry in os.scandir(blob_dir):
                if "sha256:" + entry.name not in keep and not written_since(entry.path, since):
                    os.unlink(entry.path)
    return removed
