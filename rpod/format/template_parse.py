"""Go's ``text/template``, part one: the lexer, the AST and the parser (``text/template/parse``).
The evaluator is ``rpod.format.template_exec``; the public API ``rpod.format.gotemplate``."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rpod.errors import UsageError
from rpod.format.gofmt import go_quote

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


class TemplateError(UsageError):
    """A template failed to parse or execute (the message is Go's; the CLI exits 125).

    ``output`` holds the text rendered before an execution error (Podman has already printed it).
    """

    output: str = ""


# --------------------------------------------------------------------------- lexer

_SPACE = " \t\r\n"
_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?)"
)
_WORD = re.compile(r"[^\W\d]\w*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_CHAR = re.compile(r"'(?:[^'\\\n]|\\.)*'")
_UNESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[abfnrtv\\'\"])")
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class _Tok:
    # plain classes with __slots__ for the lexer and the AST: a @dataclass costs ~0.2 ms at import
    # per class, which every `ps`/`images` paid
    __slots__ = ("kind", "val", "pos", "text", "spaced")

    def __init__(self, kind: str, val: Any, pos: int, text: str = "", spaced: bool = False):
        self.kind = kind  # text left right field var ident keyword string number bool nil dot pipe ( ) := = , eof
        self.val = val
        self.pos = pos
        self.text = text
        self.spaced = spaced  # whitespace came before it (separates operands; no chaining across it)


def _unquote(lit: str) -> str:
    """Go's ``strconv.Unquote`` of a double-quoted literal (escapes checked)."""
    body = lit[1:-1]
    if re.sub(_UNESCAPE, "", body).count("\\"):
        raise ValueError("invalid syntax")

    def one(m: re.Match[str]) -> str:
        e = m.group(0)[1:]
        if e[0] in "xuU":
            return chr(int(e[1:], 16))
        if e[0].isdigit():
            return chr(int(e, 8))
        return _SIMPLE_ESC.get(e, e)

    return _UNESCAPE.sub(one, body)


class _Lexer:
    def __init__(self, src: str, name: str):
        self.src, self.name, self.toks = src, name, []

    def fail(self, pos: int, msg: str) -> None:
        raise TemplateError(f"template: {self.name}:{self.src.count(chr(10), 0, pos) + 1}: {msg}")

    def run(self) -> list[_Tok]:
        src, i, trim = self.src, 0, False
        while True:
            j = src.find("{{", i)
            text = src[i : len(src) if j < 0 else j]
            if trim:
                text = text.lstrip(_SPACE)
            left_trim = j >= 0 and src.startswith("-", j + 2) and src[j + 3 : j + 4] in tuple(_SPACE)
            if left_trim:
                text = text.rstrip(_SPACE)
            if text:
                self.toks.append(_Tok("text", text, i))
            if j < 0:
                self.toks.append(_Tok("eof", None, len(src)))
                return self.toks
            k = j + (4 if left_trim else 2)
            comment = src.startswith("/*", k)
            if comment:
                i, trim = self.comment(j, k)
            else:
                self.toks.append(_Tok("left", "{{", j))
                i, trim = self.action(k)

    def comment(self, start: int, k: int) -> tuple[int, bool]:
        end = self.src.find("*/", k + 2)
        if end < 0:
            self.fail(start, "unclosed comment")
        end += 2
        if self.src.startswith(" -}}", end):
            return end + 4, True
        if self.src.startswith("}}", end):
            return end + 2, False
        self.fail(start, "comment ends before closing delimiter")
        raise AssertionError  # unreachable

    def action(self, i: int) -> tuple[int, bool]:
        src, n, depth, spaced = self.src, len(self.src), 0, False
        while True:
            if i >= n:
                self.fail(i, "unclosed action")
            c = src[i]
            if c in _SPACE:
                while i < n and src[i] in _SPACE:
                    i += 1
                if src.startswith("-}}", i):
                    self.emit("right", "}}", i, spaced=True)
                    return i + 3, True
                spaced = True
                continue
            if src.startswith("}}", i):
                if depth > 0:
                    self.fail(i, "unclosed left paren")
                self.emit("right", "}}", i, spaced)
                return i + 2, False
            start = i
            kind, val, i = self.token(i)
            depth += {"(": 1, ")": -1}.get(kind, 0)
            if kind in ("field", "var", "ident", "keyword", "bool", "nil") and not self.at_terminator(i):
                self.fail(i, f"bad character U+{ord(src[i]):04X} {src[i]!r}")
            self.emit(kind, val, start, spaced, src[start:i])
            spaced = False

    def at_terminator(self, i: int) -> bool:
        return i >= len(self.src) or self.src[i] in _SPACE + ".,|:()" or self.src.startswith("}}", i)

    def token(self, i: int) -> tuple[str, Any, int]:
        """One token inside an action starting at ``i``: (kind, value, end)."""
        src, c = self.src, self.src[i]
        if src.startswith(":=", i):
            return ":=", ":=", i + 2
        if c in "|(),=":
            return c, c, i + 1
        if c == '"':
            m = _STRING.match(src, i)
            if not m:
                self.fail(i, "unterminated quoted string")
            try:
                return "string", _unquote(m.group(0)), m.end()  # type: ignore[union-attr]
            except ValueError:
                self.fail(i, f"invalid syntax: {m.group(0)}")  # type: ignore[union-attr]
        if c == "`":
            end = src.find("`", i + 1)
            if end < 0:
                self.fail(i, "unterminated raw quoted string")
            return "string", src[i + 1 : end], end + 1
        if c == "'":
            m = _CHAR.match(src, i)
            if not m:
                self.fail(i, "unterminated character constant")
            lit = m.group(0)  # type: ignore[union-attr]
            try:
                val = _unquote('"' + lit[1:-1] + '"')
            except ValueError:
                val = ""
            if len(val) != 1:
                self.fail(i, f"malformed character constant: {lit}")
            return "number", ord(val), i + len(lit)
        if c == "$":
            m = re.compile(r"\$\w*").match(src, i)
            return "var", m.group(0), m.end()  # type: ignore[union-attr]
        if c == "." and _WORD.match(src, i + 1):
            m = _WORD.match(src, i + 1)
            return "field", m.group(0), m.end()  # type: ignore[union-attr]
        m = _NUMBER.match(src, i) if c.isdigit() or c in "+-." else None
        if m:
            end = m.end()
            if end < len(src) and (src[end].isalnum() or src[end] == "_"):
                self.fail(i, f'bad number syntax: "{src[i:end + 1]}"')
            try:
                return "number", _number(m.group(0)), end
            except ValueError:
                self.fail(i, f'illegal number syntax: "{m.group(0)}"')
        if c == ".":
            return "dot", ".", i + 1
        m = _WORD.match(src, i)
        if m:
            word = m.group(0)
            if word in ("true", "false", "nil"):
                return ("nil", None, m.end()) if word == "nil" else ("bool", word == "true", m.end())
            return ("keyword" if word in _KEYWORDS else "ident"), word, m.end()
        if c.isascii() and c.isprintable():
            return "char", c, i + 1
        self.fail(i, f"unrecognized character in action: U+{ord(c):04X} {c!r}")
        raise AssertionError  # unreachable

    def emit(self, kind: str, val: Any, pos: int, spaced: bool, text: str = "") -> None:
        self.toks.append(_Tok(kind, val, pos, text or str(val), spaced))


def _number(text: str) -> int | float:
    """A numeric literal as Go's ``idealConstant`` sees it: a float when it has ``.eEpP`` (not hex)."""
    t = text.replace("_", "")
    body = t.lstrip("+-")
    if body[:2].lower() == "0x":
        return float.fromhex(t) if any(ch in body for ch in ".pP") else int(t, 16)
    if body[:2].lower() in ("0b", "0o"):
        return int(t, 0)
    if any(ch in t for ch in ".eE"):
        return float(t)
    return int(t, 8) if len(body) > 1 and body[0] == "0" else int(t)


# --------------------------------------------------------------------------- AST


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int):
        self.pos = pos


class Text(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str):
        self.pos, self.text = pos, text


class Field(Node):
    __slots__ = ("names",)

    def __init__(self, pos: int, names: list[str]):
        self.pos, self.names = pos, names

    def __str__(self) -> str:
        return "".join("." + n for n in self.names)


class Var(Node):
    __slots__ = ("names",)

    def __init__(self, pos: int, names: list[str]):
        self.pos, self.names = pos, names  # ["$x", "A", "B"] for $x.A.B

    def __str__(self) -> str:
        return ".".join(self.names)


class Literal(Node):
    __slots__ = ("kind", "value", "text")

    def __init__(self, pos: int, kind: str, value: Any, text: str):
        self.pos, self.kind, self.value, self.text = pos, kind, value, text  # kind: string number bool nil dot ident

    def __str__(self) -> str:
        return self.text


class Pipe(Node):
    __slots__ = ("decl", "is_assign", "cmds")

    def __init__(self, pos: int, decl: list[Var], is_assign: bool, cmds: list[Command]):
        self.pos, self.decl, self.is_assign, self.cmds = pos, decl, is_assign, cmds

    def __str__(self) -> str:
        head = ", ".join(map(str, self.decl)) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(map(str, self.cmds))


class Command(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node]):
        self.pos, self.args = pos, args

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, Pipe) else str(a) for a in self.args)


class Chain(Node):
    __slots__ = ("node", "names")

    def __init__(self, pos: int, node: Node, names: list[str]):
        self.pos, self.node, self.names = pos, node, names

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, Pipe) else str(self.node)
        return head + "".join("." + n for n in self.names)


class Action(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: Pipe):
        self.pos, self.pipe = pos, pipe

    def __str__(self) -> str:
        return f"{{{{{self.pipe}}}}}"


class Control(Node):
    __slots__ = ("kind", "pipe", "body", "else_body")

    def __init__(self, pos: int, kind: str, pipe: Pipe | None = None, body: list[Node] | None = None,
                 else_body: list[Node] | None = None):
        self.pos, self.kind, self.pipe = pos, kind, pipe  # kind: if with range break continue
        self.body: list[Node] = [] if body is None else body
        self.else_body: list[Node] = [] if else_body is None else else_body


class TemplateCall(Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: Pipe | None):
        self.pos, self.name, self.pipe = pos, name, pipe

    def __str__(self) -> str:
        return f"{{{{template {go_quote(self.name)}{' ' + str(self.pipe) if self.pipe else ''}}}}}"


# --------------------------------------------------------------------------- parser

_OPERAND_START = {"ident", "dot", "nil", "var", "field", "bool", "number", "string", "("}


class Parser:
    def __init__(self, src: str, name: str, funcs: Mapping[str, Any]):
        self.src, self.name, self.funcs = src, name, funcs
        self.toks = _Lexer(src, name).run()
        self.i, self.vars, self.range_depth = 0, ["$"], 0
        self.defs: dict[str, list[Node]] = {}

    def fail(self, msg: str, tok: _Tok | None = None) -> None:
        pos = (tok or self.toks[max(self.i - 1, 0)]).pos
        raise TemplateError(f"template: {self.name}:{self.src.count(chr(10), 0, pos) + 1}: {msg}")

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, kind: str, context: str) -> _Tok:
        t = self.next()
        if t.kind != kind:
            self.unexpected(t, context)
        return t

    def unexpected(self, t: _Tok, context: str) -> None:
        desc = ("EOF" if t.kind == "eof" else f"<{t.text}>" if t.kind in ("keyword", "dot", "nil")
                else f'"{t.text}"' if t.kind != "right" else '"}}"')
        self.fail(f"unexpected {desc} in {context}", t)

    def parse(self) -> list[Node]:
        nodes, stop = self.list_()
        if stop.kind != "eof":
            self.fail(f"unexpected {{{{{stop.val}}}}}", stop)
        return nodes

    def list_(self) -> tuple[list[Node], _Tok]:
        """Nodes up to EOF, ``{{end}}`` or ``{{else}}`` (the stopper is returned, its ``}}`` not read)."""
        nodes: list[Node] = []
        while True:
            t = self.next()
            if t.kind == "eof":
                return nodes, t
            if t.kind == "text":
                nodes.append(Text(t.pos, t.val))
                continue
            kw = self.peek()
            if kw.kind == "keyword" and kw.val in ("end", "else"):
                self.next()
                return nodes, kw
            if kw.kind == "keyword":
                self.next()
                node = self.control(kw)
                if node is not None:
                    nodes.append(node)
            else:
                nodes.append(Action(kw.pos, self.pipeline("command", "right")))

    def control(self, kw: _Tok) -> Node | None:
        if kw.val in ("define", "template", "block"):
            return self.named(kw.val)
        if kw.val in ("break", "continue"):
            if not self.range_depth:
                self.fail(f"{{{{{kw.val}}}}} outside {{{{range}}}}", kw)
            self.expect("right", kw.val)
            return Control(kw.pos, kw.val)
        mark = len(self.vars)
        node = Control(kw.pos, kw.val, self.pipeline(kw.val, "right"))
        self.range_depth += kw.val == "range"
        node.body, stop = self.list_()
        self.range_depth -= kw.val == "range"
        if stop.kind == "eof":
            self.fail("unexpected EOF", stop)
        if stop.val == "else":
            nxt = self.peek()
            if nxt.kind == "keyword" and nxt.val in ("if", "with") and kw.val != "range":
                self.next()  # {{else if ...}} is {{else}}{{if ...}}...{{end}}{{end}} with one {{end}}
                node.else_body = [self.control(nxt)]
                del self.vars[mark:]
                return node
            self.expect("right", "else")
            node.else_body, stop = self.list_()
            if stop.kind == "eof" or stop.val != "end":
                self.fail(f"expected end; found {{{{{stop.val or 'EOF'}}}}}", stop)
        self.expect("right", "end")
        del self.vars[mark:]
        return node

    def named(self, kind: str) -> Node | None:
        """``{{define "n"}}…{{end}}``, ``{{template "n" [pipeline]}}``, ``{{block "n" pipeline}}…{{end}}``."""
        tok = self.expect("string", f"{kind} clause")
        pipe = None
        if kind == "block" or self.peek().kind != "right":
            pipe = self.pipeline(f"{kind} clause", "right")
        else:
            self.next()
        if kind == "template":
            return TemplateCall(tok.pos, tok.val, pipe)
        saved, self.vars = self.vars, ["$"]
        body, stop = self.list_()
        self.vars = saved
        if stop.kind == "eof" or stop.val != "end":
            self.fail(f"unexpected {'EOF' if stop.kind == 'eof' else '{{else}}'} in {kind} clause", stop)
        self.expect("right", "end")
        self.defs[tok.val] = body
        return TemplateCall(tok.pos, tok.val, pipe) if kind == "block" else None

    def pipeline(self, context: str, end: str) -> Pipe:
        pipe = Pipe(self.peek().pos, [], False, [])
        self.declarations(pipe, context)
        while True:
            t = self.peek()
            if t.kind == end:
                self.next()
                break
            if t.kind not in _OPERAND_START:
                self.unexpected(t, context)
            pipe.cmds.append(self.command())
        if not pipe.cmds:
            self.fail(f"missing value for {context}")
        for n, c in enumerate(pipe.cmds[1:], start=2):
            if isinstance(c.args[0], Literal) and c.args[0].kind != "ident":
                self.fail(f"non executable command in pipeline stage {n}")
        return pipe

    def declarations(self, pipe: Pipe, context: str) -> None:
        """``$x :=``, ``$x =`` and (in ``range``) ``$i, $e :=`` before a pipeline, as Go parses them."""
        toks = self.toks
        while toks[self.i].kind == "var":
            var, after = toks[self.i], toks[self.i + 1]
            if after.kind in (":=", "="):
                pipe.is_assign = after.kind == "="
            elif after.kind == ",":
                if context != "range" or pipe.decl:
                    self.fail(f"too many declarations in {context}", after)
                if toks[self.i + 2].kind not in ("var", "right", ")"):
                    self.fail("range can only initialize variables", after)
            else:
                return
            pipe.decl.append(Var(var.pos, [var.val]))
            self.vars.append(var.val)
            self.i += 2
            if after.kind != ",":
                return

    def command(self) -> Command:
        cmd = Command(self.peek().pos, [])
        while True:
            op = self.operand()
            if op is None:
                self.unexpected(self.peek(), "operand")
            cmd.args.append(op)  # type: ignore[arg-type]
            t = self.peek()
            if t.kind in ("right", ")"):
                return cmd
            if t.kind == "|":
                self.next()
                return cmd
            if not t.spaced:
                self.unexpected(t, "operand")

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek().kind != "field" or self.peek().spaced:
            return node
        pos, names = self.peek().pos, []
        while self.peek().kind == "field" and not self.peek().spaced:
            names.append(self.next().val)
        if isinstance(node, Field):
            return Field(pos, node.names + names)
        if isinstance(node, Var):
            return Var(pos, node.names + names)
        if isinstance(node, Literal) and node.kind != "ident":
            self.fail(f"unexpected . after term {go_quote(str(node))}")
        return Chain(pos, node, names)

    def term(self) -> Node | None:
        t = self.peek()
        if t.kind == "ident":
            if t.val not in self.funcs:
                self.fail(f'function "{t.val}" not defined', t)
        elif t.kind == "var":
            if t.val not in self.vars:
                self.fail(f'undefined variable "{t.val}"', t)
            self.next()
            return Var(t.pos, [t.val])
        elif t.kind == "field":
            self.next()
            return Field(t.pos, [t.val])
        elif t.kind == "(":
            self.next()
            return self.pipeline("parenthesized pipeline", ")")
        elif t.kind not in ("dot", "nil", "bool", "number", "string"):
            return None
        self.next()
        return Literal(t.pos, t.kind, t.val, t.text)
