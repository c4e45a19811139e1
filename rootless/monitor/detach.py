"""The detach key sequence (``ctrl-p,ctrl-q``), matched on the user's input: keys that may start
the sequence are held back until it is clear whether they do (as Docker and Podman).  Used by
the monitor for a foreground ``run -it`` and by ``rpod attach``."""

from __future__ import annotations

DEFAULT = "ctrl-p,ctrl-q"


def parse(spec: str) -> bytes:
    """``ctrl-p,ctrl-q`` → ``b"\\x10\\x11"`` (``ctrl-<a-z@[\\]^_>`` or one character each); ``""`` → none.
    Raises ``ValueError`` for anything else."""
    out = bytearray()
    for part in filter(None, spec.split(",")):
        if part.startswith("ctrl-") and len(part) == 6:
            c = part[5].lower()
            code = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}.get(c)
            if code is None and not "a" <= c <= "z":
                raise ValueError(f"invalid detach keys {spec!r}: use e.g. ctrl-p,ctrl-q")
            out.append(code if code is not None else ord(c) - ord("a") + 1)
        elif len(part) == 1:
            out.append(ord(part))
        else:
            raise ValueError(f"invalid detach keys {spec!r}: use e.g. ctrl-p,ctrl-q")
    return bytes(out)


class DetachMatcher:
    """Feed input bytes; get back what to forward, and whether the sequence was typed."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = 0  # how many bytes of ``keys`` were typed and not forwarded yet

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to send to the container, True when the detach sequence completed)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            cand = self.keys[:self.held] + bytes((b,))
            k = min(len(cand), len(self.keys))
            while k and not self.keys.startswith(cand[len(cand) - k:]):
                k -= 1  # the longest tail of what was typed that may still start the sequence
            out += cand[:len(cand) - k]
            self.held = k
            if k == len(self.keys):
                self.held = 0
                return bytes(out), True
        return bytes(out), False

    def flush(self) -> bytes:
        """The held bytes (at end of input they were not the sequence)."""
        held, self.held = self.keys[:self.held], 0
        return held
