"""``rpod manifest push``: every instance of a local manifest list (blobs, then its manifest by
digest) into the destination repository, then the list under its tag.  Local instances go up
as ``push`` sends images; registry instances are mounted from their repository on the same
registry, or downloaded and uploaded blob by blob."""

from __future__ import annotations

from typing import Any

from rpod.errors import RpodError
from rpod.image.push import PushOptions, _push_blob, client_for
from rpod.image.source import Blob


def push_manifest_list(paths: Any, mlist: Any, ref: Any, opts: PushOptions, progress: Any) -> str:
    """Push every instance of a local manifest list (blobs, then each manifest by digest) and the
    list itself under ``ref``'s tag; returns the list's digest."""
    client = client_for(ref.registry, ref.repository, opts)
    progress.message("Getting image source signatures")
    for entry in mlist.index.get("manifests") or []:
        source = mlist.sources.get(entry["digest"], "")
        if source.startswith("local:"):
            _push_local_instance(paths, client, ref.repository, source[6:], entry["digest"], opts, progress)
        elif source.startswith("docker://"):
            _copy_remote_instance(client, ref, source[9:], opts, progress)
        else:
            raise RpodError(f"manifest list {mlist.names[0] if mlist.names else mlist.id}: instance "
                            f"{entry['digest']} has no known source")
    data, media = mlist.index_bytes(opts.format)
    progress.message("Writing manifest list to image destination")
    digest = client.push_manifest(ref.repository, ref.tag or "latest", data, media)
    progress.message("Storing list signatures")
    return digest


def _push_local_instance(paths: Any, client: Any, repo: str, image_id: str, digest: str, opts: PushOptions,
                         progress: Any) -> None:
    from rpod.image.source import open_image
    from rpod.image.store import ImageStore

    rec = ImageStore(paths).get(image_id)
    if rec is None:
        raise RpodError(f"image {image_id[:12]} of the manifest list is no longer in the store")
    src = open_image(paths, rec)
    try:
        if src.manifest_digest != digest:
            raise RpodError(f"image {image_id[:12]} now has manifest {src.manifest_digest}, the list says {digest}",
                            hint="add the image to the list again")
        for blob in list({b.digest: b for b in src.layers}.values()) + [src.config]:
            _push_blob(client, repo, blob, [], opts, progress, kind="config" if blob is src.config else "blob")
        client.push_manifest(repo, digest, src.manifest, src.manifest_type)
    finally:
        src.cleanup()


def _copy_remote_instance(client: Any, ref: Any, source: str, opts: PushOptions, progress: Any) -> None:
    """Copy ``registry/repo@digest`` (blobs and manifest) into ``ref``'s repository."""
    import json
    import tempfile
    from pathlib import Path

    from rpod.image import mediatypes as mt

    name, _, digest = source.partition("@")
    registry, _, repo = name.partition("/")
    src_client = client if registry == ref.registry else client_for(registry, repo, opts)
    manifest = src_client.get_manifest(repo, digest, accept=mt.ALL_MANIFEST_TYPES)
    doc = json.loads(manifest.content)
    for desc in [doc["config"], *(doc.get("layers") or [])]:
        blob = Blob(desc["digest"], int(desc.get("size") or 0), desc.get("mediaType", ""))
        mounts = [repo] if registry == ref.registry else []
        if client.blob_exists(ref.repository, blob.digest):
            progress.blob_done(blob.digest, skipped=True)
            continue
        if mounts and client.mount_blob(ref.repository, blob.digest, repo):
            progress.blob_done(blob.digest, skipped=True)
            continue
        with tempfile.NamedTemporaryFile(dir=None) as tmp:
            stream = src_client.open_blob(repo, blob.digest)
            try:
                for chunk in stream.iter_chunks(1 << 20):
                    tmp.write(chunk)
            finally:
                stream.close()
            tmp.flush()
            blob.path = Path(tmp.name)
            _push_blob(client, ref.repository, blob, [], opts, progress)
    client.push_manifest(ref.repository, digest, manifest.content, mt.base_type(manifest.media_type))
