"""Go's ``text/template``, part two: the evaluator (``text/template/exec.go``) over the AST of
``rpod.format.template_parse``."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Mapping

from rpod.format import funcs as _funcs
from rpod.format.funcs import truth
from rpod.format.gofmt import NO_VALUE, GoStruct, format_v, go_quote, sorted_keys, type_name
from rpod.format.template_parse import (
    Action,
    Chain,
    Command,
    Control,
    Field,
    Literal,
    Node,
    Pipe,
    TemplateCall,
    TemplateError,
    Text,
    Var,
)

TYPE_CHECKING = False
TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.format.gotemplate import Template

_MISSING: Any = object()  # "no final value" in a pipeline (distinct from NO_VALUE)


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
    return ("method", val) if isinstance(val, (types.MethodType, types.FunctionType)) else ("field", val)


class Executor:
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
        err = TemplateError(f'template: {loc}: executing "{name}" at <{self.node}>: {msg}')
        err.output = "".join(self.out)  # Go streams: what was written before the failure
        raise err

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
            elif isinstance(node, TemplateCall):
                self.call_template(dot, node)

    def call_template(self, dot: Any, node: TemplateCall) -> None:
        self.node = node
        body = self.t.defs.get(node.name)
        if body is None:
            self.fail(f"template {go_quote(node.name)} not defined")
        value = self.pipeline(dot, node.pipe) if node.pipe else None
        saved, self.vars = self.vars, [["$", value]]
        try:
            self.walk(value, body)  # type: ignore[arg-type]
        finally:
            self.vars = saved

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
        if isinstance(first, (Field, Var)):
            self.node = first
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
            if isinstance(recv, GoStruct) and name not in recv and name not in recv.fields:
                self.fail(f"can't evaluate field {name} in type {recv.go_type}")
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
            if truth(v) == (name == "or"):
                return v
        return v if final is _MISSING else final

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
        except Exception as e:  # a function's failure is a template execution error
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
