"""``--squash`` / ``--squash-all``: several layers merged into one (placeholder until merged view lands)."""

from __future__ import annotations

from rpod.errors import UsageError
from rpod.image.localstore import LocalLayer
from rpod.paths import Paths


def squash(paths: Paths, layers: list[LocalLayer], keep: int, compression: str, mtime: int | None) -> list[LocalLayer]:
    raise UsageError("--squash is not implemented yet")
