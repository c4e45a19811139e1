"""``rpod history``, ``image tree`` and ``image diff``: what an image is made of, as Podman shows it.

History follows libimage: the config's history entries newest first; a non-empty entry takes
the size of the current layer (then steps to its parent); an entry gets an image ID when a
local image's layers are exactly the layers up to there (the first such image, each ID once),
else ``<missing>``.  Layer IDs in ``tree`` are containers/storage's (``layer_ids``).
"""

from __future__ import annotations

import hashlib
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


def layer_ids(diff_ids: list[str]) -> list[str]:
    """containers/storage's layer IDs of a stack: the first diff_id's hex, then
    sha256(parent ID + "+" + diff_id hex) (as containers/image names layers it stores)."""
    out: list[str] = []
    for d in diff_ids:
        hexd = d.partition(":")[2]
        out.append(hexd if not out else hashlib.sha256(f"{out[-1]}+{hexd}".encode()).hexdigest())
    return out


def tree(paths: Paths, record: ImageRecord) -> str:
    """``podman image tree`` text."""
    from rpod.humanize import human_size

    store = ImageStore(paths)
    others = store.list()
    lines = [f"Image ID: {record.id[:12]}", f"Tags:     [{' '.join(record.names)}]",
             f"Size:     {human_size(record.size, 4).replace(' ', '')}", "Image Layers"]
    ids = layer_ids(record.layers)
    for i, (diff_id, layer_id) in enumerate(zip(record.layers, ids, strict=True)):
        size = int(store.layer_info(diff_id).get("size") or 0)
        line = f"{'└──' if i == len(ids) - 1 else '├──'} ID: {layer_id[:12]} " \
               f"Size: {human_size(size, 4).replace(' ', ''):>7}"
        tops = [n for r in others if r.layers == record.layers[:i + 1] for n in (r.names or [r.id[:12]])]
        if tops:
            line += f" Top Layer of: [{' '.join(tops)}]"
        lines.append(line)
    return "\n".join(lines) + "\n\n"


def image_diff(paths: Paths, record: ImageRecord, other: ImageRecord | None = None) -> list[tuple[str, str]]:
    """The changes of the image's top layer to the layers below it (``other``: compared to that
    image, which must be an ancestor: its layers a prefix of this one's)."""
    from rootless.subid import default_mapping
    from rootless.userns import python_entry, run

    store = ImageStore(paths)
    if not record.layers:
        return []
    base = len(record.layers) - 1
    if other is not None:
        if record.layers[:len(other.layers)] != other.layers:
            raise RpodError(f"image {other.short_id} is not an ancestor of image {record.short_id}: rpod "
                            "compares an image only with an image it was built from")
        base = len(other.layers)
        if base == len(record.layers):
            return []
        if base + 1 != len(record.layers):
            raise RpodError("rpod compares an image only with its parent (one layer apart)")
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
        out.append({"id": e.id, "created": e.created, "CreatedBy": e.created_by, "size": e.size,
                    "comment": e.comment, "Created": human})
    return out
