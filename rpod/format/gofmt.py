"""Go's ``fmt`` and ``encoding/json`` value printing for Python data.

Python values stand for Go values: ``str``/``int``/``float``/``bool``/``None`` for basic kinds, lists and
tuples for slices, dicts for maps, records and dataclasses for structs, ``datetime`` for ``time.Time`` and
``timedelta`` for ``time.Duration``.  ``format_v`` is ``%v``, ``sprintf`` is ``fmt.Sprintf``,
``go_json`` is ``encoding/json`` (without HTML escaping) and ``to_jsonable`` turns dataclasses and
times into plain JSON data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import namedtuple

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any, NamedTuple


class _NoValue:
    """Go's invalid ``reflect.Value``: what a missing map key evaluates to (prints ``<no value>``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


NO_VALUE: Any = _NoValue()


class GoStruct(dict):
    """A JSON object that stands for a Go struct in templates: a field it lacks is an error
    (``can't evaluate field X in type T``), not ``<no value>`` as for a map.  Podman's inspect
    documents are structs; their ``Labels``/``Annotations`` stay maps."""

    go_type = "interface {}"
    fields: frozenset[str] = frozenset()

    def __init__(self, data: dict, go_type: str = "interface {}", fields: frozenset[str] = frozenset()) -> None:
        super().__init__(data)
        self.go_type = go_type
        self.fields = fields  # the Go struct's fields rpod leaves out: <no value>, not an error


def go_structs(doc: dict, top: tuple[str, frozenset[str]],
               nested: dict[str, tuple[str, frozenset[str]]] | None = None) -> GoStruct:
    """``doc`` as a ``GoStruct`` (Go type, its field names), and the keys in ``nested`` too."""
    out = GoStruct(doc, *top)
    for key, (go_type, fields) in (nested or {}).items():
        if isinstance(out.get(key), dict):
            out[key] = GoStruct(out[key], go_type, fields)
    return out

# --------------------------------------------------------------------------- numbers


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-tripping digits of ``abs(f)`` and the decimal point position ``dp``.

    The value is ``0.DIGITS × 10**dp`` (Go's ``decimalSlice`` convention); ``f`` is finite, non-zero.
    """
    mant, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mant.partition(".")
    s = whole + frac
    trimmed = s.lstrip("0")
    return trimmed.rstrip("0"), len(whole) + int(exp or 0) - (len(s) - len(trimmed))


def _fmt_e(digits: str, dp: int, upper: bool = False) -> str:
    exp = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mant}{'E' if upper else 'e'}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _special(f: float) -> str | None:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return None


def go_float(f: float, verb: str = "g") -> str:
    """``strconv.FormatFloat(f, verb, -1, 64)``: shortest digits; ``g`` (what ``%v`` uses) switches to
    the exponent form when the exponent is < -4 or >= 6, ``f`` never does."""
    special = _special(f)
    if special:
        return special
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    if f == 0:
        return sign + "0"
    digits, dp = _shortest_digits(f)
    if verb == "g" and not -4 <= dp - 1 < 6:
        return sign + _fmt_e(digits, dp)
    return sign + _fmt_f(digits, dp)


def go_json_float(f: float) -> str:
    """``encoding/json``'s float64: ``f`` format in [1e-6, 1e21), else ``e`` with a short exponent."""
    if math.isnan(f) or math.isinf(f):
        return "null"
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        digits, dp = _shortest_digits(f)
        s = ("-" if f < 0 else "") + _fmt_e(digits, dp)
        return s[:-2] + s[-1] if s[-3:-1] == "-0" else s
    return go_float(f, "f")


# --------------------------------------------------------------------------- times


def _local(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.astimezone()


def _frac(t: dt.datetime) -> str:
    return f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""


def go_time(t: dt.datetime) -> str:
    """Go's ``Time.String()``: ``2006-01-02 15:04:05.999999999 -0700 MST``."""
    t = _local(t)
    off = t.strftime("%z") or "+0000"
    name = t.tzname() or off
    if name.startswith("UTC") and len(name) > 3:  # a nameless fixed offset
        name = off
    return f"{t:%Y-%m-%d %H:%M:%S}{_frac(t)} {off} {name}"


def rfc3339nano(t: dt.datetime) -> str:
    """Go's ``time.RFC3339Nano`` (how ``encoding/json`` writes a ``time.Time``)."""
    t = _local(t)
    off = t.utcoffset() or dt.timedelta(0)
    if off == dt.timedelta(0):
        zone = "Z"
    else:
        mins = int(off.total_seconds()) // 60
        zone = f"{'-' if mins < 0 else '+'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"
    return f"{t:%Y-%m-%dT%H:%M:%S}{_frac(t)}{zone}"


def go_duration(d: dt.timedelta) -> str:
    """Go's ``Duration.String()``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    from rpod.duration import format_ns

    return format_ns((d.days * 86400 + d.seconds) * 10**9 + d.microseconds * 1000)


# --------------------------------------------------------------------------- %v and type names


def is_struct(v: Any) -> bool:
    """A record (``rpod.records``) or dataclass instance: printed and evaluated like a Go struct."""
    t = type(v)
    return (hasattr(t, "__record_fields__") or hasattr(t, "__dataclass_fields__")) and not isinstance(v, type)


def struct_fields(v: Any) -> list[str]:
    """The names of a struct's (``is_struct``) fields, in order."""
    names = getattr(type(v), "__record_fields__", None)
    if names is not None:
        return list(names)
    import dataclasses  # already loaded: it made v's class

    return [f.name for f in dataclasses.fields(v)]


def _go_type_of_elems(values: list[Any]) -> str:
    kinds = {type_name(v) for v in values}
    return kinds.pop() if len(kinds) == 1 else "interface {}"


def type_name(v: Any) -> str:
    """The Go type a Python value stands for (``string``, ``int``, ``[]string``, ``map[string]int``)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dt.datetime):
        return "time.Time"
    if isinstance(v, dt.timedelta):
        return "time.Duration"
    if isinstance(v, (list, tuple)):
        return "[]" + _go_type_of_elems(list(v))
    if isinstance(v, dict):
        return f"map[{_go_type_of_elems(list(v))}]{_go_type_of_elems(list(v.values()))}"
    return getattr(type(v), "__go_type__", type(v).__name__)


def sorted_keys(d: dict) -> list[Any]:
    """Map keys in Go's print/range order."""
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=str)


def format_v(v: Any, plus: bool = False) -> str:
    """Go's ``%v`` (``%+v`` with ``plus``: struct field names)."""
    return _fmt_arg(v, "v", _Spec(plus_v=plus))


# --------------------------------------------------------------------------- printf


if TYPE_CHECKING:
    class _Spec(NamedTuple):
        minus: bool = False
        plus: bool = False
        sharp: bool = False
        space: bool = False
        zero: bool = False
        width: int | None = None
        prec: int | None = None
        plus_v: bool = False  # %+v: struct field names (the plus flag itself is dropped for %v)
else:  # the class typing.NamedTuple makes
    _Spec = namedtuple("_Spec", ("minus", "plus", "sharp", "space", "zero", "width", "prec", "plus_v"),
                       defaults=(False, False, False, False, False, None, None, False))


def _pad(s: str, spec: _Spec, zero_ok: bool = True) -> str:
    if spec.width is None or len(s) >= spec.width:
        return s
    fill = spec.width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and zero_ok:
        if s[:1] in "+- " and s[1:2].isdigit():
            return s[0] + "0" * fill + s[1:]
        return "0" * fill + s
    return " " * fill + s


def go_quote(s: str) -> str:
    """``strconv.Quote``."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out) + '"'


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _bad_verb(v: Any, verb: str) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(v)}={format_v(v)})"


def _fmt_int(v: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        return _pad(chr(v), spec)
    if verb == "q":
        return _pad("'" + go_quote(chr(v))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'", spec)
    if verb == "U":
        return _pad(f"U+{v:04X}", spec)
    base = {"d": "d", "v": "d", "x": "x", "X": "X", "o": "o", "O": "o", "b": "b"}[verb]
    digits = format(abs(v), base)
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and v == 0 else digits.rjust(spec.prec, "0")
    prefix = ""
    if verb == "O" or (spec.sharp and verb == "o" and not digits.startswith("0")):
        prefix = "0o" if verb == "O" else "0"
    elif spec.sharp and verb in "xX":
        prefix = "0" + verb
    elif spec.sharp and verb == "b":
        prefix = "0b"
    sign = "-" if v < 0 else "+" if spec.plus else " " if spec.space else ""
    if spec.zero and spec.width and not spec.minus and spec.prec is None:
        return sign + prefix + digits.rjust(spec.width - len(sign) - len(prefix), "0")
    return _pad(sign + prefix + digits, spec, zero_ok=False)


def _fmt_float(v: float, verb: str, spec: _Spec) -> str:
    special = _special(v)
    if special:
        return _pad("+NaN" if special == "NaN" and spec.plus else special, spec, zero_ok=False)
    if verb in "vgG" and spec.prec is None:
        s = go_float(v)
        s = s.upper() if verb == "G" else s
    else:
        prec = 6 if spec.prec is None else spec.prec
        s = format(v, f".{prec}{'g' if verb == 'v' else verb}")
    if spec.plus and not s.startswith("-"):
        s = "+" + s
    elif spec.space and not s.startswith("-"):
        s = " " + s
    return _pad(s, spec)


def _fmt_str(s: str, verb: str, spec: _Spec) -> str:
    if spec.prec is not None and verb in "svq":
        s = s[: spec.prec]
    if verb in "sv":
        return _pad(s, spec)
    if verb == "q":
        return _pad(go_quote(s), spec)
    data = s.encode()
    if spec.prec is not None:
        data = data[: spec.prec]
    h = data.hex()
    if spec.space:
        h = " ".join(h[i : i + 2] for i in range(0, len(h), 2))
    return _pad(h.upper() if verb == "X" else h, spec)


def _fmt_arg(v: Any, verb: str, spec: _Spec) -> str:
    if verb == "T":
        return _pad(type_name(v), spec)
    if v is NO_VALUE:
        return _pad("<no value>", spec)
    if v is None:
        return _pad("<nil>", spec) if verb == "v" else _bad_verb(v, verb)
    if isinstance(v, bool):
        return _pad("true" if v else "false", spec) if verb in "tv" else _bad_verb(v, verb)
    if isinstance(v, int):
        return _fmt_int(v, verb, spec) if verb in "dvxXoObcqU" else _bad_verb(v, verb)
    if isinstance(v, float):
        return _fmt_float(v, verb, spec) if verb in "veEfFgG" else _bad_verb(v, verb)
    if isinstance(v, dt.datetime):
        v = go_time(v)
    elif isinstance(v, dt.timedelta):
        v = go_duration(v)
    if isinstance(v, str):
        return _fmt_str(v, verb, spec) if verb in "svqxX" else _bad_verb(v, verb)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt_arg(e, verb, spec) for e in v) + "]"
    if isinstance(v, dict):
        items = (f"{_fmt_arg(k, verb, spec)}:{_fmt_arg(v[k], verb, spec)}" for k in sorted_keys(v))
        return "map[" + " ".join(items) + "]"
    if is_struct(v):
        parts = []
        for name in struct_fields(v):
            val = _fmt_arg(getattr(v, name), verb, spec)
            parts.append(f"{name}:{val}" if spec.plus_v else val)
        return "{" + " ".join(parts) + "}"
    return _fmt_str(str(v), verb, spec) if verb in "svqxX" else _bad_verb(str(v), verb)


def sprintf(fmt: str, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the verbs ``v s d q t x X o O b c U e E f F g G T %``."""
    out: list[str] = []
    argi, i, n = 0, 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = {"minus": False, "plus": False, "sharp": False, "space": False, "zero": False, "plus_v": False}
        names = {"-": "minus", "+": "plus", "#": "sharp", " ": "space", "0": "zero"}
        while i < n and fmt[i] in names:
            flags[names[fmt[i]]] = True
            i += 1
        width = prec = None
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                width = args[argi]
                if width < 0:
                    flags["minus"], width = True, -width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            width = int(fmt[start:i]) if i > start else None
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                    prec = max(args[argi], 0)
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[start:i]) if i > start else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        if flags["minus"]:
            flags["zero"] = False
        if verb == "v" and flags["plus"]:
            flags["plus"], flags["plus_v"] = False, True
        out.append(_fmt_arg(args[argi], verb, _Spec(**flags, width=width, prec=prec)))
        argi += 1
    if argi < len(args):
        extra = ", ".join("<nil>" if a is None else f"{type_name(a)}={format_v(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def sprint(*args: Any) -> str:
    """Go's ``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(format_v(a))
    return "".join(out)


def sprintln(*args: Any) -> str:
    """Go's ``fmt.Sprintln``: operands joined by spaces, then a newline."""
    return " ".join(format_v(a) for a in args) + "\n"


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """Plain JSON data: dataclasses → dicts (keys renamed by a class's ``__json_names__``, where a
    ``None`` name drops the field), datetimes → RFC 3339 strings, timedeltas → nanoseconds."""
    if is_struct(obj):
        names: dict[str, str | None] = getattr(type(obj), "__json_names__", {})
        out = {}
        for name in struct_fields(obj):
            key = names.get(name, name)
            if key is not None:
                out[key] = to_jsonable(getattr(obj, name))
        return out
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else format_v(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dt.datetime):
        return rfc3339nano(obj)
    if isinstance(obj, dt.timedelta):
        return (obj.days * 86400 + obj.seconds) * 10**9 + obj.microseconds * 1000
    if obj is None or isinstance(obj, (str, int, float)):
        return obj
    return str(obj)


def go_json(obj: Any, indent: int | None = None) -> str:
    """``encoding/json`` without HTML escaping: compact, or indented by ``indent`` spaces."""
    return _encode(to_jsonable(obj), indent, 0)


def _encode(v: Any, indent: int | None, level: int) -> str:
    if isinstance(v, float) and not isinstance(v, bool):
        return go_json_float(v)
    if not isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if not v:
        return "{}" if isinstance(v, dict) else "[]"
    items = (
        [f"{_encode(k, None, 0)}:{' ' if indent else ''}{_encode(x, indent, level + 1)}" for k, x in v.items()]
        if isinstance(v, dict)
        else [_encode(x, indent, level + 1) for x in v]
    )
    open_, close = ("{", "}") if isinstance(v, dict) else ("[", "]")
    if indent is None:
        return open_ + ",".join(items) + close
    pad, inner = "\n" + " " * (indent * level), "\n" + " " * (indent * (level + 1))
    return open_ + inner + ("," + inner).join(items) + pad + close
