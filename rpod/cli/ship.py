"""``rpod import``, ``push``, ``save``, ``load``, ``history``, ``search`` (thin: flags → engine → output)."""

from __future__ import annotations

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
    from rpod.engine.image_ship import import_image
    from rpod.image.importer import ImportOptions
    from rpod.progress import make_progress

    opts = ImportOptions(source=source, reference=reference or "", changes=list(changes), message=message,
                         os=os_, arch=arch, variant=variant)
    progress = make_progress(quiet)
    try:
        rec = import_image(opts, progress)
    finally:
        progress.close()
    write(f"sha256:{rec.id}\n")
