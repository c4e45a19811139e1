"""Files in and out of containers: ``cp``, ``diff``, ``export``."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from rpod.engine import containers
from rpod.engine.types import paths_or_default
from rpod.errors import UsageError

if TYPE_CHECKING:
    from rpod.paths import Paths


def copy(src: str, dest: str, archive: bool = True, overwrite: bool = False, paths: Paths | None = None) -> None:
    """Copy between ``[CONTAINER:]PATH`` locations (``-`` is a tar stream on stdin/stdout), Podman's rules."""
    from rpod.container.archive import copy as do_copy
    from rpod.container.archive import parse_location

    do_copy(paths_or_default(paths), parse_location(src), parse_location(dest), archive=archive,
            overwrite=overwrite)


def diff(ref: str | None, latest: bool = False, paths: Paths | None = None) -> list[tuple[str, str]]:
    """Changes of the container's filesystem against its image: (``A``|``C``|``D``, path), parents first."""
    from rpod.container.archive import diff as do_diff

    if not ref and not latest:
        raise UsageError('"rpod diff" requires a name, id, or the "--latest" flag')
    p = paths_or_default(paths)
    rec = containers.resolve([ref] if ref else [], latest, p)[0]
    return do_diff(p, rec)


def export(ref: str, out: BinaryIO, paths: Paths | None = None) -> None:
    """Write the container's filesystem as a tar stream to ``out``."""
    from rpod.container.archive import export as do_export

    p = paths_or_default(paths)
    do_export(p, containers.container_store(p).get(ref), out)


