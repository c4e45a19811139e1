"""The functions templates can call: Go's ``text/template`` builtins and Podman's additions.

Each function carries a Go-like signature (parameter types ``any``, ``string``, ``int``, ``bool``,
``[]string``; an optional variadic type) so the evaluator can check arguments as Go does.  A function
raises ``ValueError`` for Go's "error calling NAME: ..." failures.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable

from rpod.format.gofmt import NO_VALUE, go_json, sorted_keys, sprint, sprintf, sprintln, type_name

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    class Signature(NamedTuple):
        params: tuple[str, ...]
        variadic: str | None = None
else:  # the class typing.NamedTuple makes
    Signature = namedtuple("Signature", ("params", "variadic"), defaults=(None,))


def _sig(*params: str, variadic: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._go_sig = Signature(params, variadic)  # type: ignore[attr-defined]
        return fn

    return mark


def signature_of(fn: Callable[..., Any]) -> Signature:
    """The declared signature of a builtin, or one read from a Python callable (all ``any``)."""
    sig = getattr(fn, "_go_sig", None)
    if sig is not None:
        return sig
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return Signature((), "any")
    fixed = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = "any" if any(p.kind == p.VAR_POSITIONAL for p in params) else None
    return Signature(("any",) * len(fixed), variadic)


def has_type(value: Any, typ: str) -> bool:
    """Whether ``value`` is assignable to the Go parameter type ``typ``."""
    if typ == "string":
        return isinstance(value, str)
    if typ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "bool":
        return isinstance(value, bool)
    if typ == "[]string":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return True


def truth(v: Any) -> bool:
    """Go's ``isTrue``: zero values and empty containers are false; structs are true."""
    if v is None or v is NO_VALUE:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


# --------------------------------------------------------------------------- comparisons


def _kind(v: Any) -> str:
    if v is None:
        return "nil"
    for t, k in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(v, t):
            return k
    return "other"


@_sig("any", variadic="any")
def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise ValueError("missing argument for comparison")
    for b in others:
        ka, kb = _kind(a), _kind(b)
        if ka != kb and "nil" not in (ka, kb):
            raise ValueError("incompatible types for comparison")
        if a == b and ka == kb:
            return True
    return False


@_sig("any", "any")
def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


@_sig("any", "any")
def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("nil", "other") or kb in ("nil", "other"):
        raise ValueError("invalid type for comparison")
    if ka != kb:
        raise ValueError("incompatible types for comparison")
    if ka == "bool":
        raise ValueError("invalid type for comparison")
    return a < b


@_sig("any", "any")
def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


@_sig("any", "any")
def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


@_sig("any", "any")
def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


# --------------------------------------------------------------------------- containers


@_sig("any")
def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    raise ValueError("len of nil pointer" if v is None else f"len of type {type_name(v)}")


def _zero_of(d: dict) -> Any:
    """The zero value of a map's element type, guessed from its values (Go's ``index`` of a missing key)."""
    kinds = {_kind(v) for v in d.values()} or {"string"}
    return {"string": "", "int": 0, "float": 0.0, "bool": False}.get(kinds.pop()) if len(kinds) == 1 else None


def _int_index(i: Any, length: int, what: str = "index") -> int:
    if i is None:
        raise ValueError("cannot index slice/array with nil")
    if not isinstance(i, int) or isinstance(i, bool):
        raise ValueError(f"cannot index slice/array with type {type_name(i)}")
    if i < 0 or i > length or (what == "index" and i == length):
        raise ValueError(f"index out of range: {i}")
    return i


@_sig("any", variadic="any")
def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("index of untyped nil")
    for i in indexes:
        if isinstance(item, (list, tuple)):
            item = item[_int_index(i, len(item))]
        elif isinstance(item, str):
            item = item.encode()[_int_index(i, len(item.encode()))]
        elif isinstance(item, dict):
            item = item[i] if i in item else _zero_of(item)
        else:
            raise ValueError(f"can't index item of type {type_name(item)}")
    return item


@_sig("any", variadic="any")
def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if not isinstance(item, (str, list, tuple)):
        raise ValueError(f"can't slice item of type {type_name(item)}")
    if isinstance(item, str) and len(indexes) == 3:
        raise ValueError("cannot 3-index slice a string")
    idx = [_int_index(i, len(item), "slice") for i in indexes]
    for a, b in zip(idx, idx[1:], strict=False):
        if a > b:
            raise ValueError(f"invalid slice index: {a} > {b}")
    return item[idx[0] : idx[1]] if len(idx) >= 2 else item[idx[0] :] if idx else item


@_sig("any", variadic="any")
def _call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise ValueError("call of nil")
    if not callable(fn):
        raise ValueError(f"non-function of type {type_name(fn)}")
    return fn(*args)


# --------------------------------------------------------------------------- escaping


def _eval_args(args: tuple[Any, ...]) -> str:
    return args[0] if len(args) == 1 and isinstance(args[0], str) else sprint(*args)


_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


@_sig(variadic="any")
def _html(*args: Any) -> str:
    return "".join(_HTML.get(c, c) for c in _eval_args(args))


@_sig(variadic="any")
def _js(*args: Any) -> str:
    out = []
    for c in _eval_args(args):
        if c in _JS:
            out.append(_JS[c])
        elif ord(c) < 0x20 or not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


@_sig(variadic="any")
def _urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_eval_args(args), safe="")


# --------------------------------------------------------------------------- Podman's additions


def _title(s: str) -> str:
    """Go's deprecated ``strings.Title``: upper-case the first letter of every word."""
    out, prev = [], " "
    for c in s:
        sep = not (prev.isalnum() or prev == "_") if prev.isascii() else prev.isspace()
        out.append(c.upper() if sep else c)
        prev = c
    return "".join(out)


def _split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def _pad(s: str, prefix: int, suffix: int) -> str:
    return " " * prefix + s + " " * suffix if s else s


def _truncate(s: str, length: int) -> str:
    return s[:length]


def _with_sig(fn: Callable[..., Any], *params: str, variadic: str | None = None) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        return fn(*args)

    wrapper._go_sig = Signature(params, variadic)  # type: ignore[attr-defined]
    return wrapper


BUILTINS: dict[str, Callable[..., Any]] = {
    # Go text/template
    "and": _with_sig(lambda *a: a[-1], "any", variadic="any"),  # evaluated lazily by the evaluator
    "or": _with_sig(lambda *a: a[-1], "any", variadic="any"),
    "not": _with_sig(lambda v: not truth(v), "any"),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _with_sig(sprint, variadic="any"),
    "printf": _with_sig(sprintf, "string", variadic="any"),
    "println": _with_sig(sprintln, variadic="any"),
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "call": _call,
    # Podman (containers/common pkg/report)
    "json": _with_sig(go_json, "any"),
    "lower": _with_sig(str.lower, "string"),
    "upper": _with_sig(str.upper, "string"),
    "title": _with_sig(_title, "string"),
    "join": _with_sig(lambda a, sep: sep.join(a), "[]string", "string"),
    "split": _with_sig(_split, "string", "string"),
    "pad": _with_sig(_pad, "string", "int", "int"),
    "truncate": _with_sig(_truncate, "string", "int"),
}

__all__ = ["BUILTINS", "Signature", "has_type", "signature_of", "sorted_keys", "truth"]
