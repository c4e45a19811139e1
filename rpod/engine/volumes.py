"""Volumes: create, list, inspect, remove (with their containers on ``force``), prune, exists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rpod.engine.types import ItemReport, paths_or_default
from rpod.errors import NoSuchVolume, RpodError, UsageError

if TYPE_CHECKING:
    from rpod.paths import Paths


def volume_store(p: Paths) -> Any:
    """The domain's volume store, told which containers use a volume (the engine knows containers)."""
    from rpod.volume.volumes import VolumeStore

    return VolumeStore(p, in_use=lambda name: users(name, p))


def users(name: str, paths: Paths | None = None) -> list[str]:
    """Ids of the containers whose record mounts volume ``name``."""
    from rpod.container.state import containers_using_volume

    return containers_using_volume(paths_or_default(paths), name)


@dataclass
class CreateOptions:
    """``volume create`` (a random name when ``name`` is None)."""

    name: str | None = None
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ignore: bool = False


def create(opts: CreateOptions, paths: Paths | None = None) -> Any:
    """Create a volume; its record."""
    return volume_store(paths_or_default(paths)).create(
        opts.name, driver=opts.driver, labels=opts.labels, options=opts.options, ignore_existing=opts.ignore)


def list_volumes(filters: dict[str, list[str]] | None = None, paths: Paths | None = None) -> list[dict[str, Any]]:
    """Podman's ``volume ls``/``inspect`` objects of the volumes matching ``filters``."""
    from rpod.engine import filters as flt

    p = paths_or_default(paths)
    store = volume_store(p)
    filters = filters or {}
    count = "dangling" in filters  # MountCount is read only when a filter needs the users anyway
    rows = []
    for vol in store.list():
        if flt.volume(vol, filters, lambda v=vol: bool(store.users(v.name))):
            rows.append(vol.inspect(len(store.users(vol.name)) if count else 0))
    return rows


@dataclass
class InspectReport:
    """Podman's ``volume inspect`` objects and one error per unknown name."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RpodError] = field(default_factory=list)


def inspect(names: list[str], all_: bool = False, paths: Paths | None = None) -> InspectReport:
    """``volume inspect`` of the names (every volume with ``all_``)."""
    if not names and not all_:
        raise UsageError("provide one or more volume names or use --all")
    store = volume_store(paths_or_default(paths))
    report = InspectReport()
    vols = store.list() if all_ else []
    for n in names:
        try:
            vols.append(store.get(n))
        except NoSuchVolume as e:
            report.errors.append(e)
    report.docs = [vol.inspect(len(store.users(vol.name))) for vol in vols]
    return report


def exists(name: str, paths: Paths | None = None) -> bool:
    """Whether the volume exists."""
    return volume_store(paths_or_default(paths)).exists(name)


def remove(names: list[str], force: bool = False, all_: bool = False,
           paths: Paths | None = None, timeout: int | None = None) -> list[ItemReport]:
    """Remove volumes; with ``force`` the containers using them first (stopped within ``timeout``
    seconds) and a missing volume is no error (as Podman); exit codes 1 missing, 2 in use."""
    from rpod.engine.containers import container_store, remove_records

    p = paths_or_default(paths)
    store = volume_store(p)
    if not names and not all_:
        raise UsageError("provide one or more volume names or use --all")
    reports = []
    for n in [v.name for v in store.list()] if all_ else list(names):
        try:
            if force:
                cstore = container_store(p)
                remove_records(p, [cstore.get(cid) for cid in users(n, p)],
                               **({} if timeout is None else {"timeout": timeout}))
            store.remove(n, force=force)
            reports.append(ItemReport(n, n))
        except NoSuchVolume as e:
            if not force:
                e.exit_code = 1
                reports.append(ItemReport(n, error=e))
        except RpodError as e:
            e.exit_code = 1 if isinstance(e, NoSuchVolume) else 2
            reports.append(ItemReport(n, error=e))
    return reports


def prune(filters: dict[str, list[str]] | None = None, paths: Paths | None = None) -> list[tuple[str, int]]:
    """Remove the volumes no container uses (matching ``filters``); (name, bytes freed) of each."""
    from rpod.engine import filters as flt
    from rpod.engine.containers import dir_size

    p = paths_or_default(paths)
    store = volume_store(p)
    parsed = filters or {}
    sizes = {v.name: dir_size(str(p.volumes / v.name / "_data")) for v in store.list()}
    names = store.prune(filters=lambda v: flt.volume(v, parsed, lambda: False))
    return [(n, sizes.get(n, 0)) for n in names]


def prune_candidates(filters: dict[str, list[str]] | None = None, paths: Paths | None = None) -> list[str]:
    """The names ``prune`` would remove now (for its confirmation prompt)."""
    from rpod.engine import filters as flt

    store = volume_store(paths_or_default(paths))
    parsed = filters or {}
    return [v.name for v in store.list() if flt.volume(v, parsed, lambda: False) and not store.users(v.name)]


def export(name: str, out: Any, paths: Paths | None = None) -> None:
    """``volume export``: the volume's files as a tar stream on the binary stream ``out``."""
    from rpod.volume.archive import export_tree

    export_tree(volume_store(paths_or_default(paths)).get(name).mountpoint, out)


def import_(name: str, src: Any, paths: Paths | None = None) -> None:
    """``volume import``: extract a tar stream (``src``, binary) into an existing volume."""
    from rpod.volume.archive import import_tree

    import_tree(volume_store(paths_or_default(paths)).get(name).mountpoint, src)
