"""Detach keys: parsing and holding back a possible sequence start (as Docker/Podman)."""

import pytest

from rpod.engine.detachkeys import DetachMatcher, parse
from rpod.errors import UsageError


def test_parse() -> None:
    assert parse("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse("ctrl-@,ctrl-[,a") == b"\x00\x1ba"
    assert parse("") == b""
    for bad in ("ctrl-", "ctrl-1", "ab", "ctrl-pq"):
        with pytest.raises(UsageError):
            parse(bad)


def test_sequence_detaches_and_is_not_forwarded() -> None:
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"ls\x10") == (b"ls", False)  # ctrl-p held back
    assert m.feed(b"\x11rest") == (b"", True)


def test_broken_prefix_is_forwarded() -> None:
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"\x10x") == (b"\x10x", False)
    assert m.feed(b"\x10\x10\x11") == (b"\x10", True)
    m = DetachMatcher(b"aab")
    assert m.feed(b"aaab") == (b"a", True)
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"\x10") == (b"", False)
    assert m.flush() == b"\x10"


def test_no_keys_forwards_everything() -> None:
    assert DetachMatcher(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
