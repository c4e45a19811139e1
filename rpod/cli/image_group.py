"""``rpod image ...``: the image command group (ls, pull, rm, tag, untag, inspect, prune, exists)."""

from __future__ import annotations

import typer

from rpod.cli import images as img
from rpod.cli.common import paths, print_json, write
from rpod.errors import NoSuchImage

app = typer.Typer(help="Manage images", no_args_is_help=True)

app.command("pull")(img.pull)
app.command("rm")(img.rmi)
app.command("tag")(img.tag)
app.command("untag")(img.untag)
app.command("ls")(img.images)
app.command("list", hidden=True)(img.images)


@app.command("inspect")
def inspect(
    names: list[str] = typer.Argument(..., metavar="IMAGE..."),
    fmt: str = typer.Option(None, "--format", "-f", help="Go template or json"),
) -> None:
    """Display the configuration of one or more images."""
    from rpod.image.pull import local_candidates
    from rpod.image.reports import inspect_image
    from rpod.image.store import ImageStore

    store = ImageStore(paths())
    docs = []
    errors = []
    for name in names:
        try:
            docs.append(inspect_image(store, store.resolve(name, local_candidates(name))))
        except NoSuchImage as e:
            errors.append(e)
    if fmt and fmt.strip() not in ("json", "{{json .}}"):
        from rpod.format import render_one

        for d in docs:
            write(render_one(fmt, d))
    else:
        print_json(docs)
    if errors:
        raise errors[0]


@app.command("exists")
def exists(name: str = typer.Argument(...)) -> None:
    """Exit 0 when the image exists locally, 1 when it does not."""
    from rpod.image.pull import local_candidates
    from rpod.image.store import ImageStore

    try:
        ImageStore(paths()).resolve(name, local_candidates(name))
    except NoSuchImage:
        raise typer.Exit(1) from None


@app.command("prune")
def prune(
    all_: bool = typer.Option(False, "--all", "-a", help="Remove all unused images, not just dangling ones"),
    force: bool = typer.Option(False, "--force", "-f", help="Do not prompt for confirmation"),
    filters: list[str] = typer.Option(None, "--filter", help="Filter images to prune (key=value)"),
) -> None:
    """Remove unused images (dangling ones, or all unused with -a)."""
    from rpod.cli.common import parse_filters
    from rpod.image.manage import cleanup_unused, containers_using, filter_images
    from rpod.image.store import ImageStore

    p = paths()
    store = ImageStore(p)
    used = containers_using(p)
    records = filter_images(store, store.list(), parse_filters(filters))
    doomed = [r for r in records if r.id not in used and (all_ or not r.names)]
    for r in doomed:
        store.delete(r.id)
        write(r.id + "\n")
    cleanup_unused(p)
