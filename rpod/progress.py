"""Progress reporting for long work (pulls): rich bars on a terminal, plain lines otherwise.

The engine (``rpod.image.pull``) emits events through the ``PullProgress`` protocol and never prints;
the CLI picks a reporter: ``RichProgress`` when stderr is a terminal,
``PlainProgress`` (Podman's non-terminal lines) otherwise, ``QuietProgress``
with ``-q``.
"""

from __future__ import annotations

import sys
import threading
from typing import Protocol


class PullProgress(Protocol):
    def message(self, text: str) -> None: ...
    def blob_start(self, digest: str, size: int, kind: str = "blob") -> None: ...
    def blob_advance(self, digest: str, nbytes: int) -> None: ...
    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None: ...
    def close(self) -> None: ...


class QuietProgress:
    def message(self, text: str) -> None:
        pass

    def blob_start(self, digest: str, size: int, kind: str = "blob") -> None:
        pass

    def blob_advance(self, digest: str, nbytes: int) -> None:
        pass

    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress(QuietProgress):
    """One line per step on stderr, as Podman prints when stderr is not a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        self._line(text)

    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None:
        what = "skipped: already exists" if skipped else "done"
        self._line(f"Copying {kind} {digest} {what}")


class RichProgress(PlainProgress):
    """Live bars (rich) for each blob on a terminal."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("Copying {task.fields[kind]} {task.fields[short]}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self._console,
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._progress.start()

    def message(self, text: str) -> None:
        self._progress.console.print(text, highlight=False, markup=False)

    def blob_start(self, digest: str, size: int, kind: str = "blob") -> None:
        with self._lock:
            short = digest.split(":")[-1][:12]
            self._tasks[digest] = self._progress.add_task("", total=size or None, kind=kind, short=short)

    def blob_advance(self, digest: str, nbytes: int) -> None:
        task = self._tasks.get(digest)
        if task is not None:
            self._progress.advance(task, nbytes)

    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None:
        with self._lock:
            task = self._tasks.get(digest)
            if task is None:
                short = digest.split(":")[-1][:12]
                task = self._progress.add_task("", total=1, kind=kind, short=short)
                self._tasks[digest] = task
            total = self._progress.tasks[task].total or 1
            self._progress.update(task, completed=total)

    def close(self) -> None:
        self._progress.stop()


def make_progress(quiet: bool) -> PullProgress:
    """The reporter that fits the current stderr and ``-q``."""
    if quiet:
        return QuietProgress()
    if sys.stderr.isatty():
        return RichProgress()
    return PlainProgress()
