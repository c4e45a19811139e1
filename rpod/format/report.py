"""Podman's ``--format`` rules on top of Go templates (containers/common ``pkg/report``).

- ``json``, ``{{json}}`` and ``{{ json. }}`` mean "print JSON" (:func:`is_json`);
- :func:`normalize_format`: a ``table `` prefix is dropped and its spaces become TABs; the two-character
  escapes ``\\t``/``\\n`` become TAB/newline; a trailing newline is added.  If the normalised text does
  not parse, the original text is parsed instead (so ``{{ "a\\nb" }}`` still works);
- list commands wrap the template in ``{{range .}}…{{end -}}`` unless it already ranges over ``.``;
- ``table`` output has a header row (field names split at case changes and upper-cased, with
  per-command overrides) and goes through Go's ``tabwriter`` (minwidth 12, padding 2, pad ' ').
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rpod.format.gotemplate import Template, TemplateError, parse

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

_JSON_RE = re.compile(r"^\s*(json|\{\{\s*json\.?\s*\}\})\s*$")
_RANGE_RE = re.compile(r"(?s)\{\{\s*range\s*\.\s*\}\}.*\{\{\s*end\s*-?\s*\}\}")
_TABLE = "table "


def is_json(fmt: str) -> bool:
    """Whether ``fmt`` asks for JSON output rather than a template."""
    return bool(_JSON_RE.match(fmt))


def is_table(fmt: str) -> bool:
    """Whether ``fmt`` asks for an aligned table with headers."""
    return fmt.startswith(_TABLE)


def normalize_format(fmt: str) -> str:
    """Podman's ``NormalizeFormat`` (see the module docstring)."""
    if is_table(fmt):
        text = fmt[len(_TABLE) :].replace("\\t", "\t").replace("\\n", "\n").replace(" ", "\t")
    else:
        text = fmt.replace("\\t", "\t").replace("\\n", "\n")
    return text if text.endswith("\n") else text + "\n"


def enforce_range(text: str) -> str:
    """Wrap ``text`` in ``{{range .}}…{{end -}}`` unless it already ranges over ``.``."""
    return text if _RANGE_RE.search(text) else "{{range .}}" + text + "{{end -}}"


def compile_format(fmt: str, name: str, *, ranged: bool) -> Template:
    """Parse a user's ``--format`` text by Podman's rules; ``ranged`` for list commands.

    If the normalised text does not parse, the original is parsed instead, and its error is raised.
    """

    def wrap(text: str) -> str:
        if is_table(fmt):
            return "{{range .}}" + text + "{{end -}}"
        return enforce_range(text) if ranged else text

    try:
        return parse(wrap(normalize_format(fmt)), name)
    except TemplateError:  # Podman retries with the original text and reports that error
        return parse(wrap(fmt[len(_TABLE) :] if is_table(fmt) else fmt), name)


# --------------------------------------------------------------------------- headers


def camel_split(name: str) -> list[str]:
    """Split at case changes like fatih/camelcase: ``RunningFor`` → Running For, ``APIVersion`` → API Version."""

    def cls(c: str) -> int:
        return 1 if c.islower() else 2 if c.isupper() else 3 if c.isdigit() else 4

    runs: list[list[str]] = []
    for c in name:
        if runs and cls(runs[-1][-1]) == cls(c):
            runs[-1].append(c)
        else:
            runs.append([c])
    for i in range(len(runs) - 1):
        if cls(runs[i][0]) == 2 and cls(runs[i + 1][0]) == 1:
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(r) for r in runs if r]


def header_text(field: str, overrides: Mapping[str, str] | None = None) -> str:
    """The column header of ``field``: the command's override, else its words upper-cased."""
    if overrides and field in overrides:
        return overrides[field].upper()
    return " ".join(camel_split(field)).upper()


class HeaderName(str):
    """A header cell; field lookups on it give the header of the deeper field (``.State.Status``)."""

    overrides: Mapping[str, str] | None = None

    def __go_field__(self, name: str) -> HeaderName:
        return _header_cell(name, self.overrides)

    def __go_iter__(self) -> list[tuple[int, HeaderName]]:
        return [(0, self)]


class HeaderRow:
    """Stands in for a row when the header line is rendered: ``.Field`` gives the field's header."""

    def __init__(self, overrides: Mapping[str, str] | None = None):
        self.overrides = overrides

    def __go_field__(self, name: str) -> HeaderName:
        return _header_cell(name, self.overrides)


def _header_cell(name: str, overrides: Mapping[str, str] | None) -> HeaderName:
    cell = HeaderName(header_text(name, overrides))
    cell.overrides = overrides
    return cell


# --------------------------------------------------------------------------- tabwriter


def tabwrite(text: str, minwidth: int = 12, padding: int = 2) -> str:
    """Go's ``text/tabwriter`` with pad ' ' and no flags: TAB-terminated cells aligned in columns.

    A column block is a run of consecutive lines that have a cell in that column; its width is
    ``max(minwidth, widest cell + padding)``.  The last cell of a line is not part of a column.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    if len(lines[-1]) > 1 and not lines[-1][-1]:
        lines[-1].pop()  # Flush does not terminate an empty trailing cell
    out: list[str] = []
    widths: list[int] = []

    def write(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(lines[i]):
                out.append(cell)
                if j < len(widths):
                    out.append(" " * (widths[j] - len(cell)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(line0: int, line1: int) -> None:
        column, this = len(widths), line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0, width = this, minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(lines))
    return "".join(out)


# --------------------------------------------------------------------------- rendering


def render_rows(fmt: str, rows: list[Any], *, headers: Mapping[str, str] | None, name: str,
                noheading: bool = False) -> str:
    """Render a list command's rows with a user template (not the JSON shorthand)."""
    tmpl = compile_format(fmt, name, ranged=True)
    if not is_table(fmt):
        return tmpl.execute(rows)
    head = "" if noheading else tmpl.execute([HeaderRow(headers)])
    return tabwrite(head + tmpl.execute(rows))


def render_object(fmt: str, obj: Any, *, name: str) -> str:
    """Render one object (``version``, ``info``) with a user template; ``table`` adds a header."""
    if is_table(fmt):
        return render_rows(fmt, [obj], headers=None, name=name)
    return compile_format(fmt, name, ranged=False).execute(obj)
