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


def changes(upper: str, lowers_top_first: Sequence[str]) -> list[tuple[str, str]]:
    """``[(kind, path)]`` with kind ``A``, ``C`` or ``D``; parents before children, names sorted."""
    out: list[tuple[str, str] | None] = []
    lowers = [d.rstrip("/") for d in lowers_top_first]
    top = upper.rstrip("/")

    def walk(rel_dir: str) -> bool:
        reported = False
        with os.scandir(top + rel_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            rel = f"{rel_dir}/{e.name}"
            if rel in INIT_PATHS:
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
        return reported

    walk("")
    return [c for c in out if c is not None]


def _dir_changed(st: os.stat_result, low: os.stat_result, rel: str, top: str) -> bool:
    if not stat.S_ISDIR(low.st_mode) or (st.st_mode, st.st_uid, st.st_gid) != (low.st_mode, low.st_uid, low.st_gid):
        return True
    if st.st_mtime_ns == low.st_mtime_ns:
        return False
    # a new mtime only because the runtime created a mount point here is not a change
    return not any(p.rsplit("/", 1)[0] == rel and os.path.lexists(top + p) for p in INIT_PATHS)


def main(argv: list[str] | None = None) -> int:
    """``UPPER LOWERS_JSON``: print the changes as JSON."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: rootless.changes UPPER LOWERS_JSON", file=sys.stderr)
        return 2
    try:
        result = changes(args[0], json.loads(args[1]))
    except OSError as e:
        print(f"rpod-changes: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0
