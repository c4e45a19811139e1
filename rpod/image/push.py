"""``rpod push`` to a registry: blobs first (HEAD, cross-repository mount, upload), then the manifest.

For each layer, as containers/image does: ``HEAD`` in the destination repository (present:
skipped); else a cross-repository mount from a repository of the same registry the image is
known in (its names and repo digests); else an upload — one ``PUT`` for blobs up to
``MONOLITHIC_MAX``, ``PATCH`` chunks above it.  A failed chunk asks the registry how much it
has (``GET`` on the upload URL, its ``Range``) and resumes from there; a failed monolithic
upload starts again; both give up after ``RETRIES`` attempts without progress.  Layers go up
``PARALLEL`` at a time; the config last, then the manifest under the tag.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from rpod.errors import RegistryError, RpodError
from rpod.image.source import Blob, ImageSource

MONOLITHIC_MAX = 32 << 20
CHUNK_SIZE = 16 << 20
RETRIES = 4
PARALLEL = 3


@dataclass
class PushOptions:
    """What ``rpod push`` can ask for."""

    tls_verify: bool | None = None
    creds: str | None = None
    authfile: str | None = None
    cert_dir: str | None = None
    format: str | None = None
    compression: str | None = None
    digestfile: str | None = None
    remove_signatures: bool = False
    chunk_size: int = CHUNK_SIZE
    monolithic_max: int = MONOLITHIC_MAX


class _Counting:
    """A file wrapper that reports the bytes read."""

    def __init__(self, f: IO[bytes], on_bytes: Callable[[int], None]):
        self.f = f
        self.on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if data:
            self.on_bytes(len(data))
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.f.seek(pos, whence)

    def tell(self) -> int:
        return self.f.tell()

    def seekable(self) -> bool:
        return True


def client_for(registry: str, repository: str, opts: PushOptions) -> Any:
    """A registry client with the credentials and TLS settings for ``registry``."""
    from rpod.image.auth import credentials_for, parse_creds
    from rpod.image.registries_conf import load_registries_config
    from rpod.image.registry import RegistryClient

    creds = parse_creds(opts.creds) if opts.creds else credentials_for(registry, repository, authfile=opts.authfile)
    insecure = False
    try:
        insecure = load_registries_config().is_insecure(registry)
    except (AttributeError, RpodError):
        insecure = False
    return RegistryClient(registry, insecure=insecure, tls_verify=opts.tls_verify, credentials=creds,
                          certs_dir=opts.cert_dir)


def mount_sources(src: ImageSource, registry: str, repo: str) -> list[str]:
    """Repositories on ``registry`` that may already hold the image's blobs (for a mount)."""
    from rpod.image.store import split_name

    out = []
    for name in src.record.names + src.record.repo_digests + src.record.names_history:
        base = split_name(name)[0]
        host, _, path = base.partition("/")
        if host == registry and path and path != repo:
            out.append(path)
    return list(dict.fromkeys(out))


def push_to_registry(src: ImageSource, ref: Any, opts: PushOptions, progress: Any) -> str:
    """Push ``src`` to ``ref`` (registry/repository:tag); returns the manifest digest."""
    client = client_for(ref.registry, ref.repository, opts)
    repo = ref.repository
    mounts = mount_sources(src, ref.registry, repo)
    progress.message("Getting image source signatures")
    blobs = list({b.digest: b for b in src.layers}.values())
    if len(blobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(blobs))) as pool:
            for f in [pool.submit(_push_blob, client, repo, b, mounts, opts, progress) for b in blobs]:
                f.result()
    for b in blobs if len(blobs) <= 1 else []:
        _push_blob(client, repo, b, mounts, opts, progress)
    _push_blob(client, repo, src.config, mounts, opts, progress, kind="config")
    progress.message("Writing manifest to image destination")
    digest = client.push_manifest(repo, ref.digest or ref.tag or "latest", src.manifest, src.manifest_type)
    progress.message("Storing signatures")
    return digest


def _push_blob(client: Any, repo: str, blob: Blob, mounts: list[str], opts: PushOptions, progress: Any,
               kind: str = "blob") -> None:
    if client.blob_exists(repo, blob.digest):
        progress.blob_done(blob.digest, skipped=True, kind=kind)
        return
    for from_repo in mounts:
        try:
            if client.mount_blob(repo, blob.digest, from_repo):
                progress.blob_done(blob.digest, skipped=True, kind=kind)
                return
        except RegistryError:
            continue
    progress.blob_start(blob.digest, blob.size, kind=kind)
    if blob.size > opts.monolithic_max:
        upload_chunked(client, repo, blob, opts.chunk_size, lambda n: progress.blob_advance(blob.digest, n))
    else:
        _upload_monolithic(client, repo, blob, lambda n: progress.blob_advance(blob.digest, n))
    progress.blob_done(blob.digest, kind=kind)


def _upload_monolithic(client: Any, repo: str, blob: Blob, on_bytes: Callable[[int], None]) -> None:
    last: Exception | None = None
    for attempt in range(RETRIES):
        sent = 0

        def count(n: int) -> None:
            nonlocal sent
            sent += n
            on_bytes(n)

        try:
            with blob.open() as f:
                client.push_blob(repo, blob.digest, _Counting(f, count), blob.size)
            return
        except (OSError, RegistryError) as e:
            if isinstance(e, RegistryError) and not _transient(e):
                raise
            last = e
            on_bytes(-sent)
            time.sleep(0.2 * 2 ** attempt)
    raise RegistryError(f"uploading {blob.digest}: {last}", hint="run the push again")


def _transient(e: RegistryError) -> bool:
    text = str(e)
    return "cannot reach" in text or any(f"answered {c}" in text for c in (408, 429, 500, 502, 503, 504))


def upload_chunked(client: Any, repo: str, blob: Blob, chunk_size: int, on_bytes: Callable[[int], None]) -> None:
    """``PATCH`` chunks with ``Content-Range``; resume after a failure from what the registry has."""
    where = f"{client.registry}/{repo}@{blob.digest}"
    with client._start_upload(repo, where) as resp:
        if resp.status_code != 202:
            raise client._status_error(resp, where)
        location = client._upload_location(resp, where)
    push = {"repo": repo, "actions": "pull,push", "what": where, "retry": False}
    sent = 0
    failures = 0
    with blob.open() as f:
        while sent < blob.size:
            f.seek(sent)
            chunk = f.read(min(chunk_size, blob.size - sent))
            headers = {"Content-Type": "application/octet-stream",
                       "Content-Range": f"{sent}-{sent + len(chunk) - 1}", "Content-Length": str(len(chunk))}
            try:
                with client.request("PATCH", location, data=chunk, headers=headers, **push) as resp:
                    if resp.status_code != 202:
                        raise client._status_error(resp, where)
                    location = client._upload_location(resp, where)
                sent += len(chunk)
                on_bytes(len(chunk))
                failures = 0
            except (OSError, RegistryError) as e:
                failures += 1
                if failures > RETRIES or (isinstance(e, RegistryError) and not _transient(e)):
                    raise
                time.sleep(0.2 * 2 ** (failures - 1))
                have, location = _upload_status(client, location, push, where)
                on_bytes(have - sent)
                sent = have
    from rpod.image.registry import _add_query

    with client.request("PUT", _add_query(location, digest=blob.digest), data=b"",
                        headers={"Content-Length": "0"}, **push) as resp:
        if resp.status_code not in (201, 204):
            raise client._status_error(resp, where)


def _upload_status(client: Any, location: str, push: dict[str, Any], where: str) -> tuple[int, str]:
    """How many bytes the registry has of an upload (``Range: 0-N``) and the location to go on at."""
    from urllib.parse import urljoin

    with client.request("GET", location, **push) as resp:
        if resp.status_code not in (200, 204):
            raise client._status_error(resp, where)
        rng = resp.headers.get("Range", "")
        loc = resp.headers.get("Location")
        have = int(rng.rpartition("-")[2]) + 1 if "-" in rng else 0
        return have, urljoin(resp.url, loc) if loc else location

