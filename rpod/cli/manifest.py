"""``rpod manifest ...``: manifest lists (thin: flags → engine → output)."""

from __future__ import annotations

import click

from rpod.cli.common import parse_bool_flag, print_json, write

app = click.Group("manifest", help="Manipulate manifest lists and image indexes", no_args_is_help=True)


def _platform_options(f):  # noqa: ANN001, ANN201
    for opt in reversed([
        click.option("--annotation", "annotations", multiple=True, help="Set an annotation (KEY=VALUE)"),
        click.option("--arch", default="", help="Override the architecture of the image"),
        click.option("--features", multiple=True, help="Override the features of the image"),
        click.option("--os", "os_", default="", help="Override the OS of the image"),
        click.option("--os-version", default="", help="Override the OS version of the image"),
        click.option("--variant", default="", help="Override the variant of the image"),
    ]):
        f = opt(f)
    return f


def _auth_options(f):  # noqa: ANN001, ANN201
    for opt in reversed([
        click.option("--authfile", help="Path of the authentication file"),
        click.option("--creds", help="USER[:PASSWORD] for the registry"),
        click.option("--tls-verify", help="Require HTTPS and verify certificates (true/false)"),
        click.option("--cert-dir", help="Directory with TLS certificates for the registry"),
    ]):
        f = opt(f)
    return f


def _add_opts(kw: dict) -> object:
    from rpod.engine.manifests import AddOptions

    return AddOptions(all=kw.get("all_", False), arch=kw.get("arch", ""), os=kw.get("os_", ""),
                      variant=kw.get("variant", ""), os_version=kw.get("os_version", ""),
                      features=[x for f in kw.get("features", ()) for x in f.split(",")],
                      annotations=list(kw.get("annotations", ())),
                      tls_verify=parse_bool_flag(kw.get("tls_verify"), "--tls-verify"), creds=kw.get("creds"),
                      authfile=kw.get("authfile"))


@app.command("create")
@click.argument("name", metavar="LIST")
@click.argument("images", nargs=-1, metavar="[IMAGE...]")
@click.option("--all", "all_", is_flag=True, help="Add all of the lists' images if the images to add are lists")
@click.option("--amend", "-a", is_flag=True, help="Modify an existing list if one with the desired name exists")
@_auth_options
def create(name: str, images: tuple[str, ...], amend: bool, **kw: object) -> None:
    """Create manifest list or image index."""
    from rpod.engine import manifests

    write(manifests.create(name, list(images), _add_opts(kw), amend) + "\n")  # type: ignore[arg-type]


@app.command("add")
@click.argument("name", metavar="LIST")
@click.argument("image", metavar="IMAGE")
@click.option("--all", "all_", is_flag=True, help="Add all of the list's images if the image is a list")
@_platform_options
@_auth_options
def add(name: str, image: str, **kw: object) -> None:
    """Add images to a manifest list or image index."""
    from rpod.engine import manifests

    write(manifests.add(name, image, _add_opts(kw)) + "\n")  # type: ignore[arg-type]


@app.command("annotate")
@click.argument("name", metavar="LIST")
@click.argument("digest", metavar="IMAGE")
@_platform_options
def annotate(name: str, digest: str, **kw: object) -> None:
    """Add or update information about an entry in a manifest list or image index."""
    from rpod.engine import manifests

    write(manifests.annotate(name, digest, _add_opts(kw)) + "\n")  # type: ignore[arg-type]


@app.command("inspect")
@click.argument("name", metavar="IMAGE")
@_auth_options
def inspect(name: str, **kw: object) -> None:
    """Display the contents of a manifest list or image index."""
    from rpod.engine import manifests

    print_json(manifests.inspect(name, _add_opts(kw)))  # type: ignore[arg-type]


@app.command("remove")
@click.argument("name", metavar="LIST")
@click.argument("digest", metavar="IMAGE")
def remove(name: str, digest: str) -> None:
    """Remove an entry from a manifest list or image index."""
    from rpod.engine import manifests

    write(manifests.remove(name, digest) + "\n")


@app.command("rm")
@click.argument("names", nargs=-1, required=True, metavar="LIST...")
def rm(names: tuple[str, ...]) -> None:
    """Remove manifest list or image index from local storage."""
    from rpod.engine import manifests

    for m in manifests.rm(list(names)):
        write("".join(f"Untagged: {n}\n" for n in m.names) + f"Deleted: {m.id}\n")


@app.command("exists")
@click.argument("name", metavar="LIST")
def exists(name: str) -> None:
    """Check if a manifest list exists in local storage."""
    from rpod.engine import manifests

    if not manifests.exists(name):
        raise click.exceptions.Exit(1)


@app.command("push")
@click.argument("name", metavar="LIST")
@click.argument("destination", required=False, metavar="[DESTINATION]")
@click.option("--all", "all_", is_flag=True, default=True, help="Push the images a manifest list refers to too")
@click.option("--digestfile", help="After copying the image, write the digest of the resulting digest to the file")
@click.option("--format", "-f", "fmt", help="Manifest type (oci or v2s2) to attempt to use when pushing")
@click.option("--quiet", "-q", is_flag=True, help="Don't output progress information when pushing lists")
@click.option("--rm", "remove_after", is_flag=True, help="Remove the manifest list if push succeeds")
@click.option("--remove-signatures", is_flag=True, help="Don't copy signatures when pushing images")
@_auth_options
def push(name: str, destination: str | None, all_: bool, digestfile: str | None, fmt: str | None, quiet: bool,
         remove_after: bool, remove_signatures: bool, authfile: str | None, creds: str | None,
         tls_verify: str | None, cert_dir: str | None) -> None:
    """Push a manifest list or image index to a registry."""
    from rpod.engine import manifests

    opts = manifests.PushOptions(tls_verify=parse_bool_flag(tls_verify, "--tls-verify"), creds=creds,
                                 authfile=authfile, cert_dir=cert_dir, format={"v2s2": "docker"}.get(fmt or "", fmt),
                                 digestfile=digestfile)
    progress = manifests.make_progress(quiet)
    try:
        manifests.push(name, destination or "", opts, progress, remove_after)
    finally:
        progress.close()
