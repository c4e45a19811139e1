"""``rpod healthcheck run CONTAINER``: run the container's healthcheck now (through its monitor).

Exit codes are Podman's: 0 healthy, 1 unhealthy (and ``unhealthy`` printed), 125 when the
container has no healthcheck or is not running.
"""

from __future__ import annotations

import click

from rpod.cli.common import write

app = click.Group("healthcheck", help="Manage health checks on containers")


@app.command("run", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container")
def run_cmd(container: str) -> None:
    """Run the health check of a container."""
    from rpod.engine.containers import healthcheck_run

    if not healthcheck_run(container):
        write("unhealthy\n")
        raise click.exceptions.Exit(1)
