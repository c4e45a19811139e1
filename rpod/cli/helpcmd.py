"""``rpod help [COMMAND...]``: cobra's help command (``podman help image`` = ``podman image --help``)."""

from __future__ import annotations

import click

from rpod.cli.helpfmt import adopt

app = click.Group()


@app.command("help", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("command", nargs=-1, metavar="[command]")  # cobra's: a group-like usage line
@click.pass_context
def help_cmd(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Help about any command."""
    root = ctx.find_root()
    cur_ctx, cur = root, root.command
    for word in command:
        if not isinstance(cur, click.Group):
            break
        sub = cur.get_command(cur_ctx, word)
        if sub is None:
            raise click.UsageError(f"unknown help topic: {' '.join(command)}", ctx)
        adopt(sub)
        cur_ctx, cur = click.Context(sub, info_name=word, parent=cur_ctx), sub
    click.echo(cur.get_help(cur_ctx))
