"""Names of the user's objects, for shell completion (``rpod __complete``): containers, images,
networks, volumes.  Cheap reads of the stores; never raises (a broken store completes nothing)."""

from __future__ import annotations

from rpod.engine.types import paths_or_default
from rpod.paths import Paths

# which containers a command completes, as Podman's completion does
RUNNING = "running"
NOT_RUNNING = "not-running"
ANY = "any"


def container_names(paths: Paths | None, which: str = ANY) -> list[str]:
    """Names of the containers in ``which`` state (running, not-running or any)."""
    from rpod.container.state import ContainerStore

    try:
        store = ContainerStore(paths_or_default(paths))
        if which == ANY:
            return [r.name for r in store.list()]
        return [r.name for r, st in store.iter_states() if st.running == (which == RUNNING)]
    except Exception:
        return []


def container_ids(paths: Paths | None) -> list[str]:
    """Short ids (12 characters) of every container."""
    from rpod.container.state import ContainerStore

    try:
        return [r.id[:12] for r in ContainerStore(paths_or_default(paths)).list()]
    except Exception:
        return []


def image_names(paths: Paths | None, incomplete: str) -> list[str]:
    """Image names as Podman completes them: full names; short names once a character is typed;
    ids once two are."""
    from rpod.image.store import ImageStore

    try:
        records = ImageStore(paths_or_default(paths)).list()
    except Exception:
        return []
    out: list[str] = []
    for r in records:
        for n in r.names:
            out.append(n)
            if incomplete and "/" in n:
                out.append(n.split("/", 1)[1])
        if len(incomplete) >= 2:
            out.append(r.short_id)
    return list(dict.fromkeys(out))


def network_names(paths: Paths | None) -> list[str]:
    from rpod.network.store import NetworkStore, default_network

    try:
        return list(dict.fromkeys([default_network().name, *(n.name for n in NetworkStore(paths_or_default(paths)).list())]))
    except Exception:
        return []


def volume_names(paths: Paths | None) -> list[str]:
    from rpod.volume.volumes import VolumeStore

    try:
        return [v.name for v in VolumeStore(paths_or_default(paths)).list()]
    except Exception:
        return []


def pod_names(paths: Paths | None) -> list[str]:
    from rpod.pod.store import PodStore

    try:
        return [p.name for p in PodStore(paths_or_default(paths)).list()]
    except Exception:
        return []


def secret_names(paths: Paths | None) -> list[str]:
    from rpod.engine import secrets

    try:
        return [s.name for s in secrets.ls(paths)]
    except Exception:
        return []


def _join(p1: str, p2: str) -> str:
    return p1 + p2 if not p1 or p1.endswith("/") else p1 + "/" + p2


def _complete_path(layers: list[str], to_complete: str) -> tuple[list[str], bool]:
    """Podman's getPathCompletion over a stack of layers: the entries of the directory typed (or
    of its parent, matching the last part), directories with a ``/``; (candidates, no space)."""
    from rpod.image.layerfs import list_dir_in_layers, resolve_in_layers

    typed = to_complete or "/"
    entries = list_dir_in_layers(layers, resolve_in_layers(layers, typed))
    base = ""
    if entries is None:  # not a directory: complete the last part in its parent
        head, _, base = typed.rpartition("/")
        typed = head + "/" if "/" in typed else ""
        entries = list_dir_in_layers(layers, resolve_in_layers(layers, typed or "."))
        if entries is None:
            return [], False
    if not entries:  # an empty directory: its name with the slash, no space
        return [typed if typed.endswith("/") else typed + "/"], True
    out, count = [], 0
    for name, is_dir in entries:
        if name.startswith(base):
            out.append(_join(typed, name + ("/" if is_dir else "")))
            count += 2 if is_dir else 1
    return out, count > 1


def image_paths(paths: Paths | None, image: str, to_complete: str) -> tuple[list[str], bool]:
    """Paths inside ``image`` for ``run IMAGE <TAB>`` (read from its layers, nothing mounted)."""
    from rpod.engine.images import resolve
    from rpod.image.store import ImageStore

    try:
        p = paths_or_default(paths)
        layers = [str(d) for d in reversed(ImageStore(p).layer_dirs(resolve(p, image)))]
        return _complete_path(layers, to_complete)
    except Exception:
        return [], False


def container_paths(paths: Paths | None, container: str, to_complete: str) -> tuple[list[str], bool]:
    """Paths inside a container's file system for ``cp CONTAINER:<TAB>``."""
    from rpod.container.archive import overlay_layers
    from rpod.container.state import ContainerStore

    try:
        p = paths_or_default(paths)
        return _complete_path(overlay_layers(p, ContainerStore(p).get(container)), to_complete)
    except Exception:
        return [], False


def registry_names() -> list[str]:
    """The registries short names are searched in (Podman completes ``login``/``logout`` with them)."""
    from rpod.image.registries_conf import load_registries_config

    try:
        return list(load_registries_config().search_registries)
    except Exception:
        return []
