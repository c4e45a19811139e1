"""``rpod pull``, ``images``, ``rmi``, ``tag``, ``untag`` and the ``image`` subcommands they share."""

from __future__ import annotations

import sys

import click

from rpod.cli.common import complete_images, parse_bool_flag, parse_filters, paths, print_json, write
from rpod.cli.globals import hints_enabled
from rpod.errors import NoSuchImage, RpodError, UsageError

app = click.Group()

IMAGE_HEADERS = {"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Created": "CREATED"}


def pull_images(names: list[str], quiet: bool, platform: str | None, arch: str | None, os_: str | None,
                variant: str | None, tls_verify: str | None, creds: str | None, authfile: str | None,
                cert_dir: str | None, all_tags: bool) -> None:
    from rpod.image.pull import Puller, PullOptions, parse_platform
    from rpod.progress import make_progress

    opts = PullOptions(tls_verify=parse_bool_flag(tls_verify, "--tls-verify"), creds=creds, authfile=authfile,
                       cert_dir=cert_dir)
    if platform:
        opts.os, opts.arch, opts.variant = parse_platform(platform)
    opts.arch = arch or opts.arch
    opts.os = os_ or opts.os
    opts.variant = variant or opts.variant
    progress = make_progress(quiet)
    puller = Puller(paths(), opts, progress)
    try:
        for name in names:
            if all_tags:
                for rec in _pull_all_tags(puller, name):
                    write(rec.id + "\n")
                continue
            rec = puller.pull(name)
            write(rec.id + "\n")
    finally:
        progress.close()


def _pull_all_tags(puller, name: str):  # noqa: ANN001, ANN202
    from rpod.image.pull import candidates

    ref = candidates(name)[0]
    if ref.tag and ref.tag != "latest" and ":" in name.rsplit("/", 1)[-1] or ref.digest:
        raise UsageError("--all-tags takes a repository without a tag or digest")
    client, repo = puller.client_for(ref)
    recs = []
    for tag in client.list_tags(repo):
        recs.append(puller.pull(f"{ref.name}:{tag}"))
    return recs


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
def pull(names: tuple[str, ...], quiet: bool, platform: str | None, arch: str | None, os_: str | None,
         variant: str | None, tls_verify: str | None, creds: str | None, authfile: str | None,
         cert_dir: str | None, all_tags: bool) -> None:
    """Pull an image from a registry."""
    pull_images(list(names), quiet, platform, arch, os_, variant, tls_verify, creds, authfile, cert_dir, all_tags)


def list_images(all_: bool, quiet: bool, digests: bool, no_trunc: bool, fmt: str | None,
                filters: list[str] | None, noheading: bool, sort: str, repository: str | None) -> None:
    from rpod.image.manage import containers_using, filter_images
    from rpod.image.reports import image_rows
    from rpod.image.store import ImageStore

    p = paths()
    store = ImageStore(p)
    records = store.list()
    flt = parse_filters(filters)
    if repository:
        flt.setdefault("reference", []).append(repository)
    records = filter_images(store, records, flt)
    # only a --format can show .Containers (the default table and -q do not): the container store is
    # not read otherwise
    used = {k: len(v) for k, v in containers_using(p).items()} if fmt else {}
    rows = image_rows(store, records, no_trunc=no_trunc, containers_by_image=used)
    sort_keys = {
        "created": lambda r: -_created(r[1]),
        "id": lambda r: r[1].id,
        "repository": lambda r: (r[0].Repository, r[0].Tag),
        "tag": lambda r: r[0].Tag,
        "size": lambda r: r[1].size,
    }
    if sort not in sort_keys:
        raise UsageError(f"invalid sort field {sort!r}: use created, id, repository, size or tag")
    rows.sort(key=sort_keys[sort])
    if quiet:
        seen: list[str] = []
        for row, _rec in rows:
            if row.ID not in seen:
                seen.append(row.ID)
        write("".join(i + "\n" for i in seen))
        return
    from rpod.format import render_list
    from rpod.format.report import is_json

    if fmt and is_json(fmt):
        import time as _t

        from rpod.humanize import parse_time

        out = []
        seen_ids = set()
        for row, rec in rows:
            if rec.id in seen_ids:
                continue
            seen_ids.add(rec.id)
            out.append(row.to_json(rec, parse_time(rec.created) or _t.time()))
        print_json(out)
        return
    if not fmt:
        cols = ["{{.Repository}}", "{{.Tag}}"]
        if digests:
            cols.append("{{.Digest}}")
        cols += ["{{.ID}}", "{{.CreatedSince}}", "{{.Size}}"]
        fmt = "table " + "\t".join(cols)
    write(render_list(fmt, [r for r, _ in rows], headers=IMAGE_HEADERS, noheading=noheading, name="images"))


def _created(rec) -> float:  # noqa: ANN001
    from rpod.humanize import parse_time

    return parse_time(rec.created) or rec.pulled_at


@app.command("images")
@click.argument("repository", required=False, metavar="[REPOSITORY]")
@click.option("--all", "-a", "all_", is_flag=True, help="Show all images (default hides intermediate images)")
@click.option("--quiet", "-q", is_flag=True, help="Display only image IDs")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--format", "fmt", help="Go template or json")
@click.option("--filter", "-f", "filters", multiple=True, help="Filter output (key=value)")
@click.option("--noheading", "-n", is_flag=True, help="Do not print column headings")
@click.option("--sort", default="created", show_default=True, help="Sort by created, id, repository, size or tag")
def images(repository: str | None, all_: bool, quiet: bool, digests: bool, no_trunc: bool, fmt: str | None,
           filters: tuple[str, ...], noheading: bool, sort: str) -> None:
    """List images in local storage."""
    list_images(all_, quiet, digests, no_trunc, fmt, list(filters), noheading, sort, repository)


def remove(names: list[str], force: bool, all_: bool, ignore: bool) -> int:
    from rpod.image.manage import remove_images
    from rpod.image.pull import local_candidates
    from rpod.image.store import ImageStore

    p = paths()
    if all_:
        names = [r.id for r in ImageStore(p).list()]
    elif not names:
        raise UsageError("image name or ID must be specified")
    rc = 0
    for name in names:
        try:
            report = remove_images(p, [name], force=force, candidates_of=local_candidates)
        except NoSuchImage as e:
            if ignore or force:  # Podman: --force ignores missing images too
                continue
            sys.stderr.write(f"Error: {e}\n")
            rc = 1
            continue
        except RpodError as e:
            sys.stderr.write(f"Error: {e}\n")
            if e.hint and hints_enabled():
                sys.stderr.write(f"Hint: {e.hint}\n")
            rc = 2 if rc in (0, 2) else rc
            continue
        for n in report.untagged:
            write(f"Untagged: {n}\n")
        for d in report.deleted:
            write(f"Deleted: {d}\n")
    return rc


@app.command("rmi")
@click.argument("names", nargs=-1, metavar="IMAGE...", shell_complete=complete_images)
@click.option("--force", "-f", is_flag=True, help="Remove the image and any containers using it")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove all images")
@click.option("--ignore", "-i", is_flag=True, help="Ignore errors if a specified image does not exist")
def rmi(names: tuple[str, ...], force: bool, all_: bool, ignore: bool) -> None:
    """Remove one or more images from local storage."""
    rc = remove(list(names), force, all_, ignore)
    if rc:
        raise click.exceptions.Exit(rc)


def tag_image(image: str, targets: list[str]) -> None:
    from rpod.image.manage import normalize_tag
    from rpod.image.pull import local_candidates
    from rpod.image.store import ImageStore

    store = ImageStore(paths())
    rec = store.resolve(image, local_candidates(image))
    for t in targets:
        store.add_name(rec.id, normalize_tag(t))


@app.command("tag")
@click.argument("image", shell_complete=complete_images)
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
def tag(image: str, targets: tuple[str, ...]) -> None:
    """Add an additional name to a local image."""
    tag_image(image, list(targets))


def untag_image(image: str, names: list[str]) -> None:
    from rpod.image.manage import normalize_tag
    from rpod.image.pull import local_candidates
    from rpod.image.store import ImageStore

    store = ImageStore(paths())
    rec = store.resolve(image, local_candidates(image))
    if not names:
        store.remove_name(rec.id, None)
        return
    for n in names:
        full = n if n in rec.names else normalize_tag(n)
        if full not in rec.names:
            full = next((x for x in rec.names if x.endswith("/" + n) or x.endswith("/" + n + ":latest")), full)
        store.remove_name(rec.id, full)


@app.command("untag")
@click.argument("image", shell_complete=complete_images)
@click.argument("names", nargs=-1, metavar="[NAME...]")
def untag(image: str, names: tuple[str, ...]) -> None:
    """Remove a name from a local image."""
    untag_image(image, list(names))
