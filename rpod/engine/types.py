"""What several engine modules share: the store an engine call works on (and ``ItemReport``, from
``rpod.engine.items``)."""

from __future__ import annotations

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
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


def __getattr__(name: str) -> object:
    """``ItemReport`` is made on first use (a dataclass costs ~0.3 ms; ``ps`` needs none)."""
    if name == "ItemReport":
        from rpod.engine.items import ItemReport

        return ItemReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
