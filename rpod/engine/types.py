"""What several engine modules share: the store an engine call works on and per-item reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rpod.errors import RpodError

if TYPE_CHECKING:
    from rpod.paths import Paths


def store(root: str | None = None, runroot: str | None = None) -> Paths:
    """The store an engine call works on: ``root``/``runroot`` if given, else ``$RPOD_ROOT``/
    ``$RPOD_RUNROOT`` (what ``rpod --root/--runroot`` set), else the user's default store."""
    from rpod.paths import Paths

    return Paths.default(root, runroot)


def paths_or_default(paths: Paths | None) -> Paths:
    """``paths`` or the default store (every engine function takes an optional ``paths=``)."""
    return paths if paths is not None else store()


@dataclass
class ItemReport:
    """What a per-item verb (rm, stop, kill, rmi, volume rm...) did to one of the items it was given.

    ``ref`` is what the user named, ``id`` the object it resolved to ("" if it did not),
    ``text`` the lines to print on success (default: ``ref``), ``error`` why it failed."""

    ref: str
    id: str = ""
    error: RpodError | None = None
    text: list[str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def lines(self) -> list[str]:
        return self.text if self.text is not None else [self.ref]
