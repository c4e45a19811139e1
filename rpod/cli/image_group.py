"""``rpod image ...``: the image command group (ls, pull, rm, tag, untag, inspect, prune, exists)."""

from __future__ import annotations

from typing import Any

import click

from rpod.cli import images as img
from rpod.cli import ship
from rpod.cli.common import complete_images, paths, write
from rpod.errors import NoSuchImage

app = click.Group("image", help="Manage images", no_args_is_help=True)

app.add_command(img.pull, "pull")
app.add_command(img.rmi, "rm")
app.add_command(img.tag, "tag")
app.add_command(img.untag, "untag")
app.add_command(img.images, "ls")
app.add_command(img.images, "list")
for _name in ("import", "push", "save", "load", "history"):
    app.add_command(ship.app.commands[_name], _name)


@app.command("inspect")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE...", shell_complete=complete_images)
@click.option("--format", "-f", "fmt", help="Go template or json")
def inspect(names: tuple[str, ...], fmt: str | None) -> None:
    """Display the configuration of one or more images."""
    from rpod.image.pull import local_candidates
    from rpod.image.reports import inspect_image
    from rpod.image.store import ImageStore

    store = ImageStore(paths())
    docs: list[Any] = []
    errors = []
    for name in names:
        try:
            docs.append(inspect_image(store, store.resolve(name, local_candidates(name))))
        except NoSuchImage as e:
            errors.append(e)
    from rpod.format import render_list
    from rpod.image.reports import image_struct

    docs = [image_struct(d) for d in docs]
    write(render_list(fmt or "json", docs, name="inspect", json_indent=5))
    if errors:
        raise errors[0]


@app.command("exists")
@click.argument("name")
def exists(name: str) -> None:
    """Exit 0 when the image exists locally, 1 when it does not."""
    from rpod.image.pull import local_candidates
    from rpod.image.store import ImageStore

    try:
        ImageStore(paths()).resolve(name, local_candidates(name))
    except NoSuchImage:
        raise click.exceptions.Exit(1) from None


@app.command("prune")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all unused images, not just dangling ones")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Filter images to prune (key=value)")
def prune(all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused images (dangling ones, or all unused with -a)."""
    from rpod.cli.common import parse_filters
    from rpod.image.manage import cleanup_unused, containers_using, filter_images
    from rpod.image.store import ImageStore

    p = paths()
    store = ImageStore(p)
    used = containers_using(p)
    records = filter_images(store, store.list(), parse_filters(list(filters)))
    doomed = [r for r in records if r.id not in used and (all_ or not r.names)]
    for r in doomed:
        store.delete(r.id)
        write(r.id + "\n")
    cleanup_unused(p)


@app.command("tree")
@click.argument("name", metavar="IMAGE")
@click.option("--whatrequires", is_flag=True, help="Show all child images and layers of the specified image")
def tree(name: str, whatrequires: bool) -> None:
    """Print layer hierarchy of an image in a tree format."""
    from rpod.engine.image_ship import tree as image_tree

    write(image_tree(name))


@app.command("diff")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE [IMAGE]")
@click.option("--format", "fmt", help="Change the output format (json)")
def diff(names: tuple[str, ...], fmt: str | None) -> None:
    """Inspect changes to the image's file systems."""
    import json

    from rpod.engine.image_ship import image_diff
    from rpod.errors import UsageError

    if len(names) > 2:
        raise UsageError("image diff takes one or two images")
    changes = image_diff(names[0], names[1] if len(names) > 1 else None)
    if fmt:
        if fmt.strip() != "json":
            raise UsageError(f"invalid --format {fmt!r}: only json is supported")
        doc = {key: [p for k, p in changes if k == kind] for key, kind in (("changed", "C"), ("added", "A"),
                                                                          ("deleted", "D"))}
        write(json.dumps({k: v for k, v in doc.items() if v}, indent=5) + "\n")
        return
    write("".join(f"{k} {p}\n" for k, p in changes))
