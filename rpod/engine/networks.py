"""Networks: create, list, inspect, remove (with their containers on ``force``), prune, exists,
connect, disconnect, reload.  Never imports pyroute2: only the network holder does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rpod.engine.types import ItemReport, paths_or_default
from rpod.errors import RpodError, StateConflict

if TYPE_CHECKING:
    from rpod.paths import Paths


def _store(p: Paths) -> Any:
    from rpod.network.store import NetworkStore

    return NetworkStore(p)


def _users(p: Paths, name: str) -> list[Any]:
    """Records of the containers whose plan names the network ``name``."""
    from rpod.container.state import ContainerStore
    from rpod.network.bridge import uses_network

    store = ContainerStore(p)
    return [rec for rec, _st in store.iter_states() if uses_network(store.dir(rec.id), name)]


@dataclass
class CreateOptions:
    """``network create``."""

    name: str | None = None
    driver: str = "bridge"
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    disable_dns: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ignore: bool = False


def create(opts: CreateOptions, paths: Paths | None = None) -> Any:
    """Create a network (a bridge in the rootless network namespace); its record."""
    return _store(paths_or_default(paths)).create(
        opts.name, subnet=opts.subnet, gateway=opts.gateway, internal=opts.internal, driver=opts.driver,
        labels=opts.labels, options=opts.options, disable_dns=opts.disable_dns, ignore=opts.ignore)


def list_networks(filters: dict[str, list[str]] | None = None, paths: Paths | None = None) -> list[Any]:
    """The network records matching ``filters`` (name, id, driver, label, label!, until)."""
    from rpod.engine import filters as flt

    return [n for n in _store(paths_or_default(paths)).list() if flt.network(n, filters or {})]


def ls_row(net: Any, no_trunc: bool = False) -> dict[str, Any]:
    """A ``network ls`` row (Podman's template fields)."""
    return {"ID": net.id if no_trunc else net.id[:12], "Name": net.name, "Driver": net.driver,
            "Labels": net.labels, "Created": net.created, "Subnets": net.subnets, "Internal": net.internal,
            "IPv6Enabled": net.ipv6_enabled, "DNSEnabled": net.dns_enabled,
            "NetworkInterface": net.network_interface, "Options": net.options}


@dataclass
class InspectReport:
    """The networks found and one error per unknown name (Podman's ``inspecting object`` wording)."""

    networks: list[Any] = field(default_factory=list)
    errors: list[RpodError] = field(default_factory=list)


def inspect(names: list[str], paths: Paths | None = None) -> InspectReport:
    """``network inspect`` (``.to_json()`` is Podman's document, ``.template_view()`` its template view)."""
    from rpod.network.store import NoSuchNetwork

    store = _store(paths_or_default(paths))
    report = InspectReport()
    for n in names:
        try:
            report.networks.append(store.get(n))
        except NoSuchNetwork as e:
            report.errors.append(type(e)(f"inspecting object: network {e.ref}: {e}", hint=e.hint))
    return report


def exists(name: str, paths: Paths | None = None) -> bool:
    """Whether the network exists."""
    from rpod.network.store import NoSuchNetwork

    try:
        _store(paths_or_default(paths)).get(name)
    except NoSuchNetwork:
        return False
    return True


def remove(names: list[str], force: bool = False, timeout: int | None = None,
           paths: Paths | None = None) -> list[ItemReport]:
    """Remove networks; with ``force`` the containers on them first (exit codes 1 missing, 2 in use)."""
    from rpod.engine.containers import remove_records
    from rpod.network.store import NoSuchNetwork

    p = paths_or_default(paths)
    store = _store(p)

    def one(name: str) -> ItemReport:
        net = store.get(name)
        users = _users(p, net.name)
        if users and not force:
            raise StateConflict(f'"{net.name}" has associated containers with it. Use -f to forcibly delete '
                                "containers and pods: network is being used", exit_code=2)
        remove_records(p, users, timeout=timeout or 0)
        store.remove(net)
        return ItemReport(name, net.id)

    reports = []
    for n in names:
        try:
            reports.append(one(n))
        except RpodError as e:
            if isinstance(e, NoSuchNetwork):
                if force:  # Podman: --force ignores a network that does not exist
                    continue
                e.exit_code = 1
            reports.append(ItemReport(n, error=e))
    return reports


def prune(filters: dict[str, list[str]] | None = None, paths: Paths | None = None) -> list[str]:
    """Remove the networks no container uses (never the default network); their names."""
    from rpod.network.store import DEFAULT_NAME

    p = paths_or_default(paths)
    store = _store(p)
    removed = []
    for net in list_networks(filters, p):
        if net.name == DEFAULT_NAME or _users(p, net.name):
            continue
        store.remove(net)
        removed.append(net.name)
    return removed


def connect(network: str, container: str, aliases: list[str] | None = None, paths: Paths | None = None) -> None:
    """Connect a container to a network (live when it runs)."""
    from rpod.container.state import ContainerStore
    from rpod.network.bridge import connect as do_connect

    p = paths_or_default(paths)
    store = ContainerStore(p)
    rec = store.get(container)
    do_connect(p, network, rec, store.dir(rec.id), store.state(rec.id).running, list(aliases or []))


def disconnect(network: str, container: str, paths: Paths | None = None) -> None:
    """Disconnect a container from a network."""
    from rpod.container.state import ContainerStore
    from rpod.network.bridge import disconnect as do_disconnect

    p = paths_or_default(paths)
    store = ContainerStore(p)
    rec = store.get(container)
    do_disconnect(p, network, rec, store.dir(rec.id), store.state(rec.id).running)


def reload(refs: list[str], all_: bool = False, latest: bool = False,
           paths: Paths | None = None) -> list[ItemReport]:
    """``network reload``: restore the interfaces and published ports of running containers on
    user networks (same addresses and MACs).  With ``all_`` the containers that are not running
    or not on a user network are skipped silently, as Podman."""
    from rpod.container.state import ContainerStore
    from rpod.network.bridge import reload as do_reload
    from rpod.network.plan import load

    p = paths_or_default(paths)
    store = ContainerStore(p)
    if all_:
        recs = [r for r in store.list() if store.state(r.id).running
                and getattr(load(store.dir(r.id)), "mode", "") == "bridge"]
        pairs: list[tuple[str, Any]] = [(r.id, r) for r in recs]
    else:
        pairs = [(ref, None) for ref in refs] if not latest else [("", store.latest())]
    reports = []
    for ref, rec in pairs:
        try:
            rec = rec or store.get(ref)
            if not store.state(rec.id).running:
                raise StateConflict(f"container {rec.id} network is not configured, refusing to reload: "
                                    "container state improper")
            do_reload(p, rec, store.dir(rec.id))
            reports.append(ItemReport(ref or rec.id, rec.id, text=[rec.id]))
        except RpodError as e:
            reports.append(ItemReport(ref, error=e))
    return reports

