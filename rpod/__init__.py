"""rpod: a rootless, daemonless, Podman-compatible container engine."""

__version__ = "1.0.0"
