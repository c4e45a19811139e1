"""``rpod commit``: a container's changes as a new image (``rpod.engine.builds.commit``)."""

from __future__ import annotations

import sys

import click

app = click.Group()


@app.command("commit", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container")
@click.argument("image", required=False)
@click.option("-c", "--change", "changes", multiple=True, help="Apply a Containerfile instruction to the image")
@click.option("-m", "--message", default="", help="Commit message")
@click.option("-a", "--author", default="", help="Author of the image")
@click.option("-p", "--pause", default="false", help="Pause the container while committing")
@click.option("-s", "--squash", is_flag=True, help="Squash the new layer with the image's")
@click.option("-f", "--format", "fmt", default="oci", help="Image format: oci or docker")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID")
@click.option("--include-volumes", is_flag=True, help="Include the container's volumes as image volumes")
def commit_cmd(container: str, image: str | None, changes: tuple[str, ...], message: str, author: str, pause: str,
               squash: bool, fmt: str, quiet: bool, include_volumes: bool) -> None:
    """Create new image based on the changed container."""
    from rpod.cli.common import parse_bool_flag
    from rpod.engine import builds

    opts = builds.CommitOptions(container=container, image=builds.normalize_names([image])[0] if image else None,
                                changes=list(changes), message=message, author=author,
                                pause=bool(parse_bool_flag(pause, "--pause")), squash=squash, fmt=fmt,
                                include_volumes=include_volumes)
    if not quiet:
        sys.stderr.write("Getting image source signatures\n")
    record = builds.commit(opts)
    if not quiet:
        sys.stderr.write("Writing manifest to image destination\n")
    sys.stdout.write(record.id + "\n")
