"""``rpod image ...`` and the top-level image commands (``pull``, ``images``, ``rmi``, ``tag``,
``untag``): flags in, one engine call, the report out."""

from __future__ import annotations

import click

from rpod.cli.common import (
    NounGroup,
    complete_images,
    parse_bool_flag,
    parse_filters,
    write,
)
from rpod.cli.fast import commands

app = NounGroup("image", help="Manage images", lazy={"build": "rpod.cli.build", **{n: "rpod.cli.ship" for n in (
    "import", "push", "save", "load", "history", "tree", "diff", "mount", "unmount", "umount")},
    "trust": "rpod.cli.trust", "sign": "rpod.cli.trust"}, no_args_is_help=True)



@app.command("pull")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--quiet", "-q", is_flag=True, help="Suppress output information when pulling images")
@click.option("--platform", help="Platform os/arch[/variant] to pull")
@click.option("--arch", help="Architecture to pull (overrides the host's)")
@click.option("--os", "os_", help="OS to pull")
@click.option("--variant", help="Architecture variant to pull")
@click.option("--tls-verify", help="Require HTTPS and verify certificates (true/false)")
@click.option("--creds", help="USER[:PASSWORD] for the registry")
@click.option("--authfile", help="Path of the authentication file")
@click.option("--cert-dir", help="Directory with TLS certificates for the registry")
@click.option("--all-tags", "-a", is_flag=True, help="Pull all tagged images of the repository")
def pull_cmd(names: tuple[str, ...], quiet: bool, platform: str | None, arch: str | None, os_: str | None,
             variant: str | None, tls_verify: str | None, creds: str | None, authfile: str | None,
             cert_dir: str | None, all_tags: bool) -> None:
    """Pull an image from a registry."""
    from rpod.engine import images

    opts = images.PullOptions(names=list(names), platform=platform, arch=arch, os=os_, variant=variant,
                              tls_verify=parse_bool_flag(tls_verify, "--tls-verify"), creds=creds,
                              authfile=authfile, cert_dir=cert_dir, all_tags=all_tags)
    progress = images.make_progress(quiet)
    try:
        for image_id in images.pull(opts, progress):
            write(image_id + "\n")
    finally:
        progress.close()


@app.command("ls")
@click.argument("repository", required=False, metavar="[REPOSITORY]")
@click.option("--all", "-a", "all_", is_flag=True, help="Show all images (default hides intermediate images)")
@click.option("--quiet", "-q", is_flag=True, help="Display only image IDs")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--format", "fmt", help="Go template or json")
@click.option("--filter", "-f", "filters", multiple=True, help="Filter output (key=value)")
@click.option("--noheading", "-n", is_flag=True, help="Do not print column headings")
@click.option("--sort", default="created", show_default=True, help="Sort by created, id, repository, size or tag")
def ls_cmd(repository: str | None, all_: bool, quiet: bool, digests: bool, no_trunc: bool, fmt: str | None,
           filters: tuple[str, ...], noheading: bool, sort: str) -> None:
    """List images in local storage."""
    commands.images(repository, all_, quiet, digests, no_trunc, fmt, filters, noheading, sort)


app.add_command(ls_cmd, "list")


@app.command("rm")
@click.argument("names", nargs=-1, metavar="IMAGE...", shell_complete=complete_images)
@click.option("--force", "-f", is_flag=True, help="Remove the image and any containers using it")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all images")
@click.option("--ignore", "-i", is_flag=True, help="Ignore errors if a specified image does not exist")
def rm_cmd(names: tuple[str, ...], force: bool, all_: bool, ignore: bool) -> None:
    """Remove one or more images from local storage."""
    from rpod.engine import images

    reports = images.remove(images.RemoveOptions(names=list(names), all=all_, force=force, ignore=ignore))
    lines = [ln for r in reports if r.error is None for ln in r.lines()]
    # Podman's one report for all the images: every Untagged line, then every Deleted line
    untagged = [ln for ln in lines if ln.startswith("Untagged: ")]
    write("".join(ln + "\n" for ln in untagged + [ln for ln in lines if not ln.startswith("Untagged: ")]))
    errors = [r.error for r in reports if r.error is not None]
    if len(errors) > 1:  # Podman joins them (go-multierror), the exit code from all of them
        codes = {e.exit_code for e in errors}
        from rpod.errors import RpodError

        joined = RpodError(f"{len(errors)} errors occurred:\n" + "\n".join(f"\t* {e}" for e in errors))
        joined.exit_code = 2 if 2 in codes else 1 if codes == {1} else 125
        raise joined
    if errors:
        raise errors[0]


@app.command("tag")
@click.argument("image", shell_complete=complete_images)
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
def tag_cmd(image: str, targets: tuple[str, ...]) -> None:
    """Add an additional name to a local image."""
    from rpod.engine import images

    images.tag(image, list(targets))


@app.command("untag")
@click.argument("image", shell_complete=complete_images)
@click.argument("names", nargs=-1, metavar="[NAME...]")
def untag_cmd(image: str, names: tuple[str, ...]) -> None:
    """Remove a name from a local image."""
    from rpod.engine import images

    images.untag(image, list(names))


@app.command("inspect")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE...", shell_complete=complete_images)
@click.option("--format", "-f", "fmt", help="Go template or json")
def inspect_cmd(names: tuple[str, ...], fmt: str | None) -> None:
    """Display the configuration of one or more images."""
    commands.image_inspect(names, fmt)


@app.command("exists")
@click.argument("name")
def exists_cmd(name: str) -> None:
    """Exit 0 when the image exists locally, 1 when it does not."""
    from rpod.engine import images

    if not images.exists(name):
        raise click.exceptions.Exit(1)


@app.command("prune")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all unused images, not just dangling ones")
@click.option("--force", "-f", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Filter images to prune (key=value)")
def prune_cmd(all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused images (dangling ones, or all unused with -a)."""
    from rpod.engine import images

    for r in images.prune(all_, parse_filters(filters)):
        write(r.id + "\n")
