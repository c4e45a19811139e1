"""``rpod volume ...``: create, ls, inspect, rm, prune, exists (Podman's spelling and output)."""

from __future__ import annotations

from typing import Any

import click

from rpod.cli.common import paths, print_json, write
from rpod.errors import NoSuchVolume, UsageError

app = click.Group("volume", help="Manage volumes", no_args_is_help=True)

_LS_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME"}
_LS_DEFAULT = "table {{.Driver}}\t{{.Name}}"


def _store() -> Any:
    from rpod.volume.volumes import VolumeStore

    return VolumeStore(paths(), in_use=_containers_using)


def _containers_using(name: str) -> list[str]:
    """Ids of containers whose record mounts volume ``name``."""
    from rpod.container.state import containers_using_volume

    return containers_using_volume(paths(), name)


def _remove_containers_using(name: str) -> None:
    """``volume rm -f``: stop and remove the containers using the volume first, as Podman."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    cstore = ContainerStore(paths())
    for cid in _containers_using(name):
        lifecycle.remove(paths(), cstore.get(cid), force=True, timeout=0)


def _key_values(items: tuple[str, ...], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[k] = v
    return out


def _regex_match(pattern: str, value: str) -> bool:
    """Podman matches name filters as regular expressions (unanchored)."""
    import re

    try:
        return re.search(pattern, value) is not None
    except re.error as e:
        raise UsageError(f"invalid name filter {pattern!r}: {e}") from None


def _matches(vol: Any, filters: dict[str, list[str]], used: bool | None) -> bool:
    """Podman's volume filters: name, label, driver, dangling, anonymous (values of one key OR-ed)."""
    for key, values in filters.items():
        if key == "name":
            ok = any(_regex_match(v, vol.name) for v in values)
        elif key == "driver":
            ok = vol.driver in values
        elif key in ("label", "label!"):
            def has(v: str) -> bool:
                k, sep, val = v.partition("=")
                return k in vol.labels and (not sep or vol.labels[k] == val)
            ok = any(has(v) for v in values) if key == "label" else not any(has(v) for v in values)
        elif key == "dangling":
            want = values[-1].lower() in ("true", "1")
            ok = (not used) == want
        elif key == "anonymous":
            ok = vol.anonymous == (values[-1].lower() in ("true", "1"))
        elif key == "scope":
            ok = "local" in values
        else:
            raise UsageError(f"invalid volume filter {key!r}",
                             hint="valid filters: name, label, label!, driver, dangling, anonymous, scope")
        if not ok:
            return False
    return True


@app.command("create")
@click.argument("name", required=False)
@click.option("--driver", "-d", default="local", show_default=True, help="Volume driver")
@click.option("--label", "-l", "labels", multiple=True, help="Set a label (KEY=VALUE)")
@click.option("--opt", "-o", "opts", multiple=True, help="Driver option (KEY=VALUE)")
@click.option("--ignore", is_flag=True, help="Do not fail if the volume already exists")
def create(name: str | None, driver: str, labels: tuple[str, ...], opts: tuple[str, ...], ignore: bool) -> None:
    """Create a new volume (a random name when NAME is omitted)."""
    vol = _store().create(name, driver=driver, labels=_key_values(labels, "--label"),
                          options=_key_values(opts, "--opt"), ignore_existing=ignore)
    write(vol.name + "\n")


@app.command("ls")
@click.option("--quiet", "-q", is_flag=True, help="Print only volume names")
@click.option("--format", "fmt", help="Go template, json or table")
@click.option("--filter", "-f", "filters", multiple=True, help="Filter (name=, label=, driver=, dangling=)")
@click.option("--noheading", "-n", is_flag=True, help="Do not print headers")
def ls(quiet: bool, fmt: str | None, filters: tuple[str, ...], noheading: bool) -> None:
    """List volumes."""
    from rpod.cli.common import parse_filters

    store = _store()
    parsed = parse_filters(list(filters))
    need_users = "dangling" in parsed
    rows = []
    for vol in store.list():
        used = bool(store.users(vol.name)) if need_users else None
        if _matches(vol, parsed, used):
            rows.append(vol.inspect(len(store.users(vol.name)) if need_users else 0))
    if quiet and not fmt:
        write("".join(r["Name"] + "\n" for r in rows))
        return
    from rpod.format import render_list

    write(render_list(fmt or _LS_DEFAULT, rows, headers=_LS_HEADERS, noheading=noheading))


app.add_command(ls, "list")


@app.command("inspect")
@click.argument("names", nargs=-1)
@click.option("--format", "-f", "fmt", help="Go template or json")
@click.option("--all", "-a", "all_", is_flag=True, help="Inspect all volumes")
def inspect(names: tuple[str, ...], fmt: str | None, all_: bool) -> None:
    """Display detailed information on one or more volumes."""
    store = _store()
    if not names and not all_:
        raise UsageError("provide one or more volume names or use --all")
    docs = []
    errors: list[NoSuchVolume] = []
    vols = store.list() if all_ else []
    for n in names:
        try:
            vols.append(store.get(n))
        except NoSuchVolume as e:
            errors.append(e)
    for vol in vols:
        docs.append(vol.inspect(len(store.users(vol.name))))
    if fmt and fmt.strip() not in ("json", "{{json .}}"):
        from rpod.format import render_one

        for d in docs:
            write(render_one(fmt, d))
    else:
        print_json(docs)
    if errors:
        raise errors[0]


@app.command("rm")
@click.argument("names", nargs=-1)
@click.option("--force", "-f", is_flag=True, help="Remove the volume even if a container uses it")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all volumes")
def rm(names: tuple[str, ...], force: bool, all_: bool) -> None:
    """Remove one or more volumes."""
    store = _store()
    if not names and not all_:
        raise UsageError("provide one or more volume names or use --all")
    targets = [v.name for v in store.list()] if all_ else list(names)
    first_error: Exception | None = None
    for n in targets:
        try:
            if force:
                _remove_containers_using(n)
            store.remove(n, force=force)
            write(n + "\n")
        except NoSuchVolume as e:
            click.echo(f"Error: {e}", err=True)
            first_error = first_error or e
        except Exception as e:  # in use: report and go on with the others, as Podman
            if not hasattr(e, "exit_code"):
                raise
            click.echo(f"Error: {e}", err=True)
            first_error = first_error or e
    if first_error is not None:
        # exit 1 when a volume was missing, 2 when in use (Podman's codes), after reporting each
        code = 1 if isinstance(first_error, NoSuchVolume) else 2
        raise click.exceptions.Exit(code)


app.add_command(rm, "remove")


@app.command("prune")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Only prune volumes matching (label=, name=...)")
def prune(force: bool, filters: tuple[str, ...]) -> None:
    """Remove all volumes not used by any container."""
    from rpod.cli.common import parse_filters

    if not force:
        click.confirm("WARNING! This will remove all volumes not used by at least one container.\n"
                      "Are you sure you want to continue?", abort=True, err=True)
    parsed = parse_filters(list(filters))
    for name in _store().prune(filters=lambda v: _matches(v, parsed, False)):
        write(name + "\n")


@app.command("exists")
@click.argument("name")
def exists(name: str) -> None:
    """Exit 0 when the volume exists, 1 when it does not."""
    if not _store().exists(name):
        raise click.exceptions.Exit(1)
