"""``--format`` output: Go templates, Podman's ``table``/``json`` rules, Go-style JSON.

Imports are deferred so that importing :mod:`rpod.format` costs nothing until a template is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def render_list(fmt: str, rows: list[Any], *, headers: Mapping[str, str] | None = None,
                name: str = "template", noheading: bool = False, json_indent: int | None = 4) -> str:
    """Render a list command's rows (``ps``, ``images``, ``inspect``...) as Podman does.

    ``json`` gives a pretty JSON array; ``table …`` an aligned table whose header row comes from the
    field names, renamed by ``headers`` (``{"ID": "CONTAINER ID"}``) and left out with ``noheading``;
    any other template is applied to each row (unless it ranges over ``.`` itself).
    Podman's JSON indent varies by command (``images`` 4, ``inspect`` 5): pass ``json_indent``.
    Raises :class:`rpod.format.gotemplate.TemplateError` (a ``UsageError``) when the template is bad.
    """
    from rpod.format import report
    from rpod.format.gofmt import go_json

    if report.is_json(fmt):
        return go_json(list(rows), indent=json_indent) + "\n"
    return report.render_rows(fmt, list(rows), headers=headers, name=name, noheading=noheading)


def render_one(fmt: str, obj: Any, *, name: str = "template", json_indent: int | None = 4) -> str:
    """Render one object (``version``, ``info``): the template runs once with ``obj`` as ``.``.

    ``json`` prints JSON indented by ``json_indent`` (Podman: ``info`` 2, ``version`` compact: None).
    """
    from rpod.format import report
    from rpod.format.gofmt import go_json

    if report.is_json(fmt):
        return go_json(obj, indent=json_indent) + "\n"
    return report.render_object(fmt, obj, name=name)


def to_jsonable(obj: Any) -> Any:
    """Plain JSON data from report objects: dataclasses → dicts (renamed by a class's
    ``__json_names__``), datetimes → RFC 3339 strings, timedeltas → nanoseconds."""
    from rpod.format.gofmt import to_jsonable as convert

    return convert(obj)


def __getattr__(name: str) -> Any:
    if name == "TemplateError":
        from rpod.format.gotemplate import TemplateError

        return TemplateError
    raise AttributeError(name)


__all__ = ["TemplateError", "render_list", "render_one", "to_jsonable"]
