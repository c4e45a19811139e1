"""Small questions about rpod and its host that short paths ask (``version``, an error's
explanation at the CLI's edge), kept apart from ``system`` so they import next to nothing."""

from __future__ import annotations

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any



def explain(error: BaseException) -> tuple[str, str | None, int] | None:
    """(message, hint, exit code) for an rpod or kernel-side error, turned into the host gap behind
    it (and its fix) when there is one; None for anything else (a bug)."""
    from rootless.errors import RootlessError
    from rpod.errors import EXIT_ENGINE, RpodError
    from rpod.hostcheck import explain as host_explain

    if isinstance(error, RpodError):
        return host_explain(error.message, error.hint, error.exit_code)
    if isinstance(error, RootlessError):
        return host_explain(error.message, error.hint, EXIT_ENGINE)
    return None


def version() -> dict[str, Any]:
    """Podman's ``version`` document (no server: .Server mirrors .Client for docker-style scripts)."""
    import sys
    import time

    from rpod import __version__
    from rpod import built as built_time
    from rpod.hostfacts import host_arch

    built = built_time()
    client = {"APIVersion": __version__, "Version": __version__, "GoVersion": f"python{sys.version.split()[0]}",
              "GitCommit": "", "BuiltTime": time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(built)),
              "Built": built, "OsArch": f"linux/{host_arch()}", "Os": "linux"}
    return {"Client": client, "Server": dict(client)}
