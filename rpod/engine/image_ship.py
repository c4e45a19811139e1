"""Engine verbs that ship images in and out of the store: import, push, save, load, history,
diff, tree, mount, search, manifest lists (issue #12; kept apart from ``images.py`` for merges).

Every function takes an options dataclass (from the domain module that does the work) and a
progress callback, never prints, and raises ``rpod.errors`` exceptions.
"""

from __future__ import annotations

from typing import Any

from rpod.image.importer import ImportOptions
from rpod.image.push import PushOptions
from rpod.paths import Paths
from rpod.progress import QuietProgress, make_progress

__all__ = ["ImportOptions", "PushOptions", "QuietProgress", "make_progress"]


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


def _full_name(rec: Any, name: str) -> str:
    """The stored name ``name`` stands for ("" when it was an ID)."""
    if rec.id.startswith(name.removeprefix("sha256:")):
        return ""
    from rpod.image.store import split_name

    repo, tag = split_name(name)
    want = f"{repo}:{tag or 'latest'}"
    for n in rec.names:
        if n == want or n.endswith("/" + want):
            return n
    return rec.names[0] if rec.names else ""


def push(source: str, destination: str, opts: Any, progress: Any, paths: Paths | None = None) -> str:
    """``rpod push IMAGE [DEST]``; returns the manifest digest written."""
    from rpod.errors import UsageError
    from rpod.events import record
    from rpod.image.push import push_to_registry
    from rpod.image.reference import parse_reference
    from rpod.image.source import open_image, resolve_local
    from rpod.image.transports import docker_format_needed, parse_destination, write_to

    p = _paths(paths)
    rec = resolve_local(p, source)
    dest = parse_destination(destination or _full_name(rec, source) or source)
    src = open_image(p, rec, opts.format or docker_format_needed(dest), opts.compression, progress,
                     compress_plain=dest.transport == "docker")
    try:
        if dest.transport == "docker":
            ref = parse_reference(dest.reference)
            if ref.is_short:
                raise UsageError(f"{dest.reference}: a push needs a fully qualified destination "
                                 "(registry/repository[:tag])")
            digest = push_to_registry(src, ref, opts, progress)
        else:
            progress.message("Getting image source signatures")
            names = [dest.reference] if dest.reference else ([_full_name(rec, source)] if dest.transport
                                                                 == "docker-archive" and _full_name(rec, source)
                                                                 else [])
            write_to(dest, [(src, names)], progress)
            digest = src.manifest_digest
    finally:
        src.cleanup()
    if opts.digestfile:
        with open(opts.digestfile, "w") as f:
            f.write(digest)
    record(p, "image", "push", id=rec.id, name=destination or source)
    return digest


def save(names: list[str], fmt: str, output: str, multi: bool, progress: Any, compress: bool = False,
         paths: Paths | None = None, uncompressed: bool = False) -> None:
    """``rpod save``: images into a docker-archive, oci-archive, oci-dir or docker-dir."""
    from rpod.errors import UsageError
    from rpod.image.source import open_image, resolve_local
    from rpod.image.transports import Destination, write_to

    p = _paths(paths)
    fmt = fmt or "docker-archive"
    transport = {"docker-archive": "docker-archive", "oci-archive": "oci-archive", "oci-dir": "oci",
                 "docker-dir": "dir"}.get(fmt)
    if transport is None:
        raise UsageError(f"unknown format {fmt!r}: use docker-archive, oci-archive, oci-dir or docker-dir")
    if transport in ("oci", "dir") and not output:
        raise UsageError(f"--format {fmt} needs a directory given with -o")
    if multi and fmt != "docker-archive" and len(names) > 1 and transport != "oci-archive":
        raise UsageError("--multi-image-archive is only supported with --format=docker-archive or oci-archive")
    manifest_fmt = "docker" if fmt in ("docker-archive", "docker-dir") else "oci"
    # --uncompressed: OCI layers as plain tars; --compress: docker-dir layers gzipped
    layer_comp = "none" if uncompressed and manifest_fmt == "oci" else ("gzip" if compress and fmt == "docker-dir" else None)
    images = []
    try:
        if multi or len(names) == 1:
            for name in names:
                rec = resolve_local(p, name)
                full = _full_name(rec, name)
                images.append((open_image(p, rec, manifest_fmt, layer_comp, progress), [full] if full else []))
        else:  # as Podman: the other names are additional tags of the first image
            rec = resolve_local(p, names[0])
            tags = [t for t in [_full_name(rec, names[0])] + [_normalize(n) for n in names[1:]] if t]
            images.append((open_image(p, rec, manifest_fmt, layer_comp, progress), tags))
        write_to(Destination(transport, output), images, progress)
    finally:
        for src, _ in images:
            src.cleanup()
    from rpod.events import record

    for name in names if multi or len(names) == 1 else names[:1]:
        record(p, "image", "save", id=resolve_local(p, name).id, name=output)


def _normalize(name: str) -> str:
    from rpod.image.manage import normalize_tag

    return normalize_tag(name)


def load(source: str, progress: Any, paths: Paths | None = None) -> Any:
    """``rpod load``: every image of an archive file (``source``; ``-``/empty: stdin)."""
    import sys

    from rpod.errors import RpodError
    from rpod.events import record
    from rpod.image.load import load_archive

    p = _paths(paths)
    if source in ("", "-"):
        loaded = load_archive(p, sys.stdin.buffer, progress)
    elif source.startswith(("http://", "https://")):
        import requests

        try:
            resp = requests.get(source, stream=True, timeout=60)
            resp.raise_for_status()
        except requests.RequestException as e:
            raise RpodError(f"fetching {source}: {e}") from e
        with resp:
            resp.raw.decode_content = True
            loaded = load_archive(p, resp.raw, progress)
    else:
        try:
            f = open(source, "rb")  # noqa: SIM115
        except OSError as e:
            raise RpodError(f"{source}: {e.strerror.lower() if e.strerror else e}") from e
        with f:
            loaded = load_archive(p, f, progress)
    # Podman 4.3.1's one event for a load: "loadfromarchive", named by the archive, no id
    record(p, "image", "loadfromarchive", id="", name=source if source not in ("", "-") else "/dev/stdin")
    return loaded


def history(name: str, paths: Paths | None = None) -> list[Any]:
    """``rpod history``: the image's history entries, newest first."""
    from rpod.image.history import history as image_history
    from rpod.image.source import resolve_local

    p = _paths(paths)
    return image_history(p, resolve_local(p, name))


class HistoryRow:
    """One ``history`` row as the templates see it (Podman's historyReporter)."""

    def __init__(self, entry: object, human: bool, no_trunc: bool):
        self.e = entry
        self.human = human
        self.no_trunc = no_trunc

    @property
    def ID(self) -> str:  # noqa: N802 - template field names
        i = self.e.id  # type: ignore[attr-defined]
        return i if self.no_trunc or i == "<missing>" else i[:12]

    @property
    def Created(self) -> str:  # noqa: N802
        from rpod.humanize import parse_time, since

        ts = parse_time(self.e.created)  # type: ignore[attr-defined]
        if self.human:
            return since(ts) if ts else ""
        return self._rfc3339  # --human=false: RFC 3339 (CreatedAt is Go's time.String form, as Podman)

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        import datetime

        from rpod.humanize import parse_time

        ts = parse_time(self.e.created)  # type: ignore[attr-defined]
        if not ts:
            return ""
        return datetime.datetime.fromtimestamp(int(ts), datetime.UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")

    @property
    def _rfc3339(self) -> str:
        import datetime

        from rpod.humanize import parse_time

        ts = parse_time(self.e.created)  # type: ignore[attr-defined]
        return datetime.datetime.fromtimestamp(int(ts), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else ""

    @property
    def CreatedSince(self) -> str:  # noqa: N802 - Podman's is Created's other name
        return self.Created

    @property
    def CreatedBy(self) -> str:  # noqa: N802
        text = self.e.created_by  # type: ignore[attr-defined]
        return text if self.no_trunc or len(text) <= 45 else text[:42] + "..."

    @property
    def Size(self) -> str:  # noqa: N802
        from rpod.humanize import human_size

        return human_size(self.e.size)  # type: ignore[attr-defined]  # --human=false too, as Podman 4.3.1

    @property
    def Comment(self) -> str:  # noqa: N802
        return self.e.comment  # type: ignore[attr-defined]

    @property
    def Tags(self) -> list[str]:  # noqa: N802
        return self.e.tags  # type: ignore[attr-defined]


def history_rows(name: str, human: bool = True, no_trunc: bool = False, paths: Paths | None = None) -> list[HistoryRow]:
    """``rpod history`` rows (template fields as Podman's historyReporter)."""
    return [HistoryRow(e, human, no_trunc) for e in history(name, paths)]


def history_json(rows: list[HistoryRow]) -> list[dict[str, Any]]:
    """``history --format json``."""
    from rpod.image.history import history_json as as_json

    return as_json([r.e for r in rows])


def tree(name: str, whatrequires: bool = False, paths: Paths | None = None) -> str:
    """``rpod image tree [--whatrequires]``: the image's layers (or those built on it) as text."""
    from rpod.image.layertree import tree as image_tree
    from rpod.image.source import resolve_local

    p = _paths(paths)
    return image_tree(p, resolve_local(p, name), whatrequires)


def image_diff(name: str, other: str | None = None, paths: Paths | None = None) -> list[tuple[str, str]]:
    """``rpod image diff IMAGE [IMAGE]``: ``[(kind, path)]``."""
    from rpod.image.history import image_diff as diff
    from rpod.image.source import resolve_local

    p = _paths(paths)
    return diff(p, resolve_local(p, name), resolve_local(p, other) if other else None)


def mount(names: list[str], paths: Paths | None = None) -> list[tuple[Any, Any]]:
    """``rpod image mount [IMAGE...]``: mount each image (inside ``rpod unshare``); without names,
    the images mounted now.  Returns ``[(record, mount point)]``."""
    from rpod.image.mount import mount_image, mounted_images, require_unshare
    from rpod.image.source import resolve_local

    require_unshare("image mount")
    p = _paths(paths)
    if not names:
        return mounted_images(p)
    out = []
    for name in names:
        rec = resolve_local(p, name)
        out.append((rec, mount_image(p, rec)))
    return out


def unmount(names: list[str], all_: bool = False, paths: Paths | None = None) -> list[str]:
    """``rpod image unmount``: the IDs of the images unmounted."""
    from rpod.errors import RpodError
    from rpod.image.mount import mounted_images, require_unshare, unmount_image
    from rpod.image.source import resolve_local

    require_unshare("image unmount")
    p = _paths(paths)
    recs = [r for r, _ in mounted_images(p)] if all_ else [resolve_local(p, n) for n in names]
    done = []
    for rec in recs:
        if not unmount_image(p, rec) and not all_:
            raise RpodError(f"image {rec.id} is not mounted")
        done.append(rec.id)
    return done


def all_image_ids(paths: Paths | None = None) -> list[str]:
    from rpod.image.store import ImageStore

    return [r.id for r in ImageStore(_paths(paths)).list()]


def search(term: str, opts: Any) -> list[Any]:
    """``rpod search``: ``SearchResult`` rows."""
    from rpod.image.search import search as search_registries

    return search_registries(term, opts)


def search_options(**kw: Any) -> Any:
    from rpod.image.search import SearchOptions

    return SearchOptions(**kw)
