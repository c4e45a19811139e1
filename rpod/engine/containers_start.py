"""``start``: the containers named, or every one / those matching filters (``--all``/``--filter``)."""

from __future__ import annotations

from rpod.engine.containers_list import health
from rpod.engine.types import paths_or_default
from rpod.errors import ContainerCannotInvoke, ContainerCommandNotFound, RpodError, UsageError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.container.state import ContainerStore
    from rpod.engine.items import ItemReport
    from rpod.paths import Paths


def container_store(p: Paths) -> ContainerStore:
    from rpod.container.state import ContainerStore

    return ContainerStore(p)


def _start_targets(p: Paths, refs: list[str], all_: bool, filters: dict[str, list[str]]) -> list[tuple[str, Any]]:
    """(what to print, record) for ``start``: the refs as given, or with ``all_``/``filters`` the
    matching containers by ID (with refs and filters: the refs among the matches, as Podman)."""
    from rpod.engine import filters as flt

    store = container_store(p)
    if not filters:
        if all_:
            return [(rec.id, rec) for rec in store.list()]
        return [(ref, ref) for ref in refs]
    for key in filters:
        if key not in flt.CONTAINER_KEYS:
            raise UsageError(f"{key} is an invalid filter")
    flt.check_restart_policies(filters.get("restart-policy", []))
    matches = [rec for rec, st in store.iter_states()
               if flt.container(rec, st, filters, lambda r=rec, s=st: health(p, r, s).get("Status") or "")]
    if refs:
        matches = [rec for rec in matches if rec.id in refs or rec.name in refs]
    return [(rec.id, rec) for rec in matches]


def start(refs: list[str], paths: Paths | None = None, *, all_: bool = False,
          filters: dict[str, list[str]] | None = None) -> list[ItemReport]:
    """Start containers in the background; a running one is left as it is and not reported (as
    Podman). Reports print the ref as given, or the ID when chosen by ``all_``/``filters``."""
    from rpod.container import lifecycle
    from rpod.engine.items import ItemReport

    p = paths_or_default(paths)
    store = container_store(p)
    if not refs and not all_ and not filters:
        raise UsageError("start requires at least one argument")
    if refs and all_:
        raise UsageError("either start all containers or the container(s) provided in the arguments")
    targets = _start_targets(p, refs, all_, filters or {})
    out: list[ItemReport] = []
    for shown, target in targets:
        try:
            rec = store.get(target) if isinstance(target, str) else target
            if store.state(rec.id).running:
                continue
            try:
                started = lifecycle.start(p, rec, None)
            except (ContainerCommandNotFound, ContainerCannotInvoke) as e:  # Podman's start: 125, with the ID
                raise RpodError(f'unable to start container "{rec.id}": {e.message}', hint=e.hint) from e
            if started.sync:
                started.sync.close()
            out.append(ItemReport(shown, rec.id))
        except RpodError as e:
            out.append(ItemReport(shown, error=e))
    return out
