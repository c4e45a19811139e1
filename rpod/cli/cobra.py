"""Argument errors in cobra's words, for every leaf command (``rpod.cli.app`` adopts them).

click says ``Got unexpected extra argument (x)`` / ``Missing argument 'NAME'``; Podman's commands
use cobra's validators, whose messages scripts (and Podman's own tests) match:

* no arguments allowed: ```podman system df` takes no arguments``  (Podman's ``validate.NoArgs``)
* a fixed count:        ``accepts 2 arg(s), received 3``           (``cobra.ExactArgs``)
* a range:              ``accepts between 1 and 2 arg(s), received 3`` / ``accepts at most 1 arg(s), ...``
* a minimum:            ``requires at least 1 arg(s), only received 0`` (``cobra.MinimumNArgs``)

``--latest`` with names, or with ``--all``, is refused as Podman refuses it.
"""

from __future__ import annotations

import math
from typing import Any

import click

# commands whose arguments after -l are not containers (a command, ports, ps descriptors)
_LATEST_TAKES_ARGS = {"exec", "port", "top", "run", "create", "cp", "commit", "checkpoint", "restore"}


def arg_bounds(cmd: click.Command) -> tuple[int, float]:
    """(minimum, maximum) positional arguments of ``cmd`` (maximum ``inf`` for ``nargs=-1``)."""
    low, high = 0, 0.0
    for p in cmd.params:
        if isinstance(p, click.Argument):
            if p.nargs == -1:
                high = math.inf
                low += 1 if p.required else 0
            else:
                high += p.nargs
                low += p.nargs if p.required else 0
    return low, high


def cobra_message(ctx: click.Context, low: int, high: float, received: int) -> str:
    """What cobra (or Podman's validate) says for ``received`` arguments outside [low, high]."""
    if high == 0:
        return f"`{ctx.command_path}` takes no arguments"
    if high == math.inf:
        return f"requires at least {low} arg(s), only received {received}"
    if low == high:
        return f"accepts {low} arg(s), received {received}"
    if low == 0:
        return f"accepts at most {int(high)} arg(s), received {received}"
    return f"accepts between {low} and {int(high)} arg(s), received {received}"


def _positional_count(cmd: click.Command, ctx: click.Context, args: list[str]) -> int:
    try:
        parser = cmd.make_parser(ctx)
        opts, largs, _order = parser.parse_args(args=list(args))
    except click.exceptions.ClickException:
        return sum(1 for a in args if not a.startswith("-"))
    count = len(largs)  # the parser hands arguments their values; what is left over is extra
    for p in cmd.params:
        value = opts.get(p.name) if isinstance(p, click.Argument) and p.name else None
        if isinstance(value, (list, tuple)):
            count += len(value)
        elif isinstance(value, str):  # (an absent one is click's UNSET sentinel)
            count += 1
    return count


_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def bool_values(cmd: click.Command, args: list[str]) -> tuple[list[str], list[str]]:
    """pflag's ``--flag=true|false`` (and ``-f=false``) for boolean flags, which click refuses:
    ``=true`` becomes the bare flag, ``=false`` its ``--no-`` form or nothing (Go's ``ParseBool``
    spellings; another value is cobra's error).  Options end at ``--``, and at the first
    positional argument for commands that take a command line (``run``, ``exec``).  Returns the
    arguments and the parameters to set False after parsing (``=false`` of a flag whose default
    is true and that has no ``--no-`` form, e.g. ``events --no-trunc=false``)."""
    bools: dict[str, click.Option] = {}
    valued: set[str] = set()
    for p in cmd.params:
        if isinstance(p, click.Option):
            if p.is_bool_flag and not p.count:
                bools.update(dict.fromkeys(p.opts, p))
            elif not p.is_flag and not p.count:
                valued.update(p.opts + p.secondary_opts)
    if not bools:
        return args, []
    forced: list[str] = []
    interspersed = cmd.context_settings.get("allow_interspersed_args", True)
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--" or (not arg.startswith("-") and not interspersed):
            out.append(arg)
            out.extend(args[i:])
            break
        name, eq, value = arg.partition("=")
        p = bools.get(name) if eq and arg.startswith("-") else None
        if p is None:
            out.append(arg)
            if arg in valued and i < len(args):
                out.append(args[i])
                i += 1
            continue
        if value in _TRUE:
            out.append(p.opts[0])
        elif value in _FALSE:
            out.extend(p.secondary_opts[:1])
            if not p.secondary_opts and p.default and p.name:
                forced.append(p.name)
        else:  # pflag names the flag as "-t, --tty" when it has a shorthand
            shown = ", ".join(sorted(p.opts, key=lambda o: o.startswith("--")))
            raise click.exceptions.UsageError(
                f'invalid argument "{value}" for "{shown}" flag: strconv.ParseBool: parsing "{value}": invalid syntax')
    return out, forced


class CobraCommandMixin:
    """Leaf commands: cobra's argument-count errors, pflag's ``--bool=value`` and Podman's
    ``--latest`` conflicts."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cmd: Any = self
        args, forced = bool_values(cmd, args)
        given = list(args)  # click's parser consumes the list it is given
        low, high = arg_bounds(cmd)
        if high != math.inf and not ctx.resilient_parsing:  # too many: before any value is checked
            received = _positional_count(cmd, ctx, given)
            if received > high:
                raise click.exceptions.UsageError(cobra_message(ctx, low, high, received), ctx)
        try:
            rest: list[str] = super().parse_args(ctx, args)  # type: ignore[misc]
            for name in forced:
                ctx.params[name] = False
            return rest
        except click.exceptions.MissingParameter as e:
            if not isinstance(e.param, click.Argument):
                raise
            low, high = arg_bounds(cmd)
            raise click.exceptions.UsageError(
                cobra_message(ctx, low, high, _positional_count(cmd, ctx, given)), ctx) from e
        except click.exceptions.UsageError as e:
            if "unexpected extra argument" not in e.message:
                raise
            low, high = arg_bounds(cmd)
            raise click.exceptions.UsageError(
                cobra_message(ctx, low, high, _positional_count(cmd, ctx, given)), ctx) from e

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.params.get("latest") and ctx.info_name not in _LATEST_TAKES_ARGS:
            named = any(ctx.params.get(p.name) for p in ctx.command.params  # type: ignore[union-attr]
                        if isinstance(p, click.Argument) and p.name)
            if named:
                what = "pods" if " pod " in f" {ctx.command_path} " else "containers"
                raise click.exceptions.UsageError(f"--latest and {what} cannot be used together", ctx)
            if ctx.params.get("all_") or ctx.params.get("all"):
                raise click.exceptions.UsageError("--all and --latest cannot be used together", ctx)
        return super().invoke(ctx)  # type: ignore[misc]
