"""``.containerignore`` / ``.dockerignore`` with Docker's pattern rules.

One pattern a line; ``#`` lines and blank lines are skipped; a leading ``!`` makes an
exception; patterns are cleaned (``./a//b`` → ``a/b``, a leading ``/`` dropped).  ``*`` and ``?``
do not cross ``/``, ``**`` matches any number of directories, ``[...]`` a class, ``\\`` escapes.
A pattern that matches a directory excludes everything below it.  The last matching pattern
decides.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def _translate(pattern: str) -> re.Pattern[str]:
    out = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):  # **/ : zero or more directories
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def parse_patterns(text: str) -> list[Pattern]:
    pats = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excl = line.startswith("!")
        if excl:
            line = line[1:].strip()
        line = posixpath.normpath(line).lstrip("/") if line else line
        if not line or line == ".":
            continue
        pats.append(Pattern(line, excl, _translate(line)))
    return pats


class Ignore:
    """The ignore rules of one build context."""

    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        self.has_exceptions = any(p.exclusion for p in patterns)

    @classmethod
    def for_context(cls, context: Path, containerfile: Path | None = None) -> Ignore:
        """``.containerignore`` wins over ``.dockerignore``; ``<Containerfile>.dockerignore`` too."""
        candidates = []
        if containerfile is not None:
            candidates += [Path(str(containerfile) + ".containerignore"), Path(str(containerfile) + ".dockerignore")]
        candidates += [context / ".containerignore", context / ".dockerignore"]
        for c in candidates:
            if c.is_file():
                return cls(parse_patterns(c.read_text(errors="replace")))
        return cls([])

    @classmethod
    def from_file(cls, path: str) -> Ignore:
        """``--ignorefile PATH``."""
        from rpod.errors import UsageError

        try:
            return cls(parse_patterns(Path(path).read_text(errors="replace")))
        except OSError as e:
            raise UsageError(f"cannot read the ignore file {path}: {e.strerror}") from None

    def excluded(self, rel: str) -> bool:
        """Is ``rel`` (a path relative to the context, ``/``-separated) left out?"""
        if not self.patterns:
            return False
        rel = rel.strip("/")
        parents = []
        parts = rel.split("/")
        for k in range(1, len(parts) + 1):
            parents.append("/".join(parts[:k]))
        result = False
        for p in self.patterns:
            if any(p.regex.match(c) for c in parents):
                result = not p.exclusion
        return result

    def may_include_below(self, rel_dir: str) -> bool:
        """Must an excluded directory still be walked?  Docker's rule: only when an exception
        pattern, as written, starts with the directory's path (``!dir/keep*``); ``!*/x`` alone
        does not bring anything back from inside an excluded directory."""
        if not self.has_exceptions:
            return False
        prefix = rel_dir.strip("/") + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def walk(root: Path, rel: str, ignore: Ignore) -> list[str]:
    """Every path under ``root/rel`` (relative to ``root``, sorted, parents first) not ignored;
    a directory is listed when it or anything below it is kept."""
    out: list[str] = []

    def visit(rel_dir: str) -> bool:
        kept_any = False
        try:
            names = sorted(os.listdir(root / rel_dir if rel_dir else root))
        except NotADirectoryError:
            return False
        for name in names:
            child = f"{rel_dir}/{name}" if rel_dir else name
            full = root / child
            is_dir = full.is_dir() and not full.is_symlink()
            excluded = ignore.excluded(child)
            if is_dir:
                if excluded and not ignore.may_include_below(child):
                    continue
                idx = len(out)
                out.append(child)
                below = visit(child)
                if excluded and not below:
                    out.pop(idx)
                    continue
                kept_any = True
            elif not excluded:
                out.append(child)
                kept_any = True
        return kept_any

    visit(rel.strip("/"))
    return out
