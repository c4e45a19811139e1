"""Go's ``text/template`` in pure Python: lexer → parser (AST) → evaluator.

Data model: dataclasses are Go structs (an unknown field is an error), dicts are maps (a missing key
is ``<no value>``), lists are slices.  Names starting with an upper-case letter reach an object's
attributes and methods (``{{.Label "k"}}`` calls ``obj.Label("k")``).  Two hooks let an object fake a
value: ``__go_field__(name)`` answers field lookups and ``__go_iter__()`` answers ``range``.
Errors raise :class:`TemplateError` with Go's wording.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rpod.format import funcs as _funcs
from rpod.format.gofmt import NO_VALUE
from rpod.format.template_exec import Executor
from rpod.format.template_parse import Parser, TemplateError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


class Template:
    """A parsed template; :meth:`execute` renders it against data."""

    def __init__(self, text: str, name: str = "template", funcs: Mapping[str, Callable[..., Any]] | None = None):
        self.text, self.name = text, name
        self.funcs = dict(_funcs.BUILTINS)
        self.funcs.update(funcs or {})
        parser = Parser(text, name, self.funcs)
        self.nodes = parser.parse()
        self.defs = parser.defs

    def execute(self, data: Any) -> str:
        """Render against ``data``; raises :class:`TemplateError` as Go's ``Execute`` would fail."""
        ex = Executor(self, data)
        try:
            ex.walk(data, self.nodes)
        except RecursionError:
            raise TemplateError(f"template: {self.name}: exceeded maximum template depth") from None
        return "".join(ex.out)


def parse(text: str, name: str = "template", funcs: Mapping[str, Callable[..., Any]] | None = None) -> Template:
    """Parse ``text`` (Go ``template.New(name).Funcs(funcs).Parse(text)``)."""
    return Template(text, name, funcs)


__all__ = ["NO_VALUE", "Template", "TemplateError", "parse"]
