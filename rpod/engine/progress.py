"""Progress of long work (pulls) for front ends: the reporter that fits this process's stderr."""

from __future__ import annotations

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.progress import PullProgress


def make_progress(quiet: bool) -> PullProgress:
    """The pull reporter that fits this process's stderr: rich bars on a terminal, Podman's plain
    lines otherwise, nothing with ``quiet``.  Made on the first event, so a ``run`` whose image is
    present never imports rich nor draws anything."""
    return _LazyProgress(quiet)


class _LazyProgress:
    """A ``PullProgress`` that picks and makes the real reporter when the first event comes."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.real: Any = None

    def _get(self) -> Any:
        if self.real is None:
            from rpod.progress import make_progress as make

            self.real = make(self.quiet)
        return self.real

    def message(self, text: str) -> None:
        self._get().message(text)

    def blob_start(self, digest: str, size: int, kind: str = "blob") -> None:
        self._get().blob_start(digest, size, kind)

    def blob_advance(self, digest: str, nbytes: int) -> None:
        self._get().blob_advance(digest, nbytes)

    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None:
        self._get().blob_done(digest, skipped, kind)

    def close(self) -> None:
        if self.real is not None:
            self.real.close()
