"""conmon-like container monitor (stdlib only); see ``rootless.monitor.main``."""

from rootless.monitor.main import main

__all__ = ["main"]
