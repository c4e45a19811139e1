"""Go's ``text/template`` in pure Python: lexer → parser (AST) → evaluator.

Data model: dataclasses are Go structs (an unknown field is an error), dicts are maps (a missing key
is ``<no value>``), lists are slices.  Names starting with an upper-case letter reach an object's
attributes and methods (``{{.Label "k"}}`` calls ``obj.Label("k")``).  Two hooks let an object fake a
value: ``__go_field__(name)`` answers field lookups and ``__go_iter__()`` answers ``range``.
Errors raise :class:`TemplateError` with Go's wording.  ``define``/``template``/``block`` are not
supported.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rpod.errors import UsageError
from rpod.format import funcs as _funcs
from rpod.format.funcs import truth
from rpod.format.gofmt import NO_VALUE, format_v, is_struct, sorted_keys, type_name


class TemplateError(UsageError):
    """A template failed to parse or execute (the message is Go's; the CLI exits 125)."""


_MISSING: Any = object()  # "no final value" in a pipeline (distinct from NO_VALUE)

# --------------------------------------------------------------------------- lexer

_SPACE = " \t\r\n"
_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?)"
)
_WORD = re.compile(r"[^\W\d]\w*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_CHAR = re.compile(r"'(?:[^'\\\n]|\\[^\n]+?)'")
_UNESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|[abfnrtv\\'\"])")
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@dataclass
class _Tok:
    kind: str  # text left right field var ident keyword string number bool nil dot pipe ( ) := = , eof
    val: Any
    pos: int
    text: str = ""
    spaced: bool = False  # whitespace came before it (separates operands; no chaining across it)


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

    def action(self, i: int) -> tuple[int, bool]:  # noqa: C901 - one branch per token kind
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
                if depth:
                    self.fail(i, "unclosed left paren")
                self.emit("right", "}}", i, spaced)
                return i + 2, False
            start = i
            if src.startswith(":=", i):
                kind, val, i = ":=", ":=", i + 2
            elif c in "|(),=":
                kind, val, i = c, c, i + 1
                depth += {"(": 1, ")": -1}.get(c, 0)
                if depth < 0:
                    self.fail(start, f"unexpected right paren {c!r}".replace("')'", "U+0029 ')'"))
            elif c == '"':
                m = _STRING.match(src, i)
                if not m:
                    self.fail(i, "unterminated quoted string")
                try:
                    kind, val, i = "string", _unquote(m.group(0)), m.end()
                except ValueError:
                    self.fail(i, f"invalid syntax: {m.group(0)}")
            elif c == "`":
                end = src.find("`", i + 1)
                if end < 0:
                    self.fail(i, "unterminated raw quoted string")
                kind, val, i = "string", src[i + 1 : end], end + 1
            elif c == "'":
                m = _CHAR.match(src, i)
                if not m:
                    self.fail(i, "unterminated character constant")
                val = _unquote('"' + m.group(0)[1:-1] + '"') if "\\" in m.group(0) else m.group(0)[1:-1]
                if len(val) != 1:
                    self.fail(i, f"malformed character constant: {m.group(0)}")
                kind, val, i = "number", ord(val), m.end()
            elif c == "$":
                m = re.compile(r"\$\w*").match(src, i)
                assert m
                kind, val, i = "var", m.group(0), m.end()
            elif c == "." and _WORD.match(src, i + 1):
                m = _WORD.match(src, i + 1)
                assert m
                kind, val, i = "field", m.group(0), m.end()
            elif c.isdigit() or (c in "+-." and _NUMBER.match(src, i)):
                m = _NUMBER.match(src, i)
                assert m
                kind, val, i = "number", _number(m.group(0)), m.end()
                if i < n and (src[i].isalnum() or src[i] in "_."):
                    self.fail(start, f"bad number syntax: {src[start:i + 1]!r}".replace("'", '"'))
            elif c == ".":
                kind, val, i = "dot", ".", i + 1
            elif _WORD.match(src, i):
                m = _WORD.match(src, i)
                assert m
                val, i = m.group(0), m.end()
                kind = ("keyword" if val in _KEYWORDS else "bool" if val in ("true", "false")
                        else "nil" if val == "nil" else "ident")
                val = val == "true" if kind == "bool" else val
            else:
                self.fail(i, f"bad character U+{ord(c):04X} {c!r}")
            self.emit(kind, val, start, spaced, src[start:i])
            spaced = False

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


@dataclass
class Node:
    pos: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Field(Node):
    names: list[str]

    def __str__(self) -> str:
        return "".join("." + n for n in self.names)


@dataclass
class Var(Node):
    names: list[str]  # ["$x", "A", "B"] for $x.A.B

    def __str__(self) -> str:
        return ".".join(self.names)


@dataclass
class Literal(Node):
    kind: str  # string number bool nil dot ident
    value: Any
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Pipe(Node):
    decl: list[Var]
    is_assign: bool
    cmds: list[Command]

    def __str__(self) -> str:
        head = ", ".join(map(str, self.decl)) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(map(str, self.cmds))


@dataclass
class Command(Node):
    args: list[Node]

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, Pipe) else str(a) for a in self.args)


@dataclass
class Chain(Node):
    node: Node
    names: list[str]

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, Pipe) else str(self.node)
        return head + "".join("." + n for n in self.names)


@dataclass
class Action(Node):
    pipe: Pipe

    def __str__(self) -> str:
        return f"{{{{{self.pipe}}}}}"


@dataclass
class Control(Node):
    kind: str  # if with range break continue
    pipe: Pipe | None = None
    body: list[Node] = field(default_factory=list)
    else_body: list[Node] = field(default_factory=list)


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, src: str, name: str, funcs: Mapping[str, Any]):
        self.src, self.name, self.funcs = src, name, funcs
        self.toks = _Lexer(src, name).run()
        self.i, self.vars, self.range_depth = 0, ["$"], 0

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
        desc = ("EOF" if t.kind == "eof" else f"<{t.val}>" if t.kind == "keyword"
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
                nodes.append(self.control(kw))
            else:
                nodes.append(Action(kw.pos, self.pipeline("command", "right")))

    def control(self, kw: _Tok) -> Node:
        if kw.val in ("define", "template", "block"):
            self.fail(f"{{{{{kw.val}}}}} is not supported by rpod's template engine", kw)
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

    def pipeline(self, context: str, end: str) -> Pipe:
        pipe = Pipe(self.peek().pos, [], False, [])
        self.declarations(pipe, context)
        while True:
            t = self.peek()
            if t.kind == end:
                self.next()
                break
            if t.kind in ("right", ")", "eof"):
                self.unexpected(t, context)
            pipe.cmds.append(self.command())
        if not pipe.cmds:
            self.fail(f"missing value for {context}")
        for n, c in enumerate(pipe.cmds[1:], start=2):
            if isinstance(c.args[0], Literal) and c.args[0].kind != "ident":
                self.fail(f"non executable command in pipeline stage {n}")
        return pipe

    def declarations(self, pipe: Pipe, context: str) -> None:
        toks, i = self.toks, self.i
        names = []
        while toks[i].kind == "var":
            names.append(toks[i])
            if toks[i + 1].kind in (":=", "="):
                break
            if toks[i + 1].kind != "," or context != "range" or len(names) == 2:
                return
            i += 2
        else:
            return
        if len(names) > 1 and toks[i + 1].kind == "=":
            pass
        pipe.is_assign = toks[i + 1].kind == "="
        for t in names:
            if pipe.is_assign and t.val not in self.vars:
                self.fail(f"undefined variable {t.val!r}".replace("'", '"'), t)
            pipe.decl.append(Var(t.pos, [t.val]))
            self.vars.append(t.val)
        self.i = i + 2

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
            self.fail(f"unexpected . after term {str(node)!r}".replace("'", '"'))
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
        text = t.text if t.kind != "string" else self.src[t.pos : t.pos + len(t.text)]
        return Literal(t.pos, t.kind, t.val, text)


# --------------------------------------------------------------------------- evaluator


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _member(obj: Any, name: str) -> tuple[str, Any] | None:
    """Go's lookup of ``.name`` on a non-map object: ("method", bound) or ("field", value) or None."""
    if not name[:1].isupper() or isinstance(obj, (str, int, float, list, tuple, bytes)):
        return None
    val = getattr(obj, name, _MISSING)
    if val is _MISSING:
        return None
    return ("method", val) if inspect.ismethod(val) or inspect.isfunction(val) else ("field", val)


class _Exec:
    def __init__(self, tmpl: Template, data: Any):
        self.t, self.vars, self.node, self.out = tmpl, [["$", data]], None, []  # type: ignore[var-annotated]

    def fail(self, msg: str) -> None:
        name, src = self.t.name, self.t.text
        if self.node is None:
            raise TemplateError(f"template: {name}: {msg}")
        pos = self.node.pos
        nl = src.rfind("\n", 0, pos)
        col = pos if nl < 0 else pos - nl - 1
        loc = f"{name}:{src.count(chr(10), 0, pos) + 1}:{col}"
        raise TemplateError(f'template: {loc}: executing "{name}" at <{self.node}>: {msg}')

    # ---- statements
    def walk(self, dot: Any, nodes: list[Node]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                val = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    self.node = node
                    self.out.append(format_v(val))
            elif isinstance(node, Control):
                self.control(dot, node)

    def control(self, dot: Any, node: Control) -> None:
        if node.kind == "break":
            raise _Break
        if node.kind == "continue":
            raise _Continue
        mark = len(self.vars)
        try:
            assert node.pipe is not None
            val = self.pipeline(dot, node.pipe)
            if node.kind == "range":
                self.range_(dot, node, val)
            elif truth(val):
                self.walk(val if node.kind == "with" else dot, node.body)
            else:
                self.walk(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def range_(self, dot: Any, node: Control, val: Any) -> None:
        assert node.pipe is not None
        if hasattr(val, "__go_iter__"):
            items: Iterator[tuple[Any, Any]] | list[tuple[Any, Any]] = val.__go_iter__()
        elif isinstance(val, (list, tuple)):
            items = list(enumerate(val))
        elif isinstance(val, Mapping):
            items = [(k, val[k]) for k in sorted_keys(val)]
        elif val is None or val is NO_VALUE:
            items = []
        else:
            self.fail(f"range can't iterate over {format_v(val)}")
        mark, any_ = len(self.vars), False
        for key, elem in items:
            any_ = True
            decl = node.pipe.decl
            if len(decl) == 1:
                self.set_var(decl[0].names[0], elem) if node.pipe.is_assign else self.set_top(1, elem)
            elif len(decl) == 2:
                if node.pipe.is_assign:
                    self.set_var(decl[0].names[0], key)
                    self.set_var(decl[1].names[0], elem)
                else:
                    self.set_top(1, elem)
                    self.set_top(2, key)
            try:
                self.walk(elem, node.body)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[mark:]
        if not any_:
            self.walk(dot, node.else_body)

    # ---- variables
    def set_top(self, n: int, value: Any) -> None:
        self.vars[-n][1] = value

    def set_var(self, name: str, value: Any) -> None:
        for pair in reversed(self.vars):
            if pair[0] == name:
                pair[1] = value
                return
        self.fail(f"undefined variable: {name}")

    def var(self, name: str) -> Any:
        for pair in reversed(self.vars):
            if pair[0] == name:
                return pair[1]
        self.fail(f"undefined variable: {name}")

    # ---- expressions
    def pipeline(self, dot: Any, pipe: Pipe) -> Any:
        self.node = pipe
        value = _MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v.names[0], value)
            else:
                self.vars.append([v.names[0], value])
        return value

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, Field):
            return self.field_chain(dot, dot, first, first.names, cmd.args, final)
        if isinstance(first, Var):
            value = self.var(first.names[0])
            if len(first.names) == 1:
                self.not_a_function(cmd.args, final)
                return value
            return self.field_chain(dot, value, first, first.names[1:], cmd.args, final)
        if isinstance(first, Chain):
            if isinstance(first.node, Literal) and first.node.kind == "nil":
                self.fail(f"indirection through explicit nil in {first}")
            return self.field_chain(dot, self.arg(dot, first.node), first, first.names, cmd.args, final)
        if isinstance(first, Pipe):
            self.not_a_function(cmd.args, final)
            return self.pipeline(dot, first)
        assert isinstance(first, Literal)
        if first.kind == "ident":
            return self.call_function(dot, first, cmd, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if first.kind == "nil":
            self.fail("nil is not a command")
        return dot if first.kind == "dot" else first.value

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            self.fail(f"can't give argument to non-function {args[0]}")

    def arg(self, dot: Any, node: Node) -> Any:
        """An argument's value (Go's ``evalEmptyInterface``)."""
        self.node = node
        if isinstance(node, Literal):
            if node.kind == "ident":
                return self.call_function(dot, node, Command(node.pos, [node]), _MISSING)
            return dot if node.kind == "dot" else node.value
        if isinstance(node, Pipe):
            return self.pipeline(dot, node)
        return self.command(dot, Command(node.pos, [node]), _MISSING)

    def field_chain(self, dot: Any, recv: Any, node: Node, names: list[str], args: list[Node], final: Any) -> Any:
        for name in names[:-1]:
            recv = self.field(dot, name, node, [], _MISSING, recv)
        return self.field(dot, names[-1], node, args, final, recv)

    def field(self, dot: Any, name: str, node: Node, args: list[Node], final: Any, recv: Any) -> Any:
        self.node = node
        if recv is NO_VALUE:
            return NO_VALUE
        has_args = len(args) > 1 or final is not _MISSING
        if recv is None:
            self.fail(f"nil pointer evaluating interface {{}}.{name}")
        if hasattr(recv, "__go_field__"):
            return recv.__go_field__(name)
        if isinstance(recv, Mapping):
            if has_args:
                self.fail(f"{name} is not a method but has arguments")
            return recv.get(name, NO_VALUE)
        member = _member(recv, name)
        if member is None:
            self.fail(f"can't evaluate field {name} in type {type_name(recv)}")
        kind, val = member  # type: ignore[misc]
        if kind == "method":
            return self.call(dot, val, name, node, args, final, _funcs.signature_of(val))
        if has_args:
            self.fail(f"{name} has arguments but cannot be invoked as function")
        return val

    def call_function(self, dot: Any, ident: Literal, cmd: Command, final: Any) -> Any:
        self.node = ident
        name = ident.value
        fn = self.t.funcs[name]
        if name in ("and", "or"):
            return self.and_or(dot, name, cmd.args[1:], final)
        return self.call(dot, fn, name, cmd, cmd.args, final, _funcs.signature_of(fn))

    def and_or(self, dot: Any, name: str, args: list[Node], final: Any) -> Any:
        if not args and final is _MISSING:
            self.fail(f"wrong number of args for {name}: want at least 1 got 0")
        v: Any = None
        for a in args:
            v = self.arg(dot, a)
            v = None if v is NO_VALUE else v
            if truth(v) == (name == "or"):
                return v
        return v if final is _MISSING else (None if final is NO_VALUE else final)

    def call(self, dot: Any, fn: Callable[..., Any], name: str, node: Node, args: list[Node], final: Any,
             sig: _funcs.Signature) -> Any:
        """Evaluate ``args[1:]`` (plus the piped ``final``), check them against ``sig`` and call."""
        args = args[1:]
        given = len(args) + (final is not _MISSING)
        fixed = len(sig.params)
        if (sig.variadic is None and given != fixed) or given < fixed:
            want = f"at least {fixed}" if sig.variadic is not None else str(fixed)
            self.fail(f"wrong number of args for {name}: want {want} got {given}")
        values = []
        for i, a in enumerate(args):
            typ = sig.params[i] if i < fixed else sig.variadic
            values.append(self.typed_arg(dot, a, typ))
        if final is not _MISSING:
            typ = sig.params[-1] if sig.variadic is None else sig.variadic
            values.append(self.check_type(final, typ))
        try:
            return fn(*values)
        except TemplateError:
            raise
        except Exception as e:  # noqa: BLE001 - a function's failure is a template execution error
            self.node = node
            self.fail(f"error calling {name}: {e}")

    def typed_arg(self, dot: Any, node: Node, typ: str) -> Any:
        self.node = node
        if isinstance(node, Literal) and node.kind in ("string", "number", "bool", "nil") and typ != "any":
            ok = {"string": typ == "string", "number": typ == "int" and isinstance(node.value, int),
                  "bool": typ == "bool", "nil": False}[node.kind]
            if not ok:
                expected = {"string": "string", "int": "integer", "bool": "bool"}.get(typ)
                if expected is None:
                    self.fail(f"can't handle {node} for arg of type {typ}")
                self.fail(f"expected {expected}; found {node}")
            return node.value
        return self.check_type(self.arg(dot, node), typ)

    def check_type(self, value: Any, typ: str) -> Any:
        if value is NO_VALUE:
            if typ == "any":
                return None
            self.fail(f"invalid value; expected {typ}")
        if typ == "any" or _funcs.has_type(value, typ):
            return value
        self.fail(f"wrong type for value; expected {typ}; got {type_name(value)}")


# --------------------------------------------------------------------------- public API


class Template:
    """A parsed template; :meth:`execute` renders it against data."""

    def __init__(self, text: str, name: str = "template", funcs: Mapping[str, Callable[..., Any]] | None = None):
        self.text, self.name = text, name
        self.funcs = dict(_funcs.BUILTINS)
        self.funcs.update(funcs or {})
        self.nodes = _Parser(text, name, self.funcs).parse()

    def execute(self, data: Any) -> str:
        """Render against ``data``; raises :class:`TemplateError` as Go's ``Execute`` would fail."""
        ex = _Exec(self, data)
        ex.walk(data, self.nodes)
        return "".join(ex.out)


def parse(text: str, name: str = "template", funcs: Mapping[str, Callable[..., Any]] | None = None) -> Template:
    """Parse ``text`` (Go ``template.New(name).Funcs(funcs).Parse(text)``)."""
    return Template(text, name, funcs)


__all__ = ["NO_VALUE", "Template", "TemplateError", "is_struct", "parse", "truth"]
