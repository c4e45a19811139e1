"""The smallest DNS responder that answers container names on a user network (stdlib only).

``answer(query, records)`` returns the response bytes for one UDP query, or None when the name
is not ours and should be forwarded upstream.  Names are matched without the ``dns.podman``
search domain and case-insensitively; single-label names and ``*.dns.podman`` that are unknown
get NXDOMAIN here (never forwarded: they can only be container names).
"""

from __future__ import annotations

import ipaddress
import struct

DOMAIN = "dns.podman"
TYPE_A, TYPE_AAAA, TYPE_ANY = 1, 28, 255
TTL = 60


def parse_question(query: bytes) -> tuple[str, int, int] | None:
    """(name, qtype, end offset) of the first question, None for a malformed query."""
    if len(query) < 12 or struct.unpack("!H", query[4:6])[0] < 1:
        return None
    pos, labels = 12, []
    while pos < len(query):
        n = query[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 or pos + 1 + n > len(query):
            return None
        labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    if pos + 4 > len(query):
        return None
    qtype = struct.unpack("!H", query[pos:pos + 2])[0]
    return ".".join(labels).lower(), qtype, pos + 4


def local_name(name: str) -> str | None:
    """``web``/``web.dns.podman`` → ``web``; None for names outside the container domain."""
    name = name.rstrip(".")
    if name.endswith("." + DOMAIN):
        return name[: -len(DOMAIN) - 1]
    return name if "." not in name else None


def answer(query: bytes, records: dict[str, list[str]]) -> bytes | None:
    """The response to ``query`` from ``records`` (lower-case name → IPv4 addresses), or None."""
    q = parse_question(query)
    if q is None:
        return None
    name, qtype, end = q
    short = local_name(name)
    if short is None:
        addrs = records.get(name)
        if addrs is None:
            return None
    else:
        addrs = records.get(short)
    flags = 0x8400 | (struct.unpack("!H", query[2:4])[0] & 0x0100) | 0x0080  # QR AA (RD copied) RA
    header = query[:2]
    question = query[12:end]
    if addrs is None:
        return header + struct.pack("!HHHHH", flags | 3, 1, 0, 0, 0) + question  # NXDOMAIN
    rrs = b""
    count = 0
    if qtype in (TYPE_A, TYPE_ANY):
        for a in addrs:
            rrs += struct.pack("!HHHIH", 0xC00C, TYPE_A, 1, TTL, 4) + ipaddress.IPv4Address(a).packed
            count += 1
    return header + struct.pack("!HHHHH", flags, 1, count, 0, 0) + question + rrs


def build_query(name: str, qtype: int = TYPE_A, ident: int = 0x1234) -> bytes:
    """A standard recursive query (tests and health checks)."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)
