"""``image tree`` (with ``--whatrequires``).

The layer tree follows libimage: a node is a layer stack (the chain of diff_ids up to it),
its children the stacks one layer longer that some image has; "Top Layer of" lists the names
of the images whose top is that node.  Printing follows the gotree package Podman uses."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths


@dataclass
class Node:
    text: str
    items: list[Node] = field(default_factory=list)


def render(root: Node) -> str:
    """gotree's ``Print``: the root's text, then its items with ``├──``/``└──`` indicators."""
    out = [root.text]

    def items(nodes: list[Node], spaces: list[bool]) -> None:
        for i, n in enumerate(nodes):
            last = i == len(nodes) - 1
            lead = "".join("    " if s else "│   " for s in spaces)
            lines = n.text.split("\n")
            out.append(lead + ("└── " if last else "├── ") + lines[0])
            out.extend(lead + ("    " if last else "│   ") + x for x in lines[1:])
            if n.items:
                items(n.items, [*spaces, last])

    items(root.items, [])
    return "\n".join(out) + "\n"


def layer_ids(diff_ids: list[str]) -> list[str]:
    """containers/storage's layer IDs of a stack: the first diff_id's hex, then
    sha256(parent ID + "+" + diff_id hex) (as containers/image names layers it stores)."""
    out: list[str] = []
    for d in diff_ids:
        hexd = d.partition(":")[2]
        out.append(hexd if not out else hashlib.sha256(f"{out[-1]}+{hexd}".encode()).hexdigest())
    return out


def _layer_text(store: ImageStore, chain: tuple[str, ...], tags: list[str]) -> str:
    from rpod.humanize import human_size

    size = int(store.layer_info(chain[-1]).get("size") or 0)
    text = f"ID: {layer_ids(list(chain))[-1][:12]} Size: {human_size(size, 4).replace(' ', ''):>7}"
    return text + (f" Top Layer of: [{' '.join(tags)}]" if tags else "")


def header(record: ImageRecord) -> str:
    from rpod.humanize import human_size

    return "\n".join([f"Image ID: {record.id[:12]}", f"Tags:     [{' '.join(record.names)}]",
                      f"Size:     {human_size(record.size, 4).replace(' ', '')}",
                      "Image Layers" if record.layers else "No Image Layers"])


def tree(paths: Paths, record: ImageRecord, whatrequires: bool = False) -> str:
    """``podman image tree [--whatrequires]`` text (with Podman's blank line at the end)."""
    store = ImageStore(paths)
    images = store.list()
    tops: dict[tuple[str, ...], list[str]] = {}
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for r in images:
        chain = tuple(r.layers)
        if chain:
            tops.setdefault(chain, []).extend(n for n in r.names if "@" not in n)
        for i in range(1, len(chain)):
            kids = children.setdefault(chain[:i], [])
            if chain[:i + 1] not in kids:
                kids.append(chain[:i + 1])
    root = Node(header(record))
    chain = tuple(record.layers)
    if not chain:
        return render(root) + "\n"
    if not whatrequires:
        root.items = [Node(_layer_text(store, chain[:i + 1], tops.get(chain[:i + 1], []))) for i in range(len(chain))]
        return render(root) + "\n"

    def walk(node: tuple[str, ...], parent: Node) -> None:
        text = _layer_text(store, node, tops.get(node, []))
        siblings = children.get(node[:-1], []) if len(node) > 1 else []
        if len(siblings) <= 1:
            parent.items.append(Node(text))
            target = parent
        else:
            target = Node(text)
            parent.items.append(target)
        for kid in children.get(node, []):
            walk(kid, target)

    walk(chain, root)
    return render(root) + "\n"


def image_diff_any(paths: Paths, record: ImageRecord, other: ImageRecord) -> list[tuple[str, str]]:
    """``image diff A B`` for images that are not parent and child: ``rootless.imagediff`` on both."""
    import json

    from rootless.changes import IMAGE_SKIP
    from rootless.subid import default_mapping
    from rootless.userns import python_entry, run
    from rpod.errors import RpodError

    store = ImageStore(paths)
    cfg = {"new": [str(d) for d in store.layer_dirs(record)], "old": [str(d) for d in store.layer_dirs(other)],
           "skip": sorted(IMAGE_SKIP)}
    proc = run(python_entry("rootless.imagediff", json.dumps(cfg)), default_mapping(), mount_ns=False,
               capture_output=True, text=True)
    if proc.returncode != 0:
        raise RpodError(f"cannot compare images {record.short_id} and {other.short_id}: {proc.stderr.strip()}")
    return [tuple(c) for c in json.loads(proc.stdout)]  # type: ignore[misc]
