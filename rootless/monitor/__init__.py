"""conmon-like container monitor (stdlib only); see ``rootless.monitor.main``.

Importing the package is cheap (the CLI reads exit files through ``rootless.monitor.exitfile``);
``main`` loads the monitor itself only when it runs.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python_entry("rootless.monitor", CONFIG_JSON)``."""
    from rootless.monitor.main import main as run

    return run(argv)


__all__ = ["main"]
