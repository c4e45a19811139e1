"""Man pages rpod(1) and rpod-COMMAND(1) generated from the click definitions, so they never drift
from ``--help``: ``python3 -m rpod.cli.manpages DIR`` (the quickstart writes them into
/usr/local/share/man/man1 from the rpod it just installed; ``man rpod-run`` then works).

A group's subcommands get ``rpod-GROUP-SUB(1)`` (``rpod-image-ls``, ``rpod-generate-systemd``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from rpod import __version__
from rpod.cli.helpfmt import adopt, examples, option_rows, usage_line


def _esc(text: str) -> str:
    """Text safe for roff: backslashes, hyphens, and control characters at the start of a line."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + ln) if ln[:1] in (".", "'") else ln for ln in text.splitlines())


def walk(cmd: click.Command, ctx: click.Context) -> Iterator[tuple[click.Command, click.Context]]:
    """Every visible command under ``cmd`` (itself included), each with its context."""
    yield cmd, ctx
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            adopt(sub)
            yield from walk(sub, click.Context(sub, info_name=name, parent=ctx))


def page_name(ctx: click.Context) -> str:
    """``rpod``, ``rpod-run``, ``rpod-image-ls``."""
    return "-".join(ctx.command_path.split())


def render(cmd: click.Command, ctx: click.Context) -> str:
    """One man page in roff."""
    name = page_name(ctx)
    text = (cmd.help or "").strip()
    summary, _, rest = text.partition("\n")
    out = [f'.TH "{name.upper()}" "1" "" "rpod {__version__}" "rpod Manual"', ".SH NAME",
           f"{_esc(name)} \\- {_esc(summary.rstrip('.'))}", ".SH SYNOPSIS", f"\\fB{_esc(usage_line(cmd, ctx))}\\fR"]
    out += [".SH DESCRIPTION", _esc((rest.strip() or summary).replace("\b\n", ""))]
    if isinstance(cmd, click.Group):
        out.append(".SH COMMANDS")
        for sub_name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, sub_name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = click.Context(sub, info_name=sub_name, parent=ctx)
            out += [".TP", f"\\fB{_esc(page_name(sub_ctx))}\\fR(1)", _esc(sub.get_short_help_str(100).rstrip("."))]
    common, other = option_rows(cmd, ctx)
    for title, rows in (("OPTIONS", common), ("OTHER OPTIONS", other)):
        if rows:
            out.append(f".SH {title}")
            for left, help_ in rows:
                out += [".TP", f"\\fB{_esc(left.strip())}\\fR", _esc(help_) or "\\&"]
    ex = examples(" ".join(ctx.command_path.split()[1:]))
    if ex:
        out += [".SH EXAMPLES", ".nf", *(_esc(e) for e in ex), ".fi"]
    parent = ctx.parent
    see = [f"\\fB{_esc(page_name(parent))}\\fR(1)"] if parent is not None else []
    if parent is None:
        see = ["\\fBpodman\\fR(1)", "\\fBcontainers\\-registries.conf\\fR(5)"]
    out += [".SH SEE ALSO", ", ".join(see), ""]
    return "\n".join(out)


def generate(outdir: Path) -> list[Path]:
    """Write every page into ``outdir``; return the files written."""
    from rpod.cli.app import app

    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    root_ctx = click.Context(app, info_name="rpod")
    for cmd, ctx in walk(app, root_ctx):
        path = outdir / f"{page_name(ctx)}.1"
        path.write_text(render(cmd, ctx))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python3 -m rpod.cli.manpages DIR   (e.g. /usr/local/share/man/man1)\n")
        return 2
    files = generate(Path(args[0]))
    sys.stdout.write(f"{len(files)} man pages in {args[0]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
