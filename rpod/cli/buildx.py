"""``rpod buildx build``: Docker's buildx spelling of ``build``, as Podman accepts it."""

from __future__ import annotations

import click

from rpod.cli.build import build_cmd

app = click.Group("buildx", help="Build images (buildx compatibility)", no_args_is_help=True)
app.add_command(build_cmd, "build")
