"""Engine verbs for ``rpod manifest``: create, add, annotate, inspect, push, remove, rm, exists."""

from __future__ import annotations

import json
from typing import Any

from rpod.image.manifests import AddOptions
from rpod.image.push import PushOptions
from rpod.paths import Paths
from rpod.progress import make_progress

__all__ = ["AddOptions", "PushOptions", "make_progress"]


def _paths(paths: Paths | None) -> Paths:
    return paths or Paths.default()


def create(name: str, images: list[str], opts: AddOptions, amend: bool = False, paths: Paths | None = None) -> str:
    """A new (empty, or holding ``images``) list; returns its ID."""
    from rpod.image import manifests

    p = _paths(paths)
    m = manifests.create(p, name, amend)
    for image in images:
        manifests.add(p, name, image, opts)
    return m.id


def add(name: str, image: str, opts: AddOptions, paths: Paths | None = None) -> str:
    from rpod.image import manifests

    return manifests.add(_paths(paths), name, image, opts).id


def annotate(name: str, digest: str, opts: AddOptions, paths: Paths | None = None) -> str:
    from rpod.image import manifests

    return manifests.annotate(_paths(paths), name, digest, opts).id


def remove(name: str, digest: str, paths: Paths | None = None) -> str:
    from rpod.image import manifests

    return manifests.remove_instance(_paths(paths), name, digest).id


def rm(names: list[str], paths: Paths | None = None) -> list[Any]:
    """Remove lists; returns them (for the ``Untagged:``/``Deleted:`` lines)."""
    from rpod.image import manifests

    return manifests.remove_lists(_paths(paths), names)


def exists(name: str, paths: Paths | None = None) -> bool:
    from rpod.image import manifests

    return manifests.find(_paths(paths), name) is not None


def inspect(name: str, opts: AddOptions, paths: Paths | None = None) -> dict[str, Any]:
    """The local list's index, else the registry's manifest (list) for ``name``."""
    from rpod.image import manifests

    m = manifests.find(_paths(paths), name)
    if m is not None:
        return m.index
    from rpod.image import mediatypes as mt
    from rpod.image.push import client_for
    from rpod.image.reference import parse_qualified

    ref = parse_qualified(name.removeprefix("docker://"))
    client = client_for(ref.registry, ref.repository, PushOptions(tls_verify=opts.tls_verify, creds=opts.creds,
                                                                 authfile=opts.authfile))
    return json.loads(client.get_manifest(ref.repository, ref.manifest_ref, accept=mt.ALL_MANIFEST_TYPES).content)


def push(name: str, destination: str, opts: PushOptions, progress: Any, remove_after: bool = False,
         paths: Paths | None = None) -> str:
    """Push the list (and its instances) to ``destination`` (default: the list's name)."""
    from rpod.errors import UsageError
    from rpod.image import manifests
    from rpod.image.manifest_push import push_manifest_list
    from rpod.image.reference import parse_reference

    p = _paths(paths)
    m = manifests.get(p, name)
    dest = (destination or m.names[0]).removeprefix("docker://")
    ref = parse_reference(dest)
    if ref.is_short:
        raise UsageError(f"{dest}: a push needs a fully qualified destination (registry/repository[:tag])")
    digest = push_manifest_list(p, m, ref, opts, progress)
    if opts.digestfile:
        with open(opts.digestfile, "w") as f:
            f.write(digest)
    if remove_after:
        manifests.remove_lists(p, [name])
    return digest
