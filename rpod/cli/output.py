"""Output and flag helpers every command shares, without click (the fast path of the everyday
commands imports them too, see rpod.cli.fast): output, ``--format`` JSON, ``Error:`` lines, the
per-item error loop, the confirmation prompt, filter and boolean flags."""

from __future__ import annotations

import sys

from rpod.errors import RpodError, UsageError
from rpod.log import hint as log_hint
from rpod.log import hints_enabled as hints_enabled

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def write(text: str) -> None:
    """Write ``text`` to stdout as is (templates decide their own newlines)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def print_json(obj: Any, indent: int = 4) -> None:
    """Pretty JSON (4-space indent, as Podman prints ``inspect`` output)."""
    import json

    sys.stdout.write(json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def print_error(err: BaseException | str, hint: str | None = None) -> None:
    """Write ``Error: ...`` (and the hint) to stderr, as Podman does."""
    msg = str(err) or err.__class__.__name__
    sys.stderr.write(f"Error: {msg}\n")
    sys.stderr.flush()
    if hint:  # for a person at a terminal (or RPOD_HINTS=1), never into a pipe
        log_hint(hint)


def logrus(level: str, message: str) -> None:
    """A log line as Podman's logrus prints it (see :func:`rpod.log.emit`), whatever the log level."""
    from rpod.log import emit

    emit(level, message)


def warn(message: str) -> None:
    """A warning in logrus' form (see :func:`logrus`)."""
    logrus("warning", message)


def report_items(reports: Iterable[Any], out: Any = None) -> None:
    """The one per-item error loop of every multi-item command (rm, stop, kill, rmi, volume rm,
    network rm...): print each success's lines, ``Error:`` for each failure but the last, and
    raise the last failure (printed at the edge, its exit code is the command's), as Podman."""
    last: RpodError | None = None
    for r in reports:
        if r.error is None:
            text = "".join(line + "\n" for line in r.lines())
            if text:
                (out or write)(text)
            continue
        if last is not None:
            print_error(last, last.hint)
        last = r.error
    if last is not None:
        raise last


def confirm(question: str) -> bool:
    """Podman's ``[y/N]`` prompt on stderr; True only for ``y``/``yes`` read from stdin."""
    sys.stderr.write(question + " [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def parse_bool_flag(value: str | None, name: str) -> bool | None:
    """``--tls-verify=false`` style flags that may be absent (None)."""
    if value is None:
        return None
    v = value.lower()
    if v in ("true", "1", "yes", ""):
        return True
    if v in ("false", "0", "no"):
        return False
    raise UsageError(f"invalid value {value!r} for {name}: use true or false")


def parse_filters(filters: Iterable[str] | None) -> dict[str, list[str]]:
    """``--filter key=value`` flags → {key: [values]} (see ``rpod.engine.filters``)."""
    from rpod.engine.filters import parse

    return parse(filters)


def key_values(items: Iterable[str], flag: str) -> dict[str, str]:
    """``--label K=V`` / ``--opt K=V`` flags → a dict."""
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[k] = v
    return out


def is_json(fmt: str | None) -> bool:
    """``--format json`` (Podman's shorthand for the JSON document)."""
    return bool(fmt) and fmt.strip() == "json"  # type: ignore[union-attr]
