"""Pull orchestration: resolve the name → manifest → config → layers in parallel → record.

Layers already in the store are not fetched again.  Each missing layer is
locked (flock in the run root) so two pulls of the same image at once fetch
each blob once: the second waits, then finds the layer present.  Locks are
taken in sorted order, so pulls sharing layers cannot deadlock.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from rpod.errors import (
    DigestMismatch,
    ManifestUnknown,
    NoSuchImage,
    RegistryError,
    RpodError,
    UnsupportedMediaType,
    UsageError,
)
from rpod.hostfacts import host_arch
from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths
from rpod.records import field, record
from rpod.storefile import locked

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.progress import PullProgress

PARALLEL_LAYERS = 4
MAX_CONFIG_SIZE = 4 << 20  # as containers/image (iolimits.maxConfigBodySize)


@record
class PullOptions:
    """What ``rpod pull`` (and ``run --pull``) can ask for."""

    os: str = "linux"
    arch: str = ""
    variant: str = ""
    tls_verify: bool | None = None
    creds: str | None = None
    authfile: str | None = None
    cert_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def platform(self) -> tuple[str, str, str]:
        return self.os or "linux", self.arch or host_arch(), self.variant


def parse_platform(value: str) -> tuple[str, str, str]:
    """``os/arch[/variant]`` → its parts."""
    parts = value.split("/")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise UsageError(f"invalid platform {value!r}: expected os/arch[/variant], e.g. linux/arm64")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def candidates(name: str) -> list[Any]:
    """The fully qualified references a user-given name may stand for, in the order to try."""
    from rpod.image.reference import parse_reference
    from rpod.image.registries_conf import load_registries_config

    ref = parse_reference(name)
    if not ref.is_short:
        return [ref]
    return load_registries_config().resolve_short_name(name)


def local_candidates(name: str) -> list[str]:
    """Fully qualified names for a local lookup of ``name`` (no network)."""
    try:
        return [str(r) for r in candidates(name)]
    except RpodError:
        return []


class Puller:
    """Pulls images into one store."""

    def __init__(self, paths: Paths, opts: PullOptions | None = None, progress: PullProgress | None = None):
        # requests takes ~60 ms to import: let it load while this thread starts the unpack helper
        import threading

        threading.Thread(target=_preload_http, daemon=True).start()
        self.paths = paths.ensure()
        self.store = ImageStore(paths)
        self.opts = opts or PullOptions()
        if not progress:
            from rpod.progress import QuietProgress

            progress = QuietProgress()
        self.progress = progress
        self._mapping = None
        self._spare: Any = None  # an unpack helper started early (see layerfetch.spawn_spare)

    @property
    def mapping(self):  # noqa: ANN201
        if self._mapping is None:
            from rootless.subid import default_mapping

            self._mapping = default_mapping()
            if self._mapping.mode == "single":
                from rpod.log import warn

                warn(f"using a single-id user namespace: files owned by other ids are stored as root "
                     f"({self._mapping.reason})")
        return self._mapping

    # entry points -------------------------------------------------------
    def pull(self, name: str) -> ImageRecord:
        """Pull ``name`` (short names tried through registries.conf in order; ``docker-archive:``
        and ``oci-archive:`` references load that archive, as Podman's transports do)."""
        try:
            rec = self._pull_archive(name) if name.startswith(ARCHIVE_TRANSPORTS) else self._pull(name)
            from rpod.events import record

            # Podman's pull event of an archive reference carries no id (090-events)
            record(self.paths, "image", "pull", id="" if name.startswith(ARCHIVE_TRANSPORTS) else rec.id, name=name)
            return rec
        finally:
            if self._spare is not None:
                from rpod.image.layerfetch import discard_helper

                discard_helper(self._spare, self.mapping)
                self._spare = None

    def _pull_archive(self, name: str) -> ImageRecord:
        """``docker-archive:PATH[:REF]`` / ``oci-archive:PATH[:REF]``: the (first) image of the archive."""
        from rpod.image.load import load_archive

        path = name.partition(":")[2]
        if not os.path.exists(path) and ":" in path:
            path = path.partition(":")[0]
        try:
            f = open(path, "rb")  # noqa: SIM115
        except OSError as e:
            raise RpodError(f"{name}: {e.strerror or e}") from None
        with f:
            loaded = load_archive(self.paths, f, self.progress)
        return loaded.records[0]

    def _pull(self, name: str) -> ImageRecord:
        refs = candidates(name)
        errors: list[RpodError] = []
        for ref in refs:
            self.progress.message(f"Trying to pull {ref}...")
            try:
                return self.pull_reference(ref)
            except ManifestUnknown as e:
                errors.append(e)
            except RegistryError as e:
                if len(refs) == 1:
                    raise
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        detail = "; ".join(str(e) for e in errors)
        raise ManifestUnknown(f"{name}: no candidate registry has it: {detail}",
                              hint="use a fully qualified name such as registry.example.com/repo:tag")

    def _client(self, registry: str, repository: str, insecure: bool) -> Any:
        from rpod.image.auth import credentials_for, parse_creds
        from rpod.image.registry import RegistryClient

        creds = parse_creds(self.opts.creds) if self.opts.creds else credentials_for(
            registry, repository, authfile=self.opts.authfile)
        return RegistryClient(registry, insecure=insecure, tls_verify=self.opts.tls_verify,
                              credentials=creds, certs_dir=self.opts.cert_dir)

    def sources(self, ref: Any) -> list[tuple[Any, Any]]:
        """(client, rewritten reference) for each place to try: mirrors first, then the registry.

        Raises ``BlockedRegistry`` when registries.conf blocks the registry.
        """
        from rpod.image.registries_conf import load_registries_config

        return [(self._client(src.reference.registry, src.reference.repository, src.insecure), src.reference)
                for src in load_registries_config().pull_sources(ref)]

    def client_for(self, ref: Any) -> tuple[Any, str]:
        """A client for the registry itself (not a mirror) and the repository there."""
        client, where = self.sources(ref)[-1]
        return client, where.repository

    def _top_manifest(self, ref: Any) -> tuple[Any, Any, Any]:
        """The manifest (or index) of ``ref`` from the first source that has it: (client, where, manifest)."""
        from rpod.image import mediatypes as mt

        sources = self.sources(ref)
        last: RpodError | None = None
        for client, where in sources:
            try:
                top = client.get_manifest(where.repository, where.digest or where.tag or "latest",
                                          accept=mt.ALL_MANIFEST_TYPES)
                return client, where, top
            except RegistryError as e:
                last = e
                if len(sources) > 1:
                    self.progress.message(f"Error pulling from {where.registry}: {e}")
        assert last is not None
        raise last

    def top_manifest(self, ref: Any) -> Any:
        """The manifest (or index) the registry serves for ``ref`` (mirrors first)."""
        return self._top_manifest(ref)[2]

    def remote_digest(self, ref: Any) -> str:
        """The digest the registry currently serves for ``ref``."""
        return self._top_manifest(ref)[2].digest

    def pull_reference(self, ref: Any) -> ImageRecord:
        """Pull one fully qualified reference, under a lease on what it uses (``rpod.image.lease``)
        until its image is recorded, so a concurrent ``rmi``/prune cannot delete a shared layer."""
        from rpod.image.lease import Lease

        with Lease(self.paths) as lease:
            return self._pull_reference(ref, lease)

    def _pull_reference(self, ref: Any, lease: Any) -> ImageRecord:
        from rpod.image import mediatypes as mt
        from rpod.image.validate import check_config, check_descriptor, check_manifest
        from rpod.log import debug

        debug(f"pull {ref}: resolving the manifest")
        if self._spare is None:
            from rpod.image.layerfetch import spawn_spare

            self._spare = spawn_spare(self.paths, self.mapping)
        client, where, top = self._top_manifest(ref)
        lease.add([top.digest])
        debug(f"pull {ref}: top manifest {top.digest} ({top.media_type})")
        repo = where.repository
        self.progress.message("Getting image source signatures")
        manifest = top
        if mt.is_index(top.media_type):
            index = _load_json(top.content, f"index {top.digest} of {ref}")
            os_, arch, variant = self.opts.platform()
            desc = check_descriptor(mt.select_platform(index, os=os_, arch=arch, variant=variant or None),
                                    f"index {top.digest} of {ref}")
            self.store.write_blob(top.digest, top.content)
            manifest = client.get_manifest(repo, desc["digest"], accept=mt.ALL_MANIFEST_TYPES)
        if not mt.is_manifest(manifest.media_type):
            raise UnsupportedMediaType(
                f"{ref}: manifest {manifest.digest} has media type {manifest.media_type!r}, "
                "which is not an image manifest rpod can run",
                hint="schema1 and artifact manifests are not supported")
        doc = _load_json(manifest.content, f"manifest {manifest.digest} of {ref}")
        check_manifest(doc, f"manifest {manifest.digest} of {ref}")
        config_desc = doc.get("config") or {}
        layer_descs = doc.get("layers") or []
        config_digest = config_desc.get("digest", "")
        if not config_digest.startswith("sha256:"):
            raise UnsupportedMediaType(f"{ref}: manifest {manifest.digest} has no sha256 config digest")
        lease.add([manifest.digest, config_digest])
        config_bytes = self._fetch_config(client, repo, config_desc)
        debug(f"pull {ref}: config {config_digest}")
        config = _load_json(config_bytes, f"config {config_digest} of {ref}")
        check_config(config, f"config {config_digest} of {ref}")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layer_descs):
            raise DigestMismatch(f"{ref}: the manifest lists {len(layer_descs)} layers but the config "
                                 f"{len(diff_ids)} diff_ids", hint="the image is corrupt")
        lease.add(str(d) for d in diff_ids)  # before looking which layers are present
        self._fetch_layers(client, repo, layer_descs, diff_ids)
        debug(f"pull {ref}: layers done")
        self.store.write_blob(manifest.digest, manifest.content)
        self.progress.message("Writing manifest to image destination")
        self.progress.message("Storing signatures")  # Podman's (containers/image's) closing step line
        name = str(ref) if not ref.digest or ref.tag else None
        repo_digests = [f"{ref.name}@{top.digest}"]
        if manifest.digest != top.digest:
            repo_digests.append(f"{ref.name}@{manifest.digest}")
        size = sum(int(self.store.layer_info(d).get("size", 0)) for d in diff_ids)
        record = ImageRecord(
            id=config_digest.partition(":")[2],
            names=[name] if name else [],
            digest=top.digest,
            repo_digests=repo_digests,
            layers=list(diff_ids),
            manifest_digest=manifest.digest,
            manifest_type=manifest.media_type,
            created=str(config.get("created") or ""),
            size=size,
            architecture=str(config.get("architecture") or ""),
            os=str(config.get("os") or ""),
            pulled_at=time.time(),
        )
        stored = self.store.put(record)
        debug(f"pull {ref}: image {record.id[:12]} recorded")
        return stored

    # pieces -------------------------------------------------------------
    def _fetch_config(self, client: Any, repo: str, desc: dict[str, Any]) -> bytes:
        digest = desc["digest"]
        if self.store.has_blob(digest):
            self.progress.blob_done(digest, skipped=True, kind="config")
            return self.store.read_blob(digest)
        size = int(desc.get("size") or 0)
        too_big = f"config {digest}: more than the {MAX_CONFIG_SIZE} bytes rpod accepts for an image config"
        if size > MAX_CONFIG_SIZE:
            raise UnsupportedMediaType(too_big)
        stream = client.open_blob(repo, digest)
        chunks, got = [], 0
        try:  # never more than the descriptor says, never more than the cap (no size: an endless blob)
            for chunk in stream.iter_chunks(1 << 16):
                got += len(chunk)
                if got > (size or MAX_CONFIG_SIZE):
                    raise (DigestMismatch(f"config {digest}: the registry sent more than the {size} bytes "
                                          "the manifest declares") if size else UnsupportedMediaType(too_big))
                chunks.append(chunk)
        finally:
            stream.close()
        data = b"".join(chunks)
        if size and len(data) != size:
            raise DigestMismatch(f"config {digest}: got {len(data)} bytes, the manifest declares {size}")
        self.store.write_blob(digest, data)
        self.progress.blob_done(digest, kind="config")
        return data

    def _fetch_layers(self, client: Any, repo: str, descs: list[dict[str, Any]], diff_ids: list[str]) -> None:
        from rpod.image import layerfetch
        from rpod.image.mediatypes import layer_compression
        from rpod.log import debug

        jobs: dict[str, layerfetch.LayerJob] = {}
        for desc, diff_id in zip(descs, diff_ids, strict=True):
            if diff_id in jobs:
                continue
            media_type = desc.get("mediaType", "")
            try:
                compression = layer_compression(media_type)
            except UnsupportedMediaType:
                raise UnsupportedMediaType(
                    f"{repo}: layer {desc.get('digest')} has media type {media_type!r}, which is not an "
                    "image layer rpod can unpack (tar, tar+gzip, tar+zstd)",
                    hint="the image was built for another tool (an artifact or foreign layer)") from None
            jobs[diff_id] = layerfetch.LayerJob(
                digest=desc["digest"], size=int(desc.get("size") or 0), media_type=media_type,
                compression=compression, diff_id=diff_id,
            )
        todo = []
        with contextlib.ExitStack() as stack:
            for diff_id in sorted(jobs):
                job = jobs[diff_id]
                if self.store.layer_present(diff_id):
                    self.progress.blob_done(job.digest, skipped=True)
                    continue
                lock = self.paths.locks / f"layer-{diff_id.partition(':')[2]}.lock"
                if not stack.enter_context(locked(lock, blocking=False)):
                    self.progress.message(f"Waiting for another pull of {job.digest}")
                    stack.enter_context(locked(lock))
                if self.store.layer_present(diff_id):
                    self.progress.blob_done(job.digest, skipped=True)
                    continue
                layerfetch.sweep_scratch(self.paths, diff_id, self.mapping)
                todo.append(job)
            # keep manifest order for progress; spawn helpers from this thread (never from workers)
            todo.sort(key=lambda j: diff_ids.index(j.diff_id))
            for start in range(0, len(todo), PARALLEL_LAYERS):
                batch = todo[start:start + PARALLEL_LAYERS]
                try:
                    for job in batch:
                        layerfetch.start_helper(self.paths, job, self.mapping, self._spare)
                        self._spare = None
                    debug(f"started {len(batch)} unpack helper(s)")
                    self._run_batch(client, repo, batch)
                finally:
                    for job in batch:
                        if job.helper is not None and job.helper.poll() is None:
                            job.helper.kill()
                            job.helper.wait()
                        if job.scratch is not None:
                            from rootless.userns import remove_tree

                            remove_tree(job.scratch, self.mapping)

    def _run_batch(self, client: Any, repo: str, batch: list[Any]) -> None:
        from rpod.image import layerfetch

        for job in batch:
            self.progress.blob_start(job.digest, job.size)

        def work(job: Any) -> None:
            layerfetch.fetch_layer(self.paths, client, repo, job,
                                   lambda n, d=job.digest: self.progress.blob_advance(d, n))
            self.progress.blob_done(job.digest)

        if len(batch) == 1:
            work(batch[0])
            return
        from concurrent.futures import ThreadPoolExecutor  # lazy: ~3 ms (logging), not on run's path

        with ThreadPoolExecutor(max_workers=len(batch)) as pool:
            futures = [pool.submit(work, job) for job in batch]
            errors = []
            for f in futures:
                try:
                    f.result()
                except BaseException as e:  # collect, kill the others' helpers, re-raise the first
                    errors.append(e)
                    for job in batch:
                        if job.helper is not None and job.helper.poll() is None:
                            job.helper.kill()
            if errors:
                raise errors[0]


def _preload_http() -> None:
    import requests  # noqa: F401

    import rpod.image.registry  # noqa: F401


def _load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise UnsupportedMediaType(f"{what} is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise UnsupportedMediaType(f"{what} is not a JSON object")
    return doc


ARCHIVE_TRANSPORTS = ("docker-archive:", "oci-archive:")


def ensure_image(paths: Paths, name: str, policy: str = "missing", opts: PullOptions | None = None,
                 progress: PullProgress | None = None) -> ImageRecord:
    """The image ``run``/``create`` asked for, pulled according to ``--pull`` (an archive
    reference, ``docker-archive:PATH``, is always read)."""
    if name.startswith(ARCHIVE_TRANSPORTS):
        return Puller(paths, opts, progress).pull(name)
    store = ImageStore(paths)
    local: ImageRecord | None = None
    if policy not in ("missing", "always", "never", "newer"):
        raise UsageError(f"invalid pull policy {policy!r}: use missing, always, never or newer")
    if policy != "always":
        try:  # the common case needs no registries.conf: an ID, a full name or a unique short name
            local = store.resolve(name, None, unique_suffix_only=True)
        except NoSuchImage:
            try:
                local = store.resolve(name, local_candidates(name))
            except NoSuchImage:
                local = None
    if local is not None and policy in ("missing", "never"):
        return local
    if local is None and policy == "never":
        raise NoSuchImage(f"{name}: image not known", hint=f"pull it first (rpod pull {name}) or use --pull=missing")
    puller = Puller(paths, opts, progress)
    if local is not None and policy == "newer":
        try:
            for ref in candidates(name):
                if puller.remote_digest(ref) == local.digest:
                    return local
                break
        except RpodError:
            return local  # "newer" falls back to the local image when the registry is unreachable
    return puller.pull(name)
