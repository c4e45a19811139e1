"""The runtime's error type: a message, an optional hint and the exit code the CLI uses."""

from __future__ import annotations

from rootless.errors import RootlessError


class ContainerError(RootlessError):
    """A runtime operation failed; ``exit_code`` is what ``python -m rootless.runtime`` exits with."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1):
        super().__init__(message, hint)
        self.exit_code = exit_code


class NoSuchContainer(ContainerError):
    """No state directory for this container id."""
