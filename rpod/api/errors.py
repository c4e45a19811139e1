"""rpod errors to the APIs' HTTP status codes."""

from __future__ import annotations


def status_for(e: Exception) -> int:
    from rpod import errors

    table = [(errors.NoSuchContainer, 404), (errors.NoSuchImage, 404), (errors.NoSuchVolume, 404),
             (errors.ManifestUnknown, 404), (errors.ShortNameError, 404), (errors.StateConflict, 409),
             (errors.InvalidReference, 400), (errors.UsageError, 400), (errors.RegistryAuthError, 401)]
    for cls, status in table:
        if isinstance(e, cls):
            return status
    name = type(e).__name__
    if name.startswith("NoSuch") or name.endswith("NotFound"):
        return 404
    return 500
