"""Options and reports of the container verbs in ``rpod.engine.containers`` (apart, so that ``ps``
does not pay for making them: ``containers.RemoveOptions`` etc. load this module when used)."""

from __future__ import annotations

from rpod.records import field, record


@record
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


@record
class StopOptions:
    """``stop``."""

    refs: list[str] = field(default_factory=list)
    all: bool = False
    latest: bool = False
    ignore: bool = False
    timeout: int | None = None
    cidfiles: list[str] = field(default_factory=list)


@record
class KillOptions:
    """``kill``."""

    refs: list[str] = field(default_factory=list)
    signal: str = "KILL"
    all: bool = False
    latest: bool = False


@record
class RestartOptions:
    """``restart``."""

    refs: list[str] = field(default_factory=list)
    all: bool = False
    running: bool = False
    timeout: int | None = None


@record
class WaitOptions:
    """``wait``: Podman's conditions (stopped, exited, running, created...)."""

    refs: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=lambda: ["stopped"])
    latest: bool = False
    ignore: bool = False  # a missing container is -1, not an error (podman-compose uses it)


@record
class PruneReport:
    """One removed object and the bytes it freed."""

    id: str
    size: int = 0
