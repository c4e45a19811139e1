"""rpod: a rootless, daemonless, Podman-compatible container engine."""

__version__ = "1.0.0"


def built() -> int:
    """When this rpod was installed (its package's own files): ``version``'s ``Built``, and the tag of
    the pause image (``localhost/podman-pause:VERSION-BUILT``, as Podman)."""
    import os

    try:
        return int(os.stat(__file__).st_mtime)
    except OSError:
        return 0
