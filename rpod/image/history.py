"""``rpod history``, ``image tree`` and ``image diff``: what an image is made of, as Podman shows it.

History follows libimage: the config's history entries newest first; a non-empty entry takes
the size of the current layer (then steps to its parent); an entry gets an image ID when a
local image's layers are exactly the layers up to there (the first such image, each ID once),
else ``<missing>``.  Layer IDs in ``tree`` are containers/storage's (``layertree.layer_ids``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rpod.errors import RpodError
from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths


@dataclass
class HistoryEntry:
    id: str
    created: str
    created_by: str
    size: int
    comment: str
    tags: list[str] = field(default_factory=list)


def history(paths: Paths, record: ImageRecord) -> list[HistoryEntry]:
    """The image's history, newest first."""
    store = ImageStore(paths)
    config = store.config(record)
    entries = config.get("history") or []
    others = store.list()
    layers = list(record.layers)
    used: set[str] = set()
    out = []
    for h in reversed(entries):
        entry = HistoryEntry("<missing>", str(h.get("created") or ""), str(h.get("created_by") or ""), 0,
                             str(h.get("comment") or ""))
        if layers:
            if not h.get("empty_layer"):
                entry.size = int(store.layer_info(layers[-1]).get("size") or 0)
            owners = [r for r in others if r.layers == layers]
            if owners and owners[0].id not in used:
                entry.id = owners[0].id
                used.add(owners[0].id)
            entry.tags = [n for r in owners for n in r.names]
            if not h.get("empty_layer"):
                layers = layers[:-1]
        out.append(entry)
    return out


def image_diff(paths: Paths, record: ImageRecord, other: ImageRecord | None = None) -> list[tuple[str, str]]:
    """The changes of the image's top layer to the layers below it, or to ``other`` (its parent:
    the top layer's changes; any other image: the two file systems compared)."""
    from rootless.subid import default_mapping
    from rootless.userns import python_entry, run

    store = ImageStore(paths)
    if other is not None:
        if record.layers == other.layers:
            return []
        if record.layers[:len(other.layers)] != other.layers or len(other.layers) + 1 != len(record.layers):
            from rpod.image.layertree import image_diff_any  # not parent and child: the whole trees

            return image_diff_any(paths, record, other)
    if not record.layers:
        return []
    dirs = [str(d) for d in store.layer_dirs(record)]
    upper, lowers = dirs[-1], list(reversed(dirs[:-1]))
    proc = run(python_entry("rootless.changes", upper, json.dumps(lowers), "--image"), default_mapping(),
               mount_ns=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RpodError(f"cannot read the layers of image {record.short_id}: {proc.stderr.strip()}")
    return [tuple(c) for c in json.loads(proc.stdout)]  # type: ignore[misc]


def history_json(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    from rpod.humanize import parse_time

    out = []
    for e in entries:
        import datetime

        ts = parse_time(e.created)
        human = datetime.datetime.fromtimestamp(int(ts), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else ""
        row: dict[str, Any] = {"id": e.id, "created": e.created, "CreatedBy": e.created_by, "size": e.size}
        if e.comment:  # omitempty in Podman's report
            row["comment"] = e.comment
        row["Created"] = human
        out.append(row)
    return out
