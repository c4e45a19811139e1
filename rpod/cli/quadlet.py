"""``rpod quadlet``: Quadlet files → systemd services (what the systemd generator runs)."""

from __future__ import annotations

import sys

import click

from rpod.errors import UsageError

HELP = {"help_option_names": ["-h", "--help"]}
app = click.Group()


@app.command("quadlet", context_settings=HELP)
@click.argument("output_dirs", nargs=-1)
@click.option("--dryrun", "-dryrun", "dryrun", is_flag=True, help="Print the services instead of writing them")
@click.option("--user", "-user", "user", is_flag=True, help="Read the user search path (~/.config/containers/systemd)")
@click.option("--no-kmsg-log", "-no-kmsg-log", "no_kmsg", is_flag=True, help="Accepted for Podman compatibility")
@click.option("-v", "--verbose", is_flag=True, help="Say which files are read")
def quadlet_cmd(output_dirs: tuple[str, ...], dryrun: bool, user: bool, no_kmsg: bool, verbose: bool) -> None:
    """Generate systemd services from .container, .volume and .network files.

    As a systemd generator it gets three directories (normal, early, late) and writes to the first."""
    from rpod.engine import systemd

    if not dryrun and not output_dirs:
        raise UsageError("missing output directory", hint="give one (as a systemd generator does) or use --dryrun")
    if verbose:
        for path in systemd.quadlet_files(user):
            sys.stderr.write(f"rpod quadlet: loading {path}\n")
    result = systemd.quadlet(user)
    for err in result.errors:
        sys.stderr.write(f"Error: {err}\n")
    if dryrun:
        for s in result.services:
            sys.stdout.write(f"---{s.filename}---\n{s.text}\n")
            for link_dir, target in s.links:
                sys.stdout.write(f"# link: {link_dir}/{target} -> ../{target}\n")
    else:
        written = systemd.quadlet_write(result.services, output_dirs[0])
        if verbose:
            for path in written:
                sys.stderr.write(f"rpod quadlet: wrote {path}\n")
    sys.stdout.flush()
    if result.errors:
        raise click.exceptions.Exit(1)
