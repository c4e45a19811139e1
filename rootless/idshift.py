"""Copy a layer directory with its owners moved to another id map (``--userns=keep-id``, ``--uidmap``).

Run as root in the user's default namespace
(``python_entry("rootless.idshift", SRC, SCRATCH, MAPS, DEST)``),
where a file owned by id ``n`` belongs to image uid ``n``.  A container with an id map ``C``
(container id -> id of that namespace) sees a file owned by ``C(n)`` as ``n``: so the copy
chowns every entry from ``n`` to ``C(n)`` and the container sees the image's owners.  Ids that
``C`` does not map go to an id outside ``C``'s range (the container shows them as nobody).

``MAPS`` is JSON ``{"uid": [[container, ns_id, size], ...], "gid": [...]}``.  ``SCRATCH`` (on
the filesystem of ``DEST``) and ``DEST`` must not exist.  The copy is made in ``SCRATCH`` with
``cp -a`` (data, modes, times, hardlinks, xattrs such as ``user.overlay.opaque``, whiteout
devices); then owners are moved, the setuid/setgid bits that ``chown`` clears are put back, the
filesystem is synced and ``SCRATCH`` is renamed to ``DEST``.  Prints one JSON line of stats.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence

Segments = Sequence[Sequence[int]]


def shifter(segments: Segments, limit: int = 65536) -> Callable[[int], int]:
    """``n -> C(n)`` for the map ``segments``; unmapped ids go to the first id (<= ``limit``)
    outside ``C``'s range, or stay as they are when there is none."""
    segs = sorted((int(c), int(i), int(n)) for c, i, n in segments)
    used = sorted((i, i + n) for _c, i, n in segs)
    spare, probe = None, 0
    for lo, hi in used:
        if probe < lo:
            break
        probe = max(probe, hi)
    if probe <= limit:
        spare = probe

    def shift(n: int) -> int:
        for c, i, size in segs:
            if c <= n < c + size:
                return i + (n - c)
        return n if spare is None else spare

    return shift


def shift_tree(root: str, uid_segments: Segments, gid_segments: Segments) -> int:
    """Move the owners of everything under ``root`` (itself included); returns the entry count."""
    su, sg = shifter(uid_segments), shifter(gid_segments)
    count = 0

    def fix(path: str) -> None:
        nonlocal count
        st = os.lstat(path)
        uid, gid = su(st.st_uid), sg(st.st_gid)
        count += 1
        if (uid, gid) == (st.st_uid, st.st_gid):
            return
        os.lchown(path, uid, gid)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(st.st_mode))  # chown cleared them

    fix(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            fix(os.path.join(dirpath, name))
    return count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print("usage: rootless.idshift SRC SCRATCH MAPS_JSON DEST", file=sys.stderr)
        return 2
    src, dest, maps, final = args[0], args[1], json.loads(args[2]), args[3]
    proc = subprocess.run(["cp", "-a", "--no-target-directory", "--", src, dest],
                          stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(f"rpod-idshift: cp -a {src} {dest}: {proc.stderr.strip()}", file=sys.stderr)
        return 1
    try:
        n = shift_tree(dest, maps["uid"], maps["gid"])
    except OSError as e:
        print(f"rpod-idshift: {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    from rootless.syscalls import syncfs

    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        syncfs(fd)  # the copy is renamed into the store only once it is on disk
    finally:
        os.close(fd)
    os.rename(dest, final)  # here: moving a directory needs write access to it (its "..")
    print(json.dumps({"entries": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
