"""``rpod auto-update [--dry-run] [--rollback] [--format]``."""

from __future__ import annotations

import sys

import click

from rpod.cli.common import write

HELP = {"help_option_names": ["-h", "--help"]}
HEADERS = {"Unit": "UNIT", "Container": "CONTAINER", "Image": "IMAGE", "Policy": "POLICY", "Updated": "UPDATED"}
app = click.Group()


@app.command("auto-update", context_settings=HELP)
@click.option("--dry-run", is_flag=True, help="Check for updates, change nothing")
@click.option("--rollback", default="true", help="Roll back to the old image when the restart fails (true|false)")
@click.option("--format", "fmt", default=None, help="Go template or json")
@click.option("--authfile", default=None, help="Path of the authentication file")
def auto_update_cmd(dry_run: bool, rollback: str, fmt: str | None, authfile: str | None) -> None:
    """Auto update containers according to their auto-update policy."""
    from rpod.cli.common import parse_bool_flag
    from rpod.engine.systemd import auto_update

    reports, errors = auto_update(dry_run=dry_run, rollback=bool(parse_bool_flag(rollback, "--rollback")),
                                  authfile=authfile)
    if fmt == "json":
        from rpod.cli.common import print_json

        print_json([{"Unit": r.Unit, "Container": r.Container, "ContainerName": r.ContainerName,
                     "ContainerID": r.ContainerID, "Image": r.Image, "Policy": r.Policy, "Updated": r.Updated}
                    for r in reports])
    elif reports or fmt:
        from rpod.format import render_list

        write(render_list(fmt or "table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}",
                          reports, headers=HEADERS))
    for err in errors:
        sys.stderr.write(f"Error: {err}\n")
    if errors:
        raise click.exceptions.Exit(125)
