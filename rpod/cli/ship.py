"""``rpod import``, ``push``, ``save``, ``load``, ``history`` and ``image tree/diff/mount/unmount``
(thin: flags → engine → output)."""

from __future__ import annotations

import os

import click

from rpod.cli.common import write

app = click.Group()


@app.command("import")
@click.argument("source", metavar="PATH")
@click.argument("reference", required=False)
@click.option("--change", "-c", "changes", multiple=True, help="Apply the following possible instructions to "
              "the created image: CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | "
              "VOLUME | WORKDIR")
@click.option("--message", "-m", default="", help="Set commit message for imported image")
@click.option("--quiet", "-q", is_flag=True, help="Suppress output")
@click.option("--os", "os_", default="", help="Set the OS of the imported image")
@click.option("--arch", default="", help="Set the architecture of the imported image")
@click.option("--variant", default="", help="Set the variant of the imported image")
def import_(source: str, reference: str | None, changes: tuple[str, ...], message: str, quiet: bool, os_: str,
            arch: str, variant: str) -> None:
    """Import a tarball to create a filesystem image."""
    from rpod.engine.image_ship import ImportOptions, import_image, make_progress

    opts = ImportOptions(source=source, reference=reference or "", changes=list(changes), message=message,
                         os=os_, arch=arch, variant=variant)
    progress = make_progress(quiet)
    try:
        rec = import_image(opts, progress)
    finally:
        progress.close()
    write(f"sha256:{rec.id}\n")


@app.command("push")
@click.argument("source", metavar="IMAGE")
@click.argument("destination", required=False, metavar="[DESTINATION]")
@click.option("--authfile", help="Path of the authentication file")
@click.option("--cert-dir", help="Directory with TLS certificates for the registry")
@click.option("--compression-format", "compression", type=click.Choice(["gzip", "zstd", "zstd:chunked"]),
              help="Compression format to use (re-compresses the layers when they are stored otherwise)")
@click.option("--creds", help="USER[:PASSWORD] for the registry")
@click.option("--digestfile", help="Write the digest of the pushed image to the specified file")
@click.option("--format", "-f", "fmt", help="Manifest type (oci, v2s2) to use in the destination")
@click.option("--quiet", "-q", is_flag=True, help="Suppress output information when pushing images")
@click.option("--remove-signatures", is_flag=True, help="Discard any pre-existing signatures in the image")
@click.option("--tls-verify", help="Require HTTPS and verify certificates (true/false)")
@click.option("--compress", is_flag=True, hidden=True)
def push(source: str, destination: str | None, authfile: str | None, cert_dir: str | None, compression: str | None,
         creds: str | None, digestfile: str | None, fmt: str | None, quiet: bool, remove_signatures: bool,
         tls_verify: str | None, compress: bool) -> None:
    """Push an image to a specified destination."""
    from rpod.cli.common import parse_bool_flag
    from rpod.engine.image_ship import PushOptions, make_progress
    from rpod.engine.image_ship import push as push_image

    opts = PushOptions(tls_verify=parse_bool_flag(tls_verify, "--tls-verify"), creds=creds, authfile=authfile,
                       cert_dir=cert_dir, format=fmt, digestfile=digestfile, remove_signatures=remove_signatures,
                       compression=(compression or "").partition(":")[0] or None)
    chunk = os.environ.get("RPOD_PUSH_CHUNK", "")  # tests and slow links: force chunked uploads of this size
    if chunk.isdigit() and int(chunk) > 0:
        opts.chunk_size = opts.monolithic_max = int(chunk)
    progress = make_progress(quiet)
    try:
        push_image(source, destination or "", opts, progress)
    finally:
        progress.close()


@app.command("save")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--output", "-o", default="", help="Write to a specified file (default: stdout, which must be "
              "redirected)")
@click.option("--format", "fmt", default="docker-archive",
              help="Save image to oci-archive, oci-dir (directory with oci manifest type), docker-archive, "
                   "docker-dir (directory with v2s2 manifest type)")
@click.option("--multi-image-archive", "-m", "multi", is_flag=True, help="Interpret additional arguments as "
              "images not tags and create a multi-image-archive (only for docker-archive)")
@click.option("--quiet", "-q", is_flag=True, help="Suppress the output")
@click.option("--compress", is_flag=True, help="Compress tarball image layers when saving to a directory "
              "using the 'dir' transport")
@click.option("--uncompressed", is_flag=True, help="Accept uncompressed layers when copying OCI images")
def save(names: tuple[str, ...], output: str, fmt: str, multi: bool, quiet: bool, compress: bool,
         uncompressed: bool) -> None:
    """Save image(s) to an archive."""
    import sys

    from rpod.engine.image_ship import QuietProgress, make_progress
    from rpod.engine.image_ship import save as save_images
    from rpod.errors import UsageError

    if not output and sys.stdout.isatty():
        raise UsageError("refusing to save to terminal. Use -o flag or redirect")
    progress = make_progress(quiet) if output else QuietProgress()
    try:
        save_images(list(names), fmt, output, multi, progress, compress, uncompressed=uncompressed)
    finally:
        progress.close()


@app.command("load")
@click.option("--input", "-i", "input_", default="", help="Read from specified archive file (default: stdin)")
@click.option("--quiet", "-q", is_flag=True, help="Suppress the output")
def load(input_: str, quiet: bool) -> None:
    """Load image(s) from a tar archive."""
    import sys

    from rpod.engine.image_ship import load as load_images
    from rpod.engine.image_ship import make_progress
    from rpod.errors import UsageError

    if not input_ and sys.stdin.isatty():
        raise UsageError("cannot read from terminal, use command-line redirection or the --input flag")
    progress = make_progress(quiet)
    try:
        loaded = load_images(input_, progress)
    finally:
        progress.close()
    write("".join(f"Loaded image: {n}\n" for n in loaded.names))


HISTORY_HEADERS = {"ID": "ID", "Created": "CREATED", "CreatedBy": "CREATED BY", "Size": "SIZE",
                   "Comment": "COMMENT", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED"}


class _BoolFlags(click.Command):
    """Go-style boolean flags: ``--human=false`` as well as ``--human``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out = []
        for a in args:
            flag, sep, value = a.partition("=")
            if sep and flag == "--human":
                a = "--human" if value.lower() in ("true", "1", "yes") else "--no-human"
            out.append(a)
        return super().parse_args(ctx, out)


@app.command("history", cls=_BoolFlags)
@click.argument("name", metavar="IMAGE")
@click.option("--human/--no-human", "-H", default=True, help="Display sizes and dates in human readable format")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("--notruncate", "no_trunc", is_flag=True, hidden=True)
@click.option("--quiet", "-q", is_flag=True, help="Display the numeric IDs only")
@click.option("--format", "fmt", help="Change the output to JSON or a Go template")
def history(name: str, human: bool, no_trunc: bool, quiet: bool, fmt: str | None) -> None:
    """Show history of a specified image."""
    from rpod.engine.image_ship import history_json, history_rows
    from rpod.format import render_list
    from rpod.format.report import is_json

    rows = history_rows(name, human, no_trunc)
    if fmt and is_json(fmt):
        import json

        text = json.dumps(history_json(rows), separators=(",", ":"), ensure_ascii=False)
        # one line, with Go's HTML escapes, as Podman's json.Marshal
        write(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n")
        return
    if quiet:
        write("".join(r.ID + "\n" for r in rows))
        return
    fmt = fmt or "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    write(render_list(fmt, rows, headers=HISTORY_HEADERS, name="history"))


@app.command("tree")
@click.argument("name", metavar="IMAGE")
@click.option("--whatrequires", is_flag=True, help="Show all child images and layers of the specified image")
def tree(name: str, whatrequires: bool) -> None:
    """Print layer hierarchy of an image in a tree format."""
    from rpod.engine.image_ship import tree as image_tree

    write(image_tree(name, whatrequires))


@app.command("diff")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE [IMAGE]")
@click.option("--format", "fmt", help="Change the output format (json)")
def diff(names: tuple[str, ...], fmt: str | None) -> None:
    """Inspect changes to the image's file systems."""
    import json

    from rpod.engine.image_ship import image_diff
    from rpod.errors import UsageError

    if len(names) > 2:
        raise UsageError(f"accepts between 1 and 2 arg(s), received {len(names)}")
    changes = image_diff(names[0], names[1] if len(names) > 1 else None)
    if fmt:
        if fmt.strip() != "json":
            raise UsageError(f"invalid --format {fmt!r}: only json is supported")
        doc = {key: [p for k, p in changes if k == kind] for key, kind in (("changed", "C"), ("added", "A"),
                                                                          ("deleted", "D"))}
        write(json.dumps({k: v for k, v in doc.items() if v}, indent=5) + "\n")
        return
    write("".join(f"{k} {p}\n" for k, p in changes))


@app.command("mount")
@click.argument("names", nargs=-1, metavar="[IMAGE...]")
@click.option("--all", "-a", "all_", is_flag=True, help="Mount all images")
@click.option("--format", "fmt", help="Print the mounted images in specified format (json)")
def mount(names: tuple[str, ...], all_: bool, fmt: str | None) -> None:
    """Mount an image's root filesystem (inside rpod unshare)."""
    from rpod.cli.common import print_json
    from rpod.engine.image_ship import mount as mount_images

    if all_:
        from rpod.engine.image_ship import all_image_ids

        names = tuple(all_image_ids())
    mounted = mount_images(list(names))
    if fmt and fmt.strip() == "json":
        print_json([{"id": r.id, "Names": r.names, "Repositories": r.names, "mountpoint": str(m)}
                    for r, m in mounted])
        return
    if names:
        write("".join(f"{m}\n" for _, m in mounted))
    else:
        write("".join(f"{r.id[:12]} {' '.join(r.names)} {m}\n" for r, m in mounted))


@app.command("unmount")
@click.argument("names", nargs=-1, metavar="IMAGE...")
@click.option("--all", "-a", "all_", is_flag=True, help="Unmount all of the currently mounted images")
@click.option("--force", "-f", is_flag=True, help="Force the complete unmount of the specified mounted images")
def unmount(names: tuple[str, ...], all_: bool, force: bool) -> None:
    """Unmount an image's root filesystem."""
    from rpod.engine.image_ship import unmount as unmount_images
    from rpod.errors import UsageError

    if not names and not all_:
        raise UsageError("when using the --all switch, you may not pass any image names or IDs"
                         if names else "image name or ID must be specified")
    write("".join(f"{i}\n" for i in unmount_images(list(names), all_)))


app.add_command(unmount, "umount")


@app.command("search")
@click.argument("term", metavar="TERM")
@click.option("--filter", "-f", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "fmt", help="Change the output format to JSON or a Go template")
@click.option("--limit", type=int, default=0, help="Limit the number of results")
@click.option("--list-tags", is_flag=True, help="List the tags of the input registry")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("--authfile", help="Path of the authentication file")
@click.option("--creds", help="USER[:PASSWORD] for the registry")
@click.option("--tls-verify", help="Require HTTPS and verify certificates (true/false)")
@click.option("--cert-dir", help="Directory with TLS certificates for the registry")
def search(term: str, filters: tuple[str, ...], fmt: str | None, limit: int, list_tags: bool, no_trunc: bool,
           authfile: str | None, creds: str | None, tls_verify: str | None, cert_dir: str | None) -> None:
    """Search a registry for an image."""
    from rpod.cli.common import parse_bool_flag, parse_filters, print_json
    from rpod.engine.image_ship import search as search_images
    from rpod.engine.image_ship import search_options
    from rpod.format import render_list
    from rpod.format.report import is_json

    opts = search_options(limit=limit, filters=parse_filters(list(filters)), list_tags=list_tags,
                          tls_verify=parse_bool_flag(tls_verify, "--tls-verify"), creds=creds, authfile=authfile,
                          cert_dir=cert_dir)
    rows = search_images(term, opts)
    if fmt and is_json(fmt):
        if list_tags:
            by_name: dict[str, list[str]] = {}
            for r in rows:
                by_name.setdefault(r.Name, []).append(r.Tag)
            print_json([{"Name": n, "Tags": t} for n, t in by_name.items()])
        else:
            print_json([{"Index": r.Index, "Name": r.Name, "Description": r.Description, "Stars": r.Stars,
                         "Official": r.Official, "Automated": r.Automated, "Tag": r.Tag} for r in rows])
        return
    if not rows:
        return  # Podman prints no header for no results
    fmt = fmt or ("table {{.Name}}\t{{.Tag}}" if list_tags else "table {{.Name}}\t{{.Description}}")
    write(render_list(fmt, rows, headers={"Name": "NAME", "Description": "DESCRIPTION", "Tag": "TAG",
                                          "Index": "INDEX", "Stars": "STARS", "Official": "OFFICIAL",
                                          "Automated": "AUTOMATED"}, name="search"))
