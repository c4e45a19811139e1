"""The click-free front door of the everyday commands (issue #15, docs/decisions.md).

``import click`` is half the start-up of a short command.  ``rpod ps``, ``images``, ``inspect``,
``logs``, ``stop``, ``start``, ``rm``, ``exec``, ``kill``, ``wait``, ``port`` and ``version`` (and
their ``container ...``/``image ...`` names) are parsed here from a table generated from the click
commands (rpod.cli.fast.gen → rpod.cli.fast.table) and run through the same bodies
(rpod.cli.fast.commands), global-option start-up (rpod.cli.startup) and exit codes
(rpod.cli.exits) as the click path.  Anything the fast parser does not reproduce exactly falls
back to click (:func:`main` returns None), so help, completion and every error stay click's.
``RPOD_NO_FASTPATH=1`` forces click.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

EXIT_ABORTED = 125  # what click's Abort (a KeyboardInterrupt in a command) leaves with in rpod.cli.app


def enabled() -> bool:
    """False under ``RPOD_NO_FASTPATH=1`` and while a shell asks click for completions."""
    if os.environ.get("RPOD_NO_FASTPATH", "") not in ("", "0"):
        return False
    return not any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ)


def plan(argv: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """``(body, global options, the body's keyword arguments)``, or None: click must run ``argv``."""
    from rpod.cli.fast.parse import Fallback, parse
    from rpod.cli.fast.table import COMMANDS, GLOBAL, ROUTES

    try:
        glob, rest = parse(GLOBAL, argv, group=True)
        if not rest:
            return None
        words, used = rest[0], 1
        if words in ("container", "image") and len(rest) > 1:
            words, used = f"{words} {rest[1]}", 2
        route = ROUTES.get(words)
        if route is None:
            return None
        body, check_latest = route
        spec = COMMANDS[body]
        params, _ = parse(spec, rest[used:])
    except Fallback:
        return None
    named = any(params.get(name) for name, _n, _r in spec["args"])
    if check_latest and params.get("latest") and (named or params.get("all_") or params.get("all")):
        return None  # rpod.cli.cobra refuses these with a usage error
    return body, glob, params


class _PacifyFlush:
    """As click's PacifyFlushWrapper: a stream whose flush ignores a broken pipe (at shutdown)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except BrokenPipeError:
            pass

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.wrapped, attr)


def _run(body: str, glob: dict[str, Any], params: dict[str, Any]) -> Any:
    """Apply the global options and run the body, handling what click's ``main`` handles itself."""
    from rpod.cli.fast import commands
    from rpod.cli.startup import apply

    try:
        apply(glob)
        return getattr(commands, body)(**params)
    except (EOFError, KeyboardInterrupt):  # as click: a new line, then rpod.cli.app's "aborted"
        sys.stderr.write("\n")
        sys.stderr.write("Error: aborted\n")
        return EXIT_ABORTED
    except BrokenPipeError:  # as click: the reader went away (``rpod ps | head -1``): exit 1, quietly
        sys.stdout = _PacifyFlush(sys.stdout)
        sys.stderr = _PacifyFlush(sys.stderr)
        raise SystemExit(1) from None


def main(argv: list[str]) -> int | None:
    """Run ``argv`` without click and return its exit code; None when click must run it."""
    if not enabled():
        return None
    found = plan(argv)
    if found is None:
        return None
    from rpod.cli.exits import guarded

    return guarded(lambda: _run(*found))
