"""``logs``: a container's records from ``ctr.log`` (or the journal), optionally followed."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from rpod.engine import containers
from rpod.engine.types import paths_or_default
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.paths import Paths


@record
class LogsOptions:
    """``logs``: ``since``/``until`` are RFC 3339, UNIX seconds or a Go duration ago."""

    refs: list[str] = field(default_factory=list)
    latest: bool = False
    follow: bool = False
    since: str | None = None
    until: str | None = None
    timestamps: bool = False
    tail: int = -1
    names: bool = False


def read_records(path: str, since: float | None, until: float | None, timestamps: bool,
                 tail: int) -> tuple[list[tuple[str, bytes]], int]:
    """Complete log records (stream, bytes) of a ``ctr.log`` and the file offset after the last whole line."""
    from rootless.monitor.stdio import parse_log_line
    from rpod.humanize import parse_time

    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], 0
    end = data.rfind(b"\n") + 1
    out: list[tuple[str, bytes]] = []
    pending: dict[str, bytes] = {}
    for line in data[:end].split(b"\n"):
        parsed = parse_log_line(line)
        if parsed is None:
            continue
        ts, stream, full, text = parsed
        if since is not None or until is not None:
            t = parse_time(ts)
            if (since is not None and t < since) or (until is not None and t > until):
                continue
        prefix = (ts.encode() + b" ") if timestamps and stream not in pending else b""
        pending[stream] = pending.get(stream, b"") + prefix + text
        if full:
            out.append((stream, pending.pop(stream) + b"\n"))
    for stream, text in pending.items():
        out.append((stream, text))
    if tail >= 0:
        out = out[-tail:] if tail else []
    return out, end


def _prefix(rec: Any, names: bool, several: bool) -> bytes:
    """Podman's line prefix: only with several containers; the name with ``-n``, else the short id."""
    if not several:
        return b""
    return ((rec.name if names else rec.id[:12]) + " ").encode()


@record
class _Followed:
    """One container's log being followed: where we are in ``ctr.log``, the partial line."""

    rec: Any
    path: str
    offset: int
    prefix: bytes
    buf: bytes = b""


def logs(opts: LogsOptions, paths: Paths | None = None) -> Iterator[tuple[str, bytes]]:
    """The log records of the containers as (``stdout``|``stderr``, bytes); with ``follow``, new
    records until every container exited (or ``until`` passed)."""
    from rpod.container.lifecycle import log_path
    from rpod.duration import time_arg
    from rpod.errors import RpodError, UsageError

    p = paths_or_default(paths)
    if not opts.refs and not opts.latest:
        raise UsageError("requires at least one container name or ID (or --all/--latest)")
    recs = containers.resolve(opts.refs, opts.latest, p)
    t_since, t_until = time_arg(opts.since, "time"), time_arg(opts.until, "time")
    several = len(recs) > 1
    followed: list[_Followed] = []
    for rec in recs:
        if rec.options.log_driver in ("none", "passthrough"):  # Podman's words (container_log.go)
            raise RpodError(f"this container is using the '{rec.options.log_driver}' log driver, cannot read logs: "
                            "this container is not logging output")
        path = log_path(p.container_dir(rec.id), rec.options)
        prefix = _prefix(rec, opts.names, several)
        if rec.options.log_driver == "journald" and not os.path.exists(path):
            from rpod.container import journal_logs  # no ctr.log: the monitor wrote to the journal

            for stream, text in journal_logs.read(rec.id, opts.follow and not several, opts.tail, opts.timestamps):
                yield stream, prefix + text
            continue
        records, offset = read_records(path, t_since, t_until, opts.timestamps, opts.tail)
        for stream, text in records:
            yield stream, prefix + text
        if opts.follow:
            followed.append(_Followed(rec, path, offset, prefix))
    if followed:
        yield from _follow(p, followed, opts.timestamps, t_until)


def _follow(paths: Paths, followed: list[_Followed], timestamps: bool,
            until: float | None) -> Iterator[tuple[str, bytes]]:
    """``logs -f``: new records of every container until all have exited (or ``until``)."""
    from rootless.monitor.stdio import parse_log_line

    store = containers.container_store(paths)
    active = list(followed)
    while active:
        for f in list(active):
            st = store.state(f.rec.id)
            done = (st.status == "exited" and not st.restarting) or store.load(f.rec.id) is None
            try:
                with open(f.path, "rb") as fh:
                    fh.seek(f.offset)
                    chunk = fh.read()
            except FileNotFoundError:
                active.remove(f)
                continue
            f.offset += len(chunk)
            f.buf += chunk
            *lines, f.buf = f.buf.split(b"\n")
            for line in lines:
                parsed = parse_log_line(line)
                if parsed:
                    ts, stream, full, text = parsed
                    stamp = (ts.encode() + b" ") if timestamps else b""
                    yield stream, f.prefix + stamp + text + (b"\n" if full else b"")
            if done:
                active.remove(f)
        if until is not None and time.time() >= until:
            return
        if active:
            time.sleep(0.1)


class LogReader:
    """Reads a container's log records as they come.  The file is held open: a container removed
    while a client follows it (``docker run --rm`` removes it right after the exit) still yields
    what it wrote."""

    def __init__(self, path: str):
        self.path = path
        self.file: Any = None
        self.offset = 0

    def read(self) -> list[tuple[str, str, bytes]]:
        """(timestamp, stream, bytes) of the whole records written since the last call (a partial
        line's pieces come as they are: bytes are bytes)."""
        from rootless.monitor.stdio import parse_log_line

        if self.file is None:
            try:
                self.file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
            except FileNotFoundError:
                return []
        self.file.seek(self.offset)
        data = self.file.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].split(b"\n"):
            parsed = parse_log_line(line)
            if parsed:
                ts, stream, full, text = parsed
                out.append((ts, stream, text + (b"\n" if full else b"")))
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
