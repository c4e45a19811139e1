"""Progress reporting for long work (pull, push, build, import): live bars on a terminal, plain lines otherwise.

The engine (``rpod.image.pull``) emits events through the ``PullProgress`` protocol and never prints;
the CLI picks a reporter: ``TerminalProgress`` (Podman's lines with live bars) when stderr is a terminal,
``PlainProgress`` (Podman's non-terminal lines) otherwise, ``QuietProgress``
with ``-q``.
"""

from __future__ import annotations

import sys
import threading
import time
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


def _size(n: float) -> str:
    """``1.2MiB``, as containers/image's bars print sizes."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}GiB"


class _Bar:
    __slots__ = ("kind", "short", "total", "done", "state", "started")

    def __init__(self, kind: str, short: str, total: int) -> None:
        self.kind, self.short, self.total, self.done = kind, short, total, 0
        self.state = ""  # "", "done", "skipped: already exists"
        self.started = time.monotonic()

    def line(self, width: int = 30) -> str:
        head = f"Copying {self.kind} {self.short}"
        if self.state:
            return f"{head} {self.state}"
        frac = min(1.0, self.done / self.total) if self.total else 0.0
        fill = int(frac * width)
        bar = "=" * fill + (">" if fill < width else "") + "-" * max(0, width - fill - 1)
        speed = self.done / max(time.monotonic() - self.started, 1e-3)
        total = _size(self.total) if self.total else "?"
        return f"{head} [{bar}] {_size(self.done)} / {total} | {_size(speed)}/s"


class TerminalProgress(PlainProgress):
    """Podman's terminal output: the step lines, and one live bar per blob (size, speed) that
    turns into ``Copying blob 4abcf2066143 done``; every bar is finished before the lines that
    follow them (``Writing manifest to image destination``, the image id)."""

    INTERVAL = 0.1  # seconds between redraws while bytes flow

    def __init__(self, stream=None) -> None:
        super().__init__(stream)
        self._bars: list[_Bar] = []
        self._by_digest: dict[str, _Bar] = {}
        self._drawn = 0  # lines of the live region on the screen
        self._last = 0.0

    def _redraw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.INTERVAL:
            return
        self._last = now
        out = "\x1b[1A" * self._drawn + "\r"
        # blobs first, then the config, as containers/image lists them (rpod fetches the config first)
        out += "".join(f"\x1b[2K{b.line()}\n" for b in sorted(self._bars, key=lambda b: b.kind != "blob"))
        self._drawn = len(self._bars)
        self.stream.write(out)
        self.stream.flush()

    def _settle(self) -> None:
        """Every bar finished: leave them on the screen as they are, below nothing live."""
        if self._bars and all(b.state for b in self._bars):
            self._redraw(force=True)
            self._bars, self._by_digest, self._drawn = [], {}, 0

    def message(self, text: str) -> None:
        with self._lock:
            self._settle()
            if self._drawn:  # bars still running: the line goes above them
                self.stream.write("\x1b[1A" * self._drawn + "\r\x1b[J")
                self._drawn = 0
                self.stream.write(text + "\n")
                self._redraw(force=True)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    def blob_start(self, digest: str, size: int, kind: str = "blob") -> None:
        with self._lock:
            bar = _Bar(kind, digest.split(":")[-1][:12], size)
            self._bars.append(bar)
            self._by_digest[digest] = bar
            self._redraw(force=True)

    def blob_advance(self, digest: str, nbytes: int) -> None:
        with self._lock:
            bar = self._by_digest.get(digest)
            if bar is not None:
                bar.done += nbytes
                self._redraw()

    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None:
        with self._lock:
            bar = self._by_digest.get(digest)
            if bar is None:  # no bytes to show (a config, a blob already here): its line only
                bar = _Bar(kind, digest.split(":")[-1][:12], 0)
                self._bars.append(bar)
                self._by_digest[digest] = bar
            bar.state = "skipped: already exists" if skipped else "done"
            if bar.total:
                bar.done = bar.total
            self._redraw(force=True)

    def close(self) -> None:
        with self._lock:
            for b in self._bars:  # an interrupted pull: show where each blob stopped
                b.state = b.state or f"{_size(b.done)} / {_size(b.total)} (interrupted)"
            self._settle()


RichProgress = TerminalProgress  # the name earlier callers used


def make_progress(quiet: bool) -> PullProgress:
    """The reporter that fits the current stderr and ``-q``."""
    if quiet:
        return QuietProgress()
    if sys.stderr.isatty():
        return TerminalProgress()
    return PlainProgress()
