"""The detach key sequence of ``attach`` and ``run -it`` (``ctrl-p,ctrl-q`` by default); the
parser and matcher live in ``rootless.monitor.detach`` (the monitor matches the keys of a
foreground ``run -it``)."""

from __future__ import annotations

from rootless.monitor import detach
from rootless.monitor.detach import DEFAULT, DetachMatcher
from rpod.errors import UsageError


def parse(spec: str) -> bytes:
    """``ctrl-p,ctrl-q`` → ``b"\\x10\\x11"``; raises ``UsageError`` for an invalid spec."""
    try:
        return detach.parse(spec)
    except ValueError as e:
        raise UsageError(str(e)) from None


__all__ = ["DEFAULT", "DetachMatcher", "parse"]
