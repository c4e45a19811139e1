"""The fast path's flag parser: click's parsing (rpod.cli.app's cobra rewrite included), on the table
rpod.cli.fast.gen generates from the click commands.

It accepts only what click would accept and returns the keyword arguments click would give the
command's callback; anything else (an unknown or unreproduced option, ``-h``/``--help``, a missing
value, a bad number or choice, a wrong argument count, ``--latest`` conflicts) raises
:class:`Fallback`, and click then parses the same command line and says what is wrong in its own
words.
"""

from __future__ import annotations

from rpod.cli.startup import bool_values
from rpod.errors import UsageError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.cli.startup import BoolFlags

    Option = tuple[tuple[str, ...], tuple[str, ...], str, Any, bool, str, bool]
    Spec = dict[str, Any]


class Fallback(Exception):
    """The command line needs click."""


def _maps(spec: Spec) -> tuple[dict[str, tuple[Option, Any]], BoolFlags, set[str]]:
    """Option string -> (option, the value a flag stores); the cobra rewrite's flags and value options."""
    index = spec.get("_index")
    if index is None:
        by_name: dict[str, tuple[Option, Any]] = {}
        flags: BoolFlags = {}
        takes_value: set[str] = set()
        for opt in spec["options"]:
            opts, secondary, _dest, _kind, _multiple, role, default_true = opt
            for o in opts:
                by_name[o] = (opt, True)
            for o in secondary:
                by_name[o] = (opt, False)
            if role == "bool":
                off = secondary[0] if secondary else None
                shown = ", ".join(sorted(opts, key=lambda o: o.startswith("--")))
                for o in opts + secondary:
                    flags[o] = (o in opts, opts[0], off, default_true, shown)
            elif role == "value":
                takes_value.update(opts + secondary)
        index = spec["_index"] = (by_name, flags, takes_value)
    return index  # type: ignore[no-any-return]


def _convert(opt: Option, value: str) -> Any:
    kind = opt[3]
    if kind == "str":
        return value
    if kind == "int":
        try:
            return int(value)  # what click's INT does
        except ValueError:
            raise Fallback from None
    if isinstance(kind, tuple) and value in kind:
        return value
    raise Fallback


def _take(opt: Option, explicit: str | None, rargs: list[str]) -> str:
    if explicit is not None:
        return explicit
    if not rargs:
        raise Fallback  # click: "requires an argument"
    return rargs.pop(0)


def _store(found: dict[str, Any], owners: dict[str, Option], opt: Option, value: Any) -> None:
    dest, multiple = opt[2], opt[4]
    if owners.setdefault(dest, opt) is not opt:  # two options of one dest (``stop -t``/``--timeout``)
        raise Fallback
    if multiple:
        found.setdefault(dest, []).append(value)
    else:
        found[dest] = value


def _option(arg: str, rargs: list[str], by_name: dict[str, tuple[Option, Any]], found: dict[str, Any],
            owners: dict[str, Option]) -> None:
    """One option token, as click's ``_process_opts``: a long match first, else short flags."""
    name, eq, explicit = arg.partition("=")
    hit = by_name.get(name)
    if hit is not None and (len(name) > 2 or name.startswith("--")):  # click's long options
        opt, flag_value = hit
        if opt[3] == "fallback":
            raise Fallback
        if opt[3] == "flag":
            if eq:
                raise Fallback  # click: "does not take a value"
            _store(found, owners, opt, flag_value)
        else:
            _store(found, owners, opt, _convert(opt, _take(opt, explicit if eq else None, rargs)))
        return
    if arg.startswith("--"):
        raise Fallback  # unknown long option
    for i, ch in enumerate(arg[1:], 2):
        hit = by_name.get("-" + ch)
        if hit is None or hit[0][3] == "fallback":
            raise Fallback
        opt, flag_value = hit
        if opt[3] == "flag":
            _store(found, owners, opt, flag_value)
            continue
        _store(found, owners, opt, _convert(opt, _take(opt, arg[i:] or None, rargs)))
        return


def _unpack(positionals: list[str], args: list[tuple[str, int, bool]]) -> dict[str, Any]:
    """Positional arguments to their parameters (one ``nargs=-1`` takes what the others leave)."""
    fixed = sum(1 for _n, nargs, _r in args if nargs == 1)
    variadic = any(nargs == -1 for _n, nargs, _r in args)
    if len(positionals) > fixed and not variadic:
        raise Fallback  # too many arguments
    out: dict[str, Any] = {}
    rest = list(positionals)
    for i, (name, nargs, required) in enumerate(args):
        if nargs == -1:
            after = sum(1 for _n, n, _r in args[i + 1:] if n == 1)
            take = max(len(rest) - after, 0)
            out[name] = tuple(rest[:take])
            rest = rest[take:]
            if required and not out[name]:
                raise Fallback
        elif rest:
            out[name] = rest.pop(0)
        elif required:
            raise Fallback  # a missing argument
        else:
            out[name] = None
    return out


def parse(spec: Spec, args: list[str], group: bool = False) -> tuple[dict[str, Any], list[str]]:
    """``(params, rest)``: the callback's keyword arguments, and for a group (the global options)
    the words from the first positional on; raises :class:`Fallback`."""
    by_name, flags, takes_value = _maps(spec)
    interspersed = spec["interspersed"] and not group
    try:
        args = bool_values(list(args), flags, takes_value, stop_at_positional=group or not interspersed)
    except UsageError:
        raise Fallback from None
    found: dict[str, Any] = {}
    owners: dict[str, Option] = {}
    largs: list[str] = []
    rargs = list(args)
    while rargs:
        arg = rargs.pop(0)
        if arg == "--":
            if group:
                raise Fallback  # ``rpod -- ps``: leave the oddities to click
            break
        if arg[:1] == "-" and len(arg) > 1:
            _option(arg, rargs, by_name, found, owners)
        elif interspersed:
            largs.append(arg)
        else:
            rargs.insert(0, arg)
            break
    params = dict(spec["defaults"])
    for dest, value in found.items():
        params[dest] = tuple(value) if isinstance(value, list) else value
    if group:
        return params, rargs
    params.update(_unpack(largs + rargs, spec["args"]))
    return params, []
