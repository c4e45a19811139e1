"""Options and reports of the image verbs in ``rpod.engine.images`` (apart, so that ``images``
does not pay for making them: ``images.PullOptions`` etc. load this module when used)."""

from __future__ import annotations

from rpod.errors import RpodError
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


@record
class PullOptions:
    """``pull``: platform (``os/arch[/variant]`` or its parts), TLS and credentials."""

    names: list[str] = field(default_factory=list)
    platform: str | None = None
    arch: str | None = None
    os: str | None = None
    variant: str | None = None
    tls_verify: bool | None = None
    creds: str | None = None
    authfile: str | None = None
    cert_dir: str | None = None
    all_tags: bool = False


@record
class InspectReport:
    """Podman's ``image inspect`` documents, their Go struct views, one error per unknown name."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    structs: list[Any] = field(default_factory=list)
    errors: list[RpodError] = field(default_factory=list)


@record
class RemoveOptions:
    """``rmi``."""

    names: list[str] = field(default_factory=list)
    all: bool = False
    force: bool = False
    ignore: bool = False


@record
class PruneReport:
    """A deleted image and its size."""

    id: str
    size: int = 0
