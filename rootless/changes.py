"""What a container changed: A/C/D entries from its overlay upper dir (``rpod diff``).

``changes(upper, lowers_top_first)`` walks the upper dir: a 0:0 character device is a whiteout
(``D``), an entry absent from the image layers was added (``A``), one present in them was
changed (``C``).  A directory that only exists because something below it changed is ``C``;
one whose metadata is unchanged and that holds no change is left out (Podman's rules).  The
files rpod's runtime creates as mount points (``/etc/hosts``, ``/run/.containerenv``...) are
not the container's changes and are skipped, as Podman skips its init layer.

Run in-process when the user can read the upper dir, else as
``python_entry("rootless.changes", UPPER, LOWERS_JSON)`` in the container's user namespace
(prints the JSON list of ``[kind, path]``).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Sequence

# mount points and files the runtime provides (Podman's "init layer" inodes)
INIT_PATHS = frozenset({"/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/run/.containerenv",
                        "/run/notify", "/run/secrets", "/sys", "/etc/mtab"})

# what ``podman image diff`` leaves out (libpod's container mount points, matched by path)
IMAGE_SKIP = INIT_PATHS | {"/run"}


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _in_lower(lowers: Sequence[str], rel: str) -> os.stat_result | None:
    for layer in lowers:
        try:
            st = os.lstat(layer + rel)
        except (FileNotFoundError, NotADirectoryError):
            continue
        return None if _whiteout(st) else st
    return None


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "user.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def changes(upper: str, lowers_top_first: Sequence[str], skip: frozenset[str] = INIT_PATHS) -> list[tuple[str, str]]:
    """``[(kind, path)]`` with kind ``A``, ``C`` or ``D``; parents before children, names sorted.
    ``skip``: paths left out (the runtime's mount points)."""
    out: list[tuple[str, str] | None] = []
    lowers = [d.rstrip("/") for d in lowers_top_first]
    top = upper.rstrip("/")

    def walk(rel_dir: str) -> bool:
        reported = False
        with os.scandir(top + rel_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            rel = f"{rel_dir}/{e.name}"
            if rel in skip:
                continue
            st = e.stat(follow_symlinks=False)
            if _whiteout(st):
                out.append(("D", rel))
                reported = True
                continue
            low = _in_lower(lowers, rel)
            if not stat.S_ISDIR(st.st_mode):
                out.append(("A" if low is None else "C", rel))
                reported = True
                continue
            idx = len(out)
            out.append(None)
            below = walk(rel)
            if low is None:
                out[idx] = ("A", rel)
            elif below or _dir_changed(st, low, rel, top) or _opaque(top + rel):
                out[idx] = ("C", rel)
            else:
                continue
            reported = True
        if rel_dir and _opaque(top + rel_dir):  # what the lower layers had here is gone
            names = {e.name for e in entries}
            for name in _lower_names(lowers, rel_dir):
                if name not in names and _in_lower(lowers, f"{rel_dir}/{name}") is not None:
                    out.append(("D", f"{rel_dir}/{name}"))
                    reported = True
        return reported

    walk("")
    return [c for c in out if c is not None]


def _lower_names(lowers: Sequence[str], rel_dir: str) -> list[str]:
    """Names in ``rel_dir`` of the merged lower layers (down to the first opaque one), sorted."""
    names: set[str] = set()
    for layer in lowers:
        try:
            names.update(os.listdir(layer + rel_dir))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _opaque(layer + rel_dir):
            break
    return sorted(names)


def _dir_changed(st: os.stat_result, low: os.stat_result, rel: str, top: str) -> bool:
    if not stat.S_ISDIR(low.st_mode) or (st.st_mode, st.st_uid, st.st_gid) != (low.st_mode, low.st_uid, low.st_gid):
        return True
    if st.st_mtime_ns == low.st_mtime_ns:
        return False
    # a new mtime only because the runtime created a mount point here is not a change
    return not any(p.rsplit("/", 1)[0] == rel and os.path.lexists(top + p) for p in INIT_PATHS)


def main(argv: list[str] | None = None) -> int:
    """``UPPER LOWERS_JSON [--image]``: print the changes as JSON (``--image``: of an image layer)."""
    args = sys.argv[1:] if argv is None else argv
    image = "--image" in args
    args = [a for a in args if a != "--image"]
    if len(args) != 2:
        print("usage: rootless.changes UPPER LOWERS_JSON [--image]", file=sys.stderr)
        return 2
    try:
        result = changes(args[0], json.loads(args[1]), IMAGE_SKIP if image else INIT_PATHS)
    except OSError as e:
        print(f"rpod-changes: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0
