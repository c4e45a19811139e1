"""Consistency of the image store: every recorded image has its config, manifest and layers;
layers and scratch directories nothing uses (older than ``max_age``) are leftovers of killed pulls.

``check`` reports; with ``repair`` it removes damaged images (not those containers use, unless
``force`` — the caller removes those containers) and the leftovers, as ``podman system check``.
"""

from __future__ import annotations

import hashlib
import os
import time

from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths
from rpod.storefile import Problem, locked


def damaged(store: ImageStore, rec: ImageRecord, quick: bool) -> str:
    """Why ``rec`` cannot be used (empty when it is whole)."""
    for digest, what in (("sha256:" + rec.id, "config"), (rec.manifest_digest, "manifest")):
        path = store.paths.blob(digest) if digest else None
        if path is None or not path.is_file():
            return f"{what} blob {digest or '(none)'} is missing"
        if not quick and hashlib.sha256(path.read_bytes()).hexdigest() != digest.partition(":")[2]:
            return f"{what} blob {digest} does not match its digest"
    for d in rec.layers:
        ldir = store.paths.layer_dir(d)
        if not (ldir / "layer.json").is_file() or not (ldir / "diff").is_dir():
            return f"layer {d} is missing"
    return ""


def check(paths: Paths, users: dict[str, list[str]], *, quick: bool = False,
          max_age: float = 24 * 3600) -> list[Problem]:
    """Damaged images (with the containers in ``users`` that use them) and old leftovers."""
    from rpod.image.lease import leases, written_since

    store = ImageStore(paths)
    out: list[Problem] = []
    try:
        records = store.list()
    except ValueError as e:
        return [Problem("store", str(paths.images_db), f"cannot be read: {e}")]
    for rec in records:
        why = damaged(store, rec, quick)
        if why:
            out.append(Problem("image", rec.short_id, why, users=list(users.get(rec.id, []))))
    now = time.time()
    with locked(paths.store_lock):
        keep, since = leases(paths)
        for d in store.unused_layers(keep=keep):
            if now - _mtime(paths.layer_dir(d)) >= max_age and not written_since(paths.layer_dir(d), since):
                out.append(Problem("layer", d, "layer no image uses"))
    out += [Problem("directory", f"tmp/{n}", "scratch directory of a pull that is gone")
            for n in _stale_scratch(paths)]
    return out


def repair(paths: Paths, problems: list[Problem], force: bool) -> None:
    """Remove damaged images (those with containers only with ``force``), unused layers and
    stale scratch directories; marks what was done."""
    from rootless.subid import default_mapping
    from rootless.userns import remove_tree
    from rpod.image.manage import cleanup_unused

    store = ImageStore(paths)
    for p in problems:
        if p.kind == "image" and (force or not p.users):
            rec = store.resolve(p.ident)
            store.delete(rec.id)
            p.repaired = True
    mapping = None
    for p in problems:
        if p.kind == "directory" and p.ident.startswith("tmp/"):
            name = p.ident.removeprefix("tmp/")
            hexd = name.partition(".")[0]
            if len(hexd) == 64:  # a pull's scratch: only while no pull holds its layer lock
                with locked(paths.locks / f"layer-{hexd}.lock", blocking=False) as free:
                    if not free:
                        continue
            mapping = mapping or default_mapping()
            remove_tree(paths.tmp / name, mapping)
            p.repaired = True
    removed = set(cleanup_unused(paths))
    for p in problems:
        if p.kind == "layer" and (p.ident in removed or not paths.layer_dir(p.ident).exists()):
            p.repaired = True


def _mtime(path: os.PathLike[str]) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _stale_scratch(paths: Paths) -> list[str]:
    """``tmp/<diffid-hex>.<token>`` whose layer lock is free and scratch of dead pids."""
    from rpod.storefile import stale_scratch

    out: list[str] = []
    try:
        entries = list(os.scandir(paths.tmp))
    except FileNotFoundError:
        return out
    out = stale_scratch(paths)
    for e in entries:
        head, _, rest = e.name.partition(".")
        if len(head) == 64 and not rest.startswith("removing"):
            with locked(paths.locks / f"layer-{head}.lock", blocking=False) as free:
                if free:
                    out.append(e.name)
    return out
