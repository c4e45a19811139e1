"""Docker's word splitting and variable expansion for Containerfile arguments.

The rules are Docker's (and buildah's imagebuilder's) shell lexer, not a POSIX shell's:

* outside quotes the escape character (``\\`` or the ``# escape`` directive's) makes the next
  character literal and is dropped;
* inside ``'...'`` everything is literal; inside ``"..."`` the escape character only escapes
  ``"``, ``$`` and itself (``"\\n"`` stays ``\\n``);
* ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR-word}``, ``${VAR:+word}``, ``${VAR+word}``,
  ``${VAR:?msg}``, ``${VAR?msg}`` (``word`` is itself expanded); an unknown variable is empty;
* a ``$`` not followed by a name or ``{`` is literal.

``split_words`` splits an argument string on unquoted whitespace keeping each word's raw
form; ``expand`` turns one raw word into its value (quotes removed, variables replaced).
Expanded values are never split again, as in Docker.
"""

from __future__ import annotations

from collections.abc import Mapping

from rpod.errors import UsageError


class ExpandError(UsageError):
    """A ``${VAR:?message}`` on an unset variable, or an unterminated ``${``."""


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split on whitespace outside quotes; words keep their quotes and escapes (raw)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i, n = 0, len(text)
    in_word = False
    while i < n:
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == escape and quote == '"' and i + 1 < n:
                cur.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in " \t\r\n":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
        else:
            in_word = True
            cur.append(ch)
            if ch == escape and i + 1 < n:
                cur.append(text[i + 1])
                i += 2
                continue
            if ch in "'\"":
                quote = ch
        i += 1
    if in_word:
        words.append("".join(cur))
    return words


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.s = text
        self.i = 0
        self.env = env
        self.esc = escape

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def word(self, stop: str = "") -> str:
        """Process until ``stop`` (not consumed) or the end."""
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                break
            self.i += 1
            if ch == "'":
                out.append(self.single())
            elif ch == '"':
                out.append(self.double())
            elif ch == "$":
                out.append(self.dollar())
            elif ch == self.esc:
                if self.i < len(self.s):
                    out.append(self.next())
            else:
                out.append(ch)
        return "".join(out)

    def single(self) -> str:
        end = self.s.find("'", self.i)
        if end < 0:
            raise ExpandError(f"unexpected end of statement while looking for matching single-quote: {self.s}")
        text = self.s[self.i:end]
        self.i = end + 1
        return text

    def double(self) -> str:
        out: list[str] = []
        while True:
            if self.i >= len(self.s):
                raise ExpandError(f"unexpected end of statement while looking for matching double-quote: {self.s}")
            ch = self.next()
            if ch == '"':
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == self.esc and self.peek() in ('"', "$", self.esc) and self.peek():
                out.append(self.next())
            else:
                out.append(ch)

    def name(self) -> str:
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] == "_"):
            self.i += 1
        return self.s[start:self.i]

    def dollar(self) -> str:
        ch = self.peek()
        if ch == "{":
            self.i += 1
            return self.braced()
        name = self.name()
        if not name:
            return "$"
        return self.env.get(name, "")

    def braced(self) -> str:
        name = self.name()
        if not name:
            raise ExpandError(f"bad substitution: {self.s}")
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self.next()
        if ch not in ("-", "+", "?"):
            raise ExpandError(f"unsupported modifier ({ch}) in substitution: {self.s}")
        word = self.word(stop="}")
        if self.next() != "}":
            raise ExpandError(f"missing '}}' in substitution: {self.s}")
        value = self.env.get(name)
        is_set = value is not None and (value != "" or not colon)
        if ch == "-":
            return value if is_set else word  # type: ignore[return-value]
        if ch == "+":
            return word if is_set else ""
        if not is_set:
            raise ExpandError(f"{name}: {word or 'is not allowed to be unset'}")
        return value  # type: ignore[return-value]


def expand(raw: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One raw word → its value (quotes and escapes removed, variables replaced)."""
    return _Lexer(raw, env, escape).word()


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """``split_words`` then ``expand`` each word."""
    return [expand(w, env, escape) for w in split_words(text, escape)]


def parse_key_values(text: str, env: Mapping[str, str], escape: str, what: str) -> list[tuple[str, str]]:
    """``ENV``/``LABEL`` arguments: ``K=V K2="v 2"`` or the legacy ``K V with spaces``."""
    words = split_words(text, escape)
    if not words:
        raise UsageError(f"{what} requires at least one argument")
    if "=" not in words[0]:
        if len(words) < 2:
            raise UsageError(f"{what} names can not be blank" if not words[0] else
                             f"{what} must have two arguments")
        key = expand(words[0], env, escape)
        rest = text.strip()[len(words[0]):].strip()
        return [(key, expand(rest, env, escape))]
    pairs = []
    for w in words:
        if "=" not in w:
            raise UsageError(f"{what} names can not be blank" if w.startswith("=") else
                             f"Syntax error - can't find = in {w!r}. Must be of the form: name=value")
        k, _, v = w.partition("=")
        key = expand(k, env, escape)
        if not key:
            raise UsageError(f"{what} names can not be blank")
        pairs.append((key, expand(v, env, escape)))
    return pairs

