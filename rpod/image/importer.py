"""``rpod import``: a root filesystem tarball (file, URL or stdin) becomes a one-layer image.

The tarball is read once: decompressed as it arrives (gzip, zstd, xz, bzip2 or plain) and
handed to ``localstore.add_layer_from_tar``, which unpacks and recompresses it in the same
pass.  The config is what Podman's ``import`` writes: the host platform, ``--change``
instructions, one history entry ``/bin/sh -c #(nop) ADD file:<diffid> in /`` carrying
``--message``; ``created`` is the file's mtime (as Podman), or now for URLs and stdin.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from rpod.errors import RpodError
from rpod.image.store import ImageRecord
from rpod.paths import Paths


@dataclass
class ImportOptions:
    source: str  # path, http(s) URL or "-"
    reference: str = ""
    changes: list[str] = field(default_factory=list)
    message: str = ""
    os: str = ""
    arch: str = ""
    variant: str = ""


def rfc3339(ns: int) -> str:
    """Go's RFC 3339 with nanoseconds (``ns`` since the epoch), as Podman writes ``created``."""
    dt = datetime.datetime.fromtimestamp(ns // 1_000_000_000, datetime.UTC)
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def _open_source(source: str) -> tuple[IO[bytes], int | None, Callable[[], None]]:
    """(stream, mtime or None, close) for a path, URL or ``-``."""
    if source == "-":
        return sys.stdin.buffer, None, lambda: None
    if source.startswith(("http://", "https://")):
        import requests

        try:
            resp = requests.get(source, stream=True, timeout=60)
            resp.raise_for_status()
        except requests.RequestException as e:
            raise RpodError(f"fetching {source}: {e}") from e
        resp.raw.decode_content = True
        return resp.raw, None, resp.close
    try:
        f = open(source, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise RpodError(f"stat {source}: no such file or directory") from None
    except IsADirectoryError:
        raise RpodError(f"{source}: is a directory, import takes a tarball") from None
    return f, os.fstat(f.fileno()).st_mtime_ns, f.close


def normalize_reference(reference: str) -> str:
    """A name as Podman stores it: ``app`` → ``localhost/app:latest``."""
    from rpod.image.manage import normalize_tag

    return normalize_tag(reference) if reference else ""


def import_tarball(paths: Paths, opts: ImportOptions, progress: Any = None) -> ImageRecord:
    """Store ``opts.source`` as a one-layer image; returns its record."""

    from rpod.image.compression import open_decompressed
    from rpod.image.lease import Lease
    from rpod.image.localstore import add_layer_from_tar

    name = normalize_reference(opts.reference)
    with Lease(paths.ensure(), "import") as lease:
        raw, mtime, close = _open_source(opts.source)
        try:
            stream, _ = open_decompressed(raw)
            if progress:
                progress.message("Getting image source signatures")
            layer = add_layer_from_tar(paths, stream, lease=lease)
        except (OSError, EOFError) as e:
            raise RpodError(f"reading {opts.source}: {e}") from e
        finally:
            close()
        return _record(paths, opts, layer, name, mtime, progress, lease)


def _record(paths: Paths, opts: ImportOptions, layer: Any, name: str, mtime: int | None, progress: Any,
            lease: Any) -> ImageRecord:
    import time

    from rpod.hostfacts import host_arch
    from rpod.image.changes import apply_changes
    from rpod.image.localstore import add_image

    created = rfc3339(mtime if mtime is not None else time.time_ns())
    history: dict[str, Any] = {"created": created,
                               "created_by": f"/bin/sh -c #(nop) ADD file:{layer.diff_id.partition(':')[2]} in /"}
    if opts.message:
        history["comment"] = opts.message
    config: dict[str, Any] = {"created": created, "architecture": opts.arch or host_arch(), "os": opts.os or "linux"}
    if opts.variant:
        config["variant"] = opts.variant
    config["config"] = apply_changes({}, opts.changes)
    config["rootfs"] = {}
    config["history"] = [history]
    if progress:
        progress.blob_done(layer.digest)
    rec = add_image(paths, config, [layer], [name] if name else [], lease=lease)
    if progress:
        progress.blob_done("sha256:" + rec.id, kind="config")
        progress.message("Writing manifest to image destination")
        progress.message("Storing signatures")
    return rec
