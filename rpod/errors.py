"""One exception hierarchy for the engine, mapped to exit codes at the CLI edge.

Every error says what failed (``message``) and, where there is one, what to do
(``hint``).  The CLI prints ``Error: <message>`` (and the hint on its own line)
to stderr and exits with ``exit_code``, as Podman does.
"""

from __future__ import annotations

EXIT_ENGINE = 125  # rpod itself failed
EXIT_CANNOT_INVOKE = 126  # the contained command cannot be invoked
EXIT_NOT_FOUND = 127  # the contained command was not found


class RpodError(Exception):
    """Base of every error rpod reports to the user."""

    exit_code: int = EXIT_ENGINE

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(RpodError):
    """Bad flags or arguments."""


class ConfigError(RpodError):
    """A configuration file (registries.conf, auth.json, ...) is wrong."""


class InvalidReference(RpodError):
    """An image reference cannot be parsed."""


class ShortNameError(RpodError):
    """A short image name cannot be resolved to a registry."""


class RegistryError(RpodError):
    """The registry answered with an error or could not be reached."""


class RegistryAuthError(RegistryError):
    """Authentication with a registry failed."""


class ManifestUnknown(RegistryError):
    """The registry has no such image/tag."""


class BlockedRegistry(RegistryError):
    """registries.conf blocks the registry."""


class DigestMismatch(RpodError):
    """Content did not match its digest or size."""


class UnsupportedMediaType(RpodError):
    """A manifest or layer has a media type rpod cannot handle."""


class PlatformNotFound(RpodError):
    """A multi-platform image has no entry for the requested platform."""


class LayerError(RpodError):
    """A layer tarball is malformed or hostile."""


class StoreError(RpodError):
    """The local store is damaged or cannot be written."""


class NoSuchImage(RpodError):
    """No image with that name or ID in the local store."""


class NoSuchContainer(RpodError):
    """No container with that name or ID."""


class NoSuchVolume(RpodError):
    """No volume with that name."""


class StateConflict(RpodError):
    """The object is in a state that forbids the operation (in use, running, name taken)."""


class HostSetupError(RpodError):
    """The host lacks something rootless containers need (subuid range, /dev/fuse access, ...)."""


class ContainerCannotInvoke(RpodError):
    """The container's command exists but cannot be executed."""

    exit_code = EXIT_CANNOT_INVOKE


class ContainerCommandNotFound(RpodError):
    """The container's command does not exist."""

    exit_code = EXIT_NOT_FOUND
