"""Image verbs of the API service (``rpod.engine.api_support`` re-exports them): Docker's names,
pull progress as Docker's JSON lines, build from a tar body, push, save and load as streams."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from rpod.paths import Paths


def store() -> Paths:
    return Paths.default()


def _raise_first(reports: list[Any]) -> None:
    for r in reports:
        if r.error is not None:
            raise r.error


# -------------------------------------------------------------------------------------------- images
def docker_name(name: str) -> str:
    """Docker clients spell Docker Hub names out (``docker.io/library/alpine``): give rpod's
    short-name resolution (registries.conf) the name the user typed."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def images() -> list[Any]:
    from rpod.image.store import ImageStore

    return ImageStore(store()).list()


def image(name: str) -> Any:
    """An image by id, full name or short name (``NoSuchImage``)."""
    from rpod.engine import images as ei

    return ei.resolve(store(), docker_name(name))


def image_inspect(rec: Any) -> dict[str, Any]:
    from rpod.image.reports import inspect_image
    from rpod.image.store import ImageStore

    return inspect_image(ImageStore(store()), rec)


def image_in_use() -> dict[str, list[str]]:
    from rpod.engine import images as ei

    return ei.containers_by_image(store())


class PullEvents:
    """Pull progress as Docker's JSON lines, handed to ``emit`` (one dict per event)."""

    def __init__(self, emit: Any):
        self.emit = emit
        self.sizes: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def message(self, text: str) -> None:
        self.emit({"status": text})

    def blob_start(self, digest: str, size: int, kind: str = "blob") -> None:
        self.sizes[digest], self.done[digest] = size, 0
        self.emit({"status": "Pulling fs layer", "progressDetail": {}, "id": _short(digest)})

    def blob_advance(self, digest: str, nbytes: int) -> None:
        self.done[digest] = self.done.get(digest, 0) + nbytes
        self.emit({"status": "Downloading", "id": _short(digest),
                   "progressDetail": {"current": self.done[digest], "total": self.sizes.get(digest, 0)}})

    def blob_done(self, digest: str, skipped: bool = False, kind: str = "blob") -> None:
        self.emit({"status": "Already exists" if skipped else "Download complete", "progressDetail": {},
                   "id": _short(digest)})

    def close(self) -> None:
        pass


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def pull(name: str, emit: Any, platform: str | None = None, creds: str | None = None) -> Any:
    """Pull ``name`` reporting progress through ``emit(dict)``; the image record."""
    from rpod.image.pull import Puller, PullOptions, parse_platform

    opts = PullOptions(creds=creds)
    if platform:
        opts.os, opts.arch, opts.variant = parse_platform(platform)
    return Puller(store(), opts, PullEvents(emit)).pull(docker_name(name))  # type: ignore[arg-type]


def tag(name: str, target: str) -> None:
    from rpod.engine import images as ei

    ei.tag(docker_name(name), [target], store())


def remove_image(name: str, force: bool) -> tuple[list[str], list[str]]:
    """(untagged, deleted)."""
    from rpod.engine import images as ei

    image(name)  # missing: an error even with force (Docker's 404)
    reports = ei.remove(ei.RemoveOptions(names=[docker_name(name)], force=force), store())
    _raise_first(reports)
    lines = [ln for r in reports for ln in r.lines()]
    return ([ln.removeprefix("Untagged: ") for ln in lines if ln.startswith("Untagged: ")],
            [ln.removeprefix("Deleted: ") for ln in lines if ln.startswith("Deleted: ")])


def prune_images(all_: bool, filters: dict[str, list[str]] | None = None) -> list[tuple[str, int]]:
    from rpod.engine import images as ei

    return [(r.id, r.size) for r in ei.prune(all_, filters, store())]


def image_config(rec: Any) -> dict[str, Any]:
    from rpod.image.store import ImageStore

    return ImageStore(store()).config(rec)


# -------------------------------------------------------------------------------- build, push, load
def _chunk_reader(chunks: Iterator[bytes]) -> Any:
    """A buffered file object over an iterator of byte chunks (a request body streamed to a reader)."""
    import io

    class Raw(io.RawIOBase):
        def __init__(self) -> None:
            self.pending = b""

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            while not self.pending:
                try:
                    self.pending = next(chunks)
                except StopIteration:
                    return 0
            n = min(len(b), len(self.pending))
            b[:n] = self.pending[:n]
            self.pending = self.pending[n:]
            return n

    return io.BufferedReader(Raw(), 65536)


def build(chunks: Iterator[bytes], emit: Any, *, dockerfile: str, tags: list[str], build_args: dict[str, str],
          labels: dict[str, str], target: str | None, no_cache: bool, pull: bool, quiet: bool,
          rm: bool, force_rm: bool, platform: str | None) -> Any:
    """Build from a tar context (a request body); progress lines through ``emit(str)``."""
    import shutil

    from rpod.engine import builds

    req = builds.BuildRequest(context="-", file=dockerfile or None, stdin=_chunk_reader(chunks))  # type: ignore[arg-type]
    context, text, cf_path, scratch = builds.prepare_context(req, store())
    try:
        opts = builds.BuildOptions(context=context, containerfile=text, containerfile_path=cf_path,
                                   tags=builds.normalize_names(tags), commit_name=tags[0] if tags else "",
                                   target=target or None, build_args=build_args, labels=labels, fmt="docker",
                                   no_cache=no_cache, pull="always" if pull else "missing", quiet=quiet, rm=rm,
                                   force_rm=force_rm, platform=platform or None)
        return builds.build(opts, emit, store())
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def push(name: str, emit: Any, creds: str | None) -> str:
    """Push a local image to its registry; the manifest digest."""
    from rpod.engine import image_ship
    from rpod.image.push import PushOptions

    return image_ship.push(docker_name(name), "", PushOptions(creds=creds), PullEvents(emit), store())


def load(chunks: Iterator[bytes], emit: Any) -> list[str]:
    """Load a docker-archive/oci-archive (a request body); the names (or ids) loaded."""
    import tempfile

    from rpod.engine import image_ship

    p = store()
    p.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=p.tmp, prefix="api-load-", suffix=".tar") as f:
        for c in chunks:
            f.write(c)
        f.flush()
        loaded = image_ship.load(f.name, PullEvents(emit), p)
    return [n for rec in loaded.records for n in (rec.names or ["sha256:" + rec.id])]


def save(names: list[str]) -> Iterator[bytes]:
    """A docker-archive of ``names``, streamed (written to a scratch file first, then read back)."""
    import tempfile

    from rpod.engine import image_ship
    from rpod.progress import QuietProgress

    p = store()
    p.tmp.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=p.tmp, prefix="api-save-", suffix=".tar")
    os.close(fd)
    os.unlink(path)
    image_ship.save([docker_name(n) for n in names], "docker-archive", path, True, QuietProgress(), paths=p)

    def chunks() -> Iterator[bytes]:
        try:
            with open(path, "rb") as f:
                while data := f.read(65536):
                    yield data
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    return chunks()
