"""``loads``/``dumps`` for the resident monitor without importing ``json``.

``json``'s decoder imports ``re`` (its compiler and parser), which costs every monitor ~0.4 MB
of private memory for as long as its container runs (docs/performance.md).  This module calls
the same C scanner and encoder that ``json.loads``/``json.dumps`` use, with the same settings,
so the results are ``json``'s byte for byte; anything else (invalid input, a value the encoder
refuses, another Python without the C accelerator) is handed to ``json`` itself, so errors and
their messages are ``json``'s too.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing import: the monitor never evaluates annotations
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]

_WS = " \t\n\r"


class _Decoding:
    """What ``json.JSONDecoder()`` hands the C scanner."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity: what json's _CONSTANTS map them to
    memo: dict[str, str] = {}


def _scanner() -> Any:
    try:
        return _json.make_scanner(_Decoding())  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - no accelerator: json does the work
        return None


def _encoder(item_separator: str, key_separator: str) -> Any:
    try:  # json.JSONEncoder.iterencode(_one_shot=True) with check_circular, allow_nan, indent None
        return _json.make_encoder({}, _refuse, _json.encode_basestring_ascii, None,  # type: ignore[union-attr]
                                  key_separator, item_separator, False, False, True)
    except Exception:  # noqa: BLE001
        return None


def _refuse(o: Any) -> Any:
    raise TypeError(o)  # dumps() then asks json, for json's message


_SCAN = _scanner()


def loads(s: str | bytes | bytearray) -> Any:
    """``json.loads(s)``."""
    try:
        text = s.decode() if isinstance(s, (bytes, bytearray)) else s
        start = len(text) - len(text.lstrip(_WS))
        obj, end = _SCAN(text, start)  # type: ignore[misc]
        if text[end:].strip(_WS):
            raise ValueError("extra data")
        return obj
    except Exception:  # noqa: BLE001 - json says what is wrong, in its words
        import json

        return json.loads(s)


def dumps(obj: Any, separators: tuple[str, str] | None = None) -> str:
    """``json.dumps(obj)`` (or with ``separators``), ASCII output as json's default."""
    item, key = separators or (", ", ": ")
    try:
        if isinstance(obj, str):
            return _json.encode_basestring_ascii(obj)  # type: ignore[union-attr]
        return "".join(_encoder(item, key)(obj, 0))  # type: ignore[misc]
    except Exception:  # noqa: BLE001
        import json

        return json.dumps(obj, separators=separators)
