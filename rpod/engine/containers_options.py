"""Options and reports of the container verbs in ``rpod.engine.containers`` (apart, so that ``ps``
does not pay for making them: ``containers.RemoveOptions`` etc. load this module when used)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RemoveOptions:
    """``rm``."""

    refs: list[str] = field(default_factory=list)
    all: bool = False
    latest: bool = False
    force: bool = False
    ignore: bool = False
    volumes: bool = False
    timeout: int | None = None
    cidfiles: list[str] = field(default_factory=list)
    depend: bool = False


@dataclass
class StopOptions:
    """``stop``."""

    refs: list[str] = field(default_factory=list)
    all: bool = False
    latest: bool = False
    ignore: bool = False
    timeout: int | None = None
    cidfiles: list[str] = field(default_factory=list)


@dataclass
class KillOptions:
    """``kill``."""

    refs: list[str] = field(default_factory=list)
    signal: str = "KILL"
    all: bool = False
    latest: bool = False


@dataclass
class RestartOptions:
    """``restart``."""

    refs: list[str] = field(default_factory=list)
    all: bool = False
    running: bool = False
    timeout: int | None = None


@dataclass
class WaitOptions:
    """``wait``: Podman's conditions (stopped, exited, running, created...)."""

    refs: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=lambda: ["stopped"])
    latest: bool = False
    ignore: bool = False  # a missing container is -1, not an error (podman-compose uses it)


@dataclass
class PruneReport:
    """One removed object and the bytes it freed."""

    id: str
    size: int = 0
