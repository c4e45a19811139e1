"""``rpod network ...``: create, ls, inspect, rm, prune, exists, connect, disconnect (Podman's
spelling, columns and JSON).  Never imports pyroute2: only the network holder does."""

from __future__ import annotations

from typing import Any

import click

from rpod.cli.common import parse_filters, paths, write
from rpod.errors import UsageError

app = click.Group("network", help="Manage networks", no_args_is_help=True)

_LS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}"
_LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER"}


def _store() -> Any:
    from rpod.network.store import NetworkStore

    return NetworkStore(paths())


def _key_values(items: tuple[str, ...], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[k] = v
    return out


def _json(obj: Any, indent: int) -> None:
    import json

    write(json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def _row(net: Any, no_trunc: bool) -> dict[str, Any]:
    return {"ID": net.id if no_trunc else net.id[:12], "Name": net.name, "Driver": net.driver,
            "Labels": net.labels, "Created": net.created, "Subnets": net.subnets, "Internal": net.internal,
            "IPv6Enabled": net.ipv6_enabled, "DNSEnabled": net.dns_enabled,
            "NetworkInterface": net.network_interface, "Options": net.options}


def _matches(net: Any, filters: dict[str, list[str]]) -> bool:
    import re

    for key, values in filters.items():
        if key == "name":
            ok = any(re.search(v, net.name) for v in values)
        elif key == "id":
            ok = any(net.id.startswith(v) for v in values)
        elif key == "driver":
            ok = net.driver in values
        elif key in ("label", "label!"):
            def has(v: str) -> bool:
                k, sep, val = v.partition("=")
                return k in net.labels and (not sep or net.labels[k] == val)
            ok = any(has(v) for v in values) if key == "label" else not any(has(v) for v in values)
        else:
            raise UsageError(f"invalid network filter {key!r}", hint="valid filters: name, id, driver, label, label!")
        if not ok:
            return False
    return True


@app.command("create")
@click.argument("name", required=False)
@click.option("--driver", "-d", default="bridge", help="Driver to manage the network")
@click.option("--subnet", help="Subnet in CIDR format")
@click.option("--gateway", help="IPv4 gateway for the subnet")
@click.option("--internal", is_flag=True, help="Restrict external access from this network")
@click.option("--disable-dns", is_flag=True, help="Disable the DNS responder for this network")
@click.option("--label", "labels", multiple=True, help="Set metadata on a network (KEY=VALUE)")
@click.option("--opt", "-o", "opts", multiple=True, help="Driver options (KEY=VALUE)")
@click.option("--ignore", is_flag=True, help="Do not fail if the network already exists")
def create(name: str | None, driver: str, subnet: str | None, gateway: str | None, internal: bool,
           disable_dns: bool, labels: tuple[str, ...], opts: tuple[str, ...], ignore: bool) -> None:
    """Create a network (a bridge in the rootless network namespace)."""
    net = _store().create(name, subnet=subnet, gateway=gateway, internal=internal, driver=driver,
                          labels=_key_values(labels, "--label"), options=_key_values(opts, "--opt"),
                          disable_dns=disable_dns, ignore=ignore)
    write(net.name + "\n")


@app.command("ls")
@click.option("--format", "fmt", help="Go template, json or table")
@click.option("--filter", "-f", "filters", multiple=True, help="Filter (name=, id=, driver=, label=)")
@click.option("--quiet", "-q", is_flag=True, help="Display only network names")
@click.option("--noheading", "-n", is_flag=True, help="Do not print headers")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the network ID")
def ls(fmt: str | None, filters: tuple[str, ...], quiet: bool, noheading: bool, no_trunc: bool) -> None:
    """List networks."""
    parsed = parse_filters(list(filters))
    nets = [n for n in _store().list() if _matches(n, parsed)]
    if quiet and not fmt:
        write("".join(n.name + "\n" for n in nets))
        return
    if fmt and fmt.strip() in ("json", "{{json .}}"):
        _json([n.to_json() for n in nets], 2)  # Podman: 2 spaces here, 5 in inspect
        return
    from rpod.format import render_list

    write(render_list(fmt or _LS_DEFAULT, [_row(n, no_trunc) for n in nets], headers=_LS_HEADERS,
                      noheading=noheading))


app.add_command(ls, "list")


@app.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("--format", "-f", "fmt", help="Go template or json")
def inspect(names: tuple[str, ...], fmt: str | None) -> None:
    """Display the network configuration of one or more networks."""
    from rpod.network.store import NoSuchNetwork

    store = _store()
    nets, errors = [], []
    for n in names:
        try:
            nets.append(store.get(n))
        except NoSuchNetwork as e:
            errors.append(e)
    if fmt and fmt.strip() not in ("json", "{{json .}}"):
        from rpod.format import render_one

        for net in nets:
            write(render_one(fmt, net.template_view()))
    else:
        _json([net.to_json() for net in nets], 5)
    if errors:
        e = errors[0]
        raise type(e)(f"inspecting object: network {e.ref}: {e}", hint=e.hint)


@app.command("exists")
@click.argument("name")
def exists(name: str) -> None:
    """Check if a network exists (exit 0 if it does, 1 if not)."""
    from rpod.network.store import NoSuchNetwork

    try:
        _store().get(name)
    except NoSuchNetwork:
        raise click.exceptions.Exit(1) from None


def _remove(net: Any, force: bool, timeout: int | None) -> None:
    from rpod.errors import StateConflict
    from rpod.network.bridge import containers_on

    users = containers_on(paths(), net.name)
    if users and not force:
        raise StateConflict(f'"{net.name}" has associated containers with it. Use -f to forcibly delete '
                            "containers and pods: network is being used", exit_code=2)
    if users:
        from rpod.container import lifecycle

        for rec in users:
            lifecycle.remove(paths(), rec, force=True, timeout=timeout or 0)
    _store().remove(net)


@app.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", "-f", is_flag=True, help="Remove the containers using the network too")
@click.option("--time", "-t", "timeout", type=int, default=None, help="Seconds to wait before killing containers")
def rm(names: tuple[str, ...], force: bool, timeout: int | None) -> None:
    """Remove one or more networks."""
    from rpod.errors import RpodError

    store = _store()
    first: RpodError | None = None
    for n in names:
        try:
            net = store.get(n)
            _remove(net, force, timeout)
            write(n + "\n")
        except RpodError as e:
            click.echo(f"Error: {e}", err=True)
            first = first or e
    if first is not None:  # Podman: 1 for a missing network, 2 in use, 125 otherwise
        from rpod.network.store import NoSuchNetwork

        raise click.exceptions.Exit(1 if isinstance(first, NoSuchNetwork) else first.exit_code)


app.add_command(rm, "remove")


@app.command("prune")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Only prune networks matching (label=...)")
def prune(force: bool, filters: tuple[str, ...]) -> None:
    """Remove all networks no container uses (never the default network)."""
    from rpod.network.bridge import containers_on
    from rpod.network.store import DEFAULT_NAME

    if not force:
        click.echo("WARNING! This will remove all networks not used by at least one container.", err=True)
        if not click.confirm("Are you sure you want to continue?", default=False, err=True):
            return
    parsed = parse_filters(list(filters))
    store = _store()
    for net in store.list():
        if net.name == DEFAULT_NAME or not _matches(net, parsed) or containers_on(paths(), net.name):
            continue
        store.remove(net)
        write(net.name + "\n")


@app.command("connect")
@click.option("--alias", "aliases", multiple=True, help="Network-scoped alias for the container")
@click.argument("network")
@click.argument("container")
def connect(aliases: tuple[str, ...], network: str, container: str) -> None:
    """Connect a container to a network."""
    from rpod.network.bridge import connect as do_connect

    do_connect(paths(), network, container, list(aliases))


@app.command("disconnect")
@click.option("--force", "-f", is_flag=True, help="Accepted for compatibility")
@click.argument("network")
@click.argument("container")
def disconnect(force: bool, network: str, container: str) -> None:
    """Disconnect a container from a network."""
    from rpod.network.bridge import disconnect as do_disconnect

    del force
    do_disconnect(paths(), network, container)
