"""``rpod compose ...``: run an installed compose provider pointed at rpod, as ``podman compose``
(``rpod.engine.compose`` finds it)."""

from __future__ import annotations

import os
import sys

import click

app = click.Group()


@app.command("compose", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                          "allow_interspersed_args": False, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[COMMAND [ARG...]]")
@click.pass_context
def compose_cmd(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run compose workloads via an external provider such as podman-compose."""
    from rpod.engine.compose import provider_argv

    if args[:1] in (("--help",), ("-h",)):  # rpod's own usage (the provider's help: compose COMMAND --help)
        click.echo(ctx.get_help())
        return

    argv = provider_argv(list(args))
    sys.stderr.write(f">>>> Executing external compose provider \"{argv[0]}\". Please refer to the "
                     "documentation for details. <<<<\n\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
