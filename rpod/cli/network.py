"""``rpod network ...``: create, ls, inspect, rm, prune, exists, connect, disconnect, reload (Podman's
spelling, columns and JSON)."""

from __future__ import annotations

import click

from rpod.cli.common import confirm, key_values, parse_filters, print_json, report_items, write

app = click.Group("network", help="Manage networks", no_args_is_help=True)

_LS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}"
_LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER"}


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
    from rpod.engine import networks

    net = networks.create(networks.CreateOptions(
        name=name, driver=driver, subnet=subnet, gateway=gateway, internal=internal, disable_dns=disable_dns,
        labels=key_values(labels, "--label"), options=key_values(opts, "--opt"), ignore=ignore))
    write(net.name + "\n")


@app.command("ls")
@click.option("--format", "fmt", help="Go template, json or table")
@click.option("--filter", "-f", "filters", multiple=True, help="Filter (name=, id=, driver=, label=)")
@click.option("--quiet", "-q", is_flag=True, help="Display only network names")
@click.option("--noheading", "-n", is_flag=True, help="Do not print headers")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the network ID")
def ls(fmt: str | None, filters: tuple[str, ...], quiet: bool, noheading: bool, no_trunc: bool) -> None:
    """List networks."""
    from rpod.engine import networks

    nets = networks.list_networks(parse_filters(filters))
    if quiet and not fmt:
        write("".join(n.name + "\n" for n in nets))
        return
    if fmt and fmt.strip() in ("json", "{{json .}}"):
        print_json([n.to_json() for n in nets], indent=2)  # Podman: 2 spaces here, 5 in inspect
        return
    from rpod.format import render_list

    write(render_list(fmt or _LS_DEFAULT, [networks.ls_row(n, no_trunc) for n in nets], headers=_LS_HEADERS,
                      noheading=noheading))


app.add_command(ls, "list")


@app.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("--format", "-f", "fmt", help="Go template or json")
def inspect(names: tuple[str, ...], fmt: str | None) -> None:
    """Display the network configuration of one or more networks."""
    from rpod.engine import networks

    report = networks.inspect(list(names))
    if fmt and fmt.strip() not in ("json", "{{json .}}"):
        from rpod.format import render_one

        for net in report.networks:
            write(render_one(fmt, net.template_view()))
    else:
        print_json([net.to_json() for net in report.networks], indent=5)
    if report.errors:
        raise report.errors[0]


@app.command("exists")
@click.argument("name")
def exists(name: str) -> None:
    """Check if a network exists (exit 0 if it does, 1 if not)."""
    from rpod.engine import networks

    if not networks.exists(name):
        raise click.exceptions.Exit(1)


@app.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", "-f", is_flag=True, help="Remove the containers using the network too")
@click.option("--time", "-t", "timeout", type=int, default=None, help="Seconds to wait before killing containers")
def rm(names: tuple[str, ...], force: bool, timeout: int | None) -> None:
    """Remove one or more networks."""
    from rpod.engine import networks

    report_items(networks.remove(list(names), force, timeout))


app.add_command(rm, "remove")


@app.command("prune")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Only prune networks matching (label=...)")
def prune(force: bool, filters: tuple[str, ...]) -> None:
    """Remove all networks no container uses (never the default network)."""
    from rpod.engine import networks

    if not force and not confirm("WARNING! This will remove all networks not used by at least one container.\n"
                                 "Are you sure you want to continue?"):
        return
    for name in networks.prune(parse_filters(filters)):
        write(name + "\n")


@app.command("connect")
@click.option("--alias", "aliases", multiple=True, help="Network-scoped alias for the container")
@click.argument("network")
@click.argument("container")
def connect(aliases: tuple[str, ...], network: str, container: str) -> None:
    """Connect a container to a network."""
    from rpod.engine import networks

    networks.connect(network, container, list(aliases))


@app.command("disconnect")
@click.option("--force", "-f", is_flag=True, help="Accepted for compatibility")
@click.argument("network")
@click.argument("container")
def disconnect(force: bool, network: str, container: str) -> None:
    """Disconnect a container from a network."""
    from rpod.engine import networks

    del force
    networks.disconnect(network, container)


@app.command("reload")
@click.option("--all", "-a", "all_", is_flag=True, help="Reload network configuration of all containers")
@click.option("--latest", "-l", is_flag=True, help="Act on the latest container rpod is aware of")
@click.argument("containers", nargs=-1)
def reload(all_: bool, latest: bool, containers: tuple[str, ...]) -> None:
    """Reload the network (interfaces, published ports) of one or more containers."""
    from rpod.engine import networks
    from rpod.errors import UsageError

    if all_ and latest:
        raise UsageError("--all and --latest cannot be used together")
    if all_ and containers:
        raise UsageError("no arguments are needed with --all")
    if latest and containers:
        raise UsageError("--latest and containers cannot be used together")
    if not (all_ or latest or containers):
        raise UsageError("you must provide at least one name or id")
    report_items(networks.reload(list(containers), all_, latest))

