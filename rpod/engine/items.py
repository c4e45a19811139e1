"""The report of a per-item verb (rm, stop, kill, rmi, volume rm, network rm...)."""

from __future__ import annotations

from rpod.errors import RpodError
from rpod.records import record


@record
class ItemReport:
    """What a per-item verb (rm, stop, kill, rmi, volume rm...) did to one of the items it was given.

    ``ref`` is what the user named, ``id`` the object it resolved to ("" if it did not),
    ``text`` the lines to print on success (default: ``ref``), ``error`` why it failed."""

    ref: str
    id: str = ""
    error: RpodError | None = None
    text: list[str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def lines(self) -> list[str]:
        return self.text if self.text is not None else [self.ref]
