"""Writing systemd unit files the way Podman formats them: argument escaping, line breaks,
the rpod executable named by absolute path (``systemd-analyze verify`` checks it exists)."""

from __future__ import annotations

import os
import shutil
import sys

_NEEDS_QUOTES = set(" \t\n\"'\\")


def escape_arg(arg: str) -> str:
    """One command-line word for an ``Exec*=`` line: ``$`` → ``$$`` and ``%`` → ``%%`` (systemd
    would expand them), quoted (``"..."`` with backslash escapes) when it holds blanks,
    quotes or backslashes, or is empty."""
    arg = arg.replace("$", "$$").replace("%", "%%")
    if arg and not (_NEEDS_QUOTES & set(arg)):
        return arg
    body = arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{body}"'


def format_command(words: list[str]) -> str:
    """Join pre-escaped words as Podman does: a new continuation line before every word that
    starts with ``-``, the others on the same line (``--name web``, ``IMAGE cmd args``)."""
    if not words:
        return ""
    out = [words[0]]
    for w in words[1:]:
        out.append((" \\\n\t" if w.startswith("-") else " ") + w)
    return "".join(out)


def rpod_executable() -> list[str]:
    """The absolute command that runs rpod: ``$RPOD_SYSTEMD_EXECUTABLE`` if set, the ``rpod``
    script this process runs as, the one beside this interpreter (a venv), the one on PATH,
    else ``<python> -m rpod``."""
    forced = os.environ.get("RPOD_SYSTEMD_EXECUTABLE")
    if forced:
        return forced.split()
    argv0 = sys.argv[0] if sys.argv else ""
    candidates = []
    if os.path.basename(argv0) == "rpod":
        candidates.append(os.path.abspath(argv0))
    candidates.append(os.path.join(os.path.dirname(sys.executable), "rpod"))
    candidates.append(shutil.which("rpod") or "")
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return [os.path.abspath(c)]
    return [os.path.abspath(sys.executable), "-m", "rpod"]


def env_line(assignment: str) -> str:
    """``Environment=K=V``, quoted when the value has blanks (as Podman)."""
    if any(c in assignment for c in " \t\"\\"):
        return "Environment=" + '"' + assignment.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "Environment=" + assignment
