"""Small helpers every command module shares: the store paths, output, ``--format``."""

from __future__ import annotations

import json
import sys
from typing import Any

from rpod.errors import UsageError
from rpod.paths import Paths


def paths() -> Paths:
    """The store of this invocation (``--root``/``--runroot`` are applied to the environment)."""
    return Paths.default()


def write(text: str) -> None:
    """Write ``text`` to stdout as is (templates decide their own newlines)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def print_json(obj: Any) -> None:
    """Pretty JSON with 4-space indent, as Podman prints ``inspect`` output."""
    sys.stdout.write(json.dumps(obj, indent=4, ensure_ascii=False) + "\n")


def complete_images(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """Shell completion of local image names (and IDs when the word looks like one)."""
    from click.shell_completion import CompletionItem

    from rpod.image.store import ImageStore

    try:
        records = ImageStore(paths()).list()
    except Exception:
        return []
    words: list[str] = []
    for r in records:
        for n in r.names:
            words += [n, n.split("/", 1)[-1] if "/" in n else n]
        words.append(r.short_id)
    return [CompletionItem(w) for w in dict.fromkeys(words) if w.startswith(incomplete)]


def parse_bool_flag(value: str | None, name: str) -> bool | None:
    """``--tls-verify=false`` style flags that may be absent (None)."""
    if value is None:
        return None
    v = value.lower()
    if v in ("true", "1", "yes", ""):
        return True
    if v in ("false", "0", "no"):
        return False
    raise UsageError(f"invalid value {value!r} for {name}: use true or false")


def parse_filters(filters: list[str] | None) -> dict[str, list[str]]:
    """``--filter key=value`` flags → {key: [values]} (a key given twice is OR-ed, as Podman does)."""
    out: dict[str, list[str]] = {}
    for f in filters or []:
        key, sep, value = f.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid filter {f!r}: expected key=value")
        out.setdefault(key, []).append(value)
    return out
