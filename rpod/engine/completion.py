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
