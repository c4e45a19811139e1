"""How every command leaves: rpod's errors as ``Error: ...`` lines and Podman's exit codes.

Shared by the click front door (``rpod.cli.app.main``) and the fast path of the everyday commands
(``rpod.cli.fast``), without click: 125 for rpod's own failures, the container's code otherwise.
"""

from __future__ import annotations

import os
import sys

from rpod.cli.output import print_error
from rpod.cli.startup import LogLevelError
from rpod.errors import EXIT_ENGINE, RpodError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _report(err: BaseException) -> int | None:
    """Print an rpod (or kernel-side) error, turned into the host gap behind it (and its fix)
    when there is one; its exit code, or None when it is neither (a bug)."""
    from rpod.engine.host import explain

    explained = explain(err)
    if explained is None:
        return None
    message, hint, exit_code = explained
    print_error(message, hint)
    return exit_code


def guarded(run: Callable[[], Any]) -> int:
    """Run a command; its exit code (an int it returns, else 0), or the code of the error it raised."""
    try:
        rv = run()
        return rv if isinstance(rv, int) else 0
    except LogLevelError as e:  # Podman prints these bare and exits 1
        sys.stderr.write(f"{e.message}\n")
        return e.exit_code
    except RpodError as e:
        partial = getattr(e, "output", None)  # a template prints what it rendered before failing
        if partial:
            sys.stdout.write(partial)
            sys.stdout.flush()
        return _report(e) or EXIT_ENGINE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``rpod images | head``): not an error worth a traceback
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as e:  # an unexpected bug: say so, keep exit code contract
        code = _report(e)
        if code is not None:
            return code
        if os.environ.get("RPOD_LOG_LEVEL") == "debug":
            raise
        print_error(f"internal error: {e.__class__.__name__}: {e}",
                    "rerun with --log-level=debug for a traceback and report it")
        return EXIT_ENGINE
