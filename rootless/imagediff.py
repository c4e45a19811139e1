"""``image diff A B`` of any two images: the two merged file systems compared.

Each image's layer dirs (bottom first) are folded as overlay would (whiteouts, ``.wh.`` files
and opaque directories applied); then ``A`` is in the first only, ``D`` in the second only, ``C``
where type, mode, owner, size (files), modification time, device or link target differ (as
containers/storage's naive ``ChangesDirs``).  Run in the user namespace, where every layer file
is readable: ``python_entry("rootless.imagediff", CONFIG_JSON)`` with ``{"new", "old", "skip"}``,
prints the JSON list of ``[kind, path]``.
"""

from __future__ import annotations

import json
import os
import stat
import sys

Entry = tuple[int, int, int, int, int, int, str]  # mode, uid, gid, size, mtime, rdev, link target


def _drop(view: dict[str, Entry], path: str, subtree_only: bool = False) -> None:
    if not subtree_only:
        view.pop(path, None)
    prefix = path.rstrip("/") + "/"
    for k in [k for k in view if k.startswith(prefix)]:
        del view[k]


def merged(layers_bottom_first: list[str]) -> dict[str, Entry]:
    """The file system an image's layer dirs make (overlay's rules), path → metadata."""
    view: dict[str, Entry] = {}
    for top in layers_bottom_first:
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = dirpath[len(top):] or "/"
            if rel_dir != "/" and _opaque(dirpath):
                _drop(view, rel_dir, subtree_only=True)
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                rel = os.path.join(rel_dir, name)
                st = os.lstat(full)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 or name.startswith(".wh."):
                    gone = rel if not name.startswith(".wh.") else os.path.join(rel_dir, name[4:])
                    _drop(view, gone)
                    continue
                old = view.get(rel)
                if old is not None and stat.S_ISDIR(old[0]) and not stat.S_ISDIR(st.st_mode):
                    _drop(view, rel, subtree_only=True)
                link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
                size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                view[rel] = (st.st_mode, st.st_uid, st.st_gid, size, int(st.st_mtime), st.st_rdev, link)
    return view


def _opaque(path: str) -> bool:
    for attr in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def compare(new: dict[str, Entry], old: dict[str, Entry], skip: frozenset[str]) -> list[tuple[str, str]]:
    """``[(A|C|D, path)]`` of ``new`` against ``old``, sorted by path: a deleted directory's
    contents are not listed, a directory holding a change is ``C`` (containers/storage's rules)."""
    kinds: dict[str, str] = {}
    for path in sorted(set(new) | set(old)):
        if path in skip or any(path.startswith(s + "/") for s in skip):
            continue
        a, b = new.get(path), old.get(path)
        if b is None:
            kinds[path] = "A"
        elif a is None:
            parent = os.path.dirname(path)
            if parent != "/" and parent not in new:
                continue  # inside a deleted directory
            kinds[path] = "D"
        elif a != b:
            kinds[path] = "C"
    for path in list(kinds):
        parent = os.path.dirname(path)
        while parent != "/" and parent in new and parent in old and parent not in kinds:
            kinds[parent] = "C"
            parent = os.path.dirname(parent)
    return [(kinds[p], p) for p in sorted(kinds)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: rootless.imagediff CONFIG_JSON", file=sys.stderr)
        return 2
    cfg = json.loads(args[0])
    try:
        changes = compare(merged(cfg["new"]), merged(cfg["old"]), frozenset(cfg.get("skip") or ()))
    except OSError as e:
        print(f"rpod-imagediff: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(changes) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
