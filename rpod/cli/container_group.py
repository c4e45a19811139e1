"""The ``rpod container ...`` group (``ls``, ``rm``, ``inspect``, ``run``, ``exists``, ``cleanup``...)."""

from rpod.cli.containers import container as app

__all__ = ["app"]
