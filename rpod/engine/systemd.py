"""systemd: ``generate systemd`` units, Quadlet files → units, ``auto-update``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rpod.engine.types import paths_or_default
from rpod.errors import NoSuchContainer

if TYPE_CHECKING:
    from rpod.paths import Paths


def generate_options(**kw: Any) -> Any:
    """A validated ``rpod.systemd.generate.GenerateOptions`` (Podman's ``generate systemd`` flags)."""
    from rpod.systemd.generate import GenerateOptions

    opts = GenerateOptions(**kw)
    opts.validate()
    return opts


def generate(ref: str, opts: Any, takes_value: Callable[[str], bool],
             paths: Paths | None = None) -> tuple[Any, str | None]:
    """The unit of a container and a warning about its restart policy (or None).
    ``takes_value(flag)`` says whether a ``run`` flag consumes the next word (for ``--new``)."""
    from rpod.engine.containers import container_store
    from rpod.systemd.generate import generate as gen
    from rpod.systemd.generate import restart_policy_warning

    p = paths_or_default(paths)
    try:
        record = container_store(p).get(ref)
    except NoSuchContainer:
        raise NoSuchContainer(f"{ref} does not refer to a container: no container with name or ID "
                              f'"{ref}" found: no such container') from None
    return gen(p, record, opts, takes_value), restart_policy_warning(record)


def generate_units(ref: str, opts: Any, takes_value: Callable[[str], bool], pod_takes_value: Callable[[str], bool],
                   pod_prefix: str = "pod", paths: Paths | None = None) -> tuple[list[Any], list[str]]:
    """The units of a container (one) or of a pod (its members', then its own); warnings."""
    p = paths_or_default(paths)
    from rpod.pod.store import PodStore

    pod = PodStore(p).lookup(ref)
    if pod is None:
        unit, warning = generate(ref, opts, takes_value, p)
        return [unit], [warning] if warning else []
    from rpod.container.state import ContainerStore
    from rpod.pod.store import members
    from rpod.systemd.generate import restart_policy_warning
    from rpod.systemd.podunits import generate_pod

    mem = sorted((m for m in members(p, pod.id) if m.id != pod.infra_id), key=lambda r: r.created)
    infra = ContainerStore(p).load(pod.infra_id) if pod.infra_id else None
    units = generate_pod(p, pod, mem, infra, opts, takes_value, pod_takes_value, pod_prefix)
    return units, [w for w in map(restart_policy_warning, mem) if w]


def write_units(units: list[Any], directory: str) -> list[str]:
    """Write units as files into ``directory``; their paths."""
    from rpod.systemd.generate import write_files

    return write_files(units, directory)


def quadlet_files(user: bool) -> list[str]:
    """The Quadlet files of the search path (the user's with ``user``)."""
    from rpod.systemd.quadlet import find_files, unit_dirs

    return [str(f) for f in find_files(unit_dirs(user))]


def quadlet(user: bool) -> Any:
    """Convert every Quadlet file of the search path (``.services`` and ``.errors``)."""
    from rpod.systemd.quadlet import generate_all, unit_dirs

    return generate_all(unit_dirs(user))


def quadlet_write(services: list[Any], out_dir: str) -> list[str]:
    """Write converted services (and their links) into ``out_dir``; the paths written."""
    from rpod.systemd.quadlet import write_services

    return [str(w) for w in write_services(services, out_dir)]


def auto_update(dry_run: bool = False, rollback: bool = True, authfile: str | None = None,
                paths: Paths | None = None) -> tuple[list[Any], list[Any]]:
    """Pull newer images of the containers with an auto-update label and restart their units;
    (reports, errors)."""
    import os

    from rpod.systemd.autoupdate import auto_update as update

    if authfile:
        os.environ["REGISTRY_AUTH_FILE"] = authfile
    return update(paths_or_default(paths), dry_run=dry_run, rollback=rollback)
