"""Errors raised by the kernel side.  ``rpod`` maps them onto its own hierarchy."""

from __future__ import annotations


class RootlessError(Exception):
    """A kernel-side operation failed; ``hint`` says what to do about it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class SubidError(RootlessError):
    """/etc/subuid or /etc/subgid has no usable range for the user."""


class UnpackError(RootlessError):
    """A layer tarball is malformed or hostile."""


class NamespaceError(RootlessError):
    """A namespace could not be created or joined."""
