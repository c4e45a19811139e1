"""Generate rpod/cli/fast/table.py from the click definitions: ``python -m rpod.cli.fast.gen``.

The click commands stay the one source of truth for every option; the fast path parses with the
table this writes, and tests/unit/test_fastpath.py checks that the checked-in table is what the
click definitions give today.  An option the fast parser does not reproduce exactly (a callback,
an environment variable, a custom type, a count...) is written with kind ``"fallback"``: the fast
path hands any command line that uses it to click.
"""

from __future__ import annotations

import pprint
import sys
from pathlib import Path
from typing import Any

import click

# argv words -> the body in rpod.cli.fast.commands that runs them (all words of one body must resolve to
# the same click command)
ROUTES: dict[str, str] = {
    "ps": "ps", "container ps": "ps", "container ls": "ps", "container list": "ps",
    "images": "images", "image ls": "images", "image list": "images",
    "inspect": "inspect", "container inspect": "inspect", "image inspect": "image_inspect",
    "logs": "logs", "container logs": "logs",
    "stop": "stop", "container stop": "stop",
    "start": "start", "container start": "start",
    "rm": "rm", "container rm": "rm",
    "exec": "exec_", "container exec": "exec_",
    "kill": "kill", "container kill": "kill",
    "wait": "wait", "container wait": "wait",
    "port": "port", "container port": "port",
    "version": "version",
}
TABLE = Path(__file__).with_name("table.py")


def _kind(p: click.Option) -> str | tuple[str, ...]:
    """How the fast parser reads the option: ``flag``, ``str``, ``int``, a tuple of choices, or ``fallback``."""
    plain = (p.callback is None and not p.envvar and not p.count and p.nargs == 1 and p.expose_value
             and not p.is_eager and not p.prompt and not getattr(p, "_flag_needs_value", False)
             and not getattr(p, "deprecated", False))
    if not plain:
        return "fallback"
    if p.is_flag:
        return "flag" if getattr(p, "is_bool_flag", False) and not p.multiple else "fallback"
    if type(p.type) is click.types.StringParamType:
        return "str"
    if type(p.type) is click.types.IntParamType:
        return "int"
    if type(p.type) is click.Choice and p.type.case_sensitive and all(isinstance(c, str) for c in p.type.choices):
        return tuple(p.type.choices)
    return "fallback"


def spec(cmd: click.Command, name: str) -> dict[str, Any]:
    """The fast parser's view of ``cmd``: options, arguments, interspersing and the defaults click gives."""
    options = []
    for p in cmd.params:
        if isinstance(p, click.Option):
            # the option's part in cobra's --flag=BOOL rewrite, as rpod.cli.globals._opt_maps sees it
            role = "bool" if p.is_flag and getattr(p, "is_bool_flag", False) and not p.count else (
                "value" if not p.is_flag and not p.count else "")
            options.append((tuple(p.opts), tuple(p.secondary_opts), p.name, _kind(p), bool(p.multiple), role,
                            p.default is True))
    args = []
    for p in cmd.params:
        if isinstance(p, click.Argument):
            plain = p.callback is None and not p.envvar and p.expose_value and type(p.type) in (
                click.types.StringParamType, click.types.UnprocessedParamType) and p.nargs in (1, -1)
            assert plain, f"{name}: argument {p.name} needs click"
            args.append((p.name, p.nargs, bool(p.required)))
    settings = cmd.context_settings or {}
    assert not settings.get("ignore_unknown_options") and not settings.get("allow_extra_args"), name
    assert not getattr(cmd, "no_args_is_help", False) or isinstance(cmd, click.Group), name
    defaults = cmd.make_context(name, [], resilient_parsing=True).params
    for a, _nargs, _req in args:
        defaults.pop(a, None)
    interspersed = settings.get("allow_interspersed_args", cmd.allow_interspersed_args)
    return {"options": options, "args": args, "interspersed": bool(interspersed), "defaults": defaults}


def _resolve(words: str) -> click.Command:
    from rpod.cli.app import app

    ctx = click.Context(app, info_name="rpod")
    cmd: Any = app
    for w in words.split():
        cmd = cmd.get_command(ctx, w)
        assert cmd is not None, words
    return cmd  # type: ignore[no-any-return]


def build() -> dict[str, Any]:
    """Everything table.py holds."""
    from rpod.cli.app import app
    from rpod.cli.cobra import _LATEST_TAKES_ARGS

    bodies: dict[str, Any] = {}
    seen: dict[str, click.Command] = {}
    routes = {}
    for words, body in ROUTES.items():
        cmd = _resolve(words)
        assert seen.setdefault(body, cmd) is cmd, f"{words} is not the command {body} runs"
        bodies.setdefault(body, spec(cmd, words.split()[-1]))
        routes[words] = (body, words.split()[-1] not in _LATEST_TAKES_ARGS)  # (body, check --latest conflicts)
    glob = spec(app, "rpod")
    return {"GLOBAL": glob, "COMMANDS": bodies, "ROUTES": routes}


def render(data: dict[str, Any]) -> str:
    """table.py's text."""
    out = ['"""Generated by ``python -m rpod.cli.fast.gen`` from the click definitions: do not edit.\n\n'
           "Options: (option strings, secondary (--no-) strings, dest, kind, multiple, role in cobra's\n"
           '--flag=BOOL rewrite ("bool", "value" or ""), default is True).\n'
           'Routes: argv words -> (body, check --latest conflicts)."""\n']
    for key, value in data.items():
        out.append(f"{key} = {pprint.pformat(value, width=110, sort_dicts=True)}\n")
    return "\n".join(out)


def main() -> int:
    TABLE.write_text(render(build()))
    print(f"wrote {TABLE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
