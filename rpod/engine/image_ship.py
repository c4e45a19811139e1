"""Engine verbs that ship images in and out of the store: import, push, save, load, history,
diff, tree, mount, search, manifest lists (issue #12; kept apart from ``images.py`` for merges).

Every function takes an options dataclass (from the domain module that does the work) and a
progress callback, never prints, and raises ``rpod.errors`` exceptions.
"""

from __future__ import annotations

from typing import Any

from rpod.paths import Paths


def _paths(paths: Paths | None) -> Paths:
    return paths or Paths.default()


def import_image(opts: Any, progress: Any = None, paths: Paths | None = None) -> Any:
    """``rpod import``: a tarball (file, URL, ``-``) → a one-layer image record."""
    from rpod.events import record
    from rpod.image.importer import import_tarball

    p = _paths(paths)
    rec = import_tarball(p, opts, progress)
    record(p, "image", "import", id=rec.id, name=opts.source)
    return rec
