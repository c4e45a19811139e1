"""What every command module shares: the output helpers of rpod.cli.output (re-exported here),
shell completion of image names, and the group that finds subcommands in other modules."""

from __future__ import annotations

import importlib
from typing import Any

import click

from rpod.cli.output import (  # noqa: F401 - re-exported: every command module imports them from here
    confirm,
    hints_enabled,
    is_json,
    key_values,
    logrus,
    parse_bool_flag,
    parse_filters,
    print_error,
    print_json,
    report_items,
    warn,
    write,
)

HELP = {"help_option_names": ["-h", "--help"]}


def complete_images(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """Shell completion of local image names (and IDs when the word looks like one)."""
    from click.shell_completion import CompletionItem

    from rpod.engine.images import completion_words

    try:
        words = completion_words()
    except Exception:
        return []
    return [CompletionItem(w) for w in words if w.startswith(incomplete)]


class NounGroup(click.Group):
    """A command group (``container``, ``image``...) whose subcommands may live in other modules:
    ``lazy`` maps a subcommand name to the module whose ``app`` holds it, imported only when run."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.lazy = lazy or {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module = importlib.import_module(self.lazy[cmd_name])
            return module.app.commands.get(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})
