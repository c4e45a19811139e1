"""The route table: handlers register with ``@route(METHOD, PATTERN)`` (``rpod.api.app`` loads them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Handler = Callable[..., Any]
_VERSION = re.compile(r"^/v\d+(\.\d+){0,2}(?=/)")
_ROUTES: dict[str, list[tuple[str, re.Pattern[str], Handler]]] = {"docker": [], "libpod": []}


def route(method: str, pattern: str, api: str = "docker") -> Callable[[Handler], Handler]:
    """Register a handler: ``{name}`` matches one path segment, ``{name:path}`` the rest."""
    rx = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
    rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rx)

    def deco(fn: Handler) -> Handler:
        entry = (method, re.compile("^" + rx + "/?$"), fn)
        if "{" in pattern:
            _ROUTES[api].append(entry)
        else:  # a literal path wins over a pattern (``/images/remove`` over ``/images/{name:path}``)
            _ROUTES[api].insert(0, entry)
        return fn

    return deco
