"""Containerfile/Dockerfile parsing: directives, comments, line continuations, heredocs, flags.

``parse(text)`` returns a ``Containerfile``: the parser directives (``# syntax=``, ``# escape=``,
only before the first instruction, comment or blank line), then one ``Instruction`` per
logical line with its 1-based starting line number.  Nothing is expanded here: variables
depend on the stage's ARG/ENV state, which the stage planner and the executor track.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rpod.errors import UsageError

INSTRUCTIONS = frozenset({
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
})
FLAGGED = frozenset({"FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"})
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z0-9_.-]+))")


class ParseError(UsageError):
    """A Containerfile that cannot be parsed; the message names the line."""


@dataclass
class Heredoc:
    """``<<EOF`` ... ``EOF``: ``name`` the delimiter, ``content`` the body (with its final newline),
    ``expand`` False when the delimiter was quoted."""

    name: str
    content: str
    expand: bool = True


@dataclass
class Instruction:
    """One logical line: ``cmd`` upper-cased, ``args`` the text after the flags, ``flags`` the
    ``--name[=value]`` options in order, ``json`` the exec-form array (or None), ``line`` the
    1-based line where it starts, ``original`` the text as written (continuations joined)."""

    cmd: str
    args: str
    line: int
    original: str
    flags: list[tuple[str, str | None]] = field(default_factory=list)
    json: list[str] | None = None
    heredocs: list[Heredoc] = field(default_factory=list)

    def flag(self, name: str, default: str | None = None) -> str | None:
        """The last value of ``--name`` (``"true"`` for a bare flag)."""
        value = default
        for k, v in self.flags:
            if k == name:
                value = "true" if v is None else v
        return value

    def flag_values(self, name: str) -> list[str]:
        return [v or "" for k, v in self.flags if k == name]

    def step_text(self) -> str:
        """How Podman prints the step: the instruction and its arguments as written."""
        return self.original


@dataclass
class Containerfile:
    instructions: list[Instruction]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip())
        if not m or not line.lstrip().startswith("#"):
            return found, i
        key = m.group(1).lower()
        if key in found:
            raise ParseError(f"only one {key} parser directive can be used (line {i + 1})")
        found[key] = m.group(2)
    return found, len(lines)


def parse(text: str) -> Containerfile:
    """Parse a Containerfile; raises ``ParseError`` naming the line."""
    lines = text.replace("\r\n", "\n").split("\n")
    directives, _ = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise ParseError(f"invalid escape token '{escape}' does not match ` or \\")
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts = []
        while True:
            cur = lines[i]
            i += 1
            if cont.search(cur):
                parts.append(cont.sub("", cur))
                # comment and empty lines inside a continued instruction are dropped
                while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(cur)
            break
        logical = "".join(parts).strip()
        ins, i = _instruction(logical, start + 1, lines, i)
        out.append(ins)
    return Containerfile(out, escape, directives)


def _instruction(logical: str, lineno: int, lines: list[str], nxt: int) -> tuple[Instruction, int]:
    word, _, rest = logical.partition(" ")
    if "\t" in word:
        word, _, more = word.partition("\t")
        rest = more + " " + rest
    cmd = word.upper()
    rest = rest.strip()
    if cmd not in INSTRUCTIONS:
        raise ParseError(f"line {lineno}: unknown instruction: {word}")
    ins = Instruction(cmd, rest, lineno, logical)
    if cmd in FLAGGED:
        ins.flags, ins.args = _flags(rest)
    if cmd in HEREDOC_INSTRUCTIONS:
        nxt = _heredocs(ins, lines, nxt)
    if cmd in ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME") and ins.args.startswith("["):
        try:
            value = json.loads(ins.args)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            ins.json = value
    return ins, nxt


def _flags(rest: str) -> tuple[list[tuple[str, str | None]], str]:
    flags: list[tuple[str, str | None]] = []
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        if word == "--":
            rest = tail.lstrip()
            break
        name, eq, value = word[2:].partition("=")
        flags.append((name.lower(), value if eq else None))
        rest = tail.lstrip()
    return flags, rest


def _heredocs(ins: Instruction, lines: list[str], nxt: int) -> int:
    for m in _HEREDOC.finditer(ins.args):
        strip_tabs = m.group(1) == "-"
        name = m.group(2) or m.group(3) or m.group(4)
        body: list[str] = []
        while True:
            if nxt >= len(lines):
                raise ParseError(f"line {ins.line}: unterminated heredoc {name!r}")
            cur = lines[nxt]
            nxt += 1
            if strip_tabs:
                cur = cur.lstrip("\t")
            if cur == name:
                break
            body.append(cur + "\n")
        ins.heredocs.append(Heredoc(name, "".join(body), expand=m.group(4) is not None))
    return nxt


def parse_onbuild(ins: Instruction) -> Instruction:
    """The instruction inside ``ONBUILD <instruction>``."""
    inner, _ = _instruction(ins.args, ins.line, [], 0)
    if inner.cmd in ("ONBUILD", "FROM", "MAINTAINER"):
        raise ParseError(f"line {ins.line}: {inner.cmd} isn't allowed as an ONBUILD trigger")
    return inner
